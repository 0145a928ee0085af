//! The two provider clients: Bill Inquiry and bill status. Real HTTP (reqwest), one pooled client
//! per provider, timeouts on connect and in total, safe retries only, one typed error.

pub mod error;
mod http;
pub mod inquiry;
pub mod status;
pub mod wire;

use std::time::Duration;

pub use error::{ErrorKind, UpstreamError};
pub use inquiry::InquiryClient;
pub use status::{History, StatusClient};

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
