//! The two provider clients: Bill Inquiry and bill status. Real HTTP (reqwest), one pooled client
//! per provider, timeouts on connect and in total, safe retries only, one typed error.

pub mod error;
mod http;
pub mod inquiry;
pub mod limit;
pub mod status;
pub mod wire;

use std::time::Duration;

pub use error::{ErrorKind, UpstreamError};
pub use inquiry::InquiryClient;
pub use status::{History, StatusClient};

/// Runs one provider call, counting it and timing it by endpoint and outcome (see `ops`).
///
/// The call comes boxed: its state (its retries, the request in flight) takes room only while it
/// runs, not in every step's future that may make one (docs/performance.md, "Memory a chat").
pub(crate) async fn observed<T>(
    endpoint: &'static str,
    call: std::pin::Pin<Box<impl std::future::Future<Output = Result<T, UpstreamError>>>>,
) -> Result<T, UpstreamError> {
    let started = std::time::Instant::now();
    let result = call.await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(e) => e.kind().key(),
    };
    metrics::counter!("billbot_provider_calls_total", "endpoint" => endpoint, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("billbot_provider_call_seconds", "endpoint" => endpoint)
        .record(started.elapsed().as_secs_f64());
    result
}

/// How the clients talk HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Time allowed to open the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Time allowed for the whole call, answer body included.
    pub timeout: Duration,
    /// Extra attempts after a failure that is safe to retry (see [`UpstreamError::is_retryable`]).
    pub retries: usize,
    /// First pause between attempts; it doubles each time, with jitter.
    pub retry_delay: Duration,
}

impl Default for HttpOptions {
    /// Chat users wait for the answer: a call gives up after 8 s, rather than leave them
    /// staring at a silent chat, and says the provider is unavailable.
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(8),
            retries: 2,
            retry_delay: Duration::from_millis(200),
        }
    }
}
