//! The PostgreSQL backend: the store shared by several billbot instances.
//!
//! Tables (migrations in `store/migrations/`, embedded and run at start; a database migrated by a
//! newer billbot is refused): `dialogue`, `prefs`, `orders`, `activity`, `saved`, `watches` (with
//! `next_check_at`, indexed: the tracker's schedule), `seen` and `inbox` (inbound message ids and
//! messages not yet handled, filed by chat in the channel's order: `chat`, `seq`, `arrival`),
//! `held`, `aliases`, `chat_locks` (per-chat leases), `outbox` (notices to send, with `next_at`
//! indexed, the sender holding a claim in `claimed_by`, and sent ones until swept), `reminders`
//! (with `next_at` indexed: their schedule), `tickets`, `swept_owned` (orders swept with owners:
//! nobody takes them when seen again), `meta` (values the deployment shares: the key that signs
//! button payloads). Each `data` column holds the same versioned JSON envelope as
//! the sled backend.
//!
//! A batch is one transaction. A read-modify-write (an order, a watch, a chat's prefs) reads its
//! row `FOR UPDATE` in that transaction, so writers on any instance take turns on the row; a row
//! that does not exist yet is inserted with `ON CONFLICT DO NOTHING`, and when another writer
//! inserted it first the read is done again, locking the row it made.
//!
//! Each statement that writes a record is written once, below (`UPSERT_DIALOGUE`, …): the ops,
//! the read-modify-writes and [`PgStore::load`] (`billbot migrate-store`) use the same. The rules
//! that decide what is written (an order seen again, a reference saved again, a sender's report
//! on a notice) are the records' own, shared with the sled backend (`store/records.rs`).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Row};

use super::records::reference_key;
use super::{
    ACTIVITY_LIMIT, Activity, Batch, Dumped, HELD_LIMIT, HeldId, LEASE, LEASE_WAIT, Op, OrderRecord,
    Outgoing, OutgoingChange, Owned, Prefs, Reminder, ReminderUpdate, SavedReference, StoreError, Swept,
    TellingUpdate, Ticket, TurnNext, Watch, decode, encode,
};
use crate::domain::{ChatKey, CustomerReference, OrderNo};

/// How the pool is sized and how long things may take.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// Connections at most (each instance). A step holds one only while it reads or commits,
    /// never across a provider call.
    pub max_connections: u32,
    /// How long a caller waits for a free connection before the step fails.
    pub acquire_timeout: Duration,
    /// The longest one statement may run.
    pub statement_timeout: Duration,
}

impl Default for PgSettings {
    fn default() -> Self {
        PgSettings {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

/// The PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    skipped: Arc<AtomicU64>,
    /// Leases to end, ended together by [`end_leases`] (off every step's path: see
    /// [`PgStore::release_later`]).
    releases: tokio::sync::mpsc::UnboundedSender<(String, String)>,
    /// Messages to take in, written together by [`take_in_batches`]: a burst's messages share
    /// one statement and one commit (one WAL flush) instead of one each.
    intake: tokio::sync::mpsc::UnboundedSender<Taken>,
    /// Chats whose lease a turn of this store waits for, woken when another instance ends it
    /// ([`listen_for_free_chats`]).
    waiting: Arc<Waiting>,
    /// Web chats another instance wrote a line for (`billbot_web`); `None` when words may have
    /// been missed (the listening connection was lost). This store's own writes are not told
    /// here: the web chat rings its streams itself, with the lines.
    web_written: tokio::sync::broadcast::Sender<Option<String>>,
    /// Step ends to write, grouped by [`end_steps`]: concurrent steps share a commit.
    endings: tokio::sync::mpsc::UnboundedSender<Ending>,
    /// What every lease holder of this store starts with: the instance, the process, and this
    /// store (several stores in one process, as in tests, are several instances).
    holders: Arc<str>,
    /// The orders read lately, as they were read (`None`: there was none): a step that read one
    /// and records it writes it in one statement, if it is still as read (see [`SeenOrders`]).
    seen_orders: Arc<SeenOrders>,
}

/// The orders [`PgStore::order`] read, as stored (`None`: absent), by number; at most
/// [`SeenOrders::CAP`], the oldest first forgotten (the whole lot, in fact: they are only a
/// shortcut, and a missing one costs a transaction).
#[derive(Default)]
struct SeenOrders(std::sync::Mutex<std::collections::HashMap<String, Option<String>>>);

impl SeenOrders {
    const CAP: usize = 10_000;

    fn note(&self, order_no: &str, data: Option<String>) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= Self::CAP {
            seen.clear();
        }
        seen.insert(order_no.to_owned(), data);
    }

    fn take(&self, order_no: &str) -> Option<Option<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(order_no)
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

// The statements that write one record. An upsert replaces the record with the same key.

/// `$1` chat, `$2` state.
const UPSERT_DIALOGUE: &str = "INSERT INTO dialogue (chat, data) VALUES ($1, $2::jsonb)
     ON CONFLICT (chat) DO UPDATE SET data = EXCLUDED.data";
/// `$1` chat, `$2` prefs.
const UPSERT_PREFS: &str = "INSERT INTO prefs (chat, data) VALUES ($1, $2::jsonb)
     ON CONFLICT (chat) DO UPDATE SET data = EXCLUDED.data";
/// `$1` order number, `$2` record.
const UPSERT_ORDER: &str = "INSERT INTO orders (order_no, data) VALUES ($1, $2::jsonb)
     ON CONFLICT (order_no) DO UPDATE SET data = EXCLUDED.data";
/// `$1` chat, `$2` item id, `$3` when, `$4` activity.
const UPSERT_ACTIVITY: &str = "INSERT INTO activity (chat, item, at, data) VALUES ($1, $2, $3, $4::jsonb)
     ON CONFLICT (chat, item) DO UPDATE SET at = EXCLUDED.at, data = EXCLUDED.data";
/// `$1` chat, `$2` reference key, `$3` first saved, `$4` saved reference.
const UPSERT_SAVED: &str = "INSERT INTO saved (chat, key, saved_at, data) VALUES ($1, $2, $3, $4::jsonb)
     ON CONFLICT (chat, key) DO UPDATE SET saved_at = EXCLUDED.saved_at, data = EXCLUDED.data";
/// `$1` order number, `$2` watch, `$3` next check.
const UPSERT_WATCH: &str = "INSERT INTO watches (order_no, data, next_check_at) VALUES ($1, $2::jsonb, $3)
     ON CONFLICT (order_no) DO UPDATE SET data = EXCLUDED.data, next_check_at = EXCLUDED.next_check_at";
/// `$1` alias, `$2` the chat it stands for.
const UPSERT_ALIAS: &str = "INSERT INTO aliases (alias, chat) VALUES ($1, $2)
     ON CONFLICT (alias) DO UPDATE SET chat = EXCLUDED.chat";
/// `$1` chat, `$2` reference key, `$3` next reminder, `$4` reminder.
const UPSERT_REMINDER: &str =
    "INSERT INTO reminders (chat, key, next_at, data) VALUES ($1, $2, $3, $4::jsonb)
     ON CONFLICT (chat, key) DO UPDATE SET next_at = EXCLUDED.next_at, data = EXCLUDED.data";
/// `$1` id, `$2` chat, `$3` opened, `$4` ticket.
const UPSERT_TICKET: &str = "INSERT INTO tickets (id, chat, opened_at, data) VALUES ($1, $2, $3, $4::jsonb)
     ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data";
/// `$1` id, `$2` chat, `$3` opened, `$4` ticket. Never over another ticket: a new ticket's id may
/// be taken already (see [`PgStore::open_ticket`]).
const INSERT_TICKET: &str = "INSERT INTO tickets (id, chat, opened_at, data) VALUES ($1, $2, $3, $4::jsonb)
     ON CONFLICT (id) DO NOTHING RETURNING id";
/// `$1` chat, `$2` held at, `$3` notice. Held notices have no key: two alike are both kept.
const INSERT_HELD: &str = "INSERT INTO held (chat, at, data) VALUES ($1, $2, $3::jsonb)";
/// `$1` id, `$2` notice, `$3` due, `$4` chat, `$5` claimed by. Never over one with the same id:
/// a notice is told once (one sent stays, done, until it is swept).
const TELL: &str =
    "INSERT INTO outbox (id, data, next_at, chat, claimed_by) VALUES ($1, $2::jsonb, $3, $4, $5)
     ON CONFLICT (id) DO NOTHING";

/// A table of records under one key, for reads and read-modify-writes: its name, its key column,
/// and the upsert that writes a record (binding the key, the record and, for a [`Scheduled`]
/// record, its next check).
struct Keyed {
    table: &'static str,
    key: &'static str,
    upsert: &'static str,
}

const DIALOGUE: Keyed = Keyed { table: "dialogue", key: "chat", upsert: UPSERT_DIALOGUE };
const ORDERS: Keyed = Keyed { table: "orders", key: "order_no", upsert: UPSERT_ORDER };
const PREFS: Keyed = Keyed { table: "prefs", key: "chat", upsert: UPSERT_PREFS };
const WATCHES: Keyed = Keyed { table: "watches", key: "order_no", upsert: UPSERT_WATCH };

/// Encoded JSON as text, borrowed (see [`text`]).
fn as_text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

fn text(bytes: Vec<u8>) -> String {
    // `encode` writes JSON, which is UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
}

/// The columns a turn starts from, all of chat `$1`: its prefs, its state, whether notices are
/// held for it, and its oldest waiting message's id and data (see [`PgStore::turn_start_of`]).
macro_rules! turn_start_columns {
    () => {
        "(SELECT data::text FROM prefs WHERE chat = $1),
         (SELECT data::text FROM dialogue WHERE chat = $1),
         EXISTS (SELECT 1 FROM held WHERE chat = $1),
         next.id, next.data::text
         FROM (SELECT) AS one
         LEFT JOIN LATERAL (
             SELECT id, data FROM inbox WHERE chat = $1 ORDER BY seq, arrival LIMIT 1
         ) AS next ON true"
    };
}

impl PgStore {
    /// Connects with `url` (`postgres://user@host/db`), runs the migrations, and checks the
    /// schema. The URL's password is never logged.
    pub async fn connect(url: &str, settings: &PgSettings) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        PgStore::connect_with(options, settings).await
    }

    pub async fn connect_with(
        options: PgConnectOptions,
        settings: &PgSettings,
    ) -> Result<PgStore, StoreError> {
        let statement_timeout = format!("{}ms", settings.statement_timeout.as_millis());
        let options = options.options([("statement_timeout", statement_timeout.as_str())]);
        // One connection first: its error says why (refused, unknown database, password), where
        // the pool's would only say it timed out.
        let probe = <PgConnection as sqlx::Connection>::connect_with(&options).await?;
        let _ = sqlx::Connection::close(probe).await;
        // No ping before each use (sqlx's default): it doubled a step's round trips. A connection
        // that broke meanwhile fails its statement, is dropped, and the next use gets a new one.
        let pool = PgPoolOptions::new()
            .test_before_acquire(false)
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(Duration::from_secs(600))
            .connect_with(options)
            .await?;
        sqlx::migrate!("src/store/migrations").run(&pool).await?;
        let (releases, to_release) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(end_leases(pool.clone(), to_release));
        let (intake, to_take) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(take_in_batches(pool.clone(), to_take));
        let (endings, to_end) = tokio::sync::mpsc::unbounded_channel();
        let to_end = Arc::new(tokio::sync::Mutex::new(to_end));
        for _ in 0..END_WRITERS {
            tokio::spawn(end_steps(pool.clone(), to_end.clone()));
        }
        static STORES: AtomicU64 = AtomicU64::new(0);
        let n = STORES.fetch_add(1, Ordering::Relaxed);
        let holders: Arc<str> = format!("{}:{}:{n}:", super::instance_id(), std::process::id()).into();
        let (skipped, seen_orders) = (Arc::new(AtomicU64::new(0)), Arc::new(SeenOrders::default()));
        let waiting = Arc::new(Waiting::default());
        // Listening before the store is used: no lease's end is missed from the start.
        let listener = listen(&pool)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "cannot listen for free chats yet"))
            .ok();
        let (web_written, _) = tokio::sync::broadcast::channel(1024);
        let heard =
            Heard { waiting: Arc::downgrade(&waiting), web: web_written.clone(), own: holders.clone() };
        tokio::spawn(listen_for_free_chats(pool.clone(), listener, heard));
        Ok(PgStore { pool, skipped, releases, intake, waiting, web_written, endings, holders, seen_orders })
    }

    /// The pool, for health checks and locks.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Writes copied records in one transaction, replacing those with the same key (held
    /// notices, which have no key of their own, are matched on chat, time and content).
    pub async fn load(&self, records: &[Dumped]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for record in records {
            loading(record).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn skipped_records(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// The deployment's payload key: `candidate` if no instance has kept one yet, else the one
    /// kept. Instances that start together each offer their own; the first insert wins and every
    /// one reads it back.
    pub async fn payload_key(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query(
            "INSERT INTO meta (name, value) VALUES ('payload_key', $1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(candidate)
        .execute(&self.pool)
        .await?;
        let row =
            sqlx::query("SELECT value FROM meta WHERE name = 'payload_key'").fetch_one(&self.pool).await?;
        Ok(row.try_get("value")?)
    }

    fn decode<T: DeserializeOwned>(&self, table: &str, key: &str, data: &str) -> Option<T> {
        decode(data.as_bytes())
            .map_err(|why| {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                // Keys and serde's words may hold a reference: masked (`domain::reference`).
                use crate::domain::reference::mask_numbers;
                let (key, why) = (mask_numbers(key), mask_numbers(&why));
                tracing::warn!(table, key, why, "skipping an unreadable record");
            })
            .ok()
    }

    /// One transaction: every op, in order. A batch of one op that is one statement needs no
    /// transaction of its own (most steps: their end, alone).
    ///
    /// A step's end takes the chat's own writes that need no reading (its prefs, an activity
    /// item) into its one statement ([`StepEnd`]): a step that looked a bill up commits in one
    /// round trip, with no transaction around it. Only the ops that read before they write (an
    /// order, a watch, a reminder) are left to run before it, in a transaction.
    pub async fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        let (ops, end) = StepEnd::split(batch.ops);
        // A step that recorded the order it read (a status check): two statements, no transaction.
        let (ops, end) = match (ops.len(), end) {
            (1, Some(end)) if matches!(ops[0], Op::RecordOrder { .. }) => {
                let Some(Op::RecordOrder { order_no, order, at, claimant }) = ops.into_iter().next() else {
                    return Err(StoreError::Unsupported("a step's order"));
                };
                let mut conn = self.pool.acquire().await?;
                if self
                    .record_order_as_read(&mut conn, &order_no, &order, at, claimant.as_ref(), &end)
                    .await?
                {
                    drop(conn);
                    return self.end_step(end).await;
                }
                (vec![Op::RecordOrder { order_no, order, at, claimant }], Some(end))
            }
            (_, end) => (ops, end),
        };
        if ops.is_empty() {
            return match end {
                Some(end) => self.end_step(end).await,
                None => Ok(()),
            };
        }
        if let ([op], None) = (ops.as_slice(), &end)
            && matches!(op, Op::Unlock { .. } | Op::Dialogue { .. } | Op::InboxDone { .. })
        {
            let mut conn = self.pool.acquire().await?;
            let op = ops.into_iter().next().ok_or(StoreError::Unsupported("an empty batch"))?;
            return self.apply(&mut conn, op).await;
        }
        let mut tx = self.pool.begin().await?;
        for op in ops {
            self.apply(&mut tx, op).await?;
        }
        if let Some(end) = end {
            end.write(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A step's end alone (its only write), written with the ends of steps that end meanwhile
    /// ([`end_steps`]). Durable on return, as any commit.
    async fn end_step(&self, end: StepEnd) -> Result<(), StoreError> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        if let Err(refused) = self.endings.send(Ending { end, done }) {
            // The writers are gone (the runtime is shutting down): write it here.
            let mut conn = self.pool.acquire().await?;
            return refused.0.end.write(&mut conn).await;
        }
        outcome.await.unwrap_or(Err(StoreError::Unsupported("ending a step while the store shuts down")))
    }

    /// One op, in the caller's transaction (or alone: see [`PgStore::commit`]).
    async fn apply(&self, conn: &mut PgConnection, op: Op) -> Result<(), StoreError> {
        match op {
            Op::Dialogue { chat, state } => upsert(conn, &DIALOGUE, &chat.storage_key(), state).await,
            Op::Prefs { chat, prefs } => upsert(conn, &PREFS, &chat.storage_key(), encode(&prefs)?).await,
            Op::Lang { chat, lang } => {
                let with_lang =
                    |stored: Option<Prefs>| Some(Prefs { lang: Some(lang), ..stored.unwrap_or_default() });
                self.update(conn, &PREFS, &chat.storage_key(), with_lang).await
            }
            Op::CountLookup { chat, kind, at } => {
                let counted = |stored: Option<Prefs>| {
                    let mut prefs = stored.unwrap_or_default();
                    prefs.lookups.count(kind, at);
                    Some(prefs)
                };
                self.update(conn, &PREFS, &chat.storage_key(), counted).await
            }
            Op::RecordOrder { order_no, order, at, claimant } => {
                let merged = |stored| Some(OrderRecord::merged(stored, &order, at, claimant.as_ref()));
                self.update(conn, &ORDERS, order_no.digits(), merged).await
            }
            Op::OwnOrder { order_no, chat } => {
                let owned = |stored: Option<OrderRecord>| stored.map(|r| r.with_owner(&chat));
                self.update(conn, &ORDERS, order_no.digits(), owned).await
            }
            Op::FailedProof { order_no, chat, at } => {
                let failed = |stored: Option<OrderRecord>| stored.map(|r| r.with_failed_proof(&chat, at));
                self.update(conn, &ORDERS, order_no.digits(), failed).await
            }
            Op::CloseOrder { order_no } => {
                let closed = |stored: Option<OrderRecord>| stored.map(OrderRecord::closed);
                self.update(conn, &ORDERS, order_no.digits(), closed).await?;
                sqlx::query("DELETE FROM swept_owned WHERE order_no = $1")
                    .bind(order_no.digits())
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }
            Op::Activity { chat, item, at } => add_activity(conn, &chat, Activity { at, item }).await,
            Op::SaveReference { chat, reference, nickname, at } => {
                self.save_reference(conn, &chat, &reference, nickname, at).await
            }
            Op::DeleteReference { chat, reference } => delete_reference(conn, &chat, &reference).await,
            Op::Watch { order_no, update } => self.update(conn, &WATCHES, order_no.digits(), update).await,
            Op::WatchAndTell { order_no, update } => self.update_watch_telling(conn, &order_no, update).await,
            Op::Ticket { ticket, tell } => write_ticket(conn, &ticket, &tell).await,
            Op::Remind { reminder } => {
                let (chat, reference) = (reminder.chat.clone(), reminder.reference.clone());
                let set = Box::new(move |_| (Some(reminder.clone()), Vec::new()));
                self.update_reminder(conn, &chat, &reference, set).await
            }
            Op::CancelReminder { chat, reference } => {
                self.update_reminder(conn, &chat, &reference, Box::new(|_| (None, Vec::new()))).await
            }
            Op::ReminderStep { chat, reference, update } => {
                self.update_reminder(conn, &chat, &reference, update).await
            }
            Op::Outgoing { id, change, holder } => {
                self.change_outgoing(conn, &id, change, holder.as_deref()).await
            }
            Op::InboxDone { id } => inbox_done(conn, &id).await,
            Op::Hold { chat, notice, at } => hold(conn, &chat.storage_key(), notice, at).await,
            Op::DropHeld { ids, .. } => drop_held(conn, ids).await,
            Op::Alias { alias, chat } => {
                sqlx::query(UPSERT_ALIAS)
                    .bind(alias.storage_key())
                    .bind(chat.storage_key())
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }
            Op::ForgetChat { chat } => forget_chat(conn, &chat.storage_key()).await,
            Op::Unlock { chat, holder } => unlock(conn, &chat.storage_key(), &holder).await,
            Op::EndStep { chat, state, handled, holder, release } => {
                let end = StepEnd {
                    chat: chat.storage_key(),
                    state,
                    handled,
                    holder,
                    release,
                    prefs: None,
                    activity: None,
                };
                end.write(conn).await
            }
        }
    }

    /// [`Op::SaveReference`] in the caller's transaction: the row is locked while it is decided.
    async fn save_reference(
        &self,
        conn: &mut PgConnection,
        chat: &ChatKey,
        reference: &CustomerReference,
        nickname: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (chat, key) = (chat.storage_key(), reference_key(reference));
        let stored: Option<String> =
            sqlx::query_scalar("SELECT data::text FROM saved WHERE chat = $1 AND key = $2 FOR UPDATE")
                .bind(&chat)
                .bind(&key)
                .fetch_optional(&mut *conn)
                .await?;
        let stored = stored.and_then(|data| self.decode::<SavedReference>("saved", &key, &data));
        let saved = SavedReference::saved(stored, reference, nickname, at);
        sqlx::query(UPSERT_SAVED)
            .bind(&chat)
            .bind(&key)
            .bind(saved.saved_at)
            .bind(text(encode(&saved)?))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// [`Op::WatchAndTell`]: the watch's read-modify-write, and the notices it yields put in the
    /// outbox, in the caller's transaction.
    async fn update_watch_telling(
        &self,
        conn: &mut PgConnection,
        order_no: &OrderNo,
        mut update: TellingUpdate,
    ) -> Result<(), StoreError> {
        let mut tell = Vec::new();
        let each = |stored: Option<Watch>| {
            let (watch, outgoing) = update(stored);
            tell = outgoing;
            watch
        };
        self.update(conn, &WATCHES, order_no.digits(), each).await?;
        record_outgoing(conn, &tell).await
    }

    /// A read-modify-write of one row, in the caller's transaction: the row is locked while `f`
    /// decides. `f` returning `None` deletes the row (or writes none). A row found is written
    /// with the table's upsert; a new one only if no other writer inserted it meanwhile.
    async fn update<T, F>(
        &self,
        conn: &mut PgConnection,
        keyed: &Keyed,
        key: &str,
        mut f: F,
    ) -> Result<(), StoreError>
    where
        T: serde::Serialize + DeserializeOwned + Scheduled,
        F: FnMut(Option<T>) -> Option<T>,
    {
        let Keyed { table, key: column, upsert } = keyed;
        let select = format!("SELECT data::text FROM {table} WHERE {column} = $1 FOR UPDATE");
        let insert = if T::SCHEDULED {
            format!(
                "INSERT INTO {table} ({column}, data, next_check_at) VALUES ($1, $2::jsonb, $3)
                 ON CONFLICT ({column}) DO NOTHING"
            )
        } else {
            format!(
                "INSERT INTO {table} ({column}, data) VALUES ($1, $2::jsonb) ON CONFLICT ({column}) DO NOTHING"
            )
        };
        let delete = format!("DELETE FROM {table} WHERE {column} = $1");
        // Twice at most: a row inserted by another writer between our read and our insert is read
        // again, locked this time.
        for _ in 0..3 {
            let stored: Option<String> =
                sqlx::query_scalar(&select).bind(key).fetch_optional(&mut *conn).await?;
            let exists = stored.is_some();
            let current = stored.and_then(|data| self.decode::<T>(table, key, &data));
            let new = f(current);
            let Some(new) = new else {
                if exists {
                    sqlx::query(&delete).bind(key).execute(&mut *conn).await?;
                }
                return Ok(());
            };
            let statement = if exists { upsert } else { insert.as_str() };
            let mut query = sqlx::query(statement).bind(key).bind(text(encode(&new)?));
            if T::SCHEDULED {
                query = query.bind(new.due());
            }
            let written = query.execute(&mut *conn).await?.rows_affected();
            if written == 1 {
                return Ok(());
            }
        }
        Err(StoreError::Contended { table: (*table).to_owned(), key: key.to_owned() })
    }

    async fn read<T: DeserializeOwned>(&self, keyed: &Keyed, key: &str) -> Result<Option<T>, StoreError> {
        let Keyed { table, key: column, .. } = keyed;
        let data: Option<String> =
            sqlx::query_scalar(&format!("SELECT data::text FROM {table} WHERE {column} = $1"))
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(data.and_then(|data| self.decode(table, key, &data)))
    }

    pub async fn dialogue<T: DeserializeOwned>(&self, chat: &ChatKey) -> Result<Option<T>, StoreError> {
        self.read(&DIALOGUE, &chat.storage_key()).await
    }

    pub async fn prefs(&self, chat: &ChatKey) -> Result<Prefs, StoreError> {
        Ok(self.read(&PREFS, &chat.storage_key()).await?.unwrap_or_default())
    }

    pub async fn swept_owned(&self, order: &OrderNo) -> Result<bool, StoreError> {
        let marked: Option<i32> = sqlx::query_scalar("SELECT 1 FROM swept_owned WHERE order_no = $1")
            .bind(order.digits())
            .fetch_optional(&self.pool)
            .await?;
        Ok(marked.is_some())
    }

    pub async fn order(&self, order: &OrderNo) -> Result<Option<OrderRecord>, StoreError> {
        let key = order.digits();
        let data: Option<String> = sqlx::query_scalar("SELECT data::text FROM orders WHERE order_no = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        self.seen_orders.note(key, data.clone());
        Ok(data.and_then(|data| self.decode("orders", key, &data)))
    }

    /// A step's order, recorded in one statement, outside a transaction, if the order is still as
    /// the step read it and the step's lease holds: `true` when written. The step's end follows in
    /// a statement of its own; should it fail, the step is made again, and recording the same
    /// order twice is recording it once ([`OrderRecord::merged`]).
    async fn record_order_as_read(
        &self,
        conn: &mut PgConnection,
        order_no: &OrderNo,
        order: &crate::domain::Order,
        at: DateTime<Utc>,
        claimant: Option<&ChatKey>,
        end: &StepEnd,
    ) -> Result<bool, StoreError> {
        let key = order_no.digits();
        let Some(read) = self.seen_orders.take(key) else { return Ok(false) };
        let stored = match &read {
            Some(data) => match self.decode::<OrderRecord>("orders", key, data) {
                Some(record) => Some(record),
                None => return Ok(false),
            },
            None => None,
        };
        let merged = text(encode(&OrderRecord::merged(stored, order, at, claimant))?);
        let lease = "EXISTS (SELECT 1 FROM chat_locks WHERE chat = $3 AND holder = $4)";
        let written =
            match read {
                Some(read) => sqlx::query(&format!(
                    "UPDATE orders SET data = $2::jsonb WHERE order_no = $1 AND data = $5::jsonb AND {lease}"
                ))
                .bind(key)
                .bind(merged)
                .bind(&end.chat)
                .bind(&end.holder)
                .bind(read)
                .execute(&mut *conn)
                .await?,
                None => {
                    sqlx::query(&format!(
                        "INSERT INTO orders (order_no, data) SELECT $1, $2::jsonb WHERE {lease}
                     ON CONFLICT (order_no) DO NOTHING"
                    ))
                    .bind(key)
                    .bind(merged)
                    .bind(&end.chat)
                    .bind(&end.holder)
                    .execute(&mut *conn)
                    .await?
                }
            };
        Ok(written.rows_affected() == 1)
    }

    /// [`super::Store::web_log_append`]: `lines` are encoded records. One transaction: the chat's
    /// writers take turns on its `web_seq` row, so numbers become visible in order; instances
    /// with a page of this chat open are told at commit (`billbot_web`).
    pub async fn web_log_append(
        &self,
        chat: &ChatKey,
        lines: &[Vec<u8>],
        at: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let key = chat.storage_key();
        let mut tx = self.pool.begin().await?;
        // Writing the chat's counter row locks it until commit: the chat's writers take turns.
        let last: Option<i64> = sqlx::query_scalar(
            "INSERT INTO web_seq (chat, last, at) VALUES ($1, NULL, $2)
             ON CONFLICT (chat) DO UPDATE SET at = EXCLUDED.at RETURNING last",
        )
        .bind(&key)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        let numbers = super::web_log_numbers(last, at, lines.len());
        let data: Vec<String> = lines.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect();
        sqlx::query(
            "INSERT INTO web_log (chat, seq, at, data)
             SELECT $1, s, $3, d::jsonb FROM unnest($2::bigint[], $4::text[]) AS l(s, d)",
        )
        .bind(&key)
        .bind(&numbers)
        .bind(at)
        .bind(&data)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM web_log WHERE chat = $1 AND seq < (
                 SELECT min(seq) FROM (SELECT seq FROM web_log WHERE chat = $1 ORDER BY seq DESC LIMIT $2) newest)",
        )
        .bind(&key)
        .bind(super::WEB_LOG_KEPT as i64)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE web_seq SET last = $2 WHERE chat = $1")
            .bind(&key)
            .bind(numbers.last())
            .execute(&mut *tx)
            .await?;
        // The chat, then who wrote (this store's holder prefix): an instance skips its own.
        let word = format!("{key} {}", self.holders);
        sqlx::query("SELECT pg_notify('billbot_web', $1)").bind(&word).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(numbers)
    }

    /// The web chats given a line by another instance (`NOTIFY billbot_web` at commit), as this
    /// store hears them; `None` when some may have been missed.
    pub fn web_written(&self) -> tokio::sync::broadcast::Receiver<Option<String>> {
        self.web_written.subscribe()
    }

    /// [`super::Store::web_log_after`].
    pub async fn web_log_after<T: DeserializeOwned>(
        &self,
        chat: &ChatKey,
        after: i64,
    ) -> Result<Vec<super::WebLine<T>>, StoreError> {
        let rows =
            sqlx::query("SELECT seq, at, data::text FROM web_log WHERE chat = $1 AND seq > $2 ORDER BY seq")
                .bind(chat.storage_key())
                .bind(after)
                .fetch_all(&self.pool)
                .await?;
        let mut lines = Vec::with_capacity(rows.len());
        for row in rows {
            let (seq, at, data): (i64, DateTime<Utc>, String) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            if let Some(line) = self.decode("web_log", &seq.to_string(), &data) {
                lines.push(super::WebLine { seq, at, line });
            }
        }
        Ok(lines)
    }

    /// Every readable record of `chat` in `table`, in the order `order_by` gives, with its id.
    async fn chat_records<T: DeserializeOwned>(
        &self,
        table: &str,
        id: &str,
        chat: &ChatKey,
        order_by: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {id}::text, data::text FROM {table} WHERE chat = $1 ORDER BY {order_by}"
        ))
        .bind(chat.storage_key())
        .fetch_all(&self.pool)
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let (id, data): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            if let Some(item) = self.decode(table, &id, &data) {
                items.push((id, item));
            }
        }
        Ok(items)
    }

    pub async fn activity(&self, chat: &ChatKey) -> Result<Vec<Activity>, StoreError> {
        let items = self.chat_records("activity", "item", chat, "at DESC, item").await?;
        Ok(items.into_iter().map(|(_, a)| a).collect())
    }

    pub async fn saved_references(&self, chat: &ChatKey) -> Result<Vec<SavedReference>, StoreError> {
        let saved = self.chat_records("saved", "key", chat, "saved_at, key").await?;
        Ok(saved.into_iter().map(|(_, s)| s).collect())
    }

    pub async fn watch(&self, order: &OrderNo) -> Result<Option<Watch>, StoreError> {
        self.read(&WATCHES, order.digits()).await
    }

    pub async fn due_watches(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OrderNo>, StoreError> {
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT order_no FROM watches WHERE next_check_at <= $1 ORDER BY next_check_at LIMIT $2",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(due.iter().filter_map(|d| OrderNo::parse(d).ok()).collect())
    }

    pub async fn watch_count(&self) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM watches").fetch_one(&self.pool).await?;
        Ok(n as usize)
    }

    /// [`super::Store::inbox_take`]: the id is taken, and the message filed under its chat, only
    /// if the id is new; `arrival` numbers it as it comes. Durable on return. Messages taken in
    /// while another batch is being written are written together, in one statement, after it
    /// ([`take_in_batches`]).
    pub async fn inbox_take(
        &self,
        id: &str,
        chat: &ChatKey,
        order: i64,
        message: &[u8],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let taken = Taken {
            id: id.to_owned(),
            chat: chat.storage_key(),
            order,
            message: text(message.to_vec()),
            at,
            done,
        };
        if let Err(refused) = self.intake.send(taken) {
            // The writer is gone (the runtime is shutting down): write it here.
            return take_one(&self.pool, &refused.0).await;
        }
        match result.await {
            Ok(fresh) => fresh,
            Err(_) => Err(StoreError::Unsupported("taking a message in while the store shuts down")),
        }
    }

    /// [`super::Store::turn_start_next`]: the turn's start and the chat's first message, in one
    /// query. An unreadable message is deleted and the query made again.
    pub async fn turn_start_next<T: DeserializeOwned, M: DeserializeOwned>(
        &self,
        chat: &ChatKey,
    ) -> Result<TurnNext<T, M>, StoreError> {
        let chat = chat.storage_key();
        loop {
            let row = sqlx::query(concat!("SELECT ", turn_start_columns!()))
                .bind(&chat)
                .fetch_one(&self.pool)
                .await?;
            match self.turn_start_of(&row, 0, &chat)? {
                Ok(start) => return Ok(start),
                // Unreadable: it would never be handled, and would hold up the chat's queue.
                Err(id) => {
                    sqlx::query("DELETE FROM inbox WHERE id = $1").bind(&id).execute(&self.pool).await?;
                }
            }
        }
    }

    /// What a turn starts from, read from `row`'s columns of `turn_start_columns!` (from `first`
    /// on): the start and the chat's oldest waiting message; `Err` with the message's id if it
    /// cannot be read (counted as skipped), and then nothing else is read.
    fn turn_start_of<T: DeserializeOwned, M: DeserializeOwned>(
        &self,
        row: &sqlx::postgres::PgRow,
        first: usize,
        chat: &str,
    ) -> Result<Result<TurnNext<T, M>, String>, StoreError> {
        let next: Option<(String, String)> =
            row.try_get::<Option<String>, _>(first + 3)?.zip(row.try_get(first + 4)?);
        let next = match next {
            None => None,
            Some((id, data)) => match self.decode::<M>("inbox", &id, &data) {
                Some(message) => Some((id, message)),
                None => return Ok(Err(id)),
            },
        };
        let (prefs, dialogue): (Option<String>, Option<String>) =
            (row.try_get(first)?, row.try_get(first + 1)?);
        let start = super::TurnStart {
            prefs: prefs.and_then(|p| self.decode("prefs", chat, &p)).unwrap_or_default(),
            dialogue: dialogue.and_then(|d| self.decode("dialogue", chat, &d)),
            has_held: row.try_get(first + 2)?,
            pending: true,
        };
        Ok(Ok((start, next)))
    }

    /// Takes the chat's lease for `holder` and reads what its step starts from, in one statement
    /// per try (waiting, with growing pauses, while another instance's lease runs): the chat's
    /// prefs, state, held notices and oldest waiting message. The reads see every step committed
    /// before the lease was free: a holder commits its step before it lets the lease go.
    ///
    /// A lease still held through this store (its steps of a chat run one after another: one
    /// still held is one whose end is on its way, [`PgStore::release_later`]) is taken over at
    /// once.
    pub async fn take_turn<T: DeserializeOwned, M: DeserializeOwned>(
        &self,
        chat: &ChatKey,
        holder: &str,
    ) -> Result<(tokio::task::JoinHandle<()>, super::TurnStart<T>, Option<(String, M)>), StoreError> {
        let key = chat.storage_key();
        let lease = format!("{} milliseconds", LEASE.as_millis());
        let row = self
            .until_free(&key, || async {
                let row = sqlx::query(concat!(
                    "WITH taken AS (
                         INSERT INTO chat_locks (chat, holder, until) VALUES ($1, $2, now() + $3::interval)
                         ON CONFLICT (chat) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
                         WHERE chat_locks.until < now() OR starts_with(chat_locks.holder, $4)
                         RETURNING 1)
                     SELECT EXISTS (SELECT 1 FROM taken), ",
                    turn_start_columns!()
                ))
                .bind(&key)
                .bind(holder)
                .bind(&lease)
                .bind(&*self.holders)
                .fetch_one(&self.pool)
                .await?;
                Ok(row.try_get::<bool, _>(0)?.then_some(row))
            })
            .await?;
        let renewal = tokio::spawn(renew_lease(self.pool.clone(), key.clone(), holder.to_owned(), lease));
        let (start, next) = match self.turn_start_of(&row, 1, &key)? {
            Ok(start) => start,
            // Unreadable: dropped (counted); the chat is ours now, so the plain read finds the next.
            Err(id) => {
                sqlx::query("DELETE FROM inbox WHERE id = $1").bind(&id).execute(&self.pool).await?;
                self.turn_start_next(chat).await?
            }
        };
        Ok((renewal, start, next))
    }

    /// Tries to take `chat`'s lease (`take`: `None` while another holds it) until it is taken,
    /// pausing between tries (2 ms, doubling up to 200 ms) and trying again at once when the
    /// holder, on any instance, says it ended the lease ([`listen_for_free_chats`]). Gives up
    /// after [`LEASE_WAIT`].
    async fn until_free<T, F, Fut>(&self, chat: &str, mut take: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, StoreError>>,
    {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(2);
        let mut free = None;
        loop {
            // Listening before the try misses no word sent after it.
            let free = free.get_or_insert_with(|| self.waiting.on(chat));
            let told = free.notify.notified();
            tokio::pin!(told);
            told.as_mut().enable();
            if let Some(taken) = take().await? {
                return Ok(taken);
            }
            if started.elapsed() >= LEASE_WAIT {
                return Err(StoreError::ChatBusy(chat.to_owned()));
            }
            if tokio::time::timeout(pause, told).await.is_ok() {
                self.waiting.told.fetch_add(1, Ordering::Relaxed);
            }
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// How many times a turn waiting for a chat's lease was told it had ended (rather than
    /// trying again after its pause).
    pub fn lease_ends_told(&self) -> u64 {
        self.waiting.told.load(Ordering::Relaxed)
    }

    /// A new lease holder's name (see `holders`).
    pub fn new_holder(&self) -> String {
        static TURNS: AtomicU64 = AtomicU64::new(0);
        format!("{}{}", self.holders, TURNS.fetch_add(1, Ordering::Relaxed))
    }

    /// Ends `holder`'s lease on `chat` soon, together with other leases ended meanwhile (one
    /// statement for many steps, off their way: the chat's replies are out already). Until then,
    /// this process takes the chat over at once ([`PgStore::take_turn`]); another instance waits
    /// a few milliseconds more.
    pub fn release_later(&self, chat: &ChatKey, holder: &str) {
        if self.releases.send((chat.storage_key(), holder.to_owned())).is_err() {
            tracing::debug!(%chat, "the lease releaser has stopped: the lease runs out on its own");
        }
    }

    /// [`super::Store::inbox_stale_chats`]: the chat whose message has waited longest first.
    pub async fn inbox_stale_chats(&self, before: DateTime<Utc>) -> Result<Vec<ChatKey>, StoreError> {
        let chats: Vec<String> = sqlx::query_scalar(
            "SELECT chat FROM inbox i
             WHERE chat IS NOT NULL AND received_at < $1
             AND NOT EXISTS (SELECT 1 FROM chat_locks l WHERE l.chat = i.chat AND l.until > now())
             GROUP BY chat ORDER BY min(received_at), chat",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        Ok(chats.iter().filter_map(|c| c.parse().ok()).collect())
    }

    pub async fn inbox_pending<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let rows = sqlx::query("SELECT id, data::text FROM inbox WHERE starts_with(id, $1)")
            .bind(prefix)
            .fetch_all(&self.pool)
            .await?;
        let mut pending = Vec::with_capacity(rows.len());
        for row in rows {
            let (id, data): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            match self.decode("inbox", &id, &data) {
                Some(message) => pending.push((id, message)),
                // Unreadable: it would never be handled; forget it rather than retry it forever.
                None => {
                    sqlx::query("DELETE FROM inbox WHERE id = $1").bind(&id).execute(&self.pool).await?;
                }
            }
        }
        Ok(pending)
    }

    pub async fn inbox_sweep(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let gone: Vec<String> = sqlx::query_scalar("DELETE FROM seen WHERE at < $1 RETURNING id")
            .bind(before)
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM inbox WHERE id = ANY($1)").bind(&gone).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(gone.len())
    }

    pub async fn turn_start<T: DeserializeOwned>(
        &self,
        chat: &ChatKey,
        inbox_id: Option<&str>,
    ) -> Result<super::TurnStart<T>, StoreError> {
        let chat = chat.storage_key();
        let row = sqlx::query(
            "SELECT (SELECT data::text FROM prefs WHERE chat = $1),
                    (SELECT data::text FROM dialogue WHERE chat = $1),
                    EXISTS (SELECT 1 FROM held WHERE chat = $1),
                    $2::text IS NULL OR EXISTS (SELECT 1 FROM inbox WHERE id = $2)",
        )
        .bind(&chat)
        .bind(inbox_id)
        .fetch_one(&self.pool)
        .await?;
        let (prefs, dialogue): (Option<String>, Option<String>) = (row.try_get(0)?, row.try_get(1)?);
        Ok(super::TurnStart {
            prefs: prefs.and_then(|p| self.decode("prefs", &chat, &p)).unwrap_or_default(),
            dialogue: dialogue.and_then(|d| self.decode("dialogue", &chat, &d)),
            has_held: row.try_get(2)?,
            pending: row.try_get(3)?,
        })
    }

    /// Takes the chat's lease for `holder`, waiting (with growing pauses) while another holder's
    /// lease runs; returns the task that renews it until it is aborted.
    pub async fn lock_chat(
        &self,
        chat: &ChatKey,
        holder: &str,
    ) -> Result<tokio::task::JoinHandle<()>, StoreError> {
        let chat = chat.storage_key();
        let lease = format!("{} milliseconds", LEASE.as_millis());
        self.until_free(&chat, || async {
            let taken: Option<String> = sqlx::query_scalar(
                "INSERT INTO chat_locks (chat, holder, until) VALUES ($1, $2, now() + $3::interval)
                 ON CONFLICT (chat) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
                 WHERE chat_locks.until < now()
                 RETURNING holder",
            )
            .bind(&chat)
            .bind(holder)
            .bind(&lease)
            .fetch_optional(&self.pool)
            .await?;
            Ok(taken.map(|_| ()))
        })
        .await?;
        Ok(tokio::spawn(renew_lease(self.pool.clone(), chat, holder.to_owned(), lease)))
    }

    /// A session-level advisory lock on `job`, on a connection of its own (taken out of the pool),
    /// or `None` when another session holds it.
    pub async fn exclusive(&self, job: &str) -> Result<Option<PgConnection>, StoreError> {
        let mut connection = self.pool.acquire().await?.detach();
        // Keyed by the schema too: deployments (or tests) sharing a database in schemas of their
        // own do not take turns with each other.
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1 || current_schema()))")
                .bind(format!("billbot:{job}:"))
                .fetch_one(&mut connection)
                .await?;
        Ok(locked.then_some(connection))
    }

    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OrderNo>, StoreError> {
        // SKIP LOCKED: a watch another instance is claiming or updating right now is left to it.
        let until_json = serde_json::to_string(&until)?;
        let claimed: Vec<String> = sqlx::query_scalar(
            "UPDATE watches SET next_check_at = $2, data = jsonb_set(data, '{data,next_check_at}', $3::jsonb)
             WHERE order_no IN (
                 SELECT order_no FROM watches WHERE next_check_at <= $1
                 ORDER BY next_check_at LIMIT $4 FOR UPDATE SKIP LOCKED)
             RETURNING order_no",
        )
        .bind(now)
        .bind(until)
        .bind(until_json)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(claimed.iter().filter_map(|d| OrderNo::parse(d).ok()).collect())
    }

    pub async fn sweep_expired(
        &self,
        orders_before: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<Swept, StoreError> {
        // An order that had owners leaves a mark (see `Store::swept_owned`).
        let orders: i64 = sqlx::query_scalar(
            "WITH gone AS (
                 DELETE FROM orders WHERE (data->'data'->>'last_checked')::timestamptz < $1
                 RETURNING order_no, data),
             marked AS (
                 INSERT INTO swept_owned (order_no, swept_at)
                 SELECT order_no, now() FROM gone
                 WHERE (gone.data->'data'->>'claimed')::boolean IS TRUE
                    OR jsonb_array_length(COALESCE(gone.data->'data'->'owners', '[]'::jsonb)) > 0
                 ON CONFLICT (order_no) DO NOTHING)
             SELECT count(*) FROM gone",
        )
        .bind(orders_before)
        .fetch_one(&self.pool)
        .await?;
        let activity =
            sqlx::query("DELETE FROM activity WHERE at < $1").bind(orders_before).execute(&self.pool).await?;
        let dialogues = sqlx::query(
            "DELETE FROM dialogue d WHERE NOT EXISTS (
                 SELECT 1 FROM prefs p WHERE p.chat = d.chat
                 AND (p.data->'data'->>'last_inbound_at')::timestamptz >= $1)",
        )
        .bind(idle_before)
        .execute(&self.pool)
        .await?;
        let tickets = sqlx::query("DELETE FROM tickets WHERE (data->'data'->>'last_at')::timestamptz < $1")
            .bind(orders_before)
            .execute(&self.pool)
            .await?;
        Ok(Swept {
            orders: orders as usize,
            activity: activity.rows_affected() as usize,
            dialogues: dialogues.rows_affected() as usize,
            tickets: tickets.rows_affected() as usize,
            web_lines: {
                let lines =
                    sqlx::query("DELETE FROM web_log WHERE at < $1").bind(idle_before).execute(&self.pool);
                let lines = lines.await?.rows_affected() as usize;
                sqlx::query("DELETE FROM web_seq WHERE at < $1")
                    .bind(idle_before)
                    .execute(&self.pool)
                    .await?;
                lines
            },
        })
    }

    /// [`Op::ReminderStep`] in the caller's transaction: the row is locked while `update` decides.
    async fn update_reminder(
        &self,
        conn: &mut PgConnection,
        chat: &ChatKey,
        reference: &CustomerReference,
        mut update: ReminderUpdate,
    ) -> Result<(), StoreError> {
        let (chat, key) = (chat.storage_key(), reference_key(reference));
        let stored: Option<String> =
            sqlx::query_scalar("SELECT data::text FROM reminders WHERE chat = $1 AND key = $2 FOR UPDATE")
                .bind(&chat)
                .bind(&key)
                .fetch_optional(&mut *conn)
                .await?;
        let current = stored.and_then(|data| self.decode::<Reminder>("reminders", &key, &data));
        let (new, tell) = update(current);
        match new {
            Some(reminder) => {
                sqlx::query(UPSERT_REMINDER)
                    .bind(&chat)
                    .bind(&key)
                    .bind(reminder.next_at)
                    .bind(text(encode(&reminder)?))
                    .execute(&mut *conn)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM reminders WHERE chat = $1 AND key = $2")
                    .bind(&chat)
                    .bind(&key)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        record_outgoing(conn, &tell).await?;
        Ok(())
    }

    /// [`super::Store::owned`]: by the indexes on owners, watchers, tickets' and aliases' chats.
    pub async fn owned(&self, chat: &ChatKey) -> Result<Vec<Owned>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as(OWNED).bind(chat.storage_key()).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(kind, key)| match kind.as_str() {
                "o" => OrderNo::parse(&key).ok().map(Owned::Order),
                "w" => OrderNo::parse(&key).ok().map(Owned::Watch),
                "t" => Some(Owned::Ticket(key)),
                "a" => key.parse().ok().map(Owned::Alias),
                _ => None,
            })
            .collect())
    }

    pub async fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        let data: Option<String> = sqlx::query_scalar("SELECT data::text FROM tickets WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(data.and_then(|data| self.decode("tickets", id, &data)))
    }

    /// [`super::Store::open_ticket`]: the ticket inserted, only if its id is free, and its notices,
    /// in one transaction; nothing is written when the id is taken.
    pub async fn open_ticket(&self, ticket: &Ticket, tell: &[Outgoing]) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted: Option<String> = sqlx::query_scalar(INSERT_TICKET)
            .bind(&ticket.id)
            .bind(ticket.chat.storage_key())
            .bind(ticket.opened_at)
            .bind(text(encode(ticket)?))
            .fetch_optional(&mut *tx)
            .await?;
        if inserted.is_none() {
            // Dropped: the transaction rolls back, and wrote nothing anyway.
            return Ok(false);
        }
        record_outgoing(&mut tx, tell).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn latest_ticket(&self, chat: &ChatKey) -> Result<Option<Ticket>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT id, data::text FROM tickets WHERE chat = $1 ORDER BY opened_at DESC, id LIMIT 1",
        )
        .bind(chat.storage_key())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(id, data)| self.decode("tickets", &id, &data)))
    }

    pub async fn reminders(&self, chat: &ChatKey) -> Result<Vec<Reminder>, StoreError> {
        let items = self.chat_records("reminders", "key", chat, "next_at, key").await?;
        Ok(items.into_iter().map(|(_, r)| r).collect())
    }

    pub async fn reminder_count(&self) -> Result<usize, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM reminders").fetch_one(&self.pool).await?;
        Ok(count as usize)
    }

    pub async fn claim_reminders(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Reminder>, StoreError> {
        let until_json = serde_json::to_string(&until)?;
        let claimed: Vec<(String, String)> = sqlx::query_as(
            "UPDATE reminders SET next_at = $2, data = jsonb_set(data, '{data,next_at}', $3::jsonb)
             WHERE (chat, key) IN (
                 SELECT chat, key FROM reminders WHERE next_at <= $1
                 ORDER BY next_at LIMIT $4 FOR UPDATE SKIP LOCKED)
             RETURNING key, data::text",
        )
        .bind(now)
        .bind(until)
        .bind(until_json)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(claimed.into_iter().filter_map(|(key, data)| self.decode("reminders", &key, &data)).collect())
    }

    /// [`super::Store::claim_outgoing_for`]. Claimers take turns (a lock held for the claim's
    /// transaction): two claiming at once could each see no live claim of a chat and each take
    /// one of its notices. `SKIP LOCKED` leaves a notice being marked right now to its sender.
    pub async fn claim_outgoing(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Outgoing>, StoreError> {
        let until_json = serde_json::to_string(&until)?;
        let mut tx = self.pool.begin().await?;
        // One claimer at a time (per schema: see `exclusive`).
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('billbot:outbox-claims:' || current_schema()))")
            .execute(&mut *tx)
            .await?;
        let claimed: Vec<(String, String)> = sqlx::query_as(
            "WITH due AS (
                 SELECT id, next_at AS was FROM outbox o
                 WHERE next_at <= $1 AND NOT EXISTS (
                     SELECT 1 FROM outbox c WHERE c.chat = o.chat AND c.claimed_by <> $5 AND c.next_at > $1)
                 ORDER BY next_at LIMIT $4 FOR UPDATE SKIP LOCKED),
             claimed AS (
                 UPDATE outbox SET next_at = $2, claimed_by = $5, data = jsonb_set(
                     jsonb_set(data, '{data,next_at}', $3::jsonb), '{data,claimed_by}', to_jsonb($5::text))
                 FROM due WHERE outbox.id = due.id
                 RETURNING outbox.id, outbox.data::text AS data, due.was)
             SELECT id, data FROM claimed ORDER BY was, id",
        )
        .bind(now)
        .bind(until)
        .bind(until_json)
        .bind(limit as i64)
        .bind(holder)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut out = Vec::new();
        for (id, data) in claimed {
            match self.decode::<Outgoing>("outbox", &id, &data) {
                Some(outgoing) => out.push(outgoing),
                None => {
                    sqlx::query("DELETE FROM outbox WHERE id = $1").bind(&id).execute(&self.pool).await?;
                }
            }
        }
        Ok(out)
    }

    pub async fn renew_outgoing(
        &self,
        holder: &str,
        ids: &[String],
        until: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let renewed = sqlx::query(
            "UPDATE outbox SET next_at = $3, data = jsonb_set(data, '{data,next_at}', $4::jsonb)
             WHERE id = ANY($2) AND claimed_by = $1 AND next_at IS NOT NULL",
        )
        .bind(holder)
        .bind(ids)
        .bind(until)
        .bind(serde_json::to_string(&until)?)
        .execute(&self.pool)
        .await?;
        Ok(renewed.rows_affected() as usize)
    }

    /// [`Op::Outgoing`] in the caller's transaction: the row is locked while the change is
    /// decided; a notice done, or claimed by another sender than `holder` (when given), is left.
    async fn change_outgoing(
        &self,
        conn: &mut PgConnection,
        id: &str,
        change: OutgoingChange,
        holder: Option<&str>,
    ) -> Result<(), StoreError> {
        let stored: Option<String> =
            sqlx::query_scalar("SELECT data::text FROM outbox WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        let current = stored.and_then(|data| self.decode::<Outgoing>("outbox", id, &data));
        let Some(mut outgoing) = current.filter(|o| o.may_change(holder)) else { return Ok(()) };
        outgoing.apply(change);
        sqlx::query(
            "UPDATE outbox SET data = $2::jsonb, next_at = $3, done_at = $4, claimed_by = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(text(encode(&outgoing)?))
        .bind(outgoing.next_at)
        .bind(outgoing.done_at)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    pub async fn outgoing(&self, id: &str) -> Result<Option<Outgoing>, StoreError> {
        let data: Option<String> = sqlx::query_scalar("SELECT data::text FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(data.and_then(|data| self.decode("outbox", id, &data)))
    }

    pub async fn sweep_outgoing(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let swept =
            sqlx::query("DELETE FROM outbox WHERE done_at < $1").bind(before).execute(&self.pool).await?;
        Ok(swept.rows_affected() as usize)
    }

    pub async fn seen_count(&self) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM seen").fetch_one(&self.pool).await?;
        Ok(n as usize)
    }

    pub async fn alias(&self, key: &ChatKey) -> Result<Option<ChatKey>, StoreError> {
        let chat: Option<String> = sqlx::query_scalar("SELECT chat FROM aliases WHERE alias = $1")
            .bind(key.storage_key())
            .fetch_optional(&self.pool)
            .await?;
        Ok(chat.and_then(|c| c.parse().ok()))
    }

    pub async fn held<T: DeserializeOwned>(&self, chat: &ChatKey) -> Result<Vec<(HeldId, T)>, StoreError> {
        let held = self.chat_records("held", "id", chat, "held.at, held.id").await?;
        Ok(held
            .into_iter()
            .filter_map(|(id, notice)| {
                id.parse::<i64>().ok().map(|id| (HeldId(id.to_be_bytes().to_vec()), notice))
            })
            .collect())
    }
}

/// Ends the leases sent to it, many in one statement: those sent while the last statement ran
/// (at most 500 at a time). Ends when every sender is gone.
async fn end_leases(pool: PgPool, mut releases: tokio::sync::mpsc::UnboundedReceiver<(String, String)>) {
    let mut batch = Vec::new();
    while releases.recv_many(&mut batch, 500).await > 0 {
        let (chats, holders): (Vec<String>, Vec<String>) = std::mem::take(&mut batch).into_iter().unzip();
        // Instances waiting for one of these chats are told (see `listen_for_free_chats`).
        let ended = sqlx::query(
            "WITH ended AS (
                 DELETE FROM chat_locks l USING unnest($1::text[], $2::text[]) AS e(chat, holder)
                 WHERE l.chat = e.chat AND l.holder = e.holder RETURNING l.chat)
             SELECT pg_notify('billbot_chat_free', chat) FROM ended",
        )
        .bind(&chats)
        .bind(&holders)
        .execute(&pool)
        .await;
        if let Err(e) = ended {
            // They run out on their own, within a lease's length.
            tracing::warn!(leases = chats.len(), error = %e, "chat leases could not be ended");
        }
    }
}

/// A message on its way into the inbox ([`PgStore::inbox_take`]), and where to say whether it
/// was new.
struct Taken {
    id: String,
    chat: String,
    order: i64,
    message: String,
    at: DateTime<Utc>,
    done: tokio::sync::oneshot::Sender<Result<bool, StoreError>>,
}

/// At most this many messages are taken in by one statement.
const TAKE_IN_BATCH: usize = 256;

/// Takes in the messages sent to it, many in one statement: those sent while the last statement
/// ran. If the statement fails (one message PostgreSQL will not store, a lost connection), each
/// message of the batch is written on its own, so that one message's error is its own. Ends when
/// every sender is gone.
async fn take_in_batches(pool: PgPool, mut intake: tokio::sync::mpsc::UnboundedReceiver<Taken>) {
    let mut batch = Vec::new();
    while intake.recv_many(&mut batch, TAKE_IN_BATCH).await > 0 {
        let taken = std::mem::take(&mut batch);
        if taken.len() > 1 {
            match take_many(&pool, &taken).await {
                Ok(mut fresh) => {
                    for one in taken {
                        // A message sent twice in one batch is new once: the first time.
                        let _ = one.done.send(Ok(fresh.remove(&one.id)));
                    }
                    continue;
                }
                Err(e) => tracing::warn!(messages = taken.len(), error = %e, "messages taken in one by one"),
            }
        }
        for one in taken {
            let fresh = take_one(&pool, &one).await;
            let _ = one.done.send(fresh);
        }
    }
}

/// One message taken in, in one statement: `true` if its id was new.
async fn take_one(pool: &PgPool, one: &Taken) -> Result<bool, StoreError> {
    let fresh: Option<String> = sqlx::query_scalar(
        "WITH fresh AS (INSERT INTO seen (id, at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id)
         INSERT INTO inbox (id, data, chat, seq, received_at) SELECT id, $3::jsonb, $4, $5, $2 FROM fresh
         ON CONFLICT (id) DO NOTHING RETURNING id",
    )
    .bind(&one.id)
    .bind(one.at)
    .bind(&one.message)
    .bind(&one.chat)
    .bind(one.order)
    .fetch_optional(pool)
    .await?;
    Ok(fresh.is_some())
}

/// Messages taken in, in one statement, in the order given (their `arrival`): the ids that were
/// new.
async fn take_many(pool: &PgPool, taken: &[Taken]) -> Result<std::collections::HashSet<String>, StoreError> {
    let ids: Vec<&str> = taken.iter().map(|t| t.id.as_str()).collect();
    let ats: Vec<DateTime<Utc>> = taken.iter().map(|t| t.at).collect();
    let messages: Vec<&str> = taken.iter().map(|t| t.message.as_str()).collect();
    let chats: Vec<&str> = taken.iter().map(|t| t.chat.as_str()).collect();
    let orders: Vec<i64> = taken.iter().map(|t| t.order).collect();
    let fresh: Vec<String> = sqlx::query_scalar(
        "WITH given AS (
             SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::int8[])
                 WITH ORDINALITY AS g(id, at, data, chat, seq, n)
         ), fresh AS (
             INSERT INTO seen (id, at) SELECT id, at FROM given ORDER BY n
             ON CONFLICT (id) DO NOTHING RETURNING id
         )
         INSERT INTO inbox (id, data, chat, seq, received_at)
         SELECT id, data::jsonb, chat, seq, at FROM given WHERE id IN (SELECT id FROM fresh) ORDER BY n
         ON CONFLICT (id) DO NOTHING RETURNING id",
    )
    .bind(&ids)
    .bind(&ats)
    .bind(&messages)
    .bind(&chats)
    .bind(&orders)
    .fetch_all(pool)
    .await?;
    Ok(fresh.into_iter().collect())
}

/// The chats whose lease turns of this store wait for, each with what wakes them.
#[derive(Default)]
struct Waiting {
    chats: std::sync::Mutex<std::collections::HashMap<String, std::sync::Weak<Free>>>,
    /// Waits cut short by a word (see [`PgStore::lease_ends_told`]).
    told: AtomicU64,
}

/// What a turn waiting for a chat's lease is woken by; the chat is forgotten once no turn waits.
struct Free {
    notify: tokio::sync::Notify,
}

impl Waiting {
    /// What wakes a turn waiting for `chat`.
    fn on(&self, chat: &str) -> Arc<Free> {
        let mut chats = self.chats.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(free) = chats.get(chat).and_then(std::sync::Weak::upgrade) {
            return free;
        }
        chats.retain(|_, free| free.strong_count() > 0);
        let free = Arc::new(Free { notify: tokio::sync::Notify::new() });
        chats.insert(chat.to_owned(), Arc::downgrade(&free));
        free
    }

    /// Wakes the turns waiting for `chat`, if any.
    fn freed(&self, chat: &str) {
        let chats = self.chats.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(free) = chats.get(chat).and_then(std::sync::Weak::upgrade) {
            free.notify.notify_waiters();
        }
    }
}

/// A connection listening for chats whose lease an instance ended.
async fn listen(pool: &PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen_all(["billbot_chat_free", "billbot_web"]).await?;
    Ok(listener)
}

/// Listens for chats whose lease an instance ended (`billbot_chat_free`, sent by
/// [`end_leases`] and [`unlock`]) and wakes this store's turns waiting for them, so that a chat
/// goes from one instance to the next at once rather than at the waiter's next try. Words from
/// other deployments sharing the database (another schema) only cost a try. While the listening
/// connection is down, waiting turns try again after their pause, as before. Ends with the store
/// or its pool.
/// Who is told what the listening connection hears.
struct Heard {
    waiting: std::sync::Weak<Waiting>,
    /// Web chats with a new line (see [`PgStore::web_written`]).
    web: tokio::sync::broadcast::Sender<Option<String>>,
    /// This store's holder prefix: the web lines it wrote itself are not told.
    own: Arc<str>,
}

async fn listen_for_free_chats(pool: PgPool, mut listener: Option<sqlx::postgres::PgListener>, heard: Heard) {
    let waiting = heard.waiting;
    loop {
        if waiting.strong_count() == 0 || pool.is_closed() {
            return;
        }
        let connected = match listener.as_mut() {
            Some(connected) => connected,
            None => match listen(&pool).await {
                Ok(new) => listener.insert(new),
                Err(e) => {
                    tracing::debug!(error = %e, "cannot listen for free chats; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        // Woken every second to see whether the store or its pool is gone (a pool's close waits
        // for this connection).
        match tokio::time::timeout(Duration::from_secs(1), connected.try_recv()).await {
            Err(_) => {}
            Ok(Ok(Some(word))) if word.channel() == "billbot_web" => {
                // `chat writer`; a word of an older version is the chat alone.
                let (chat, writer) = word.payload().split_once(' ').unwrap_or((word.payload(), ""));
                if writer != &*heard.own {
                    // Nobody listening (no web chat here) is not an error.
                    let _ = heard.web.send(Some(chat.to_owned()));
                }
            }
            Ok(Ok(Some(word))) => {
                if let Some(waiting) = waiting.upgrade() {
                    waiting.freed(word.payload());
                }
            }
            // The connection was lost (and is made again at the next receive): a word may have been
            // missed, so every waiting turn tries again.
            Ok(Ok(None)) => {
                let _ = heard.web.send(None);
                if let Some(waiting) = waiting.upgrade() {
                    let chats: Vec<String> =
                        waiting.chats.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
                    chats.iter().for_each(|chat| waiting.freed(chat));
                }
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "listening for free chats failed; listening again");
                listener = None;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Renews `holder`'s lease on `chat` for `lease` (an interval) every third of [`LEASE`], until
/// the task is aborted.
async fn renew_lease(pool: PgPool, chat: String, holder: String, lease: String) {
    let mut every = tokio::time::interval(LEASE / 3);
    every.tick().await;
    loop {
        every.tick().await;
        let renewed =
            sqlx::query("UPDATE chat_locks SET until = now() + $3::interval WHERE chat = $1 AND holder = $2")
                .bind(&chat)
                .bind(&holder)
                .bind(&lease)
                .execute(&pool)
                .await;
        if let Err(e) = renewed {
            tracing::warn!(%chat, error = %e, "a chat lease could not be renewed");
        }
    }
}

/// A step's end ([`Op::EndStep`]) with the chat's own blind writes of the same batch, written in
/// one statement: the lease is ended (`release`) or renewed for a whole [`LEASE`], and only if it
/// is still `holder`'s are the state, the handled message, the prefs and the activity item
/// written. All or none even outside a transaction: every write is made from the lease's row, so
/// a lost lease writes nothing. A state or prefs equal to the stored one is not rewritten.
struct StepEnd {
    chat: String,
    state: Vec<u8>,
    handled: Option<String>,
    holder: String,
    release: bool,
    prefs: Option<Vec<u8>>,
    activity: Option<Activity>,
}

impl StepEnd {
    /// The batch's step end, with the prefs and the (one) activity item it can carry, and the
    /// ops left. Ops keep their order: the ones taken along are the chat's own, which no other
    /// op of the batch reads.
    fn split(ops: Vec<Op>) -> (Vec<Op>, Option<StepEnd>) {
        let Some(Op::EndStep { chat, state, handled, holder, release }) = ops.last() else {
            return (ops, None);
        };
        let mut end = StepEnd {
            chat: chat.storage_key(),
            state: state.clone(),
            handled: handled.clone(),
            holder: holder.clone(),
            release: *release,
            prefs: None,
            activity: None,
        };
        let own = chat.clone();
        let mut rest = Vec::with_capacity(ops.len());
        // Walking back from the end: an op is taken along only if no op after it touches the
        // same record (a later write of the prefs, a language change, a /forget). Prefs written
        // again later, with nothing reading them in between, are not written at all: a step that
        // counts a lookup and then notes a bill shown writes its prefs once.
        let (mut prefs_free, mut activity_free) = (true, true);
        let mut prefs_overwritten = false;
        for op in ops.into_iter().rev().skip(1) {
            match op {
                Op::Prefs { chat, .. } if chat == own && prefs_overwritten => {}
                Op::Prefs { chat, prefs } if chat == own && prefs_free => {
                    prefs_free = false;
                    match encode(&prefs) {
                        Ok(encoded) => {
                            end.prefs = Some(encoded);
                            prefs_overwritten = true;
                        }
                        Err(_) => rest.push(Op::Prefs { chat, prefs }),
                    }
                }
                Op::Activity { chat, item, at } if chat == own && activity_free => {
                    activity_free = false;
                    end.activity = Some(Activity { at, item });
                }
                op => {
                    match &op {
                        Op::Lang { .. } | Op::CountLookup { .. } | Op::ForgetChat { .. } => {
                            prefs_overwritten = false;
                        }
                        _ => {}
                    }
                    match &op {
                        Op::Prefs { .. } | Op::Lang { .. } | Op::CountLookup { .. } => prefs_free = false,
                        Op::Activity { .. } => activity_free = false,
                        Op::ForgetChat { .. } => (prefs_free, activity_free) = (false, false),
                        _ => {}
                    }
                    rest.push(op);
                }
            }
        }
        rest.reverse();
        (rest, Some(end))
    }

    /// The statement: `$1` chat, `$2` state, `$3` handled message, `$4` holder, `$5` lease;
    /// then `$6` prefs; then `$7` item, `$8` when, `$9` activity, `$10` how many others to keep.
    fn statement(&self) -> String {
        let lease = if self.release {
            "DELETE FROM chat_locks WHERE chat = $1 AND holder = $4 RETURNING 1"
        } else {
            "UPDATE chat_locks SET until = now() + $5::interval WHERE chat = $1 AND holder = $4 RETURNING 1"
        };
        let mut sql = format!(
            "WITH lease AS ({lease}),
             state AS (
                 INSERT INTO dialogue (chat, data) SELECT $1, $2::jsonb FROM lease
                 ON CONFLICT (chat) DO UPDATE SET data = EXCLUDED.data
                 WHERE dialogue.data IS DISTINCT FROM EXCLUDED.data),
             handled AS (DELETE FROM inbox WHERE id = $3 AND EXISTS (SELECT 1 FROM lease))"
        );
        if self.prefs.is_some() {
            sql.push_str(
                ", new_prefs AS (
                     INSERT INTO prefs (chat, data) SELECT $1, $6::jsonb FROM lease
                     ON CONFLICT (chat) DO UPDATE SET data = EXCLUDED.data
                     WHERE prefs.data IS DISTINCT FROM EXCLUDED.data)",
            );
        }
        if self.activity.is_some() {
            // One snapshot for the whole statement: the trim sees the items before this one, and
            // keeps the newest of the others (this one is the newest of all).
            let n = if self.prefs.is_some() { 7 } else { 6 };
            let (item, at, data, keep) = (n, n + 1, n + 2, n + 3);
            sql.push_str(&format!(
                ", new_item AS (
                     INSERT INTO activity (chat, item, at, data) SELECT $1, ${item}, ${at}, ${data}::jsonb FROM lease
                     ON CONFLICT (chat, item) DO UPDATE SET at = EXCLUDED.at, data = EXCLUDED.data),
                 trimmed AS (
                     DELETE FROM activity WHERE chat = $1 AND item <> ${item} AND EXISTS (SELECT 1 FROM lease)
                     AND item NOT IN (SELECT item FROM activity WHERE chat = $1 AND item <> ${item}
                                      ORDER BY at DESC, item LIMIT ${keep}))"
            ));
        }
        sql.push_str(" SELECT count(*) FROM lease");
        sql
    }

    async fn write(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        let sql = self.statement();
        let mut query = sqlx::query_scalar::<_, i64>(&sql)
            .bind(&self.chat)
            .bind(as_text(&self.state))
            .bind(self.handled.as_deref())
            .bind(&self.holder)
            .bind(format!("{} milliseconds", LEASE.as_millis()));
        if let Some(prefs) = &self.prefs {
            query = query.bind(as_text(prefs));
        }
        if let Some(activity) = &self.activity {
            query = query
                .bind(activity.item.id())
                .bind(activity.at)
                .bind(text(encode(activity)?))
                .bind(ACTIVITY_LIMIT.saturating_sub(1) as i64);
        }
        if query.fetch_one(&mut *conn).await? != 1 {
            return Err(StoreError::LeaseLost(self.chat.clone()));
        }
        Ok(())
    }
}

/// A step's end on its way to [`end_steps`], and where to say how it went.
struct Ending {
    end: StepEnd,
    done: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
}

/// Step ends written together at most.
const END_BATCH: usize = 64;

/// How many groups of step ends are written at once (each on a connection of its own).
const END_WRITERS: usize = 3;

/// Writes the step ends sent to it: those sent while the last group was written, in one
/// statement (one commit, one WAL flush for them all: [`end_together`]). A step whose lease ran
/// out is told so, and the others' ends still commit; if the statement fails, nothing of it is
/// written and each end is written on its own, so that an error is its own step's. Several
/// writers share the queue, each with a group of its own. Ends when every sender is gone.
async fn end_steps(
    pool: PgPool,
    queue: Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Ending>>>,
) {
    loop {
        let mut group = Vec::new();
        if queue.lock().await.recv_many(&mut group, END_BATCH).await == 0 {
            return;
        }
        if group.len() > 1 {
            match end_together(&pool, &group).await {
                Ok(Some(outcomes)) => {
                    for (ending, outcome) in group.into_iter().zip(outcomes) {
                        let _ = ending.done.send(outcome);
                    }
                    continue;
                }
                // Committed or not: nobody knows. Each step is told; none is written again.
                Err(e) => {
                    let e = e.to_string();
                    for ending in group {
                        let error =
                            sqlx::Error::Protocol(format!("the commit of a group of steps failed: {e}"));
                        let _ = ending.done.send(Err(StoreError::Postgres(error)));
                    }
                    continue;
                }
                // Refused, nothing written: each on its own below.
                Ok(None) => {}
            }
        }
        for ending in group {
            let outcome = match pool.acquire().await {
                Ok(mut conn) => ending.end.write(&mut conn).await,
                Err(e) => Err(e.into()),
            };
            let _ = ending.done.send(outcome);
        }
    }
}

/// The group's ends in one statement: each one's outcome once committed (`Ok(None)`: the
/// statement failed and nothing was written; `Err`: whether it was written is unknown). The
/// statement does for every step what [`StepEnd::statement`] does for one; a step whose lease
/// is not its holder's any more writes nothing and is told so.
async fn end_together(
    pool: &PgPool,
    group: &[Ending],
) -> Result<Option<Vec<Result<(), StoreError>>>, sqlx::Error> {
    let ends: Vec<&StepEnd> = group.iter().map(|ending| &ending.end).collect();
    let mut chats = std::collections::HashSet::new();
    if !ends.iter().all(|end| chats.insert(end.chat.as_str())) {
        // A chat twice (its turns run one at a time, so not expected): one by one.
        return Ok(None);
    }
    let (mut items, mut ats, mut data) = (Vec::new(), Vec::new(), Vec::new());
    for end in &ends {
        match &end.activity {
            Some(activity) => {
                let Ok(encoded) = encode(activity) else { return Ok(None) };
                items.push(Some(activity.item.id()));
                ats.push(Some(activity.at));
                data.push(Some(text(encoded)));
            }
            None => {
                items.push(None);
                ats.push(None);
                data.push(None);
            }
        }
    }
    let chats: Vec<&str> = ends.iter().map(|end| end.chat.as_str()).collect();
    let states: Vec<&str> = ends.iter().map(|end| as_text(&end.state)).collect();
    let handled: Vec<Option<&str>> = ends.iter().map(|end| end.handled.as_deref()).collect();
    let holders: Vec<&str> = ends.iter().map(|end| end.holder.as_str()).collect();
    let releases: Vec<bool> = ends.iter().map(|end| end.release).collect();
    let prefs: Vec<Option<&str>> = ends.iter().map(|end| end.prefs.as_deref().map(as_text)).collect();
    let held: Result<Vec<String>, sqlx::Error> = sqlx::query_scalar(
        "WITH given AS (
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[],
                                  $7::text[], $8::timestamptz[], $9::text[])
                 AS g(chat, state, handled, holder, release, prefs, item, at, act)
         ), released AS (
             DELETE FROM chat_locks l USING given g
             WHERE l.chat = g.chat AND l.holder = g.holder AND g.release RETURNING l.chat
         ), kept AS (
             UPDATE chat_locks l SET until = now() + $10::interval FROM given g
             WHERE l.chat = g.chat AND l.holder = g.holder AND NOT g.release RETURNING l.chat
         ), lease AS (
             SELECT chat FROM released UNION ALL SELECT chat FROM kept
         ), held AS (
             SELECT g.* FROM given g JOIN lease USING (chat)
         ), state AS (
             INSERT INTO dialogue (chat, data) SELECT chat, state::jsonb FROM held
             ON CONFLICT (chat) DO UPDATE SET data = EXCLUDED.data
             WHERE dialogue.data IS DISTINCT FROM EXCLUDED.data
         ), handled AS (
             DELETE FROM inbox WHERE id IN (SELECT handled FROM held WHERE handled IS NOT NULL)
         ), new_prefs AS (
             INSERT INTO prefs (chat, data) SELECT chat, prefs::jsonb FROM held WHERE prefs IS NOT NULL
             ON CONFLICT (chat) DO UPDATE SET data = EXCLUDED.data
             WHERE prefs.data IS DISTINCT FROM EXCLUDED.data
         ), new_item AS (
             INSERT INTO activity (chat, item, at, data)
             SELECT chat, item, at, act::jsonb FROM held WHERE item IS NOT NULL
             ON CONFLICT (chat, item) DO UPDATE SET at = EXCLUDED.at, data = EXCLUDED.data
         ), trimmed AS (
             DELETE FROM activity a USING held h
             WHERE h.item IS NOT NULL AND a.chat = h.chat AND a.item <> h.item
             AND a.item NOT IN (SELECT b.item FROM activity b WHERE b.chat = h.chat AND b.item <> h.item
                                ORDER BY b.at DESC, b.item LIMIT $11)
         )
         SELECT chat FROM lease",
    )
    .bind(&chats)
    .bind(&states)
    .bind(&handled)
    .bind(&holders)
    .bind(&releases)
    .bind(&prefs)
    .bind(&items)
    .bind(&ats)
    .bind(&data)
    .bind(format!("{} milliseconds", LEASE.as_millis()))
    .bind(ACTIVITY_LIMIT.saturating_sub(1) as i64)
    .fetch_all(pool)
    .await;
    let held: std::collections::HashSet<String> = match held {
        Ok(held) => held.into_iter().collect(),
        // The server refused the statement: nothing was written.
        Err(e @ sqlx::Error::Database(_)) => {
            tracing::warn!(steps = group.len(), error = %e, "a group of step ends written one by one");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    Ok(Some(
        ends.iter()
            .map(|end| match held.contains(&end.chat) {
                true => Ok(()),
                false => Err(StoreError::LeaseLost(end.chat.clone())),
            })
            .collect(),
    ))
}

/// Puts notices in the outbox, in the caller's transaction; one whose id is known already is not
/// recorded again.
async fn record_outgoing(conn: &mut PgConnection, tell: &[Outgoing]) -> Result<(), StoreError> {
    for outgoing in tell {
        sqlx::query(TELL)
            .bind(&outgoing.id)
            .bind(text(encode(outgoing)?))
            .bind(outgoing.next_at)
            .bind(outgoing.chat.storage_key())
            .bind(&outgoing.claimed_by)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Writes a record (encoded) of a [`Keyed`] table that is not [`Scheduled`], over the one with
/// the same key.
async fn upsert(conn: &mut PgConnection, keyed: &Keyed, key: &str, data: Vec<u8>) -> Result<(), StoreError> {
    sqlx::query(keyed.upsert).bind(key).bind(text(data)).execute(&mut *conn).await?;
    Ok(())
}

/// [`Op::Activity`]: the item at the top of the chat's activity, and the oldest beyond
/// [`ACTIVITY_LIMIT`] dropped.
async fn add_activity(conn: &mut PgConnection, chat: &ChatKey, activity: Activity) -> Result<(), StoreError> {
    let chat = chat.storage_key();
    sqlx::query(UPSERT_ACTIVITY)
        .bind(&chat)
        .bind(activity.item.id())
        .bind(activity.at)
        .bind(text(encode(&activity)?))
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "DELETE FROM activity WHERE chat = $1 AND item NOT IN
         (SELECT item FROM activity WHERE chat = $1 ORDER BY at DESC, item LIMIT $2)",
    )
    .bind(&chat)
    .bind(ACTIVITY_LIMIT as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn delete_reference(
    conn: &mut PgConnection,
    chat: &ChatKey,
    reference: &CustomerReference,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM saved WHERE chat = $1 AND key = $2")
        .bind(chat.storage_key())
        .bind(reference_key(reference))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// [`Op::Ticket`]: the ticket and the notices it yields, in the caller's transaction.
async fn write_ticket(conn: &mut PgConnection, ticket: &Ticket, tell: &[Outgoing]) -> Result<(), StoreError> {
    sqlx::query(UPSERT_TICKET)
        .bind(&ticket.id)
        .bind(ticket.chat.storage_key())
        .bind(ticket.opened_at)
        .bind(text(encode(ticket)?))
        .execute(&mut *conn)
        .await?;
    record_outgoing(conn, tell).await
}

async fn inbox_done(conn: &mut PgConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM inbox WHERE id = $1").bind(id).execute(&mut *conn).await?;
    Ok(())
}

/// [`Op::Hold`]: the notice kept, and the oldest beyond [`HELD_LIMIT`] dropped.
async fn hold(
    conn: &mut PgConnection,
    chat: &str,
    notice: Vec<u8>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(INSERT_HELD).bind(chat).bind(at).bind(text(notice)).execute(&mut *conn).await?;
    sqlx::query(
        "DELETE FROM held WHERE chat = $1 AND id NOT IN
         (SELECT id FROM held WHERE chat = $1 ORDER BY at DESC, id DESC LIMIT $2)",
    )
    .bind(chat)
    .bind(HELD_LIMIT as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn drop_held(conn: &mut PgConnection, ids: Vec<HeldId>) -> Result<(), StoreError> {
    let ids: Vec<i64> = ids
        .into_iter()
        .filter_map(|HeldId(bytes)| <[u8; 8]>::try_from(bytes.as_slice()).ok().map(i64::from_be_bytes))
        .collect();
    sqlx::query("DELETE FROM held WHERE id = ANY($1)").bind(ids).execute(&mut *conn).await?;
    Ok(())
}

/// What [`Op::ForgetChat`] erases, `$1` being the chat: the chat's own rows, its notices (their
/// ids start with it), and its place among orders' owners and watches' watchers (a watch with
/// nobody left to tell ends; an order left with no owner stays claimed: see
/// [`OrderRecord::claimed`]). Every statement finds its rows by an index (migration 0010 adds
/// those of owners, watchers, aliases and notices), never by reading every row.
const FORGET_CHAT: [&str; 13] = [
    "DELETE FROM dialogue WHERE chat = $1",
    "DELETE FROM web_log WHERE chat = $1",
    "DELETE FROM prefs WHERE chat = $1",
    "DELETE FROM activity WHERE chat = $1",
    "DELETE FROM saved WHERE chat = $1",
    "DELETE FROM held WHERE chat = $1",
    "DELETE FROM aliases WHERE alias = $1 OR chat = $1",
    // The ids from `chat|` up to `chat}` ('}' follows '|'), byte by byte: a range of an index.
    "DELETE FROM outbox WHERE id COLLATE \"C\" >= $1 || '|' AND id COLLATE \"C\" < $1 || '}'",
    "DELETE FROM reminders WHERE chat = $1",
    "DELETE FROM tickets WHERE chat = $1",
    "UPDATE orders SET data = jsonb_set(jsonb_set(data, '{data,owners}', (data->'data'->'owners') - $1),
         '{data,claimed}', 'true'::jsonb)
     WHERE data->'data'->'owners' ? $1",
    "DELETE FROM watches
     WHERE data->'data'->'watchers' @> jsonb_build_array(jsonb_build_object('chat', $1::text))
     AND jsonb_array_length(data->'data'->'watchers') = 1",
    "UPDATE watches SET data = jsonb_set(data, '{data,watchers}', COALESCE(
         (SELECT jsonb_agg(w) FROM jsonb_array_elements(data->'data'->'watchers') w
          WHERE w->>'chat' <> $1), '[]'::jsonb))
     WHERE data->'data'->'watchers' @> jsonb_build_array(jsonb_build_object('chat', $1::text))",
];

/// The rows shared among chats that name `$1`, as (kind, key): what [`FORGET_CHAT`] changes
/// besides the chat's own rows.
const OWNED: &str = "SELECT 'o', order_no FROM orders WHERE data->'data'->'owners' ? $1
     UNION ALL SELECT 'w', order_no FROM watches
         WHERE data->'data'->'watchers' @> jsonb_build_array(jsonb_build_object('chat', $1::text))
     UNION ALL SELECT 't', id FROM tickets WHERE chat = $1
     UNION ALL SELECT 'a', alias FROM aliases WHERE chat = $1";

async fn forget_chat(conn: &mut PgConnection, chat: &str) -> Result<(), StoreError> {
    for statement in FORGET_CHAT {
        sqlx::query(statement).bind(chat).execute(&mut *conn).await?;
    }
    Ok(())
}

/// [`Op::Unlock`]: fails if the lease was not `holder`'s any more.
async fn unlock(conn: &mut PgConnection, chat: &str, holder: &str) -> Result<(), StoreError> {
    let ended = sqlx::query(
        "WITH ended AS (DELETE FROM chat_locks WHERE chat = $1 AND holder = $2 RETURNING chat)
         SELECT pg_notify('billbot_chat_free', chat) FROM ended",
    )
    .bind(chat)
    .bind(holder)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if ended != 1 {
        // Another instance may have taken the chat: this step's writes must not land.
        return Err(StoreError::LeaseLost(chat.to_owned()));
    }
    Ok(())
}

// The statements of `load` alone: copies that must not disturb what is there.

/// `$1` chat, `$2` held at, `$3` notice: once (loading twice keeps one).
const LOAD_HELD: &str = "INSERT INTO held (chat, at, data) SELECT $1, $2, $3::jsonb
     WHERE NOT EXISTS (SELECT 1 FROM held WHERE chat = $1 AND at = $2 AND data = $3::jsonb)";
/// `$1` inbound message id, `$2` when it was received.
const LOAD_SEEN: &str = "INSERT INTO seen (id, at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING";
/// `$1` id, `$2` notice, `$3` due, `$4` done: over the one with the same id (its chat and the
/// sender claiming it are read from the notice).
const LOAD_OUTGOING: &str = "INSERT INTO outbox (id, data, next_at, done_at, chat, claimed_by)
     VALUES ($1, $2::jsonb, $3, $4, $2::jsonb->'data'->>'chat', $2::jsonb->'data'->>'claimed_by')
     ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, next_at = EXCLUDED.next_at,
         done_at = EXCLUDED.done_at, chat = EXCLUDED.chat, claimed_by = EXCLUDED.claimed_by";
/// `$1` id, `$2` message, `$3` chat, `$4` order, `$5` received (now, when not known): over the
/// one with the same id; `arrival` numbers it as it is written, keeping the order of the copy.
const LOAD_INBOX: &str = "INSERT INTO inbox (id, data, chat, seq, received_at)
     VALUES ($1, $2::jsonb, $3, $4, COALESCE($5, now()))
     ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, chat = EXCLUDED.chat,
         seq = EXCLUDED.seq, received_at = EXCLUDED.received_at";

/// The statement that writes a copied record (see [`PgStore::load`]).
fn loading(record: &Dumped) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let json = |data: &[u8]| String::from_utf8_lossy(data).into_owned();
    match record {
        Dumped::Dialogue { chat, data } => sqlx::query(UPSERT_DIALOGUE).bind(chat).bind(json(data)),
        Dumped::Prefs { chat, data } => sqlx::query(UPSERT_PREFS).bind(chat).bind(json(data)),
        Dumped::Order { order_no, data } => sqlx::query(UPSERT_ORDER).bind(order_no).bind(json(data)),
        Dumped::Activity { chat, item, at, data } => {
            sqlx::query(UPSERT_ACTIVITY).bind(chat).bind(item).bind(at).bind(json(data))
        }
        Dumped::Saved { chat, key, saved_at, data } => {
            sqlx::query(UPSERT_SAVED).bind(chat).bind(key).bind(saved_at).bind(json(data))
        }
        Dumped::Watch { order_no, next_check_at, data } => {
            sqlx::query(UPSERT_WATCH).bind(order_no).bind(json(data)).bind(next_check_at)
        }
        Dumped::Held { chat, at, data } => sqlx::query(LOAD_HELD).bind(chat).bind(at).bind(json(data)),
        Dumped::Alias { alias, chat } => sqlx::query(UPSERT_ALIAS).bind(alias).bind(chat),
        Dumped::Seen { id, at } => sqlx::query(LOAD_SEEN).bind(id).bind(at),
        Dumped::Outgoing { id, next_at, done_at, data } => {
            sqlx::query(LOAD_OUTGOING).bind(id).bind(json(data)).bind(next_at).bind(done_at)
        }
        Dumped::Reminder { chat, key, next_at, data } => {
            sqlx::query(UPSERT_REMINDER).bind(chat).bind(key).bind(next_at).bind(json(data))
        }
        Dumped::Ticket { id, chat, opened_at, data } => {
            sqlx::query(UPSERT_TICKET).bind(id).bind(chat).bind(opened_at).bind(json(data))
        }
        Dumped::WebLine { chat, seq, at, data } => sqlx::query(
            "INSERT INTO web_log (chat, seq, at, data) VALUES ($1, $2, $3, $4::jsonb)
             ON CONFLICT (chat, seq) DO UPDATE SET at = EXCLUDED.at, data = EXCLUDED.data",
        )
        .bind(chat)
        .bind(seq)
        .bind(at)
        .bind(json(data)),
        Dumped::WebSeq { chat, last, at } => sqlx::query(
            "INSERT INTO web_seq (chat, last, at) VALUES ($1, $2, $3)
             ON CONFLICT (chat) DO UPDATE SET last = GREATEST(web_seq.last, EXCLUDED.last), at = EXCLUDED.at",
        )
        .bind(chat)
        .bind(last)
        .bind(at),
        Dumped::SweptOwned { order_no, at } => sqlx::query(
            "INSERT INTO swept_owned (order_no, swept_at) VALUES ($1, $2)
             ON CONFLICT (order_no) DO UPDATE SET swept_at = EXCLUDED.swept_at",
        )
        .bind(order_no)
        .bind(at),
        Dumped::Inbox { id, data, chat, order, received_at } => {
            sqlx::query(LOAD_INBOX).bind(id).bind(json(data)).bind(chat).bind(order).bind(received_at)
        }
    }
}

/// Records whose table carries their next check (watches), so that the schedule is a query.
trait Scheduled {
    const SCHEDULED: bool = false;
    fn due(&self) -> DateTime<Utc> {
        DateTime::<Utc>::MIN_UTC
    }
}

impl Scheduled for Watch {
    const SCHEDULED: bool = true;
    fn due(&self) -> DateTime<Utc> {
        self.next_check_at
    }
}

impl Scheduled for OrderRecord {}
impl Scheduled for Prefs {}
