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

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SubsecRound, Utc};
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

/// A line as the events stream sends it: `{"at", "line"}`, in JSON.
pub fn event_data(at: DateTime<Utc>, line: &impl Serialize) -> String {
    serde_json::json!({ "at": at, "line": line }).to_string()
}

/// How many of its newest lines a chat's bell keeps for its open streams: enough for a turn's
/// lines, which a woken stream takes at once, and few enough that 4,096 open pages of long
/// bills hold a few MiB. A stream that needs an older one reads the store.
const RECENT: usize = 8;

/// What a chat's open streams share: the bell rung when a line is written for the chat, and the
/// newest lines written here, ready to send, so that a stream does not read back from the store
/// what was just written to it.
#[derive(Default)]
pub struct Bell {
    rung: Notify,
    /// The newest lines written here: number, then the event's data.
    recent: Mutex<BTreeMap<i64, Arc<str>>>,
    /// Rings without lines (written by another instance, or maybe missed): a stream that has
    /// not seen this many reads the store.
    unknown: AtomicU64,
}

/// What a bell's recent lines say of the lines after a stream's last one.
#[derive(Debug, PartialEq)]
pub enum Recent {
    /// The lines right after it, in order.
    Lines(Vec<(i64, Arc<str>)>),
    /// None written here after it.
    Nothing,
    /// Some, but not the one right after it: the store has them.
    Gap,
}

impl Bell {
    /// Waits for the next ring, once enabled (see [`tokio::sync::futures::Notified::enable`]).
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.rung.notified()
    }

    /// How many rings without lines so far.
    pub fn unknown(&self) -> u64 {
        self.unknown.load(Ordering::Acquire)
    }

    /// The recent lines after `after`.
    pub fn after(&self, after: i64) -> Recent {
        let recent = self.recent();
        let mut lines = Vec::new();
        for (seq, data) in recent.range(after.saturating_add(1)..) {
            let expected = lines.last().map_or(after.saturating_add(1), |(last, _): &(i64, _)| last + 1);
            if *seq != expected {
                // A line is missing here: the first after `after` (numbers jump after a sweep),
                // or one between (its writer has not put it here yet).
                return if lines.is_empty() { Recent::Gap } else { Recent::Lines(lines) };
            }
            lines.push((*seq, data.clone()));
        }
        if lines.is_empty() { Recent::Nothing } else { Recent::Lines(lines) }
    }

    fn written(&self, lines: impl IntoIterator<Item = (i64, String)>) {
        {
            let mut recent = self.recent();
            for (seq, data) in lines {
                recent.insert(seq, data.into());
            }
            while recent.len() > RECENT {
                recent.pop_first();
            }
        }
        self.rung.notify_waiters();
    }

    fn ring_unknown(&self) {
        self.unknown.fetch_add(1, Ordering::AcqRel);
        self.rung.notify_waiters();
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Arc<str>>> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The chats with a page open here, each woken when a line is written for it.
#[derive(Default)]
pub struct Live {
    chats: Mutex<HashMap<ChatKey, Arc<Bell>>>,
}

impl Live {
    /// The chat's bell, shared by its open streams.
    pub fn watch(&self, chat: &ChatKey) -> Arc<Bell> {
        self.lock().entry(chat.clone()).or_default().clone()
    }

    /// A stream of `chat` closes: the bell goes when nobody else listens.
    pub fn unwatch(&self, chat: &ChatKey, bell: Arc<Bell>) {
        let mut chats = self.lock();
        // The map's copy and this one: nobody else.
        if Arc::strong_count(&bell) <= 2 {
            chats.remove(chat);
        }
    }

    /// Lines were written for `chat` here, numbered `numbers`, at `at`: handed to its open
    /// streams, if any (encoded only then).
    pub fn written(&self, chat: &ChatKey, numbers: &[i64], lines: &[Line], at: DateTime<Utc>) {
        let Some(bell) = self.lock().get(chat).cloned() else { return };
        bell.written(numbers.iter().zip(lines).map(|(seq, line)| (*seq, event_data(at, line))));
    }

    /// Wakes the chat's open streams, if any, to read what was written for it.
    pub fn wake(&self, chat: &ChatKey) {
        if let Some(bell) = self.lock().get(chat) {
            bell.ring_unknown();
        }
    }

    /// Wakes every open stream (words about new lines may have been missed).
    pub fn wake_all(&self) {
        for bell in self.lock().values() {
            bell.ring_unknown();
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

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ChatKey, Arc<Bell>>> {
        self.chats.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A bubble of the bot's, in `lang`.
fn bot_line(message: WebMessage, lang: Lang) -> Line {
    Line::Bot(WebMessage { lang: Some(lang.code().to_owned()), ..message })
}

/// How long the edge remembers that it wrote a message's line (longer than any turn lasts).
const WRITTEN_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// The web channel's side of the intake and the outbox: replies and notices become lines of the
/// chat's log.
pub struct WebEdge {
    store: Store,
    live: Arc<Live>,
    payloads: PayloadKeys,
    /// Each chat's last message whose own line is written (the message's id, and when): a turn
    /// that delivers twice (a note that the lookup waits, then the answer) writes it once.
    written: Mutex<HashMap<ChatKey, (String, std::time::Instant)>>,
}

impl WebEdge {
    pub fn new(store: Store, live: Arc<Live>) -> WebEdge {
        let payloads = PayloadKeys::new(store.clone());
        WebEdge { store, live, payloads, written: Mutex::default() }
    }

    fn written(&self) -> std::sync::MutexGuard<'_, HashMap<ChatKey, (String, std::time::Instant)>> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The user's own line of `inbound`, if the page sent one and it is not written yet. It
    /// travels in the inbox record ([`Inbound::context`]) and is written with the first of the
    /// bot's lines that answer it: one durable write a step, not two, and the page hears of both
    /// at once. (A message dropped by flood control without a word is not kept.)
    fn user_line(&self, inbound: &Inbound) -> Option<Line> {
        let line = serde_json::from_value::<Line>(inbound.context.clone()).ok()?;
        let mut written = self.written();
        if written.get(&inbound.chat).is_some_and(|(id, _)| *id == inbound.id) {
            return None;
        }
        written.insert(inbound.chat.clone(), (inbound.id.clone(), std::time::Instant::now()));
        Some(line)
    }

    async fn write(&self, chat: &ChatKey, lines: Vec<Line>) -> Result<(), SendError> {
        if chat.channel() != Channel::Web {
            return Err(SendError::WrongChannel(chat.clone()));
        }
        // As the store keeps it (milliseconds), so that a line read back looks the same.
        let at = Utc::now().trunc_subsecs(3);
        let numbers = self.store.web_log_append(chat, &lines, at).await?;
        self.live.written(chat, &numbers, &lines, at);
        Ok(())
    }
}

impl Edge for WebEdge {
    fn deliver<'a>(&'a self, inbound: &'a Inbound, turn: &'a Turn) -> Sending<'a, ()> {
        Box::pin(async move {
            let bot = turn.replies.iter().flat_map(render::messages).map(|m| bot_line(m, turn.lang));
            let lines: Vec<Line> = self.user_line(inbound).into_iter().chain(bot).collect();
            if lines.is_empty() {
                return Ok(());
            }
            let written = self.write(&inbound.chat, lines).await;
            if written.is_err() {
                // Written with the next delivery, if there is one.
                self.written().remove(&inbound.chat);
            }
            written
        })
    }

    fn forget_idle(&self) {
        self.written().retain(|_, (_, at)| at.elapsed() < WRITTEN_FOR);
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
    async fn a_messages_own_line_is_written_once_before_the_first_of_its_answers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let edge = WebEdge::new(store.clone(), Arc::default());
        let chat: ChatKey = "web:0123".parse().unwrap();
        let message = |id: &str, text: &str| {
            let mut inbound =
                Inbound::new(id, chat.clone(), 0, crate::conversation::Input::Text(text.into()));
            inbound.context =
                serde_json::to_value(Line::User { id: format!("page-{id}"), text: text.into() }).unwrap();
            inbound
        };
        let turn =
            |text: &str| Turn { lang: Lang::En, replies: vec![crate::conversation::Reply::text(text)] };
        let (first, second) = (message("m1", "hello"), message("m2", "again"));
        // A note that the lookup waits, then the answer: the user's line once, first.
        edge.deliver(&first, &turn("note")).await.unwrap();
        edge.deliver(&first, &turn("answer")).await.unwrap();
        edge.deliver(&second, &turn("answer 2")).await.unwrap();
        let lines: Vec<String> = store
            .web_log_after::<Line>(&chat, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|l| match l.line {
                Line::User { id, text } => format!("user {id} {text}"),
                Line::Bot(m) => format!("bot {}", m.title),
            })
            .collect();
        assert_eq!(
            lines,
            ["user page-m1 hello", "bot note", "bot answer", "user page-m2 again", "bot answer 2"]
        );
    }

    #[test]
    fn a_bell_hands_its_recent_lines_only_when_they_follow_the_streams_last() {
        let bell = Bell::default();
        let lines = |seqs: std::ops::RangeInclusive<i64>| {
            Recent::Lines(seqs.map(|seq| (seq, Arc::from(format!("line {seq}")))).collect())
        };
        let write =
            |seqs: std::ops::RangeInclusive<i64>| bell.written(seqs.map(|seq| (seq, format!("line {seq}"))));
        assert_eq!(bell.after(0), Recent::Nothing);
        // Two writers: the second one's line is handed over first.
        write(6..=6);
        assert_eq!(bell.after(4), Recent::Gap, "line 5 is missing: the store has it");
        assert_eq!(bell.after(5), lines(6..=6));
        write(5..=5);
        assert_eq!(bell.after(4), lines(5..=6));
        assert_eq!(bell.after(6), Recent::Nothing);
        // Only the newest are kept.
        write(7..=(6 + RECENT as i64));
        assert_eq!(bell.after(4), Recent::Gap);
        assert_eq!(bell.after(5 + RECENT as i64), lines((6 + RECENT as i64)..=(6 + RECENT as i64)));
        // A ring without lines is counted, for the streams to read the store.
        assert_eq!(bell.unknown(), 0);
        bell.ring_unknown();
        assert_eq!(bell.unknown(), 1);
    }

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
