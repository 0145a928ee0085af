//! The outbox: news for chats outside of a conversation step (an order's new status, a bill's
//! reminder, support's answer, a customer's words for support), and the one sender that delivers
//! it.
//!
//! - Tracking, reminders and support only *write*: a notice goes into the store's outbox in the
//!   same commit as the change it announces, keyed so that the same news is recorded once
//!   ([`crate::store::Outgoing`]). The store says when such a commit lands, and the sender wakes.
//! - The sender ([`Outbox`]) claims due entries for this instance and delivers them through the
//!   chat's channel ([`Notifier`], routed by [`Notifiers`]): concurrently across chats, in order
//!   within a chat. One chat's pace, a 429, a slow send or a full support group holds up that chat
//!   only: each chat has its own queue, and a send holds one of [`OutboxConfig::concurrency`]
//!   slots only while it is being sent.
//! - A claim is held for as long as this instance has the entry, sending or waiting in its chat's
//!   queue: it is renewed every third of [`OutboxConfig::claim`], so another instance never sends
//!   it meanwhile. The claim carries this sender's name (a fencing token): a sender whose claim
//!   was taken over (it stalled past the claim) changes nothing when it finishes. Only a crash
//!   between a send and its mark repeats a message; an instance that dies leaves its claims to run
//!   out, and another sends them.
//! - A failed send is tried again 30 s later, then twice as long each time up to 30 min, 8 times
//!   in all; a notice no channel can take (the chat's channel is not running here) is given up at
//!   once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::channels::queue::ChatQueues;
use crate::clock::{Clock, later};
use crate::domain::{Channel, ChatKey, Order, OrderNo};
use crate::i18n::Lang;
use crate::store::{Op, Outgoing, OutgoingChange, Store, StoreError};

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
    /// A bill the chat asked to be reminded of is due in `days_left` days (0: today; below 0:
    /// overdue), for `amount` as the provider said just before (`None`: it did not answer).
    Reminder {
        reference: crate::domain::CustomerReference,
        due_day: chrono::NaiveDate,
        days_left: i64,
        amount: Option<crate::domain::Money>,
    },
    /// For the support chat: a customer's request `ticket` opened, or a message of its customer
    /// (`text`, already worded in the support chat's language).
    ToSupport { ticket: String, text: String },
    /// For a customer: support's answer to `ticket` (`agent` names who answered, when operators
    /// chose to show it), or, when `closed`, that support closed it.
    FromSupport { ticket: String, text: String, agent: Option<String>, closed: bool },
}

impl Notice {
    /// What the notice is about, for the logs: an order number, or a reference masked
    /// (`senelec:•••••••002`: the logs never hold a customer's whole number).
    pub fn subject(&self) -> String {
        match self {
            Notice::StatusChanged { order_no, .. } | Notice::WatchEnded { order_no, .. } => {
                order_no.to_string()
            }
            Notice::Reminder { reference, .. } => reference.for_log(),
            Notice::ToSupport { ticket, .. } | Notice::FromSupport { ticket, .. } => {
                format!("ticket {ticket}")
            }
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
    /// Not sent, on purpose: a reminder outside WhatsApp's 24-hour window and no template
    /// configured for reminders.
    NotSent,
}

/// Why a channel could not send something (a notice, or a step's replies).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No channel of this kind runs in this instance: trying again will not help.
    #[error("the {0} channel is not running")]
    NotRunning(Channel),
    /// The chat is not one of this channel's (a routing mistake): trying again will not help.
    #[error("{0} is not a chat of this channel")]
    WrongChannel(ChatKey),
    #[error("Telegram: {0}")]
    Telegram(#[from] teloxide::RequestError),
    #[error("WhatsApp: {0}")]
    WhatsApp(#[from] crate::channels::whatsapp::GraphError),
    #[error("the terminal: {0}")]
    Terminal(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SendError {
    /// Whether trying again later cannot succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::NotRunning(_) | SendError::WrongChannel(_))
    }
}

/// A boxed future, as the ports of the channels return them (object-safe traits).
pub type Sending<'a, T> = Pin<Box<dyn Future<Output = Result<T, SendError>> + Send + 'a>>;

/// Delivers notices to chats (the channels' side). [`Notifiers`] routes each chat to its
/// channel's notifier.
pub trait Notifier: Send + Sync + 'static {
    fn notify<'a>(&'a self, chat: &'a ChatKey, lang: Lang, notice: &'a Notice) -> Sending<'a, Delivery>;
}

/// The notifier of each running channel: a notice goes out through the channel of its chat.
#[derive(Default, Clone)]
pub struct Notifiers {
    routes: Vec<(Channel, Arc<dyn Notifier>)>,
}

impl Notifiers {
    pub fn new() -> Notifiers {
        Notifiers::default()
    }

    /// Sends the notices of `channel`'s chats through `notifier`.
    pub fn route(mut self, channel: Channel, notifier: Arc<dyn Notifier>) -> Notifiers {
        self.routes.retain(|(c, _)| *c != channel);
        self.routes.push((channel, notifier));
        self
    }

    fn notifier(&self, channel: Channel) -> Option<&Arc<dyn Notifier>> {
        self.routes.iter().find(|(c, _)| *c == channel).map(|(_, n)| n)
    }
}

impl Notifier for Notifiers {
    fn notify<'a>(&'a self, chat: &'a ChatKey, lang: Lang, notice: &'a Notice) -> Sending<'a, Delivery> {
        match self.notifier(chat.channel()) {
            Some(notifier) => notifier.notify(chat, lang, notice),
            None => {
                let channel = chat.channel();
                Box::pin(async move { Err(SendError::NotRunning(channel)) })
            }
        }
    }
}

/// How many times a notice is tried before it is given up (about an hour in all).
pub const MAX_SEND_ATTEMPTS: u32 = 8;
/// How long a notice that was sent is kept (its id stops it being recorded again).
const DONE_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often notices sent long ago are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// The wait before the next try of a notice tried `attempts` times: 30 s, doubling, at most 30 min.
fn retry_delay(attempts: u32) -> Duration {
    (Duration::from_secs(30) * 2u32.saturating_pow(attempts.min(10))).min(Duration::from_secs(1800))
}

/// How the sender works.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// How long a claim lasts unless renewed (renewed every third of it while held).
    pub claim: Duration,
    /// Entries claimed at once.
    pub batch: usize,
    /// How often the outbox is looked at when nothing wakes the sender.
    pub tick: Duration,
    /// Sends in flight at once, all chats together.
    pub concurrency: usize,
    /// Entries this instance holds at most (claimed, sending or waiting for their chat's turn):
    /// beyond, it claims no more until some are done, and other instances take them.
    pub max_held: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            // Short, because it is renewed (every 5 s) for as long as it is held: a dead
            // instance's notices are sent by another within 15 s.
            claim: Duration::from_secs(15),
            batch: 100,
            tick: Duration::from_secs(1),
            concurrency: 64,
            max_held: 2000,
        }
    }
}

/// The sender. Share it (`Arc`): [`Outbox::run`] is its loop.
pub struct Outbox {
    store: Store,
    notifier: Arc<dyn Notifier>,
    config: OutboxConfig,
    clock: Clock,
    /// This sender's name in its claims (the fencing token).
    holder: String,
    /// The entries this sender has claimed and not finished, renewed while held; `true` once
    /// their send has started.
    held: Mutex<HashMap<String, bool>>,
    /// One queue per chat: a chat's notices go out one after another, chats side by side.
    queues: ChatQueues<ChatKey>,
    slots: Arc<tokio::sync::Semaphore>,
    /// Set at shutdown: notices still waiting for their chat's turn are left for the next sender.
    stopping: tokio_util::sync::CancellationToken,
}

impl Outbox {
    pub fn new(store: Store, notifier: Arc<dyn Notifier>, config: OutboxConfig) -> Outbox {
        static SENDERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SENDERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let holder = format!("{}:{}:outbox{n}", crate::store::instance_id(), std::process::id());
        let slots = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
        Outbox {
            store,
            notifier,
            config,
            clock: Clock::new(),
            holder,
            held: Mutex::new(HashMap::new()),
            queues: ChatQueues::new(),
            slots,
            stopping: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// This sender's name in the store's claims.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, bool>> {
        // The map stays consistent even if a thread panicked while holding the lock.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many entries this sender holds (claimed and not finished).
    pub fn holding(&self) -> usize {
        self.held().len()
    }

    /// Claims the entries due at `now` (one batch) and queues each behind its chat's earlier
    /// ones; returns how many were claimed.
    async fn claim(self: &Arc<Self>, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let room = self.config.max_held.saturating_sub(self.holding()).min(self.config.batch);
        if room == 0 {
            return Ok(0);
        }
        let until = later(now, self.config.claim);
        let claimed = self.store.claim_outgoing_for(&self.holder, now, until, room).await?;
        let count = claimed.len();
        for outgoing in claimed {
            self.held().insert(outgoing.id.clone(), false);
            let this = self.clone();
            self.queues.push(outgoing.chat.clone(), async move { this.send(outgoing).await });
        }
        Ok(count)
    }

    /// Sends the notices due now and waits until each has been tried; returns how many were
    /// tried (tests, benchmarks and the demo, which have no [`Outbox::run`] loop).
    pub async fn send_due(self: &Arc<Self>) -> Result<usize, StoreError> {
        self.send_due_at(self.now()).await
    }

    /// [`Outbox::send_due`] as of `now` (a benchmark's simulated day).
    pub async fn send_due_at(self: &Arc<Self>, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut tried = 0;
        loop {
            let claimed = self.claim(now).await?;
            tried += claimed;
            self.queues.finish().await;
            if claimed < self.config.batch {
                return Ok(tried);
            }
        }
    }

    /// Hands a notice to the chat's channel, then marks it done (if this sender still holds it);
    /// a failure is tried again later (backing off), and given up after [`MAX_SEND_ATTEMPTS`].
    async fn send(&self, outgoing: Outgoing) {
        if self.stopping.is_cancelled() {
            return; // still held: given back by `release`
        }
        let id = outgoing.id.clone();
        self.held().insert(id.clone(), true);
        if let Err(e) = self.try_send(outgoing).await {
            // A reminder's id holds its reference: masked.
            let id = crate::domain::reference::mask_numbers(&id);
            tracing::error!(id, error = %e, "a notice's outcome could not be stored");
        }
        self.held().remove(&id);
    }

    async fn try_send(&self, outgoing: Outgoing) -> Result<(), StoreError> {
        let chat = &outgoing.chat;
        let holder = Some(self.holder.clone());
        let notice: Notice = match serde_json::from_value(outgoing.notice.clone()) {
            Ok(notice) => notice,
            Err(e) => {
                let id = crate::domain::reference::mask_numbers(&outgoing.id);
                tracing::error!(%chat, id, error = %e, "an unreadable notice in the outbox: dropped");
                let change = OutgoingChange::Done { at: self.now() };
                return self.store.commit(Op::Outgoing { id: outgoing.id, change, holder }).await;
            }
        };
        let delivered = {
            // Held only while sending: a chat waiting for its turn takes no slot.
            let _slot = self.slots.acquire().await;
            self.notifier.notify(chat, outgoing.lang, &notice).await
        };
        let how = match &delivered {
            Ok(Delivery::Sent) => "sent",
            Ok(Delivery::Template) => "template",
            Ok(Delivery::Held) => "held",
            Ok(Delivery::NotSent) => "not_sent",
            Err(_) => "failed",
        };
        metrics::counter!("billbot_tracker_notified_total", "how" => how).increment(1);
        let now = self.now();
        let attempts = outgoing.attempts + 1;
        let change = match delivered {
            Ok(Delivery::Sent) => OutgoingChange::Done { at: now },
            Ok(how) => {
                tracing::info!(%chat, about = %notice.subject(), ?how, "notice delivered out of the conversation");
                OutgoingChange::Done { at: now }
            }
            Err(e) if e.is_permanent() || attempts >= MAX_SEND_ATTEMPTS => {
                metrics::counter!("billbot_notices_given_up_total").increment(1);
                // A network's refusal may quote what was sent (a reminder's reference).
                let error = crate::domain::reference::mask_numbers(&e.to_string());
                tracing::error!(%chat, about = %notice.subject(), attempts, error, "a notice could not be delivered: given up");
                OutgoingChange::Done { at: now }
            }
            Err(e) => {
                let wait = retry_delay(outgoing.attempts);
                let error = crate::domain::reference::mask_numbers(&e.to_string());
                tracing::warn!(%chat, about = %notice.subject(), error, ?wait, "a notice could not be delivered: trying again later");
                OutgoingChange::Retry { next_at: later(now, wait) }
            }
        };
        self.store.commit(Op::Outgoing { id: outgoing.id, change, holder }).await
    }

    /// Keeps this sender's claims alive: every entry it holds is due again a claim's length
    /// from now, so that no other instance takes it while it waits or is being sent.
    async fn renew(&self) {
        let ids: Vec<String> = self.held().keys().cloned().collect();
        if ids.is_empty() {
            return;
        }
        let until = later(self.now(), self.config.claim);
        match self.store.renew_outgoing(&self.holder, &ids, until).await {
            Ok(renewed) if renewed < ids.len() => {
                // Finished meanwhile (the usual case), or taken over after a stall.
                tracing::debug!(held = ids.len(), renewed, "outbox claims renewed");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "the outbox's claims could not be renewed"),
        }
    }

    /// Gives back what this sender holds and has not sent (at shutdown): due at once, for the
    /// next sender, rather than when the claims run out.
    async fn release(&self) {
        // Not one whose send has started: it may still go out, and must not go twice.
        let ids: Vec<String> =
            self.held().iter().filter(|(_, started)| !**started).map(|(id, _)| id.clone()).collect();
        if ids.is_empty() {
            return;
        }
        if let Err(e) = self.store.renew_outgoing(&self.holder, &ids, self.now()).await {
            tracing::warn!(error = %e, "unsent notices could not be given back: they wait for their claims to run out");
        }
    }

    /// Sends due notices until `shutdown` completes: at every tick, and at once when the store
    /// records new ones. Also renews the claims held, and sweeps notices sent long ago.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let written = self.store.outbox_written();
        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut renewals = tokio::time::interval(self.config.claim / 3);
        renewals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        renewals.tick().await;
        let mut sweeps = tokio::time::interval(SWEEP_EVERY);
        sweeps.tick().await;
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticker.tick() => {}
                () = written.notified() => {}
                _ = renewals.tick() => {
                    self.renew().await;
                    continue;
                }
                _ = sweeps.tick() => {
                    let before = self.now() - chrono::Duration::from_std(DONE_KEPT).unwrap_or_default();
                    match self.store.sweep_outgoing(before).await {
                        Ok(swept) => tracing::debug!(swept, "notices sent long ago forgotten"),
                        Err(e) => tracing::error!(error = %e, "the outbox could not be swept"),
                    }
                    continue;
                }
            }
            // A full batch: more may be due; claim again (up to what this sender may hold).
            loop {
                match self.claim(self.now()).await {
                    Ok(n) if n > 0 && n == self.config.batch => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "the outbox could not be read");
                        break;
                    }
                }
            }
        }
        // The sends in hand finish (a few seconds at most); the rest is given back.
        self.stopping.cancel();
        if tokio::time::timeout(Duration::from_secs(5), self.queues.finish()).await.is_err() {
            tracing::warn!("notices still being sent at shutdown were cut off");
        }
        self.release().await;
    }
}
