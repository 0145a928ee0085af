//! The Graph API client: `POST {api}/{phone_number_id}/messages` with the access token, paced to
//! WhatsApp's limits, with Graph errors told apart by `error.code`.
//!
//! | code | meaning | what billbot does |
//! |---|---|---|
//! | 130429 | the number's throughput is exceeded | every send pauses (exponential, from the retry base), then this one is sent again |
//! | 131056 | too many messages to this user | this user's sends pause 6 x the retry base, then it is sent again |
//! | 131047 | more than 24 h since the user's last message | not retried: a notice becomes a template or is held |
//! | 131026 | undeliverable (not on WhatsApp, old app) | not retried |
//! | 190 | the access token is invalid or expired | logged as an error, not retried: an operator must renew it |
//! | HTTP 429, 5xx, 131000, timeouts | WhatsApp is busy or down | sent again, at most 4 times, exponential pauses |
//!
//! The token goes only into a header marked sensitive; Graph messages are scrubbed of it before
//! they reach an error or a log.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::render::Outgoing;
use crate::config::WhatsAppSettings;

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("the number's throughput limit was reached (130429)")]
    Throughput,
    #[error("too many messages to this user (131056)")]
    PairRate,
    #[error("more than 24 hours since the user's last message (131047)")]
    OutsideWindow,
    #[error("the message could not be delivered to this user (131026)")]
    Undeliverable,
    #[error("WhatsApp refused the access token (190): renew BILLBOT_WHATSAPP_TOKEN")]
    TokenInvalid,
    #[error("WhatsApp asked to slow down (HTTP 429)")]
    RateLimited,
    #[error("WhatsApp refused the message (code {code}): {message}")]
    Refused { code: i64, message: String },
    #[error("WhatsApp is unavailable: {0}")]
    Unavailable(String),
}

impl GraphError {
    /// Worth sending again after a pause.
    fn retryable(&self) -> bool {
        matches!(
            self,
            GraphError::Throughput
                | GraphError::PairRate
                | GraphError::RateLimited
                | GraphError::Unavailable(_)
        )
    }
}

/// Sends to WhatsApp: one per number, shared by replies and notices.
pub struct GraphClient {
    http: reqwest::Client,
    messages: Url,
    token: SecretString,
    overall: DefaultDirectRateLimiter,
    per_user: DefaultKeyedRateLimiter<String>,
    /// Milliseconds since `epoch` until which nothing is sent (after a 130429).
    frozen_until_ms: AtomicU64,
    epoch: Instant,
    retry_base: Duration,
    /// Requests in flight at most (see [`IN_FLIGHT`]).
    in_flight: tokio::sync::Semaphore,
}

/// Requests to the Graph API in flight at once. WhatsApp takes 80 messages a second from a
/// number by default (1,000 when raised): 32 requests of a few tens of milliseconds each carry
/// far more than that, and a burst of replies then shares a few connections instead of opening
/// one each (1,000 users at once: peak RSS 120 MiB unbounded, see the README).
pub const IN_FLIGHT: usize = 32;

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient").field("messages", &self.messages.as_str()).finish_non_exhaustive()
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

/// WhatsApp's pair rate limit: about one message every 6 seconds to one user, with bursts.
const USER_PERIOD: Duration = Duration::from_secs(6);
/// Sends tried again at most this many times.
const MAX_RETRIES: usize = 4;

impl GraphClient {
    pub fn new(settings: &WhatsAppSettings) -> Result<GraphClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()?;
        let base = settings.api_url.as_str().trim_end_matches('/');
        // The id is digits (checked in the settings), so this URL always parses.
        let messages = Url::parse(&format!("{base}/{}/messages", settings.phone_number_id))
            .unwrap_or_else(|_| settings.api_url.clone());
        // Several instances share the number's limits: each keeps to its share.
        let share = settings.instances.max(1);
        let per_user = Quota::with_period(USER_PERIOD * share)
            .map(|q| q.allow_burst(nonzero(settings.user_burst / share)))
            .unwrap_or_else(|| Quota::per_second(nonzero(settings.user_burst)));
        Ok(GraphClient {
            http,
            messages,
            token: settings.token.clone(),
            overall: RateLimiter::direct(Quota::per_second(nonzero(settings.messages_per_sec / share))),
            per_user: RateLimiter::keyed(per_user),
            frozen_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            retry_base: settings.retry_base,
            in_flight: tokio::sync::Semaphore::new(IN_FLIGHT),
        })
    }

    /// How a user is addressed: `to` for a phone number, `recipient` for a business-scoped user
    /// id (`SN.1502…`).
    fn address_field(user: &str) -> &'static str {
        if !user.is_empty() && user.chars().all(|c| c.is_ascii_digit()) { "to" } else { "recipient" }
    }

    /// Sends `message` to `user` once the pace allows; returns the message id.
    pub async fn send(&self, user: &str, message: &Outgoing) -> Result<String, GraphError> {
        let mut body = message.to_json();
        body["messaging_product"] = json!("whatsapp");
        body["recipient_type"] = json!("individual");
        body[Self::address_field(user)] = json!(user);
        let key = user.to_owned();
        let attempt = || async {
            self.ready(&key).await;
            let answer = self.post(&body).await?;
            Ok(answer["messages"][0]["id"].as_str().unwrap_or_default().to_owned())
        };
        attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(self.retry_base)
                    .with_max_delay(self.retry_base.saturating_mul(30))
                    .with_max_times(MAX_RETRIES)
                    .with_jitter(),
            )
            .when(GraphError::retryable)
            .adjust(|e, delay| {
                let delay = delay?;
                match e {
                    GraphError::Throughput => {
                        // The whole number is over its limit: every send waits, not only this one.
                        let until = (self.epoch.elapsed() + delay).as_millis() as u64;
                        self.frozen_until_ms.fetch_max(until, Ordering::Relaxed);
                        tracing::warn!(?delay, "WhatsApp throughput limit (130429): pausing every send");
                        Some(delay)
                    }
                    GraphError::PairRate => {
                        let delay = delay.max(self.retry_base.saturating_mul(6));
                        tracing::warn!(
                            ?delay,
                            "WhatsApp pair rate limit (131056): pausing this user's sends"
                        );
                        Some(delay)
                    }
                    other => {
                        tracing::info!(error = %other, ?delay, "WhatsApp send failed; trying again");
                        Some(delay)
                    }
                }
            })
            .await
            .inspect(|_| metrics::counter!("billbot_messages_sent_total", "channel" => "wa").increment(1))
            .inspect_err(|e| {
                metrics::counter!("billbot_messages_rejected_total", "channel" => "wa").increment(1);
                match e {
                    GraphError::TokenInvalid => tracing::error!(error = %e, "WhatsApp sends are failing"),
                    other => tracing::warn!(error = %other, "a WhatsApp message was not sent"),
                }
            })
    }

    /// Marks the user's message read, with the typing indicator when `typing` (shown until the
    /// next message, or 25 s). Best effort: a failure is logged, never retried.
    pub async fn mark_read(&self, message_id: &str, typing: bool) {
        let mut body = json!({"messaging_product": "whatsapp", "status": "read", "message_id": message_id});
        if typing {
            body["typing_indicator"] = json!({"type": "text"});
        }
        if let Err(e) = self.post(&body).await {
            tracing::debug!(error = %e, "a read receipt was not sent");
        }
    }

    /// Waits for the number's pace, any pause after a 130429, and the user's pace.
    async fn ready(&self, user: &String) {
        let frozen = self.frozen_until_ms.load(Ordering::Relaxed);
        let now = self.epoch.elapsed().as_millis() as u64;
        if frozen > now {
            tokio::time::sleep(Duration::from_millis(frozen - now)).await;
        }
        self.per_user.until_key_ready(user).await;
        self.overall.until_ready().await;
    }

    /// Forgets the pace of users who have been quiet (keeps memory flat with many users).
    pub fn forget_idle(&self) {
        self.per_user.retain_recent();
    }

    async fn post(&self, body: &Value) -> Result<Value, GraphError> {
        // Closed only if dropped, which `self` prevents.
        let _slot = self.in_flight.acquire().await.map_err(|e| GraphError::Unavailable(e.to_string()))?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.token.expose_secret()))
            .map_err(|_| GraphError::TokenInvalid)?;
        auth.set_sensitive(true);
        let response = self
            .http
            .post(self.messages.clone())
            .header(AUTHORIZATION, auth)
            .json(body)
            .send()
            .await
            .map_err(|e| GraphError::Unavailable(self.scrub(&e.without_url().to_string())))?;
        let status = response.status();
        let bytes =
            response.bytes().await.map_err(|e| GraphError::Unavailable(self.scrub(&e.to_string())))?;
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(json);
        }
        Err(self.classify(status.as_u16(), &json))
    }

    /// The error a Graph answer stands for: by its `error.code`, else by the HTTP status.
    fn classify(&self, status: u16, json: &Value) -> GraphError {
        let error = &json["error"];
        let message = self.scrub(error["message"].as_str().unwrap_or("no message"));
        match error["code"].as_i64() {
            Some(130429) => GraphError::Throughput,
            Some(131056) => GraphError::PairRate,
            Some(131047) => GraphError::OutsideWindow,
            Some(131026) => GraphError::Undeliverable,
            Some(190) => GraphError::TokenInvalid,
            // Application-level rate limits.
            Some(4 | 80007) => GraphError::RateLimited,
            // "Something went wrong" and "service unavailable": on WhatsApp's side.
            Some(1 | 2 | 131000 | 131016) => GraphError::Unavailable(message),
            _ if status == 429 => GraphError::RateLimited,
            _ if status >= 500 => GraphError::Unavailable(format!("HTTP {status}: {message}")),
            _ if status == 401 => GraphError::TokenInvalid,
            code => GraphError::Refused { code: code.unwrap_or(i64::from(status)), message },
        }
    }

    /// `text` without the token, should WhatsApp ever echo it.
    fn scrub(&self, text: &str) -> String {
        let token = self.token.expose_secret();
        if token.is_empty() { text.to_owned() } else { text.replace(token, "***") }
    }
}
