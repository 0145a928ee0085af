//! The bot itself, independent of any chat network. A channel turns what a user sent into an
//! [`Incoming`], calls [`Bot::handle`], and shows the [`Reply`]s it gets back.
//!
//! `handle` loads the chat's state and language from the store, runs one step of the dialogue
//! ([`flow`]), stores the new state and whatever the user was told, flushes, and only then
//! returns the replies: what a user saw survives a `kill -9`.

mod bill;
mod flow;
pub mod input;
mod lists;
mod menus;
pub mod notices;
mod order;
pub mod payload;
pub mod reply;
mod saved;
pub mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use chrono::{DateTime, Utc};

pub use input::Input;
pub use payload::Action;
pub use reply::{Button, Reply};
pub use state::State;

pub use crate::domain::{Capabilities, ChatKey, Role};

use crate::i18n::Lang;
use crate::store::Store;
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
}

impl Incoming {
    /// `input` from a customer of `chat` whose client tells no language.
    pub fn new(chat: ChatKey, input: Input) -> Incoming {
        Incoming { chat, lang_code: None, role: Role::Customer, input }
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

pub(crate) struct BotInner {
    inquiry: InquiryClient,
    status: StatusClient,
    store: Store,
    /// Present when order tracking runs: enables "notify me".
    pub(crate) tracker: Option<Arc<Tracker>>,
    /// One lock per chat in use: a chat's inputs are handled one after another even if a
    /// channel delivers them concurrently; different chats never wait for each other.
    chats: Mutex<HashMap<ChatKey, Weak<tokio::sync::Mutex<()>>>>,
}

/// What one step works with.
pub(crate) struct Session<'a> {
    pub bot: &'a BotInner,
    pub chat: &'a ChatKey,
    pub lang: Lang,
    pub role: Role,
    /// What the chat's channel can show.
    pub caps: &'static Capabilities,
    pub state: State,
    pub now: DateTime<Utc>,
}

impl Bot {
    pub fn new(inquiry: InquiryClient, status: StatusClient, store: Store) -> Bot {
        Bot {
            inner: Arc::new(BotInner {
                inquiry,
                status,
                store,
                tracker: None,
                chats: Mutex::new(HashMap::new()),
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
        Bot { inner: Arc::new(BotInner { inquiry, status, store, tracker: Some(tracker), chats }) }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
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

    /// Handles one input and returns what to show. Never fails: a broken store or any other
    /// internal error becomes a localized "something went wrong" reply, logged with its cause.
    pub async fn handle(&self, incoming: Incoming) -> Vec<Reply> {
        self.turn(incoming).await.replies
    }

    /// [`Bot::handle`], with the language of the replies.
    pub async fn turn(&self, incoming: Incoming) -> Turn {
        let lock = self.chat_lock(&incoming.chat);
        let _turn = lock.lock().await;
        let store = &self.inner.store;
        let chat = &incoming.chat;
        let chosen = store.prefs(chat).map(|p| p.lang).unwrap_or_else(|e| {
            tracing::error!(%chat, error = %e, "preferences unreadable");
            None
        });
        let lang =
            chosen.unwrap_or_else(|| incoming.lang_code.as_deref().map(Lang::from_code).unwrap_or_default());
        let state = store.dialogue::<State>(chat).ok().flatten().unwrap_or_default();
        let mut session = Session {
            bot: &self.inner,
            chat,
            lang,
            role: incoming.role,
            caps: chat.channel().capabilities(),
            state,
            now: Utc::now(),
        };
        let result = flow::step(&mut session, incoming.input).await;
        let saved = match result {
            Ok(replies) => store.set_dialogue(chat, &session.state).map(|()| replies),
            Err(e) => Err(e),
        };
        let flushed = match saved {
            Ok(replies) => store.flush().await.map(|()| replies),
            Err(e) => Err(e),
        };
        let replies = flushed.unwrap_or_else(|e| {
            tracing::error!(%chat, error = %e, "a step could not be stored");
            vec![menus::main_menu(&session, t!(session.lang, "error-internal"))]
        });
        Turn { lang: session.lang, replies }
    }
}
