//! The bot itself, independent of any chat network. A channel turns what a user sent into an
//! [`Incoming`], calls [`Bot::handle`], and shows the [`Reply`]s it gets back.
//!
//! `handle` loads the chat's state and language from the store, runs one step of the dialogue
//! ([`flow`]), stores the new state and whatever the user was told, flushes, and only then
//! returns the replies: what a user saw survives a `kill -9`.

mod bill;
mod bot_inner;
mod flow;
mod forget;
pub mod input;
pub mod limits;
mod lists;
mod menus;
pub mod notices;
mod order;
pub mod payload;
pub mod payload_key;
mod reminders;
pub mod reply;
mod saved;
mod session;
pub mod state;
pub mod support;
mod support_settings;
mod ticket_ids;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use bot_inner::{BotInner, ProviderCalls};
pub use bot_inner::{PROVIDER_CALL_WAIT, PROVIDER_CALLS, WAITING_NOTE_AFTER};
pub use forget::FORGETS_PER_DAY;
pub use input::Input;
pub use payload::Action;
pub use payload_key::{PayloadKey, PayloadKeys};
pub use reply::{Button, Interim, Note, Reply};
use session::Session;
pub use state::State;

pub use crate::domain::{Capabilities, ChatKey, Role};

use crate::i18n::Lang;
use crate::outbox::Notice;
use crate::store::{Batch, ChatLease, HeldId, Op, Store, StoreError, TurnStart};
use crate::t;
use crate::tracking::Tracker;
use crate::upstream::{InquiryClient, StatusClient};

/// One thing a user sent, with what the channel knows about them.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub chat: ChatKey,
    /// The client's language code (`fr`, `en-US`…), used until the chat picks one with /lang.
    pub lang_code: Option<String>,
    pub role: Role,
    pub input: Input,
    /// When the user sent it, as the channel dates it (now, when the channel does not say).
    pub sent_at: Option<DateTime<Utc>>,
    /// The id of an inbound message the store keeps until it is handled (see
    /// [`Store::inbox_take`]): the step marks it handled in the same commit as its own writes.
    pub inbox_id: Option<String>,
    /// The text of the bot's own message this one replies to (Telegram; a channel passes no other
    /// sender's), which in the support chat names the ticket answered.
    pub reply_to: Option<String>,
    /// The sender's first name, shown to customers only if operators chose to name agents.
    pub sender_name: Option<String>,
    /// The sender's user id on the channel, as the network verified it (Telegram's user id,
    /// WhatsApp's `wa_id`): in the support chat, only listed agents may act as support.
    pub sender_id: Option<String>,
    /// The message's text as typed, when `input` may have read a keyword in it.
    pub typed: Option<String>,
    /// How the step may reach the chat before the turn ends (the note that a lookup waits its
    /// turn); `None`: it says everything in the turn's replies.
    pub interim: Option<Interim>,
}

impl Incoming {
    /// `input` from a customer of `chat` whose client tells no language.
    pub fn new(chat: ChatKey, input: Input) -> Incoming {
        Incoming {
            chat,
            lang_code: None,
            role: Role::Customer,
            input,
            sent_at: None,
            inbox_id: None,
            reply_to: None,
            sender_name: None,
            sender_id: None,
            typed: None,
            interim: None,
        }
    }

    /// A step of this input may send `interim` replies before the turn ends.
    pub fn interim(mut self, interim: Interim) -> Incoming {
        self.interim = Some(interim);
        self
    }

    /// Sent by the user with id `id` on the channel (see [`Incoming::sender_id`]).
    pub fn sent_by(mut self, id: impl Into<String>) -> Incoming {
        self.sender_id = Some(id.into());
        self
    }

    /// The text as typed (a channel that read a keyword in it keeps the words too).
    pub fn typed(mut self, text: impl Into<String>) -> Incoming {
        self.typed = Some(text.into());
        self
    }

    /// A reply to the bot's message whose text is `text`, sent by `sender`.
    pub fn replying(mut self, text: Option<String>, sender: Option<String>) -> Incoming {
        self.reply_to = text;
        self.sender_name = sender;
        self
    }

    pub fn lang_code(mut self, code: impl Into<String>) -> Incoming {
        self.lang_code = Some(code.into());
        self
    }

    pub fn role(mut self, role: Role) -> Incoming {
        self.role = role;
        self
    }
}

/// How stale the stored time of a chat's last message may be.
const INBOUND_PRECISION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// What one input produced: the replies, and the language they are in (a channel's renderer
/// may add words of its own, such as a list's button).
#[derive(Debug, Clone)]
pub struct Turn {
    pub lang: Lang,
    pub replies: Vec<Reply>,
}

/// The bot: the provider clients and the store. Cheap to clone; share one across channels.
#[derive(Clone)]
pub struct Bot {
    inner: Arc<BotInner>,
}

impl Bot {
    pub fn new(inquiry: InquiryClient, status: StatusClient, store: Store) -> Bot {
        Bot {
            inner: Arc::new(BotInner {
                inquiry,
                status,
                payloads: PayloadKeys::new(store.clone()),
                store,
                tracker: None,
                limits: Default::default(),
                calls: ProviderCalls::default(),
                test_data: Default::default(),
                chats: Mutex::new(HashMap::new()),
                support: None,
            }),
        }
    }

    /// A bot that offers "notify me" on orders still in progress, through `tracker`.
    pub fn with_tracker(
        inquiry: InquiryClient,
        status: StatusClient,
        store: Store,
        tracker: Arc<Tracker>,
    ) -> Bot {
        let chats = Mutex::new(HashMap::new());
        let tracker = Some(tracker);
        let test_data = Default::default();
        let limits = Default::default();
        let calls = ProviderCalls::default();
        let support = None;
        let payloads = PayloadKeys::new(store.clone());
        Bot {
            inner: Arc::new(BotInner {
                inquiry,
                status,
                payloads,
                store,
                tracker,
                limits,
                calls,
                test_data,
                chats,
                support,
            }),
        }
    }

    /// This bot, with these lookup limits (before it is first cloned).
    pub fn with_limits(mut self, limits: limits::LookupLimits) -> Bot {
        Arc::get_mut(&mut self.inner).expect("limits are set before the bot is shared").limits = limits;
        self
    }

    /// This bot, with at most `max` provider calls from chats in flight (the ceiling of the
    /// adaptive limit), a lookup refused when it would wait more than `wait` (the provider's
    /// timeout) for its turn (before it is first cloned).
    pub fn with_provider_calls(mut self, max: usize, wait: std::time::Duration) -> Bot {
        let inner = Arc::get_mut(&mut self.inner).expect("the limit is set before the bot is shared");
        inner.calls = ProviderCalls::new(max, wait);
        self
    }

    /// This bot, telling a user whose lookup has waited `after` for its turn that it is coming
    /// (before it is first cloned; set after [`Bot::with_provider_calls`]).
    pub fn with_waiting_note(mut self, after: std::time::Duration) -> Bot {
        let inner = Arc::get_mut(&mut self.inner).expect("the note is set before the bot is shared");
        inner.calls.note_after(after);
        self
    }

    /// This bot, handing customers over to `support` (before it is first cloned).
    pub fn with_support(mut self, support: Option<support::Support>) -> Bot {
        Arc::get_mut(&mut self.inner).expect("support is set before the bot is shared").support = support;
        self
    }

    /// This bot, saying in every turn's first reply that it answers from test data.
    pub fn saying_test_data(self) -> Bot {
        self.inner.test_data.store(true, std::sync::atomic::Ordering::Relaxed);
        self
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The payload a button of `action` carries in `chat`'s messages, signed as this bot signs
    /// it (tests and benchmarks press buttons that way; the bot's own replies are signed already).
    pub async fn payload(&self, chat: &ChatKey, action: &Action) -> Result<String, StoreError> {
        Ok(action.sealed(self.inner.payloads.get().await?, chat))
    }

    /// Whether customers can be handed over to a support chat.
    pub fn has_support(&self) -> bool {
        self.inner.support.is_some()
    }

    fn chat_lock(&self, chat: &ChatKey) -> Arc<tokio::sync::Mutex<()>> {
        // A poisoned map only means another thread panicked while holding it; the map itself
        // is still consistent, so keep using it.
        let mut chats = self.inner.chats.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(lock) = chats.get(chat).and_then(Weak::upgrade) {
            return lock;
        }
        // Forget the locks of chats no longer in flight, now and then (amortized O(1)).
        if chats.len() >= 64 && chats.len().is_power_of_two() {
            chats.retain(|_, weak| weak.strong_count() > 0);
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        chats.insert(chat.clone(), Arc::downgrade(&lock));
        lock
    }

    /// An update dropped by flood control: it is marked handled (no instance takes it up later)
    /// and, when `warn`, the chat is told in its language to slow down. Nothing else changes.
    pub async fn refuse(
        &self,
        chat: &ChatKey,
        inbox_id: Option<String>,
        lang_code: Option<&str>,
        warn: bool,
    ) -> Turn {
        let store = &self.inner.store;
        if let Some(id) = inbox_id
            && let Err(e) = store.commit(Op::InboxDone { id }).await
        {
            tracing::error!(%chat, error = %e, "a dropped update could not be marked handled");
        }
        let chosen = store.prefs(chat).await.ok().and_then(|prefs| prefs.lang);
        let lang = chosen.unwrap_or_else(|| lang_code.map(Lang::from_code).unwrap_or_default());
        let replies = if warn { vec![Reply::text(t!(lang, "flood-slow-down"))] } else { Vec::new() };
        Turn { lang, replies }
    }

    /// Handles one input and returns what to show. Never fails: a broken store or any other
    /// internal error becomes a localized "something went wrong" reply, logged with its cause.
    pub async fn handle(&self, incoming: Incoming) -> Vec<Reply> {
        self.turn(incoming).await.replies
    }

    /// [`Bot::handle`], with the language of the replies.
    ///
    /// Besides the step itself: the time of the user's message is kept (WhatsApp's 24-hour
    /// window counts from it), notices held for the chat come first, a first contact on a channel
    /// that tells no language gets a bilingual greeting, and an inbound message id is marked
    /// handled. All of it is written and flushed before the replies are returned.
    pub async fn turn(&self, incoming: Incoming) -> Turn {
        let lock = self.chat_lock(&incoming.chat);
        let _turn = lock.lock().await;
        let store = &self.inner.store;
        let chat = &incoming.chat;
        let lang_code = incoming.lang_code.as_deref();
        let lease = match self.take_chat(chat, lang_code).await {
            Ok(lease) => lease,
            Err(turn) => return turn,
        };
        let start = match store.turn_start::<State>(chat, incoming.inbox_id.as_deref()).await {
            Ok(start) => start,
            Err(e) => return self.unreadable(chat, lang_code, lease, e).await,
        };
        // A redelivered update, or a message another instance has handled meanwhile: nothing to do.
        if !start.pending {
            count(chat, "duplicate");
            tracing::info!(%chat, "an update handled before: not handled again");
            store.unlock(lease).await;
            return Turn { lang: Lang::default(), replies: Vec::new() };
        }
        Box::pin(self.step(incoming, start, lease, false)).await.0
    }

    /// Takes `chat`'s turn and handles its oldest message waiting in the store's inbox (stored as
    /// `M`, read by the core as `incoming_of` says), whichever instance took it in. `on_start` is
    /// told which message it is before the step runs. The chat is kept (across instances) until
    /// [`Bot::end_turn`], so that the caller delivers the replies before the chat's next turn
    /// starts anywhere. `lang_code` words an apology if the chat cannot be taken or read.
    pub async fn next_turn<M: DeserializeOwned>(
        &self,
        chat: &ChatKey,
        lang_code: Option<&str>,
        incoming_of: impl FnOnce(&M) -> Incoming,
        on_start: impl FnOnce(&M),
    ) -> NextTurn<M> {
        let lock = self.chat_lock(chat);
        let _turn = lock.lock().await;
        // The lease and what the step starts from, read at once (one statement in PostgreSQL).
        let (lease, start, next) = match self.inner.store.take_turn::<State, M>(chat).await {
            Ok(taken) => taken,
            Err(e) => {
                count(chat, "failed");
                tracing::error!(%chat, error = %e, "the chat could not be taken for this step");
                let lang = lang_code.map(Lang::from_code).unwrap_or_default();
                return NextTurn::Failed(Turn {
                    lang,
                    replies: vec![Reply::text(t!(lang, "error-internal"))],
                });
            }
        };
        let Some((_, message)) = next else {
            // Handled meanwhile, by this instance or another.
            self.inner.store.release(lease);
            return NextTurn::Idle;
        };
        on_start(&message);
        // Boxed: the step's state lives on the heap only while it runs, rather than in every
        // queued turn's future (docs/performance.md, "Memory a chat").
        let (turn, lease) = Box::pin(self.step(incoming_of(&message), start, lease, true)).await;
        NextTurn::Taken { message, turn, lease }
    }

    /// Gives back the chat kept by [`Bot::next_turn`] once its replies are delivered.
    pub async fn end_turn(&self, lease: Option<ChatLease>) {
        if let Some(lease) = lease {
            self.inner.store.release(lease);
        }
    }

    /// Takes the chat for one step, across instances; or the apology to give when it cannot be.
    async fn take_chat(&self, chat: &ChatKey, lang_code: Option<&str>) -> Result<ChatLease, Turn> {
        self.inner.store.lock_chat(chat).await.map_err(|e| {
            count(chat, "failed");
            tracing::error!(%chat, error = %e, "the chat could not be taken for this step");
            let lang = lang_code.map(Lang::from_code).unwrap_or_default();
            Turn { lang, replies: vec![Reply::text(t!(lang, "error-internal"))] }
        })
    }

    /// The apology when the chat's state cannot be read; the chat is given back.
    async fn unreadable(
        &self,
        chat: &ChatKey,
        lang_code: Option<&str>,
        lease: ChatLease,
        e: StoreError,
    ) -> Turn {
        count(chat, "failed");
        tracing::error!(%chat, error = %e, "the chat's state could not be read");
        self.inner.store.unlock(lease).await;
        let lang = lang_code.map(Lang::from_code).unwrap_or_default();
        Turn { lang, replies: vec![Reply::text(t!(lang, "error-internal"))] }
    }

    /// One step from `start`, committed with its lease's end, or, when `keep`, with the lease
    /// kept (returned, for the caller to end once the replies are out). A step whose commit fails
    /// gives the chat back and answers with the menu and an apology.
    async fn step(
        &self,
        incoming: Incoming,
        start: TurnStart<State>,
        lease: ChatLease,
        keep: bool,
    ) -> (Turn, Option<ChatLease>) {
        let store = &self.inner.store;
        let chat = &incoming.chat;
        let started = std::time::Instant::now();
        let now = Utc::now();
        let prefs = start.prefs;
        let lang = prefs
            .lang
            .unwrap_or_else(|| incoming.lang_code.as_deref().map(Lang::from_code).unwrap_or_default());
        let stored = start.dialogue;
        let caps = chat.channel().capabilities();
        let first_contact = !caps.knows_user_language && stored.is_none() && prefs.last_inbound_at.is_none();
        let mut session = Session {
            bot: &self.inner,
            chat,
            lang,
            role: incoming.role,
            caps,
            state: stored.unwrap_or_default(),
            now,
            prefs,
            writes: Batch::new(),
            interim: incoming.interim.clone(),
        };
        // The time of the user's last message, to the minute: WhatsApp's 24-hour window needs no
        // more, and rewriting it at every step cost 105 µs a step (a second tree in each flush).
        let sent_at = incoming.sent_at.unwrap_or(now);
        let stale = session.prefs.last_inbound_at.is_none_or(|last| sent_at - last >= INBOUND_PRECISION);
        let result = async {
            if stale {
                session.prefs.last_inbound_at = Some(sent_at);
                session.prefs.drop_expired(now.date_naive());
                // First: a step that changes the language rewrites these prefs after it.
                session.writes.push(Op::Prefs { chat: chat.clone(), prefs: session.prefs.clone() });
            }
            let held: Vec<(HeldId, Notice)> =
                if start.has_held { store.held(chat).await? } else { Vec::new() };
            let mut replies: Vec<Reply> = held.iter().map(|(_, n)| notices::reply(session.lang, n)).collect();
            if !held.is_empty() {
                let ids = held.into_iter().map(|(id, _)| id).collect();
                session.writes.push(Op::DropHeld { chat: chat.clone(), ids });
            }
            let support_chat = self.inner.support.as_ref().is_some_and(|sp| sp.chat == *chat);
            let step = if support_chat {
                let (reply_to, sender) = (incoming.reply_to.as_deref(), incoming.sender_name.as_deref());
                // An answer to a ticket is what it says, even when it starts like a keyword.
                let input = match (&incoming.input, reply_to, incoming.typed.clone()) {
                    (Input::Command { .. }, Some(_), Some(typed)) if !typed.trim_start().starts_with('/') => {
                        Input::Text(typed)
                    }
                    _ => incoming.input.clone(),
                };
                let from = support::Sender { name: sender, id: incoming.sender_id.as_deref() };
                Box::pin(support::agent_step(&mut session, input, reply_to, from)).await?
            } else if first_contact {
                Box::pin(flow::first_contact(&mut session, incoming.input.clone())).await?
            } else {
                Box::pin(flow::step(&mut session, incoming.input.clone())).await?
            };
            replies.extend(step);
            // Every button leaves signed for this chat (a notice held for it included).
            payload::seal_replies(&mut replies, self.inner.payloads.get().await?, chat);
            let end = if keep {
                lease.end_step_keeping(&session.state, incoming.inbox_id.clone())?
            } else {
                lease.end_step(&session.state, incoming.inbox_id.clone())?
            };
            session.writes.push(end);
            store.commit(std::mem::take(&mut session.writes)).await?;
            Ok::<_, StoreError>(replies)
        }
        .await;
        metrics::histogram!("billbot_step_seconds", "channel" => chat.channel().tag())
            .record(started.elapsed().as_secs_f64());
        count(chat, if result.is_ok() { "answered" } else { "failed" });
        let (mut replies, lease) = match result {
            Ok(replies) => (replies, keep.then_some(lease)),
            Err(e) => {
                tracing::error!(%chat, error = %e, "a step could not be stored");
                store.unlock(lease).await;
                (vec![menus::main_menu(&session, t!(session.lang, "error-internal"))], None)
            }
        };
        if self.inner.test_data.load(std::sync::atomic::Ordering::Relaxed)
            && let Some(first) = replies.first_mut()
        {
            first.text = format!("{}\n\n{}", t!(session.lang, "sandbox-notice"), first.text);
        }
        (Turn { lang: session.lang, replies }, lease)
    }
}

/// Counts a handled input by channel and outcome (`billbot_updates_total`).
fn count(chat: &ChatKey, outcome: &'static str) {
    metrics::counter!("billbot_updates_total", "channel" => chat.channel().tag(), "outcome" => outcome)
        .increment(1);
}

/// What [`Bot::next_turn`] found.
pub enum NextTurn<M> {
    /// No message of the chat waits (handled meanwhile).
    Idle,
    /// The chat could not be taken or read: the apology to give. The message stays in the inbox.
    Failed(Turn),
    /// The oldest waiting message was handled: the replies to deliver, and the chat, kept until
    /// [`Bot::end_turn`].
    Taken { message: M, turn: Turn, lease: Option<ChatLease> },
}
