//! Order tracking: chats watch orders that are not final, and hear once, in their language, when
//! the status changes, by polling or by the provider's callback, whichever comes first.
//!
//! - Watches live in the store ([`crate::store::Watch`]) with a schedule index, so tracking
//!   resumes after a restart exactly where it was.
//! - Checks back off: every 20 s for the first three, then twice as long every three checks, up
//!   to 10 minutes; never under 20 s, so at most 3 calls a minute per order. First checks are
//!   spread over 20 to 40 s, and all checks share a global pace (20 calls a second by default),
//!   so 1,000 orders watched at once do not burst the provider.
//! - A watch ends at a final status, or after its maximum age (24 h by default), when every
//!   watcher is told it stopped and how to check by hand.
//! - Each watcher is told each status at least once, and once only as far as billbot can tell:
//!   the notice goes into the store's outbox in the same write that records who was told what,
//!   keyed by the watcher, the order and the status (recorded once per key, ever). The tracker
//!   only writes it; the outbox's sender ([`crate::outbox`]) delivers it.

pub mod callback;

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::clock::later;
use crate::domain::{ChatKey, Order, OrderNo, OrderStatus};
use crate::i18n::Lang;
use crate::outbox::Notice;
use crate::store::{Batch, Op, Outgoing, Store, StoreError, Watch, Watcher};
use crate::upstream::StatusClient;

pub use crate::clock::Clock;

/// How the tracker paces itself.
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// Shortest time between two checks of one order (20 s: at most 3 calls a minute).
    pub min_interval: Duration,
    /// Longest time between two checks.
    pub max_interval: Duration,
    /// How long a watch lasts before the tracker gives up.
    pub max_age: Duration,
    /// Provider calls a second, all orders together.
    pub calls_per_sec: u32,
    /// How often the schedule is read.
    pub tick: Duration,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            min_interval: Duration::from_secs(20),
            max_interval: Duration::from_secs(600),
            max_age: Duration::from_secs(24 * 3600),
            calls_per_sec: 20,
            tick: Duration::from_secs(1),
        }
    }
}

impl TrackerConfig {
    /// The pause after `checks` checks: `min_interval`, doubling every three checks, capped.
    pub fn interval(&self, checks: u32) -> Duration {
        let doubled = self.min_interval.saturating_mul(1u32 << (checks / 3).min(16));
        doubled.min(self.max_interval).max(self.min_interval)
    }
}

/// The tracker. Share it (`Arc`) between the conversation (watch buttons), the callback
/// endpoint and its own polling loop.
pub struct Tracker {
    status: StatusClient,
    store: Store,
    config: TrackerConfig,
    clock: Clock,
    pace: DefaultDirectRateLimiter,
}

/// A tenth of `d`, at random, added or not: spreads checks that would otherwise coincide.
fn jitter(d: Duration) -> Duration {
    d + d.mul_f64(rand_fraction() * 0.1)
}

/// A number in [0, 1) from the clock's nanoseconds: enough to spread schedules, not crypto.
fn rand_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
    );
    (hasher.finish() % 1_000_000) as f64 / 1_000_000.0
}

/// A notice for `watcher` about `order_no` (`what`: the status's key, or `ended`), due now.
fn outgoing(
    watcher: &Watcher,
    order_no: &OrderNo,
    what: &str,
    notice: &serde_json::Value,
    now: DateTime<Utc>,
) -> Outgoing {
    let id = Outgoing::id_for(&watcher.chat, order_no, what);
    Outgoing::new(id, &watcher.chat, watcher.lang, notice.clone(), now)
}

impl Tracker {
    pub fn new(status: StatusClient, store: Store, config: TrackerConfig) -> Tracker {
        let pace = RateLimiter::direct(Quota::per_second(
            NonZeroU32::new(config.calls_per_sec.max(1)).unwrap_or(NonZeroU32::MIN),
        ));
        // Each check is one call, paced: a failed one is tried again at the next check (backing
        // off), never by the client behind the pace's back.
        let status = status.without_retries();
        Tracker { status, store, config, clock: Clock::new(), pace }
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The write that adds `chat` to the watchers of `order` (just seen by that chat in
    /// `order.status`): part of the chat's step, committed with it.
    pub fn watch_op(&self, order_no: &OrderNo, order: &Order, chat: &ChatKey, lang: Lang) -> Op {
        let now = self.now();
        // First checks spread over [min, 2 x min): a crowd of new watches does not burst.
        let first_check =
            later(now, self.config.min_interval + self.config.min_interval.mul_f64(rand_fraction()));
        let (number, status, provider_status) =
            (order_no.clone(), order.status, order.provider_status.clone());
        let chat = chat.clone();
        let update = move |stored: Option<Watch>| {
            let mut watch = stored.unwrap_or_else(|| Watch {
                order_no: number.clone(),
                watchers: Vec::new(),
                started_at: now,
                checks: 0,
                next_check_at: first_check,
                last_status: status,
                last_provider_status: provider_status.clone(),
            });
            match watch.watchers.iter_mut().find(|w| w.chat == chat) {
                Some(existing) => existing.lang = lang,
                None => {
                    watch.watchers.push(Watcher { chat: chat.clone(), lang, since: now, told: vec![status] })
                }
            }
            Some(watch)
        };
        Op::Watch { order_no: order_no.clone(), update: Box::new(update) }
    }

    /// Adds `chat` to the watchers of `order`, committed at once.
    pub async fn watch(
        &self,
        order_no: &OrderNo,
        order: &Order,
        chat: &ChatKey,
        lang: Lang,
    ) -> Result<(), StoreError> {
        self.store.commit(self.watch_op(order_no, order, chat, lang)).await
    }

    /// Takes in a fresh view of an order, from a check or a callback: stores it, tells every
    /// watcher not yet told of this status, and ends the watch at a final status. The order, the
    /// watch and who was told are one commit, made before anyone is told: never twice.
    pub async fn apply(&self, order_no: &OrderNo, order: &Order) -> Result<(), StoreError> {
        let now = self.now();
        let config = self.config.clone();
        let (status, provider_status) = (order.status, order.provider_status.clone());
        let notice = Notice::StatusChanged { order_no: order_no.clone(), order: Box::new(order.clone()) };
        let notice = serde_json::to_value(&notice)?;
        let number = order_no.clone();
        let update = move |stored: Option<Watch>| {
            let Some(mut watch) = stored else { return (None, Vec::new()) };
            let mut tell = Vec::new();
            for watcher in &mut watch.watchers {
                if !watcher.told.contains(&status) && status != OrderStatus::Unknown {
                    watcher.told.push(status);
                    tell.push(outgoing(watcher, &number, status.key(), &notice, now));
                }
            }
            watch.last_status = status;
            watch.last_provider_status = provider_status.clone();
            if status.is_final() {
                return (None, tell);
            }
            watch.checks += 1;
            watch.next_check_at = later(now, jitter(config.interval(watch.checks)));
            (Some(watch), tell)
        };
        let mut batch = Batch::new();
        batch.push(Op::RecordOrder {
            order_no: order_no.clone(),
            order: Box::new(order.clone()),
            at: now,
            claimant: None,
        });
        batch.push(Op::WatchAndTell { order_no: order_no.clone(), update: Box::new(update) });
        self.store.commit(batch).await
    }

    /// Checks one watched order now: ends it if too old, else asks the provider (paced).
    pub async fn check(&self, order_no: &OrderNo) -> Result<(), StoreError> {
        let Some(watch) = self.store.watch(order_no).await? else {
            // Missing, or unreadable: removed, with its schedule (it would be due forever). A
            // readable watch made meanwhile is kept.
            return self
                .store
                .commit(Op::Watch { order_no: order_no.clone(), update: Box::new(|stored| stored) })
                .await;
        };
        if self.too_old(&watch) {
            return self.expire(order_no).await;
        }
        self.pace.until_ready().await;
        match self.status.status(order_no).await {
            Ok(order) => self.apply(order_no, &order).await,
            Err(e) => {
                tracing::info!(order = %order_no, error = %e, "tracked order check failed; trying later");
                let (now, config) = (self.now(), self.config.clone());
                self.reschedule(order_no, move |watch| {
                    watch.checks += 1;
                    watch.next_check_at = later(now, jitter(config.interval(watch.checks)));
                })
                .await
            }
        }
    }

    /// Makes a watched order due now (a callback the status API could not confirm); an order
    /// nobody watches is left alone.
    pub async fn recheck_now(&self, order_no: &OrderNo) -> Result<(), StoreError> {
        let now = self.now();
        self.reschedule(order_no, move |watch| watch.next_check_at = watch.next_check_at.min(now)).await
    }

    /// Changes a watch's schedule, if it is still watched.
    async fn reschedule(
        &self,
        order_no: &OrderNo,
        change: impl Fn(&mut Watch) + Send + 'static,
    ) -> Result<(), StoreError> {
        let update = move |stored: Option<Watch>| {
            let mut watch = stored?;
            change(&mut watch);
            Some(watch)
        };
        self.store.commit(Op::Watch { order_no: order_no.clone(), update: Box::new(update) }).await
    }

    fn too_old(&self, watch: &Watch) -> bool {
        (self.now() - watch.started_at).to_std().unwrap_or_default() >= self.config.max_age
    }

    /// Ends a watch that lasted its maximum age, and tells its watchers so. Whether it is too old
    /// is decided again on the watch as stored when it ends (read in the same write): a watch
    /// that ended and started again meanwhile is kept, and the watchers told are the ones stored
    /// then, not when it was found due.
    pub async fn expire(&self, order_no: &OrderNo) -> Result<(), StoreError> {
        let (now, max_age) = (self.now(), self.config.max_age);
        let hours = (max_age.as_secs() / 3600).max(1);
        let notice = serde_json::to_value(Notice::WatchEnded { order_no: order_no.clone(), hours })?;
        let number = order_no.clone();
        let update = move |stored: Option<Watch>| {
            let Some(watch) = stored else { return (None, Vec::new()) };
            if (now - watch.started_at).to_std().unwrap_or_default() < max_age {
                return (Some(watch), Vec::new());
            }
            let tell = watch.watchers.iter().map(|w| outgoing(w, &number, "ended", &notice, now)).collect();
            (None, tell)
        };
        self.store.commit(Op::WatchAndTell { order_no: order_no.clone(), update: Box::new(update) }).await
    }

    /// Runs the polling loop until `shutdown` completes.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let in_flight = Arc::new(tokio::sync::Semaphore::new(32));
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticker.tick() => {}
            }
            // Claimed for this instance: pushed past this check, so that neither the next tick nor
            // another instance checks them while the call is in flight.
            let now = self.now();
            let due = match self.store.claim_due(now, later(now, self.config.min_interval), 500).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %e, "the watch schedule could not be read");
                    continue;
                }
            };
            metrics::counter!("billbot_tracker_claimed_total").increment(due.len() as u64);
            for order_no in due {
                let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                let tracker = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = tracker.check(&order_no).await {
                        tracing::error!(order = %order_no, error = %e, "a tracked order could not be stored");
                    }
                    drop(permit);
                });
            }
        }
    }
}
