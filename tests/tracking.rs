//! Order tracking: backoff and limits, final statuses, maximum age, restarts without duplicate
//! notifications, provider callbacks. Time moves on tokio's paused clock; it runs only while a
//! provider call is in flight (`real_time`), so timers never fire early on a socket wait.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use billbot::conversation::notices;
use billbot::domain::{ChatKey, OrderNo, OrderStatus};
use billbot::i18n::Lang;
use billbot::outbox::{Delivery, Notice, Notifier, Outbox, OutboxConfig, SendError, Sending};
use billbot::store::Store;
use billbot::tracking::{Tracker, TrackerConfig, callback};
use common::*;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const ORDER: &str = "202611200800000000010";

/// Collects what the tracker sends, by chat.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, String)>>);

impl Notifier for Recorder {
    fn notify<'a>(&'a self, chat: &'a ChatKey, lang: Lang, notice: &'a Notice) -> Sending<'a, Delivery> {
        let text = notices::reply(lang, notice).text;
        self.0.lock().unwrap().push((chat.to_string(), text));
        Box::pin(async { Ok(Delivery::Sent) })
    }
}

/// A chat key from its stored form (`tg:1`).
fn chat(key: &str) -> ChatKey {
    key.parse().unwrap()
}

impl Recorder {
    fn sent(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().clone()
    }
}

fn status_body(status: &str, code: Option<&str>) -> serde_json::Value {
    json!({"success": true, "code": "00000", "message": "ok", "data": {
        "trx": ORDER, "orderNo": format!("GB - {ORDER}"), "status": status,
        "bill": {"provider": "WOYOFAL", "recipient": "14000000001", "amount": "7500.00", "fee": "0",
                 "purchased_code": code, "units": code.map(|_| "23.6 kWh"), "refunded": 0},
        "created_at": "2026-11-20T08:55:00.000000Z", "updated_at": "2026-11-20T09:05:00.000000Z"
    }})
}

async fn provider(statuses: &[(&str, Option<&str>)]) -> MockServer {
    let server = MockServer::start().await;
    for (i, (status, code)) in statuses.iter().enumerate() {
        let mock = Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(status_body(status, *code)));
        if i + 1 < statuses.len() {
            mock.up_to_n_times(1).mount(&server).await
        } else {
            mock.mount(&server).await
        }
    }
    server
}

struct Setup {
    tracker: Arc<Tracker>,
    /// Sends what the tracker records (it only writes to the outbox).
    outbox: Arc<Outbox>,
    recorder: Arc<Recorder>,
    store: Store,
    server: MockServer,
    dir: tempfile::TempDir,
}

async fn setup(statuses: &[(&str, Option<&str>)]) -> Setup {
    let server = provider(statuses).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let recorder = Arc::new(Recorder::default());
    let tracker =
        Arc::new(Tracker::new(status_client(&server.uri()), store.clone(), TrackerConfig::default()));
    let outbox = outbox(&store, recorder.clone());
    Setup { tracker, outbox, recorder, store, server, dir }
}

/// The outbox's sender on `store`, delivering through `notifier`.
fn outbox(store: &Store, notifier: Arc<dyn Notifier>) -> Arc<Outbox> {
    Arc::new(Outbox::new(store.clone(), notifier, OutboxConfig::default()))
}

impl Setup {
    /// What the chats were told, once the outbox has sent what is due (on the paused clock).
    async fn sent(&self) -> Vec<(String, String)> {
        real_time(self.outbox.send_due()).await.unwrap();
        self.recorder.sent()
    }

    /// [`Setup::sent`], for a test whose clock runs.
    async fn sent_now(&self) -> Vec<(String, String)> {
        self.outbox.send_due().await.unwrap();
        self.recorder.sent()
    }
}

/// Runs `f` with tokio's clock running (for real I/O), then pauses it again.
async fn real_time<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::resume();
    let out = f.await;
    tokio::time::pause();
    out
}

fn order_no() -> OrderNo {
    OrderNo::parse(ORDER).unwrap()
}

async fn watch(s: &Setup, chat: &str, lang: Lang) {
    let order = real_time(status_client(&s.server.uri()).status(&order_no())).await.unwrap();
    s.tracker.watch(&order_no(), &order, &self::chat(chat), lang).await.unwrap();
}

#[test]
fn checks_back_off_from_20_s_to_10_minutes_never_more_than_3_a_minute() {
    let config = TrackerConfig::default();
    let intervals: Vec<u64> = (0..20).map(|n| config.interval(n).as_secs()).collect();
    assert_eq!(&intervals[..10], &[20, 20, 20, 40, 40, 40, 80, 80, 80, 160]);
    assert_eq!(intervals[19], 600, "capped at 10 minutes");
    assert!(intervals.iter().all(|s| *s >= 20), "at most 3 calls a minute per order");
}

#[tokio::test(start_paused = true)]
async fn a_watch_is_first_checked_20_to_40_s_later_spreading_a_crowd() {
    let s = setup(&[("PENDING", None)]).await;
    let start = s.tracker.now();
    let orders: Vec<OrderNo> =
        (0..50).map(|i| OrderNo::parse(&format!("2026112008{i:011}")).unwrap()).collect();
    let pending: billbot::domain::Order =
        real_time(status_client(&s.server.uri()).status(&order_no())).await.unwrap();
    for o in &orders {
        s.tracker.watch(o, &pending, &chat("tg:1"), Lang::En).await.unwrap();
    }
    assert!(s.store.due_watches(s.tracker.now(), 100).await.unwrap().is_empty(), "nothing due at once");
    tokio::time::advance(Duration::from_secs(20)).await;
    let at_20 = s.store.due_watches(s.tracker.now(), 100).await.unwrap().len();
    tokio::time::advance(Duration::from_secs(21)).await;
    let at_41 = s.store.due_watches(s.tracker.now(), 100).await.unwrap().len();
    assert_eq!(at_41, 50, "all due by 40 s");
    assert!(at_20 < 50, "spread, not all at 20 s ({at_20})");
    let mut firsts = Vec::new();
    for o in &orders {
        firsts.push(s.store.watch(o).await.unwrap().unwrap().next_check_at);
    }
    let distinct: std::collections::HashSet<_> = firsts.iter().collect();
    assert!(distinct.len() > 40, "first checks spread over time ({} distinct)", distinct.len());
    assert!(firsts.iter().all(|t| *t >= start + chrono::Duration::seconds(20)));
}

#[tokio::test(start_paused = true)]
async fn a_delivered_order_is_pushed_once_to_each_watcher_in_their_language_and_the_watch_ends() {
    // Three status calls to start the watches, one check still pending, then delivered.
    let pending = ("PENDING", None);
    let s = setup(&[pending, pending, pending, pending, ("SUCCESS", Some("55556666777788889999"))]).await;
    watch(&s, "tg:1", Lang::Fr).await;
    watch(&s, "tg:2", Lang::En).await;
    watch(&s, "tg:2", Lang::En).await; // asking twice changes nothing
    assert_eq!(s.store.watch(&order_no()).await.unwrap().unwrap().watchers.len(), 2);

    tokio::time::advance(Duration::from_secs(41)).await;
    assert_eq!(s.store.due_watches(s.tracker.now(), 10).await.unwrap(), vec![order_no()]);
    real_time(s.tracker.check(&order_no())).await.unwrap();
    assert!(s.sent().await.is_empty(), "still pending: nothing to say");
    let watch = s.store.watch(&order_no()).await.unwrap().unwrap();
    assert_eq!(watch.checks, 1);
    assert!(
        s.store.due_watches(s.tracker.now(), 10).await.unwrap().is_empty(),
        "rescheduled, not due again at once"
    );

    tokio::time::advance(Duration::from_secs(25)).await;
    real_time(s.tracker.check(&order_no())).await.unwrap();
    let sent = s.sent().await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let fr = &sent.iter().find(|(c, _)| c == "tg:1").unwrap().1;
    let en = &sent.iter().find(|(c, _)| c == "tg:2").unwrap().1;
    assert!(fr.starts_with("🔔 Du nouveau pour votre commande GB - 202611200800000000010"), "{fr}");
    assert!(fr.contains("Code : 5555 6666 7777 8888 9999") && fr.contains("✅ livrée"), "{fr}");
    assert!(en.contains("Code: 5555 6666 7777 8888 9999") && en.contains("Amount: 7,500 FCFA"), "{en}");
    assert!(s.store.watch(&order_no()).await.unwrap().is_none(), "a final status ends the watch");
    assert_eq!(s.store.order(&order_no()).await.unwrap().unwrap().order.status, OrderStatus::Succeeded);

    real_time(s.tracker.apply(&order_no(), &s.store.order(&order_no()).await.unwrap().unwrap().order))
        .await
        .unwrap();
    assert_eq!(s.sent().await.len(), 2, "a repeat (retry, duplicate callback) tells nobody again");
}

#[tokio::test(start_paused = true)]
async fn after_its_maximum_age_a_watch_stops_and_says_how_to_check_by_hand() {
    let s = setup(&[("PENDING", None)]).await;
    watch(&s, "tg:3", Lang::En).await;
    let calls_before = s.server.received_requests().await.unwrap().len();
    tokio::time::advance(Duration::from_secs(24 * 3600 + 1)).await;
    real_time(s.tracker.check(&order_no())).await.unwrap();
    assert_eq!(s.server.received_requests().await.unwrap().len(), calls_before, "no provider call");
    let sent = s.sent().await;
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].1.contains("I stopped watching order GB - 202611200800000000010 after 24 hours"),
        "{}",
        sent[0].1
    );
    assert!(sent[0].1.contains("/status GB - 202611200800000000010"));
    assert!(s.store.watch(&order_no()).await.unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn watches_resume_after_a_restart_without_telling_anyone_twice() {
    let s = setup(&[("PENDING", None), ("PENDING", None), ("delivered", Some("12341234123412341234"))]).await;
    watch(&s, "tg:4", Lang::En).await;
    let Setup { tracker, outbox: old_sender, store, server, dir, .. } = s;
    drop((tracker, old_sender, store));

    // Restart: a new store handle, a new tracker and a new sender on the same data.
    let store = Store::open(dir.path()).unwrap();
    let recorder = Arc::new(Recorder::default());
    let tracker =
        Arc::new(Tracker::new(status_client(&server.uri()), store.clone(), TrackerConfig::default()));
    let sender = outbox(&store, recorder.clone());
    tokio::time::advance(Duration::from_secs(41)).await;
    assert_eq!(
        store.due_watches(tracker.now(), 10).await.unwrap(),
        vec![order_no()],
        "the schedule survived"
    );
    real_time(tracker.check(&order_no())).await.unwrap();
    tokio::time::advance(Duration::from_secs(25)).await;
    real_time(tracker.check(&order_no())).await.unwrap();
    real_time(sender.send_due()).await.unwrap();
    assert_eq!(recorder.sent().len(), 1);
    // A crash after telling, then the same news again (a retry, or a restart mid-way).
    let delivered = store.order(&order_no()).await.unwrap().unwrap().order;
    real_time(tracker.apply(&order_no(), &delivered)).await.unwrap();
    real_time(sender.send_due()).await.unwrap();
    assert_eq!(recorder.sent().len(), 1, "no duplicate");
}

#[tokio::test(start_paused = true)]
async fn a_failing_provider_is_retried_later_with_backoff() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(500)).mount(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let recorder = Arc::new(Recorder::default());
    let tracker = Tracker::new(status_client(&server.uri()), store.clone(), TrackerConfig::default());
    let sender = outbox(&store, recorder.clone());
    let pending = real_time(status_client(&provider(&[("PENDING", None)]).await.uri()).status(&order_no()))
        .await
        .unwrap();
    tracker.watch(&order_no(), &pending, &chat("tg:5"), Lang::En).await.unwrap();
    for _ in 0..4 {
        let at = store.watch(&order_no()).await.unwrap().unwrap().next_check_at;
        let wait = (at - tracker.now()).to_std().unwrap_or_default();
        tokio::time::advance(wait + Duration::from_millis(1)).await;
        real_time(tracker.check(&order_no())).await.unwrap();
    }
    let watch = store.watch(&order_no()).await.unwrap().unwrap();
    assert_eq!(watch.checks, 4);
    let next = (watch.next_check_at - tracker.now()).to_std().unwrap();
    assert!(next >= Duration::from_secs(40), "backed off to {next:?}");
    real_time(sender.send_due()).await.unwrap();
    assert!(recorder.sent().is_empty(), "errors are not news");
}

#[tokio::test(start_paused = true)]
async fn each_check_during_an_outage_is_one_paced_call_not_three() {
    let server = MockServer::start().await;
    // 503: retried by the clients used in chats (the call is idempotent), not by the tracker.
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tracker = Tracker::new(status_client(&server.uri()), store.clone(), TrackerConfig::default());
    let pending = real_time(status_client(&provider(&[("PENDING", None)]).await.uri()).status(&order_no()))
        .await
        .unwrap();
    tracker.watch(&order_no(), &pending, &chat("tg:5"), Lang::En).await.unwrap();
    for _ in 0..3 {
        real_time(tracker.check(&order_no())).await.unwrap();
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 3, "one call a check");
}

#[tokio::test(start_paused = true)]
async fn an_expiry_decided_on_an_old_read_spares_a_watch_started_again_meanwhile() {
    let s = setup(&[("PENDING", None)]).await;
    watch(&s, "tg:3", Lang::En).await;
    tokio::time::advance(Duration::from_secs(24 * 3600 + 1)).await;
    // The old watch ends and another chat starts a new one, before the expiry is written.
    s.store
        .commit(billbot::store::Op::Watch { order_no: order_no(), update: Box::new(|_| None) })
        .await
        .unwrap();
    watch(&s, "tg:9", Lang::En).await;
    s.tracker.expire(&order_no()).await.unwrap();
    let kept = s.store.watch(&order_no()).await.unwrap().expect("the new watch is kept");
    assert_eq!(kept.watchers.len(), 1);
    assert!(s.sent().await.is_empty(), "nobody is told it stopped: {:?}", s.sent().await);
}

#[tokio::test(start_paused = true)]
async fn schedule_entries_without_a_readable_watch_are_removed_not_found_due_forever() {
    let s = setup(&[("PENDING", None)]).await;
    watch(&s, "tg:3", Lang::En).await;
    let Setup { tracker, outbox: old_sender, store, dir, .. } = s;
    drop((tracker, old_sender, store));
    let other = OrderNo::parse("202611200800000000001").unwrap();
    {
        let db = open_raw_sled(dir.path());
        // The watch becomes unreadable; another order's entry has no watch at all.
        db.open_tree("watches").unwrap().insert(order_no().digits(), &b"{not json"[..]).unwrap();
        let mut orphan = 0u64.to_be_bytes().to_vec();
        orphan.extend_from_slice(other.digits().as_bytes());
        db.open_tree("watch_due").unwrap().insert(orphan, &[][..]).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let far = chrono::Utc::now() + chrono::Duration::days(2);
    assert_eq!(store.due_watches(far, 10).await.unwrap().len(), 2);
    let claimed = store.claim_due(far, far + chrono::Duration::seconds(20), 10).await.unwrap();
    assert!(claimed.is_empty(), "{claimed:?}");
    assert!(store.due_watches(far + chrono::Duration::days(1), 10).await.unwrap().is_empty(), "both removed");
    assert!(store.watch(&order_no()).await.unwrap().is_none());
}

/// A channel that is down for the first `failures` sends, then delivers (recorded).
struct Flaky {
    failures: std::sync::atomic::AtomicUsize,
    tries: std::sync::atomic::AtomicUsize,
    recorder: Recorder,
}

impl Flaky {
    fn new(failures: usize) -> Arc<Flaky> {
        Arc::new(Flaky { failures: failures.into(), tries: 0.into(), recorder: Recorder::default() })
    }

    fn tries(&self) -> usize {
        self.tries.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Notifier for Flaky {
    fn notify<'a>(&'a self, chat: &'a ChatKey, lang: Lang, notice: &'a Notice) -> Sending<'a, Delivery> {
        use std::sync::atomic::Ordering::SeqCst;
        self.tries.fetch_add(1, SeqCst);
        if self.failures.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok() {
            let down = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "the channel is down");
            return Box::pin(async { Err(SendError::Terminal(down)) });
        }
        self.recorder.notify(chat, lang, notice)
    }
}

/// A tracker on `s`'s store, and a sender delivering through `notifier`.
fn tracker_with(s: &Setup, notifier: Arc<dyn Notifier>) -> (Tracker, Arc<Outbox>) {
    let tracker = Tracker::new(status_client(&s.server.uri()), s.store.clone(), TrackerConfig::default());
    (tracker, outbox(&s.store, notifier))
}

const DELIVERED: &[(&str, Option<&str>)] = &[("PENDING", None), ("delivered", Some("12341234123412341234"))];

#[tokio::test(start_paused = true)]
async fn a_notice_that_could_not_be_sent_is_tried_again_later_and_told_once() {
    let s = setup(DELIVERED).await;
    watch(&s, "tg:21", Lang::En).await;
    let flaky = Flaky::new(2);
    let (tracker, sender) = tracker_with(&s, flaky.clone());
    real_time(tracker.check(&order_no())).await.unwrap();
    assert_eq!(real_time(sender.send_due()).await.unwrap(), 1, "sent as soon as recorded");
    assert_eq!((flaky.tries(), flaky.recorder.sent().len()), (1, 0), "the first send failed");
    let id = billbot::store::Outgoing::id_for(&chat("tg:21"), &order_no(), "succeeded");
    let pending = s.store.outgoing(&id).await.unwrap().expect("kept in the outbox");
    assert_eq!((pending.attempts, pending.done_at), (1, None));
    assert_eq!(real_time(sender.send_due()).await.unwrap(), 0, "not before its time");
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(real_time(sender.send_due()).await.unwrap(), 1);
    assert_eq!(flaky.recorder.sent().len(), 0, "the second send failed too");
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(real_time(sender.send_due()).await.unwrap(), 1);
    let sent = flaky.recorder.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.contains("✅ delivered"), "{}", sent[0].1);
    assert!(s.store.outgoing(&id).await.unwrap().unwrap().done_at.is_some());
    // The same news again (a callback, a replay): nobody is told twice.
    let delivered = s.store.order(&order_no()).await.unwrap().unwrap().order;
    real_time(tracker.apply(&order_no(), &delivered)).await.unwrap();
    tokio::time::advance(Duration::from_secs(3600)).await;
    real_time(sender.send_due()).await.unwrap();
    assert_eq!(flaky.recorder.sent().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn notices_not_sent_before_a_restart_are_sent_after_it() {
    let s = setup(DELIVERED).await;
    watch(&s, "tg:22", Lang::Fr).await;
    let (tracker, sender) = tracker_with(&s, Flaky::new(usize::MAX));
    real_time(tracker.check(&order_no())).await.unwrap();
    real_time(sender.send_due()).await.unwrap();
    assert!(s.store.watch(&order_no()).await.unwrap().is_none(), "the watch ended with the delivery");
    drop((tracker, sender));
    let Setup { tracker, outbox: old_sender, store, dir, .. } = s;
    drop((tracker, old_sender, store));
    let store = Store::open(dir.path()).unwrap();
    let recorder = Arc::new(Recorder::default());
    let sender = outbox(&store, recorder.clone());
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(real_time(sender.send_due()).await.unwrap(), 1);
    let sent = recorder.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.contains("✅ livrée") || sent[0].1.contains("livrée"), "{}", sent[0].1);
}

#[tokio::test(start_paused = true)]
async fn a_notice_is_given_up_after_8_tries_about_an_hour() {
    let s = setup(DELIVERED).await;
    watch(&s, "tg:23", Lang::En).await;
    let flaky = Flaky::new(usize::MAX);
    let (tracker, sender) = tracker_with(&s, flaky.clone());
    real_time(tracker.check(&order_no())).await.unwrap();
    real_time(sender.send_due()).await.unwrap();
    for _ in 0..20 {
        tokio::time::advance(Duration::from_secs(30 * 60)).await;
        real_time(sender.send_due()).await.unwrap();
    }
    assert_eq!(flaky.tries(), billbot::outbox::MAX_SEND_ATTEMPTS as usize);
    let id = billbot::store::Outgoing::id_for(&chat("tg:23"), &order_no(), "succeeded");
    assert!(s.store.outgoing(&id).await.unwrap().unwrap().done_at.is_some(), "given up, not due forever");
}

/// Opens the sled database of a store just dropped (sled lets go of its lock a moment later).
fn open_raw_sled(dir: &std::path::Path) -> sled::Db {
    let started = std::time::Instant::now();
    loop {
        match sled::open(dir) {
            Err(e) if started.elapsed() < Duration::from_secs(2) => {
                assert!(e.to_string().contains("could not acquire lock"), "{e}");
                std::thread::sleep(Duration::from_millis(20));
            }
            db => return db.unwrap(),
        }
    }
}

async fn callback_server(tracker: Arc<Tracker>, status: billbot::upstream::StatusClient) -> String {
    let app = callback::router(tracker, status, "cb-secret-0123456789abcdef".to_owned().into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(billbot::http::serve(listener, app, std::future::pending()));
    format!("http://{addr}/provider/callback")
}

#[tokio::test]
async fn provider_callbacks_are_authenticated_idempotent_and_notify_at_once() {
    let s = setup(&[("SUCCESS", Some("99998888777766665555"))]).await;
    let pending: billbot::domain::Order = serde_json::from_value(json!({
        "order_no": format!("GB - {ORDER}"), "trx": ORDER, "reference": null, "status": "pending",
        "provider_status": "PENDING", "message": null, "service_type": null, "provider": null,
        "recipient": null, "amount": null, "fee": null, "purchased_code": null, "units": null,
        "refunded": false, "created_at": null, "updated_at": null, "merchant": {}
    }))
    .unwrap();
    s.tracker.watch(&order_no(), &pending, &chat("tg:6"), Lang::Fr).await.unwrap();
    let url = callback_server(s.tracker.clone(), status_client(&s.server.uri())).await;
    let client = reqwest::Client::new();
    let body = json!({"event": "bill.status", "status": "SUCCESS", "provider": "WOYOFAL", "recipient": "14000000001",
                      "trx": ORDER, "reference": null, "errorMsg": null});

    let wrong = client.post(format!("{url}/not-the-secret")).json(&body).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let missing = client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let garbage =
        client.post(format!("{url}/cb-secret-0123456789abcdef")).body("<xml/>").send().await.unwrap();
    assert_eq!(garbage.status(), 400);
    let no_order = client
        .post(format!("{url}/cb-secret-0123456789abcdef"))
        .json(&json!({"status": "SUCCESS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_order.status(), 400);
    // Over 64 KiB: 413, but only for whoever has the secret, which is checked first.
    let huge = vec![b' '; 65 * 1024 + 1];
    let big =
        client.post(format!("{url}/cb-secret-0123456789abcdef")).body(huge.clone()).send().await.unwrap();
    assert_eq!(big.status(), 413);
    let big_wrong = client.post(format!("{url}/not-the-secret")).body(huge).send().await.unwrap();
    assert_eq!(big_wrong.status(), 401, "the secret is checked before the body is read");
    assert!(s.sent_now().await.is_empty(), "refused calls change nothing");

    let ok = client.post(format!("{url}/cb-secret-0123456789abcdef")).json(&body).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<serde_json::Value>().await.unwrap(), json!({"response": "success"}));
    let sent = s.sent_now().await;
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].1.contains("Code : 9999 8888 7777 6666 5555"),
        "the code, fetched from the status API: {}",
        sent[0].1
    );

    let again = client
        .post(&url)
        .header("X-Callback-Secret", "cb-secret-0123456789abcdef")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "the header form works too");
    assert_eq!(s.sent_now().await.len(), 1, "a duplicate callback tells nobody again");
    assert!(s.store.watch(&order_no()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_callback_the_status_api_cannot_confirm_changes_nothing_but_brings_the_next_check_forward() {
    let s = setup(&[("PENDING", None)]).await;
    let pending = status_client(&s.server.uri()).status(&order_no()).await.unwrap();
    s.tracker.watch(&order_no(), &pending, &chat("tg:7"), Lang::En).await.unwrap();
    let before = s.store.watch(&order_no()).await.unwrap().unwrap();
    assert!(before.next_check_at > s.tracker.now() + chrono::Duration::seconds(15));
    let url = callback_server(s.tracker.clone(), status_client(&closed_port_url())).await;
    // Whoever sends it, and however often: a delivery with a code, then a failure.
    for body in [
        json!({"status": "SUCCESS", "trx": ORDER, "purchased_code": "1111 2222 3333 4444 5555"}),
        json!({"status": "FAIL", "trx": ORDER, "errorMsg": "Meter blocked"}),
        json!({"status": "FAIL", "trx": ORDER, "errorMsg": "Meter blocked"}),
    ] {
        let response = reqwest::Client::new()
            .post(format!("{url}/cb-secret-0123456789abcdef"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert!(
        s.sent_now().await.is_empty(),
        "nothing announced on the callback's word: {:?}",
        s.sent_now().await
    );
    assert!(s.store.order(&order_no()).await.unwrap().is_none(), "nothing stored on the callback's word");
    let after = s.store.watch(&order_no()).await.unwrap().expect("still watched");
    assert_eq!(after.last_status, billbot::domain::OrderStatus::Pending);
    assert!(after.next_check_at <= s.tracker.now(), "checked again at once");
    assert_eq!(after.checks, before.checks);
}

#[tokio::test]
async fn a_callback_whose_status_call_fails_makes_it_once_and_leaves_the_retries_to_the_tracker() {
    let s = setup(&[("PENDING", None)]).await;
    let pending = status_client(&s.server.uri()).status(&order_no()).await.unwrap();
    s.tracker.watch(&order_no(), &pending, &chat("tg:8"), Lang::En).await.unwrap();
    let failing = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).mount(&failing).await;
    let url = callback_server(s.tracker.clone(), status_client(&failing.uri())).await;
    let answer = reqwest::Client::new()
        .post(format!("{url}/cb-secret-0123456789abcdef"))
        .json(&json!({"status": "SUCCESS", "trx": ORDER}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let calls = failing.received_requests().await.unwrap();
    assert_eq!(calls.len(), 1, "one status call inside the provider's request, no retries");
    let watch = s.store.watch(&order_no()).await.unwrap().expect("still watched");
    assert!(watch.next_check_at <= s.tracker.now(), "the tracker checks it again at once");
    assert!(s.recorder.sent().is_empty());
}

#[tokio::test]
async fn a_callback_for_an_order_100_chats_watch_answers_at_once_and_leaves_the_sending_to_the_outbox() {
    let s = setup(&[("PENDING", None), ("SUCCESS", Some("99998888777766665555"))]).await;
    let pending = status_client(&s.server.uri()).status(&order_no()).await.unwrap();
    let chats: Vec<String> = (0..100).map(|n| format!("tg:{}", 1_000 + n)).collect();
    for key in &chats {
        s.tracker.watch(&order_no(), &pending, &chat(key), Lang::En).await.unwrap();
    }
    let url = callback_server(s.tracker.clone(), status_client(&s.server.uri())).await;
    let answer = reqwest::Client::new()
        .post(&url)
        .header("X-Callback-Secret", "cb-secret-0123456789abcdef")
        .json(&json!({"status": "SUCCESS", "trx": ORDER}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // One status call and one write: no notice is sent inside the provider's request, all 100
    // are in the outbox when it is answered.
    assert!(s.recorder.sent().is_empty(), "nothing sent by the callback itself");
    for key in &chats {
        let id = billbot::store::Outgoing::id_for(&chat(key), &order_no(), "succeeded");
        let queued = s.store.outgoing(&id).await.unwrap().expect("in the outbox");
        assert!(queued.done_at.is_none(), "{key}: waiting for the outbox's sender");
    }
    // The outbox's sender tells each chat once.
    let sent = s.sent_now().await;
    assert_eq!(sent.len(), 100);
}

#[tokio::test]
async fn notify_me_in_the_conversation_starts_a_watch_and_a_final_order_needs_none() {
    use billbot::conversation::{Bot, Incoming, Input};
    use billbot::sandbox::fixtures::orders;
    let sb = sandbox().await;
    let (inquiry, status) = sandbox_clients(&sb);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tracker = Arc::new(Tracker::new(status.clone(), store.clone(), TrackerConfig::default()));
    let bot = Bot::with_tracker(inquiry, status, store.clone(), tracker);
    let send = |input: Input| {
        let bot = bot.clone();
        async move {
            let incoming = Incoming::new(ChatKey::terminal(1), input).lang_code("en");
            bot.handle(incoming).await
        }
    };
    let pending = send(Input::from_text(&format!("/status {}", orders::PENDING))).await;
    let notify =
        pending[0].buttons().find(|b| b.label.contains("Notify me")).expect("offered on a pending order");
    let started = send(Input::Button(notify.payload.clone())).await;
    assert!(
        started[0].text.starts_with("🔔 I will tell you when order GB - 202611200800000000001 changes"),
        "{}",
        started[0].text
    );
    let watch = store.watch(&OrderNo::parse(orders::PENDING).unwrap()).await.unwrap().unwrap();
    assert_eq!(watch.watchers.len(), 1);
    assert_eq!(watch.watchers[0].chat, ChatKey::terminal(1));

    let delivered = send(Input::from_text(&format!("/status {}", orders::SUCCESSFUL))).await;
    assert!(!delivered[0].buttons().any(|b| b.label.contains("Notify me")), "nothing to wait for");
    let watch = billbot::conversation::Action::Watch(OrderNo::parse(orders::SUCCESSFUL).unwrap());
    let stale = send(Input::Button(bot.payload(&ChatKey::terminal(1), &watch).await.unwrap())).await;
    assert!(stale[0].text.contains("is already final"), "{}", stale[0].text);
    assert!(store.watch(&OrderNo::parse(orders::SUCCESSFUL).unwrap()).await.unwrap().is_none());
}
