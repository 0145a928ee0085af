//! Ticket ids (`K7M2Q`): making one, and recognizing one in a button's payload or a support-chat
//! message. Both the payloads and the support dialogue read them, so the rule lives here, apart
//! from either.

/// The characters of a ticket id: digits and capitals, without those easily taken for another
/// (0 and O, 1 and I and L).
const ID_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// How many characters a ticket id has.
const ID_LEN: usize = 5;

/// Whether `id` is written as a ticket id.
pub fn is_ticket_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| ID_ALPHABET.contains(&b))
}

/// A ticket id from `seed` (the chat and the time): five characters easy to read and type.
pub(crate) fn ticket_id(seed: &str, attempt: u32) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{seed}|{attempt}").as_bytes());
    digest.iter().take(ID_LEN).map(|b| ID_ALPHABET[*b as usize % ID_ALPHABET.len()] as char).collect()
}

/// The mark that opens every message the bot sends the support chat about a ticket, before its id
/// (`🎫 K7M2Q · …`). Customers' words never carry it (see `support::quoted`).
pub(crate) const TICKET_MARK: char = '🎫';

/// The ticket id of a message the bot sent the support chat: only from the mark that opens it
/// (`🎫 K7M2Q`), which the bot writes first; never from further on, where the customer's words
/// are.
pub(crate) fn ticket_in(text: &str) -> Option<String> {
    let after = text.trim_start().strip_prefix(TICKET_MARK)?.trim_start();
    let id: String = after.chars().take(ID_LEN).collect();
    is_ticket_id(&id).then_some(id)
}
