//! Burst benchmark of the adaptive provider limit: N users look a bill up at the same instant,
//! against the sandbox answering in a fixed latency and only so many calls at once (beyond, 429).
//!
//! `cargo bench --bench burst -- [--lookups N] [--latency-ms MS] [--capacity C] [--ceiling MAX]`
//! (defaults: 2,000 lookups, 300 ms, capacity 200, ceiling 256 as `BILLBOT_PROVIDER_CONCURRENCY`'s
//! default). The bot runs in this process (the conversation core with its sled store and real
//! HTTP clients, as a channel calls it), as does the sandbox, on the same two cores.
//!
//! Printed: lookups served and refused; the wall time against the ideal (every call at the
//! provider's full capacity: ⌈N / C⌉ × latency); each user's wait for a turn (the answer's time
//! less one provider latency) against the fair share of the last in line ((⌈N / C⌉ − 1) ×
//! latency); the 429s the sandbox answered; and the limit the bot ended with (its metric).

mod common;

use std::time::{Duration, Instant};

use billbot::conversation::{Action, Bot, ChatKey, Incoming, Input, Role};
use billbot::domain::{Biller, Currency, CustomerReference};
use billbot::sandbox::fixtures::refs;
use billbot::sandbox::{self, SandboxConfig};
use billbot::store::Store;
use billbot::upstream::{HttpOptions, InquiryClient, StatusClient};
use secrecy::SecretString;

/// What one user saw.
enum Seen {
    Bill(Duration),
    Refused,
    Other(String),
}

async fn look_up(bot: Bot, user: u64) -> Seen {
    let chat = ChatKey::terminal(format!("burst-{user}"));
    let reference = CustomerReference::parse(Biller::Senelec, refs::ONE_BILL).expect("a fixture reference");
    let payload = bot.payload(&chat, &Action::Inquire(reference)).await.expect("the payload key");
    let incoming = Incoming::new(chat, Input::Button(payload)).lang_code("en").role(Role::Customer);
    let started = Instant::now();
    let text = bot.handle(incoming).await.iter().map(|r| r.text.clone()).collect::<Vec<_>>().join("\n");
    if text.contains("Amount due") || text.contains("FCFA") {
        Seen::Bill(started.elapsed())
    } else if text.contains("not answering right now") {
        Seen::Refused
    } else {
        Seen::Other(text)
    }
}

/// The value of a metric without labels in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn main() {
    let lookups = common::arg("--lookups", 2000);
    let latency = Duration::from_millis(common::arg("--latency-ms", 300));
    let capacity = common::arg("--capacity", 200) as usize;
    let ceiling = common::arg("--ceiling", billbot::conversation::PROVIDER_CALLS as u64) as usize;
    let metrics = billbot::ops::recorder().expect("the metrics recorder");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let config = SandboxConfig { latency, capacity: Some(capacity), ..Default::default() };
        let sb = sandbox::spawn_on_loopback(config).await.unwrap();
        let http = HttpOptions::default();
        let inquiry =
            InquiryClient::new(sb.inquiry_url(), SecretString::from(sandbox::INQUIRY_KEY), http.clone()).unwrap();
        let status = StatusClient::new(
            sb.status_base(),
            SecretString::from(sandbox::STATUS_KEY),
            sandbox::MERCHANT_ID,
            Currency::Xof,
            http.clone(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bot = Bot::new(inquiry, status, Store::open(dir.path()).unwrap())
            .with_provider_calls(ceiling, http.timeout);
        // Every chat's payload key is read once before the clock starts.
        bot.payload(&ChatKey::terminal("warm-up"), &Action::Menu).await.unwrap();

        let started = Instant::now();
        let users: Vec<_> = (0..lookups).map(|user| tokio::spawn(look_up(bot.clone(), user))).collect();
        let (mut waits, mut refused, mut other) = (Vec::new(), 0, Vec::new());
        for user in users {
            match user.await.unwrap() {
                Seen::Bill(took) => waits.push(took.saturating_sub(latency)),
                Seen::Refused => refused += 1,
                Seen::Other(text) => other.push(text),
            }
        }
        let wall = started.elapsed();
        waits.sort();

        let rounds = (lookups as usize).div_ceil(capacity) as u32;
        let text = metrics.render();
        let limit = metric(&text, "billbot_provider_concurrency_limit").unwrap_or(f64::NAN);
        let s = |d: Duration| d.as_secs_f64();
        println!(
            "lookups: {lookups}, provider latency: {latency:?}, provider capacity: {capacity} at once (429 beyond), ceiling: {ceiling}"
        );
        println!("served: {}, refused: {refused}, other answers: {}", waits.len(), other.len());
        println!("wall: {:.2} s (ideal at full capacity: {:.2} s)", s(wall), s(latency * rounds));
        if !waits.is_empty() {
            println!(
                "wait for a turn: p50 {:.2} s, p99 {:.2} s, max {:.2} s (fair share of the last in line: {:.2} s)",
                s(common::percentile(&waits, 0.50)),
                s(common::percentile(&waits, 0.99)),
                s(*waits.last().unwrap()),
                s(latency * (rounds - 1)),
            );
        }
        println!(
            "sandbox: {} calls answered 429, at most {} served at once; final limit: {limit}",
            sb.throttled_calls(),
            sb.peak_calls()
        );
        if let Some(text) = other.first() {
            println!("first other answer: {text}");
        }
    });
}
