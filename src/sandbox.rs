//! The sandbox: both provider APIs, simulated, as a real HTTP server (axum).
//!
//! It follows the documents (paths, headers, status codes, JSON shapes, including their loose
//! typing) and answers from the fixtures in [`fixtures`], so that billbot can be tried, demoed
//! and tested with no provider account. `billbot sandbox` runs it alone; the other commands start
//! it on a loopback port when no provider URL is configured (embedded mode).

pub mod fixtures;
mod handlers;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use reqwest::Url;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Where the sandbox serves the inquiry endpoint (the document leaves the path to configuration).
pub const INQUIRY_PATH: &str = "/api/bill/inquiry";

/// The sandbox's credentials. They are public test values, not secrets.
pub const INQUIRY_KEY: &str = "sandbox-inquiry-key";
pub const STATUS_KEY: &str = "sandbox-status-key";
pub const MERCHANT_ID: &str = "sandbox-merchant";

/// How a sandbox behaves.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub inquiry_key: String,
    pub status_key: String,
    pub merchant_id: String,
    /// How long the slow fixtures wait before answering.
    pub slow: Duration,
    /// A pause before every answer, to simulate provider latency (benchmarks).
    pub latency: Duration,
    /// How long the "delivered later" order stays pending after it is first asked about.
    pub deliver_after: Duration,
    /// Calls answered at once (a provider's real capacity); beyond, the sandbox answers
    /// `429 Too Many Requests` at once, with `Retry-After: 1`. `None`: unlimited.
    pub capacity: Option<usize>,
}

impl Default for SandboxConfig {
    /// The slow fixtures wait 12 s: longer than the clients' default 8 s timeout.
    fn default() -> Self {
        SandboxConfig {
            inquiry_key: INQUIRY_KEY.to_owned(),
            status_key: STATUS_KEY.to_owned(),
            merchant_id: MERCHANT_ID.to_owned(),
            slow: Duration::from_secs(12),
            latency: Duration::ZERO,
            deliver_after: Duration::from_secs(40),
            capacity: None,
        }
    }
}

/// The sandbox's routes. Status is served on POST too, since the document's curl sample uses it.
pub fn router(config: SandboxConfig) -> Router {
    router_with_state(std::sync::Arc::new(handlers::AppState::new(config)))
}

fn router_with_state(state: std::sync::Arc<handlers::AppState>) -> Router {
    Router::new()
        .route(INQUIRY_PATH, post(handlers::inquiry))
        .route("/bill/status/{order_no}", get(handlers::status).post(handlers::status))
        .route("/bill/history", get(handlers::history))
        .with_state(state)
}

/// A sandbox serving in the background; it stops when dropped.
#[derive(Debug)]
pub struct RunningSandbox {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    status_calls: std::sync::Arc<std::sync::atomic::AtomicU64>,
    inquiry_calls: std::sync::Arc<std::sync::atomic::AtomicU64>,
    counts: std::sync::Arc<handlers::Counts>,
}

impl RunningSandbox {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many status calls this sandbox has answered.
    pub fn status_calls(&self) -> u64 {
        self.status_calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many inquiry calls this sandbox has received.
    pub fn inquiry_calls(&self) -> u64 {
        self.inquiry_calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many calls this sandbox answered with 429 (over its capacity).
    pub fn throttled_calls(&self) -> u64 {
        self.counts.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The most calls this sandbox has served at once.
    pub fn peak_calls(&self) -> usize {
        self.counts.peak.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The full URL of the inquiry endpoint.
    pub fn inquiry_url(&self) -> Url {
        url(self.addr, INQUIRY_PATH)
    }

    /// The base URL of the status API.
    pub fn status_base(&self) -> Url {
        url(self.addr, "/")
    }
}

fn url(addr: SocketAddr, path: &str) -> Url {
    // An address and an absolute path always make a valid http URL.
    Url::parse(&format!("http://{addr}{path}")).expect("a socket address and a path form a URL")
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a sandbox on `listener` in the background, on the current tokio runtime.
pub fn spawn(listener: TcpListener, config: SandboxConfig) -> std::io::Result<RunningSandbox> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let state = std::sync::Arc::new(handlers::AppState::new(config));
    let (status_calls, inquiry_calls) = (state.status_calls.clone(), state.inquiry_calls.clone());
    let counts = state.counts.clone();
    let app = router_with_state(state);
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "sandbox stopped");
        }
    });
    Ok(RunningSandbox { addr, stop: Some(stop), status_calls, inquiry_calls, counts })
}

/// Starts a sandbox on a free loopback port.
pub async fn spawn_on_loopback(config: SandboxConfig) -> std::io::Result<RunningSandbox> {
    spawn(crate::http::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await?, config)
}

/// Serves until `shutdown` completes (the `billbot sandbox` command).
pub async fn serve(
    listener: TcpListener,
    config: SandboxConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(config)).with_graceful_shutdown(shutdown).await
}
