//! Three `billbot serve` processes in webhook mode on one PostgreSQL database, behind a load
//! balancer that spreads Telegram's updates over them at random and sends some twice; one
//! instance is killed with SIGKILL in the middle of a round. Every update must be answered exactly
//! once, in order in each chat, and a watched order's news told once.

mod common;

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use billbot::sandbox::fixtures::orders;
use billbot::sandbox::{self, SandboxConfig};
use common::balancer::Balancer;
use common::botapi::{FakeTelegram, TOKEN};
use common::process::{Reaped, SpawnReaped};

const SECRET: &str = "lb-secret-Token_42";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The order number a chat asks about in a round: unknown to the provider, so the answer
/// ("No order GB - … was found") names it.
fn number(chat: i64, round: usize) -> String {
    format!("2026112088{chat:07}{round:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_answer_every_update_once_in_order_even_when_one_is_killed() {
    let Some(schema) = common::pg::schema("three_instances").await else { return };
    let fake = FakeTelegram::start().await;
    let sandbox = sandbox::spawn_on_loopback(SandboxConfig {
        latency: Duration::from_millis(300),
        deliver_after: Duration::from_secs(3),
        ..Default::default()
    })
    .await
    .unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let backends = ports.iter().map(|p| format!("http://127.0.0.1:{p}/tg")).collect();
    let balancer = Balancer::new(backends, 4);
    let lb_url = balancer.serve("/tg").await;
    let dir = tempfile::tempdir().unwrap();
    let start = |i: usize| -> Reaped {
        let log = std::fs::File::create(dir.path().join(format!("instance-{i}.log"))).unwrap();
        Command::new(env!("CARGO_BIN_EXE_billbot"))
            .arg("serve")
            .env("TELOXIDE_TOKEN", TOKEN)
            .env("TELOXIDE_API_URL", fake.api_url().as_str())
            .env("BILLBOT_WEBHOOK_URL", &lb_url)
            .env("BILLBOT_WEBHOOK_LISTEN", format!("127.0.0.1:{}", ports[i]))
            .env("BILLBOT_WEBHOOK_SECRET", SECRET)
            .env("BILLBOT_TELEGRAM_RATE_LIMITS", "off")
            .env("BILLBOT_DATABASE_URL", schema.url())
            .env("BILLBOT_DATABASE_POOL", "8")
            .env("BILLBOT_INSTANCES", "3")
            .env("BILLBOT_RESUME_AFTER_SECS", "2")
            .env("BILLBOT_TRACKER_MIN_INTERVAL_MS", "500")
            .env("BILLBOT_INQUIRY_URL", sandbox.inquiry_url().as_str())
            .env("BILLBOT_INQUIRY_API_KEY", sandbox::INQUIRY_KEY)
            .env("BILLBOT_STATUS_URL", sandbox.status_base().as_str())
            .env("BILLBOT_STATUS_API_KEY", sandbox::STATUS_KEY)
            .env("BILLBOT_MERCHANT_ID", sandbox::MERCHANT_ID)
            .env("BILLBOT_DATA_DIR", dir.path().join(format!("unused-{i}")))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .reaped()
    };
    let mut instances: Vec<Option<Reaped>> = (0..3).map(|i| Some(start(i))).collect();

    // A watched order, told once whatever instance checks it (and one of them dies).
    let watcher = 90_001;
    fake.user_says(watcher, "en", &format!("/status {}", orders::DELIVERED_LATER));
    fake.wait_until(watcher, "the pending order", |m| m.iter().any(|s| s.text.contains("pending"))).await;
    fake.press(watcher, "en", "Notify me");
    fake.wait_until(watcher, "the watch", |m| m.iter().any(|s| s.text.contains("I will tell you"))).await;

    let chats: Vec<i64> = (1..=12).map(|n| 70_000 + n).collect();
    let rounds = 8;
    for round in 0..rounds {
        // The round in which the instance dies, it has every chat's step in hand.
        balancer.prefer.store(if round == 3 { 0 } else { usize::MAX }, Ordering::Relaxed);
        let sends: Vec<_> = chats
            .iter()
            .map(|&chat| {
                let fake = fake.clone();
                tokio::spawn(async move {
                    let before = fake.messages_to(chat).len();
                    fake.user_says(chat, "en", &format!("/status {}", number(chat, round)));
                    fake.wait_for_messages(chat, before + 1).await;
                })
            })
            .collect();
        if round == 3 {
            // Mid-round: every step is in its 300 ms provider call.
            tokio::time::sleep(Duration::from_millis(120)).await;
            let mut victim = instances[0].take().unwrap();
            victim.kill().unwrap(); // SIGKILL
            let _ = tokio::task::spawn_blocking(move || victim.wait()).await;
        }
        for send in sends {
            send.await.unwrap();
        }
    }

    for &chat in &chats {
        let asked: Vec<String> = (0..rounds).map(|round| number(chat, round)).collect();
        let answered: Vec<String> = fake
            .messages_to(chat)
            .iter()
            .filter_map(|m| m.text.split("No order GB - ").nth(1).map(|rest| rest[..21].to_owned()))
            .collect();
        assert_eq!(answered, asked, "chat {chat}: every update answered once, in order");
        assert_eq!(fake.messages_to(chat).len(), rounds, "chat {chat}: nothing else");
    }
    fake.wait_until(watcher, "the news", |m| m.iter().any(|s| s.text.contains("News of your order"))).await;
    tokio::time::sleep(Duration::from_secs(2)).await; // any second telling would come by now
    let news = fake.messages_to(watcher).iter().filter(|m| m.text.contains("News of your order")).count();
    assert_eq!(news, 1, "the delivered order is told once");
    assert!(balancer.duplicates.load(Ordering::Relaxed) > 0, "some updates were delivered twice");
    // The survivors took up what the dead instance had taken in and not answered.
    let resumed = (1..3)
        .map(|i| std::fs::read_to_string(dir.path().join(format!("instance-{i}.log"))).unwrap())
        .filter(|log| log.contains("messages taken in earlier are being handled"))
        .count();
    assert!(resumed > 0, "no surviving instance resumed the dead one's updates");

    for mut child in instances.into_iter().flatten() {
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    }
}

/// One `serve` instance in this process: Telegram in webhook mode on its own port, on the shared
/// PostgreSQL schema.
async fn instance(
    fake: &FakeTelegram,
    schema: &common::pg::Schema,
    dir: &std::path::Path,
) -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<(), billbot::app::AppError>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/tg", listener.local_addr().unwrap());
    let sandbox = SandboxConfig { latency: Duration::from_millis(50), ..Default::default() };
    let mut settings = common::app_settings(dir, sandbox);
    let pool = billbot::store::postgres::PgSettings { max_connections: 4, ..Default::default() };
    settings.database = Some(billbot::config::DatabaseSettings { url: schema.url().into(), pool });
    settings.telegram = Some(billbot::config::TelegramSettings {
        token: TOKEN.to_owned().into(),
        api_url: Some(fake.api_url()),
        agents: Default::default(),
        webhook: Some(billbot::config::WebhookSettings {
            url: url.parse().unwrap(),
            listen: listener.local_addr().unwrap(),
            secret: Some(SECRET.to_owned().into()),
        }),
        rate_limits: false,
        poll_timeout: Duration::from_secs(1),
        instances: 3,
        resume_after: Duration::from_secs(30),
    });
    let app = billbot::app::build(settings).await.unwrap();
    let listeners = billbot::app::Listeners { telegram: Some(listener), ..Default::default() };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run(listeners, async {
        let _ = stopped.await;
    }));
    (url, stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn back_to_back_messages_reaching_different_instances_are_answered_in_order() {
    let Some(schema) = common::pg::schema("back_to_back").await else { return };
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut instances = Vec::new();
    for i in 0..3 {
        instances.push(instance(&fake, &schema, &dir.path().join(format!("unused-{i}"))).await);
    }
    let urls: Vec<String> = instances.iter().map(|(url, _, _)| url.clone()).collect();
    let per_run = 4;
    for run in 0..5 {
        // Each run, 20 new chats (a chat may check 10 orders a minute) each send their messages one
        // right after another, each acknowledged (stored) by one instance before the next goes to
        // the next instance: the turns of one chat race across all three.
        let chats: Vec<i64> = (1..=20).map(|n| 80_000 + 100 * run + n).collect();
        let sends: Vec<_> = chats
            .iter()
            .map(|&chat| {
                let (fake, urls) = (fake.clone(), urls.clone());
                tokio::spawn(async move {
                    for k in 0..per_run {
                        let text = format!("/status {}", number(chat, k));
                        let update = fake.update_user_says(chat, "en", &text);
                        let to = &urls[(chat as usize + k) % urls.len()];
                        assert_eq!(common::botapi::post_update(to, SECRET, &update).await, 200);
                    }
                })
            })
            .collect();
        for send in sends {
            send.await.unwrap();
        }
        for &chat in &chats {
            fake.wait_for_messages(chat, per_run).await;
            let asked: Vec<String> = (0..per_run).map(|k| number(chat, k)).collect();
            let texts: Vec<String> = fake.messages_to(chat).iter().map(|m| m.text.clone()).collect();
            let answered: Vec<String> = texts
                .iter()
                .filter_map(|text| text.split("No order GB - ").nth(1).map(|rest| rest[..21].to_owned()))
                .collect();
            assert_eq!(
                answered, asked,
                "run {run}, chat {chat}: each answered once, in the order sent: {texts:#?}"
            );
        }
    }
    for (_, stop, task) in instances {
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(30), task).await.unwrap().unwrap().unwrap();
    }
}

/// Two instances (two stores on one schema): a turn waiting for a chat that the other instance
/// holds is woken by the other's word that a lease ended, not only by its own next try; and it
/// takes the chat once the lease is ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_waiting_for_another_instances_chat_is_told_when_the_lease_ends() {
    let Some(schema) = common::pg::schema("lease_told").await else { return };
    let settings = billbot::store::postgres::PgSettings::default();
    let one = billbot::store::Store::connect_with(schema.options(), &settings).await.unwrap();
    let two = billbot::store::Store::connect_with(schema.options(), &settings).await.unwrap();
    let chat = billbot::domain::ChatKey::telegram(4242);
    let held = one.lock_chat(&chat).await.unwrap();
    let waiter = {
        let (two, chat) = (two.clone(), chat.clone());
        tokio::spawn(async move { two.lock_chat(&chat).await })
    };
    // A word for this chat while the lease still runs (as another deployment's, or a lease ended
    // and taken again at once): the waiter is woken, tries, and waits again.
    let pool = one.postgres().unwrap().pool().clone();
    let told = || two.postgres().unwrap().lease_ends_told();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while told() == 0 {
        assert!(std::time::Instant::now() < deadline, "the waiting turn was never told");
        sqlx::query("SELECT pg_notify('billbot_chat_free', $1)")
            .bind(chat.storage_key())
            .execute(&pool)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!waiter.is_finished(), "the chat is still held");
    one.unlock(held).await;
    let lease = waiter.await.unwrap().expect("the chat is taken once its lease ends");
    two.unlock(lease).await;
}
