//! Replies as Telegram messages: HTML with every dynamic character escaped, texts split under
//! Telegram's 4096-character limit, buttons as inline keyboards with at most 64 bytes of data.

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use teloxide::utils::html;

use crate::channels::text::split;
use crate::conversation::Reply;
use crate::domain::Capabilities;

/// Telegram's limit on a message's text, in UTF-16 code units after entity parsing.
pub const MAX_MESSAGE_UNITS: usize = 4096;

/// One piece of plain text as HTML: escaped, with the first line of a message in bold.
pub fn to_html(piece: &str, bold_first_line: bool) -> String {
    match (bold_first_line, piece.split_once('\n')) {
        (true, Some((first, rest))) => format!("<b>{}</b>\n{}", html::escape(first), html::escape(rest)),
        (true, None) => format!("<b>{}</b>", html::escape(piece)),
        (false, _) => html::escape(piece),
    }
}

/// The reply's text as HTML messages, in order.
pub fn messages(reply: &Reply) -> Vec<String> {
    split(&reply.text, MAX_MESSAGE_UNITS)
        .iter()
        .enumerate()
        .map(|(i, piece)| to_html(piece, i == 0))
        .collect()
}

/// The reply's buttons as an inline keyboard, or `None` when it has none. A button whose payload
/// is over Telegram's 64 bytes is left out (and logged): the core never makes one.
pub fn keyboard(reply: &Reply) -> Option<InlineKeyboardMarkup> {
    let rows: Vec<Vec<InlineKeyboardButton>> = reply
        .keyboard
        .iter()
        .map(|row| {
            row.iter()
                .filter(|b| {
                    let fits = b.payload.len() <= Capabilities::TELEGRAM.max_payload_bytes;
                    if !fits {
                        let payload = crate::domain::reference::mask_numbers(&b.payload);
                        tracing::error!(payload, "button payload over 64 bytes left out");
                    }
                    fits
                })
                .map(|b| InlineKeyboardButton::callback(b.label.clone(), b.payload.clone()))
                .collect::<Vec<_>>()
        })
        .filter(|row| !row.is_empty())
        .collect();
    (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows))
}
