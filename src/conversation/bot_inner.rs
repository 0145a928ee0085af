//! What the bot shares across every step of every chat: the provider clients, the store, the
//! optional tracker and support chat, the lookup limits, and the limit on provider calls. It lives
//! apart from [`Bot`](super::Bot) so that a step's [`Session`](super::session::Session) can hold
//! it without the dialogue's modules importing the module that runs them.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::payload_key::PayloadKeys;
use super::support_settings::Support;
use crate::domain::ChatKey;
use crate::domain::limits::LookupLimits;
use crate::store::Store;
use crate::tracking::Tracker;
use crate::upstream::error::Unavailable;
use crate::upstream::limit::{AdaptiveLimit, Outcome, Permit};
use crate::upstream::{InquiryClient, StatusClient, UpstreamError};

use super::reply::Note;

/// The inside of a [`Bot`](super::Bot), shared by its clones; steps reach it through their
/// session.
pub(crate) struct BotInner {
    pub(super) inquiry: InquiryClient,
    pub(super) status: StatusClient,
    pub(super) store: Store,
    /// Present when order tracking runs: enables "notify me".
    pub(crate) tracker: Option<Arc<Tracker>>,
    /// How many lookups a customer chat may make.
    pub(crate) limits: LookupLimits,
    /// Provider calls from chats: the adaptive limit, its queue, and the waiting note.
    pub(super) calls: ProviderCalls,
    /// Every turn's first reply says it comes from test data (`serve` on the sandbox).
    pub(super) test_data: AtomicBool,
    /// One lock per chat in use: a chat's inputs are handled one after another even if a
    /// channel delivers them concurrently; different chats never wait for each other.
    pub(super) chats: Mutex<HashMap<ChatKey, Weak<tokio::sync::Mutex<()>>>>,
    /// Where customers' requests to talk to a person go; `None`: no hand-off.
    pub(crate) support: Option<Support>,
    /// The key that signs the buttons of the bot's replies and checks those pressed.
    pub(crate) payloads: PayloadKeys,
}

/// Provider calls from chats: an adaptive limit on those in flight (so that a flood of lookups
/// neither overloads a provider nor opens thousands of sockets), the fair queue in front of it,
/// and when a waiting user is told so or refused.
pub(crate) struct ProviderCalls {
    limit: AdaptiveLimit,
    /// The provider's own timeout: a lookup expected to wait longer for its turn is refused.
    longest: Duration,
    /// A lookup waiting this long for its turn tells its user why (once).
    note_after: Duration,
}

/// The default ceiling of the limit (`BILLBOT_PROVIDER_CONCURRENCY`), the longest wait for a turn
/// (the clients' default timeout), and when a waiting user is told so.
pub const PROVIDER_CALLS: usize = 256;
pub const PROVIDER_CALL_WAIT: Duration = Duration::from_secs(8);
pub const WAITING_NOTE_AFTER: Duration = Duration::from_secs(2);

/// The pause before a call the provider refused with 429 is made again (under the same turn);
/// meanwhile the limit has shrunk, which is what slows the calls down.
const AFTER_429: Duration = Duration::from_millis(100);

impl ProviderCalls {
    pub(crate) fn new(ceiling: usize, longest: Duration) -> ProviderCalls {
        ProviderCalls { limit: AdaptiveLimit::new(ceiling), longest, note_after: WAITING_NOTE_AFTER }
    }

    pub(crate) fn note_after(&mut self, after: Duration) {
        self.note_after = after;
    }

    /// A turn: at once, or after waiting in the queue (with `note` sent to the user if the wait
    /// passes `note_after`); `None` when the wait would exceed the provider's timeout.
    async fn turn(&self, note: Option<Note>) -> Option<Permit<'_>> {
        let acquire = self.limit.acquire(self.longest);
        tokio::pin!(acquire);
        let Some(note) = note else { return acquire.await };
        tokio::select! {
            permit = &mut acquire => return permit,
            () = tokio::time::sleep(self.note_after) => {}
        }
        metrics::counter!("billbot_provider_wait_notes_total").increment(1);
        let (permit, ()) = tokio::join!(acquire, note);
        permit
    }
}

impl Default for ProviderCalls {
    fn default() -> Self {
        ProviderCalls::new(PROVIDER_CALLS, PROVIDER_CALL_WAIT)
    }
}

impl BotInner {
    /// Makes a provider call (`call`, made again while the provider answers 429 within the
    /// provider's timeout) when its turn comes. A user whose turn is long in coming is sent
    /// `note`; a call whose wait would exceed the provider's timeout is not made and counts as
    /// the provider being unavailable (the user may try again).
    pub(crate) async fn provider_call<T, F, Fut>(
        &self,
        note: Option<Note>,
        mut call: F,
    ) -> Result<T, UpstreamError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, UpstreamError>>,
    {
        let started = Instant::now();
        let Some(mut permit) = self.calls.turn(note).await else {
            metrics::counter!("billbot_provider_calls_refused_total").increment(1);
            tracing::warn!("the provider's queue is longer than its timeout: a lookup was refused");
            return Err(UpstreamError::Unavailable(Unavailable::Busy));
        };
        loop {
            let result = call().await;
            let throttled = matches!(result, Err(UpstreamError::Unavailable(Unavailable::Status(429))));
            if !throttled || started.elapsed() >= self.calls.longest {
                permit.done(Outcome::of(&result));
                return result;
            }
            permit.again(Outcome::Overloaded);
            tokio::time::sleep(AFTER_429).await;
        }
    }
}
