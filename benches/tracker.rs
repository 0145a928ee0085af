//! The order tracker under load: N watched orders (default 10,000) that stay pending, checked
//! against the sandbox over loopback for a while (default 120 s, real time), with the default
//! tracker settings (20 s minimum interval, backoff to 10 minutes, 20 calls a second overall).
//!
//! `cargo bench --bench tracker -- [--orders N] [--seconds S]`
//!
//! Reports provider calls per 10-second window and per minute, the largest number of calls any
//! one order got in a minute, the time to register the watches, and the process's peak RSS (the
//! tracker, its sled store and the sandbox).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use billbot::domain::{Currency, OrderNo};
use billbot::i18n::Lang;
use billbot::sandbox::{self, SandboxConfig, fixtures};
use billbot::store::Store;
use billbot::tracking::{Tracker, TrackerConfig};
use billbot::upstream::{HttpOptions, StatusClient};

fn main() {
    let orders = common::arg("--orders", 10_000) as usize;
    let seconds = common::arg("--seconds", 120);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let sb = sandbox::spawn_on_loopback(SandboxConfig::default()).await.unwrap();
        let status = StatusClient::new(
            sb.status_base(),
            sandbox::STATUS_KEY.to_owned().into(),
            sandbox::MERCHANT_ID,
            Currency::Xof,
            HttpOptions::default(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let tracker = Arc::new(Tracker::new(status.clone(), store.clone(), TrackerConfig::default()));
        let numbers: Vec<OrderNo> = (0..orders)
            .map(|i| OrderNo::parse(&format!("{}{i:011}", fixtures::orders::LOAD_PREFIX)).unwrap())
            .collect();
        let pending = status.status(&numbers[0]).await.unwrap();
        let started = Instant::now();
        for (i, order) in numbers.iter().enumerate() {
            tracker
                .watch(order, &pending, &billbot::domain::ChatKey::telegram(i as i64), Lang::Fr)
                .await
                .unwrap();
        }
        let registering = started.elapsed();
        let calls_at_start = sb.status_calls();

        // Count calls per order through the store's view of checks.
        let per_minute_max = Arc::new(Mutex::new(0u32));
        let run = tokio::spawn(tracker.clone().run(std::future::pending()));
        let mut windows = Vec::new();
        let mut last = sb.status_calls();
        let mut checks_before: HashMap<OrderNo, u32> = HashMap::new();
        let begin = Instant::now();
        let mut minute_mark = Instant::now();
        while begin.elapsed() < Duration::from_secs(seconds) {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let now = sb.status_calls();
            windows.push(now - last);
            last = now;
            if minute_mark.elapsed() >= Duration::from_secs(60) {
                let mut max = 0;
                for order in &numbers {
                    let checks = store.watch(order).await.unwrap().map(|w| w.checks).unwrap_or(0);
                    let before = checks_before.insert(order.clone(), checks).unwrap_or(0);
                    max = max.max(checks - before);
                }
                let mut m = per_minute_max.lock().unwrap();
                *m = (*m).max(max);
                minute_mark = Instant::now();
            }
        }
        run.abort();
        let total = sb.status_calls() - calls_at_start;
        let minutes = begin.elapsed().as_secs_f64() / 60.0;
        println!("watched orders: {orders}, run: {seconds} s");
        println!("registering {orders} watches: {:.2} s", registering.as_secs_f64());
        println!("provider calls per 10 s window: {windows:?}");
        println!("provider calls per minute: {:.0} (total {total})", total as f64 / minutes);
        println!("most calls one order got in a minute: {}", per_minute_max.lock().unwrap());
        println!("peak RSS (tracker, store, sandbox): {:.1} MiB", common::peak_rss_mib("self"));
    });
}
