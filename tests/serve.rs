//! `billbot serve` as a process against a Bot API server and a Graph API server on loopback:
//! configuration errors, logs free of secrets, kill -9 and restart, graceful SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use billbot::sandbox::SandboxConfig;
use billbot::sandbox::fixtures::refs;
use common::botapi::{FakeTelegram, TOKEN};
use common::process::{Reaped, SpawnReaped};

const INQUIRY_SECRET: &str = "sk-inquiry-SECRET-4471";
const STATUS_SECRET: &str = "sk-status-SECRET-9902";

struct Serve {
    child: Reaped,
    log: std::path::PathBuf,
}

fn serve(
    fake: &FakeTelegram,
    sandbox: &billbot::sandbox::RunningSandbox,
    dir: &std::path::Path,
    log: &std::path::Path,
) -> Serve {
    let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_billbot"))
        .arg("serve")
        .env("TELOXIDE_TOKEN", TOKEN)
        .env("TELOXIDE_API_URL", fake.api_url().as_str())
        .env("BILLBOT_DATA_DIR", dir)
        .env("BILLBOT_INQUIRY_URL", sandbox.inquiry_url().as_str())
        .env("BILLBOT_INQUIRY_API_KEY", INQUIRY_SECRET)
        .env("BILLBOT_STATUS_URL", sandbox.status_base().as_str())
        .env("BILLBOT_STATUS_API_KEY", STATUS_SECRET)
        .env("BILLBOT_MERCHANT_ID", "sandbox-merchant")
        .env("BILLBOT_AGENTS", "42, 43")
        .env("RUST_LOG", "trace")
        .env_remove("BILLBOT_WEBHOOK_URL")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .reaped();
    Serve { child, log: log.to_owned() }
}

async fn wait(child: Reaped) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || {
        let mut child = child;
        child.wait().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_survives_kill_9_stops_on_sigterm_and_never_logs_a_secret() {
    let fake = FakeTelegram::start().await;
    let sandbox = billbot::sandbox::spawn_on_loopback(SandboxConfig {
        inquiry_key: INQUIRY_SECRET.into(),
        status_key: STATUS_SECRET.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let data = dir.path().join("data");

    let first = serve(&fake, &sandbox, &data, &log);
    fake.user_says(7, "fr", "/bill");
    fake.wait_until(7, "the biller choice", |m| m.iter().any(|s| s.text == "Quel facturier ?")).await;
    fake.press(7, "fr", "Woyofal");
    fake.wait_until(7, "the meter prompt", |m| m.iter().any(|s| s.text.contains("numéro Woyofal"))).await;
    let Serve { mut child, .. } = first;
    child.kill().unwrap(); // SIGKILL right after the reply
    wait(child).await;

    let second = serve(&fake, &sandbox, &data, &log);
    fake.user_says(7, "fr", refs::METER);
    fake.wait_until(7, "the meter", |m| m.iter().any(|s| s.text.contains("État du compteur : actif"))).await;
    fake.user_says(42, "en", "/history");
    fake.wait_until(42, "the agent's history", |m| {
        m.iter().any(|s| s.text.contains("Merchant transactions"))
    })
    .await;
    fake.user_says(8, "en", refs::SERVER_ERROR);
    fake.wait_until(8, "the biller question", |m| !m.is_empty()).await;
    fake.press(8, "en", "Senelec");
    fake.wait_until(8, "an unavailable answer", |m| m.iter().any(|s| s.text.contains("not answering"))).await;

    let Serve { child, log } = second;
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status =
        tokio::time::timeout(Duration::from_secs(60), wait(child)).await.expect("serve stops on SIGTERM");
    assert!(status.success(), "{status:?}");

    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("starting the Telegram bot"),
        "logs were written: {}",
        &logs[..logs.len().min(2000)]
    );
    assert!(logs.len() > 10_000, "trace logs are verbose ({} bytes)", logs.len());
    for secret in [TOKEN, "TEST-token_never-logged", INQUIRY_SECRET, STATUS_SECRET] {
        assert!(!logs.contains(secret), "{secret} appears in the logs");
    }
    // Nor the numbers the users looked up: the logs mask them (`woyofal:••••••••001`).
    assert!(logs.contains("woyofal:••••••••001"), "the lookup is logged, masked");
    for whole in [refs::METER, refs::SERVER_ERROR] {
        assert!(!logs.contains(whole), "{whole} appears in the logs");
    }
}

#[test]
fn serve_without_a_token_says_so_and_exits() {
    let out = Command::new(env!("CARGO_BIN_EXE_billbot"))
        .arg("serve")
        .env_remove("TELOXIDE_TOKEN")
        .env_remove("BILLBOT_WHATSAPP_TOKEN")
        .env("LANG", "C")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TELOXIDE_TOKEN") && err.contains("BILLBOT_WHATSAPP_TOKEN"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_telegram_refuses_stops_serve_without_printing_it() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = "999:WRONG-token-value-xyz";
    let out = tokio::task::spawn_blocking({
        let url = fake.api_url().to_string();
        let data = dir.path().to_owned();
        move || {
            Command::new(env!("CARGO_BIN_EXE_billbot"))
                .arg("serve")
                .env("TELOXIDE_TOKEN", wrong)
                .env("TELOXIDE_API_URL", url)
                .env("BILLBOT_DATA_DIR", data)
                .env("RUST_LOG", "debug")
                .env("LANG", "C")
                .env_remove("BILLBOT_INQUIRY_URL")
                .env_remove("BILLBOT_STATUS_URL")
                .env("BILLBOT_SANDBOX", "1")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("the bot stopped: Telegram"), "{all}");
    assert!(!all.contains("WRONG-token-value"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_whatsapp_alone_survives_kill_9_and_never_logs_its_secrets() {
    use common::graphapi::{self, FakeWhatsApp, WaUser};
    let fake = FakeWhatsApp::start().await;
    let sandbox = billbot::sandbox::spawn_on_loopback(SandboxConfig {
        inquiry_key: INQUIRY_SECRET.into(),
        status_key: STATUS_SECRET.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    fake.set_webhook(&format!("http://127.0.0.1:{port}/whatsapp/webhook"));
    let start = || {
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        Command::new(env!("CARGO_BIN_EXE_billbot"))
            .arg("serve")
            .env_remove("TELOXIDE_TOKEN")
            .env("BILLBOT_WHATSAPP_TOKEN", graphapi::TOKEN)
            .env("BILLBOT_WHATSAPP_PHONE_NUMBER_ID", graphapi::PHONE_NUMBER_ID)
            .env("BILLBOT_WHATSAPP_APP_SECRET", graphapi::APP_SECRET)
            .env("BILLBOT_WHATSAPP_VERIFY_TOKEN", graphapi::VERIFY_TOKEN)
            .env("BILLBOT_WHATSAPP_API_URL", fake.api_url().as_str())
            .env("BILLBOT_WHATSAPP_LISTEN", format!("127.0.0.1:{port}"))
            .env("BILLBOT_DATA_DIR", &data)
            .env("BILLBOT_INQUIRY_URL", sandbox.inquiry_url().as_str())
            .env("BILLBOT_INQUIRY_API_KEY", INQUIRY_SECRET)
            .env("BILLBOT_STATUS_URL", sandbox.status_base().as_str())
            .env("BILLBOT_STATUS_API_KEY", STATUS_SECRET)
            .env("BILLBOT_MERCHANT_ID", "sandbox-merchant")
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .reaped()
    };
    let awa = WaUser::phone("221771234567");
    let mut child = start();
    let hello = FakeWhatsApp::message_payload(&[(
        &awa,
        serde_json::json!({
            "id": "wamid.serve.1", "type": "text", "text": {"body": "facture"}
        }),
    )]);
    // The first posts may come before the server listens: the fake retries refused connections.
    assert_eq!(fake.deliver(&hello).await, 200);
    fake.wait_until(&awa.key(), "the biller choice", |m| m.iter().any(|s| s.text.contains("Quel facturier")))
        .await;
    fake.press(&awa, "Woyofal").await;
    fake.wait_until(&awa.key(), "the meter prompt", |m| m.iter().any(|s| s.text.contains("numéro Woyofal")))
        .await;
    child.kill().unwrap(); // SIGKILL right after the reply
    wait(child).await;

    let child = start();
    let count = fake.messages_to(&awa.key()).len();
    // Meta delivers the first message again: it is recognized, not answered twice.
    assert_eq!(fake.deliver(&hello).await, 200);
    fake.user_says(&awa, refs::METER).await;
    let after =
        fake.wait_until(&awa.key(), "the meter", |m| m.iter().any(|s| s.text.contains(refs::METER))).await;
    assert!(!after[count..].iter().any(|s| s.text.contains("Quel facturier")), "{after:#?}");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status =
        tokio::time::timeout(Duration::from_secs(60), wait(child)).await.expect("serve stops on SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(fake.rejected().is_empty(), "{:#?}", fake.rejected());
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("starting the WhatsApp bot"), "{}", &logs[..logs.len().min(2000)]);
    for secret in
        [graphapi::TOKEN, graphapi::APP_SECRET, graphapi::VERIFY_TOKEN, INQUIRY_SECRET, STATUS_SECRET]
    {
        assert!(!logs.contains(secret), "{secret} appears in the logs");
    }
    // Nor the meter number the user typed and looked up (the logs mask it: `woyofal:••••••••001`).
    assert!(logs.contains("woyofal:••••••••001"), "the lookup is logged, masked");
    assert!(!logs.contains(refs::METER), "the meter number appears in the logs");
}

#[test]
fn a_database_that_cannot_be_reached_is_named_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = Command::new(env!("CARGO_BIN_EXE_billbot"))
        .arg("serve")
        .env("TELOXIDE_TOKEN", TOKEN)
        .env("TELOXIDE_API_URL", "http://127.0.0.1:9/")
        .env("BILLBOT_DATABASE_URL", format!("postgres://billbot:Sup3r-Secret-pw@127.0.0.1:{port}/billbot"))
        .env("BILLBOT_SANDBOX", "1")
        .env("RUST_LOG", "trace")
        .env("LANG", "C")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("could not be opened") && all.contains("PostgreSQL"), "{all}");
    assert!(!all.contains("Sup3r-Secret-pw"), "{all}");
    let bad = Command::new(env!("CARGO_BIN_EXE_billbot"))
        .arg("serve")
        .env("TELOXIDE_TOKEN", TOKEN)
        .env("BILLBOT_DATABASE_URL", "mysql://root:Sup3r-Secret-pw@db/billbot")
        .env("BILLBOT_SANDBOX", "1")
        .env("LANG", "C")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("BILLBOT_DATABASE_URL") && !err.contains("Sup3r-Secret-pw"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_the_sandbox_unless_asked_and_then_says_every_reply_is_test_data() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let base = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_billbot"));
        command
            .arg("serve")
            .env("TELOXIDE_TOKEN", TOKEN)
            .env("TELOXIDE_API_URL", fake.api_url().as_str())
            .env("BILLBOT_DATA_DIR", dir.path())
            .env("BILLBOT_TELEGRAM_RATE_LIMITS", "off")
            .env("LANG", "C")
            .env_remove("BILLBOT_INQUIRY_URL")
            .env_remove("BILLBOT_STATUS_URL")
            .env_remove("BILLBOT_SANDBOX");
        command
    };
    let refused = tokio::task::spawn_blocking({
        let mut command = base();
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("BILLBOT_SANDBOX=1") && err.contains("--sandbox"), "{err}");
    assert!(fake.calls("getUpdates").is_empty(), "nobody was answered");

    let child =
        base().arg("--sandbox").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).reaped();
    fake.user_says(5, "en", "/bill");
    let reply = fake.next_reply(5, 0).await;
    assert!(reply.text.starts_with("🧪 Test data"), "{}", reply.text);
    assert!(reply.text.contains("Which biller?"), "{}", reply.text);
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    wait(child).await;
}
