//! What the bot says outside of a conversation step: the tracker's news of a watched order. The
//! tracker decides when to tell; these are the words and buttons, like every other view.

use super::menus::button;
use super::payload::Action;
use super::reply::Reply;
use crate::i18n::Lang;
use crate::t;
use crate::tracking::Notice;
use crate::views::{self, Audience};

/// The notice as a message, with the buttons that lead on from it.
pub fn reply(lang: Lang, notice: &Notice) -> Reply {
    match notice {
        Notice::StatusChanged { order_no, order } => {
            let heading = t!(lang, "watch-update", order = order_no.to_string());
            let text = format!("{heading}\n\n{}", views::order(lang, order, Audience::Customer));
            let mut row = Vec::new();
            if !order.status.is_final() {
                row.push(button(lang, "btn-refresh", Action::Order(order_no.clone())));
            }
            row.push(button(lang, "btn-menu", Action::Menu));
            Reply::text(text).with_keyboard(vec![row])
        }
        Notice::WatchEnded { order_no, hours } => {
            let text = t!(lang, "watch-expired", order = order_no.to_string(), hours = *hours);
            Reply::text(text).with_keyboard(vec![vec![
                button(lang, "btn-check-now", Action::Order(order_no.clone())),
                button(lang, "btn-menu", Action::Menu),
            ]])
        }
    }
}

/// The status of a notice in words, as a template parameter wants it (`✅ delivered`).
pub fn status_words(lang: Lang, notice: &Notice) -> String {
    match notice {
        Notice::StatusChanged { order, .. } => views::status_label(lang, order),
        Notice::WatchEnded { .. } => t!(lang, "watch-ended-status"),
    }
}
