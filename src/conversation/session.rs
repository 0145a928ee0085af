//! What one step of the dialogue works with, and what it returns. Every step module takes a
//! [`Session`]; it lives in a module of its own (not beside [`Bot`](super::Bot)) so that the
//! steps never import the module that runs them.

use chrono::{DateTime, Utc};

use super::bot_inner::BotInner;
use super::reply::{Interim, Note, Reply};
use super::state::State;
use crate::domain::{Capabilities, ChatKey, Role};
use crate::i18n::Lang;
use crate::store::{Batch, Prefs, StoreError};

/// The replies of a step, or the store error that stopped it.
pub(crate) type Replies = Result<Vec<Reply>, StoreError>;

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
    /// The chat's preferences as read at the start of the step, with this step's changes.
    pub prefs: Prefs,
    /// The step's writes, committed together once it is done (reads see what was committed
    /// before the step).
    pub writes: Batch,
    /// How to reach the chat before the turn ends, when the channel allows it.
    pub interim: Option<Interim>,
}

impl Session<'_> {
    /// The note a lookup sends its user when it waits long for its turn (`None` when the chat
    /// cannot be reached before the turn ends).
    pub fn waiting_note(&self) -> Option<Note> {
        let reply = Reply::text(crate::t!(self.lang, "provider-queue-note"));
        self.interim.as_ref().map(|interim| interim.send(self.lang, reply))
    }
}
