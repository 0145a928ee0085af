//! Load benchmark of the Telegram front-end: N simulated chats, each running the full bill flow
//! and two order checks through the real `billbot serve` process (its dispatcher, store and
//! clients), against a Bot API server on loopback and the sandbox with a fixed provider latency.
//!
//! `cargo bench --bench load -- [--chats N] [--latency-ms MS] [--spread-ms MS] [--webhook]`
//! (defaults: 1000 chats, 300 ms, all chats starting at once, long polling). `--spread-ms` starts
//! the chats evenly over that window instead: a steady arrival rate rather than one burst.
//!
//! Each chat runs 6 steps: /start, "Check a bill", "Senelec", a reference (inquiry), /status of a
//! pending order (status call), "Refresh" (status call). Three steps call the provider, so the
//! ideal total, were billbot free, is 3 x latency: every chat's steps run one after another and
//! all chats start at once. Per-update overhead is the time from an update being queued at the
//! Bot API to the bot's reply arriving there, minus the provider latency for steps that call it.
//! The bot runs as its own process, so its peak RSS and CPU time are its own; the Bot API server,
//! the sandbox and the simulated users run in this process, on the same two cores.
//! Telegram's rate limits are off (`BILLBOT_TELEGRAM_RATE_LIMITS=off`, as for a local Bot API
//! server): with Telegram's 30 messages a second, 6,000 replies take 200 s whatever the bot does.

#[path = "../tests/common/botapi.rs"]
mod botapi;

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use billbot::sandbox::{self, SandboxConfig};
use botapi::FakeTelegram;

/// One step: what the user does, and whether it calls the provider.
enum Step {
    Say(&'static str),
    Press(&'static str),
}

const FLOW: [(Step, bool); 6] = [
    (Step::Say("/start"), false),
    (Step::Press("Check a bill"), false),
    (Step::Press("Senelec"), false),
    (Step::Say("1000000002"), true),
    (Step::Say("/status 202611200800000000001"), true),
    (Step::Press("Refresh"), true),
];

/// Runs the flow in one chat: each step's overhead, and the chat's whole time.
async fn run_chat(fake: FakeTelegram, chat: i64, latency: Duration) -> (Vec<Duration>, Duration) {
    let mut overheads = Vec::with_capacity(FLOW.len());
    let chat_started = Instant::now();
    for (step, calls_provider) in &FLOW {
        let before = fake.count_to(chat);
        let started = Instant::now();
        match step {
            Step::Say(text) => fake.user_says(chat, "en", text),
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

fn main() {
    let chats = common::arg("--chats", 1000) as i64;
    let latency = Duration::from_millis(common::arg("--latency-ms", 300));
    let spread = Duration::from_millis(common::arg("--spread-ms", 0));
    // `--webhook`: the Bot API server POSTs updates to billbot's webhook instead of long polling.
    let webhook = std::env::args().any(|a| a == "--webhook").then(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        (format!("http://127.0.0.1:{port}/"), format!("127.0.0.1:{port}"))
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let fake = FakeTelegram::start().await;
        let sb = sandbox::spawn_on_loopback(SandboxConfig { latency, ..Default::default() }).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut bot = Command::new(env!("CARGO_BIN_EXE_billbot"))
            .arg("serve")
            .env("TELOXIDE_TOKEN", botapi::TOKEN)
            .env("TELOXIDE_API_URL", fake.api_url().as_str())
            .env("BILLBOT_DATA_DIR", dir.path())
            .env("BILLBOT_INQUIRY_URL", sb.inquiry_url().as_str())
            .env("BILLBOT_INQUIRY_API_KEY", sandbox::INQUIRY_KEY)
            .env("BILLBOT_STATUS_URL", sb.status_base().as_str())
            .env("BILLBOT_STATUS_API_KEY", sandbox::STATUS_KEY)
            .env("BILLBOT_MERCHANT_ID", sandbox::MERCHANT_ID)
            .env("BILLBOT_TELEGRAM_RATE_LIMITS", "off")
            .envs(webhook.iter().flat_map(|(url, listen)| {
                [
                    ("BILLBOT_WEBHOOK_URL", url.clone()),
                    ("BILLBOT_WEBHOOK_LISTEN", listen.clone()),
                    ("BILLBOT_WEBHOOK_SECRET", "load-bench-secret".to_owned()),
                ]
            }))
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = bot.id();
        // Warm up: one chat through the whole flow (start-up, connections, command registration).
        run_chat(fake.clone(), 1, latency).await;
        let cpu_before = common::cpu_time(pid);

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
        let mut overheads = Vec::new();
        let mut chat_times = Vec::new();
        for task in tasks {
            let (steps, whole) = task.await.unwrap();
            overheads.extend(steps);
            chat_times.push(whole);
        }
        let total = started.elapsed();
        common::LoadRun {
            chats: chats as u64,
            steps_per_chat: FLOW.len(),
            delivery: format!("updates by {}", if webhook.is_some() { "webhook" } else { "long polling" }),
            latency,
            provider_steps: FLOW.iter().filter(|(_, p)| *p).count() as u32,
            spread,
            total,
            overheads,
            chat_times,
            cpu: common::cpu_time(pid).saturating_sub(cpu_before),
            rss_mib: common::peak_rss_mib(&pid.to_string()),
            note: String::new(),
        }
        .print();
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let _ = bot.wait();
    });
}
