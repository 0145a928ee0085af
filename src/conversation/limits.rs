//! Per-chat lookup limits: a customer chat makes at most so many bill inquiries, and so many
//! order lookups, a minute and an hour; beyond, it is asked to wait, and no provider call is made.
//!
//! The times of a chat's lookups of the last hour live in its prefs record (read at the start of
//! every step, written with the step). A chat's steps never overlap, on one instance or several
//! (the chat's lease), so the count is exact across instances and survives restarts; an
//! in-memory limiter (governor) would give every instance, and every restart, a fresh allowance.

use super::menus::menu_row;
use super::reply::Reply;
use super::session::Session;
use crate::domain::Role;
pub use crate::domain::limits::{LookupKind, LookupLimits, Lookups};
use crate::store::Op;
use crate::t;

/// Takes one lookup of `kind` for the step's chat (agents are not limited), or the answer that
/// asks it to wait. The step's state is left as it was: the same input works once the wait is over.
pub(crate) fn take(s: &mut Session<'_>, kind: LookupKind) -> Result<(), Vec<Reply>> {
    if s.role == Role::Agent {
        return Ok(());
    }
    match s.prefs.lookups.take(kind, s.now, s.bot.limits) {
        Ok(()) => {
            s.writes.push(Op::Prefs { chat: s.chat.clone(), prefs: s.prefs.clone() });
            Ok(())
        }
        Err(wait) => {
            metrics::counter!("billbot_lookups_refused_total").increment(1);
            tracing::info!(chat = %s.chat, ?kind, wait_secs = wait.num_seconds(), "lookup limit reached");
            // Whole minutes, rounded up: "wait 1 minute" rather than "wait 7 seconds" that turn
            // out not to be enough after a slow reply.
            let minutes = ((wait.num_seconds() + 59) / 60).max(1) as u64;
            let id = match kind {
                LookupKind::Bill => "limit-bills",
                LookupKind::Order => "limit-orders",
            };
            Err(vec![Reply::text(t!(s.lang, id, minutes = minutes)).with_keyboard(vec![menu_row(s.lang)])])
        }
    }
}
