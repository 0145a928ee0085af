//! Notices a channel could not send when they came (WhatsApp, outside the 24-hour window with no
//! template configured): kept per chat, oldest first, and given with the chat's next message.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Store, StoreError};
use crate::domain::ChatKey;

/// Notices kept for one chat at most; older ones give way (the newest news matters most).
pub const HELD_LIMIT: usize = 20;

impl Store {
    /// Keeps `notice` for `chat`.
    pub fn hold<T: Serialize>(
        &self,
        chat: &ChatKey,
        notice: &T,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut key = Self::chat_prefix(chat);
        key.extend_from_slice(&u64::try_from(at.timestamp_millis()).unwrap_or(0).to_be_bytes());
        // Two notices in one millisecond keep their order and both survive.
        key.extend_from_slice(&self.inner.db.generate_id()?.to_be_bytes());
        self.write(&self.inner.held, &key, notice)?;
        let keys: Vec<_> =
            self.inner.held.scan_prefix(Self::chat_prefix(chat)).keys().collect::<Result<_, _>>()?;
        for old in keys.iter().rev().skip(HELD_LIMIT) {
            self.inner.held.remove(old)?;
        }
        Ok(())
    }

    /// Takes the notices kept for `chat`, oldest first (they are removed).
    pub fn take_held<T: DeserializeOwned>(&self, chat: &ChatKey) -> Result<Vec<T>, StoreError> {
        let mut notices = Vec::new();
        for entry in self.inner.held.scan_prefix(Self::chat_prefix(chat)) {
            let (key, bytes) = entry?;
            if let Some(notice) = self.decode::<T>(&self.inner.held, &key, &bytes) {
                notices.push(notice);
            }
            self.inner.held.remove(key)?;
        }
        Ok(notices)
    }
}
