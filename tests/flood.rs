//! Flood control: bounded per-chat queues with a rate limit on incoming updates, an adaptive
//! limit on provider calls in flight from chats with a fair queue before it, and a Telegram 429
//! that holds back only its own chat.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use billbot::channels::telegram::{Limits, Pacer};
use billbot::channels::{Admission, ChatQueues, Flood};
use billbot::conversation::{Bot, ChatKey, Incoming, Input, Role};
use billbot::domain::Currency;
use billbot::sandbox::SandboxConfig;
use billbot::store::Store;
use billbot::upstream::{InquiryClient, StatusClient};
use secrecy::SecretString;
use teloxide::RequestError;
use teloxide::types::{ChatId, Seconds};

#[tokio::test]
async fn a_chat_may_have_five_updates_waiting_and_is_told_once_when_it_sends_more() {
    let queues: ChatQueues<i64> = ChatQueues::bounded(Flood { max_waiting: 5, per_minute: 1000 });
    let ran = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (started, is_started) = tokio::sync::oneshot::channel();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let first = queues.admit(1, async move {
        let _ = started.send(());
        let _ = released.await;
    });
    assert_eq!(first, Admission::Queued);
    is_started.await.unwrap();
    for i in 0..5 {
        let ran = ran.clone();
        assert_eq!(
            queues.admit(1, async move { ran.lock().unwrap().push(i) }),
            Admission::Queued,
            "update {i}"
        );
    }
    assert_eq!(
        queues.admit(1, async {}),
        Admission::Refused { warn: true },
        "the sixth waiting is one too many"
    );
    assert_eq!(
        queues.admit(1, async {}),
        Admission::Refused { warn: false },
        "told once, not at every update"
    );
    let other = ran.clone();
    assert_eq!(
        queues.admit(2, async move { other.lock().unwrap().push(100) }),
        Admission::Queued,
        "other chats go on"
    );
    release.send(()).unwrap();
    queues.finish().await;
    let mut ran = ran.lock().unwrap().clone();
    ran.retain(|i| *i != 100);
    assert_eq!(ran, [0, 1, 2, 3, 4], "the waiting updates ran, in order");
}

#[tokio::test]
async fn a_chat_sending_faster_than_its_rate_is_refused_and_others_are_not() {
    // 6 a minute: bursts of 2.
    let queues: ChatQueues<i64> = ChatQueues::bounded(Flood { max_waiting: 100, per_minute: 6 });
    assert_eq!(queues.admit(1, async {}), Admission::Queued);
    assert_eq!(queues.admit(1, async {}), Admission::Queued);
    assert_eq!(queues.admit(1, async {}), Admission::Refused { warn: true });
    assert_eq!(queues.admit(1, async {}), Admission::Refused { warn: false });
    assert_eq!(queues.admit(2, async {}), Admission::Queued);
    queues.finish().await;
}

/// A status API on loopback that answers every request with a 400 after `delay`, counting the
/// requests and the most it had in flight at once.
struct CountingProvider {
    url: reqwest::Url,
    requests: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

async fn counting_provider(delay: Duration) -> CountingProvider {
    let requests = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (requests, peak) = (requests.clone(), peak.clone());
        move || {
            let (requests, peak, in_flight) = (requests.clone(), peak.clone(), in_flight.clone());
            async move {
                requests.fetch_add(1, Ordering::SeqCst);
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                (
                    axum::http::StatusCode::BAD_REQUEST,
                    axum::Json(serde_json::json!({"message": "no such order"})),
                )
            }
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap()).parse().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    CountingProvider { url, requests, peak }
}

fn bot_on(provider: &CountingProvider, dir: &std::path::Path, max: usize, wait: Duration) -> Bot {
    let key = || SecretString::from("test-key");
    let inquiry = InquiryClient::new(provider.url.clone(), key(), common::fast_http()).unwrap();
    let status =
        StatusClient::new(provider.url.clone(), key(), "merchant", Currency::Xof, common::fast_http())
            .unwrap();
    Bot::new(inquiry, status, Store::open(dir).unwrap()).with_provider_calls(max, wait)
}

/// `chats` chats ask for an order at the same time; their answers.
async fn ask_at_once(bot: &Bot, chats: usize) -> Vec<String> {
    let asks: Vec<_> = (0..chats).map(|chat| tokio::spawn(ask_order(bot.clone(), chat))).collect();
    let mut answers = Vec::new();
    for ask in asks {
        answers.push(ask.await.unwrap());
    }
    answers
}

async fn ask_order(bot: Bot, chat: usize) -> String {
    ask(bot, chat, "/status 202611200811111111111".to_owned()).await
}

async fn ask(bot: Bot, chat: usize, text: String) -> String {
    let input = Input::from_text(&text);
    let incoming =
        Incoming::new(ChatKey::terminal(format!("c{chat}")), input).lang_code("en").role(Role::Customer);
    bot.handle(incoming).await.iter().map(|r| r.text.clone()).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn no_more_provider_calls_than_the_ceiling_are_in_flight_and_the_rest_wait_their_turn() {
    let provider = counting_provider(Duration::from_millis(300)).await;
    let dir = tempfile::tempdir().unwrap();
    let bot = bot_on(&provider, dir.path(), 2, Duration::from_secs(5));
    let answers = ask_at_once(&bot, 6).await;
    for answer in &answers {
        assert!(answer.contains("No order"), "every chat got the provider's answer: {answer}");
    }
    assert_eq!(provider.requests.load(Ordering::SeqCst), 6);
    assert_eq!(provider.peak.load(Ordering::SeqCst), 2, "at most 2 at once, and the ceiling was reached");
}

#[tokio::test]
async fn a_lookup_is_refused_only_when_its_wait_would_exceed_the_providers_timeout() {
    let provider = counting_provider(Duration::from_millis(400)).await;
    let dir = tempfile::tempdir().unwrap();
    // One call at a time, and a timeout of 1 s: with 400 ms a call, a lookup with two ahead of
    // it would wait 1.2 s.
    let bot = bot_on(&provider, dir.path(), 1, Duration::from_secs(1));
    assert!(ask_order(bot.clone(), 100).await.contains("No order"), "the first call times the provider");
    let answers = ask_at_once(&bot, 6).await;
    let found = answers.iter().filter(|a| a.contains("No order")).count();
    let busy =
        answers.iter().filter(|a| a.contains("not answering right now") && a.contains("try again")).count();
    assert_eq!((found, busy), (3, 3), "one in flight and two waiting are served: {answers:#?}");
    assert_eq!(provider.requests.load(Ordering::SeqCst), 1 + 3, "the refused calls never left");
}

#[tokio::test]
async fn a_burst_far_above_the_providers_capacity_gets_every_user_an_answer_and_no_refusal() {
    let config =
        SandboxConfig { capacity: Some(5), latency: Duration::from_millis(50), ..Default::default() };
    let sb = billbot::sandbox::spawn_on_loopback(config).await.unwrap();
    let (inquiry, status) = common::sandbox_clients(&sb);
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::new(inquiry, status, Store::open(dir.path()).unwrap())
        .with_provider_calls(64, Duration::from_secs(8));
    let asks: Vec<_> = (0..60)
        .map(|chat| {
            let order = format!("/status {}{chat:011}", billbot::sandbox::fixtures::orders::LOAD_PREFIX);
            tokio::spawn(ask(bot.clone(), chat, order))
        })
        .collect();
    for ask in asks {
        let answer = ask.await.unwrap();
        assert!(answer.contains("Status: ⏳ pending"), "every user got their order: {answer}");
    }
    assert!(sb.throttled_calls() > 0, "the limit started above the capacity and found it");
    assert!(sb.peak_calls() <= 5);
}
#[tokio::test]
async fn a_429_holds_back_its_own_chat_only() {
    let pacer = Pacer::new(Limits::unlimited());
    let tries = AtomicUsize::new(0);
    let started = tokio::time::Instant::now();
    let sent = pacer
        .send(ChatId(1), || {
            let n = tries.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 { Err(RequestError::RetryAfter(Seconds::from_seconds(1))) } else { Ok(n) }
            }
        })
        .await;
    assert_eq!(sent.unwrap(), 1, "sent again once the wait was over");
    assert!(started.elapsed() >= Duration::from_secs(1), "retry_after was waited out");

    // A wait longer than the cap is not waited out: the message is given up at once, and the
    // chat is held back for the cap; other chats are not.
    let tries = AtomicUsize::new(0);
    let started = tokio::time::Instant::now();
    let sent: Result<(), _> = pacer
        .send(ChatId(1), || {
            tries.fetch_add(1, Ordering::SeqCst);
            async { Err(RequestError::RetryAfter(Seconds::from_seconds(3600))) }
        })
        .await;
    assert!(matches!(sent, Err(RequestError::RetryAfter(_))));
    assert_eq!(tries.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() < Duration::from_secs(5), "an hour's wait is not waited");
    tokio::time::timeout(Duration::from_millis(500), pacer.ready(ChatId(2)))
        .await
        .expect("another chat is not held back");
    assert!(
        tokio::time::timeout(Duration::from_millis(500), pacer.ready(ChatId(1))).await.is_err(),
        "the chat Telegram asked about is held back"
    );
}
