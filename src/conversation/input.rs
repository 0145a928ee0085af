//! What a user sends, whatever the channel: a command, free text, or a button press.
//!
//! Commands come two ways: `/name arg` as on Telegram, or a word as people type on WhatsApp
//! ("aide", "Facture", "statut GB - 2022…"): see [`KEYWORDS`].

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// One user input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Input {
    /// `/name arg…`: `name` lower-cased, without the `@botname` suffix Telegram adds in groups.
    Command { name: String, arg: Option<String> },
    /// Anything else typed.
    Text(String),
    /// The payload of a pressed button.
    Button(String),
}

/// Words that do what a command does, in French and English, when they are the whole message
/// (any case, accents optional, trailing punctuation ignored): (word, command, takes an argument).
/// Only `statut`/`status` and `langue`/`language` take one (`statut GB - 2022…`, `langue en`);
/// a greeting may be followed by anything ("Bonjour, je veux payer ma facture" is a hello).
pub const KEYWORDS: &[(&str, &str, bool)] = &[
    ("menu", "menu", false),
    ("accueil", "menu", false),
    ("start", "start", false),
    ("demarrer", "start", false),
    ("bonjour", "start", false),
    ("salut", "start", false),
    ("hello", "start", false),
    ("hi", "start", false),
    ("aide", "help", false),
    ("help", "help", false),
    ("facture", "bill", false),
    ("bill", "bill", false),
    ("statut", "status", true),
    ("status", "status", true),
    ("commandes", "orders", false),
    ("orders", "orders", false),
    ("langue", "lang", true),
    ("language", "lang", true),
    ("annuler", "cancel", false),
    ("cancel", "cancel", false),
    ("oublier", "forget", false),
    ("forget", "forget", false),
];

impl Input {
    /// Reads a typed message: a leading `/` makes it a command, and so does a keyword.
    pub fn from_text(text: &str) -> Input {
        let trimmed = text.trim();
        let Some(rest) = trimmed.strip_prefix('/') else {
            return keyword(trimmed).unwrap_or_else(|| Input::Text(trimmed.to_owned()));
        };
        let (word, arg) = split_word(rest);
        let name = word.split('@').next().unwrap_or_default().to_lowercase();
        if name.is_empty() {
            return Input::Text(trimmed.to_owned());
        }
        Input::Command { name, arg }
    }
}

/// The first word and the rest (trimmed, `None` when empty).
fn split_word(text: &str) -> (&str, Option<String>) {
    match text.split_once(char::is_whitespace) {
        Some((word, arg)) => (word, Some(arg.trim().to_owned()).filter(|a| !a.is_empty())),
        None => (text, None),
    }
}

/// `text` without case and accents (`Démarrer` → `demarrer`).
fn fold(text: &str) -> String {
    text.nfd().filter(|c| !('\u{300}'..='\u{36f}').contains(c)).collect::<String>().to_lowercase()
}

/// The command a keyword message stands for.
fn keyword(text: &str) -> Option<Input> {
    let (word, arg) = split_word(text);
    let word = fold(word.trim_end_matches(['!', '?', '.', ',', ';', ':']));
    let arg = arg.filter(|a| !a.chars().all(|c| c.is_ascii_punctuation()));
    let &(_, name, takes_arg) = KEYWORDS.iter().find(|(w, _, _)| *w == word)?;
    let arg = match name {
        "start" => None,
        // "statut de ma commande" asks for the status: the bot then asks for the number.
        "status" => arg.filter(|a| a.chars().any(|c| c.is_ascii_digit())),
        _ if arg.is_some() && !takes_arg => return None, // "menu du jour": a sentence, not a command
        _ => arg,
    };
    Some(Input::Command { name: name.to_owned(), arg })
}
