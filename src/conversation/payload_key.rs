//! The key that signs button payloads, and the tags it makes.
//!
//! Telegram lets a client send any callback data, and WhatsApp hands reply ids back as they were
//! sent: a button's payload is the user's to forge. Payloads that name something (a reference,
//! an order, a ticket, a date) therefore carry a tag, a truncated HMAC-SHA256 of the payload and
//! of the chat it was sent to, under a key of the deployment's (see [`super::payload`]).
//!
//! The key is random, made on first use and kept in the store ([`Store::payload_key`]), so that
//! every instance sharing the store signs and checks with the same key, restarts change nothing,
//! and no setting has to be made or kept secret by hand. A deployment on a fresh store has a
//! fresh key: the buttons of messages sent before then expire.

use std::sync::Arc;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::OnceCell;

use crate::domain::ChatKey;
use crate::store::{Store, StoreError};

/// Bytes of the MAC a tag keeps (written as twice as many hex digits): 64 bits. Guessing one
/// takes about 2^63 presses, and a chat may press 60 buttons a minute.
pub const TAG_BYTES: usize = 8;

/// How long a tag is, written out.
pub const TAG_CHARS: usize = 2 * TAG_BYTES;

/// Bytes of a key made at random.
const KEY_BYTES: usize = 32;

/// What the MAC is of, first: another use of the same key can never make a payload's tag.
const CONTEXT: &[u8] = b"billbot button payload\n";

/// A key that makes and checks payload tags. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct PayloadKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for PayloadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PayloadKey(…)")
    }
}

impl PayloadKey {
    /// The key of `secret` (any length; HMAC's own rule: a key longer than SHA-256's block is
    /// hashed, a shorter one padded with zeros, which is written out here so that nothing can fail).
    pub fn new(secret: &[u8]) -> PayloadKey {
        let mut block = [0u8; 64];
        if secret.len() > block.len() {
            block[..32].copy_from_slice(&Sha256::digest(secret));
        } else {
            block[..secret.len()].copy_from_slice(secret);
        }
        PayloadKey { mac: <Hmac<Sha256> as KeyInit>::new(&block.into()) }
    }

    /// The tag of `payload` on a button sent to `chat`: [`TAG_CHARS`] lowercase hex digits. The
    /// chat is part of it, so that one chat's button pressed in another is refused.
    pub fn tag(&self, chat: &ChatKey, payload: &str) -> String {
        let mut mac = self.mac.clone();
        let chat = chat.storage_key();
        mac.update(CONTEXT);
        // The chat's length first: no chat and payload can be read as another chat and payload.
        mac.update(&(chat.len() as u64).to_be_bytes());
        mac.update(chat.as_bytes());
        mac.update(payload.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..TAG_BYTES])
    }

    /// Whether `tag` is the tag of `payload` sent to `chat` (compared in constant time).
    pub fn verify(&self, chat: &ChatKey, payload: &str, tag: &str) -> bool {
        self.tag(chat, payload).as_bytes().ct_eq(tag.as_bytes()).into()
    }
}

/// The deployment's payload key, read from the store (made there if there is none yet) on first
/// use and kept for the life of the process. Cheap to clone; clones share the key.
#[derive(Clone)]
pub struct PayloadKeys {
    store: Store,
    key: Arc<OnceCell<PayloadKey>>,
}

impl PayloadKeys {
    pub fn new(store: Store) -> PayloadKeys {
        PayloadKeys { store, key: Arc::new(OnceCell::new()) }
    }

    /// The key. Every instance on the same store gets the same one: each offers a random key,
    /// the store keeps the first and hands it back to all.
    pub async fn get(&self) -> Result<&PayloadKey, StoreError> {
        self.key
            .get_or_try_init(|| async {
                let mut candidate = [0u8; KEY_BYTES];
                getrandom::fill(&mut candidate).map_err(|_| {
                    StoreError::Unsupported("making a payload key without a source of randomness")
                })?;
                Ok(PayloadKey::new(&self.store.payload_key(&candidate).await?))
            })
            .await
    }
}
