//! The outbox's sender: concurrent across chats and in order within a chat, so that one chat's
//! pace never delays another's notices; claims held for as long as a send is in flight, so that
//! no notice is sent twice, even by two instances.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use billbot::domain::ChatKey;
use billbot::i18n::Lang;
use billbot::outbox::{Delivery, Notice, Notifier, Outbox, OutboxConfig, SendError, Sending};
use billbot::store::{Op, Outgoing, Store, Ticket};
use chrono::Utc;

/// A support group on Telegram: 20 messages a minute.
const GROUP: &str = "tg:-1001";
const GROUP_PACE: Duration = Duration::from_secs(3);

/// What was sent, to whom, when (on tokio's clock), in the order sent.
#[derive(Default)]
struct Channel {
    sent: Mutex<Vec<(String, String, tokio::time::Instant)>>,
    /// When the group may get its next message.
    group_free_at: Mutex<Option<tokio::time::Instant>>,
    /// How long every send takes (after the group's pace), by the sent count: a slow network.
    slow: Option<fn(usize) -> Duration>,
}

impl Channel {
    fn sent(&self) -> Vec<(String, String, tokio::time::Instant)> {
        self.sent.lock().unwrap().clone()
    }
}

/// The notice's text, to tell them apart.
fn text_of(notice: &Notice) -> String {
    match notice {
        Notice::ToSupport { text, .. } | Notice::FromSupport { text, .. } => text.clone(),
        other => other.subject(),
    }
}

impl Notifier for Channel {
    fn notify<'a>(&'a self, chat: &'a ChatKey, _lang: Lang, notice: &'a Notice) -> Sending<'a, Delivery> {
        Box::pin(async move {
            if chat.to_string() == GROUP {
                // The group's pace, as Telegram enforces it: the sender waits its turn.
                let at = {
                    let mut free = self.group_free_at.lock().unwrap();
                    let now = tokio::time::Instant::now();
                    let at = free.map_or(now, |f| f.max(now));
                    *free = Some(at + GROUP_PACE);
                    at
                };
                tokio::time::sleep_until(at).await;
            }
            if let Some(slow) = self.slow {
                let n = self.sent.lock().unwrap().len();
                tokio::time::sleep(slow(n)).await;
            }
            let at = tokio::time::Instant::now();
            self.sent.lock().unwrap().push((chat.to_string(), text_of(notice), at));
            Ok::<_, SendError>(Delivery::Sent)
        })
    }
}

fn chat(key: &str) -> ChatKey {
    key.parse().unwrap()
}

/// A notice for `to`, recorded as support records its relays: with a ticket, in one write.
fn relay(ticket: &Ticket, to: &str, n: u32) -> Op {
    let notice = Notice::ToSupport { ticket: ticket.id.clone(), text: format!("relay {n:03}") };
    let id = format!("{to}|ticket|{}|{n:03}", ticket.id);
    let now = Utc::now() + chrono::Duration::milliseconds(i64::from(n));
    let outgoing = Outgoing::new(id, &chat(to), Lang::En, serde_json::to_value(notice).unwrap(), now);
    Op::Ticket { ticket: ticket.clone(), tell: vec![outgoing] }
}

fn ticket(id: &str, customer: &str) -> Ticket {
    Ticket {
        id: id.to_owned(),
        chat: chat(customer),
        lang: Lang::En,
        opened_at: Utc::now(),
        last_at: Utc::now(),
        closed_at: None,
        messages: 0,
    }
}

/// Runs `outbox`'s loop in the background until the returned sender is dropped or sent.
fn running(outbox: &Arc<Outbox>) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(outbox.clone().run(async {
        let _ = stopped.await;
    }));
    (stop, task)
}

#[tokio::test(start_paused = true)]
async fn a_receipt_is_not_held_up_by_a_support_group_whose_pace_is_saturated() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let channel = Arc::new(Channel::default());
    let outbox = Arc::new(Outbox::new(store.clone(), channel.clone(), OutboxConfig::default()));
    // A customer who types 60 messages a minute into an open ticket: 60 relays for the group,
    // three minutes of its pace.
    let flooder = ticket("FLOOD", "tg:501");
    for n in 0..60 {
        store.commit(relay(&flooder, GROUP, n)).await.unwrap();
    }
    let (stop, task) = running(&outbox);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(channel.sent().len() < 10, "the group is paced: {} sent in 10 s", channel.sent().len());

    // Another customer's news becomes due now.
    let answer = ticket("RCPT1", "tg:502");
    let due = tokio::time::Instant::now();
    let notice = Notice::FromSupport {
        ticket: answer.id.clone(),
        text: "your receipt".into(),
        agent: None,
        closed: false,
    };
    let outgoing = Outgoing::new(
        "tg:502|receipt".into(),
        &chat("tg:502"),
        Lang::En,
        serde_json::to_value(notice).unwrap(),
        Utc::now(),
    );
    store.commit(Op::Ticket { ticket: answer, tell: vec![outgoing] }).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let sent = channel.sent();
    let receipt = sent.iter().find(|(to, _, _)| to == "tg:502").expect("the receipt was sent");
    let waited = receipt.2 - due;
    assert!(waited < Duration::from_secs(1), "the receipt waited {waited:?} behind the group's pace");
    let group: Vec<&String> = sent.iter().filter(|(to, _, _)| to == GROUP).map(|(_, text, _)| text).collect();
    assert!(group.len() < 60, "the group's relays are still going out at its pace");
    let expected: Vec<String> = (0..group.len()).map(|n| format!("relay {n:03}")).collect();
    assert_eq!(group, expected.iter().collect::<Vec<_>>(), "the group's relays go out in order");

    // And every relay is sent, once, in order, at the group's pace.
    tokio::time::sleep(Duration::from_secs(200)).await;
    let group: Vec<(String, tokio::time::Instant)> =
        channel.sent().into_iter().filter(|(to, _, _)| to == GROUP).map(|(_, t, at)| (t, at)).collect();
    assert_eq!(group.len(), 60);
    assert!(group.windows(2).all(|w| w[0].0 < w[1].0), "in order");
    assert!(group.windows(2).all(|w| w[1].1 - w[0].1 >= GROUP_PACE), "at the group's pace");
    let _ = stop.send(());
    task.await.unwrap();
    assert_eq!(outbox.holding(), 0);
}

/// Two senders (two instances) on one store, with sends slower than a claim: each notice is sent
/// once, each chat's in the order recorded.
async fn two_senders_never_send_a_notice_twice(store_a: Store, store_b: Store) {
    fn slow(n: usize) -> Duration {
        // 0 to 700 ms, most sends longer than the 300 ms claim.
        Duration::from_millis((n as u64 * 137) % 700)
    }
    let channel = Arc::new(Channel { slow: Some(slow), ..Default::default() });
    let config = OutboxConfig {
        claim: Duration::from_millis(300),
        tick: Duration::from_millis(50),
        ..Default::default()
    };
    let a = Arc::new(Outbox::new(store_a.clone(), channel.clone(), config.clone()));
    let b = Arc::new(Outbox::new(store_b, channel.clone(), config));
    assert_ne!(a.holder(), b.holder());
    let chats: Vec<String> = (0..8).map(|c| format!("tg:60{c}")).collect();
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    let base = Utc::now() - chrono::Duration::seconds(10);
    for n in 0..64u32 {
        let to = &chats[n as usize % chats.len()];
        let text = format!("notice {n:03}");
        let notice = Notice::ToSupport { ticket: "TWICE".into(), text: text.clone() };
        let at = base + chrono::Duration::milliseconds(i64::from(n));
        let outgoing = Outgoing::new(
            format!("{to}|n|{n:03}"),
            &chat(to),
            Lang::En,
            serde_json::to_value(notice).unwrap(),
            at,
        );
        store_a.commit(Op::Ticket { ticket: ticket("TWICE", to), tell: vec![outgoing] }).await.unwrap();
        expected.entry(to.clone()).or_default().push(text);
    }
    let (stop_a, task_a) = running(&a);
    let (stop_b, task_b) = running(&b);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while channel.sent().len() < 64 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Any second sending would come within a few claims.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = (stop_a.send(()), stop_b.send(()));
    let _ = (task_a.await, task_b.await);
    let sent = channel.sent();
    let mut by_chat: HashMap<String, Vec<String>> = HashMap::new();
    for (to, text, _) in &sent {
        by_chat.entry(to.clone()).or_default().push(text.clone());
    }
    assert_eq!(sent.len(), 64, "each of the 64 notices once: {} sends", sent.len());
    assert_eq!(by_chat, expected, "each chat's notices once, in the order recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_senders_on_sled_never_send_a_notice_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    two_senders_never_send_a_notice_twice(store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_never_send_a_notice_twice() {
    let Some(schema) = common::pg::schema("outbox_two_instances").await else { return };
    let settings = billbot::store::postgres::PgSettings::default();
    let a = Store::connect_with(schema.options(), &settings).await.unwrap();
    let b = Store::connect_with(schema.options(), &settings).await.unwrap();
    two_senders_never_send_a_notice_twice(a, b).await;
}
