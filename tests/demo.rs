//! `billbot demo` as a process driven through standard input, and what survives a `kill -9`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use billbot::conversation::State;
use billbot::domain::Biller;
use billbot::i18n::Lang;
use billbot::store::Store;
use common::process::{Reaped, SpawnReaped};

fn demo(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_billbot"));
    cmd.arg("demo").args(args);
    for var in
        ["BILLBOT_INQUIRY_URL", "BILLBOT_STATUS_URL", "BILLBOT_DATA_DIR", "RUST_LOG", "LC_ALL", "LC_MESSAGES"]
    {
        cmd.env_remove(var);
    }
    cmd.env("LANG", "C.UTF-8");
    cmd
}

fn run_script(args: &[&str], script: &str) -> (String, bool) {
    let mut child =
        demo(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), out.status.success())
}

#[test]
fn a_scripted_english_session_checks_a_bill_with_numbered_buttons_and_quits() {
    let (out, ok) = run_script(&["--lang", "en"], "1\n2\n1000000001\n/quit\nnever read\n");
    assert!(ok);
    assert!(out.contains("Hello! I'm billbot."), "{out}");
    assert!(out.contains("[1] 💡 Check a bill"), "{out}");
    assert!(out.contains("(⚡ Senelec (electricity))"), "the pressed button is shown: {out}");
    assert!(out.contains("Holder: Moussa D.") && out.contains("Total: 21,450 FCFA"), "{out}");
    assert!(!out.contains("never read"), "/quit ends the session");
}

#[test]
fn a_scripted_french_session_reads_a_meter_and_an_order_and_ends_at_end_of_input() {
    let script = "/bill\n3\n14000000001\n/status gb-202611200800000000003\n/orders\n";
    let (out, ok) = run_script(&["--lang", "fr"], script);
    assert!(ok, "end of input ends the demo cleanly");
    assert!(out.contains("Bonjour ! Je suis billbot."));
    assert!(out.contains("État du compteur : actif"), "{out}");
    assert!(out.contains("Statut : ✅ livrée"), "{out}");
    assert!(out.contains("1. Commande GB - 202611200800000000003"), "{out}");
    assert!(out.contains("2. Woyofal 14000000001"), "{out}");
}

#[test]
fn a_number_without_such_a_button_is_just_text() {
    let (out, ok) = run_script(&["--lang", "en"], "9\n");
    assert!(ok);
    assert!(out.contains("> 9") && out.contains("didn't understand"), "{out}");
}

/// Lines of a running demo, read on a thread so the test can wait for one.
struct Running {
    child: Reaped,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(dir: &std::path::Path) -> Running {
        let mut child = demo(&["--lang", "en"])
            .env("BILLBOT_DATA_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .reaped();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    fn say(&mut self, line: &str) {
        writeln!(self.child.stdin.as_mut().unwrap(), "{line}").unwrap();
    }

    /// Waits for a line containing `text` (the guard only stops a broken run from hanging).
    fn wait_for(&mut self, text: &str) {
        loop {
            let line = self.lines.recv_timeout(Duration::from_secs(60)).expect(text);
            if line.contains(text) {
                return;
            }
        }
    }
}

#[test]
fn language_state_and_lookups_survive_kill_9_right_after_the_reply() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Running::start(dir.path());
    demo.wait_for("What would you like to do?");
    demo.say("/lang fr");
    demo.wait_for("Langue : français.");
    demo.say("/status 202611200800000000001");
    demo.wait_for("Statut : ⏳ en cours");
    demo.say("/bill");
    demo.wait_for("Quel facturier ?");
    demo.say("3");
    demo.wait_for("Saisissez votre numéro Woyofal");
    demo.child.kill().unwrap(); // SIGKILL: no destructor, no flush on exit
    demo.child.wait().unwrap();

    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = Store::open(dir.path()).unwrap();
        let chat = billbot::channels::terminal::chat();
        assert_eq!(store.prefs(&chat).await.unwrap().lang, Some(Lang::Fr));
        assert_eq!(
            store.dialogue::<State>(&chat).await.unwrap(),
            Some(State::AwaitingReference { biller: Biller::Woyofal })
        );
        assert_eq!(store.activity(&chat).await.unwrap().len(), 1);
    });

    let mut again = Running::start(dir.path());
    again.wait_for("Bon retour");
    again.say("14000000001");
    again.wait_for("État du compteur : actif");
    again.say("/quit");
    assert!(again.child.wait().unwrap().success());
}
