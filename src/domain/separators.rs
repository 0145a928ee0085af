//! How people write the numbers they copy from a paper bill, a receipt or another app: digit
//! groups split by spaces and dashes. Phones and word processors turn a typed `-` into whichever
//! dash they like (a hyphen, an en dash, a minus sign, a full-width dash…), so every kind counts:
//! one rule, shared by order numbers, customer references and the codes shown back, so that what
//! one of them accepts the others accept too.

/// Whether `c` is one of the dashes a number may be typed with: the ASCII hyphen-minus, the
/// Unicode hyphens and dashes (U+2010 to U+2015), the minus sign (U+2212), and the small and
/// full-width forms (U+FE58, U+FE63, U+FF0D).
pub fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}')
}

/// Whether `c` is put between digit groups: any Unicode space, or a dash ([`is_dash`]).
pub fn is_separator(c: char) -> bool {
    c.is_whitespace() || is_dash(c)
}

/// `text` without its separators (`GB - 2022…` becomes `GB2022…`).
pub fn without_separators(text: &str) -> String {
    text.chars().filter(|c| !is_separator(*c)).collect()
}
