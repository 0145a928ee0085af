//! Health, readiness and Prometheus metrics on the operations listener, through real HTTP.

mod common;

use billbot::app::{self, Listeners};
use billbot::conversation::{ChatKey, Incoming, Input};
use billbot::sandbox::fixtures::refs;

/// The app with only its operations listener, and that listener's base URL.
async fn start(
    settings: app::Settings,
) -> (billbot::conversation::Bot, billbot::store::Store, String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // As `Listeners::bind` does for BILLBOT_METRICS_LISTEN: counted from the first message.
    billbot::ops::recorder().expect("the metrics recorder installs");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = app::build(settings).await.unwrap();
    let (bot, store) = (app.bot.clone(), app.store.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run(Listeners { ops: Some(listener), ..Default::default() }, async {
        let _ = stopped.await;
    }));
    (bot, store, base, stop)
}

#[tokio::test]
async fn health_readiness_and_metrics_answer_and_metrics_count_steps_provider_calls_and_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (bot, _store, base, _stop) = start(common::app_settings(dir.path(), Default::default())).await;
    let chat = ChatKey::terminal("ops");
    for text in ["/bill", "2", refs::ONE_BILL] {
        let input = if text == "2" { Input::Button("v1:b:senelec".into()) } else { Input::from_text(text) };
        bot.handle(Incoming::new(chat.clone(), input).lang_code("en")).await;
    }
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).send();
    let health = get("/healthz").await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    let value = |line_start: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {line_start} in:\n{metrics}"))
    };
    assert!(value(r#"billbot_updates_total{channel="term",outcome="answered"}"#) >= 3.0);
    assert!(value(r#"billbot_provider_calls_total{endpoint="inquiry",outcome="ok"}"#) >= 1.0);
    assert!(value(r#"billbot_step_seconds_count{channel="term"}"#) >= 3.0);
    assert!(value(r#"billbot_store_commit_seconds_count{backend="sled"}"#) >= 3.0);
    assert!(metrics.contains("billbot_provider_call_seconds_bucket"), "latency histograms");
    assert!(value("billbot_provider_queue_wait_seconds_count") >= 1.0, "waits for a turn");
    assert!(value("billbot_provider_concurrency_limit") >= 1.0, "the adaptive limit");
    assert!(value("billbot_provider_queue_length") >= 0.0, "the queue");
}

#[tokio::test]
async fn readiness_fails_when_postgresql_does_not_answer() {
    let Some(schema) = common::pg::schema("readiness on postgresql").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::app_settings(dir.path(), Default::default());
    settings.database =
        Some(billbot::config::DatabaseSettings { url: schema.url().into(), pool: Default::default() });
    let (_bot, store, base, _stop) = start(settings).await;
    let ready = || async { reqwest::get(format!("{base}/readyz")).await.unwrap().status() };
    assert_eq!(ready().await, 200);
    store.postgres().unwrap().pool().close().await; // as if the database went away
    assert_eq!(ready().await, 503);
    assert_eq!(
        reqwest::get(format!("{base}/healthz")).await.unwrap().status(),
        200,
        "the process still runs"
    );
}
