//! The web chat: a page billbot serves at `/`, and `/widget.js`, which puts that page in a panel
//! on a biller's own site (an iframe, so the host page's styles cannot reach it). A session is a
//! signed token ([`session`]); the bot's messages come down a Server-Sent Events stream and each
//! of the user's goes up in a POST (docs/decisions.md, "The web chat"). What the page shows is
//! the store's log of the conversation ([`crate::store::Store::web_log_append`]): delivering is
//! writing a line there and waking the chat's open streams.

pub mod api;
pub mod page;
pub mod render;
pub mod session;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use self::render::WebMessage;
use self::session::SessionKeys;
use crate::channels::intake::{Edge, Inbound, Intake};
use crate::conversation::Turn;
use crate::conversation::notices;
use crate::conversation::payload_key::PayloadKeys;
use crate::domain::{Channel, ChatKey};
use crate::i18n::Lang;
use crate::outbox::{Delivery, Notice, Notifier, SendError, Sending};
use crate::store::Store;

/// The longest message a user may send, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// A line of the conversation as the page shows it and the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Line {
    /// What the user typed or pressed, with the id the page gave it (the page shows its own
    /// message at once and matches this copy to it).
    User { id: String, text: String },
    /// A bubble of the bot's.
    Bot(WebMessage),
}

/// The chats with a page open here, each woken when a line is written for it.
#[derive(Default)]
pub struct Live {
    chats: Mutex<HashMap<ChatKey, Arc<Notify>>>,
}

impl Live {
    /// The chat's bell, shared by its open streams.
    pub fn watch(&self, chat: &ChatKey) -> Arc<Notify> {
        self.lock().entry(chat.clone()).or_default().clone()
    }

    /// A stream of `chat` closes: the bell goes when nobody else listens.
    pub fn unwatch(&self, chat: &ChatKey, bell: Arc<Notify>) {
        let mut chats = self.lock();
        // The map's copy and this one: nobody else.
        if Arc::strong_count(&bell) <= 2 {
            chats.remove(chat);
        }
    }

    /// Wakes the chat's open streams, if any.
    pub fn wake(&self, chat: &ChatKey) {
        if let Some(bell) = self.lock().get(chat) {
            bell.notify_waiters();
        }
    }

    /// Wakes every open stream (words about new lines may have been missed).
    pub fn wake_all(&self) {
        for bell in self.lock().values() {
            bell.notify_waiters();
        }
    }

    /// Wakes the streams of the chats that other instances write for, as the store hears of
    /// them, until the store stops telling. For a store shared by several instances.
    pub async fn follow(self: Arc<Self>, mut written: tokio::sync::broadcast::Receiver<Option<String>>) {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match written.recv().await {
                Ok(Some(chat)) => {
                    if let Ok(chat) = chat.parse::<ChatKey>() {
                        self.wake(&chat);
                    }
                }
                Ok(None) | Err(RecvError::Lagged(_)) => self.wake_all(),
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// How many chats have a page open here.
    pub fn open(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ChatKey, Arc<Notify>>> {
        self.chats.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A bubble of the bot's, in `lang`.
fn bot_line(message: WebMessage, lang: Lang) -> Line {
    Line::Bot(WebMessage { lang: Some(lang.code().to_owned()), ..message })
}

/// The web channel's side of the intake and the outbox: replies and notices become lines of the
/// chat's log.
pub struct WebEdge {
    store: Store,
    live: Arc<Live>,
    payloads: PayloadKeys,
}

impl WebEdge {
    pub fn new(store: Store, live: Arc<Live>) -> WebEdge {
        let payloads = PayloadKeys::new(store.clone());
        WebEdge { store, live, payloads }
    }

    async fn write(&self, chat: &ChatKey, lines: Vec<Line>) -> Result<(), SendError> {
        if chat.channel() != Channel::Web {
            return Err(SendError::WrongChannel(chat.clone()));
        }
        self.store.web_log_append(chat, &lines, Utc::now()).await?;
        self.live.wake(chat);
        Ok(())
    }
}

impl Edge for WebEdge {
    fn deliver<'a>(&'a self, inbound: &'a Inbound, turn: &'a Turn) -> Sending<'a, ()> {
        Box::pin(async move {
            let lines =
                turn.replies.iter().flat_map(render::messages).map(|m| bot_line(m, turn.lang)).collect();
            self.write(&inbound.chat, lines).await
        })
    }
}

impl Notifier for WebEdge {
    /// The web chat's window is the session's life: a notice is always written, and a page that
    /// is not open finds it in the conversation when it comes back.
    fn notify<'a>(&'a self, chat: &'a ChatKey, lang: Lang, notice: &'a Notice) -> Sending<'a, Delivery> {
        Box::pin(async move {
            let reply = notices::sealed(&self.payloads, chat, lang, notice).await?;
            let lines = render::messages(&reply).into_iter().map(|m| bot_line(m, lang)).collect();
            self.write(chat, lines).await?;
            Ok(Delivery::Sent)
        })
    }
}

/// The web chat as the listener serves it.
#[derive(Clone)]
pub struct WebChat {
    inner: Arc<Inner>,
}

struct Inner {
    keys: SessionKeys,
    intake: Intake,
    store: Store,
    live: Arc<Live>,
    /// Origins that may put the page in a frame (the widget), besides the page's own.
    origins: Vec<String>,
    /// Cancelled when the app stops: open streams end at once (their pages reconnect to another
    /// instance, or to this one when it is back), rather than hold the shutdown.
    stopping: tokio_util::sync::CancellationToken,
}

impl WebChat {
    pub fn new(
        keys: SessionKeys,
        intake: Intake,
        store: Store,
        live: Arc<Live>,
        origins: Vec<String>,
    ) -> WebChat {
        let stopping = tokio_util::sync::CancellationToken::new();
        WebChat { inner: Arc::new(Inner { keys, intake, store, live, origins, stopping }) }
    }

    /// Ends the open streams: the app is stopping.
    pub fn stop(&self) {
        self.inner.stopping.cancel();
    }

    /// The page, the widget and the API, for the listener.
    pub fn router(&self) -> axum::Router {
        api::router(self.clone()).merge(page::router(self.inner.origins.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_chats_bell_rings_its_streams_and_goes_with_the_last_of_them() {
        let live = Live::default();
        let chat: ChatKey = "web:0123".parse().unwrap();
        let (first, second) = (live.watch(&chat), live.watch(&chat));
        assert!(Arc::ptr_eq(&first, &second), "one bell a chat");
        {
            let rung = first.notified();
            tokio::pin!(rung);
            rung.as_mut().enable();
            live.wake(&"web:other".parse().unwrap());
            assert!(futures_util::FutureExt::now_or_never(rung.as_mut()).is_none(), "another chat's line");
            live.wake(&chat);
            assert!(futures_util::FutureExt::now_or_never(rung.as_mut()).is_some());
        }
        live.unwatch(&chat, first);
        assert_eq!(live.open(), 1, "the second stream still listens");
        live.unwatch(&chat, second);
        assert_eq!(live.open(), 0);
    }
}
