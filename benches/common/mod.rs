//! What the benchmark binaries share: arguments and memory readings.
#![allow(dead_code)]

/// Points a bot process (billbot, or a bare bot) at the sandbox `sb`, whose calls it makes up to
/// `chats` at once: the provider takes every chat's call at once (the sandbox has no capacity
/// set), and the operator's ceiling says so. `cargo bench --bench burst` is the run against a
/// smaller one.
pub fn on_sandbox<'a>(
    command: &'a mut std::process::Command,
    sb: &billbot::sandbox::RunningSandbox,
    chats: u64,
) -> &'a mut std::process::Command {
    use billbot::sandbox;
    command
        .env("BILLBOT_INQUIRY_URL", sb.inquiry_url().as_str())
        .env("BILLBOT_INQUIRY_API_KEY", sandbox::INQUIRY_KEY)
        .env("BILLBOT_STATUS_URL", sb.status_base().as_str())
        .env("BILLBOT_STATUS_API_KEY", sandbox::STATUS_KEY)
        .env("BILLBOT_MERCHANT_ID", sandbox::MERCHANT_ID)
        .env("BILLBOT_PROVIDER_CONCURRENCY", chats.max(1).to_string())
}

/// The value after `name` on the command line, or `default`.
pub fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident memory of a process (`self` or a pid), in MiB (`VmHWM`).
pub fn peak_rss_mib(process: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// CPU time (user + system) a process has used, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> std::time::Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default().split_whitespace().collect();
    // After the name: state is field 0, utime field 11, stime field 12 (fields 14 and 15 of the line).
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    std::time::Duration::from_millis((tick(11) + tick(12)) * 10) // USER_HZ is 100 on Linux
}

/// CPU time (user + system) a process's ended and waited-for children used.
pub fn children_cpu_time(pid: u32) -> std::time::Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default().split_whitespace().collect();
    // cutime and cstime are fields 16 and 17 of the line, 13 and 14 after the name.
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    std::time::Duration::from_millis((tick(13) + tick(14)) * 10)
}

pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Awaits every chat's task of a load run: all their steps' overheads, and each chat's whole
/// flow.
pub async fn gather(
    tasks: Vec<tokio::task::JoinHandle<(Vec<std::time::Duration>, std::time::Duration)>>,
) -> (Vec<std::time::Duration>, Vec<std::time::Duration>) {
    let mut overheads = Vec::new();
    let mut chat_times = Vec::new();
    for task in tasks {
        let (steps, whole) = task.await.unwrap();
        overheads.extend(steps);
        chat_times.push(whole);
    }
    (overheads, chat_times)
}

/// What a load run measured, printed the same way by every load benchmark.
pub struct LoadRun {
    pub chats: u64,
    pub steps_per_chat: usize,
    /// How the updates reached the bot ("updates by long polling", "webhook posts").
    pub delivery: String,
    pub latency: std::time::Duration,
    pub provider_steps: u32,
    pub spread: std::time::Duration,
    pub total: std::time::Duration,
    /// Each step's overhead (sorted here).
    pub overheads: Vec<std::time::Duration>,
    /// Each chat's whole flow (sorted here).
    pub chat_times: Vec<std::time::Duration>,
    pub cpu: std::time::Duration,
    pub rss_mib: f64,
    /// Anything else worth a line.
    pub note: String,
}

impl LoadRun {
    pub fn print(mut self) {
        self.overheads.sort();
        self.chat_times.sort();
        let updates = self.overheads.len();
        let ideal = self.latency * self.provider_steps;
        let wall = (self.spread + ideal).as_secs_f64();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        println!(
            "chats: {}, steps per chat: {}, {}: {updates}",
            self.chats, self.steps_per_chat, self.delivery
        );
        println!("provider latency: {:?}, provider steps per chat: {}", self.latency, self.provider_steps);
        println!(
            "chats started over {:.1} s ({:.0} updates a second on average)",
            self.spread.as_secs_f64(),
            updates as f64 / self.total.as_secs_f64()
        );
        println!(
            "total: {:.2} s, ideal: {wall:.2} s, ratio: {:.2}x",
            self.total.as_secs_f64(),
            self.total.as_secs_f64() / wall
        );
        println!(
            "one chat's flow: p50 {:.2} s, p99 {:.2} s (ideal {:.2} s)",
            percentile(&self.chat_times, 0.50).as_secs_f64(),
            percentile(&self.chat_times, 0.99).as_secs_f64(),
            ideal.as_secs_f64()
        );
        println!(
            "per-step overhead (update sent -> reply received, minus provider latency): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(percentile(&self.overheads, 0.50)),
            ms(percentile(&self.overheads, 0.99)),
            ms(*self.overheads.last().unwrap())
        );
        println!(
            "billbot process: CPU {:.2} s ({:.0} µs per step), peak RSS {:.1} MiB{}",
            self.cpu.as_secs_f64(),
            self.cpu.as_secs_f64() * 1e6 / updates as f64,
            self.rss_mib,
            self.note
        );
    }
}

/// One step of a simulated user: what they type, or the button they press (by its label).
pub enum Step {
    Say(&'static str),
    Press(&'static str),
}

/// The Telegram and web chat benches' flow: each step, and whether it calls the provider.
pub const FLOW: [(Step, bool); 6] = [
    (Step::Say("/start"), false),
    (Step::Press("Check a bill"), false),
    (Step::Press("Senelec"), false),
    (Step::Say("1000000002"), true),
    // Each chat its own order (the sandbox answers any number under its load prefix): a thousand
    // people checking one order would all write one row.
    (Step::Say("/status {order}"), true),
    (Step::Press("Refresh"), true),
];
