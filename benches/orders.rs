//! Order lookups in a big store: N stored orders (1 million by default), then M lookups of random
//! ones through the store's port, one after another; prints the latency percentiles. Then the
//! two things that once scanned every order: `/forget` (erasing a chat that owns 3 of them, every
//! other order being another chat's) and the retention sweep.
//!
//! `cargo bench --bench orders -- [--orders N] [--lookups M] [--postgres]` (PostgreSQL: a fresh
//! schema of BILLBOT_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test; else sled
//! in a temporary directory).

#[path = "../tests/common/pg.rs"]
#[allow(dead_code)]
mod pg;

mod common;

use std::time::{Duration, Instant};

use billbot::domain::{Order, OrderNo};
use billbot::store::{Batch, Op, Store};

fn order_no(n: u64) -> OrderNo {
    OrderNo::parse(&format!("2026120600{n:011}")).unwrap()
}

/// The chat that owns order `n`: each order another chat's.
fn owner(n: u64) -> billbot::domain::ChatKey {
    format!("tg:{}", 1_000_000 + n).parse().unwrap()
}

fn sample_order(no: &OrderNo) -> Order {
    serde_json::from_value(serde_json::json!({
        "order_no": no.to_string(), "trx": no.digits(), "reference": null, "status": "succeeded",
        "provider_status": "SUCCESS", "message": "Electricity purchase of 7500 FCFA", "service_type": "electricity",
        "provider": "WOYOFAL", "recipient": "14000000001", "amount": {"amount": "7500", "currency": "XOF"},
        "fee": {"amount": "0", "currency": "XOF"}, "purchased_code": "12345678901234567890", "units": "31.4 kWh",
        "refunded": false, "created_at": "2026-11-20T08:40:00Z", "updated_at": "2026-11-20T08:40:05Z",
        "merchant": {}
    }))
    .unwrap()
}

fn main() {
    let orders = common::arg("--orders", 1_000_000);
    let lookups = common::arg("--lookups", 20_000);
    let postgres = std::env::args().any(|a| a == "--postgres");
    if postgres && std::env::var(pg::URL_VAR).is_err() {
        // Set before the runtime starts any thread.
        unsafe { std::env::set_var(pg::URL_VAR, "postgres://postgres@127.0.0.1:5432/test") };
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let schema = match postgres {
            true => Some(pg::schema("orders").await.expect("PostgreSQL")),
            false => None,
        };
        let store = match &schema {
            Some(schema) => Store::connect_with(schema.options(), &Default::default()).await.unwrap(),
            None => Store::open(dir.path()).unwrap(),
        };
        let sample = sample_order(&order_no(0));
        let started = Instant::now();
        let at = chrono::Utc::now();
        match store.postgres() {
            // Many rows a statement: loading a million orders one by one would take as long as
            // the rest of the benchmark many times over.
            Some(pg) => {
                for chunk in (0..orders).collect::<Vec<_>>().chunks(10_000) {
                    let (numbers, records): (Vec<String>, Vec<String>) = chunk
                        .iter()
                        .map(|n| {
                            let no = order_no(*n);
                            let mut order = sample.clone();
                            order.order_no = Some(no.clone());
                            let mut record = billbot::store::OrderRecord::new(order, at);
                            record.add_owner(&owner(*n));
                            let json =
                                serde_json::json!({"v": billbot::store::SCHEMA_VERSION, "data": record});
                            (no.digits().to_owned(), json.to_string())
                        })
                        .unzip();
                    sqlx::query(
                        "INSERT INTO orders (order_no, data) SELECT * FROM unnest($1::text[], $2::jsonb[])",
                    )
                    .bind(numbers)
                    .bind(records)
                    .execute(pg.pool())
                    .await
                    .unwrap();
                }
                sqlx::query("ANALYZE orders").execute(pg.pool()).await.unwrap();
            }
            None => {
                for chunk in (0..orders).collect::<Vec<_>>().chunks(10_000) {
                    let mut batch = Batch::new();
                    for n in chunk {
                        let no = order_no(*n);
                        batch.push(Op::RecordOrder {
                            order_no: no,
                            order: Box::new(sample.clone()),
                            at,
                            claimant: Some(owner(*n)),
                        });
                    }
                    store.commit(batch).await.unwrap();
                }
            }
        }
        let loaded = started.elapsed();
        // A random order each time (xorshift from the clock).
        let mut x =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
        let mut latencies = Vec::with_capacity(lookups as usize);
        for _ in 0..lookups {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let no = order_no(x % orders);
            let asked = Instant::now();
            let found = store.order(&no).await.unwrap();
            latencies.push(asked.elapsed());
            assert!(found.is_some(), "order {no} was stored");
        }
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let p = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
        println!(
            "{} orders in {} (loaded in {:.1} s); {lookups} lookups of random orders, one after another:",
            orders,
            if postgres { "PostgreSQL" } else { "sled" },
            loaded.as_secs_f64()
        );
        println!(
            "p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms; peak RSS of this process {:.1} MiB",
            ms(p(0.50)),
            ms(p(0.99)),
            ms(p(0.999)),
            ms(*latencies.last().unwrap()),
            common::peak_rss_mib("self")
        );
        // What scans every order: erasing a chat (its ownerships) and the retention sweep
        // (nothing is old enough here, so both only read).
        let chat: billbot::domain::ChatKey = "tg:424242".parse().unwrap();
        let mut owned = Batch::new();
        for n in [1, orders / 2, orders - 1] {
            owned.push(Op::OwnOrder { order_no: order_no(n), chat: chat.clone() });
        }
        store.commit(owned).await.unwrap();
        assert_eq!(store.owned(&chat).await.unwrap().len(), 3);
        let erased = Instant::now();
        store.commit(Op::ForgetChat { chat: chat.clone() }).await.unwrap();
        let erased = erased.elapsed();
        assert!(store.owned(&chat).await.unwrap().is_empty());
        let swept = Instant::now();
        let long_ago = at - chrono::Duration::days(365);
        let removed = store.sweep_expired(long_ago, long_ago).await.unwrap();
        let swept = swept.elapsed();
        assert_eq!(removed.orders, 0);
        println!(
            "/forget of a chat over {orders} orders: {:.0} ms; retention sweep: {:.0} ms",
            ms(erased),
            ms(swept)
        );
        drop(store);
        drop(schema);
    });
}
