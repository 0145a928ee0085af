//! The one error type of both provider clients.

use std::fmt;

use serde::Serialize;

/// Everything that can go wrong calling a provider. The texts never contain an API key: they are
/// built from our own words, HTTP status codes and provider messages scrubbed of the keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// 400, or the provider's own "not found" answer: the reference or order does not exist, or
    /// the provider refused the parameters.
    #[error("not found or invalid{}", detail(.message))]
    NotFound { message: Option<String> },
    /// 401: the provider refused our API key.
    #[error("the provider refused the API key (HTTP 401)")]
    Unauthorized,
    /// 403: the provider says its API is under maintenance.
    #[error("the provider is under maintenance (HTTP 403)")]
    Maintenance,
    /// 5xx, a timeout, a refused connection, or any other answer that says nothing about the order.
    #[error("the provider is unavailable: {0}")]
    Unavailable(Unavailable),
    /// A 2xx whose body is not the documented JSON (an HTML page, a truncated body, …).
    #[error("the provider's answer could not be read: {0}")]
    Unreadable(String),
}

/// Why a provider was unavailable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    Timeout,
    Connect,
    Status(u16),
    Transport(String),
    /// Not called: too many calls from chats were in flight for too long (flood control).
    Busy,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::Timeout => f.write_str("no answer in time"),
            Unavailable::Connect => f.write_str("could not connect"),
            Unavailable::Status(code) => write!(f, "HTTP {code}"),
            Unavailable::Transport(what) => f.write_str(what),
            Unavailable::Busy => f.write_str("too many calls in flight; this one was not made"),
        }
    }
}

fn detail(message: &Option<String>) -> String {
    message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
}

/// The kind of an [`UpstreamError`], without its details: what users and exit codes depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    Unauthorized,
    Maintenance,
    Unavailable,
    Unreadable,
}

impl ErrorKind {
    /// Stable key for message ids and JSON.
    pub fn key(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not-found",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Maintenance => "maintenance",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Unreadable => "unreadable",
        }
    }
}

impl UpstreamError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            UpstreamError::NotFound { .. } => ErrorKind::NotFound,
            UpstreamError::Unauthorized => ErrorKind::Unauthorized,
            UpstreamError::Maintenance => ErrorKind::Maintenance,
            UpstreamError::Unavailable(_) => ErrorKind::Unavailable,
            UpstreamError::Unreadable(_) => ErrorKind::Unreadable,
        }
    }

    /// Whether trying the same call again is safe and may help.
    ///
    /// A connection that was never made is always safe to retry: the request never left. A
    /// gateway error (502, 503, 504) is retried only for idempotent calls (`idempotent`), since
    /// the provider may have acted on the first attempt. Timeouts are not retried: the user has
    /// already waited the whole timeout, and says "try again" faster than a second timeout would.
    pub fn is_retryable(&self, idempotent: bool) -> bool {
        match self {
            UpstreamError::Unavailable(Unavailable::Connect) => true,
            UpstreamError::Unavailable(Unavailable::Status(502..=504)) => idempotent,
            _ => false,
        }
    }
}
