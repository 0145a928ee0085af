//! `/forget`: erasing everything the bot keeps about a chat, once the user confirms.

use super::menus::{self, button};
use super::payload::Action;
use super::reply::Reply;
use super::session::Session;
use super::state::State;
use crate::store::Op;
use crate::t;

/// Says what would be erased, and asks.
pub(crate) fn ask(s: &mut Session<'_>) -> Vec<Reply> {
    s.state = State::ConfirmingForget;
    let keyboard = vec![vec![
        button(s.lang, "btn-forget-yes", Action::Forget(true)),
        button(s.lang, "btn-forget-no", Action::Menu),
    ]];
    vec![Reply::text(t!(s.lang, "forget-ask")).with_keyboard(keyboard)]
}

/// Erases the chat's records with this step's commit. The step's own writes before it (the time
/// of this message) go with the rest; the chat is left at the menu, in the language it spoke.
/// Only the times of the last hour's lookups are written again: erasing must not lift the
/// lookup limits (they are times only, and are gone within the hour).
pub(crate) fn erase(s: &mut Session<'_>) -> Vec<Reply> {
    s.writes.push(Op::ForgetChat { chat: s.chat.clone() });
    let lookups = std::mem::take(&mut s.prefs.lookups);
    s.prefs = crate::store::Prefs { lookups, ..Default::default() };
    if !s.prefs.lookups.is_empty() {
        s.writes.push(Op::Prefs { chat: s.chat.clone(), prefs: s.prefs.clone() });
    }
    s.state = State::Menu;
    vec![menus::main_menu(s, t!(s.lang, "forget-done"))]
}
