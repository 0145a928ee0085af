//! Everything billbot must find again: the storage port, with one backend per file.
//!
//! - [`sled`](self::sled): an embedded database in `BILLBOT_DATA_DIR`, the default (the demo, one
//!   machine). Its layout is documented at the top of its file.
//! - [`postgres`](self::postgres): PostgreSQL at `BILLBOT_DATABASE_URL`, shared by several
//!   instances. Its tables are in `store/migrations/`.
//!
//! Neither backend uses the other: the records they keep, and the rules both apply to them (an
//! order seen again, a reference saved again, a sender's report on a notice), are in
//! `store/records.rs`.
//!
//! Reads return what is committed. Writes are [`Op`]s gathered in a [`Batch`] and committed
//! together by [`Store::commit`]: a conversation step's writes (its state, the chat's activity,
//! an order, a watch, an inbound message marked handled) go out as one, and the reply is sent only
//! after the commit returns. A read-modify-write of a shared record (an order seen by a chat and
//! by the tracker at once, a watch) is an op the backend applies atomically, so concurrent writers
//! never lose each other's change.
//!
//! Every record is versioned JSON `{"v": 1, "data": …}`; one that does not decode, or carries
//! another version, is reported (logged, counted) and read as absent: a bad record resets that one
//! thing and never stops the bot.

pub mod postgres;
mod records;
pub mod sled;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use records::{
    Activity, ActivityItem, MAX_FAILED_PROOFS, MAX_FAILED_PROOFS_PER_ORDER, MAX_OWNERS, OrderRecord,
    Outgoing, OutgoingChange, Prefs, Reminder, ReminderStage, SavedReference, StatusChange,
    TICKET_IDLE_HOURS, Ticket, Watch, Watcher, WrongProof,
};

use crate::domain::limits::LookupKind;
use crate::domain::{ChatKey, CustomerReference, Order, OrderNo};
use crate::i18n::Lang;

/// The schema this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// How many items a chat's activity keeps; older ones are dropped.
pub const ACTIVITY_LIMIT: usize = 50;

/// Notices kept for one chat at most; older ones give way (the newest news matters most).
pub const HELD_LIMIT: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database could not be used: {0}")]
    Sled(#[from] ::sled::Error),
    #[error("the database at {path} has schema version {found}, this billbot reads version {SCHEMA_VERSION}")]
    ForeignSchema { path: String, found: String },
    #[error("a record could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("the PostgreSQL schema could not be brought up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the {table} record {key} kept changing under this write")]
    Contended { table: String, key: String },
    #[error("{0} is not supported")]
    Unsupported(&'static str),
    #[error("chat {0} is busy on another instance")]
    ChatBusy(String),
    #[error("the lease on chat {0} ran out during the step: its writes are dropped")]
    LeaseLost(String),
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope<T> {
    v: u32,
    data: T,
}

/// A record as stored: in its envelope, with this build's schema version. A NUL character in
/// its text (a message, a name as the provider sent it) is stored as U+FFFD, by both backends:
/// PostgreSQL's `jsonb` refuses it, and a record that cannot be written would lose a message.
fn encode<T: Serialize>(data: &T) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(&Envelope { v: SCHEMA_VERSION, data })?;
    Ok(without_nul(json))
}

/// `json` with every `\u0000` escape (a NUL in a string: JSON text has no other way to hold one)
/// made `\ufffd`. An escaped backslash followed by `u0000` is text, and is left alone.
fn without_nul(json: Vec<u8>) -> Vec<u8> {
    const NUL: &[u8] = b"\\u0000";
    if !json.windows(NUL.len()).any(|w| w == NUL) {
        return json;
    }
    let mut out = Vec::with_capacity(json.len());
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json[i..].starts_with(NUL) {
                out.extend_from_slice(b"\\ufffd");
                i += NUL.len();
            } else {
                // An escape of two characters at least: `\\` or `\"` must not start another.
                out.extend_from_slice(&json[i..(i + 2).min(json.len())]);
                i += 2;
            }
        } else {
            out.push(json[i]);
            i += 1;
        }
    }
    out
}

/// A stored record, or why it cannot be read.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match serde_json::from_slice::<Envelope<T>>(bytes) {
        Ok(Envelope { v: SCHEMA_VERSION, data }) => Ok(data),
        Ok(Envelope { v, .. }) => Err(format!("record version {v}")),
        Err(e) => Err(e.to_string()),
    }
}

/// A change to a watch, applied atomically: given the stored watch (if any), the new one (`None`
/// ends the watch). It may run more than once (sled retries when another writer got in first), so
/// it must start afresh from its argument each time.
pub type WatchUpdate = Box<dyn FnMut(Option<Watch>) -> Option<Watch> + Send>;

/// A change to a watch that tells its watchers something: given the stored watch, the new one
/// and the notices to record in the outbox, in the same write (each only if its id is new). Like
/// [`WatchUpdate`], it may run more than once.
pub type TellingUpdate = Box<dyn FnMut(Option<Watch>) -> (Option<Watch>, Vec<Outgoing>) + Send>;

/// A change to a reminder, like [`TellingUpdate`]: given the stored one, the new one (`None`
/// removes it) and the notices to record in the outbox, in the same write.
pub type ReminderUpdate = Box<dyn FnMut(Option<Reminder>) -> (Option<Reminder>, Vec<Outgoing>) + Send>;

/// Reminders one chat may keep at once.
pub const MAX_REMINDERS: usize = 10;

/// One write.
pub enum Op {
    /// The chat's dialogue state (already encoded: see [`Op::dialogue`]).
    Dialogue {
        chat: ChatKey,
        state: Vec<u8>,
    },
    Prefs {
        chat: ChatKey,
        prefs: Prefs,
    },
    /// The language the chat chose (a read-modify-write of its prefs).
    Lang {
        chat: ChatKey,
        lang: Lang,
    },
    /// A lookup of the chat's made outside its steps (the reminder job's), counted toward its
    /// limits (a read-modify-write of its prefs: see [`Lookups::count`](crate::domain::limits::Lookups::count)).
    CountLookup {
        chat: ChatKey,
        kind: LookupKind,
        at: DateTime<Utc>,
    },
    /// What the provider said of an order: added to its history when the status changed. The
    /// `claimant` becomes the order's owner if it has none (see [`OrderRecord::owners`]).
    RecordOrder {
        order_no: OrderNo,
        order: Box<Order>,
        at: DateTime<Utc>,
        claimant: Option<ChatKey>,
    },
    /// `chat` proved it may see the order (nothing happens to an order never recorded).
    OwnOrder {
        order_no: OrderNo,
        chat: ChatKey,
    },
    /// Wrong digits were given by `chat` as proof of owning the order.
    FailedProof {
        order_no: OrderNo,
        chat: ChatKey,
        at: DateTime<Utc>,
    },
    /// The order had owners before the retention sweep removed it (see [`Store::swept_owned`]):
    /// its record, seen again, is closed to a first claimant, and the sweep's mark is dropped.
    CloseOrder {
        order_no: OrderNo,
    },
    /// Puts an item at the top of the chat's activity (once: a repeat moves it up).
    Activity {
        chat: ChatKey,
        item: ActivityItem,
        at: DateTime<Utc>,
    },
    /// Saves a reference with an optional nickname (saving it again renames it).
    SaveReference {
        chat: ChatKey,
        reference: CustomerReference,
        nickname: Option<String>,
        at: DateTime<Utc>,
    },
    DeleteReference {
        chat: ChatKey,
        reference: CustomerReference,
    },
    /// A change to the watch of an order, and its place in the schedule.
    Watch {
        order_no: OrderNo,
        update: WatchUpdate,
    },
    /// [`Op::Watch`], recording the notices it yields in the outbox in the same write.
    WatchAndTell {
        order_no: OrderNo,
        update: TellingUpdate,
    },
    /// Writes a ticket (changed, or new), with the notices it yields in the outbox, in one write,
    /// over any ticket with the same id: a ticket is opened with [`Store::open_ticket`], which
    /// never is. The chat's open ticket is the last one written open.
    Ticket {
        ticket: Ticket,
        tell: Vec<Outgoing>,
    },
    /// Sets a reminder (replacing the chat's reminder of the same reference).
    Remind {
        reminder: Reminder,
    },
    /// Removes the chat's reminder of `reference`, if there is one.
    CancelReminder {
        chat: ChatKey,
        reference: CustomerReference,
    },
    /// A change to the chat's reminder of `reference` that may tell the chat something, in one
    /// write (see [`ReminderUpdate`]).
    ReminderStep {
        chat: ChatKey,
        reference: CustomerReference,
        update: ReminderUpdate,
    },
    /// An outgoing notice was delivered, or failed (nothing happens to one that is done). With a
    /// `holder`, only if that sender's claim on it stands (see [`Store::claim_outgoing_for`]): a
    /// sender whose claim ran out and was taken over changes nothing. The claim ends with it.
    Outgoing {
        id: String,
        change: OutgoingChange,
        holder: Option<String>,
    },
    /// The inbound message with this id has been handled (it leaves its chat's queue too).
    InboxDone {
        id: String,
    },
    /// Keeps a notice (already encoded) for the chat's next message.
    Hold {
        chat: ChatKey,
        notice: Vec<u8>,
        at: DateTime<Utc>,
    },
    /// Forgets notices given to the chat.
    DropHeld {
        chat: ChatKey,
        ids: Vec<HeldId>,
    },
    /// Makes `alias` stand for `chat`.
    Alias {
        alias: ChatKey,
        chat: ChatKey,
    },
    /// Erases everything kept about the chat (`/forget`): its state, prefs, lookups, saved
    /// references, held and outgoing notices, aliases, its place among an order's watchers and
    /// owners. The orders themselves stay (they are the provider's, and other chats'); a step
    /// that erases still ends with its own (fresh) state.
    ForgetChat {
        chat: ChatKey,
    },
    /// Ends the chat's lease (see [`Store::lock_chat`]); the commit fails if it was lost.
    Unlock {
        chat: ChatKey,
        holder: String,
    },
    /// What every step ends with, in one write: the chat's new state (encoded), the inbound
    /// message it handled, and its lease checked (the commit fails, and writes nothing, if the
    /// lease was lost). With `release`, the lease ends with the write; without, it is kept (and
    /// runs for a whole [`LEASE`] again), so that the step's replies are delivered before the
    /// chat's next message is taken up anywhere, and [`Store::unlock`] ends it then.
    EndStep {
        chat: ChatKey,
        state: Vec<u8>,
        handled: Option<String>,
        holder: String,
        release: bool,
    },
}

impl Op {
    /// Whether the op may record notices in the outbox.
    fn may_tell(&self) -> bool {
        matches!(self, Op::WatchAndTell { .. } | Op::Ticket { .. } | Op::ReminderStep { .. })
    }

    pub fn dialogue<T: Serialize>(chat: &ChatKey, state: &T) -> Result<Op, StoreError> {
        Ok(Op::Dialogue { chat: chat.clone(), state: encode(state)? })
    }

    pub fn hold<T: Serialize>(chat: &ChatKey, notice: &T, at: DateTime<Utc>) -> Result<Op, StoreError> {
        Ok(Op::Hold { chat: chat.clone(), notice: encode(notice)?, at })
    }
}

/// Writes committed together.
#[derive(Default)]
pub struct Batch {
    ops: Vec<Op>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl From<Op> for Batch {
    fn from(op: Op) -> Batch {
        Batch { ops: vec![op] }
    }
}

/// How long a chat's lease lasts unless renewed. A step renews it every third of this while it
/// runs, so a crashed instance holds a chat this long at most.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(6);
/// How long a step waits for another instance's lease on its chat before giving up (longer than
/// [`LEASE`]: a crashed holder's lease runs out first).
pub const LEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// One instance's hold on a chat for one step (see [`Store::lock_chat`]). Its renewal stops when
/// it is dropped; [`ChatLease::release`] is the op that ends it with the step's commit.
pub struct ChatLease {
    chat: ChatKey,
    holder: String,
    renewal: Option<tokio::task::JoinHandle<()>>,
}

impl ChatLease {
    /// The op that ends the lease, for a step that stored nothing.
    pub fn release(&self) -> Op {
        Op::Unlock { chat: self.chat.clone(), holder: self.holder.clone() }
    }

    /// The op that ends a step: its new `state`, the inbound message it `handled`, the lease.
    pub fn end_step<T: Serialize>(&self, state: &T, handled: Option<String>) -> Result<Op, StoreError> {
        self.step_end(state, handled, true)
    }

    /// [`ChatLease::end_step`] that keeps the lease: the step's writes land, and the chat stays
    /// this instance's while the replies go out (which must come before the chat's next step, on
    /// any instance). [`Store::unlock`] ends it.
    pub fn end_step_keeping<T: Serialize>(
        &self,
        state: &T,
        handled: Option<String>,
    ) -> Result<Op, StoreError> {
        self.step_end(state, handled, false)
    }

    fn step_end<T: Serialize>(
        &self,
        state: &T,
        handled: Option<String>,
        release: bool,
    ) -> Result<Op, StoreError> {
        Ok(Op::EndStep {
            chat: self.chat.clone(),
            state: encode(state)?,
            handled,
            holder: self.holder.clone(),
            release,
        })
    }

    /// The chat this lease holds.
    pub fn chat(&self) -> &ChatKey {
        &self.chat
    }
}

/// What a step starts from, and the message it is for, with its id (the backends' reads).
type TurnNext<T, M> = (TurnStart<T>, Option<(String, M)>);

/// What a step starts from, read once its chat is taken.
#[derive(Debug)]
pub struct TurnStart<T> {
    pub prefs: Prefs,
    pub dialogue: Option<T>,
    /// Notices are held for the chat.
    pub has_held: bool,
    /// The inbound message the step is for is still waiting to be handled (always, for none).
    pub pending: bool,
}

impl Drop for ChatLease {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
    }
}

/// This process's name among instances: the host and a random part, for leases and logs.
pub fn instance_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        format!("{host}-{nanos:08x}")
    })
}

/// The right to do a job no other instance does at the same time (see [`Store::exclusive`]).
pub struct Exclusive {
    _connection: Option<sqlx::PgConnection>,
}

/// One record as a backend keeps it, for copying a store into another (`billbot migrate-store`):
/// the record's versioned JSON as stored, and the keys and times the tables index it by. An
/// unhandled message taken in by [`Store::inbox_take`] has its `chat`, its `order` (the
/// channel's) and when it was received, so that it keeps its place in the chat's queue; one kept
/// by a billbot older than the chats' queues has no chat (and order 0). Messages come in the
/// order they are to be handled.
#[derive(Debug, Clone)]
pub enum Dumped {
    Dialogue { chat: String, data: Vec<u8> },
    Prefs { chat: String, data: Vec<u8> },
    Order { order_no: String, data: Vec<u8> },
    Activity { chat: String, item: String, at: DateTime<Utc>, data: Vec<u8> },
    Saved { chat: String, key: String, saved_at: DateTime<Utc>, data: Vec<u8> },
    Watch { order_no: String, next_check_at: DateTime<Utc>, data: Vec<u8> },
    Held { chat: String, at: DateTime<Utc>, data: Vec<u8> },
    Alias { alias: String, chat: String },
    Seen { id: String, at: DateTime<Utc> },
    Inbox { id: String, data: Vec<u8>, chat: Option<String>, order: i64, received_at: Option<DateTime<Utc>> },
    Outgoing { id: String, next_at: Option<DateTime<Utc>>, done_at: Option<DateTime<Utc>>, data: Vec<u8> },
    Reminder { chat: String, key: String, next_at: DateTime<Utc>, data: Vec<u8> },
    Ticket { id: String, chat: String, opened_at: DateTime<Utc>, data: Vec<u8> },
    SweptOwned { order_no: String, at: DateTime<Utc> },
    WebLine { chat: String, seq: i64, at: DateTime<Utc>, data: Vec<u8> },
    WebSeq { chat: String, last: i64, at: DateTime<Utc> },
}

impl Dumped {
    /// The kind of record (a stable key), as the migration counts them.
    pub fn kind(&self) -> &'static str {
        match self {
            Dumped::Dialogue { .. } => "dialogue",
            Dumped::Prefs { .. } => "prefs",
            Dumped::Order { .. } => "order",
            Dumped::Activity { .. } => "activity",
            Dumped::Saved { .. } => "saved",
            Dumped::Watch { .. } => "watch",
            Dumped::Held { .. } => "held",
            Dumped::Alias { .. } => "alias",
            Dumped::Seen { .. } => "seen",
            Dumped::Inbox { .. } => "inbox",
            Dumped::Outgoing { .. } => "outgoing",
            Dumped::Reminder { .. } => "reminder",
            Dumped::Ticket { .. } => "ticket",
            Dumped::SweptOwned { .. } => "swept_owned",
            Dumped::WebLine { .. } => "web_line",
            Dumped::WebSeq { .. } => "web_seq",
        }
    }
}

/// A record shared among chats that names a chat: what `/forget` visits besides the chat's own
/// records (see [`Store::owned`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owned {
    /// An order the chat owns.
    Order(OrderNo),
    /// A watch of the order the chat waits on.
    Watch(OrderNo),
    /// A support ticket of the chat's, by id.
    Ticket(String),
    /// An alias that stands for the chat.
    Alias(ChatKey),
}

/// What a retention sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub orders: usize,
    pub activity: usize,
    pub dialogues: usize,
    /// Support tickets whose last message is as old as the orders kept.
    pub tickets: usize,
    /// Lines of web conversations as old as idle dialogues.
    pub web_lines: usize,
}

/// The newest lines of a web chat's conversation that are kept (older ones are dropped as new
/// ones come).
pub const WEB_LOG_KEPT: usize = 200;

/// A line of a web chat's conversation as stored: its number, when it was written, and what it
/// shows. Numbers increase within a chat, also across `/forget` (the chat's last number is kept
/// apart from its lines until retention sweeps it), so a page that resumes after its last number
/// never misses one or sees one twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebLine<T> {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub line: T,
}

/// The numbers of `count` lines written at `at` after the chat's `last`: each one more than the
/// one before, and the first at least the time in microseconds, so that a chat whose last number
/// was swept still starts above what an old page may hold. (Microseconds since the epoch stay
/// below 2^53, so a page's JavaScript reads them exactly.)
pub fn web_log_numbers(last: Option<i64>, at: DateTime<Utc>, count: usize) -> Vec<i64> {
    let first = last.map_or(i64::MIN, |l| l.saturating_add(1)).max(at.timestamp_micros());
    (0..count as i64).map(|i| first.saturating_add(i)).collect()
}

/// Which held notice: opaque, from [`Store::held`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldId(Vec<u8>);

/// The store: one backend. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    /// Woken after a commit that may have put notices in the outbox: this instance's sender
    /// sends them at once rather than at its next look.
    outbox_written: std::sync::Arc<tokio::sync::Notify>,
}

/// The backend behind a [`Store`]. Every PostgreSQL call is boxed (`Box::pin(p.…)`): sqlx's
/// futures are kilobytes, and unboxed they would size every store call's future, on sled too,
/// and so every turn's (docs/performance.md, "Memory a chat").
#[derive(Clone, Debug)]
enum Backend {
    Sled(sled::SledStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens (or creates) the sled database in `dir`. A database written by another schema
    /// version is refused rather than misread.
    pub fn open(dir: &std::path::Path) -> Result<Store, StoreError> {
        Ok(Store::of(Backend::Sled(sled::SledStore::open(dir)?)))
    }

    /// Connects to PostgreSQL and brings its schema up to date.
    pub async fn connect(url: &str, settings: &postgres::PgSettings) -> Result<Store, StoreError> {
        Ok(Store::of(Backend::Postgres(postgres::PgStore::connect(url, settings).await?)))
    }

    /// [`Store::connect`] with options made by the caller (tests: a schema of their own).
    pub async fn connect_with(
        options: sqlx::postgres::PgConnectOptions,
        settings: &postgres::PgSettings,
    ) -> Result<Store, StoreError> {
        Ok(Store::of(Backend::Postgres(postgres::PgStore::connect_with(options, settings).await?)))
    }

    /// The PostgreSQL backend, when it is the one.
    pub fn postgres(&self) -> Option<&postgres::PgStore> {
        match &self.backend {
            Backend::Postgres(p) => Some(p),
            Backend::Sled(_) => None,
        }
    }

    /// Applies `batch`, durably, before returning.
    pub async fn commit(&self, batch: impl Into<Batch>) -> Result<(), StoreError> {
        let batch = batch.into();
        let tells = batch.ops.iter().any(Op::may_tell);
        let started = std::time::Instant::now();
        let (backend, result) = match &self.backend {
            Backend::Sled(s) => ("sled", s.commit(batch).await),
            Backend::Postgres(p) => ("postgres", Box::pin(p.commit(batch)).await),
        };
        metrics::histogram!("billbot_store_commit_seconds", "backend" => backend)
            .record(started.elapsed().as_secs_f64());
        if tells && result.is_ok() {
            self.outbox_written.notify_one();
        }
        result
    }

    /// Completes after a commit that may have put notices in the outbox (one waiter is woken;
    /// a commit with nobody waiting leaves a wake-up for the next).
    pub fn outbox_written(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.outbox_written.clone()
    }

    fn of(backend: Backend) -> Store {
        Store { backend, outbox_written: Default::default() }
    }

    /// Copies the store into a new sled database in `target` (sled only: PostgreSQL has its own
    /// backups, `pg_dump`).
    pub fn backup(&self, target: &std::path::Path) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.backup(target),
            Backend::Postgres(_) => Err(StoreError::Unsupported("backing up PostgreSQL (use pg_dump)")),
        }
    }

    /// Every record, as stored (sled only: the source of `billbot migrate-store`).
    pub fn dump(&self) -> Result<Vec<Dumped>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.dump(),
            Backend::Postgres(_) => Err(StoreError::Unsupported("reading a whole PostgreSQL store")),
        }
    }

    /// Writes records copied from another store, replacing any with the same key: loading the
    /// same records twice leaves one copy (PostgreSQL only: the target of `migrate-store`).
    pub async fn load(&self, records: &[Dumped]) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(p) => Box::pin(p.load(records)).await,
            Backend::Sled(_) => Err(StoreError::Unsupported("loading into sled")),
        }
    }

    /// Whether the store answers (for readiness checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(_) => Ok(()),
            Backend::Postgres(p) => Box::pin(p.ping()).await,
        }
    }

    /// How many unreadable records were skipped since opening.
    pub fn skipped_records(&self) -> u64 {
        match &self.backend {
            Backend::Sled(s) => s.skipped_records(),
            Backend::Postgres(p) => p.skipped_records(),
        }
    }

    /// The key that signs button payloads, shared by every instance on this store: `candidate`
    /// (random bytes) if none is kept yet, else the one kept. Made once, kept for good.
    pub async fn payload_key(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.payload_key(candidate),
            Backend::Postgres(p) => Box::pin(p.payload_key(candidate)).await,
        }
    }

    /// The chat's dialogue state, if one is stored and readable.
    pub async fn dialogue<T: DeserializeOwned>(&self, chat: &ChatKey) -> Result<Option<T>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.dialogue(chat),
            Backend::Postgres(p) => Box::pin(p.dialogue(chat)).await,
        }
    }

    pub async fn prefs(&self, chat: &ChatKey) -> Result<Prefs, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.prefs(chat),
            Backend::Postgres(p) => Box::pin(p.prefs(chat)).await,
        }
    }

    pub async fn order(&self, order: &OrderNo) -> Result<Option<OrderRecord>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.order(order),
            Backend::Postgres(p) => Box::pin(p.order(order)).await,
        }
    }

    /// The chat's activity, newest first.
    pub async fn activity(&self, chat: &ChatKey) -> Result<Vec<Activity>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.activity(chat),
            Backend::Postgres(p) => Box::pin(p.activity(chat)).await,
        }
    }

    /// The chat's saved references, oldest first (the order they were saved in).
    pub async fn saved_references(&self, chat: &ChatKey) -> Result<Vec<SavedReference>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.saved_references(chat),
            Backend::Postgres(p) => Box::pin(p.saved_references(chat)).await,
        }
    }

    /// Whether the order had owners when the retention sweep removed its record, and was not
    /// seen since: the chat that looks it up again does not become its owner, it proves the
    /// recipient's digits (the mark stays until then: an order number and nothing else).
    pub async fn swept_owned(&self, order: &OrderNo) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.swept_owned(order),
            Backend::Postgres(p) => Box::pin(p.swept_owned(order)).await,
        }
    }

    /// The records shared among chats that name `chat`, sorted: what `/forget` visits besides the
    /// chat's own (found by an index on both backends, never by reading every record).
    pub async fn owned(&self, chat: &ChatKey) -> Result<Vec<Owned>, StoreError> {
        let mut owned = match &self.backend {
            Backend::Sled(s) => s.owned(chat)?,
            Backend::Postgres(p) => Box::pin(p.owned(chat)).await?,
        };
        owned.sort();
        Ok(owned)
    }

    pub async fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.ticket(id),
            Backend::Postgres(p) => Box::pin(p.ticket(id)).await,
        }
    }

    /// Writes a new ticket and the notices it yields, only if no ticket has its id: `true` when
    /// written, `false` when the id is taken (nothing is written: another customer's ticket is
    /// never touched). Atomic and durable on return, apart from any batch. [`Op::Ticket`], which
    /// writes over a ticket of the same id, is for changing a ticket already opened.
    pub async fn open_ticket(&self, ticket: &Ticket, tell: &[Outgoing]) -> Result<bool, StoreError> {
        let started = std::time::Instant::now();
        let (backend, result) = match &self.backend {
            Backend::Sled(s) => ("sled", s.open_ticket(ticket, tell).await),
            Backend::Postgres(p) => ("postgres", Box::pin(p.open_ticket(ticket, tell)).await),
        };
        metrics::histogram!("billbot_store_commit_seconds", "backend" => backend)
            .record(started.elapsed().as_secs_f64());
        if matches!(result, Ok(true)) && !tell.is_empty() {
            self.outbox_written.notify_one();
        }
        result
    }

    /// The chat's latest ticket (open or not: see [`Ticket::is_open`]).
    pub async fn latest_ticket(&self, chat: &ChatKey) -> Result<Option<Ticket>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.latest_ticket(chat),
            Backend::Postgres(p) => Box::pin(p.latest_ticket(chat)).await,
        }
    }

    /// The chat's reminders, soonest first.
    pub async fn reminders(&self, chat: &ChatKey) -> Result<Vec<Reminder>, StoreError> {
        let mut reminders = match &self.backend {
            Backend::Sled(s) => s.reminders(chat)?,
            Backend::Postgres(p) => Box::pin(p.reminders(chat)).await?,
        };
        reminders.sort_by_key(|a| (a.due_day, a.key()));
        Ok(reminders)
    }

    /// Claims up to `limit` reminders due at `now` for this instance, like [`Store::claim_due`]:
    /// each is due again at `until` (so that no other instance has it meanwhile), as returned.
    pub async fn claim_reminders(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Reminder>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.claim_reminders(now, until, limit).await,
            Backend::Postgres(p) => Box::pin(p.claim_reminders(now, until, limit)).await,
        }
    }

    /// How many reminders are set, in all chats.
    pub async fn reminder_count(&self) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sled(s) => Ok(s.reminder_count()),
            Backend::Postgres(p) => Box::pin(p.reminder_count()).await,
        }
    }

    pub async fn watch(&self, order: &OrderNo) -> Result<Option<Watch>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.watch(order),
            Backend::Postgres(p) => Box::pin(p.watch(order)).await,
        }
    }

    /// Orders whose next check is at or before `now`, earliest first, at most `limit`.
    pub async fn due_watches(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OrderNo>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.due_watches(now, limit),
            Backend::Postgres(p) => Box::pin(p.due_watches(now, limit)).await,
        }
    }

    /// How many orders are watched.
    pub async fn watch_count(&self) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sled(s) => Ok(s.watch_count()),
            Backend::Postgres(p) => Box::pin(p.watch_count()).await,
        }
    }

    /// Takes in an inbound message of `chat` with id `id`: `true` when it is new (it is then kept
    /// until an [`Op::InboxDone`]), `false` when this id was seen before (a redelivery: nothing is
    /// written). Atomic and durable on return: two deliveries of one id yield one `true`. The
    /// message is filed in the chat's queue at `order`, the channel's order of its messages
    /// (Telegram's `update_id`, WhatsApp's timestamp in seconds); messages of one order keep the
    /// order they arrived in. [`Store::turn_start_next`] hands them out oldest first, so that
    /// back-to-back messages are answered in the order they were sent, whichever instance took
    /// them in.
    pub async fn inbox_take<T: Serialize>(
        &self,
        id: &str,
        chat: &ChatKey,
        order: i64,
        message: &T,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let message = encode(message)?;
        match &self.backend {
            Backend::Sled(s) => s.inbox_take(id, chat, order, &message, at).await,
            Backend::Postgres(p) => Box::pin(p.inbox_take(id, chat, order, &message, at)).await,
        }
    }

    /// [`Store::inbox_take`], durable not on return but once [`Store::settle`] returns: with sled,
    /// the message's step may start at once, and its commit's flush make the message durable too
    /// (one flush for both). PostgreSQL's is durable on return.
    pub async fn inbox_take_unsettled<T: Serialize>(
        &self,
        id: &str,
        chat: &ChatKey,
        order: i64,
        message: &T,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let message = encode(message)?;
        match &self.backend {
            Backend::Sled(s) => s.inbox_keep(id, chat, order, &message, at),
            Backend::Postgres(p) => Box::pin(p.inbox_take(id, chat, order, &message, at)).await,
        }
    }

    /// Returns once every write made before the call is durable. With sled, a flush that starts
    /// within `grace` (another write's, a step's commit) is waited for rather than a flush of its
    /// own made at once. Nothing to wait for with PostgreSQL.
    pub async fn settle(&self, grace: std::time::Duration) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.flush_within(grace).await,
            Backend::Postgres(_) => Ok(()),
        }
    }

    /// What a step of `chat` starts from (see [`Store::turn_start`]; `pending` is always true), and
    /// the chat's oldest unhandled message taken in by [`Store::inbox_take`] (the lowest order,
    /// then the first to arrive), with its id: the one message this step must handle. An
    /// unreadable message is removed (and counted as skipped) and the next one is returned: it
    /// would never be handled, and would hold up the chat's queue forever. One query in
    /// PostgreSQL.
    pub async fn turn_start_next<T: DeserializeOwned, M: DeserializeOwned>(
        &self,
        chat: &ChatKey,
    ) -> Result<(TurnStart<T>, Option<(String, M)>), StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.turn_start_next(chat),
            Backend::Postgres(p) => Box::pin(p.turn_start_next(chat)).await,
        }
    }

    /// The chats with a message taken in by [`Store::inbox_take`] before `before` and still not
    /// handled: their steps stopped (an instance died, a step failed) and nobody is on them. In
    /// PostgreSQL, a chat whose lease is live is left out (its step is running; the message may be
    /// next). Each chat once.
    pub async fn inbox_stale_chats(&self, before: DateTime<Utc>) -> Result<Vec<ChatKey>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.inbox_stale_chats(before),
            Backend::Postgres(p) => Box::pin(p.inbox_stale_chats(before)).await,
        }
    }

    /// Messages received and not yet handled, with their ids, in no particular order.
    /// Only ids that start with `prefix` (each channel its own: `wamid.`, `tg:update:`).
    pub async fn inbox_pending<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.inbox_pending(prefix),
            Backend::Postgres(p) => Box::pin(p.inbox_pending(prefix)).await,
        }
    }

    /// Forgets the ids of messages received before `before` (and any of them still pending, with
    /// their places in their chats' queues). Returns how many were forgotten.
    pub async fn inbox_sweep(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.inbox_sweep(before),
            Backend::Postgres(p) => Box::pin(p.inbox_sweep(before)).await,
        }
    }

    /// Takes the chat for one step, across instances: waits while another instance holds it (at
    /// most [`LEASE_WAIT`]). With sled there is one process, whose own per-chat lock suffices.
    pub async fn lock_chat(&self, chat: &ChatKey) -> Result<ChatLease, StoreError> {
        let holder = self.new_holder();
        let renewal = match &self.backend {
            Backend::Sled(_) => None,
            Backend::Postgres(p) => Some(Box::pin(p.lock_chat(chat, &holder)).await?),
        };
        Ok(ChatLease { chat: chat.clone(), holder, renewal })
    }

    /// What a step starts from: the chat's prefs and state, whether notices wait for it, whether
    /// its inbound message is still pending. One query in PostgreSQL.
    pub async fn turn_start<T: DeserializeOwned>(
        &self,
        chat: &ChatKey,
        inbox_id: Option<&str>,
    ) -> Result<TurnStart<T>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.turn_start(chat, inbox_id),
            Backend::Postgres(p) => Box::pin(p.turn_start(chat, inbox_id)).await,
        }
    }

    /// [`Store::lock_chat`] and [`Store::turn_start_next`] at once (one statement per try in
    /// PostgreSQL): the chat's lease, what its step starts from and its oldest waiting message.
    pub async fn take_turn<T: DeserializeOwned, M: DeserializeOwned>(
        &self,
        chat: &ChatKey,
    ) -> Result<(ChatLease, TurnStart<T>, Option<(String, M)>), StoreError> {
        let holder = self.new_holder();
        let (renewal, start, next) = match &self.backend {
            Backend::Sled(s) => {
                let (start, next) = s.turn_start_next(chat)?;
                (None, start, next)
            }
            Backend::Postgres(p) => {
                let (renewal, start, next) = Box::pin(p.take_turn(chat, &holder)).await?;
                (Some(renewal), start, next)
            }
        };
        Ok((ChatLease { chat: chat.clone(), holder, renewal }, start, next))
    }

    /// A new lease holder's name: this instance's, and a turn number.
    fn new_holder(&self) -> String {
        match &self.backend {
            Backend::Postgres(p) => p.new_holder(),
            Backend::Sled(_) => {
                static TURNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let turn = TURNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                format!("{}:{}:{turn}", instance_id(), std::process::id())
            }
        }
    }

    /// Ends a lease kept past its step's commit, once the step's replies are out: soon, with
    /// others, off the caller's way (PostgreSQL; nothing to do with sled).
    pub fn release(&self, lease: ChatLease) {
        if let Backend::Postgres(p) = &self.backend {
            p.release_later(&lease.chat, &lease.holder);
        }
    }

    /// Ends a lease without a commit (the step failed), or one kept by
    /// [`ChatLease::end_step_keeping`] once the step's replies are out.
    pub async fn unlock(&self, lease: ChatLease) {
        if let Err(e) = self.commit(lease.release()).await {
            tracing::debug!(chat = %lease.chat, error = %e, "a chat lease ended on its own");
        }
    }

    /// Tries to become the one instance doing `job` (polling Telegram): `None` while another
    /// instance is. Held until the guard is dropped (or the instance dies: PostgreSQL then ends
    /// the session and its lock). With sled there is one instance, always the one.
    pub async fn exclusive(&self, job: &str) -> Result<Option<Exclusive>, StoreError> {
        match &self.backend {
            Backend::Sled(_) => Ok(Some(Exclusive { _connection: None })),
            Backend::Postgres(p) => {
                Ok(Box::pin(p.exclusive(job)).await?.map(|c| Exclusive { _connection: Some(c) }))
            }
        }
    }

    /// Claims up to `limit` watches due at `now` for this instance: their next check moves to
    /// `until`, so that no other instance (nor this one's next tick) checks them meanwhile. An
    /// instance that dies mid-check leaves the claim to expire at `until`.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OrderNo>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.claim_due(now, until, limit).await,
            Backend::Postgres(p) => Box::pin(p.claim_due(now, until, limit)).await,
        }
    }

    /// Claims up to `limit` outgoing notices due at `now` for the sender `holder`, earliest due
    /// first: each is due again at `until` and names `holder` as its sender
    /// ([`Outgoing::claimed_by`]), so that no other sender has it meanwhile. A notice of a chat
    /// that another sender holds a live claim in (one not run out at `now`) is left: one chat's
    /// notices go out through one sender at a time, in order. A sender whose send may outlast
    /// its claim renews it ([`Store::renew_outgoing`]); one that dies leaves its notices to be
    /// claimed again at `until`.
    pub async fn claim_outgoing_for(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Outgoing>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.claim_outgoing(holder, now, until, limit).await,
            Backend::Postgres(p) => Box::pin(p.claim_outgoing(holder, now, until, limit)).await,
        }
    }

    /// Moves the claims of `holder` on the notices `ids` to `until` (those still its own and not
    /// done); returns how many were renewed.
    pub async fn renew_outgoing(
        &self,
        holder: &str,
        ids: &[String],
        until: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.renew_outgoing(holder, ids, until).await,
            Backend::Postgres(p) => Box::pin(p.renew_outgoing(holder, ids, until)).await,
        }
    }

    /// An outgoing notice, pending or done.
    pub async fn outgoing(&self, id: &str) -> Result<Option<Outgoing>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.outgoing(id),
            Backend::Postgres(p) => Box::pin(p.outgoing(id)).await,
        }
    }

    /// Forgets the notices done before `before`; returns how many.
    pub async fn sweep_outgoing(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.sweep_outgoing(before).await,
            Backend::Postgres(p) => Box::pin(p.sweep_outgoing(before)).await,
        }
    }

    /// Forgets what has been kept long enough (see [`Retention`]): orders last seen before
    /// `orders_before` and lookups made before it, and the dialogue state of chats that have not
    /// written since `idle_before`.
    pub async fn sweep_expired(
        &self,
        orders_before: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<Swept, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.sweep_expired(orders_before, idle_before).await,
            Backend::Postgres(p) => Box::pin(p.sweep_expired(orders_before, idle_before)).await,
        }
    }

    /// How many inbound message ids are remembered.
    pub async fn seen_count(&self) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sled(s) => Ok(s.seen_count()),
            Backend::Postgres(p) => Box::pin(p.seen_count()).await,
        }
    }

    /// The chat `key` stands for, if it is an alias.
    pub async fn alias(&self, key: &ChatKey) -> Result<Option<ChatKey>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.alias(key),
            Backend::Postgres(p) => Box::pin(p.alias(key)).await,
        }
    }

    /// Appends `lines` to the web chat `chat`'s conversation, numbered after its last line (see
    /// [`WebLine`]), durably; keeps the newest [`WEB_LOG_KEPT`]. Writers of one chat take turns,
    /// so that no reader sees a number before the ones under it are written. Returns the numbers.
    pub async fn web_log_append<T: Serialize>(
        &self,
        chat: &ChatKey,
        lines: &[T],
        at: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let lines = lines.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        match &self.backend {
            Backend::Sled(s) => s.web_log_append(chat, &lines, at).await,
            Backend::Postgres(p) => Box::pin(p.web_log_append(chat, &lines, at)).await,
        }
    }

    /// The web chats that another instance gave a line, as they are written (PostgreSQL, whose
    /// instances share the store: `NOTIFY` at commit); `None` in the stream when some may have
    /// been missed. This store's own writes are not told: their writer knows them. Sled has one
    /// process, which knows its own writes: `None` here.
    pub fn web_written(&self) -> Option<tokio::sync::broadcast::Receiver<Option<String>>> {
        match &self.backend {
            Backend::Sled(_) => None,
            Backend::Postgres(p) => Some(p.web_written()),
        }
    }

    /// The lines of `chat`'s web conversation numbered above `after`, oldest first (unreadable
    /// ones left out).
    pub async fn web_log_after<T: DeserializeOwned>(
        &self,
        chat: &ChatKey,
        after: i64,
    ) -> Result<Vec<WebLine<T>>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.web_log_after(chat, after),
            Backend::Postgres(p) => Box::pin(p.web_log_after(chat, after)).await,
        }
    }

    /// The notices kept for `chat`, oldest first, with the ids that [`Op::DropHeld`] takes.
    pub async fn held<T: DeserializeOwned>(&self, chat: &ChatKey) -> Result<Vec<(HeldId, T)>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.held(chat),
            Backend::Postgres(p) => Box::pin(p.held(chat)).await,
        }
    }
}
