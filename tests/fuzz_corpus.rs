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
            let data = std::fs::read(&file).expect("a readable corpus file");
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
