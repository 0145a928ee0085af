//! Telegram's rate limits, respected before each message is sent, and 429s waited out.
//!
//! teloxide's `Throttle` adaptor does this too, but its worker wakes every 250 ms, which adds up
//! to a quarter of a second to every reply under load (measured: p50 252 ms with 100 chats). Here
//! each limit is a GCRA rate limiter (`governor`) that waits exactly as long as needed: under the
//! limits, a message goes out at once.
//!
//! A 429 (`retry_after`) holds back the chat it came for, not the others: Telegram's flood
//! limits are mostly per chat, and one busy group must not delay every customer's answer. The
//! wait is capped at [`MAX_RETRY_WAIT`]: a longer one is not waited out; the message is given
//! up (logged and counted) and the chat held back for the cap.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use backon::{ConstantBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use teloxide::RequestError;
use teloxide::types::ChatId;

/// Telegram's documented limits for bots (and what a local Bot API server may raise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Messages one chat may get in a second (Telegram: about 1, with short bursts).
    pub per_chat_per_sec: u32,
    /// Messages a group may get in a minute (Telegram: 20).
    pub per_group_per_min: u32,
    /// Messages the bot may send in a second, all chats together (Telegram: about 30).
    pub overall_per_sec: u32,
    /// How many instances share these limits (they apply to the bot token, not to a process):
    /// each instance keeps to its share.
    pub share: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { per_chat_per_sec: 1, per_group_per_min: 20, overall_per_sec: 30, share: 1 }
    }
}

impl Limits {
    /// Limits high enough never to wait: for a local Bot API server in tests and benchmarks.
    pub fn unlimited() -> Limits {
        Limits {
            per_chat_per_sec: 100_000,
            per_group_per_min: 1_000_000,
            overall_per_sec: 1_000_000,
            share: 1,
        }
    }

    /// These limits, shared by `instances` instances.
    pub fn shared_by(self, instances: u32) -> Limits {
        Limits { share: instances.max(1), ..self }
    }
}

/// How many times a message refused with 429 is tried again.
const MAX_RETRY_AFTER: usize = 5;
/// The longest `retry_after` waited out; beyond, the message is given up.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
/// A reply may burst this many messages in one chat before the per-chat pace applies (a split
/// long reply, or a reply and the menu after it).
const CHAT_BURST: u32 = 3;

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

/// Paces outgoing messages.
pub struct Pacer {
    overall: DefaultDirectRateLimiter,
    per_chat: DefaultKeyedRateLimiter<i64>,
    per_group: DefaultKeyedRateLimiter<i64>,
    /// The chats Telegram asked us to leave alone for a while (429), and until when.
    frozen: Mutex<HashMap<i64, Instant>>,
}

impl Pacer {
    pub fn new(limits: Limits) -> Pacer {
        let share = limits.share.max(1);
        // A chat's pace, shared: one message every `share` seconds per instance at 1 a second.
        let chat_period = Duration::from_secs(u64::from(share)) / limits.per_chat_per_sec.max(1);
        let per_chat = Quota::with_period(chat_period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(nonzero(limits.per_chat_per_sec.max(CHAT_BURST) / share));
        Pacer {
            overall: RateLimiter::direct(Quota::per_second(nonzero(limits.overall_per_sec / share))),
            per_chat: RateLimiter::keyed(per_chat),
            per_group: RateLimiter::keyed(Quota::per_minute(nonzero(limits.per_group_per_min / share))),
            frozen: Mutex::new(HashMap::new()),
        }
    }

    fn frozen(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Instant>> {
        self.frozen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds `chat` back for `wait` (at most [`MAX_RETRY_WAIT`]).
    fn freeze(&self, chat: ChatId, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_RETRY_WAIT);
        let mut frozen = self.frozen();
        let entry = frozen.entry(chat.0).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Waits until a message may be sent to `chat`.
    pub async fn ready(&self, chat: ChatId) {
        let frozen = self.frozen().get(&chat.0).copied();
        if let Some(until) = frozen.filter(|until| *until > Instant::now()) {
            tokio::time::sleep_until(until.into()).await;
        }
        self.per_chat.until_key_ready(&chat.0).await;
        if chat.is_group() || chat.is_channel_or_supergroup() {
            self.per_group.until_key_ready(&chat.0).await;
        }
        self.overall.until_ready().await;
    }

    /// Sends with `send` once the limits allow; a 429 is waited out (`retry_after`, during which
    /// nothing else is sent to that chat) and the message sent again, up to 5 times. A
    /// `retry_after` over [`MAX_RETRY_WAIT`] is not waited out: the 429 is returned.
    pub async fn send<T, F, Fut>(&self, chat: ChatId, send: F) -> Result<T, RequestError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RequestError>>,
    {
        self.ready(chat).await;
        send.retry(
            ConstantBuilder::default().with_delay(Duration::from_secs(1)).with_max_times(MAX_RETRY_AFTER),
        )
        .when(|e| match e {
            RequestError::RetryAfter(after) if after.duration() > MAX_RETRY_WAIT => {
                self.freeze(chat, MAX_RETRY_WAIT);
                metrics::counter!("billbot_messages_given_up_total", "channel" => "tg").increment(1);
                tracing::warn!(
                    chat = chat.0,
                    wait = ?after.duration(),
                    "Telegram asked to wait too long (429): this message is given up"
                );
                false
            }
            RequestError::RetryAfter(_) => true,
            _ => false,
        })
        .adjust(|e, delay| match e {
            RequestError::RetryAfter(after) => {
                let wait = after.duration();
                self.freeze(chat, wait);
                tracing::warn!(
                    chat = chat.0,
                    ?wait,
                    "Telegram asked to slow down (429): waiting, then sending again"
                );
                Some(wait)
            }
            _ => delay,
        })
        .await
    }

    /// Forgets the pace of chats that have been quiet (keeps memory flat with many chats).
    pub fn forget_idle(&self) {
        self.per_chat.retain_recent();
        self.per_group.retain_recent();
        let now = Instant::now();
        self.frozen().retain(|_, until| *until > now);
    }
}
