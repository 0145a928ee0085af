//! What a customer who has not shown that a bill is theirs sees of its holder and address:
//! enough for its owner to recognize it ("Moussa N.", "…, Dakar"), too little to learn whose it
//! is from a number typed at random. Names and addresses are the provider's free text: any
//! characters, any length, possibly empty; nothing here panics on them.

/// The longest given name shown, in characters; a longer one is cut and ends with `…`.
const MAX_GIVEN_NAME_CHARS: usize = 24;
/// Names after the given name shown as initials, at most.
const MAX_INITIALS: usize = 4;
/// The longest locality shown, in characters; a longer last part is not a locality.
const MAX_LOCALITY_CHARS: usize = 32;

/// The holder's first name in full and each other name as its initial: `Moussa N.`,
/// `Mame D. B.`. A first word with a digit in it is no name (it may be a number) and is shown as
/// an initial too; words without a letter or digit (stray punctuation) are left out. Empty when
/// the name has no word.
pub fn recognizable_name(name: &str) -> String {
    let mut words = name.split_whitespace().filter(|w| w.chars().any(char::is_alphanumeric));
    let mut shown = Vec::new();
    if let Some(first) = words.next() {
        shown.push(if first.chars().any(char::is_numeric) {
            initial(first)
        } else {
            cut(first, MAX_GIVEN_NAME_CHARS)
        });
    }
    shown.extend(words.take(MAX_INITIALS).map(initial));
    shown.join(" ")
}

/// A word's first letter or digit and a full stop (`N'Diaye` → `N.`). Only called on words that
/// have one; an empty string otherwise.
fn initial(word: &str) -> String {
    word.chars().find(|c| c.is_alphanumeric()).map(|c| format!("{c}.")).unwrap_or_default()
}

/// `word` cut to `max` characters, with `…` when it was longer.
fn cut(word: &str, max: usize) -> String {
    if word.chars().count() <= max {
        return word.to_owned();
    }
    let mut kept: String = word.chars().take(max.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

/// The locality of an address: its last comma-separated part (`Cité Keur Gorgui, Villa 12,
/// Dakar` → `Dakar`), when the address has several parts and that one reads as a place name
/// (letters, no digit, at most 32 characters). `None` otherwise: an address without commas, or
/// ending in a number, has no part that is safe to show on its own.
pub fn locality(address: &str) -> Option<&str> {
    let parts: Vec<&str> = address.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    let (last, before) = parts.split_last()?;
    let place = !before.is_empty()
        && last.chars().any(char::is_alphabetic)
        && !last.chars().any(char::is_numeric)
        && last.chars().count() <= MAX_LOCALITY_CHARS;
    place.then_some(*last)
}
