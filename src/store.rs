//! Everything billbot must find again, in sled on disk.
//!
//! Layout (schema version 1). Every value is JSON `{"v": 1, "data": …}`; a value that does not
//! decode, or carries another version, is reported (logged, counted) and read as absent: a bad
//! record resets that one thing and never stops the bot.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `schema_version` | the schema version, as text (`1`) |
//! | `dialogue` | chat key | the chat's dialogue state |
//! | `prefs` | chat key | [`Prefs`]: the language the chat chose |
//! | `orders` | order digits | [`OrderRecord`]: the order as last seen and its status history |
//! | `activity` | chat key, `0x00`, item id | [`Activity`]: an order or bill lookup of the chat |
//! | `saved` | chat key, `0x00`, biller key, `:`, reference | [`SavedReference`]: a reference the chat saved |
//! | `watches` | order digits | [`Watch`]: who waits for news of an order, and what they were told |
//! | `watch_due` | next check (ms since the epoch, big-endian), order digits | nothing: the tracker's schedule |
//! | `seen` | inbound message id (a WhatsApp `wamid`) | when it was received: a redelivery is recognized |
//! | `seen_at` | received (ms, big-endian), message id | nothing: the order in which `seen` is swept |
//! | `inbox` | inbound message id | the message, until a step has handled it (resumed after a restart) |
//! | `held` | chat key, `0x00`, held at (ms, big-endian), sequence | a notice the channel could not send yet |
//! | `aliases` | chat key | the chat key it stands for (a WhatsApp user id known by its phone number) |
//!
//! Chat keys are channel-qualified (`tg:123456`, `wa:221771234567`, `term:demo`) so channels
//! never collide.
//! Writes are in memory until [`Store::flush`], which callers await before telling the user
//! anything they must find again: a `kill -9` after a reply loses nothing the reply mentioned.

mod held;
mod inbox;
mod records;
mod watches;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use records::{Activity, ActivityItem, OrderRecord, Prefs, SavedReference, StatusChange, Watch, Watcher};

use crate::domain::{ChatKey, CustomerReference, Order, OrderNo};
use crate::i18n::Lang;

/// The schema this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// How many items a chat's activity keeps; older ones are dropped.
pub const ACTIVITY_LIMIT: usize = 50;

/// A flush slower than this is logged: every reply waiting on it was held that long.
const SLOW_FLUSH: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database could not be used: {0}")]
    Sled(#[from] sled::Error),
    #[error("the database at {path} has schema version {found}, this billbot reads version {SCHEMA_VERSION}")]
    ForeignSchema { path: String, found: String },
    #[error("a record could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The sled store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    dialogue: sled::Tree,
    prefs: sled::Tree,
    orders: sled::Tree,
    activity: sled::Tree,
    saved: sled::Tree,
    watches: sled::Tree,
    watch_due: sled::Tree,
    seen: sled::Tree,
    seen_at: sled::Tree,
    inbox: sled::Tree,
    held: sled::Tree,
    aliases: sled::Tree,
    skipped: AtomicU64,
    flusher: Flusher,
}

/// Group-commit bookkeeping for [`Store::flush`].
#[derive(Default)]
struct Flusher {
    turn: tokio::sync::Mutex<()>,
    /// Tickets handed out.
    requested: AtomicU64,
    /// The highest ticket a completed flush covered.
    completed: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope<T> {
    v: u32,
    data: T,
}

/// A record as stored: in its envelope, with this build's schema version.
fn encode<T: Serialize>(data: &T) -> Result<Vec<u8>, StoreError> {
    Ok(serde_json::to_vec(&Envelope { v: SCHEMA_VERSION, data })?)
}

impl Store {
    /// Opens (or creates) the database in `dir`. A database written by another schema version
    /// is refused rather than misread.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new().path(dir).open()?;
        let meta = db.open_tree("meta")?;
        match meta.get("schema_version")? {
            None => {
                meta.insert("schema_version", SCHEMA_VERSION.to_string().as_bytes())?;
                meta.flush()?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION.to_string().as_bytes() => {}
            Some(v) => {
                return Err(StoreError::ForeignSchema {
                    path: dir.display().to_string(),
                    found: String::from_utf8_lossy(&v).into_owned(),
                });
            }
        }
        Ok(Store {
            inner: Arc::new(Inner {
                dialogue: db.open_tree("dialogue")?,
                prefs: db.open_tree("prefs")?,
                orders: db.open_tree("orders")?,
                activity: db.open_tree("activity")?,
                saved: db.open_tree("saved")?,
                watches: db.open_tree("watches")?,
                watch_due: db.open_tree("watch_due")?,
                seen: db.open_tree("seen")?,
                seen_at: db.open_tree("seen_at")?,
                inbox: db.open_tree("inbox")?,
                held: db.open_tree("held")?,
                aliases: db.open_tree("aliases")?,
                db,
                skipped: AtomicU64::new(0),
                flusher: Flusher::default(),
            }),
        })
    }

    /// Makes every write made before the call durable.
    ///
    /// Flushes are group commits, one at a time: a caller takes a ticket, waits for the flush in
    /// progress, and returns at once if a flush that started after its ticket has completed;
    /// otherwise it flushes for everyone waiting. Besides saving fsyncs under load, this keeps
    /// sled 0.34 safe: many concurrent `flush_async` calls can occupy all of sled's I/O threads
    /// waiting for a log write that needs one of them, and hang (seen at 100 concurrent chats).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let flusher = &self.inner.flusher;
        let ticket = flusher.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let _turn = flusher.turn.lock().await;
        if flusher.completed.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        // Every ticket issued so far belongs to a write made before it: this flush covers them.
        let covered = flusher.requested.load(Ordering::SeqCst);
        let started = std::time::Instant::now();
        self.inner.db.flush_async().await?;
        let took = started.elapsed();
        if took >= SLOW_FLUSH {
            // Every chat waiting to reply waited this long: worth an operator's look at the disk.
            tracing::warn!(millis = took.as_millis() as u64, "slow store flush");
        }
        flusher.completed.store(covered, Ordering::SeqCst);
        Ok(())
    }

    /// How many unreadable records were skipped since opening.
    pub fn skipped_records(&self) -> u64 {
        self.inner.skipped.load(Ordering::Relaxed)
    }

    fn read<T: DeserializeOwned>(&self, tree: &sled::Tree, key: &[u8]) -> Result<Option<T>, StoreError> {
        Ok(tree.get(key)?.and_then(|bytes| self.decode(tree, key, &bytes)))
    }

    fn decode<T: DeserializeOwned>(&self, tree: &sled::Tree, key: &[u8], bytes: &[u8]) -> Option<T> {
        match serde_json::from_slice::<Envelope<T>>(bytes) {
            Ok(Envelope { v: SCHEMA_VERSION, data }) => Some(data),
            Ok(Envelope { v, .. }) => {
                self.report(tree, key, &format!("record version {v}"));
                None
            }
            Err(e) => {
                self.report(tree, key, &e.to_string());
                None
            }
        }
    }

    fn report(&self, tree: &sled::Tree, key: &[u8], why: &str) {
        self.inner.skipped.fetch_add(1, Ordering::Relaxed);
        let tree = String::from_utf8_lossy(&tree.name()).into_owned();
        let key = String::from_utf8_lossy(key).into_owned();
        tracing::warn!(tree, key, why, "skipping an unreadable record");
    }

    fn write<T: Serialize>(&self, tree: &sled::Tree, key: &[u8], data: &T) -> Result<(), StoreError> {
        tree.insert(key, encode(data)?)?;
        Ok(())
    }

    /// The chat's dialogue state, if one is stored and readable.
    pub fn dialogue<T: DeserializeOwned>(&self, chat: &ChatKey) -> Result<Option<T>, StoreError> {
        self.read(&self.inner.dialogue, chat.storage_key().as_bytes())
    }

    pub fn set_dialogue<T: Serialize>(&self, chat: &ChatKey, state: &T) -> Result<(), StoreError> {
        self.write(&self.inner.dialogue, chat.storage_key().as_bytes(), state)
    }

    pub fn prefs(&self, chat: &ChatKey) -> Result<Prefs, StoreError> {
        Ok(self.read(&self.inner.prefs, chat.storage_key().as_bytes())?.unwrap_or_default())
    }

    pub fn set_lang(&self, chat: &ChatKey, lang: Lang) -> Result<(), StoreError> {
        let mut prefs = self.prefs(chat)?;
        prefs.lang = Some(lang);
        self.set_prefs(chat, &prefs)
    }

    pub fn set_prefs(&self, chat: &ChatKey, prefs: &Prefs) -> Result<(), StoreError> {
        self.write(&self.inner.prefs, chat.storage_key().as_bytes(), prefs)
    }

    pub fn order(&self, order: &OrderNo) -> Result<Option<OrderRecord>, StoreError> {
        self.read(&self.inner.orders, order.digits().as_bytes())
    }

    /// Stores what the provider said of an order, adding a status change to its history when
    /// the status differs from the last one seen. Atomic: chats and the tracker may record the
    /// same order at once, and each write builds on the one before it.
    pub fn record_order(
        &self,
        order_no: &OrderNo,
        order: &Order,
        at: DateTime<Utc>,
    ) -> Result<OrderRecord, StoreError> {
        let tree = &self.inner.orders;
        let key = order_no.digits().as_bytes();
        let fresh =
            || OrderRecord { order: order.clone(), changes: Vec::new(), first_seen: at, last_checked: at };
        // Set by the update below, which sled runs at least once.
        let mut outcome: Result<OrderRecord, StoreError> = Ok(fresh());
        tree.update_and_fetch(key, |stored| {
            // sled may call this again if another write got in between: start afresh each time.
            let mut record =
                stored.and_then(|bytes| self.decode::<OrderRecord>(tree, key, bytes)).unwrap_or_else(fresh);
            let changed = record.changes.last().is_none_or(|last| {
                last.status != order.status || last.provider_status != order.provider_status
            });
            if changed {
                record.changes.push(StatusChange {
                    status: order.status,
                    provider_status: order.provider_status.clone(),
                    at,
                });
            }
            record.order = order.clone();
            record.last_checked = at;
            match encode(&record) {
                Ok(bytes) => {
                    outcome = Ok(record);
                    Some(bytes)
                }
                Err(e) => {
                    // Keep what was stored rather than lose it.
                    outcome = Err(e);
                    stored.map(<[u8]>::to_vec)
                }
            }
        })?;
        outcome
    }

    fn activity_key(chat: &ChatKey, item: &ActivityItem) -> Vec<u8> {
        let mut key = Self::chat_prefix(chat);
        key.extend_from_slice(item.id().as_bytes());
        key
    }

    fn chat_prefix(chat: &ChatKey) -> Vec<u8> {
        let mut key = chat.storage_key().as_bytes().to_vec();
        key.push(0);
        key
    }

    /// Puts `item` at the top of the chat's activity (once: a repeat only moves it up).
    pub fn touch_activity(
        &self,
        chat: &ChatKey,
        item: ActivityItem,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = Self::activity_key(chat, &item);
        self.write(&self.inner.activity, &key, &Activity { at, item })?;
        let all = self.activity(chat)?;
        for old in all.iter().skip(ACTIVITY_LIMIT) {
            self.inner.activity.remove(Self::activity_key(chat, &old.item))?;
        }
        Ok(())
    }

    /// Every readable record of `chat` in a per-chat tree, in key order.
    fn chat_records<T: DeserializeOwned>(
        &self,
        tree: &sled::Tree,
        chat: &ChatKey,
    ) -> Result<Vec<T>, StoreError> {
        let mut items = Vec::new();
        for entry in tree.scan_prefix(Self::chat_prefix(chat)) {
            let (key, bytes) = entry?;
            if let Some(item) = self.decode::<T>(tree, &key, &bytes) {
                items.push(item);
            }
        }
        Ok(items)
    }

    /// The chat's activity, newest first.
    pub fn activity(&self, chat: &ChatKey) -> Result<Vec<Activity>, StoreError> {
        let mut items: Vec<Activity> = self.chat_records(&self.inner.activity, chat)?;
        items.sort_by_key(|a| std::cmp::Reverse(a.at));
        Ok(items)
    }

    fn saved_key(chat: &ChatKey, reference: &CustomerReference) -> Vec<u8> {
        let mut key = Self::chat_prefix(chat);
        key.extend_from_slice(format!("{}:{}", reference.biller().key(), reference.as_str()).as_bytes());
        key
    }

    /// Saves a reference for the chat, with an optional nickname; saving it again renames it.
    pub fn save_reference(
        &self,
        chat: &ChatKey,
        reference: &CustomerReference,
        nickname: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<SavedReference, StoreError> {
        let key = Self::saved_key(chat, reference);
        let saved_at = self.read::<SavedReference>(&self.inner.saved, &key)?.map_or(at, |old| old.saved_at);
        let saved = SavedReference {
            biller: reference.biller(),
            reference: reference.as_str().to_owned(),
            nickname: nickname.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
            saved_at,
        };
        self.write(&self.inner.saved, &key, &saved)?;
        Ok(saved)
    }

    /// Removes a saved reference; `false` when it was not saved.
    pub fn delete_reference(
        &self,
        chat: &ChatKey,
        reference: &CustomerReference,
    ) -> Result<bool, StoreError> {
        Ok(self.inner.saved.remove(Self::saved_key(chat, reference))?.is_some())
    }

    /// The chat's saved references, oldest first (the order they were saved in).
    pub fn saved_references(&self, chat: &ChatKey) -> Result<Vec<SavedReference>, StoreError> {
        let mut saved: Vec<SavedReference> = self.chat_records(&self.inner.saved, chat)?;
        saved.sort_by_key(|s| s.saved_at);
        Ok(saved)
    }
}
