//! One conversation step without provider latency, and the store's write-then-flush.
//!
//! `cargo bench --bench step`. Each step includes loading the chat's state and language from
//! sled, the step itself, storing the new state, and `flush_async` (an fsync) before replying.

use std::time::Duration;

use billbot::conversation::{Action, Bot, ChatKey, Incoming, Input};
use billbot::domain::Currency;
use billbot::sandbox::{self, SandboxConfig};
use billbot::store::{ActivityItem, Op, Store};
use billbot::upstream::{HttpOptions, InquiryClient, StatusClient};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (bot, _sandbox) = rt.block_on(async {
        let sb = sandbox::spawn_on_loopback(SandboxConfig::default()).await.unwrap();
        let http = HttpOptions::default();
        let inquiry =
            InquiryClient::new(sb.inquiry_url(), sandbox::INQUIRY_KEY.to_owned().into(), http.clone())
                .unwrap();
        let status = StatusClient::new(
            sb.status_base(),
            sandbox::STATUS_KEY.to_owned().into(),
            sandbox::MERCHANT_ID,
            Currency::Xof,
            http,
        )
        .unwrap();
        (Bot::new(inquiry, status, Store::open(dir.path()).unwrap()), sb)
    });
    let incoming = |text: &str| Incoming::new(ChatKey::terminal(1), Input::from_text(text)).lang_code("fr");

    let mut group = c.benchmark_group("step");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("help (no provider call)", |b| {
        b.to_async(&rt).iter(|| bot.handle(incoming("/help")));
    });
    rt.block_on(bot.handle(incoming("/bill")));
    rt.block_on(bot.handle(Incoming { input: Input::Button("v1:b:woyofal".into()), ..incoming("") }));
    group.bench_function("rejected reference (no provider call)", |b| {
        b.to_async(&rt).iter(|| bot.handle(incoming("12AB")));
    });
    // The "check again" button as the bot signs it for this chat.
    let reference =
        billbot::domain::CustomerReference::parse(billbot::domain::Biller::Senelec, "1000000002").unwrap();
    let inquire = rt.block_on(bot.payload(&ChatKey::terminal(1), &Action::Inquire(reference))).unwrap();
    group.bench_function("senelec inquiry on the loopback sandbox", |b| {
        b.to_async(&rt)
            .iter(|| bot.handle(Incoming { input: Input::Button(inquire.clone()), ..incoming("") }));
    });
    group.finish();

    let store = bot.store().clone();
    let mut group = c.benchmark_group("store");
    group.bench_function("activity write + flush", |b| {
        let mut n = 0u64;
        b.to_async(&rt).iter(|| {
            n += 1;
            let item = ActivityItem::Lookup {
                biller: billbot::domain::Biller::Senelec,
                reference: format!("{:010}", n % 40),
            };
            let op = Op::Activity { chat: ChatKey::terminal("store"), item, at: chrono::Utc::now() };
            let store = store.clone();
            async move { store.commit(op).await }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
