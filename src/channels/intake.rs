//! The one intake: how every message from a chat network reaches the conversation core, whatever
//! the channel. A channel parses its wire format into an [`Inbound`] and hands it to
//! [`Intake::take_in`]; it renders and delivers the replies through its [`Edge`]. Everything in
//! between is here, written once:
//!
//! - **The inbox.** A message is stored before the channel acknowledges it to its network (the
//!   webhook's 200, the long poll's next offset), under the channel's own id: a redelivery, to any
//!   instance, is recognized and handled once, and a message taken in by an instance that dies
//!   before handling it is handled by another (or by this one, restarted).
//! - **Order.** A chat's turn handles the chat's *oldest* unhandled message, in the channel's
//!   order (Telegram's `update_id`, WhatsApp's timestamp, then arrival), whichever instance took
//!   it in and whichever instance holds the chat's turn. Back-to-back messages that reach two
//!   instances are answered in the order they were sent. The turn keeps the chat (its lease, with
//!   PostgreSQL) until the replies are delivered, so the next message's answer never overtakes.
//! - **Flood admission.** A chat may have [`Flood::max_waiting`] messages waiting and send
//!   [`Flood::per_minute`] a minute; beyond, a message is marked handled unanswered and the chat
//!   is told once a minute to slow down.
//! - **Per-chat queues.** One chat's messages one after another, chats side by side
//!   ([`ChatQueues`]): a slow provider call in one chat never holds another.
//! - **Housekeeping**, for every deployment whatever channels it runs: idle chats' pace forgotten,
//!   messages left unhandled by a dead instance taken up (only chats no live instance holds),
//!   and message ids swept after [`DEDUPE_FOR`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::queue::{Admission, ChatQueues, Flood};
use crate::conversation::{Bot, Incoming, Input, Interim, NextTurn, Turn};
use crate::domain::{Channel, ChatKey, Role};
use crate::store::{Store, StoreError};

/// How long a message id is remembered: Meta redelivers for up to 7 days, Telegram for 24 hours.
pub const DEDUPE_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long a message taken in waits for a flush that makes it durable (with sled: its step's
/// commit, when the step is quick) before it is flushed on its own, and the network is answered.
const SETTLE_GRACE: Duration = Duration::from_millis(5);

/// How often housekeeping runs at most (less often than this only if messages may stay
/// unhandled longer before another instance takes them up).
const HOUSEKEEPING: Duration = Duration::from_secs(60);

/// How long the intake remembers that it acknowledged a message itself.
const ACKNOWLEDGED_FOR: Duration = Duration::from_secs(600);

/// A message as the intake keeps it in the store's inbox until a turn has handled it: what the
/// core needs (the [`Incoming`] it becomes) and what the channel needs to deliver the answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inbound {
    /// The channel's id of the message, unique across channels (`tg:update:42`, `wamid.…`).
    pub id: String,
    pub chat: ChatKey,
    /// The message's place in its chat, as the channel numbers or dates its messages.
    pub order: i64,
    pub input: Input,
    /// The client's language code, when the channel tells it.
    pub lang_code: Option<String>,
    pub agent: bool,
    /// When the user sent it, as the channel dates it.
    pub sent_at: Option<DateTime<Utc>>,
    /// When an instance took it in.
    pub received_at: DateTime<Utc>,
    /// The text of the bot's own message this one replies to (an agent answering a ticket): a
    /// channel keeps no reply to anyone else's message here.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// The message's words as typed, where `input` may have read a keyword in them.
    #[serde(default)]
    pub typed: Option<String>,
    /// The sender's first name.
    #[serde(default)]
    pub sender: Option<String>,
    /// The sender's user id on the channel, as the network verified it (Telegram's user id,
    /// WhatsApp's `wa_id`). Absent in messages kept before it existed: in the support chat they
    /// then act as nobody's.
    #[serde(default)]
    pub sender_id: Option<String>,
    /// What the channel needs to deliver the answer, in its own terms (the message whose button
    /// was pressed, the callback query to answer).
    #[serde(default)]
    pub context: serde_json::Value,
}

impl Inbound {
    /// A message `id` of `chat`, at `order`, taken in now.
    pub fn new(id: impl Into<String>, chat: ChatKey, order: i64, input: Input) -> Inbound {
        Inbound {
            id: id.into(),
            chat,
            order,
            input,
            lang_code: None,
            agent: false,
            sent_at: None,
            received_at: Utc::now(),
            reply_to: None,
            typed: None,
            sender: None,
            sender_id: None,
            context: serde_json::Value::Null,
        }
    }

    /// What the core is given.
    pub fn incoming(&self) -> Incoming {
        let mut incoming = Incoming::new(self.chat.clone(), self.input.clone())
            .role(if self.agent { Role::Agent } else { Role::Customer })
            .replying(self.reply_to.clone(), self.sender.clone());
        incoming.lang_code = self.lang_code.clone();
        incoming.sent_at = self.sent_at;
        incoming.inbox_id = Some(self.id.clone());
        incoming.typed = self.typed.clone();
        incoming.sender_id = self.sender_id.clone();
        incoming
    }
}

/// A boxed future, as [`Edge`]'s methods return them (the trait is object-safe).
pub type Doing<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What a channel does for the intake: deliver the core's replies in its wire format, and the
/// courtesies its network expects. Parsing the wire format into an [`Inbound`] is the channel's
/// own business, before [`Intake::take_in`].
pub trait Edge: Send + Sync + 'static {
    /// Sends a turn's replies to the chat `inbound` came from, in order, within the network's
    /// rules (length, buttons, pace, escaping).
    fn deliver<'a>(&'a self, inbound: &'a Inbound, turn: &'a Turn) -> crate::outbox::Sending<'a, ()>;

    /// Tells the user's client the message arrived, as soon as it is taken in (Telegram: answers
    /// a button press, which stops the client's spinner). Also called when this instance takes up a
    /// message another one took in and did not answer.
    fn acknowledge<'a>(&'a self, _inbound: &'a Inbound) -> Doing<'a> {
        Box::pin(async {})
    }

    /// The message's turn starts (WhatsApp: the read receipt and "typing…").
    fn started<'a>(&'a self, _inbound: &'a Inbound) -> Doing<'a> {
        Box::pin(async {})
    }

    /// Forgets the pace of chats that have been quiet (housekeeping).
    fn forget_idle(&self) {}
}

/// What the core is given for `message`: with a way to send a reply before the turn ends (the
/// note that a lookup waits its turn), through the chat's channel, when it runs here.
fn with_interim(message: &Inbound, edge: Option<Arc<dyn Edge>>) -> Incoming {
    let incoming = message.incoming();
    let Some(edge) = edge else { return incoming };
    let message = message.clone();
    incoming.interim(Interim::new(move |lang, reply| {
        let (edge, message) = (edge.clone(), message.clone());
        Box::pin(async move {
            let turn = Turn { lang, replies: vec![reply] };
            if let Err(e) = edge.deliver(&message, &turn).await {
                tracing::warn!(chat = %message.chat, error = %e, "a note could not be delivered");
            }
        })
    }))
}

/// What became of a message offered to [`Intake::take_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Stored and queued: it will be answered.
    Queued,
    /// Seen before (a redelivery): nothing done.
    Redelivered,
    /// Dropped by flood control (stored as handled: no instance takes it up later).
    Refused,
}

/// How long messages may wait and how often housekeeping runs.
#[derive(Debug, Clone)]
pub struct IntakeSettings {
    pub flood: Flood,
    /// How long a message may stay unhandled before any instance takes it up
    /// (`BILLBOT_RESUME_AFTER_SECS`).
    pub resume_after: Duration,
    /// How long message ids are remembered.
    pub dedupe_for: Duration,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        IntakeSettings {
            flood: Flood::default(),
            resume_after: Duration::from_secs(120),
            dedupe_for: DEDUPE_FOR,
        }
    }
}

impl IntakeSettings {
    /// How often housekeeping runs: often enough that a message is taken up soon after it is
    /// due to be.
    pub fn housekeeping_every(&self) -> Duration {
        HOUSEKEEPING.min(self.resume_after / 2).max(Duration::from_millis(500))
    }
}

/// The intake of every channel of this instance. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    inner: Arc<Inner>,
}

struct Inner {
    core: Bot,
    edges: HashMap<Channel, Arc<dyn Edge>>,
    settings: IntakeSettings,
    queues: ChatQueues<ChatKey>,
    /// Messages this instance acknowledged itself, and when.
    acknowledged: Mutex<HashMap<String, Instant>>,
}

impl Intake {
    /// The intake of the channels whose edges are given, on `core`.
    pub fn new(core: Bot, edges: HashMap<Channel, Arc<dyn Edge>>, settings: IntakeSettings) -> Intake {
        let queues = ChatQueues::bounded(settings.flood);
        let acknowledged = Mutex::new(HashMap::new());
        Intake { inner: Arc::new(Inner { core, edges, settings, queues, acknowledged }) }
    }

    pub fn core(&self) -> &Bot {
        &self.inner.core
    }

    pub fn store(&self) -> &Store {
        self.inner.core.store()
    }

    pub fn settings(&self) -> &IntakeSettings {
        &self.inner.settings
    }

    fn edge(&self, chat: &ChatKey) -> Option<&Arc<dyn Edge>> {
        self.inner.edges.get(&chat.channel())
    }

    fn acknowledged(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // The map stays consistent even if a thread panicked while holding the lock.
        self.inner.acknowledged.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `inbound` (once: a redelivery is recognized) and queues its chat's turn, unless the
    /// chat sends too fast. Returns once the message is durable, so that the channel may
    /// acknowledge it to its network.
    pub async fn take_in(&self, inbound: Inbound) -> Result<Taken, StoreError> {
        let store = self.store();
        let (id, chat, at) = (&inbound.id, &inbound.chat, inbound.received_at);
        if !store.inbox_take_unsettled(id, chat, inbound.order, &inbound, at).await? {
            tracing::info!(%chat, id, "a redelivered message: already taken in");
            return Ok(Taken::Redelivered);
        }
        if let Some(edge) = self.edge(chat).cloned() {
            // The user's side (a button's spinner): at once. The network's (the webhook's answer,
            // the next poll's offset) waits until the message is durable: when this returns.
            self.acknowledged().insert(inbound.id.clone(), Instant::now());
            let acknowledging = inbound.clone();
            self.inner.queues.spawn(async move { edge.acknowledge(&acknowledging).await });
        }
        let (this, trigger) = (self.clone(), inbound.clone());
        let admission = self.inner.queues.admit(chat.clone(), async move { this.turn(trigger, false).await });
        // The step just queued may make the message durable (its commit's flush covers it too);
        // otherwise a flush of its own after a moment.
        store.settle(SETTLE_GRACE).await?;
        match admission {
            Admission::Queued => Ok(Taken::Queued),
            Admission::Refused { warn } => {
                self.refuse(inbound, warn);
                Ok(Taken::Refused)
            }
        }
    }

    /// A message dropped by flood control: marked handled, and the chat told to slow down when
    /// `warn` (once a minute at most).
    fn refuse(&self, inbound: Inbound, warn: bool) {
        tracing::info!(chat = %inbound.chat, warn, "a message dropped: the chat sends too fast");
        self.acknowledged().remove(&inbound.id);
        let this = self.clone();
        self.inner.queues.spawn(async move {
            let core = this.core();
            let (chat, id) = (&inbound.chat, Some(inbound.id.clone()));
            let turn = core.refuse(chat, id, inbound.lang_code.as_deref(), warn).await;
            if !turn.replies.is_empty() {
                this.deliver(&inbound, &turn, "a \"slow down\"").await;
            }
        });
    }

    /// Takes the chat's turn and handles its oldest waiting message (which may not be `trigger`,
    /// the message that brought the turn here: an earlier one another instance took in comes
    /// first), delivers the replies, and gives the chat back. With `drain`, goes on while the
    /// chat has messages waiting (taking up what a restart or a dead instance left).
    async fn turn(&self, trigger: Inbound, drain: bool) {
        let chat = trigger.chat.clone();
        let edge = self.edge(&chat).cloned();
        loop {
            let on_start = |message: &Inbound| self.starting(message);
            let incoming_of = |message: &Inbound| with_interim(message, edge.clone());
            let next = self.core().next_turn(&chat, trigger.lang_code.as_deref(), incoming_of, on_start);
            match next.await {
                NextTurn::Idle => return,
                // Left in the inbox: taken up again by housekeeping.
                NextTurn::Failed(apology) => {
                    self.deliver(&trigger, &apology, "an apology").await;
                    return;
                }
                NextTurn::Taken { message, turn, lease } => {
                    self.deliver(&message, &turn, "a reply").await;
                    self.core().end_turn(lease).await;
                }
            }
            if !drain {
                return;
            }
        }
    }

    /// A message's turn starts: the network is told it was seen (and, if another instance took it
    /// in and did not, that it arrived).
    fn starting(&self, message: &Inbound) {
        let Some(edge) = self.edge(&message.chat).cloned() else { return };
        let acknowledged = self.acknowledged().remove(&message.id).is_some();
        let message = message.clone();
        self.inner.queues.spawn(async move {
            if !acknowledged {
                edge.acknowledge(&message).await;
            }
            edge.started(&message).await;
        });
    }

    /// Sends `turn`'s replies for `inbound` through its channel; a failure is logged (the user has
    /// been answered as far as the network allowed).
    async fn deliver(&self, inbound: &Inbound, turn: &Turn, what: &str) {
        let Some(edge) = self.edge(&inbound.chat) else {
            tracing::error!(chat = %inbound.chat, "a message of a channel that is not running here: not answered");
            return;
        };
        if let Err(e) = edge.deliver(inbound, turn).await {
            tracing::warn!(chat = %inbound.chat, error = %e, "{what} could not be delivered");
        }
    }

    /// Queues the turns of chats whose messages have waited at least `age` unhandled and that no
    /// instance is handling: at start, those of before the restart; later, those of an instance
    /// that died. A chat already busy here is left to its queue.
    pub async fn resume_older_than(&self, age: Duration) -> Result<usize, StoreError> {
        let before = Utc::now() - chrono::Duration::from_std(age).unwrap_or_default();
        let chats = self.store().inbox_stale_chats(before).await?;
        let mut count = 0;
        for chat in chats {
            if self.inner.queues.is_busy(&chat) {
                continue;
            }
            let this = self.clone();
            // No message of its own: the turn reads the chat's waiting ones.
            let trigger = Inbound::new("", chat.clone(), 0, Input::Text(String::new()));
            self.inner.queues.push(chat, async move { this.turn(trigger, true).await });
            count += 1;
        }
        if count > 0 {
            tracing::info!(chats = count, "messages taken in earlier are being handled");
        }
        Ok(count)
    }

    /// One round of housekeeping: idle chats' pace forgotten, messages left unhandled taken up,
    /// message ids older than [`IntakeSettings::dedupe_for`] swept.
    pub async fn housekeep(&self) {
        for edge in self.inner.edges.values() {
            edge.forget_idle();
        }
        self.inner.queues.forget_idle();
        let now = Instant::now();
        self.acknowledged().retain(|_, at| now.duration_since(*at) < ACKNOWLEDGED_FOR);
        if let Err(e) = self.resume_older_than(self.inner.settings.resume_after).await {
            tracing::error!(error = %e, "messages left unhandled could not be read");
        }
        let before =
            Utc::now() - chrono::Duration::from_std(self.inner.settings.dedupe_for).unwrap_or_default();
        match self.store().inbox_sweep(before).await {
            Ok(0) => {}
            Ok(swept) => tracing::debug!(swept, "old message ids forgotten"),
            Err(e) => tracing::error!(error = %e, "old message ids could not be swept"),
        }
    }

    /// Takes up what was left before a restart, then keeps house until `shutdown`; then lets the
    /// turns in hand finish.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        if let Err(e) = self.resume_older_than(Duration::ZERO).await {
            tracing::error!(error = %e, "messages taken in before the restart could not be read");
        }
        tokio::pin!(shutdown);
        let mut every = tokio::time::interval(self.inner.settings.housekeeping_every());
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = every.tick() => self.housekeep().await,
            }
        }
    }

    /// Waits until every queued turn has been handled (no more messages come in).
    pub async fn finish(&self) {
        self.inner.queues.finish().await;
    }

    /// How many chats have turns queued or running here.
    pub fn busy_chats(&self) -> usize {
        self.inner.queues.busy_chats()
    }
}
