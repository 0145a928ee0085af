//! The core's replies as the web page shows them: message bubbles whose first line is a title,
//! and buttons in rows. The page inserts every value as text (`textContent`), never as HTML, so
//! nothing here escapes; it only keeps what a page cannot show out of the text.

use serde::{Deserialize, Serialize};

use crate::channels::text::split;
use crate::conversation::reply::Reply;
use crate::domain::Capabilities;

/// One bubble on the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebMessage {
    /// The first line, shown bold.
    pub title: String,
    /// The lines after it (may be empty).
    pub body: String,
    /// Rows of buttons: on the last bubble of a reply only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Vec<WebButton>>,
    /// The language the bot spoke in (`fr`, `en`): the page's own words follow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// A button: its label, and the payload the page posts back when it is pressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebButton {
    pub label: String,
    pub payload: String,
}

/// `reply` as bubbles: one, or several when its text is longer than the channel's limit (the
/// buttons then go on the last).
pub fn messages(reply: &Reply) -> Vec<WebMessage> {
    let limit = Capabilities::WEB.max_text_chars;
    let text = printable(&reply.text);
    let mut parts = split(&text, limit);
    if parts.is_empty() {
        parts.push(String::new());
    }
    let last = parts.len() - 1;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let (title, body) = match part.split_once('\n') {
                Some((title, body)) => (title.to_owned(), body.to_owned()),
                None => (part, String::new()),
            };
            let buttons = match i == last {
                true => reply
                    .keyboard
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|b| WebButton { label: printable(&b.label), payload: b.payload.clone() })
                            .collect::<Vec<_>>()
                    })
                    .filter(|row| !row.is_empty())
                    .collect(),
                false => Vec::new(),
            };
            WebMessage { title, body, buttons, lang: None }
        })
        .collect()
}

/// `text` without the control characters a page would show as boxes or act on (line breaks and
/// tabs stay).
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control() || *c == '\n' || *c == '\t').collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::reply::Button;

    fn button(label: &str) -> Button {
        Button { label: label.to_owned(), payload: format!("p:{label}") }
    }

    #[test]
    fn the_first_line_is_the_title_and_the_buttons_keep_their_rows() {
        let reply = Reply::text("Senelec bill\nAmount: 12 600 F CFA\nDue: 2026-12-20").with_keyboard(vec![
            vec![button("Pay"), button("Remind me")],
            vec![],
            vec![button("Menu")],
        ]);
        let shown = messages(&reply);
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].title, "Senelec bill");
        assert_eq!(shown[0].body, "Amount: 12 600 F CFA\nDue: 2026-12-20");
        let labels: Vec<Vec<&str>> =
            shown[0].buttons.iter().map(|r| r.iter().map(|b| b.label.as_str()).collect()).collect();
        assert_eq!(labels, vec![vec!["Pay", "Remind me"], vec!["Menu"]], "an empty row is dropped");
        assert_eq!(shown[0].buttons[1][0].payload, "p:Menu");
    }

    #[test]
    fn hostile_text_stays_text_and_control_characters_are_dropped() {
        let name = "<script>alert('x')</script> & \"Diop\" \u{0}\u{7}\u{1b}[31m";
        let shown = messages(&Reply::text(format!("Holder: {name}\nline two\twith a tab")));
        assert_eq!(shown[0].title, "Holder: <script>alert('x')</script> & \"Diop\" [31m");
        assert_eq!(shown[0].body, "line two\twith a tab");
    }

    #[test]
    fn a_long_reply_is_several_bubbles_with_the_buttons_on_the_last() {
        let long = "word ".repeat(2000);
        let shown = messages(&Reply::text(long.clone()).with_keyboard(vec![vec![button("Menu")]]));
        assert!(shown.len() >= 3, "{} bubbles", shown.len());
        assert!(shown[..shown.len() - 1].iter().all(|m| m.buttons.is_empty()));
        assert_eq!(shown.last().unwrap().buttons.len(), 1);
        let total: usize = shown.iter().map(|m| m.title.chars().count()).sum();
        assert!(total >= long.trim().chars().count() - 10, "nothing lost but the split points");
        assert!(shown.iter().all(|m| m.title.chars().count() <= Capabilities::WEB.max_text_chars));
    }
}
