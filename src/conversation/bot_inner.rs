//! What the bot shares across every step of every chat: the provider clients, the store, the
//! optional tracker and support chat, the lookup limits, and the cap on provider calls. It lives
//! apart from [`Bot`](super::Bot) so that a step's [`Session`](super::session::Session) can hold
//! it without the dialogue's modules importing the module that runs them.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::payload_key::PayloadKeys;
use super::support_settings::Support;
use crate::domain::ChatKey;
use crate::domain::limits::LookupLimits;
use crate::store::Store;
use crate::tracking::Tracker;
use crate::upstream::error::Unavailable;
use crate::upstream::{InquiryClient, StatusClient, UpstreamError};

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
    /// Provider calls from chats in flight at once, and how long one waits for its turn.
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

/// The cap on provider calls from chats in flight at once, so that a flood of lookups cannot
/// open thousands of connections to a provider (or hold thousands of sockets here).
pub(crate) struct ProviderCalls {
    permits: tokio::sync::Semaphore,
    wait: Duration,
}

/// The default cap (`BILLBOT_PROVIDER_CONCURRENCY`), and how long a call waits for its turn.
pub const PROVIDER_CALLS: usize = 64;
pub const PROVIDER_CALL_WAIT: Duration = Duration::from_secs(5);

impl ProviderCalls {
    pub(crate) fn new(max: usize, wait: Duration) -> ProviderCalls {
        ProviderCalls { permits: tokio::sync::Semaphore::new(max.max(1)), wait }
    }
}

impl Default for ProviderCalls {
    fn default() -> Self {
        ProviderCalls::new(PROVIDER_CALLS, PROVIDER_CALL_WAIT)
    }
}

impl BotInner {
    /// Makes a provider call once fewer than the cap are in flight; after waiting too long, the
    /// call is not made and counts as the provider being unavailable (the user may try again).
    pub(crate) async fn provider_call<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, UpstreamError>>,
    ) -> Result<T, UpstreamError> {
        let Ok(Ok(_permit)) = tokio::time::timeout(self.calls.wait, self.calls.permits.acquire()).await
        else {
            metrics::counter!("billbot_provider_calls_refused_total").increment(1);
            tracing::warn!("too many provider calls in flight: a lookup was refused");
            return Err(UpstreamError::Unavailable(Unavailable::Busy));
        };
        call.await
    }
}
