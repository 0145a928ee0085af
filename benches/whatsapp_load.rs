//! Load benchmark of the WhatsApp channel: N simulated users, each running the bill flow and two
//! order checks through the real `billbot serve` process (webhook, inbox, queues, core, store,
//! Graph API client), against the loopback Graph API server (`tests/common/graphapi.rs`, which
//! signs the webhooks it posts and checks every message against WhatsApp's rules) and the
//! sandbox with a fixed provider latency.
//!
//! `cargo bench --bench whatsapp_load -- [--chats N] [--latency-ms MS] [--spread-ms MS]`
//! (defaults: 1000 chats, 300 ms, all starting at once).
//!
//! Each user (a `+221` number, so French) runs 7 steps: "Bonjour" (first contact: the bilingual
//! greeting), "Français", "Consulter une facture", "Senelec", a reference (inquiry), "statut"
//! of a pending order (status call), "Actualiser" (status call). Three steps call the provider,
//! so the ideal total is 3 x latency (plus the spread). Per-step overhead runs from the webhook
//! POST leaving the Graph server to the reply arriving there, minus the provider latency where
//! the step calls it. WhatsApp's own pacing (80 messages a second per number, about one every
//! 6 s per user) is lifted, as a local Graph server allows: at 80 a second, 8,000 replies take
//! 100 s whatever the bot does.

#[path = "../tests/common/graphapi.rs"]
mod graphapi;

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use billbot::sandbox::{self, SandboxConfig};
use common::Step;
use graphapi::{FakeWhatsApp, WaUser};

const FLOW: [(Step, bool); 7] = [
    (Step::Say("Bonjour"), false),
    (Step::Press("Français"), false),
    (Step::Press("Consulter une facture"), false),
    (Step::Press("Senelec"), false),
    (Step::Say("1000000002"), true),
    (Step::Say("statut 202611200800000000001"), true),
    (Step::Press("Actualiser"), true),
];

async fn run_chat(fake: FakeWhatsApp, user: WaUser, latency: Duration) -> (Vec<Duration>, Duration) {
    let key = user.key();
    let mut overheads = Vec::with_capacity(FLOW.len());
    let chat_started = Instant::now();
    for (step, calls_provider) in &FLOW {
        let before = fake.messages_to(&key).len();
        let started = Instant::now();
        match step {
            Step::Say(text) => {
                fake.user_says(&user, text).await;
            }
            Step::Press(label) => {
                fake.press(&user, label).await;
            }
        }
        fake.wait_for_messages(&key, before + 1).await;
        let elapsed = started.elapsed();
        overheads.push(if *calls_provider { elapsed.saturating_sub(latency) } else { elapsed });
    }
    (overheads, chat_started.elapsed())
}

fn main() {
    let chats = common::arg("--chats", 1000);
    let latency = Duration::from_millis(common::arg("--latency-ms", 300));
    let spread = Duration::from_millis(common::arg("--spread-ms", 0));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let fake = FakeWhatsApp::start().await;
        let sb = sandbox::spawn_on_loopback(SandboxConfig { latency, ..Default::default() }).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        fake.set_webhook(&format!("http://127.0.0.1:{port}/whatsapp/webhook"));
        let mut bot = common::on_sandbox(&mut Command::new(env!("CARGO_BIN_EXE_billbot")), &sb, chats)
            .arg("serve")
            .env_remove("TELOXIDE_TOKEN")
            .env("BILLBOT_WHATSAPP_TOKEN", graphapi::TOKEN)
            .env("BILLBOT_WHATSAPP_PHONE_NUMBER_ID", graphapi::PHONE_NUMBER_ID)
            .env("BILLBOT_WHATSAPP_APP_SECRET", graphapi::APP_SECRET)
            .env("BILLBOT_WHATSAPP_VERIFY_TOKEN", graphapi::VERIFY_TOKEN)
            .env("BILLBOT_WHATSAPP_API_URL", fake.api_url().as_str())
            .env("BILLBOT_WHATSAPP_LISTEN", format!("127.0.0.1:{port}"))
            .env("BILLBOT_WHATSAPP_MESSAGES_PER_SEC", "1000000")
            .env("BILLBOT_WHATSAPP_USER_BURST", "1000")
            .env("BILLBOT_DATA_DIR", dir.path())
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = bot.id();
        // Warm up: one user through the whole flow (start-up, connections).
        run_chat(fake.clone(), WaUser::phone("221700000000"), latency).await;
        let cpu_before = common::cpu_time(pid);

        let started = Instant::now();
        let tasks: Vec<_> = (0..chats)
            .map(|i| {
                let fake = fake.clone();
                let start_at = started + spread.mul_f64(i as f64 / chats as f64);
                tokio::spawn(async move {
                    tokio::time::sleep_until(start_at.into()).await;
                    run_chat(fake, WaUser::phone(&format!("22177{i:07}")), latency).await
                })
            })
            .collect();
        let (overheads, chat_times) = common::gather(tasks).await;
        let total = started.elapsed();
        common::LoadRun {
            chats,
            steps_per_chat: FLOW.len(),
            delivery: "webhook posts".to_owned(),
            latency,
            provider_steps: FLOW.iter().filter(|(_, p)| *p).count() as u32,
            spread,
            total,
            overheads,
            chat_times,
            cpu: common::cpu_time(pid).saturating_sub(cpu_before),
            rss_mib: common::peak_rss_mib(&pid.to_string()),
            note: format!("; messages WhatsApp refused: {}", fake.rejected().len()),
        }
        .print();
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let _ = bot.wait();
    });
}
