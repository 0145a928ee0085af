//! A load balancer for tests and benchmarks: it spreads webhook POSTs over several instances at
//! random, tries the next one when an instance cannot be reached or does not say 200 (as Telegram
//! and Meta deliver again), and may send some a second time, a little later, to another one.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// The balancer: cheap to clone.
#[derive(Clone)]
pub struct Balancer {
    backends: Arc<Vec<String>>,
    client: reqwest::Client,
    seed: Arc<AtomicU64>,
    /// One update in `duplicate_one_in` is sent twice (0: none).
    duplicate_one_in: usize,
    pub duplicates: Arc<AtomicUsize>,
    /// An instance every update goes to first, when set (`usize::MAX`: none).
    pub prefer: Arc<AtomicUsize>,
}

impl Balancer {
    pub fn new(backends: Vec<String>, duplicate_one_in: usize) -> Balancer {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        Balancer {
            backends: Arc::new(backends),
            client: reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap(),
            seed: Arc::new(AtomicU64::new(nanos as u64 | 1)),
            duplicate_one_in,
            duplicates: Arc::new(AtomicUsize::new(0)),
            prefer: Arc::new(AtomicUsize::new(usize::MAX)),
        }
    }

    /// Serves the balancer on a loopback port at `path`; returns its URL.
    pub async fn serve(&self, path: &str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{path}", listener.local_addr().unwrap());
        let app = Router::new().route(path, post(balance)).with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn random(&self) -> usize {
        // xorshift: enough to spread updates, seeded from the clock.
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        (x % 1_000_003) as usize
    }

    async fn send(&self, to: usize, headers: &HeaderMap, body: &Bytes) -> bool {
        let mut post = self.client.post(&self.backends[to]).body(body.clone());
        for name in ["content-type", "x-telegram-bot-api-secret-token", "x-hub-signature-256"] {
            if let Some(value) = headers.get(name) {
                post = post.header(name, value);
            }
        }
        matches!(post.send().await, Ok(r) if r.status().is_success())
    }
}

async fn balance(State(lb): State<Balancer>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let n = lb.backends.len();
    let first = match lb.prefer.load(Ordering::Relaxed) {
        usize::MAX => lb.random() % n,
        preferred => preferred,
    };
    if lb.duplicate_one_in > 0 && n > 1 && lb.random() % lb.duplicate_one_in == 0 {
        let (again, headers, body) = (lb.clone(), headers.clone(), body.clone());
        let other = (first + 1 + lb.random() % (n - 1)) % n;
        lb.duplicates.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(40)).await;
            again.send(other, &headers, &body).await;
        });
    }
    for attempt in 0..(3 * n) {
        if lb.send((first + attempt) % n, &headers, &body).await {
            return StatusCode::OK;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    StatusCode::BAD_GATEWAY
}
