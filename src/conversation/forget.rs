//! `/forget`: erasing everything the bot keeps about a chat, once the user confirms, at most
//! [`FORGETS_PER_DAY`] times a day.

use chrono::Duration;

use super::menus::{self, button};
use super::payload::Action;
use super::reply::Reply;
use super::session::Session;
use super::state::State;
use crate::domain::limits::Lookups;
use crate::store::Op;
use crate::t;

/// Erasures a chat may make a day. Each one reads and rewrites every record that names the chat:
/// cheap now that those are indexed, but not free, and nobody needs more.
pub const FORGETS_PER_DAY: u32 = 3;

/// Says what would be erased, and asks; or, when the day's erasures are used up, says when the
/// next one is possible.
pub(crate) fn ask(s: &mut Session<'_>) -> Vec<Reply> {
    let mut forgets = s.prefs.lookups.forgets.clone();
    if let Err(refused) = take(s, &mut forgets) {
        return refused;
    }
    s.state = State::ConfirmingForget;
    let keyboard = vec![vec![
        button(s.lang, "btn-forget-yes", Action::Forget(true)),
        button(s.lang, "btn-forget-no", Action::Menu),
    ]];
    vec![Reply::text(t!(s.lang, "forget-ask")).with_keyboard(keyboard)]
}

/// Erases the chat's records with this step's commit. The step's own writes before it (the time
/// of this message) go with the rest; the chat is left at the menu, in the language it spoke.
/// Only the times of the last hour's lookups and of the last day's erasures are written again:
/// erasing must not lift the limits (they are times only, and are gone within the day).
pub(crate) fn erase(s: &mut Session<'_>) -> Vec<Reply> {
    let mut lookups = std::mem::take(&mut s.prefs.lookups);
    if let Err(refused) = take(s, &mut lookups.forgets) {
        s.prefs.lookups = lookups;
        return refused;
    }
    s.writes.push(Op::ForgetChat { chat: s.chat.clone() });
    s.prefs = crate::store::Prefs { lookups, ..Default::default() };
    s.writes.push(Op::Prefs { chat: s.chat.clone(), prefs: s.prefs.clone() });
    s.state = State::Menu;
    vec![menus::main_menu(s, t!(s.lang, "forget-done"))]
}

/// Counts one erasure in `forgets` (the chat's, or a copy), or the answer that says the day's are
/// used up, and when the next one is possible.
fn take(s: &mut Session<'_>, forgets: &mut Vec<chrono::DateTime<chrono::Utc>>) -> Result<(), Vec<Reply>> {
    Lookups::take_in_window(forgets, s.now, Duration::hours(24), FORGETS_PER_DAY).map_err(|wait| {
        metrics::counter!("billbot_forgets_refused_total").increment(1);
        tracing::info!(chat = %s.chat, "forget limit reached");
        let hours = ((wait.num_minutes() + 59) / 60).max(1);
        let text = t!(s.lang, "forget-limit", count = FORGETS_PER_DAY, hours = hours);
        s.state = State::Menu;
        vec![menus::main_menu(s, text)]
    })
}
