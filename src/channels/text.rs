//! Plain text cut to a channel's message length: at line breaks where possible, counted in UTF-16
//! code units (Telegram counts so; WhatsApp counts characters, and a character is never more
//! than two units, so the stricter count fits both).

/// The length of `text` as Telegram counts it.
pub fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Splits plain text into pieces of at most `limit` UTF-16 units, at line breaks where it can
/// (a line longer than the limit is cut between characters). No piece is empty.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for line in text.split('\n') {
        let separator = usize::from(!current.is_empty());
        if units(&current) + separator + units(line) <= limit {
            if separator == 1 {
                current.push('\n');
            }
            current.push_str(line);
            continue;
        }
        if !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
        }
        let mut rest = line;
        while units(rest) > limit {
            let mut cut = 0;
            let mut used = 0;
            for (i, c) in rest.char_indices() {
                if used + c.len_utf16() > limit {
                    break;
                }
                used += c.len_utf16();
                cut = i + c.len_utf8();
            }
            pieces.push(rest[..cut].to_owned());
            rest = &rest[cut..];
        }
        current.push_str(rest);
    }
    if !current.trim().is_empty() || pieces.is_empty() {
        pieces.push(current);
    }
    pieces.retain(|p| !p.trim().is_empty());
    if pieces.is_empty() {
        pieces.push("…".to_owned());
    }
    pieces
}
