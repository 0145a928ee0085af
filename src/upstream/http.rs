//! What both clients share: building the pooled client, sending with retries, and reading an
//! answer into JSON or a typed error.

use std::future::Future;

use backon::{ExponentialBuilder, Retryable};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::HttpOptions;
use super::error::{Unavailable, UpstreamError};

/// The longest provider message kept in an error; longer ones are cut (they end up on one line).
const MAX_MESSAGE_CHARS: usize = 300;

pub(crate) fn build_client(opts: &HttpOptions) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(opts.connect_timeout)
        .timeout(opts.timeout)
        .user_agent(concat!("billbot/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// An `Authorization: Bearer` value marked sensitive, so that reqwest's debug output hides it.
pub(crate) fn bearer(key: &SecretString) -> Result<reqwest::header::HeaderValue, String> {
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
        .map_err(|_| "the API key contains characters that cannot be sent in a header".to_owned())?;
    value.set_sensitive(true);
    Ok(value)
}

/// Runs `call` with the retry policy of `opts`; `idempotent` says whether gateway errors may be
/// retried (see [`UpstreamError::is_retryable`]).
pub(crate) async fn with_retries<F, Fut, T>(
    opts: &HttpOptions,
    idempotent: bool,
    what: &'static str,
    call: F,
) -> Result<T, UpstreamError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, UpstreamError>>,
{
    let policy = ExponentialBuilder::default()
        .with_min_delay(opts.retry_delay)
        .with_max_times(opts.retries)
        .with_jitter();
    call.retry(policy)
        .when(|e: &UpstreamError| e.is_retryable(idempotent))
        .notify(|e, pause| tracing::warn!(call = what, error = %e, ?pause, "retrying provider call"))
        .await
}

/// The largest answer read from a provider: the biggest documented answer (a history page) is a
/// few tens of KiB; anything past this is not the documented JSON, and is not read further.
pub const MAX_ANSWER: usize = 1024 * 1024;

/// Sends a request and reads the answer, up to [`MAX_ANSWER`] bytes.
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Result<(StatusCode, Vec<u8>), UpstreamError> {
    let mut response = request.send().await.map_err(transport_error)?;
    let status = response.status();
    if response.content_length().is_some_and(|n| n > MAX_ANSWER as u64) {
        return Err(UpstreamError::Unreadable(format!("an answer over {} KiB", MAX_ANSWER / 1024)));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(UpstreamError::Unreadable(format!("an answer over {} KiB", MAX_ANSWER / 1024)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// Turns a reqwest failure into [`Unavailable`], without the URL (which could carry credentials
/// if someone put them there) and without reqwest's own wording.
fn transport_error(e: reqwest::Error) -> UpstreamError {
    let why = if e.is_timeout() {
        Unavailable::Timeout
    } else if e.is_connect() {
        Unavailable::Connect
    } else if e.is_body() || e.is_decode() {
        Unavailable::Transport("the answer was cut off".to_owned())
    } else {
        Unavailable::Transport("the request failed".to_owned())
    };
    UpstreamError::Unavailable(why)
}

/// Reads an answer: a 2xx must be JSON; other statuses map to the documented errors.
///
/// | status | meaning |
/// |---|---|
/// | 2xx, JSON | the body, for the caller to decode (a `success: false` body is the caller's to judge) |
/// | 2xx, not JSON | [`UpstreamError::Unreadable`] |
/// | 400 | [`UpstreamError::NotFound`] ("invalid parameters / bill not found") |
/// | 401 | [`UpstreamError::Unauthorized`] |
/// | 403 | [`UpstreamError::Maintenance`] |
/// | 404 with a JSON body | [`UpstreamError::NotFound`]: the provider's own answer |
/// | 404 otherwise, anything else | [`UpstreamError::Unavailable`]: a wrong URL looks like this, and it is not the customer's fault |
pub(crate) fn read_json(
    status: StatusCode,
    body: &[u8],
    keys: &[&SecretString],
) -> Result<Value, UpstreamError> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let message = || json.as_ref().and_then(|j| provider_message(j, keys));
    match status.as_u16() {
        200..=299 => json.ok_or_else(|| UpstreamError::Unreadable(describe_non_json(body))),
        400 => Err(UpstreamError::NotFound { message: message() }),
        401 => Err(UpstreamError::Unauthorized),
        403 => Err(UpstreamError::Maintenance),
        404 if json.is_some() => Err(UpstreamError::NotFound { message: message() }),
        code => Err(UpstreamError::Unavailable(Unavailable::Status(code))),
    }
}

/// The provider's `message` (or `errorMsg`/`error`) field, scrubbed and cut to one short line.
pub(crate) fn provider_message(body: &Value, keys: &[&SecretString]) -> Option<String> {
    let text = ["message", "errorMsg", "error"].iter().find_map(|k| body.get(*k).and_then(Value::as_str))?;
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut clean = scrub(&one_line, keys);
    if clean.chars().count() > MAX_MESSAGE_CHARS {
        clean = clean.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
    }
    (!clean.is_empty()).then_some(clean)
}

/// Removes every occurrence of the keys from a text that came from outside.
pub(crate) fn scrub(text: &str, keys: &[&SecretString]) -> String {
    keys.iter()
        .map(|k| k.expose_secret())
        .filter(|k| !k.is_empty())
        .fold(text.to_owned(), |acc, k| acc.replace(k, "[redacted]"))
}

fn describe_non_json(body: &[u8]) -> String {
    let start = String::from_utf8_lossy(&body[..body.len().min(64)]);
    let start = start.trim_start();
    if start.is_empty() {
        "empty body".to_owned()
    } else if start.starts_with('<') {
        "an HTML page instead of JSON".to_owned()
    } else {
        "not JSON".to_owned()
    }
}
