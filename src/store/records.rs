//! The records the store keeps, and the rules every backend applies to them (how an order seen
//! again is merged, how a saved reference is saved again, what a sender's report makes of a
//! notice): written here once, so that the backends store the same records the same way.
//! Changing a record means a new schema version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::limits::Lookups;
use crate::domain::paid::PaidReferences;
use crate::domain::seen_bills::SeenBills;
use crate::domain::{Biller, ChatKey, CustomerReference, Order, OrderNo, OrderStatus};
use crate::i18n::Lang;

/// A chat's preferences, and when it last wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefs {
    /// The language the chat chose with /lang; `None` follows the client's language.
    pub lang: Option<Lang>,
    /// When the user last sent something (as the channel dated it). WhatsApp lets a business
    /// answer freely for 24 hours after it. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// The chat's lookups of the last hour, for its limits.
    #[serde(default, skip_serializing_if = "Lookups::is_empty")]
    pub lookups: Lookups,
    /// The bills with a due day ahead the chat was shown lately: the only ones a reminder may be
    /// set for. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "SeenBills::is_empty")]
    pub seen_bills: SeenBills,
    /// The references the chat paid lately (orders it owns, seen succeeded): its lookups of them
    /// show the holder in full. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "PaidReferences::is_empty")]
    pub paid: PaidReferences,
}

impl Prefs {
    /// Forgets what no longer serves: bills already due (no reminder can be set for them) and
    /// payments too old to prove a reference is the chat's. Done at the chat's first message of
    /// a minute, with the time of that message.
    pub fn drop_expired(&mut self, today: chrono::NaiveDate) {
        self.seen_bills.drop_past(today);
        self.paid.drop_expired(today);
    }
}

/// An order as last seen, with every status it was seen in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    pub order: Order,
    pub changes: Vec<StatusChange>,
    pub first_seen: DateTime<Utc>,
    pub last_checked: DateTime<Utc>,
    /// The chats that may see the order's codes and ask to be told of it: the first customer
    /// chat that looked it up, then any that proved the recipient's last four digits (oldest
    /// first, at most [`MAX_OWNERS`]). Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<ChatKey>,
    /// Whether the order has had an owner: once it has, it stays closed when its owners are gone
    /// (they used `/forget`), and a chat proves the recipient's digits like any other. Absent in
    /// records written before it existed (then the owners say).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub claimed: bool,
    /// Wrong digits given for this order by billbots before the tries were counted per chat,
    /// within the last [`PROOF_WINDOW_HOURS`]: they count toward the order's cap only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_proofs: Vec<DateTime<Utc>>,
    /// Wrong digits given for this order, and by which chat, within the last
    /// [`PROOF_WINDOW_HOURS`]. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wrong_proofs: Vec<WrongProof>,
}

/// Wrong digits a chat gave for an order, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrongProof {
    pub chat: ChatKey,
    pub at: DateTime<Utc>,
}

/// Owners an order keeps; beyond, the oldest after the first make room.
pub const MAX_OWNERS: usize = 20;

/// Wrong proofs of ownership one chat may give for an order per [`PROOF_WINDOW_HOURS`]: 5 guesses
/// a day of 10,000 possible last-four-digits. Counted per chat, so that a stranger's guesses
/// never lock the recipient out.
pub const MAX_FAILED_PROOFS: usize = 5;
/// Wrong proofs an order accepts per [`PROOF_WINDOW_HOURS`] from all chats together: however
/// many chats guess, the order's digits take 10,000 / 15 days to find on average; and a stranger
/// needs 3 chats of its own to lock the proof for everyone.
pub const MAX_FAILED_PROOFS_PER_ORDER: usize = 15;
pub const PROOF_WINDOW_HOURS: i64 = 24;

impl OrderRecord {
    /// A record seen for the first time at `at`.
    pub fn new(order: Order, at: DateTime<Utc>) -> OrderRecord {
        OrderRecord {
            order,
            changes: Vec::new(),
            first_seen: at,
            last_checked: at,
            owners: Vec::new(),
            claimed: false,
            failed_proofs: Vec::new(),
            wrong_proofs: Vec::new(),
        }
    }

    /// Whether `chat` may see the codes and ask to be told: it owns the order, or the order never
    /// had an owner (the first customer chat to look it up then becomes it). An order whose owners
    /// are gone is open to none: the recipient's digits are asked, as of any other chat.
    pub fn open_to(&self, chat: &ChatKey) -> bool {
        self.owners.contains(chat) || self.claimable()
    }

    /// Whether the next customer chat to look the order up becomes its owner: it never had one.
    pub fn claimable(&self) -> bool {
        self.owners.is_empty() && !self.claimed
    }

    /// Adds an owner (once; the oldest after the first leave beyond [`MAX_OWNERS`]).
    pub fn add_owner(&mut self, chat: &ChatKey) {
        self.claimed = true;
        if !self.owners.contains(chat) {
            self.owners.push(chat.clone());
            if self.owners.len() > MAX_OWNERS {
                self.owners.remove(1);
            }
        }
    }

    /// Wrong proofs given by any chat within the window before `now`.
    pub fn recent_failed_proofs(&self, now: DateTime<Utc>) -> usize {
        let since = now - chrono::Duration::hours(PROOF_WINDOW_HOURS);
        let legacy = self.failed_proofs.iter().filter(|at| **at > since).count();
        legacy + self.wrong_proofs.iter().filter(|p| p.at > since).count()
    }

    /// Wrong proofs given by `chat` within the window before `now`.
    pub fn recent_failed_proofs_by(&self, chat: &ChatKey, now: DateTime<Utc>) -> usize {
        let since = now - chrono::Duration::hours(PROOF_WINDOW_HOURS);
        self.wrong_proofs.iter().filter(|p| p.at > since && p.chat == *chat).count()
    }

    /// How many more wrong proofs `chat` may give at `now`: its own tries, within what is left of
    /// the order's ([`MAX_FAILED_PROOFS`], [`MAX_FAILED_PROOFS_PER_ORDER`]). 0: locked for it.
    pub fn proof_tries_left(&self, chat: &ChatKey, now: DateTime<Utc>) -> usize {
        let own = MAX_FAILED_PROOFS.saturating_sub(self.recent_failed_proofs_by(chat, now));
        own.min(MAX_FAILED_PROOFS_PER_ORDER.saturating_sub(self.recent_failed_proofs(now)))
    }

    /// Records a wrong proof by `chat` at `at`, forgetting those out of the window.
    pub fn add_failed_proof(&mut self, chat: &ChatKey, at: DateTime<Utc>) {
        let since = at - chrono::Duration::hours(PROOF_WINDOW_HOURS);
        self.failed_proofs.retain(|t| *t > since);
        self.wrong_proofs.retain(|p| p.at > since);
        self.wrong_proofs.push(WrongProof { chat: chat.clone(), at });
    }

    /// The record an order becomes once `order` is seen at `at`, from the one stored (if any):
    /// the status joins its history when it changed, and `claimant` becomes its owner if it never
    /// had one ([`Op::RecordOrder`](super::Op::RecordOrder)).
    pub(super) fn merged(
        stored: Option<OrderRecord>,
        order: &Order,
        at: DateTime<Utc>,
        claimant: Option<&ChatKey>,
    ) -> OrderRecord {
        let mut record = stored.unwrap_or_else(|| OrderRecord::new(order.clone(), at));
        if let Some(chat) = claimant
            && record.claimable()
        {
            record.add_owner(chat);
        }
        let changed = record
            .changes
            .last()
            .is_none_or(|last| last.status != order.status || last.provider_status != order.provider_status);
        if changed {
            record.changes.push(StatusChange {
                status: order.status,
                provider_status: order.provider_status.clone(),
                at,
            });
        }
        record.order = order.clone();
        record.last_checked = at;
        record
    }

    /// The record with `chat` among its owners ([`Op::OwnOrder`](super::Op::OwnOrder)).
    pub(super) fn with_owner(mut self, chat: &ChatKey) -> OrderRecord {
        self.add_owner(chat);
        self
    }

    /// The record with a wrong proof by `chat` at `at` ([`Op::FailedProof`](super::Op::FailedProof)).
    pub(super) fn with_failed_proof(mut self, chat: &ChatKey, at: DateTime<Utc>) -> OrderRecord {
        self.add_failed_proof(chat, at);
        self
    }

    /// The record closed to a first claimant: it had owners before it was swept
    /// ([`Op::CloseOrder`](super::Op::CloseOrder)).
    pub(super) fn closed(mut self) -> OrderRecord {
        self.claimed = true;
        self
    }

    /// Whether the record, swept, leaves a mark that it had owners (see
    /// [`Store::swept_owned`](super::Store::swept_owned)).
    pub(super) fn leaves_a_mark(&self) -> bool {
        self.claimed || !self.owners.is_empty()
    }

    /// The record without `chat` among its owners (the chat is forgotten). It stays claimed: the
    /// next chat to look it up proves the digits rather than taking it.
    pub(super) fn without_owner(mut self, chat: &ChatKey) -> OrderRecord {
        if self.owners.contains(chat) {
            self.claimed = true;
            self.owners.retain(|owner| owner != chat);
        }
        self
    }
}

/// A reference's key among a chat's saved references and among its reminders: `biller:digits`.
pub(super) fn reference_key(reference: &CustomerReference) -> String {
    format!("{}:{}", reference.biller().key(), reference.as_str())
}

/// One status an order was seen in, and when it was first seen so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: OrderStatus,
    pub provider_status: String,
    pub at: DateTime<Utc>,
}

/// Something a chat looked up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub at: DateTime<Utc>,
    pub item: ActivityItem,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActivityItem {
    /// A bill inquiry; the reference is kept as typed digits.
    Lookup { biller: Biller, reference: String },
    /// An order status check, with the status it was in.
    Order { order_no: OrderNo, status: OrderStatus },
}

impl ActivityItem {
    /// Identity within a chat: the same lookup or order again is the same item.
    pub fn id(&self) -> String {
        match self {
            ActivityItem::Lookup { biller, reference } => format!("l:{}:{reference}", biller.key()),
            ActivityItem::Order { order_no, .. } => format!("o:{}", order_no.digits()),
        }
    }
}

/// A reference a chat saved for one-tap re-checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedReference {
    pub biller: Biller,
    /// The reference's digits.
    pub reference: String,
    /// A name the customer gave it ("Maison", "Boutique").
    pub nickname: Option<String>,
    pub saved_at: DateTime<Utc>,
}

impl SavedReference {
    /// `reference` as it is saved at `at` with `nickname` (trimmed; a blank one is none), over the
    /// one stored (if any), whose first save date is kept.
    pub(super) fn saved(
        stored: Option<SavedReference>,
        reference: &CustomerReference,
        nickname: Option<String>,
        at: DateTime<Utc>,
    ) -> SavedReference {
        SavedReference {
            biller: reference.biller(),
            reference: reference.as_str().to_owned(),
            nickname: nickname.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
            saved_at: stored.map_or(at, |old| old.saved_at),
        }
    }
}

/// An order someone asked to be told about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    pub order_no: OrderNo,
    pub watchers: Vec<Watcher>,
    /// When the first watcher asked; the watch ends at the tracker's maximum age after this.
    pub started_at: DateTime<Utc>,
    /// Provider calls made for this watch so far (the backoff grows with them).
    pub checks: u32,
    pub next_check_at: DateTime<Utc>,
    /// The status last seen, by the tracker or when the watch began.
    pub last_status: OrderStatus,
    pub last_provider_status: String,
}

/// One chat waiting for news of an order, in its language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watcher {
    pub chat: ChatKey,
    pub lang: Lang,
    pub since: DateTime<Utc>,
    /// The statuses this chat was already told about (never told twice).
    pub told: Vec<OrderStatus>,
}

impl Watch {
    /// The watch without `chat` among its watchers; `None` when nobody is left to tell.
    pub(super) fn without_watcher(mut self, chat: &ChatKey) -> Option<Watch> {
        self.watchers.retain(|w| w.chat != *chat);
        Some(self).filter(|w| !w.watchers.is_empty())
    }
}

/// A notice on its way to a chat (the outbox): recorded with the change it announces, in the same
/// write, then sent, then marked done. Its `id` names the watcher and what it is told (see
/// [`Outgoing::id_for`]): a notice is recorded once per id, and a delivered one stays (done) until
/// it is swept, so nobody is told the same thing twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    pub id: String,
    pub chat: ChatKey,
    pub lang: Lang,
    /// The notice, as the tracker encodes it.
    pub notice: serde_json::Value,
    /// Sends tried and failed so far.
    pub attempts: u32,
    /// When it is due to be sent (again); `None` once done.
    pub next_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// When it was delivered, or given up.
    pub done_at: Option<DateTime<Utc>>,
    /// The sender that claimed it (see `Store::claim_outgoing_for`), until it is done or due
    /// again: only that sender may mark it, and no other sender takes up the chat's notices
    /// meanwhile. Absent in records written before it existed, and when unclaimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
}

impl Outgoing {
    /// A notice `id` for `chat` in `lang`, recorded at `now` and due at once.
    pub fn new(
        id: String,
        chat: &ChatKey,
        lang: Lang,
        notice: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Outgoing {
        Outgoing {
            id,
            chat: chat.clone(),
            lang,
            notice,
            attempts: 0,
            next_at: Some(now),
            created_at: now,
            done_at: None,
            claimed_by: None,
        }
    }

    /// The id of telling `chat` about `order_no`: `what` is the status's key, or `ended`.
    pub fn id_for(chat: &ChatKey, order_no: &OrderNo, what: &str) -> String {
        format!("{}|{}|{what}", chat.storage_key(), order_no.digits())
    }

    /// Whether a sender's report may change the notice ([`Op::Outgoing`](super::Op::Outgoing)):
    /// it is not done, and with a `holder`, that sender's claim on it stands.
    pub(super) fn may_change(&self, holder: Option<&str>) -> bool {
        self.next_at.is_some() && holder.is_none_or(|h| self.claimed_by.as_deref() == Some(h))
    }

    /// Makes `change`: the notice is done, or due again with one more failed attempt; its claim
    /// ends either way.
    pub(super) fn apply(&mut self, change: OutgoingChange) {
        match change {
            OutgoingChange::Done { at } => {
                self.next_at = None;
                self.done_at = Some(at);
            }
            OutgoingChange::Retry { next_at } => {
                self.attempts += 1;
                self.next_at = Some(next_at);
            }
        }
        self.claimed_by = None;
    }
}

/// What became of an outgoing notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutgoingChange {
    /// Delivered (or given up): it is not sent again.
    Done { at: DateTime<Utc> },
    /// Failed: tried again at `next_at`.
    Retry { next_at: DateTime<Utc> },
}

/// When a reminder speaks: some days before the due date, and on the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderStage {
    Before,
    OnTheDay,
}

impl ReminderStage {
    pub fn key(self) -> &'static str {
        match self {
            ReminderStage::Before => "before",
            ReminderStage::OnTheDay => "on_the_day",
        }
    }
}

/// A chat asked to be reminded of a bill's due date (see [`crate::reminders`]): one per chat and
/// reference; set again, it replaces the one before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub chat: ChatKey,
    pub lang: Lang,
    pub reference: CustomerReference,
    /// The bill's due date (Dakar's calendar, which is UTC's).
    pub due_day: chrono::NaiveDate,
    /// How many days before the due date the first reminder comes: 1, 3 or 7.
    pub days_before: u8,
    /// When the next reminder is due (the schedule's key).
    pub next_at: DateTime<Utc>,
    /// The stages given (or passed over) already: each is given once at most.
    pub done: Vec<ReminderStage>,
    pub created_at: DateTime<Utc>,
}

impl Reminder {
    /// The key of the reminder among the chat's: `biller:reference`.
    pub fn key(&self) -> String {
        reference_key(&self.reference)
    }
}

/// A customer's request to talk to a person (see `conversation::support`): open until an agent
/// closes it, the customer does, or 24 hours pass without a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// A short id agents type (`/reply K7M2Q text`): five characters of `23456789ABCDEFGHJKMNPQRSTUVWXYZ`.
    pub id: String,
    pub chat: ChatKey,
    pub lang: Lang,
    pub opened_at: DateTime<Utc>,
    /// The last message either way: the ticket closes by itself 24 hours after it.
    pub last_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Messages relayed so far, both ways (numbers the outbox ids).
    pub messages: u32,
}

impl Ticket {
    /// Whether the ticket still relays the customer's messages at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.closed_at.is_none() && now - self.last_at < chrono::Duration::hours(TICKET_IDLE_HOURS)
    }
}

/// Hours without a message after which a ticket is over.
pub const TICKET_IDLE_HOURS: i64 = 24;
