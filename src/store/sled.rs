//! The sled backend: an embedded database in one directory.
//!
//! Layout (schema version 1):
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `schema_version` | the schema version, as text (`1`) |
//! | `meta` | `payload_key` | the random key that signs button payloads, made on first use |
//! | `dialogue` | chat key | the chat's dialogue state |
//! | `prefs` | chat key | [`Prefs`]: the language the chat chose, when it last wrote |
//! | `orders` | order digits | [`OrderRecord`]: the order as last seen and its status history |
//! | `activity` | chat key, `0x00`, item id | [`Activity`]: an order or bill lookup of the chat |
//! | `saved` | chat key, `0x00`, biller key, `:`, reference | [`SavedReference`]: a reference the chat saved |
//! | `watches` | order digits | [`Watch`]: who waits for news of an order, and what they were told |
//! | `watch_due` | next check (ms since the epoch, big-endian), order digits | nothing: the tracker's schedule |
//! | `seen` | inbound message id (a WhatsApp `wamid.…`, a Telegram `tg:update:…`) | when it was received (ms, big-endian): a redelivery is recognized |
//! | `seen_at` | received (ms, big-endian), message id | nothing: the order in which `seen` is swept |
//! | `inbox` | inbound message id | the message, until a step has handled it (resumed after a restart) |
//! | `inbox_queue` | chat key, `0x00`, order (the channel's, an `i64` with its sign bit flipped, big-endian), arrival (`u64`, big-endian) | received (ms, big-endian), message id: the chat's messages in the order to handle them |
//! | `inbox_slot` | inbound message id | its `inbox_queue` key (a message kept by a billbot older than the queues has none) |
//! | `held` | chat key, `0x00`, held at (ms, big-endian), sequence | a notice the channel could not send yet |
//! | `aliases` | chat key | the chat key it stands for (a WhatsApp user id known by its phone number) |
//! | `outbox` | outgoing id (the chat's key, `\|`, what it tells: an order's status, a ticket's message, a reminder) | [`Outgoing`]: a notice to send, or sent (kept a while) |
//! | `outbox_due` | due (ms, big-endian), outgoing id | nothing: the order in which notices are sent |
//! | `outbox_claims` | chat key, `0x00`, outgoing id | nothing: the chat's claimed notices (the [`Outgoing`] says by whom, until when) |
//! | `reminders` | chat key, `0x00`, biller key, `:`, reference | [`Reminder`]: a bill's due date to remind the chat of |
//! | `reminder_due` | next reminder (ms, big-endian), then the `reminders` key | nothing: the reminders' schedule |
//! | `tickets` | ticket id | [`Ticket`]: a customer's request to talk to a person |
//! | `ticket_of` | chat key | the id of the chat's latest ticket |
//! | `owned` | chat key, `0x00`, kind (`o` order, `w` watch, `t` ticket, `a` alias), the record's key | nothing: the shared records that name the chat, which `/forget` visits (see `sled/owned.rs`) |
//! | `swept_owned` | order digits | when the retention sweep removed the order's record, which had owners: the order is nobody's to take when seen again |
//! | `meta` | `owned_index` | `1` once `owned` covers every record (built at start for a store older than it) |
//! | `web_log` | chat key, `0x00`, line number (`i64`, sign bit flipped, big-endian) | written at (ms, big-endian), then the line: a web chat's conversation (the newest [`super::WEB_LOG_KEPT`]) |
//! | `web_seq` | chat key | the last line number given (`i64`, big-endian), then when (ms, big-endian): kept by `/forget`, swept with idle dialogues |
//!
//! Chat keys are channel-qualified (`tg:123456`, `wa:221771234567`, `term:demo`) so channels
//! never collide. A batch's ops are applied in order and then flushed, once: a `kill -9` after a
//! reply loses nothing the reply mentioned. Reads and writes are in-memory operations of a few
//! microseconds, called directly from async code; the one call that waits for the disk, the
//! flush, runs on a blocking thread, grouped (see [`SledStore::flush`]).
//!
//! What an op makes of a record (an order seen again, a reference saved again, a sender's report
//! on a notice) is the record's own rule, in `store/records.rs`, shared with the PostgreSQL
//! backend; this file only keeps the records and their indexes.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionError, ConflictableTransactionResult, TransactionalTree};

use super::records::reference_key;
use super::{
    ACTIVITY_LIMIT, Activity, ActivityItem, Batch, Dumped, HELD_LIMIT, HeldId, Op, OrderRecord, Outgoing,
    OutgoingChange, Prefs, Reminder, SCHEMA_VERSION, SavedReference, StoreError, Swept, Ticket, TurnNext,
    TurnStart, WEB_LOG_KEPT, Watch, WebLine, decode, encode, web_log_numbers,
};
use crate::domain::{ChatKey, CustomerReference, OrderNo};

mod owned;

/// The `meta` key of the deployment's payload key.
const PAYLOAD_KEY: &str = "payload_key";

/// sled's page cache.
const SLED_CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// A flush slower than this is an error, and counted (`billbot_store_stalled_flushes_total`).
const STALLED_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// A flush slower than this is logged: every reply waiting on it was held that long.
const SLOW_FLUSH: std::time::Duration = std::time::Duration::from_millis(100);

/// The sled store. Cheap to clone.
#[derive(Clone)]
pub struct SledStore {
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
    inbox_queue: sled::Tree,
    inbox_slot: sled::Tree,
    held: sled::Tree,
    aliases: sled::Tree,
    outbox: sled::Tree,
    outbox_due: sled::Tree,
    outbox_claims: sled::Tree,
    /// Held while notices are claimed: whether a chat's notices are another sender's is checked
    /// and the claims are made with no other claim in between (a few reads and writes in memory).
    claiming: std::sync::Mutex<()>,
    reminders: sled::Tree,
    reminder_due: sled::Tree,
    tickets: sled::Tree,
    ticket_of: sled::Tree,
    owned: sled::Tree,
    swept_owned: sled::Tree,
    web_log: sled::Tree,
    web_seq: sled::Tree,
    /// Held while lines are added to a web conversation: the last number is read and the next
    /// ones written with no other writer in between.
    web_logging: std::sync::Mutex<()>,
    skipped: AtomicU64,
    flusher: Flusher,
    /// Held while a message is taken in ([`SledStore::inbox_keep`]): two deliveries of one id
    /// (one process holds a sled store) are taken in one after the other.
    keeping: std::sync::Mutex<()>,
}

/// Group-commit bookkeeping for [`SledStore::flush`].
#[derive(Default)]
struct Flusher {
    turn: tokio::sync::Mutex<()>,
    /// Tickets handed out.
    requested: AtomicU64,
    /// The highest ticket a completed flush covered.
    completed: AtomicU64,
    /// Told after each flush.
    flushed: tokio::sync::Notify,
    /// Flushes made.
    flushes: AtomicU64,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

fn millis(at: DateTime<Utc>) -> [u8; 8] {
    u64::try_from(at.timestamp_millis()).unwrap_or(0).to_be_bytes()
}

fn chat_prefix(chat: &ChatKey) -> Vec<u8> {
    let mut key = chat.storage_key().into_bytes();
    key.push(0);
    key
}

/// A `web_log` key: the chat's prefix, then the line's number, ordered as numbers.
fn web_log_key(chat: &ChatKey, seq: i64) -> Vec<u8> {
    let mut key = chat_prefix(chat);
    key.extend_from_slice(&((seq as u64) ^ (1 << 63)).to_be_bytes());
    key
}

/// The line number at the end of a `web_log` key.
fn web_log_seq(key: &[u8]) -> Option<i64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some((u64::from_be_bytes(tail) ^ (1 << 63)) as i64)
}

fn activity_key(chat: &ChatKey, item: &ActivityItem) -> Vec<u8> {
    let mut key = chat_prefix(chat);
    key.extend_from_slice(item.id().as_bytes());
    key
}

fn saved_key(chat: &ChatKey, reference: &CustomerReference) -> Vec<u8> {
    let mut key = chat_prefix(chat);
    key.extend_from_slice(reference_key(reference).as_bytes());
    key
}

fn due_key(at: DateTime<Utc>, order: &OrderNo) -> Vec<u8> {
    let mut key = millis(at).to_vec();
    key.extend_from_slice(order.digits().as_bytes());
    key
}

/// A [`super::TellingUpdate`] that may borrow (a claim records what it found).
type TellingFn<'a> = Telling<'a, Watch>;

/// A change to a scheduled record that tells chats something: the new record (`None` removes
/// it) and the notices to record, from the stored one. It may run more than once.
type Telling<'a, T> = Box<dyn FnMut(Option<T>) -> (Option<T>, Vec<Outgoing>) + Send + 'a>;

/// Where a scheduled record is kept: its tree, its schedule, its key, and the schedule entry it
/// was found by (if any).
struct Scheduled<'a> {
    records: &'a sled::Tree,
    schedule: &'a sled::Tree,
    key: &'a [u8],
    entry: Option<&'a [u8]>,
}

/// A [`super::ReminderUpdate`] that may borrow.
type ReminderFn<'a> = Telling<'a, Reminder>;

fn outgoing_due_key(at: DateTime<Utc>, id: &str) -> Vec<u8> {
    let mut key = millis(at).to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

fn outgoing_claim_key(chat: &ChatKey, id: &str) -> Vec<u8> {
    let mut key = chat_prefix(chat);
    key.extend_from_slice(id.as_bytes());
    key
}

fn reminder_key(chat: &ChatKey, reference: &CustomerReference) -> Vec<u8> {
    saved_key(chat, reference)
}

fn reminder_due_key(at: DateTime<Utc>, key: &[u8]) -> Vec<u8> {
    let mut due = millis(at).to_vec();
    due.extend_from_slice(key);
    due
}

/// A message's place in its chat's queue: by the channel's `order`, then by `arrival`. The sign
/// bit of the order is flipped so that negative orders sort first, byte by byte.
fn inbox_queue_key(chat: &ChatKey, order: i64, arrival: u64) -> Vec<u8> {
    let mut key = chat_prefix(chat);
    key.extend_from_slice(&((order as u64) ^ (1 << 63)).to_be_bytes());
    key.extend_from_slice(&arrival.to_be_bytes());
    key
}

/// What an `inbox_queue` entry holds: when the message was received, and its id.
fn inbox_queue_value(at: DateTime<Utc>, id: &str) -> Vec<u8> {
    seen_at_key(at, id)
}

/// The `inbox_queue` key taken apart: the chat (as stored) and the channel's order.
fn split_inbox_queue_key(key: &[u8]) -> Option<(&[u8], i64)> {
    let at = key.iter().position(|b| *b == 0)?;
    let order = <[u8; 8]>::try_from(key.get(at + 1..at + 9)?).ok()?;
    Some((&key[..at], (u64::from_be_bytes(order) ^ (1 << 63)) as i64))
}

/// A `web_log` value taken apart: when the line was written, and the line.
fn split_web_line(value: &[u8]) -> Option<(DateTime<Utc>, &[u8])> {
    let (stamp, line) = value.split_first_chunk::<8>()?;
    Some((DateTime::from_timestamp_millis(u64::from_be_bytes(*stamp) as i64).unwrap_or_default(), line))
}

/// A `web_seq` value: the last number given to a chat's line, then when.
fn web_seq_value(last: i64, at: DateTime<Utc>) -> Vec<u8> {
    let mut value = last.to_be_bytes().to_vec();
    value.extend_from_slice(&millis(at));
    value
}

/// A `web_seq` value taken apart: the last number, and when it was given.
fn split_web_seq(value: &[u8]) -> Option<(i64, DateTime<Utc>)> {
    let (last, rest) = value.split_first_chunk::<8>()?;
    let (stamp, _) = rest.split_first_chunk::<8>()?;
    let at = DateTime::from_timestamp_millis(u64::from_be_bytes(*stamp) as i64).unwrap_or_default();
    Some((i64::from_be_bytes(*last), at))
}

/// An `inbox_queue` value taken apart: when the message was received, and its id.
fn split_inbox_queue_value(value: &[u8]) -> Option<(DateTime<Utc>, String)> {
    let millis = <[u8; 8]>::try_from(value.get(..8)?).ok()?;
    let at = DateTime::from_timestamp_millis(u64::from_be_bytes(millis) as i64)?;
    Some((at, String::from_utf8_lossy(&value[8..]).into_owned()))
}

/// Puts notices in the outbox and on its schedule, in the caller's transaction; one whose id is
/// known already is not recorded again.
fn record_outgoing(
    outbox: &TransactionalTree,
    outbox_due: &TransactionalTree,
    tell: &[Outgoing],
) -> ConflictableTransactionResult<(), StoreError> {
    for outgoing in tell {
        if outbox.get(outgoing.id.as_bytes())?.is_some() {
            continue;
        }
        outbox
            .insert(outgoing.id.as_bytes(), encode(outgoing).map_err(ConflictableTransactionError::Abort)?)?;
        if let Some(at) = outgoing.next_at {
            outbox_due.insert(outgoing_due_key(at, &outgoing.id), &[])?;
        }
    }
    Ok(())
}

/// A sled transaction's error as the store's.
fn transaction_error(e: sled::transaction::TransactionError<StoreError>) -> StoreError {
    match e {
        sled::transaction::TransactionError::Abort(e) => e,
        sled::transaction::TransactionError::Storage(e) => StoreError::from(e),
    }
}

fn seen_at_key(at: DateTime<Utc>, id: &str) -> Vec<u8> {
    let mut key = millis(at).to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

/// Text stored as bytes (a key), as text.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A per-chat key (the chat, `0x00`, the rest) taken apart: the chat, and the rest.
fn split_chat_key(key: &[u8]) -> (String, &[u8]) {
    let at = key.iter().position(|b| *b == 0).unwrap_or(key.len());
    (lossy(&key[..at]), key.get(at + 1..).unwrap_or_default())
}

/// Each record of `tree` made a [`Dumped`] by `dumped`, from its key and its bytes as stored.
fn dump_raw(
    tree: &sled::Tree,
    out: &mut Vec<Dumped>,
    dumped: impl Fn(&[u8], Vec<u8>) -> Dumped,
) -> Result<(), StoreError> {
    for entry in tree.iter() {
        let (key, data) = entry?;
        out.push(dumped(&key, data.to_vec()));
    }
    Ok(())
}

/// Opens the database, waiting up to 2 s while its directory is locked. sled releases the lock
/// when its last thread lets go of the database, a moment after the last handle is dropped, so a
/// store reopened at once in the same process (a restart in place) would otherwise find it taken.
/// Another process holding it for longer is refused, as before.
fn open_when_free(dir: &Path) -> Result<sled::Db, StoreError> {
    let started = std::time::Instant::now();
    loop {
        match sled::Config::new().path(dir).cache_capacity(SLED_CACHE_BYTES).open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < std::time::Duration::from_secs(2) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return Ok(result?),
        }
    }
}

impl SledStore {
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        // sled caches up to 1 GiB by default, and a store of a million orders fills it (measured:
        // 1,069 MiB of RSS in `cargo bench --bench orders`). 128 MiB keeps lookups in memory for
        // the orders a bot touches most.
        let db = open_when_free(dir)?;
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
        let store = SledStore {
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
                inbox_queue: db.open_tree("inbox_queue")?,
                inbox_slot: db.open_tree("inbox_slot")?,
                held: db.open_tree("held")?,
                aliases: db.open_tree("aliases")?,
                outbox: db.open_tree("outbox")?,
                outbox_due: db.open_tree("outbox_due")?,
                outbox_claims: db.open_tree("outbox_claims")?,
                claiming: std::sync::Mutex::new(()),
                reminders: db.open_tree("reminders")?,
                reminder_due: db.open_tree("reminder_due")?,
                tickets: db.open_tree("tickets")?,
                ticket_of: db.open_tree("ticket_of")?,
                owned: db.open_tree("owned")?,
                swept_owned: db.open_tree("swept_owned")?,
                web_log: db.open_tree("web_log")?,
                web_seq: db.open_tree("web_seq")?,
                web_logging: std::sync::Mutex::new(()),
                db,
                skipped: AtomicU64::new(0),
                flusher: Flusher::default(),
                keeping: std::sync::Mutex::new(()),
            }),
        };
        store.index_owned_once()?;
        Ok(store)
    }

    /// Makes every write made before the call durable.
    ///
    /// Flushes are group commits, one at a time: a caller takes a ticket, waits for the flush in
    /// progress, and returns at once if a flush that started after its ticket has completed;
    /// otherwise it flushes for everyone waiting. Besides saving fsyncs under load, this keeps
    /// sled 0.34 safe: many concurrent `flush_async` calls can occupy all of sled's I/O threads
    /// waiting for a log write that needs one of them, and hang (seen at 100 concurrent chats).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let ticket = self.inner.flusher.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.flush_for(ticket).await
    }

    /// [`SledStore::flush`], giving the next flush (another write's: a step's commit that is on
    /// its way) up to `grace` to start and cover the writes made before the call, and flushing
    /// only if none did. A message taken in and answered at once is then made durable by one
    /// flush, its step's, instead of two.
    pub async fn flush_within(&self, grace: std::time::Duration) -> Result<(), StoreError> {
        let flusher = &self.inner.flusher;
        let ticket = flusher.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let flushed = flusher.flushed.notified();
            tokio::pin!(flushed);
            flushed.as_mut().enable();
            if flusher.completed.load(Ordering::SeqCst) >= ticket {
                return Ok(());
            }
            tokio::select! {
                _ = flushed => {}
                _ = tokio::time::sleep_until(deadline) => return self.flush_for(ticket).await,
            }
        }
    }

    async fn flush_for(&self, ticket: u64) -> Result<(), StoreError> {
        let flusher = &self.inner.flusher;
        let _turn = flusher.turn.lock().await;
        if flusher.completed.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        // Every ticket issued so far belongs to a write made before it: this flush covers them.
        let covered = flusher.requested.load(Ordering::SeqCst);
        let started = std::time::Instant::now();
        // On a blocking thread of tokio's rather than sled's own: the wait is then known to the
        // runtime (a test on a paused clock does not jump ahead while the disk works).
        let db = self.inner.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Sled(sled::Error::Io(std::io::Error::other(e))))??;
        let took = started.elapsed();
        if took >= STALLED_FLUSH {
            // Replies were held this long: the disk is failing or full, and an operator must look.
            metrics::counter!("billbot_store_stalled_flushes_total").increment(1);
            tracing::error!(millis = took.as_millis() as u64, "the store's flush stalled: check the disk");
        } else if took >= SLOW_FLUSH {
            // Every chat waiting to reply waited this long: worth an operator's look at the disk.
            tracing::warn!(millis = took.as_millis() as u64, "slow store flush");
        }
        flusher.completed.store(covered, Ordering::SeqCst);
        flusher.flushes.fetch_add(1, Ordering::Relaxed);
        flusher.flushed.notify_waiters();
        Ok(())
    }

    /// Applies the ops in order, then flushes once. A batch that erases a chat is applied on a
    /// blocking thread: it reads and rewrites every record that names the chat, which may be many.
    pub async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.ops.iter().any(|op| matches!(op, Op::ForgetChat { .. })) {
            let store = self.clone();
            tokio::task::spawn_blocking(move || batch.ops.into_iter().try_for_each(|op| store.apply(op)))
                .await
                .map_err(|e| StoreError::Sled(sled::Error::Io(std::io::Error::other(e))))??;
        } else {
            for op in batch.ops {
                self.apply(op)?;
            }
        }
        self.flush().await
    }

    fn apply(&self, op: Op) -> Result<(), StoreError> {
        let inner = &self.inner;
        match op {
            Op::Dialogue { chat, state } => self.write_dialogue(&chat, state),
            Op::Prefs { chat, prefs } => self.write(&inner.prefs, chat.storage_key().as_bytes(), &prefs),
            Op::Lang { chat, lang } => {
                let prefs = Prefs { lang: Some(lang), ..self.prefs(&chat)? };
                self.write(&inner.prefs, chat.storage_key().as_bytes(), &prefs)
            }
            Op::CountLookup { chat, kind, at } => {
                self.update(&inner.prefs, chat.storage_key().as_bytes(), |stored: Option<Prefs>| {
                    let mut prefs = stored.unwrap_or_default();
                    prefs.lookups.count(kind, at);
                    Some(prefs)
                })
            }
            Op::RecordOrder { order_no, order, at, claimant } => {
                self.update_order(&order_no, claimant.as_ref(), |stored| {
                    Some(OrderRecord::merged(stored, &order, at, claimant.as_ref()))
                })
            }
            Op::OwnOrder { order_no, chat } => {
                self.update_order(&order_no, Some(&chat), |stored| stored.map(|r| r.with_owner(&chat)))
            }
            Op::FailedProof { order_no, chat, at } => {
                self.update_order(&order_no, None, |stored| stored.map(|r| r.with_failed_proof(&chat, at)))
            }
            Op::CloseOrder { order_no } => {
                self.update_order(&order_no, None, |stored| stored.map(OrderRecord::closed))?;
                inner.swept_owned.remove(order_no.digits().as_bytes())?;
                Ok(())
            }
            Op::Activity { chat, item, at } => self.add_activity(&chat, Activity { at, item }),
            Op::SaveReference { chat, reference, nickname, at } => {
                self.save_reference(&chat, &reference, nickname, at)
            }
            Op::DeleteReference { chat, reference } => {
                inner.saved.remove(saved_key(&chat, &reference))?;
                Ok(())
            }
            Op::Watch { order_no, mut update } => {
                self.update_watch(&order_no, None, Box::new(move |stored| (update(stored), Vec::new())))
            }
            Op::WatchAndTell { order_no, update } => self.update_watch(&order_no, None, update),
            Op::Outgoing { id, change, holder } => self.change_outgoing(&id, change, holder.as_deref()),
            Op::Ticket { ticket, tell } => self.write_ticket(&ticket, &tell),
            Op::Remind { reminder } => {
                let key = reminder_key(&reminder.chat, &reminder.reference);
                self.update_reminder(&key, None, Box::new(move |_| (Some(reminder.clone()), Vec::new())))
            }
            Op::CancelReminder { chat, reference } => {
                let key = reminder_key(&chat, &reference);
                self.update_reminder(&key, None, Box::new(|_| (None, Vec::new())))
            }
            Op::ReminderStep { chat, reference, update } => {
                self.update_reminder(&reminder_key(&chat, &reference), None, update)
            }
            Op::InboxDone { id } => self.inbox_done(&id),
            Op::Hold { chat, notice, at } => self.hold(&chat, notice, at),
            Op::DropHeld { ids, .. } => {
                for HeldId(key) in ids {
                    inner.held.remove(key)?;
                }
                Ok(())
            }
            Op::Alias { alias, chat } => {
                self.name_alias(&alias, &chat)?;
                self.write(&inner.aliases, alias.storage_key().as_bytes(), &chat)
            }
            Op::ForgetChat { chat } => self.forget_chat(&chat),
            // One process: its per-chat lock is the lease.
            Op::Unlock { .. } => Ok(()),
            Op::EndStep { chat, state, handled, .. } => {
                self.write_dialogue(&chat, state)?;
                handled.map_or(Ok(()), |id| self.inbox_done(&id))
            }
        }
    }

    fn write_dialogue(&self, chat: &ChatKey, state: Vec<u8>) -> Result<(), StoreError> {
        self.inner.dialogue.insert(chat.storage_key().as_bytes(), state)?;
        Ok(())
    }

    /// A read-modify-write of an order's record (see [`SledStore::update`]), with its owners
    /// filed in the `owned` index: the chat `f` may add (`candidate`) before the record can name
    /// it, and the chats it no longer names after (outside `f`: sled must not be written to from
    /// within its own update).
    fn update_order(
        &self,
        order_no: &OrderNo,
        candidate: Option<&ChatKey>,
        mut f: impl FnMut(Option<OrderRecord>) -> Option<OrderRecord>,
    ) -> Result<(), StoreError> {
        let key = order_no.digits().as_bytes();
        let candidates: Vec<ChatKey> = candidate.into_iter().cloned().collect();
        self.name_owners(key, &candidates)?;
        let (mut before, mut after) = (Vec::new(), Vec::new());
        self.update(&self.inner.orders, key, |stored: Option<OrderRecord>| {
            before = stored.as_ref().map(|r| r.owners.clone()).unwrap_or_default();
            let new = f(stored);
            after = new.as_ref().map(|r| r.owners.clone()).unwrap_or_default();
            new
        })?;
        before.extend(candidates);
        self.unname_owners(key, &before, &after)
    }

    /// [`Op::Activity`]: the item at the top of the chat's activity, and the oldest beyond
    /// [`ACTIVITY_LIMIT`] dropped.
    fn add_activity(&self, chat: &ChatKey, activity: Activity) -> Result<(), StoreError> {
        let activity_tree = &self.inner.activity;
        self.write(activity_tree, &activity_key(chat, &activity.item), &activity)?;
        for old in self.activity(chat)?.iter().skip(ACTIVITY_LIMIT) {
            activity_tree.remove(activity_key(chat, &old.item))?;
        }
        Ok(())
    }

    fn save_reference(
        &self,
        chat: &ChatKey,
        reference: &CustomerReference,
        nickname: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = saved_key(chat, reference);
        let stored = self.read::<SavedReference>(&self.inner.saved, &key)?;
        self.write(&self.inner.saved, &key, &SavedReference::saved(stored, reference, nickname, at))
    }

    /// [`Op::Hold`]: the notice kept, and the oldest beyond [`HELD_LIMIT`] dropped.
    fn hold(&self, chat: &ChatKey, notice: Vec<u8>, at: DateTime<Utc>) -> Result<(), StoreError> {
        let inner = &self.inner;
        let mut key = chat_prefix(chat);
        key.extend_from_slice(&millis(at));
        // Two notices in one millisecond keep their order and both survive.
        key.extend_from_slice(&inner.db.generate_id()?.to_be_bytes());
        inner.held.insert(key, notice)?;
        let keys: Vec<_> = inner.held.scan_prefix(chat_prefix(chat)).keys().collect::<Result<_, _>>()?;
        for old in keys.iter().rev().skip(HELD_LIMIT) {
            inner.held.remove(old)?;
        }
        Ok(())
    }

    /// How many unreadable records were skipped since opening.
    pub fn skipped_records(&self) -> u64 {
        self.inner.skipped.load(Ordering::Relaxed)
    }

    /// The deployment's payload key: `candidate` if none is kept yet, else the one kept (in
    /// `meta`, flushed before it is used: a key lost in a crash would expire every button).
    pub fn payload_key(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        let meta = self.inner.db.open_tree("meta")?;
        // Only the first candidate is ever kept; a later one finds it there.
        let kept = match meta.compare_and_swap(PAYLOAD_KEY, None as Option<&[u8]>, Some(candidate))? {
            Ok(()) => candidate.to_vec(),
            Err(sled::CompareAndSwapError { current, .. }) => current.map(|v| v.to_vec()).unwrap_or_default(),
        };
        meta.flush()?;
        Ok(kept)
    }

    fn read<T: DeserializeOwned>(&self, tree: &sled::Tree, key: &[u8]) -> Result<Option<T>, StoreError> {
        Ok(tree.get(key)?.and_then(|bytes| self.decode(tree, key, &bytes)))
    }

    fn decode<T: DeserializeOwned>(&self, tree: &sled::Tree, key: &[u8], bytes: &[u8]) -> Option<T> {
        decode(bytes).map_err(|why| self.report(tree, key, &why)).ok()
    }

    fn report(&self, tree: &sled::Tree, key: &[u8], why: &str) {
        self.inner.skipped.fetch_add(1, Ordering::Relaxed);
        let tree = String::from_utf8_lossy(&tree.name()).into_owned();
        // Keys and serde's words may hold a reference: masked (`domain::reference`).
        let key = crate::domain::reference::mask_numbers(&String::from_utf8_lossy(key));
        let why = crate::domain::reference::mask_numbers(why);
        tracing::warn!(tree, key, why, "skipping an unreadable record");
    }

    fn write<T: serde::Serialize>(&self, tree: &sled::Tree, key: &[u8], data: &T) -> Result<(), StoreError> {
        tree.insert(key, encode(data)?)?;
        Ok(())
    }

    /// A read-modify-write of one record, atomic: writers of the same record at once each build on
    /// the one before. `f` may run more than once.
    fn update<T, F>(&self, tree: &sled::Tree, key: &[u8], mut f: F) -> Result<(), StoreError>
    where
        T: serde::Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> Option<T>,
    {
        let mut failed = None;
        tree.update_and_fetch(key, |stored| {
            // sled may call this again if another write got in between: start afresh each time.
            failed = None;
            let current = stored.and_then(|bytes| self.decode::<T>(tree, key, bytes));
            match f(current).map(|new| encode(&new)) {
                None => None,
                Some(Ok(bytes)) => Some(bytes),
                Some(Err(e)) => {
                    // Keep what was stored rather than lose it.
                    failed = Some(e);
                    stored.map(<[u8]>::to_vec)
                }
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// Every readable record of `chat` in a per-chat tree, in key order, with its key.
    fn chat_records<T: DeserializeOwned>(
        &self,
        tree: &sled::Tree,
        chat: &ChatKey,
    ) -> Result<Vec<(sled::IVec, T)>, StoreError> {
        let mut items = Vec::new();
        for entry in tree.scan_prefix(chat_prefix(chat)) {
            let (key, bytes) = entry?;
            if let Some(item) = self.decode::<T>(tree, &key, &bytes) {
                items.push((key, item));
            }
        }
        Ok(items)
    }

    pub fn dialogue<T: DeserializeOwned>(&self, chat: &ChatKey) -> Result<Option<T>, StoreError> {
        self.read(&self.inner.dialogue, chat.storage_key().as_bytes())
    }

    pub fn prefs(&self, chat: &ChatKey) -> Result<Prefs, StoreError> {
        Ok(self.read(&self.inner.prefs, chat.storage_key().as_bytes())?.unwrap_or_default())
    }

    pub fn swept_owned(&self, order: &OrderNo) -> Result<bool, StoreError> {
        Ok(self.inner.swept_owned.contains_key(order.digits().as_bytes())?)
    }

    pub fn order(&self, order: &OrderNo) -> Result<Option<OrderRecord>, StoreError> {
        self.read(&self.inner.orders, order.digits().as_bytes())
    }

    pub fn activity(&self, chat: &ChatKey) -> Result<Vec<Activity>, StoreError> {
        let mut items: Vec<Activity> =
            self.chat_records(&self.inner.activity, chat)?.into_iter().map(|(_, a)| a).collect();
        items.sort_by_key(|a| std::cmp::Reverse(a.at));
        Ok(items)
    }

    pub fn saved_references(&self, chat: &ChatKey) -> Result<Vec<SavedReference>, StoreError> {
        let mut saved: Vec<SavedReference> =
            self.chat_records(&self.inner.saved, chat)?.into_iter().map(|(_, s)| s).collect();
        saved.sort_by_key(|s| s.saved_at);
        Ok(saved)
    }

    pub fn watch(&self, order: &OrderNo) -> Result<Option<Watch>, StoreError> {
        self.read(&self.inner.watches, order.digits().as_bytes())
    }

    pub fn due_watches(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OrderNo>, StoreError> {
        let end = u64::try_from(now.timestamp_millis()).unwrap_or(0).saturating_add(1).to_be_bytes();
        let mut due = Vec::new();
        for entry in self.inner.watch_due.range(..end.to_vec()).take(limit) {
            let (key, _) = entry?;
            match std::str::from_utf8(&key[8.min(key.len())..]).ok().and_then(|d| OrderNo::parse(d).ok()) {
                Some(order) => due.push(order),
                None => {
                    self.report(&self.inner.watch_due, &key, "not a schedule key");
                    self.inner.watch_due.remove(key)?;
                }
            }
        }
        Ok(due)
    }

    pub fn watch_count(&self) -> usize {
        self.inner.watches.len()
    }

    /// [`super::Store::inbox_take`]: the id seen, the message kept and filed in its chat's queue,
    /// in one transaction (a crash never leaves the id seen without its message), then flushed.
    pub async fn inbox_take(
        &self,
        id: &str,
        chat: &ChatKey,
        order: i64,
        message: &[u8],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let fresh = self.inbox_keep(id, chat, order, message, at)?;
        if fresh {
            self.flush().await?;
        }
        Ok(fresh)
    }

    /// [`SledStore::inbox_take`] without the flush: the message is kept and handed out, and
    /// durable with the next flush.
    pub fn inbox_keep(
        &self,
        id: &str,
        chat: &ChatKey,
        order: i64,
        message: &[u8],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Writes of one key each, the id's `seen` mark last, rather than a transaction: sled 0.34
        // writes out and waits for its log buffer twice for each transaction (see
        // [`SledStore::inbox_done`]). Deliveries of one id take turns (`keeping`), so the check
        // and the writes act as one. A crash before the mark leaves a message taken in but not
        // marked: its redelivery is taken in again, at the same place in the queue.
        let inner = &self.inner;
        let _one_at_a_time = inner.keeping.lock().unwrap_or_else(|e| e.into_inner());
        if inner.seen.contains_key(id.as_bytes())? {
            return Ok(false);
        }
        let place = match inner.inbox_slot.get(id.as_bytes())? {
            Some(place) => place.to_vec(),
            None => inbox_queue_key(chat, order, inner.db.generate_id()?),
        };
        inner.inbox.insert(id.as_bytes(), message)?;
        inner.inbox_queue.insert(place.as_slice(), inbox_queue_value(at, id))?;
        inner.inbox_slot.insert(id.as_bytes(), place.as_slice())?;
        inner.seen_at.insert(seen_at_key(at, id), &[])?;
        inner.seen.insert(id.as_bytes(), &at.timestamp_millis().to_be_bytes()[..])?;
        Ok(true)
    }

    /// [`super::Store::turn_start`].
    pub fn turn_start<T: DeserializeOwned>(
        &self,
        chat: &ChatKey,
        inbox_id: Option<&str>,
    ) -> Result<TurnStart<T>, StoreError> {
        Ok(TurnStart {
            prefs: self.prefs(chat)?,
            dialogue: self.dialogue(chat)?,
            has_held: !self.held::<serde_json::Value>(chat)?.is_empty(),
            pending: match inbox_id {
                Some(id) => self.inner.inbox.contains_key(id.as_bytes())?,
                None => true,
            },
        })
    }

    /// [`super::Store::turn_start_next`].
    pub fn turn_start_next<T: DeserializeOwned, M: DeserializeOwned>(
        &self,
        chat: &ChatKey,
    ) -> Result<TurnNext<T, M>, StoreError> {
        let start = self.turn_start(chat, None)?;
        Ok((start, self.inbox_next(chat)?))
    }

    /// The chat's first message in its queue, with its id. One that is unreadable (or whose
    /// queue entry outlived it) is removed, and the next one is looked at.
    fn inbox_next<M: DeserializeOwned>(&self, chat: &ChatKey) -> Result<Option<(String, M)>, StoreError> {
        let inner = &self.inner;
        while let Some((key, value)) = inner.inbox_queue.scan_prefix(chat_prefix(chat)).next().transpose()? {
            let Some((_, id)) = split_inbox_queue_value(&value) else {
                self.report(&inner.inbox_queue, &key, "not an inbox queue entry");
                inner.inbox_queue.remove(key)?;
                continue;
            };
            match inner.inbox.get(id.as_bytes())? {
                Some(bytes) => match self.decode::<M>(&inner.inbox, id.as_bytes(), &bytes) {
                    Some(message) => return Ok(Some((id, message))),
                    None => self.inbox_done(&id)?,
                },
                None => {
                    tracing::warn!(id, "an inbox queue entry without its message: removed");
                    inner.inbox_queue.remove(key)?;
                    inner.inbox_slot.remove(id.as_bytes())?;
                }
            }
        }
        Ok(None)
    }

    /// The chats with a queued message received before `before`, each once.
    pub fn inbox_stale_chats(&self, before: DateTime<Utc>) -> Result<Vec<ChatKey>, StoreError> {
        let mut chats: Vec<ChatKey> = Vec::new();
        for entry in self.inner.inbox_queue.iter() {
            let (key, value) = entry?;
            let received = split_inbox_queue_value(&value).map(|(at, _)| at);
            let chat = split_inbox_queue_key(&key)
                .and_then(|(chat, _)| std::str::from_utf8(chat).ok()?.parse().ok());
            if let (Some(at), Some(chat)) = (received, chat)
                && at < before
                && chats.last() != Some(&chat)
            {
                chats.push(chat);
            }
        }
        Ok(chats)
    }

    /// Forgets the inbound message `id` (handled, swept or unreadable) and its place in its
    /// chat's queue: the message first (once it is gone, the message is handled), then its
    /// place. Three writes of one key each rather than a transaction: sled 0.34 writes out and
    /// waits for its log buffer twice for each transaction or batch (`pin_log`), which made
    /// every step's end two synchronous disk writes. A crash between the writes leaves a queue
    /// entry without its message, which [`SledStore::inbox_next`] removes when it meets it. Only
    /// the chat's turn ends its messages, so nothing else writes these keys meanwhile.
    fn inbox_done(&self, id: &str) -> Result<(), StoreError> {
        let inner = &self.inner;
        inner.inbox.remove(id.as_bytes())?;
        if let Some(place) = inner.inbox_slot.remove(id.as_bytes())? {
            inner.inbox_queue.remove(place)?;
        }
        Ok(())
    }

    pub fn inbox_pending<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<(String, T)>, StoreError> {
        let mut pending = Vec::new();
        for entry in self.inner.inbox.scan_prefix(prefix.as_bytes()) {
            let (key, bytes) = entry?;
            match self.decode::<T>(&self.inner.inbox, &key, &bytes) {
                Some(message) => pending.push((String::from_utf8_lossy(&key).into_owned(), message)),
                // Unreadable: it would never be handled; forget it rather than retry it forever.
                None => self.inbox_done(&String::from_utf8_lossy(&key))?,
            }
        }
        Ok(pending)
    }

    pub fn inbox_sweep(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut swept = 0;
        for entry in self.inner.seen_at.range(..seen_at_key(before, "")) {
            let (key, _) = entry?;
            let id = &key[8.min(key.len())..];
            self.inner.seen.remove(id)?;
            self.inbox_done(&String::from_utf8_lossy(id))?;
            self.inner.seen_at.remove(&key)?;
            swept += 1;
        }
        Ok(swept)
    }

    /// Copies the whole database into a new one in `target` (which must not hold one), flushed.
    pub fn backup(&self, target: &Path) -> Result<(), StoreError> {
        let copy = sled::Config::new().path(target).create_new(true).open()?;
        copy.import(self.inner.db.export());
        copy.flush()?;
        Ok(())
    }

    /// Every record, as stored. Records whose indexed times cannot be read are left out (and
    /// counted as unreadable).
    pub fn dump(&self) -> Result<Vec<Dumped>, StoreError> {
        let inner = &self.inner;
        let mut out = Vec::new();
        dump_raw(&inner.dialogue, &mut out, |key, data| Dumped::Dialogue { chat: lossy(key), data })?;
        dump_raw(&inner.prefs, &mut out, |key, data| Dumped::Prefs { chat: lossy(key), data })?;
        dump_raw(&inner.orders, &mut out, |key, data| Dumped::Order { order_no: lossy(key), data })?;
        self.dump_decoded(&inner.activity, &mut out, |key, activity: Activity, data| {
            let (chat, item) = split_chat_key(key);
            Dumped::Activity { chat, item: lossy(item), at: activity.at, data }
        })?;
        self.dump_decoded(&inner.saved, &mut out, |key, saved: SavedReference, data| {
            let (chat, rest) = split_chat_key(key);
            Dumped::Saved { chat, key: lossy(rest), saved_at: saved.saved_at, data }
        })?;
        self.dump_decoded(&inner.watches, &mut out, |key, watch: Watch, data| Dumped::Watch {
            order_no: lossy(key),
            next_check_at: watch.next_check_at,
            data,
        })?;
        dump_raw(&inner.held, &mut out, |key, data| {
            let (chat, rest) = split_chat_key(key);
            let millis = rest.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
            let at = millis.and_then(|m| DateTime::from_timestamp_millis(m as i64)).unwrap_or_default();
            Dumped::Held { chat, at, data }
        })?;
        self.dump_decoded(&inner.aliases, &mut out, |key, chat: ChatKey, _| Dumped::Alias {
            alias: lossy(key),
            chat: chat.storage_key(),
        })?;
        dump_raw(&inner.seen, &mut out, |key, stamp| {
            let millis = <[u8; 8]>::try_from(stamp.as_slice()).map(i64::from_be_bytes).unwrap_or(0);
            Dumped::Seen { id: lossy(key), at: DateTime::from_timestamp_millis(millis).unwrap_or_default() }
        })?;
        self.dump_decoded(&inner.outbox, &mut out, |key, outgoing: Outgoing, data| Dumped::Outgoing {
            id: lossy(key),
            next_at: outgoing.next_at,
            done_at: outgoing.done_at,
            data,
        })?;
        self.dump_inbox(&mut out)?;
        self.dump_decoded(&inner.tickets, &mut out, |key, ticket: Ticket, data| Dumped::Ticket {
            id: lossy(key),
            chat: ticket.chat.storage_key(),
            opened_at: ticket.opened_at,
            data,
        })?;
        self.dump_decoded(&inner.reminders, &mut out, |key, reminder: Reminder, data| {
            let (chat, rest) = split_chat_key(key);
            Dumped::Reminder { chat, key: lossy(rest), next_at: reminder.next_at, data }
        })?;
        dump_raw(&inner.swept_owned, &mut out, |key, stamp| {
            let millis = <[u8; 8]>::try_from(stamp.as_slice()).map(u64::from_be_bytes).unwrap_or(0);
            let at = DateTime::from_timestamp_millis(millis as i64).unwrap_or_default();
            Dumped::SweptOwned { order_no: lossy(key), at }
        })?;
        for entry in inner.web_log.iter() {
            let (key, value) = entry?;
            let (Some(seq), Some((at, data))) = (web_log_seq(&key), split_web_line(&value)) else {
                self.report(&inner.web_log, &key, "not a web conversation line");
                continue;
            };
            let chat = lossy(&key[..key.len() - 9]);
            out.push(Dumped::WebLine { chat, seq, at, data: data.to_vec() });
        }
        for entry in inner.web_seq.iter() {
            let (key, value) = entry?;
            let Some((last, at)) = split_web_seq(&value) else {
                self.report(&inner.web_seq, &key, "not a web conversation's last number");
                continue;
            };
            out.push(Dumped::WebSeq { chat: lossy(&key), last, at });
        }
        Ok(out)
    }

    /// Each readable record of `tree` made a [`Dumped`] by `dumped`, from its key, the record
    /// and its bytes; an unreadable one is left out (and reported).
    fn dump_decoded<T: DeserializeOwned>(
        &self,
        tree: &sled::Tree,
        out: &mut Vec<Dumped>,
        dumped: impl Fn(&[u8], T, Vec<u8>) -> Dumped,
    ) -> Result<(), StoreError> {
        for entry in tree.iter() {
            let (key, data) = entry?;
            if let Some(record) = self.decode::<T>(tree, &key, &data) {
                out.push(dumped(&key, record, data.to_vec()));
            }
        }
        Ok(())
    }

    /// The unhandled messages, for [`SledStore::dump`]: those in a chat's queue first, in its
    /// order (so that a copy keeps it: PostgreSQL numbers arrivals as they are written), then the
    /// others (kept by a billbot older than the queues), with the time their id was seen.
    fn dump_inbox(&self, out: &mut Vec<Dumped>) -> Result<(), StoreError> {
        let inner = &self.inner;
        for entry in inner.inbox_queue.iter() {
            let (key, value) = entry?;
            let (Some((chat, order)), Some((at, id))) =
                (split_inbox_queue_key(&key), split_inbox_queue_value(&value))
            else {
                self.report(&inner.inbox_queue, &key, "not an inbox queue entry");
                continue;
            };
            if let Some(data) = inner.inbox.get(id.as_bytes())? {
                let chat = Some(String::from_utf8_lossy(chat).into_owned());
                out.push(Dumped::Inbox { id, data: data.to_vec(), chat, order, received_at: Some(at) });
            }
        }
        for entry in inner.inbox.iter() {
            let (key, data) = entry?;
            if inner.inbox_slot.contains_key(&key)? {
                continue;
            }
            let seen = inner.seen.get(&key)?;
            let millis =
                seen.and_then(|stamp| <[u8; 8]>::try_from(stamp.as_ref()).ok()).map(i64::from_be_bytes);
            let received_at = millis.and_then(DateTime::from_timestamp_millis);
            let id = String::from_utf8_lossy(&key).into_owned();
            out.push(Dumped::Inbox { id, data: data.to_vec(), chat: None, order: 0, received_at });
        }
        Ok(())
    }

    /// Claims the watches due at `now` (pushed to `until`). A schedule entry whose watch is
    /// missing or unreadable is removed (with the unreadable watch) rather than found due at
    /// every tick.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OrderNo>, StoreError> {
        let end = u64::try_from(now.timestamp_millis()).unwrap_or(0).saturating_add(1).to_be_bytes();
        let entries: Vec<sled::IVec> =
            self.inner.watch_due.range(..end.to_vec()).keys().take(limit).collect::<Result<_, _>>()?;
        let mut claimed = Vec::new();
        for key in entries {
            let Some(order_no) =
                std::str::from_utf8(&key[8.min(key.len())..]).ok().and_then(|d| OrderNo::parse(d).ok())
            else {
                self.report(&self.inner.watch_due, &key, "not a schedule key");
                self.inner.watch_due.remove(key)?;
                continue;
            };
            let mut found = false;
            let update = |stored: Option<Watch>| {
                found = stored.is_some();
                let Some(mut watch) = stored else { return (None, Vec::new()) };
                watch.next_check_at = until;
                (Some(watch), Vec::new())
            };
            self.update_watch(&order_no, Some(&key), Box::new(update))?;
            if found {
                claimed.push(order_no);
            } else {
                tracing::warn!(order = %order_no, "a schedule entry without a readable watch: removed");
            }
        }
        self.flush().await?;
        Ok(claimed)
    }

    /// [`Op::Ticket`]: the ticket, the chat's pointer to it and its notices, in one transaction.
    fn write_ticket(&self, ticket: &Ticket, tell: &[Outgoing]) -> Result<(), StoreError> {
        use sled::Transactional;
        let inner = &self.inner;
        self.name_ticket(ticket)?;
        let trees = (&inner.tickets, &inner.ticket_of, &inner.outbox, &inner.outbox_due);
        let result = trees.transaction(|(tickets, ticket_of, outbox, outbox_due)| {
            tickets
                .insert(ticket.id.as_bytes(), encode(ticket).map_err(ConflictableTransactionError::Abort)?)?;
            ticket_of.insert(ticket.chat.storage_key().as_bytes(), ticket.id.as_bytes())?;
            record_outgoing(outbox, outbox_due, tell)
        });
        result.map_err(transaction_error)
    }

    /// [`super::Store::open_ticket`]: the ticket, the chat's pointer to it and its notices, in one
    /// transaction, only if no ticket has its id (then nothing is written); flushed.
    pub async fn open_ticket(&self, ticket: &Ticket, tell: &[Outgoing]) -> Result<bool, StoreError> {
        use sled::Transactional;
        let inner = &self.inner;
        self.name_ticket(ticket)?;
        let trees = (&inner.tickets, &inner.ticket_of, &inner.outbox, &inner.outbox_due);
        let opened = trees
            .transaction(|(tickets, ticket_of, outbox, outbox_due)| {
                if tickets.get(ticket.id.as_bytes())?.is_some() {
                    return Ok(false);
                }
                tickets.insert(
                    ticket.id.as_bytes(),
                    encode(ticket).map_err(ConflictableTransactionError::Abort)?,
                )?;
                ticket_of.insert(ticket.chat.storage_key().as_bytes(), ticket.id.as_bytes())?;
                record_outgoing(outbox, outbox_due, tell)?;
                Ok(true)
            })
            .map_err(transaction_error)?;
        if opened {
            self.flush().await?;
        }
        Ok(opened)
    }

    pub fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        self.read(&self.inner.tickets, id.as_bytes())
    }

    pub fn latest_ticket(&self, chat: &ChatKey) -> Result<Option<Ticket>, StoreError> {
        match self.inner.ticket_of.get(chat.storage_key().as_bytes())? {
            Some(id) => self.read(&self.inner.tickets, &id),
            None => Ok(None),
        }
    }

    pub fn reminders(&self, chat: &ChatKey) -> Result<Vec<Reminder>, StoreError> {
        Ok(self.chat_records(&self.inner.reminders, chat)?.into_iter().map(|(_, r)| r).collect())
    }

    pub fn reminder_count(&self) -> usize {
        self.inner.reminders.len()
    }

    pub async fn claim_reminders(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Reminder>, StoreError> {
        let end = u64::try_from(now.timestamp_millis()).unwrap_or(0).saturating_add(1).to_be_bytes();
        let entries: Vec<sled::IVec> =
            self.inner.reminder_due.range(..end.to_vec()).keys().take(limit).collect::<Result<_, _>>()?;
        let mut claimed = Vec::new();
        for entry in entries {
            let key = entry.get(8..).unwrap_or_default().to_vec();
            let mut found = None;
            let update = |stored: Option<Reminder>| {
                let Some(mut reminder) = stored else { return (None, Vec::new()) };
                reminder.next_at = until;
                found = Some(reminder.clone());
                (Some(reminder), Vec::new())
            };
            self.update_reminder(&key, Some(&entry), Box::new(update))?;
            match found {
                Some(reminder) => claimed.push(reminder),
                None => tracing::warn!("a reminder schedule entry without a readable reminder: removed"),
            }
        }
        if !claimed.is_empty() {
            self.flush().await?;
        }
        Ok(claimed)
    }

    /// A read-modify-write of a reminder and its schedule entry, with the notices it yields put
    /// in the outbox, in one sled transaction (as [`SledStore::update_watch`] does for watches).
    fn update_reminder(
        &self,
        key: &[u8],
        entry: Option<&[u8]>,
        update: ReminderFn<'_>,
    ) -> Result<(), StoreError> {
        let inner = &self.inner;
        let schedule_key = |r: &Reminder| reminder_due_key(r.next_at, key);
        // A reminder is filed under its chat by its key already: nothing to index.
        let scheduled = Scheduled { records: &inner.reminders, schedule: &inner.reminder_due, key, entry };
        self.update_scheduled(scheduled, schedule_key, &|_| Vec::new(), update)
    }

    /// A read-modify-write of a watch and its schedule entry, with the notices it yields put in
    /// the outbox, in one sled transaction: the entry of the stored watch (and `entry`, the one it
    /// was found by, if any) is replaced by the new watch's; a notice whose id is known already is
    /// not recorded again. An unreadable watch counts as missing, and is removed unless `update`
    /// makes a new one.
    fn update_watch(
        &self,
        order_no: &OrderNo,
        entry: Option<&[u8]>,
        update: TellingFn<'_>,
    ) -> Result<(), StoreError> {
        let inner = &self.inner;
        let key = order_no.digits().as_bytes();
        let schedule_key = |w: &Watch| due_key(w.next_check_at, order_no);
        // The watchers are filed in the `owned` index, in the same transaction.
        let filed = |w: Option<&Watch>| owned::watch_entries(key, w);
        let scheduled = Scheduled { records: &inner.watches, schedule: &inner.watch_due, key, entry };
        self.update_scheduled(scheduled, schedule_key, &filed, update)
    }

    /// A read-modify-write of a scheduled record (`records`, at `key`) and its entry in
    /// `schedule` (`schedule_key` of the record), with the notices `update` yields put in the
    /// outbox, in one sled transaction: the entry of the stored record (and `entry`, the one it
    /// was found by, if any) is replaced by the new record's; a notice whose id is known already
    /// is not recorded again. An unreadable record counts as missing, and is removed unless
    /// `update` makes a new one. The `owned` entries `filed` gives for the record (those of the
    /// chats it names) follow it, in the same transaction.
    fn update_scheduled<T: serde::Serialize + DeserializeOwned>(
        &self,
        Scheduled { records, schedule, key, entry }: Scheduled<'_>,
        schedule_key: impl Fn(&T) -> Vec<u8>,
        filed: &dyn Fn(Option<&T>) -> Vec<Vec<u8>>,
        update: Telling<'_, T>,
    ) -> Result<(), StoreError> {
        use sled::Transactional;
        let inner = &self.inner;
        let update = std::cell::RefCell::new(update);
        let trees = (records, schedule, &inner.outbox, &inner.outbox_due, &inner.owned);
        let result = trees.transaction(|(stored_records, due, outbox, outbox_due, owned)| {
            let stored = stored_records.get(key)?;
            let current = stored.as_ref().and_then(|bytes| self.decode::<T>(records, key, bytes));
            let before = current.as_ref().map(&schedule_key);
            let filed_before = filed(current.as_ref());
            let (new, tell) = (update.borrow_mut())(current);
            record_outgoing(outbox, outbox_due, &tell)?;
            let filed_after = filed(new.as_ref());
            for gone in filed_before.iter().filter(|e| !filed_after.contains(e)) {
                owned.remove(gone.as_slice())?;
            }
            for entry in &filed_after {
                owned.insert(entry.as_slice(), &[])?;
            }
            let after = new.as_ref().map(&schedule_key);
            match &new {
                Some(record) => {
                    stored_records
                        .insert(key, encode(record).map_err(ConflictableTransactionError::Abort)?)?;
                }
                None => {
                    stored_records.remove(key)?;
                }
            }
            for old in [before.as_deref(), entry].into_iter().flatten() {
                if Some(old) != after.as_deref() {
                    due.remove(old)?;
                }
            }
            if let Some(at) = &after {
                due.insert(at.as_slice(), &[])?;
            }
            Ok(())
        });
        result.map_err(transaction_error)
    }

    /// [`Op::ForgetChat`]. Orders, watches, aliases and tickets name a chat among many: only those
    /// the `owned` index files under the chat are read and rewritten (or removed); the chat's own
    /// records are found by their keys' prefix.
    fn forget_chat(&self, chat: &ChatKey) -> Result<(), StoreError> {
        let inner = &self.inner;
        let key = chat.storage_key();
        for tree in [&inner.dialogue, &inner.prefs, &inner.aliases, &inner.ticket_of] {
            tree.remove(key.as_bytes())?;
        }
        for tree in [&inner.activity, &inner.saved, &inner.held, &inner.outbox_claims, &inner.web_log] {
            for entry in tree.scan_prefix(chat_prefix(chat)).keys() {
                tree.remove(entry?)?;
            }
        }
        let visited = self.forget_named(chat)?;
        tracing::debug!(chat = %chat, visited, "shared records of a forgotten chat visited");
        for entry in inner.reminders.scan_prefix(chat_prefix(chat)).keys() {
            self.update_reminder(&entry?, None, Box::new(|_| (None, Vec::new())))?;
        }
        self.forget_outgoing(&key)
    }

    /// Removes the notices to the chat `key` (their ids start with it), and their places in the
    /// outbox's schedule.
    fn forget_outgoing(&self, key: &str) -> Result<(), StoreError> {
        let inner = &self.inner;
        for entry in inner.outbox.scan_prefix(format!("{key}|").as_bytes()) {
            let (id, bytes) = entry?;
            let due = self.decode::<Outgoing>(&inner.outbox, &id, &bytes).and_then(|o| o.next_at);
            if let Some(at) = due {
                inner.outbox_due.remove(outgoing_due_key(at, &String::from_utf8_lossy(&id)))?;
            }
            inner.outbox.remove(id)?;
        }
        Ok(())
    }

    /// The retention sweep: it reads every order, lookup, ticket and dialogue, so it runs on a
    /// blocking thread, never on an async worker (a second per 200,000 orders).
    pub async fn sweep_expired(
        &self,
        orders_before: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<Swept, StoreError> {
        let store = self.clone();
        let swept = tokio::task::spawn_blocking(move || store.sweep_expired_now(orders_before, idle_before))
            .await
            .map_err(|e| StoreError::Sled(sled::Error::Io(std::io::Error::other(e))))??;
        if swept != Swept::default() {
            self.flush().await?;
        }
        Ok(swept)
    }

    fn sweep_expired_now(
        &self,
        orders_before: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<Swept, StoreError> {
        let inner = &self.inner;
        let mut swept = Swept::default();
        for entry in inner.orders.iter() {
            let (key, bytes) = entry?;
            let record = self.decode::<OrderRecord>(&inner.orders, &key, &bytes);
            if let Some(record) = record.filter(|r| r.last_checked < orders_before) {
                if record.leaves_a_mark() {
                    inner.swept_owned.insert(&key, &millis(Utc::now())[..])?;
                }
                inner.orders.remove(&key)?;
                self.unname_owners(&key, &record.owners, &[])?;
                swept.orders += 1;
            }
        }
        for entry in inner.activity.iter() {
            let (key, bytes) = entry?;
            let activity = self.decode::<Activity>(&inner.activity, &key, &bytes);
            if activity.is_some_and(|a| a.at < orders_before) {
                inner.activity.remove(key)?;
                swept.activity += 1;
            }
        }
        for entry in inner.tickets.iter() {
            let (id, bytes) = entry?;
            let ticket = self.decode::<Ticket>(&inner.tickets, &id, &bytes);
            if let Some(ticket) = ticket.filter(|t| t.last_at < orders_before) {
                let chat = ticket.chat.storage_key();
                if inner.ticket_of.get(chat.as_bytes())?.is_some_and(|latest| latest == id) {
                    inner.ticket_of.remove(chat.as_bytes())?;
                }
                inner.tickets.remove(id)?;
                self.unname_ticket(&ticket)?;
                swept.tickets += 1;
            }
        }
        for entry in inner.dialogue.iter() {
            let (chat, _) = entry?;
            let prefs: Option<Prefs> = self.read(&inner.prefs, &chat)?;
            if prefs.and_then(|p| p.last_inbound_at).is_none_or(|at| at < idle_before) {
                inner.dialogue.remove(chat)?;
                swept.dialogues += 1;
            }
        }
        let idle = millis(idle_before);
        for entry in inner.web_log.iter() {
            let (key, value) = entry?;
            if value.get(..8).is_none_or(|stamp| stamp < &idle[..]) {
                inner.web_log.remove(key)?;
                swept.web_lines += 1;
            }
        }
        for entry in inner.web_seq.iter() {
            let (key, value) = entry?;
            if value.get(8..16).is_none_or(|stamp| stamp < &idle[..]) {
                inner.web_seq.remove(key)?;
            }
        }
        Ok(swept)
    }

    pub async fn claim_outgoing(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Outgoing>, StoreError> {
        let claimed = self.claim_outgoing_in_turn(holder, now, until, limit)?;
        if !claimed.is_empty() {
            self.flush().await?;
        }
        Ok(claimed)
    }

    /// The claims of [`SledStore::claim_outgoing`], made while no other claimer runs (see
    /// [`Inner::claiming`]), earliest due first; a notice of a chat another sender holds is left.
    fn claim_outgoing_in_turn(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Outgoing>, StoreError> {
        let inner = &self.inner;
        let _turn = inner.claiming.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let end = u64::from_be_bytes(millis(now)).saturating_add(1).to_be_bytes();
        let mut claimed: Vec<Outgoing> = Vec::new();
        for key in inner.outbox_due.range(..end.to_vec()).keys() {
            if claimed.len() >= limit {
                break;
            }
            let key = key?;
            let id = String::from_utf8_lossy(&key[8.min(key.len())..]).into_owned();
            // A claim moves the notice's entry; one moved to a time still due is met again.
            if claimed.iter().any(|o| o.id == id) {
                continue;
            }
            // Not reported here when unreadable: the claim removes it, and reports it.
            let chat =
                inner.outbox.get(id.as_bytes())?.and_then(|b| decode::<Outgoing>(&b).ok()).map(|o| o.chat);
            if let Some(chat) = chat
                && self.held_by_another(&chat, holder, now)?
            {
                continue;
            }
            if let Some(outgoing) = self.claim_one_outgoing(&id, &key, holder, now, until)? {
                claimed.push(outgoing);
            }
        }
        Ok(claimed)
    }

    /// Whether a sender other than `holder` has a claim on a notice of `chat` that runs past
    /// `now`. Entries of `outbox_claims` whose notice is no longer claimed are removed.
    fn held_by_another(&self, chat: &ChatKey, holder: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let inner = &self.inner;
        let prefix = chat_prefix(chat);
        for key in inner.outbox_claims.scan_prefix(&prefix).keys() {
            let key = key?;
            let id = &key[prefix.len()..];
            let outgoing = inner.outbox.get(id)?.and_then(|b| decode::<Outgoing>(&b).ok());
            match outgoing {
                Some(Outgoing { claimed_by: Some(by), next_at, .. }) => {
                    if by != holder && next_at.is_some_and(|at| at > now) {
                        return Ok(true);
                    }
                }
                _ => {
                    inner.outbox_claims.remove(&key)?;
                }
            }
        }
        Ok(false)
    }

    /// Claims one outgoing notice found due by its entry `entry` for `holder`; an entry that is
    /// stale (the notice is done, claimed by another sender, unreadable or gone) is removed.
    fn claim_one_outgoing(
        &self,
        id: &str,
        entry: &[u8],
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Outgoing>, StoreError> {
        use sled::Transactional;
        let inner = &self.inner;
        let trees = (&inner.outbox, &inner.outbox_due, &inner.outbox_claims);
        let result = trees.transaction(|(outbox, due, claims)| {
            let current = self.outgoing_in(outbox, id)?;
            let Some(mut outgoing) = current else {
                outbox.remove(id.as_bytes())?;
                due.remove(entry)?;
                return Ok(None);
            };
            match outgoing.next_at {
                Some(at) if at <= now && outgoing_due_key(at, id) == entry => {
                    outgoing.next_at = Some(until);
                    outgoing.claimed_by = Some(holder.to_owned());
                    outbox.insert(
                        id.as_bytes(),
                        encode(&outgoing).map_err(ConflictableTransactionError::Abort)?,
                    )?;
                    due.remove(entry)?;
                    due.insert(outgoing_due_key(until, id), &[])?;
                    claims.insert(outgoing_claim_key(&outgoing.chat, id), &[])?;
                    Ok(Some(outgoing))
                }
                Some(at) if outgoing_due_key(at, id) == entry => Ok(None),
                _ => {
                    due.remove(entry)?;
                    Ok(None)
                }
            }
        });
        result.map_err(transaction_error)
    }

    /// Marks an outgoing notice done, or due again later, ending its claim; one that is done or
    /// gone is left, and so is one claimed by another sender than `holder` (when given).
    fn change_outgoing(
        &self,
        id: &str,
        change: OutgoingChange,
        holder: Option<&str>,
    ) -> Result<(), StoreError> {
        use sled::Transactional;
        let inner = &self.inner;
        let trees = (&inner.outbox, &inner.outbox_due, &inner.outbox_claims);
        let result = trees.transaction(|(outbox, due, claims)| {
            let current = self.outgoing_in(outbox, id)?;
            let Some(mut outgoing) = current.filter(|o| o.may_change(holder)) else { return Ok(()) };
            if let Some(was) = outgoing.next_at {
                due.remove(outgoing_due_key(was, id))?;
            }
            outgoing.apply(change);
            if let Some(at) = outgoing.next_at {
                due.insert(outgoing_due_key(at, id), &[])?;
            }
            claims.remove(outgoing_claim_key(&outgoing.chat, id))?;
            outbox.insert(id.as_bytes(), encode(&outgoing).map_err(ConflictableTransactionError::Abort)?)?;
            Ok(())
        });
        result.map_err(transaction_error)
    }

    /// The notice `id` as a transaction on the outbox sees it; an unreadable one counts as
    /// missing (and is reported).
    fn outgoing_in(
        &self,
        outbox: &TransactionalTree,
        id: &str,
    ) -> Result<Option<Outgoing>, sled::transaction::UnabortableTransactionError> {
        let stored = outbox.get(id.as_bytes())?;
        Ok(stored.and_then(|bytes| self.decode(&self.inner.outbox, id.as_bytes(), &bytes)))
    }

    pub async fn renew_outgoing(
        &self,
        holder: &str,
        ids: &[String],
        until: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut renewed = 0;
        for id in ids {
            renewed += usize::from(self.renew_one_outgoing(holder, id, until)?);
        }
        if renewed > 0 {
            self.flush().await?;
        }
        Ok(renewed)
    }

    /// Moves `holder`'s claim on the notice `id` to `until`: whether it was still its own.
    fn renew_one_outgoing(&self, holder: &str, id: &str, until: DateTime<Utc>) -> Result<bool, StoreError> {
        use sled::Transactional;
        let inner = &self.inner;
        let result = (&inner.outbox, &inner.outbox_due).transaction(|(outbox, due)| {
            let current = self.outgoing_in(outbox, id)?;
            let Some(mut outgoing) = current.filter(|o| o.claimed_by.as_deref() == Some(holder)) else {
                return Ok(false);
            };
            let Some(was) = outgoing.next_at else { return Ok(false) };
            due.remove(outgoing_due_key(was, id))?;
            due.insert(outgoing_due_key(until, id), &[])?;
            outgoing.next_at = Some(until);
            outbox.insert(id.as_bytes(), encode(&outgoing).map_err(ConflictableTransactionError::Abort)?)?;
            Ok(true)
        });
        result.map_err(transaction_error)
    }

    pub fn outgoing(&self, id: &str) -> Result<Option<Outgoing>, StoreError> {
        self.read(&self.inner.outbox, id.as_bytes())
    }

    pub async fn sweep_outgoing(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut swept = 0;
        for entry in self.inner.outbox.iter() {
            let (key, bytes) = entry?;
            let outgoing = self.decode::<Outgoing>(&self.inner.outbox, &key, &bytes);
            if outgoing.is_some_and(|o| o.done_at.is_some_and(|at| at < before)) {
                self.inner.outbox.remove(key)?;
                swept += 1;
            }
        }
        if swept > 0 {
            self.flush().await?;
        }
        Ok(swept)
    }

    pub fn seen_count(&self) -> usize {
        self.inner.seen.len()
    }

    pub fn alias(&self, key: &ChatKey) -> Result<Option<ChatKey>, StoreError> {
        self.read(&self.inner.aliases, key.storage_key().as_bytes())
    }

    /// [`super::Store::web_log_append`]: `lines` are encoded records.
    pub async fn web_log_append(
        &self,
        chat: &ChatKey,
        lines: &[Vec<u8>],
        at: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let numbers = {
            let inner = &self.inner;
            let _one_writer = inner.web_logging.lock().unwrap_or_else(|e| e.into_inner());
            let prefix = chat_prefix(chat);
            let last = inner
                .web_seq
                .get(chat.storage_key().as_bytes())?
                .and_then(|v| split_web_seq(&v))
                .map(|(l, _)| l);
            let numbers = web_log_numbers(last, at, lines.len());
            for (seq, line) in numbers.iter().zip(lines) {
                let mut value = millis(at).to_vec();
                value.extend_from_slice(line);
                inner.web_log.insert(web_log_key(chat, *seq), value)?;
            }
            // The oldest beyond what is kept.
            let kept: Vec<sled::IVec> = inner
                .web_log
                .scan_prefix(&prefix)
                .keys()
                .rev()
                .skip(WEB_LOG_KEPT)
                .collect::<Result<_, _>>()?;
            for key in kept {
                inner.web_log.remove(key)?;
            }
            if let Some(last) = numbers.last() {
                inner.web_seq.insert(chat.storage_key().as_bytes(), web_seq_value(*last, at))?;
            }
            numbers
        };
        self.flush().await?;
        Ok(numbers)
    }

    /// [`super::Store::web_log_after`].
    pub fn web_log_after<T: DeserializeOwned>(
        &self,
        chat: &ChatKey,
        after: i64,
    ) -> Result<Vec<WebLine<T>>, StoreError> {
        let tree = &self.inner.web_log;
        let (start, prefix) = (web_log_key(chat, after.saturating_add(1)), chat_prefix(chat));
        let mut lines = Vec::new();
        for entry in
            tree.range(start..).take_while(|e| e.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
        {
            let (key, value) = entry?;
            let (Some(seq), Some((at, line))) = (web_log_seq(&key), split_web_line(&value)) else {
                self.report(tree, &key, "not a web conversation line");
                continue;
            };
            if let Some(line) = self.decode(tree, &key, line) {
                lines.push(WebLine { seq, at, line });
            }
        }
        Ok(lines)
    }

    pub fn held<T: DeserializeOwned>(&self, chat: &ChatKey) -> Result<Vec<(HeldId, T)>, StoreError> {
        Ok(self
            .chat_records(&self.inner.held, chat)?
            .into_iter()
            .map(|(key, notice)| (HeldId(key.to_vec()), notice))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flushes(store: &SledStore) -> u64 {
        store.inner.flusher.flushes.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn a_message_and_its_quick_steps_commit_are_made_durable_by_one_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let chat = ChatKey::new(crate::domain::Channel::Telegram, 1);
        let before = flushes(&store);
        assert!(store.inbox_keep("tg:update:1", &chat, 1, b"{}", Utc::now()).unwrap());
        let settling = {
            let store = store.clone();
            tokio::spawn(async move { store.flush_within(std::time::Duration::from_secs(30)).await })
        };
        tokio::task::yield_now().await;
        assert!(!settling.is_finished(), "not durable until a flush");
        store.commit(Batch::from(Op::InboxDone { id: "tg:update:1".into() })).await.unwrap();
        settling.await.unwrap().unwrap();
        assert_eq!(flushes(&store) - before, 1, "the step's flush served the message too");
        // Alone, it flushes on its own once the grace is over.
        assert!(store.inbox_keep("tg:update:2", &chat, 2, b"{}", Utc::now()).unwrap());
        store.flush_within(std::time::Duration::from_millis(1)).await.unwrap();
        assert_eq!(flushes(&store) - before, 2);
    }

    /// What a crash between the single-key writes of taking a message in, or of ending it, may
    /// leave behind: the redelivery is taken in once, at the place already made, and a queue entry
    /// whose message is gone is passed over and removed.
    #[tokio::test]
    async fn a_message_half_taken_in_or_half_ended_is_taken_in_once_and_handed_out_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let inner = &store.inner;
        let chat = ChatKey::new(crate::domain::Channel::Telegram, 7);
        let queued = || inner.inbox_queue.scan_prefix(chat_prefix(&chat)).count();
        let next = || store.inbox_next::<String>(&chat).unwrap().map(|(id, _)| id);
        let (one, two) = (encode(&"one").unwrap(), encode(&"two").unwrap());
        // Taken in up to its `seen` mark (the last write), then the crash.
        assert!(store.inbox_keep("tg:update:1", &chat, 1, &one, Utc::now()).unwrap());
        inner.seen.remove("tg:update:1").unwrap();
        // The redelivery is new (nothing said so), and queued at the same place.
        assert!(store.inbox_keep("tg:update:1", &chat, 1, &one, Utc::now()).unwrap());
        assert!(!store.inbox_keep("tg:update:1", &chat, 1, &one, Utc::now()).unwrap());
        assert_eq!(queued(), 1);
        assert!(store.inbox_keep("tg:update:2", &chat, 2, &two, Utc::now()).unwrap());
        assert_eq!(next().as_deref(), Some("tg:update:1"));
        // Ended up to the message's removal (the first write), then the crash.
        inner.inbox.remove("tg:update:1").unwrap();
        assert_eq!(queued(), 2);
        assert_eq!(next().as_deref(), Some("tg:update:2"), "the entry without its message is passed over");
        assert_eq!(queued(), 1, "and removed");
        store.inbox_done("tg:update:2").unwrap();
        assert_eq!((queued(), next()), (0, None));
        assert!(inner.inbox_slot.is_empty());
    }
}
