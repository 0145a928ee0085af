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

/// The ticket id a support-chat message names (`🎫 K7M2Q`).
pub(crate) fn ticket_in(text: &str) -> Option<String> {
    let after = text.split_once('🎫')?.1.trim_start();
    let id: String = after.chars().take(ID_LEN).collect();
    is_ticket_id(&id).then_some(id)
}
