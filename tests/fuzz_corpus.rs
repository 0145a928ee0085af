//! The fuzz targets' committed inputs, run on stable in every `cargo test`: each file of
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the same
//! `billbot::fuzzing::<target>` function the fuzzer calls (`fuzz/fuzz_targets/<target>.rs`), whose
//! assertions are the targets' invariants. The named tests at the end are the crashes fuzzing
//! found, kept as ordinary tests.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("references", billbot::fuzzing::references),
    ("order_numbers", billbot::fuzzing::order_numbers),
    ("payloads", billbot::fuzzing::payloads),
    ("provider_answers", billbot::fuzzing::provider_answers),
    ("callback", billbot::fuzzing::callback),
    ("telegram_update", billbot::fuzzing::telegram_update),
    ("whatsapp_webhook", billbot::fuzzing::whatsapp_webhook),
    ("render", billbot::fuzzing::render),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        entries.map(|e| e.expect("a readable directory entry").path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Runs every committed input of `name` through `target`; returns how many ran.
fn run(name: &str, target: Target) -> usize {
    let mut failed = Vec::new();
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        for file in files(&fuzz_dir().join(kind).join(name)) {
            // A fuzzer running meanwhile replaces its corpus files: one gone since the listing is skipped.
            let data = match std::fs::read(&file) {
                Ok(data) => data,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("{}: {e}", file.display()),
            };
            count += 1;
            if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
                failed.push(file.display().to_string());
            }
        }
    }
    assert!(failed.is_empty(), "{name}: {} input(s) failed: {failed:#?}", failed.len());
    count
}

#[test]
fn every_target_has_a_fuzz_target_file_and_a_corpus() {
    for (name, _) in TARGETS {
        let source = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        assert!(
            text.contains(&format!("billbot::fuzzing::{name}(data)")),
            "{} calls another function",
            source.display()
        );
        assert!(!files(&fuzz_dir().join("corpus").join(name)).is_empty(), "no corpus for {name}");
    }
    let declared = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    assert_eq!(declared.matches("[[bin]]").count(), TARGETS.len(), "a fuzz target this test does not run");
}

macro_rules! corpus_test {
    ($name:ident) => {
        #[test]
        fn $name() {
            let count = run(stringify!($name), billbot::fuzzing::$name);
            assert!(count > 0, "no input for {}", stringify!($name));
        }
    };
}

corpus_test!(references);
corpus_test!(order_numbers);
corpus_test!(payloads);
corpus_test!(provider_answers);
corpus_test!(callback);
corpus_test!(telegram_update);
corpus_test!(whatsapp_webhook);
corpus_test!(render);

/// The `payloads` corpus holds payloads signed under the fuzz key (`v2:…:<tag>`), so that every
/// run goes through the path where a tag checks, and not only through refusals.
#[test]
fn the_payloads_corpus_holds_signed_payloads_that_open() {
    use billbot::conversation::Action;
    let (key, chat) = (billbot::fuzzing::payload_key(), billbot::fuzzing::payload_chat());
    let opened = files(&fuzz_dir().join("corpus/payloads"))
        .iter()
        .filter_map(|f| String::from_utf8(std::fs::read(f).ok()?).ok())
        .filter(|p| Action::open(p, key, &chat).is_some_and(|a| a.carries_data()))
        .count();
    assert!(opened >= 10, "{opened} signed payloads open");
}

// Regressions: what the fuzzers found, as named tests on the public API.

use billbot::domain::{Biller, CustomerReference};
use billbot::fuzzing::{decode_answer, decode_status};
use billbot::upstream::{StatusClient, UpstreamError};
use reqwest::StatusCode;
use secrecy::SecretString;

/// Found by `provider_answers`: serde's error quotes the value it could not read, and that text
/// went into `UpstreamError::Unreadable` (and the logs) with the API key in it when the provider
/// echoed the key in a field billbot could not read.
#[test]
fn a_provider_answer_that_echoes_the_key_in_an_unreadable_field_does_not_leak_it() {
    let key = SecretString::from("fuzz-provider-key");
    let body =
        std::fs::read(fuzz_dir().join("regressions/provider_answers/key_in_serde_error.json")).unwrap();
    let base = reqwest::Url::parse("https://provider.invalid/").unwrap();
    let status =
        StatusClient::new(base, key.clone(), "m", billbot::domain::Currency::Xof, Default::default())
            .unwrap();
    let e = decode_status(&status, StatusCode::OK, &body).unwrap_err();
    assert!(matches!(e, UpstreamError::Unreadable(_)), "{e:?}");
    assert!(!e.to_string().contains("fuzz-provider-key"), "{e}");
    assert!(e.to_string().contains("[redacted]"), "{e}");

    let reference = CustomerReference::parse(Biller::Senelec, "1000000001").unwrap();
    let bill = br#"{"bills":[{"montant":100,"paid":"sent with fuzz-provider-key"}]}"#;
    let e = decode_answer(StatusCode::OK, bill, &reference, &key).unwrap_err();
    assert!(matches!(e, UpstreamError::Unreadable(_)), "{e:?}");
    assert!(!e.to_string().contains("fuzz-provider-key"), "{e}");
}

/// Found by `provider_answers`' invariant: a bill with a negative amount was shown as one to pay.
#[test]
fn a_bill_with_a_negative_amount_is_unreadable() {
    let key = SecretString::from("k");
    let reference = CustomerReference::parse(Biller::SenEau, "1000000001").unwrap();
    let body = std::fs::read(fuzz_dir().join("regressions/provider_answers/negative_amount.json")).unwrap();
    let e = decode_answer(StatusCode::OK, &body, &reference, &key).unwrap_err();
    assert!(matches!(e, UpstreamError::Unreadable(_)), "{e:?}");
    for (field, value) in [("frais", "-1"), ("total", "-0.5")] {
        let body = format!(r#"[{{"montant":100,"{field}":"{value}"}}]"#);
        let e = decode_answer(StatusCode::OK, body.as_bytes(), &reference, &key).unwrap_err();
        assert!(matches!(e, UpstreamError::Unreadable(_)), "{field}: {e:?}");
    }
    let zero = br#"[{"montant":"-0","frais":0}]"#;
    assert!(decode_answer(StatusCode::OK, zero, &reference, &key).is_ok(), "-0 is zero");
}

/// Found by `render`: a button with an empty payload (the core never makes one: payloads are
/// `v1:…`) broke an invariant of the target, not of the renderer, which was relaxed to the id's
/// length. The input still has to render within every limit of both channels.
#[test]
fn a_reply_with_an_empty_button_payload_renders_within_the_channels_limits() {
    let data = std::fs::read(fuzz_dir().join("regressions/render/empty_button_payload")).unwrap();
    assert!(data.windows(2).any(|w| w == [1, 0]), "the input has a button with an empty payload");
    billbot::fuzzing::render(&data);
}

/// Found by `render`: a WhatsApp body longer than an interactive message's 1024 characters that
/// ended in a blank line gave the buttons an empty body (the blank last paragraph fitted).
#[test]
fn a_long_reply_ending_in_a_blank_line_keeps_a_body_for_its_buttons() {
    use billbot::channels::whatsapp::render::{Outgoing, messages};
    use billbot::i18n::Lang;
    let data = std::fs::read(fuzz_dir().join("regressions/render/long_body_ending_in_blank_line")).unwrap();
    billbot::fuzzing::render(&data);
    let text = "x".repeat(1100) + "\n\n";
    let reply = billbot::conversation::Reply {
        text,
        keyboard: vec![vec![billbot::conversation::Button { label: "Pay".into(), payload: "v1:p".into() }]],
        edit_in_place: false,
    };
    let out = messages(&reply, Lang::En);
    let Some(Outgoing::Buttons { body, .. }) = out.last() else { panic!("{out:?}") };
    assert!(body.contains("xxx"), "the buttons' body is {body:?}");
}
