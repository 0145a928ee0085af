//! The operator commands as processes: output, exit codes, embedded and configured providers,
//! and no key in anything they print.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use billbot::sandbox::fixtures::{orders, refs};
use common::process::SpawnReaped;
use common::*;
use predicates::prelude::*;
use serde_json::{Value, json};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VARS: [&str; 12] = [
    "BILLBOT_INQUIRY_URL",
    "BILLBOT_INQUIRY_API_KEY",
    "BILLBOT_STATUS_URL",
    "BILLBOT_STATUS_API_KEY",
    "BILLBOT_MERCHANT_ID",
    "BILLBOT_STATUS_CURRENCY",
    "BILLBOT_HTTP_TIMEOUT_MS",
    "BILLBOT_SANDBOX_SLOW_MS",
    "RUST_LOG",
    "LC_ALL",
    "LC_MESSAGES",
    "BILLBOT_LOG_FORMAT",
];

/// `billbot` with a clean environment: embedded sandbox, English, no logs.
fn billbot() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_billbot"));
    for var in VARS {
        cmd.env_remove(var);
    }
    cmd.env("LANG", "C.UTF-8");
    cmd
}

fn one_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes).to_string();
    // The embedded sandbox's start-up notice (in either language) names its loopback address.
    let lines: Vec<&str> = text.lines().filter(|l| !l.contains("http://127.0.0.1:")).collect();
    assert_eq!(lines.len(), 1, "one line expected, got {text:?}");
    lines[0].to_owned()
}

#[test]
fn inquire_prints_a_senelec_bill_from_the_embedded_sandbox() {
    let out = billbot().args(["inquire", "SENELEC_SN_BILL", refs::ONE_BILL]).assert().success();
    let out = out.get_output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Moussa Diop"), "{stdout}");
    assert!(stdout.contains("Total: 21,450 FCFA"), "{stdout}");
    let due = billbot::i18n::format::date(
        billbot::i18n::Lang::En,
        chrono::Utc::now().date_naive() + chrono::Duration::days(9),
    );
    assert!(stdout.contains(&format!("Due date: {due} (due in 9 days)")), "{stdout}");
    assert!(stdout.contains("To pay: 1 bill, 21,450 FCFA in total."), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("built-in sandbox at http://127.0.0.1:"));
}

#[test]
fn inquire_speaks_french_with_lang_fr() {
    billbot()
        .args(["inquire", "SENELEC_SN_BILL", refs::SEVERAL_BILLS, "--lang", "fr"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Facture 2 sur 3"))
        .stdout(predicate::str::contains("État : déjà payée"))
        .stdout(predicate::str::contains("À payer : 2 factures, 88\u{a0}550 FCFA au total."));
}

#[test]
fn inquire_with_json_prints_machine_readable_bills_and_meters() {
    let out = billbot().args(["inquire", "WOYOFAL_SN_BILL", refs::METER, "--json"]).assert().success();
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["kind"], "meter");
    assert_eq!(json["meter"]["status"], "ACTIVE");
    assert_eq!(json["reference"]["biller"], "WOYOFAL_SN_BILL");

    let out = billbot().args(["inquire", "seneau_sn_bill", refs::ONE_BILL, "--json"]).assert().success();
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["bills"][0]["total"], json!({"amount": "8600", "currency": "XOF"}));
}

#[test]
fn status_prints_the_document_sample_with_merchant_fields_for_the_operator() {
    billbot()
        .args(["status", "GB - 202206132206791818205"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Order GB - 202206132206791818205"))
        .stdout(predicate::str::contains("Status: ✅ delivered"))
        .stdout(predicate::str::contains("Amount: 500 FCFA"))
        .stdout(predicate::str::contains("Wallet balance: 95,758.28 FCFA → 95,268.28 FCFA"));
    let out = billbot().args(["status", "gb-202206132206791818205", "--json"]).assert().success();
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["status"], "succeeded");
    assert_eq!(json["merchant"]["paid"]["amount"], "490");
}

#[test]
fn every_error_kind_exits_non_zero_with_one_clear_line() {
    let cases: [(&[&str], i32, &str); 9] = [
        (&["inquire", "SENEAU_SN_BILL", refs::NOT_FOUND], 3, "found no bill"),
        (&["inquire", "SENEAU_SN_BILL", refs::UNAUTHORIZED], 4, "refused the API key"),
        (&["inquire", "SENEAU_SN_BILL", refs::MAINTENANCE], 5, "maintenance"),
        (&["inquire", "SENEAU_SN_BILL", refs::SERVER_ERROR], 6, "unavailable (HTTP 500)"),
        (&["inquire", "SENEAU_SN_BILL", refs::GARBAGE], 7, "could not be read"),
        (&["inquire", "SENEAU_SN_BILL", "12AB"], 2, "only digits"),
        (&["inquire", "ORANGE_SN_BILL", "1234567"], 2, "unknown service code"),
        (&["status", orders::UNKNOWN], 3, "No order GB - 202611200899999999999"),
        (&["status", "GB - 12"], 2, "12 to 32 digits"),
    ];
    for (args, code, text) in cases {
        let out = billbot().args(args).assert().code(code).stdout("");
        let line = one_line(&out.get_output().stderr);
        assert!(line.starts_with("billbot: ") && line.contains(text), "{args:?}: {line}");
    }
}

#[test]
fn a_slow_provider_gives_unavailable_after_the_configured_timeout() {
    let out = billbot()
        .args(["status", orders::SLOW, "--lang", "fr"])
        .env("BILLBOT_HTTP_TIMEOUT_MS", "300")
        .env("BILLBOT_SANDBOX_SLOW_MS", "3000")
        .assert()
        .code(6);
    let line = one_line(&out.get_output().stderr);
    assert!(line.contains("pas de réponse à temps"), "{line}");
}

#[test]
fn an_invalid_reference_never_reaches_the_provider() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
        server
    });
    billbot()
        .args(["inquire", "WOYOFAL_SN_BILL", "1234"])
        .env("BILLBOT_INQUIRY_URL", server.uri())
        .env("BILLBOT_INQUIRY_API_KEY", INQUIRY_KEY)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("11 to 13 digits"));
    rt.block_on(server.verify());
}

#[test]
fn configured_urls_are_used_instead_of_the_embedded_sandbox() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(header("authorization", format!("Bearer {INQUIRY_KEY}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"bills": [
                {"referenceFacture": "REAL-1", "nom": "Configured Provider", "montant": 1000, "frais": 0, "total": 1000}
            ]})))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(header("merchantid", MERCHANT))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                include_str!("../src/sandbox/samples/status.json"),
                "application/json",
            ))
            .expect(1)
            .mount(&server)
            .await;
        server
    });
    let env = [
        ("BILLBOT_INQUIRY_URL", format!("{}/inquiry", server.uri())),
        ("BILLBOT_INQUIRY_API_KEY", INQUIRY_KEY.to_owned()),
        ("BILLBOT_STATUS_URL", server.uri()),
        ("BILLBOT_STATUS_API_KEY", STATUS_KEY.to_owned()),
        ("BILLBOT_MERCHANT_ID", MERCHANT.to_owned()),
    ];
    let out = billbot().args(["inquire", "SENELEC_SN_BILL", "123456"]).envs(env.clone()).assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("Configured Provider"));
    assert!(!String::from_utf8_lossy(&out.get_output().stderr).contains("sandbox"), "no embedded sandbox");
    billbot()
        .args(["status", "GB - 202206132206791818205"])
        .envs(env)
        .assert()
        .success()
        .stdout(predicate::str::contains("MTN"));
    rt.block_on(server.verify());
}

#[test]
fn the_standalone_sandbox_serves_the_commands_through_the_environment() {
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_billbot"))
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .env("LANG", "C")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .reaped();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let inquiry_line = lines.by_ref().map(|l| l.unwrap()).find(|l| l.contains("POST ")).unwrap();
    let url = inquiry_line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_owned();
    let base = url.trim_end_matches(billbot::sandbox::INQUIRY_PATH).to_owned();
    let env = [
        ("BILLBOT_INQUIRY_URL", url.clone()),
        ("BILLBOT_INQUIRY_API_KEY", billbot::sandbox::INQUIRY_KEY.to_owned()),
        ("BILLBOT_STATUS_URL", base),
        ("BILLBOT_STATUS_API_KEY", billbot::sandbox::STATUS_KEY.to_owned()),
        ("BILLBOT_MERCHANT_ID", billbot::sandbox::MERCHANT_ID.to_owned()),
    ];
    let inquire =
        billbot().args(["inquire", "WOYOFAL_SN_BILL", refs::METER]).envs(env.clone()).output().unwrap();
    let status = billbot().args(["status", orders::PENDING]).envs(env).output().unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(inquire.status.success(), "{inquire:?}");
    assert!(String::from_utf8_lossy(&inquire.stdout).contains("Meter status: active"));
    assert!(String::from_utf8_lossy(&status.stdout).contains("⏳ pending"));
    assert!(!String::from_utf8_lossy(&inquire.stderr).contains("built-in sandbox"));
}

#[test]
fn a_url_without_its_key_is_a_configuration_error_naming_the_variable() {
    let out = billbot()
        .args(["inquire", "SENELEC_SN_BILL", refs::ONE_BILL])
        .env("BILLBOT_INQUIRY_URL", "http://127.0.0.1:9/inquiry")
        .assert()
        .code(1);
    let line = one_line(&out.get_output().stderr);
    assert!(line.contains("BILLBOT_INQUIRY_API_KEY must be set"), "{line}");
}

#[test]
fn no_key_appears_in_any_output_even_with_trace_logs_and_a_provider_echoing_it() {
    let secret = "sk_live_SECRET_never_printed_9981";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        let echo = json!({"success": false, "message": format!("bad key Bearer {secret}")});
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(&echo))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(401).set_body_json(&echo))
            .mount(&server)
            .await;
        server
    });
    let env = [
        ("BILLBOT_INQUIRY_URL", server.uri()),
        ("BILLBOT_INQUIRY_API_KEY", secret.to_owned()),
        ("BILLBOT_STATUS_URL", server.uri()),
        ("BILLBOT_STATUS_API_KEY", secret.to_owned()),
        ("BILLBOT_MERCHANT_ID", MERCHANT.to_owned()),
        ("RUST_LOG", "trace".to_owned()),
    ];
    for args in [
        vec!["inquire", "SENELEC_SN_BILL", refs::ONE_BILL],
        vec!["status", orders::PENDING],
        vec!["status", orders::PENDING, "--json"],
        vec!["--help"],
        vec!["inquire", "--help"],
    ] {
        let out = billbot().args(&args).envs(env.clone()).output().unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!all.contains(secret), "{args:?} printed the key:\n{all}");
        assert!(!all.is_empty());
    }
}

#[test]
fn help_speaks_the_terminals_language() {
    let fr = billbot().env("LANG", "fr_SN.UTF-8").arg("--help").assert().success();
    let fr = String::from_utf8_lossy(&fr.get_output().stdout).into_owned();
    assert!(fr.contains("Utilisation : billbot <COMMANDE>"), "{fr}");
    assert!(fr.contains("Commandes\u{a0}:") && fr.contains("Consulter une facture"), "{fr}");
    let sub = billbot().env("LANG", "fr_FR.UTF-8").args(["inquire", "--help"]).assert().success();
    let sub = String::from_utf8_lossy(&sub.get_output().stdout).into_owned();
    assert!(sub.contains("Afficher le résultat en JSON") && sub.contains("Afficher l'aide"), "{sub}");
    let en = billbot().env("LANG", "C.UTF-8").arg("--help").assert().success();
    let en = String::from_utf8_lossy(&en.get_output().stdout).into_owned();
    assert!(en.contains("Usage: billbot <COMMAND>") && en.contains("Look up one bill"), "{en}");
}

/// Every command and argument is described in both languages, so that no help line ever shows a
/// message id (or falls back to the other language).
#[test]
fn every_help_line_has_its_message_in_both_languages() {
    fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        let (about, args) = billbot::cli::help_messages(command, path);
        for id in std::iter::once(about).chain(args.into_iter().map(|(_, m)| m)) {
            for lang in billbot::i18n::Lang::ALL {
                if !billbot::i18n::has_message(lang, &id) {
                    missing.push(format!("{lang}: {id}"));
                }
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, &format!("{path}-{}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    let command = billbot::cli::localized(billbot::i18n::Lang::En);
    walk(&command, "", &mut missing);
    assert!(missing.is_empty(), "{missing:#?}");
    assert!(command.get_subcommands().count() >= 7, "the walk saw the commands");
}

/// `migrate-store` without `--to` copies into the database `BILLBOT_DATABASE_URL` names, so that
/// its password stays off the command line (which every user of the machine can read); `--to`
/// with a password still works, with a warning.
#[tokio::test]
async fn migrate_store_takes_the_database_from_the_environment_and_warns_of_a_password_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let from = format!("sled:{}", dir.path().join("store").display());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = format!("postgres://billbot:Sup3r-Secret-pw@127.0.0.1:{closed}/billbot");
    let migrate = || {
        let mut cmd = billbot();
        cmd.env_remove("BILLBOT_DATABASE_URL").args(["migrate-store", "--from", &from]);
        cmd
    };
    // Neither: which database is asked for, by its variable.
    let out = migrate().assert().code(2).stdout("");
    let err = one_line(&out.get_output().stderr);
    assert!(err.contains("BILLBOT_DATABASE_URL"), "{err}");
    // From the environment: the database is tried (and named without its password).
    let out = migrate().env("BILLBOT_DATABASE_URL", &unreachable).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("could not be opened") && err.contains("PostgreSQL"), "{err}");
    assert!(!err.contains("Sup3r-Secret-pw") && !err.contains("warning"), "{err}");
    let out = migrate().env("BILLBOT_DATABASE_URL", "mysql://root@db/billbot").assert().code(2);
    assert!(one_line(&out.get_output().stderr).contains("PostgreSQL URL"));
    // On the command line: warned, never echoed.
    let out = migrate().args(["--to", &unreachable]).assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("warning: a password given with --to can be read by other users"), "{err}");
    assert!(!err.contains("Sup3r-Secret-pw"), "{err}");

    // And against a real server, when there is one.
    let Some(schema) = common::pg::schema("migrate_store_from_the_environment").await else { return };
    let url = schema.url();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_billbot"));
        cmd.args(["migrate-store", "--from", &from]).env("BILLBOT_DATABASE_URL", url).env("LANG", "C");
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Copied 0 records into PostgreSQL"), "{stdout}");
}
