//! Inbound messages of channels that deliver at least once (WhatsApp retries a webhook for days):
//! each message id is remembered for a week so that a redelivery is recognized and never
//! answered twice, and each message is kept until a step has handled it, so that one received
//! just before a crash is handled after the restart.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Store, StoreError, encode};
use crate::domain::ChatKey;

fn at_key(at: DateTime<Utc>, id: &str) -> Vec<u8> {
    let mut key = u64::try_from(at.timestamp_millis()).unwrap_or(0).to_be_bytes().to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

impl Store {
    /// Takes in a message with id `id`: `true` when it is new (it is then kept until
    /// [`Store::inbox_done`]), `false` when this id was seen before (a redelivery: nothing is
    /// written). Atomic: two deliveries of one id at once yield one `true`.
    pub fn inbox_receive<T: Serialize>(
        &self,
        id: &str,
        message: &T,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let stamp = at.timestamp_millis().to_be_bytes();
        let fresh = self.inner.seen.compare_and_swap(id.as_bytes(), None::<&[u8]>, Some(&stamp[..]))?.is_ok();
        if fresh {
            self.inner.seen_at.insert(at_key(at, id), &[])?;
            self.inner.inbox.insert(id.as_bytes(), encode(message)?)?;
        }
        Ok(fresh)
    }

    /// The message `id` has been handled (its step's writes carry this, so they commit together).
    pub fn inbox_done(&self, id: &str) -> Result<(), StoreError> {
        self.inner.inbox.remove(id.as_bytes())?;
        Ok(())
    }

    /// Messages received and not yet handled, with their ids, in no particular order.
    pub fn inbox_pending<T: DeserializeOwned>(&self) -> Result<Vec<(String, T)>, StoreError> {
        let mut pending = Vec::new();
        for entry in self.inner.inbox.iter() {
            let (key, bytes) = entry?;
            match self.decode::<T>(&self.inner.inbox, &key, &bytes) {
                Some(message) => pending.push((String::from_utf8_lossy(&key).into_owned(), message)),
                // Unreadable: it would never be handled; forget it rather than retry it forever.
                None => {
                    self.inner.inbox.remove(&key)?;
                }
            }
        }
        Ok(pending)
    }

    /// Forgets the ids of messages received before `before` (and any of them still pending).
    /// Returns how many were forgotten.
    pub fn inbox_sweep(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let end = at_key(before, "");
        let mut swept = 0;
        for entry in self.inner.seen_at.range(..end) {
            let (key, _) = entry?;
            let id = &key[8.min(key.len())..];
            self.inner.seen.remove(id)?;
            self.inner.inbox.remove(id)?;
            self.inner.seen_at.remove(&key)?;
            swept += 1;
        }
        Ok(swept)
    }

    /// How many message ids are remembered.
    pub fn seen_count(&self) -> usize {
        self.inner.seen.len()
    }

    /// The chat `key` stands for, if it is an alias (a WhatsApp user id of a user first known by
    /// their phone number).
    pub fn alias(&self, key: &ChatKey) -> Result<Option<ChatKey>, StoreError> {
        self.read(&self.inner.aliases, key.storage_key().as_bytes())
    }

    /// Makes `alias` stand for `chat`.
    pub fn set_alias(&self, alias: &ChatKey, chat: &ChatKey) -> Result<(), StoreError> {
        self.write(&self.inner.aliases, alias.storage_key().as_bytes(), chat)
    }
}
