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
//! - Each watcher is told each status once: the store records who was told what, and is flushed,
//!   before the message goes out. A crash between the two loses that one message rather than
//!   repeating it after the restart.

pub mod callback;

use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use serde::{Deserialize, Serialize};

use crate::domain::{ChatKey, Order, OrderNo, OrderStatus};
use crate::i18n::Lang;
use crate::store::{Batch, Op, Store, StoreError, Watch, Watcher};
use crate::upstream::StatusClient;

/// News for a chat outside of a conversation step. The texts and buttons live with the other
/// conversation views (`conversation::notices`); a channel renders a notice there, or, where it
/// must, in its own way (a WhatsApp template outside the 24-hour window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// A watched order's status changed (a receipt when it was delivered).
    StatusChanged { order_no: OrderNo, order: Box<Order> },
    /// The order was watched for `hours` without reaching a final status.
    WatchEnded { order_no: OrderNo, hours: u64 },
}

impl Notice {
    pub fn order_no(&self) -> &OrderNo {
        match self {
            Notice::StatusChanged { order_no, .. } | Notice::WatchEnded { order_no, .. } => order_no,
        }
    }
}

/// How a notice reached its chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// As a message of the conversation.
    Sent,
    /// As an approved template (WhatsApp, outside the 24-hour window).
    Template,
    /// Not sent now (WhatsApp, outside the 24-hour window and no template configured): kept, and
    /// given with the chat's next message.
    Held,
}

/// Delivers notices to chats (the channels' side). [`crate::channels::Notifiers`] routes each
/// chat to its channel's notifier.
pub trait Notifier: Send + Sync + 'static {
    fn notify<'a>(
        &'a self,
        chat: &'a ChatKey,
        lang: Lang,
        notice: &'a Notice,
    ) -> Pin<Box<dyn Future<Output = Result<Delivery, String>> + Send + 'a>>;
}

/// Wall-clock time that advances with tokio's clock, so that tests can run the tracker on
/// tokio's paused time while the store keeps real timestamps.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall: DateTime<Utc>,
    at: tokio::time::Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock { wall: Utc::now(), at: tokio::time::Instant::now() }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.at;
        self.wall + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

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
    notifier: Arc<dyn Notifier>,
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

fn later(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    at + chrono::Duration::from_std(d).unwrap_or_default()
}

impl Tracker {
    pub fn new(
        status: StatusClient,
        store: Store,
        notifier: Arc<dyn Notifier>,
        config: TrackerConfig,
    ) -> Tracker {
        let pace = RateLimiter::direct(Quota::per_second(
            NonZeroU32::new(config.calls_per_sec.max(1)).unwrap_or(NonZeroU32::MIN),
        ));
        Tracker { status, store, notifier, config, clock: Clock::new(), pace }
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
        let sends = Arc::new(std::sync::Mutex::new(Vec::new()));
        let config = self.config.clone();
        let (status, provider_status) = (order.status, order.provider_status.clone());
        let told = sends.clone();
        let update = move |stored: Option<Watch>| {
            let mut sends = told.lock().unwrap_or_else(|e| e.into_inner());
            sends.clear(); // the update may run again: start afresh
            let mut watch = stored?;
            for watcher in &mut watch.watchers {
                if !watcher.told.contains(&status) && status != OrderStatus::Unknown {
                    watcher.told.push(status);
                    sends.push((watcher.chat.clone(), watcher.lang));
                }
            }
            watch.last_status = status;
            watch.last_provider_status = provider_status.clone();
            if status.is_final() {
                return None;
            }
            watch.checks += 1;
            watch.next_check_at = later(now, jitter(config.interval(watch.checks)));
            Some(watch)
        };
        let mut batch = Batch::new();
        batch.push(Op::RecordOrder {
            order_no: order_no.clone(),
            order: Box::new(order.clone()),
            at: now,
            claimant: None,
        });
        batch.push(Op::Watch { order_no: order_no.clone(), update: Box::new(update) });
        self.store.commit(batch).await?;
        let sends = std::mem::take(&mut *sends.lock().unwrap_or_else(|e| e.into_inner()));
        let notice = Notice::StatusChanged { order_no: order_no.clone(), order: Box::new(order.clone()) };
        for (chat, lang) in sends {
            self.deliver(&chat, lang, &notice).await;
        }
        Ok(())
    }

    /// Checks one watched order now: ends it if too old, else asks the provider (paced).
    pub async fn check(&self, order_no: &OrderNo) -> Result<(), StoreError> {
        let Some(watch) = self.store.watch(order_no).await? else { return Ok(()) };
        let age = (self.now() - watch.started_at).to_std().unwrap_or_default();
        if age >= self.config.max_age {
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

    /// Ends a watch that lasted its maximum age, and tells its watchers so. The watchers are the
    /// ones stored when it ends (read in the same write), not when it was found due.
    async fn expire(&self, order_no: &OrderNo) -> Result<(), StoreError> {
        let ended = Arc::new(std::sync::Mutex::new(Vec::new()));
        let watchers = ended.clone();
        let update = move |stored: Option<Watch>| {
            *watchers.lock().unwrap_or_else(|e| e.into_inner()) =
                stored.map(|w| w.watchers).unwrap_or_default();
            None
        };
        self.store.commit(Op::Watch { order_no: order_no.clone(), update: Box::new(update) }).await?;
        let hours = (self.config.max_age.as_secs() / 3600).max(1);
        let notice = Notice::WatchEnded { order_no: order_no.clone(), hours };
        let watchers = std::mem::take(&mut *ended.lock().unwrap_or_else(|e| e.into_inner()));
        for watcher in &watchers {
            self.deliver(&watcher.chat, watcher.lang, &notice).await;
        }
        Ok(())
    }

    /// Hands a notice to the chat's channel; a failure is logged (the watch has moved on).
    async fn deliver(&self, chat: &ChatKey, lang: Lang, notice: &Notice) {
        let delivered = self.notifier.notify(chat, lang, notice).await;
        let how = match &delivered {
            Ok(Delivery::Sent) => "sent",
            Ok(Delivery::Template) => "template",
            Ok(Delivery::Held) => "held",
            Err(_) => "failed",
        };
        metrics::counter!("billbot_tracker_notified_total", "how" => how).increment(1);
        match delivered {
            Ok(Delivery::Sent) => {}
            Ok(how) => {
                tracing::info!(%chat, order = %notice.order_no(), ?how, "notice delivered out of the conversation")
            }
            Err(e) => {
                tracing::warn!(%chat, order = %notice.order_no(), error = %e, "a notice could not be delivered")
            }
        }
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
