//! What the logs hold: chat ids and order numbers, never a customer's whole reference or meter
//! number (masked: `senelec:•••••••001`), nor the provider callback's secret, even with every
//! level of every module on (trace), and whatever the lookup's outcome.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use billbot::conversation::Role;
use billbot::domain::reference::{mask_for_log, mask_numbers};
use billbot::domain::{Biller, ChatKey, CustomerReference};
use billbot::i18n::Lang;
use billbot::outbox::{Delivery, Notice, Notifier, Outbox, OutboxConfig, SendError, Sending};
use billbot::reminders::Reminders;
use billbot::sandbox::fixtures::refs;
use billbot::tracking::{Tracker, TrackerConfig, callback};
use chrono::{NaiveTime, Utc};
use common::chat::Harness;
use common::sandbox_clients;

/// Every log line written while it is the thread's subscriber (the tests run on one thread).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

/// A network that refuses every notice with the words of a refusal that quotes it.
struct Refusing;

impl Notifier for Refusing {
    fn notify<'a>(&'a self, _chat: &'a ChatKey, _lang: Lang, notice: &'a Notice) -> Sending<'a, Delivery> {
        let quoted = match notice {
            Notice::Reminder { reference, .. } => reference.as_str().to_owned(),
            other => other.subject(),
        };
        Box::pin(async move {
            let refused = std::io::Error::other(format!("parameter {quoted} refused"));
            Err::<Delivery, _>(SendError::Terminal(refused))
        })
    }
}

#[test]
fn a_number_is_logged_with_its_last_3_digits_only() {
    let reference = CustomerReference::parse(Biller::Senelec, "1000000002").unwrap();
    assert_eq!(reference.for_log(), "senelec:•••••••002");
    assert_eq!(mask_for_log("221771234567"), "•••••••••567");
    assert_eq!(
        mask_numbers("v1:q:woyofal:14000000001 sent to 221771234567 for 5000 FCFA on 2026-12-06"),
        "v1:q:woyofal:••••••••001 sent to •••••••••567 for 5000 FCFA on 2026-12-06"
    );
    let notice = Notice::Reminder { reference, due_day: Utc::now().date_naive(), days_left: 0, amount: None };
    assert_eq!(notice.subject(), "senelec:•••••••002");
}

#[tokio::test]
async fn lookups_reminders_and_refused_notices_never_log_a_whole_reference() {
    let h = Harness::new().await;
    let (logs, _guard) = capture();
    let mut c = h.chat("logs", "en", Role::Customer);
    // A bill, a meter, a reference the provider does not know, an answer it garbles.
    for (biller, reference) in [
        ("Senelec", refs::SEVERAL_BILLS),
        ("Woyofal", refs::METER),
        ("Senelec", refs::NOT_FOUND),
        ("Senelec", refs::GARBAGE),
    ] {
        c.say("/bill").await;
        c.press(biller).await;
        c.say(reference).await;
    }
    // A button of another version (an old menu) that names a reference.
    c.press_payload(&format!("v0:q:senelec:{}", refs::ONE_BILL)).await;
    // A reminder, given by the job and refused by the network.
    c.say("/bill").await;
    c.press("Senelec").await;
    c.say(refs::SEVERAL_BILLS).await;
    c.press("Remind me").await;
    let store = h.bot.store().clone();
    let reminder = store.reminders(&c.key).await.unwrap().remove(0);
    let nine = |day: chrono::NaiveDate| day.and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap()).and_utc();
    let (inquiry, _) = sandbox_clients(&h.sandbox);
    let job = Arc::new(Reminders::new(store.clone(), inquiry));
    assert_eq!(job.run_due(nine(reminder.next_at.date_naive()), 100).await.unwrap(), 1);
    let outbox = Arc::new(Outbox::new(store.clone(), Arc::new(Refusing), OutboxConfig::default()));
    outbox.send_due_at(reminder.next_at + chrono::Duration::minutes(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = logs.text();
    assert!(logs.contains("inquiry failed"), "the failures were logged: {logs}");
    assert!(logs.contains("expired, unknown or forged button"), "{logs}");
    assert!(logs.contains("a notice could not be delivered"), "{logs}");
    assert!(logs.contains("reference=senelec:•••••••002"), "the lookups are told apart: {logs}");
    assert!(logs.contains("about=senelec:•••••••002"), "{logs}");
    for whole in [refs::SEVERAL_BILLS, refs::METER, refs::NOT_FOUND, refs::GARBAGE, refs::ONE_BILL] {
        assert!(!logs.contains(whole), "{whole} is in the logs:\n{logs}");
    }
}

#[tokio::test]
async fn the_callback_secret_in_the_path_is_never_logged() {
    const SECRET: &str = "cb-path-Secret-0123456789";
    let h = Harness::new().await;
    let (logs, _guard) = capture();
    let (_, status) = sandbox_clients(&h.sandbox);
    let tracker = Arc::new(Tracker::new(status.clone(), h.bot.store().clone(), TrackerConfig::default()));
    let router = callback::router(tracker, status, SECRET.to_owned().into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/provider/callback", listener.local_addr().unwrap());
    tokio::spawn(billbot::http::serve(listener, router, std::future::pending()));
    let client = reqwest::Client::new();
    let order = billbot::sandbox::fixtures::orders::PENDING;
    let body = serde_json::json!({"event": "bill.status", "status": "SUCCESS", "trx": order});
    for (path, body, expected) in [
        (format!("{base}/{SECRET}"), body.to_string(), 200),
        (format!("{base}/{SECRET}"), "{not json".to_owned(), 400),
        (format!("{base}/{SECRET}"), r#"{"status":"SUCCESS"}"#.to_owned(), 400),
        (format!("{base}/{SECRET}/more"), body.to_string(), 401),
        (format!("{base}/{SECRET}x"), body.to_string(), 401),
        (format!("{base}/{SECRET}"), " ".repeat(65 * 1024), 413),
    ] {
        let answer = client.post(&path).body(body).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), expected, "{path}");
    }
    let logs = logs.text();
    assert!(logs.contains("provider callback"), "{logs}");
    assert!(!logs.contains(SECRET), "the secret is in the logs:\n{logs}");
    assert!(!logs.contains("cb-path-Secret"), "{logs}");
}
