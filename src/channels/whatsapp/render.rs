//! Replies as WhatsApp messages, within WhatsApp's rules:
//!
//! - text: at most 4096 characters a message, longer replies split at line breaks;
//! - up to 3 choices whose labels fit 20 characters (without their emoji, if need be): reply
//!   buttons, one tap;
//! - more, or longer labels: a list (up to 10 rows, titles of 24 characters, the whole label in
//!   the row's 72-character description when the title had to be cut); more than 10 choices go
//!   out as several lists, each a page;
//! - the body of a message with buttons or a list is at most 1024 characters: a longer reply's
//!   text goes first as plain messages, and its last paragraphs carry the choices.
//!
//! Lengths are counted in UTF-16 units, which is never less than WhatsApp's count of characters.
//!
//! Formatting: the first line is bold (`*…*`). WhatsApp has no escape character, so the four
//! characters that format (`*`, `_`, `~`, `` ` ``) are replaced in the text by look-alikes (`∗`,
//! `ˍ`, `∼`, `ˋ`): a holder named `*Awa_*` shows as written and never turns the rest bold.

use serde_json::{Value, json};

use crate::channels::text::{split, units};
use crate::conversation::{Button, Reply};
use crate::i18n::Lang;
use crate::t;

pub const MAX_TEXT: usize = 4096;
pub const MAX_INTERACTIVE_BODY: usize = 1024;
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
pub const MAX_BUTTON_ID: usize = 256;
pub const MAX_ROWS: usize = 10;
pub const MAX_ROW_TITLE: usize = 24;
pub const MAX_ROW_DESCRIPTION: usize = 72;
pub const MAX_ROW_ID: usize = 200;
pub const MAX_LIST_BUTTON: usize = 20;

/// One WhatsApp message, before it is addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Text(String),
    /// Reply buttons: (id, title).
    Buttons {
        body: String,
        buttons: Vec<(String, String)>,
    },
    List {
        body: String,
        button: String,
        rows: Vec<Row>,
    },
    /// An approved template with its body parameters, for outside the 24-hour window.
    Template {
        name: String,
        lang: Lang,
        params: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
}

impl Outgoing {
    /// Whether WhatsApp lets this go out only within 24 hours of the user's last message.
    pub fn is_free_form(&self) -> bool {
        !matches!(self, Outgoing::Template { .. })
    }

    /// The message's own part of the Graph API's JSON (`type` and its object).
    pub fn to_json(&self) -> Value {
        match self {
            Outgoing::Text(body) => json!({"type": "text", "text": {"body": body, "preview_url": false}}),
            Outgoing::Buttons { body, buttons } => json!({"type": "interactive", "interactive": {
                "type": "button",
                "body": {"text": body},
                "action": {"buttons": buttons.iter().map(|(id, title)| json!({
                    "type": "reply", "reply": {"id": id, "title": title}
                })).collect::<Vec<_>>()},
            }}),
            Outgoing::List { body, button, rows } => json!({"type": "interactive", "interactive": {
                "type": "list",
                "body": {"text": body},
                "action": {"button": button, "sections": [{"rows": rows.iter().map(|row| {
                    let mut r = json!({"id": row.id, "title": row.title});
                    if let Some(d) = &row.description {
                        r["description"] = json!(d);
                    }
                    r
                }).collect::<Vec<_>>()}]},
            }}),
            Outgoing::Template { name, lang, params } => json!({"type": "template", "template": {
                "name": name,
                "language": {"code": lang.code()},
                "components": [{"type": "body", "parameters": params.iter().map(|p| json!({
                    "type": "text", "text": p
                })).collect::<Vec<_>>()}],
            }}),
        }
    }
}

/// The characters WhatsApp formats with, and the look-alikes that stand for them in text.
const MARKERS: [(char, char); 4] = [('*', '∗'), ('_', 'ˍ'), ('~', '∼'), ('`', 'ˋ')];

/// `text` with no character WhatsApp would take as formatting.
pub fn neutralize(text: &str) -> String {
    text.chars().map(|c| MARKERS.iter().find(|(m, _)| *m == c).map_or(c, |(_, look)| *look)).collect()
}

/// `piece` with its first line in bold (when that line has something to embolden).
fn bold_first_line(piece: &str) -> String {
    let (first, rest) = match piece.split_once('\n') {
        Some((first, rest)) => (first, Some(rest)),
        None => (piece, None),
    };
    let trimmed = first.trim();
    if trimmed.is_empty() {
        return piece.to_owned();
    }
    match rest {
        Some(rest) => format!("*{trimmed}*\n{rest}"),
        None => format!("*{trimmed}*"),
    }
}

/// `label` cut to `max` units, with an ellipsis when cut.
fn cut(label: &str, max: usize) -> String {
    if units(label) <= max {
        return label.to_owned();
    }
    let mut out = String::new();
    for c in label.chars() {
        if units(&out) + c.len_utf16() + 1 > max {
            break;
        }
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// Splits `text` (already formatted) into what goes before the choices and the body that carries
/// them: the body is the last paragraphs that fit, or the end of the last one.
fn body_and_lead(text: &str) -> (Option<String>, String) {
    if units(text) <= MAX_INTERACTIVE_BODY {
        return (None, text.to_owned());
    }
    // Trailing blank lines would make an empty last paragraph that fits, leaving the body blank:
    // trimmed, the text's last paragraph has something in it.
    let text = text.trim_end();
    let paragraphs: Vec<&str> = text.split("\n\n").collect();
    let mut taken = 0;
    let mut size = 0;
    for p in paragraphs.iter().rev() {
        let extra = units(p) + if taken > 0 { 2 } else { 0 };
        if size + extra > MAX_INTERACTIVE_BODY {
            break;
        }
        size += extra;
        taken += 1;
    }
    if taken == 0 {
        // One paragraph longer than a body: its last lines that fit carry the choices.
        let pieces = split(text, MAX_INTERACTIVE_BODY);
        let (last, lead) = pieces.split_last().map(|(l, r)| (l.clone(), r.join("\n"))).unwrap_or_default();
        return (Some(lead).filter(|l| !l.trim().is_empty()), last);
    }
    let split_at = paragraphs.len() - taken;
    let lead = paragraphs[..split_at].join("\n\n");
    let body = paragraphs[split_at..].join("\n\n");
    (Some(lead).filter(|l| !l.trim().is_empty()), body)
}

/// `label` as a reply button's title: as it is when it fits, else without its leading emoji
/// (`↩️ Changer de facturier` → `Changer de facturier`), else `None`.
fn button_title(label: &str) -> Option<String> {
    let label = label.trim();
    if label.is_empty() {
        return None;
    }
    if units(label) <= MAX_BUTTON_TITLE {
        return Some(label.to_owned());
    }
    let (symbol, rest) = label.split_once(' ')?;
    let bare = rest.trim();
    let is_emoji = !symbol.chars().any(char::is_alphanumeric);
    (is_emoji && !bare.is_empty() && units(bare) <= MAX_BUTTON_TITLE).then(|| bare.to_owned())
}

/// The reply's choices, in order, each payload once.
fn choices(reply: &Reply) -> Vec<&Button> {
    let mut seen = std::collections::HashSet::new();
    reply.buttons().filter(|b| b.payload.len() <= MAX_ROW_ID && seen.insert(b.payload.as_str())).collect()
}

/// The messages that show `reply`, in order. `lang` words the list's button and page markers.
pub fn messages(reply: &Reply, lang: Lang) -> Vec<Outgoing> {
    let text = neutralize(&reply.text);
    let text = if text.trim().is_empty() { "…".to_owned() } else { text };
    let choices = choices(reply);
    let mut out = Vec::new();
    let texts = |lead: &str, out: &mut Vec<Outgoing>| {
        for piece in split(lead, MAX_TEXT) {
            out.push(Outgoing::Text(piece));
        }
    };
    if choices.is_empty() {
        texts(&text, &mut out);
    } else {
        let (lead, body) = body_and_lead(&text);
        if let Some(lead) = lead {
            texts(&lead, &mut out);
        }
        let titles: Option<Vec<String>> = choices.iter().map(|b| button_title(&b.label)).collect();
        let buttons = titles.filter(|titles| {
            titles.len() <= MAX_BUTTONS
                && titles.iter().collect::<std::collections::HashSet<_>>().len() == titles.len()
        });
        if let Some(titles) = buttons {
            let buttons = choices.iter().zip(titles).map(|(b, title)| (b.payload.clone(), title)).collect();
            out.push(Outgoing::Buttons { body, buttons });
        } else {
            let pages: Vec<&[&Button]> = choices.chunks(MAX_ROWS).collect();
            let button = cut(&t!(lang, "wa-list-button"), MAX_LIST_BUTTON);
            for (n, page) in pages.iter().enumerate() {
                let body = if n == 0 {
                    body.clone()
                } else {
                    t!(lang, "wa-more-choices", page = (n + 1) as u64, pages = pages.len() as u64)
                };
                let rows = page
                    .iter()
                    .map(|b| {
                        let title = cut(&b.label, MAX_ROW_TITLE);
                        let description = (title != b.label).then(|| cut(&b.label, MAX_ROW_DESCRIPTION));
                        Row { id: b.payload.clone(), title, description }
                    })
                    .collect();
                out.push(Outgoing::List { body, button: button.clone(), rows });
            }
        }
    }
    // The first line of the first message is the reply's heading.
    if let Some(first) = out.first_mut() {
        let limit = if matches!(first, Outgoing::Text(_)) { MAX_TEXT } else { MAX_INTERACTIVE_BODY };
        if let Outgoing::Text(body) | Outgoing::Buttons { body, .. } | Outgoing::List { body, .. } = first {
            let bold = bold_first_line(body);
            // Two more characters could push a full message over: it stays plain then.
            if units(&bold) <= limit {
                *body = bold;
            }
        }
    }
    out
}
