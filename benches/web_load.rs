//! Load benchmark of the web chat: N pages at once, each running the bill flow and two order
//! checks through the real `billbot serve` process (its listener, intake, store and clients)
//! over HTTP, against the sandbox with a fixed provider latency.
//!
//! `cargo bench --bench web_load -- [--chats N] [--latency-ms MS] [--bare]` (defaults: 1000
//! pages, 300 ms, all starting at once, sled).
//!
//! Each page opens a session and its events stream, then takes 6 steps: "/start", "Check a bill",
//! "Senelec", a reference (inquiry), "/status" of an order of its own (status call), "Refresh"
//! (status call). Three call the provider, so the ideal total is 3 x latency. A step's overhead is
//! from the POST being sent to the bot's answer arriving on the stream, minus the provider latency
//! for steps that call it. The bot runs as its own process (its CPU and peak RSS are its own);
//! the pages and the sandbox run in this process, on the same two cores.
//!
//! `--bare` runs the same load against a bare web chat (`common/bare_web.rs`) instead: the same
//! protocol, steps, buttons and provider calls, nothing kept. It is what the harness allows on
//! this machine; billbot's cost is measured against it.

#[path = "../tests/common/webclient.rs"]
#[allow(dead_code)]
mod webclient;

#[path = "common/bare_provider.rs"]
mod bare_provider;
#[path = "common/bare_web.rs"]
mod bare_web;
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use billbot::sandbox::{self, SandboxConfig};
use common::{FLOW, Step};
use webclient::Page;

/// Runs the flow on one page: each step's overhead, and the page's whole time.
async fn run_page(base: String, n: i64, latency: Duration) -> (Vec<Duration>, Duration) {
    let mut page = Page::open(&base).await;
    assert_eq!(page.connect().await, 200, "the events stream opens");
    let mut overheads = Vec::with_capacity(FLOW.len());
    let started = Instant::now();
    let mut last_bot: Option<webclient::Seen> = None;
    for (step, calls_provider) in &FLOW {
        let sent = Instant::now();
        let status = match step {
            Step::Say(text) => {
                let order = format!("{}{n:011}", billbot::sandbox::fixtures::orders::LOAD_PREFIX);
                page.say(&text.replace("{order}", &order), "en").await
            }
            Step::Press(label) => {
                let payload = last_bot
                    .as_ref()
                    .and_then(|l| l.payload(label))
                    .unwrap_or_else(|| panic!("no {label:?} button"));
                page.press(&payload, label, "en").await
            }
        };
        assert_eq!(status, 202);
        // The step's answer: the bot's lines after the user's own; the last one has its buttons.
        loop {
            let line = page.next(Duration::from_secs(60)).await.expect("an answer");
            if line.is_bot() {
                let has_buttons = line.line["buttons"].as_array().is_some_and(|b| !b.is_empty());
                last_bot = Some(line);
                if has_buttons {
                    break;
                }
            }
        }
        let elapsed = sent.elapsed();
        overheads.push(if *calls_provider { elapsed.saturating_sub(latency) } else { elapsed });
    }
    (overheads, started.elapsed())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn main() {
    if std::env::args().any(|a| a == "--as-bare-web") {
        return bare_web::run();
    }
    let bare = std::env::args().any(|a| a == "--bare");
    let chats = common::arg("--chats", 1000) as i64;
    let latency = Duration::from_millis(common::arg("--latency-ms", 300));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let sb = sandbox::spawn_on_loopback(SandboxConfig { latency, ..Default::default() }).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut command = match bare {
            false => Command::new(env!("CARGO_BIN_EXE_billbot")),
            true => Command::new(std::env::current_exe().expect("the benchmark's own binary")),
        };
        let mut bot = common::on_sandbox(&mut command, &sb, chats as u64)
            .arg(if bare { "--as-bare-web" } else { "serve" })
            .env("BILLBOT_DATA_DIR", dir.path())
            .env("BILLBOT_WEBCHAT_LISTEN", format!("127.0.0.1:{port}"))
            .env("BILLBOT_WEBCHAT_SECRET", "the load bench's web chat secret, 32+ bytes")
            // Every page comes from this one address: the per-client cap would refuse them.
            .env("BILLBOT_MAX_CONNECTIONS_PER_CLIENT", (4 * chats).max(64).to_string())
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = bot.id();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if reqwest::get(format!("{base}/")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Warm up: one page through the whole flow.
        run_page(base.clone(), 1, latency).await;
        let cpu_before = common::cpu_time(pid);
        let harness_before = common::cpu_time(std::process::id());
        let started = Instant::now();
        let tasks: Vec<_> =
            (0..chats).map(|i| tokio::spawn(run_page(base.clone(), 10_000 + i, latency))).collect();
        let (overheads, chat_times) = common::gather(tasks).await;
        let total = started.elapsed();
        common::LoadRun {
            chats: chats as u64,
            steps_per_chat: FLOW.len(),
            delivery: match bare {
                false => "web chat pages (SSE + POST) to 1 instance on sled",
                true => "web chat pages (SSE + POST) to the bare web chat, nothing kept",
            }
            .to_owned(),
            latency,
            provider_steps: FLOW.iter().filter(|(_, p)| *p).count() as u32,
            spread: Duration::ZERO,
            total,
            overheads,
            chat_times,
            cpu: common::cpu_time(pid).saturating_sub(cpu_before),
            rss_mib: common::peak_rss_mib(&pid.to_string()),
            // What the pages and the sandbox took of the same two cores.
            note: format!(
                "; harness (pages and sandbox, this process): CPU {:.2} s",
                common::cpu_time(std::process::id()).saturating_sub(harness_before).as_secs_f64()
            ),
        }
        .print();
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let _ = bot.wait();
    });
}
