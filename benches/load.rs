//! Load benchmark of the Telegram front-end: N simulated chats, each running the full bill flow
//! and two order checks through the real `billbot serve` process (its dispatcher, store and
//! clients), against a Bot API server on loopback and the sandbox with a fixed provider latency.
//!
//! `cargo bench --bench load -- [--chats N] [--latency-ms MS] [--spread-ms MS] [--webhook]
//! [--postgres] [--instances N] [--bare]` (defaults: 1000 chats, 300 ms, all chats starting at once, long
//! polling, one instance on sled). With `--instances N` the N instances run in webhook mode behind
//! a load balancer that spreads updates at random, on one PostgreSQL store. `--spread-ms` starts
//! the chats evenly over that window instead: a steady arrival rate rather than one burst.
//!
//! Each chat runs 6 steps: /start, "Check a bill", "Senelec", a reference (inquiry), /status of a
//! pending order of its own (status call), "Refresh" (status call). Three steps call the provider, so the
//! ideal total, were billbot free, is 3 x latency: every chat's steps run one after another and
//! all chats start at once. Per-update overhead is the time from an update being queued at the
//! Bot API to the bot's reply arriving there, minus the provider latency for steps that call it.
//! The bot runs as its own process, so its peak RSS and CPU time are its own; the Bot API server,
//! the sandbox and the simulated users run in this process, on the same two cores.
//! `--bare` runs the same load against a bare teloxide bot (`common/bare_bot.rs`) instead: the
//! yardstick for billbot's CPU per step. With `--postgres`, the PostgreSQL server's CPU during the
//! run (all its processes, from `/proc`) is printed too.
//! The provider's ceiling (`BILLBOT_PROVIDER_CONCURRENCY`) is set to the number of chats: the
//! sandbox takes every call at once, so the run measures billbot, not a queue in front of it.
//! Telegram's rate limits are off (`BILLBOT_TELEGRAM_RATE_LIMITS=off`, as for a local Bot API
//! server): with Telegram's 30 messages a second, 6,000 replies take 200 s whatever the bot does.

#[path = "../tests/common/balancer.rs"]
mod balancer;
#[path = "../tests/common/botapi.rs"]
mod botapi;
#[path = "../tests/common/pg.rs"]
#[allow(dead_code)]
mod pg;

#[path = "common/bare_bot.rs"]
mod bare_bot;
#[path = "common/bare_provider.rs"]
mod bare_provider;
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use billbot::sandbox::{self, SandboxConfig};
use botapi::FakeTelegram;
use common::{FLOW, Step};

/// Runs the flow in one chat: each step's overhead, and the chat's whole time.
async fn run_chat(fake: FakeTelegram, chat: i64, latency: Duration) -> (Vec<Duration>, Duration) {
    let mut overheads = Vec::with_capacity(FLOW.len());
    let chat_started = Instant::now();
    for (step, calls_provider) in &FLOW {
        let before = fake.count_to(chat);
        let started = Instant::now();
        match step {
            Step::Say(text) => {
                let order = format!("{}{chat:011}", billbot::sandbox::fixtures::orders::LOAD_PREFIX);
                fake.user_says(chat, "en", &text.replace("{order}", &order))
            }
            Step::Press(label) => {
                fake.press(chat, "en", label);
            }
        }
        fake.wait_for_messages(chat, before + 1).await;
        let elapsed = started.elapsed();
        overheads.push(if *calls_provider { elapsed.saturating_sub(latency) } else { elapsed });
    }
    (overheads, chat_started.elapsed())
}

/// The commit latency the instances' `/metrics` report: (mean, p99 from the histogram's
/// buckets), in milliseconds.
async fn commit_latency(metrics_ports: &[u16]) -> (f64, f64) {
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    let (mut sum, mut count) = (0.0, 0.0);
    for port in metrics_ports {
        let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await else { continue };
        let text = response.text().await.unwrap_or_default();
        for line in text.lines().filter(|l| l.starts_with("billbot_store_commit_seconds")) {
            let value: f64 = line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
            if line.starts_with("billbot_store_commit_seconds_sum") {
                sum += value;
            } else if line.starts_with("billbot_store_commit_seconds_count") {
                count += value;
            } else if let Some(le) = line.split("le=\"").nth(1).and_then(|r| r.split('"').next()) {
                let le: f64 = le.parse().unwrap_or(f64::INFINITY);
                match buckets.iter_mut().find(|(b, _)| *b == le) {
                    Some((_, n)) => *n += value,
                    None => buckets.push((le, value)),
                }
            }
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let p99 = buckets.iter().find(|(_, n)| *n >= count * 0.99).map_or(f64::NAN, |(le, _)| *le);
    (if count > 0.0 { sum / count * 1e3 } else { f64::NAN }, p99 * 1e3)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// CPU time of the PostgreSQL server: every `postgres` process, with what its ended children
/// used (the postmaster's count holds the backends that exited).
fn postgres_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Duration::ZERO };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| common::cpu_time(pid) + common::children_cpu_time(pid))
        .sum()
}

/// Transactions committed in the database so far (every statement outside a transaction is one),
/// from `pg_stat_database` (its counts lag by up to half a second: read after a pause).
async fn transactions(schema: &pg::Schema) -> i64 {
    tokio::time::sleep(Duration::from_millis(700)).await;
    let Ok(mut conn) = sqlx::ConnectOptions::connect(&schema.options()).await else { return 0 };
    sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        .fetch_one(&mut conn)
        .await
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--as-bare-bot") {
        return bare_bot::run();
    }
    let bare = std::env::args().any(|a| a == "--bare");
    let chats = common::arg("--chats", 1000) as i64;
    let latency = Duration::from_millis(common::arg("--latency-ms", 300));
    let spread = Duration::from_millis(common::arg("--spread-ms", 0));
    // `--instances N`: N serve processes behind a load balancer, in webhook mode (N > 1 needs
    // `--postgres`). `--webhook`: webhook mode with one instance. `--postgres`: the store in a
    // fresh schema of BILLBOT_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
    let instances = common::arg("--instances", 1).max(1) as usize;
    let postgres = std::env::args().any(|a| a == "--postgres");
    let webhook = instances > 1 || std::env::args().any(|a| a == "--webhook");
    assert!(instances == 1 || postgres, "several instances share a PostgreSQL store: add --postgres");
    assert!(!bare || (instances == 1 && !postgres && !webhook), "the bare bot runs alone, by long polling");
    if postgres && std::env::var(pg::URL_VAR).is_err() {
        // SAFETY of the environment: set before any thread of this process reads it.
        unsafe { std::env::set_var(pg::URL_VAR, "postgres://postgres@127.0.0.1:5432/test") };
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let schema = match postgres {
            true => Some(pg::schema("load").await.expect("PostgreSQL")),
            false => None,
        };
        let fake = FakeTelegram::start().await;
        let sb = sandbox::spawn_on_loopback(SandboxConfig { latency, ..Default::default() }).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..instances).map(|_| free_port()).collect();
        let metrics_ports: Vec<u16> = (0..instances).map(|_| free_port()).collect();
        let webhook_url = match (webhook, instances) {
            (false, _) => None,
            (true, 1) => Some(format!("http://127.0.0.1:{}/", ports[0])),
            (true, _) => {
                let backends = ports.iter().map(|p| format!("http://127.0.0.1:{p}/")).collect();
                Some(balancer::Balancer::new(backends, 0).serve("/").await)
            }
        };
        let mut bots: Vec<_> = (0..instances)
            .map(|i| {
                let mut command = match bare {
                    false => Command::new(env!("CARGO_BIN_EXE_billbot")),
                    true => Command::new(std::env::current_exe().expect("the benchmark's own binary")),
                };
                common::on_sandbox(&mut command, &sb, chats as u64)
                    .arg(if bare { "--as-bare-bot" } else { "serve" })
                    .env("TELOXIDE_TOKEN", botapi::TOKEN)
                    .env("TELOXIDE_API_URL", fake.api_url().as_str())
                    .env("BILLBOT_DATA_DIR", dir.path().join(format!("instance-{i}")))
                    .env("BILLBOT_TELEGRAM_RATE_LIMITS", "off")
                    .env("BILLBOT_METRICS_LISTEN", format!("127.0.0.1:{}", metrics_ports[i]))
                    .env("RUST_LOG", "error")
                    .stdin(Stdio::null());
                if let Some(url) = &webhook_url {
                    command
                        .env("BILLBOT_WEBHOOK_URL", url)
                        .env("BILLBOT_WEBHOOK_LISTEN", format!("127.0.0.1:{}", ports[i]))
                        .env("BILLBOT_WEBHOOK_SECRET", "load-bench-secret");
                }
                if let Some(schema) = &schema {
                    command.env("BILLBOT_DATABASE_URL", schema.url()).env("BILLBOT_INSTANCES", instances.to_string());
                }
                command.spawn().unwrap()
            })
            .collect();
        let pids: Vec<u32> = bots.iter().map(|b| b.id()).collect();
        // Warm up: one chat through the whole flow (start-up, connections, command registration).
        run_chat(fake.clone(), 1, latency).await;
        let cpu_before: Duration = pids.iter().map(|p| common::cpu_time(*p)).sum();
        let (commit_mean_before, _) = commit_latency(&metrics_ports).await;
        let transactions_before = match &schema {
            Some(schema) => transactions(schema).await,
            None => 0,
        };
        let pg_cpu_before = postgres_cpu();
        let calls_before = fake.call_counts();
        let provider_before = sb.inquiry_calls() + sb.status_calls();

        let started = Instant::now();
        let tasks: Vec<_> = (0..chats)
            .map(|i| {
                let fake = fake.clone();
                let start_at = started + spread.mul_f64(i as f64 / chats as f64);
                tokio::spawn(async move {
                    tokio::time::sleep_until(start_at.into()).await;
                    run_chat(fake, 10_000 + i, latency).await
                })
            })
            .collect();
        let (overheads, chat_times) = common::gather(tasks).await;
        let total = started.elapsed();
        let pg_cpu = postgres_cpu().saturating_sub(pg_cpu_before);
        let steps = overheads.len() as f64;
        let transactions = match &schema {
            Some(schema) => transactions(schema).await - transactions_before,
            None => 0,
        };
        let (commit_mean, commit_p99) = commit_latency(&metrics_ports).await;
        // What the bot asked of the Bot API a step, beyond its long polling: each call is a
        // request built, sent and answered, so the bare bot and billbot are compared call for call.
        let calls: Vec<String> = fake
            .call_counts()
            .into_iter()
            .filter(|(method, _)| method != "getupdates")
            .map(|(method, n)| (method.clone(), n - calls_before.get(&method).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .map(|(method, n)| format!("{method} {:.2}", n as f64 / steps))
            .collect();
        let provider_calls = (sb.inquiry_calls() + sb.status_calls() - provider_before) as f64 / steps;
        let rss: Vec<f64> = pids.iter().map(|p| common::peak_rss_mib(&p.to_string())).collect();
        let store = match (bare, postgres) {
            (true, _) => "nothing (the bare teloxide bot)",
            (false, true) => "PostgreSQL",
            (false, false) => "sled",
        };
        common::LoadRun {
            chats: chats as u64,
            steps_per_chat: FLOW.len(),
            delivery: format!(
                "updates by {} to {instances} instance(s) on {store}",
                if webhook { "webhook" } else { "long polling" }
            ),
            latency,
            provider_steps: FLOW.iter().filter(|(_, p)| *p).count() as u32,
            spread,
            total,
            overheads,
            chat_times,
            cpu: pids.iter().map(|p| common::cpu_time(*p)).sum::<Duration>().saturating_sub(cpu_before),
            rss_mib: rss.iter().cloned().fold(0.0, f64::max),
            note: format!(
                " (the largest of {instances}; all together {:.1} MiB); store commit: mean {commit_mean:.2} ms (warm-up {commit_mean_before:.2} ms), p99 <= {commit_p99:.0} ms",
                rss.iter().sum::<f64>()
            ) + &format!(
                "\nBot API calls per step: {}; provider calls per step: {provider_calls:.2}",
                calls.join(", ")
            )
                + &match postgres {
                true => format!(
                    "\nPostgreSQL server: CPU {:.2} s ({:.0} µs per step), {:.1} transactions per step",
                    pg_cpu.as_secs_f64(),
                    pg_cpu.as_secs_f64() * 1e6 / steps,
                    transactions as f64 / steps
                ),
                false => String::new(),
            },
        }
        .print();
        for pid in &pids {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        }
        for bot in &mut bots {
            let _ = bot.wait();
        }
        drop(schema);
    });
}
