//! The `owned` tree: the records shared among chats that name a chat (the orders it owns, the
//! watches it waits on, its tickets, the aliases that stand for it), filed under the chat. `/forget`
//! visits these and the chat's own prefix-keyed trees, never every order, watch and ticket of the
//! store (a scan of 200,000 orders took about a second, on the async worker that ran the step).
//!
//! The index is a superset of what the records say: a watch's entries are written in the
//! watch's own transaction; an order's, ticket's or alias's entry is written before the record
//! that names the chat, and removed once the record no longer does, so a crash in between leaves
//! an entry too many (which `/forget` checks against the record and drops), never one too few. A
//! store written before the index existed gets it built once, when it is opened.

use sled::IVec;

use super::{SledStore, chat_prefix};
use crate::domain::{ChatKey, OrderNo};
use crate::store::{OrderRecord, Owned, StoreError, Ticket, Watch};

/// The `meta` key present once the index covers every record (built, or kept since the start).
const INDEXED: &str = "owned_index";

/// What kind of record an entry points at: the byte after the chat's prefix.
const ORDER: u8 = b'o';
const WATCH: u8 = b'w';
const TICKET: u8 = b't';
const ALIAS: u8 = b'a';

fn entry(chat: &ChatKey, kind: u8, key: &[u8]) -> Vec<u8> {
    let mut entry = chat_prefix(chat);
    entry.push(kind);
    entry.extend_from_slice(key);
    entry
}

impl SledStore {
    /// Files `key` (of a record of `kind`) under `chat`.
    fn name(&self, chat: &ChatKey, kind: u8, key: &[u8]) -> Result<(), StoreError> {
        self.inner.owned.insert(entry(chat, kind, key), &[])?;
        Ok(())
    }

    fn unname(&self, chat: &ChatKey, kind: u8, key: &[u8]) -> Result<(), StoreError> {
        self.inner.owned.remove(entry(chat, kind, key))?;
        Ok(())
    }

    /// Files an order under each of `owners` (before the record names them).
    pub(super) fn name_owners(&self, order: &[u8], owners: &[ChatKey]) -> Result<(), StoreError> {
        owners.iter().try_for_each(|chat| self.name(chat, ORDER, order))
    }

    /// Drops the entries of the chats in `before` that `after` no longer names.
    pub(super) fn unname_owners(
        &self,
        order: &[u8],
        before: &[ChatKey],
        after: &[ChatKey],
    ) -> Result<(), StoreError> {
        let gone = before.iter().filter(|chat| !after.contains(chat));
        gone.into_iter().try_for_each(|chat| self.unname(chat, ORDER, order))
    }

    pub(super) fn name_ticket(&self, ticket: &Ticket) -> Result<(), StoreError> {
        self.name(&ticket.chat, TICKET, ticket.id.as_bytes())
    }

    pub(super) fn unname_ticket(&self, ticket: &Ticket) -> Result<(), StoreError> {
        self.unname(&ticket.chat, TICKET, ticket.id.as_bytes())
    }

    pub(super) fn name_alias(&self, alias: &ChatKey, chat: &ChatKey) -> Result<(), StoreError> {
        self.name(chat, ALIAS, alias.storage_key().as_bytes())
    }

    /// The shared records that name `chat`, as the index lists them.
    pub fn owned(&self, chat: &ChatKey) -> Result<Vec<Owned>, StoreError> {
        let prefix = chat_prefix(chat);
        let mut owned = Vec::new();
        for key in self.inner.owned.scan_prefix(&prefix).keys() {
            if let Some(item) = decode_entry(&key?[prefix.len()..]) {
                owned.push(item);
            }
        }
        Ok(owned)
    }

    /// Takes `chat` out of every shared record the index files under it: its place among an
    /// order's owners and a watch's watchers, its tickets, the aliases that stand for it. Returns
    /// how many records were visited.
    pub(super) fn forget_named(&self, chat: &ChatKey) -> Result<usize, StoreError> {
        let prefix = chat_prefix(chat);
        let mut visited = 0;
        for key in self.inner.owned.scan_prefix(&prefix).keys() {
            let key = key?;
            if let Some(item) = decode_entry(&key[prefix.len()..]) {
                self.forget_in(chat, item)?;
                visited += 1;
            }
            self.inner.owned.remove(key)?;
        }
        Ok(visited)
    }

    fn forget_in(&self, chat: &ChatKey, item: Owned) -> Result<(), StoreError> {
        let inner = &self.inner;
        match item {
            Owned::Order(order_no) => {
                let without = |stored: Option<OrderRecord>| Some(stored?.without_owner(chat));
                self.update(&inner.orders, order_no.digits().as_bytes(), without)
            }
            Owned::Watch(order_no) => {
                let chat = chat.clone();
                let without =
                    move |stored: Option<Watch>| (stored.and_then(|w| w.without_watcher(&chat)), Vec::new());
                self.update_watch(&order_no, None, Box::new(without))
            }
            Owned::Ticket(id) => {
                let ticket: Option<Ticket> = self.read(&inner.tickets, id.as_bytes())?;
                if ticket.is_some_and(|t| t.chat == *chat) {
                    inner.tickets.remove(id.as_bytes())?;
                }
                Ok(())
            }
            Owned::Alias(alias) => {
                let stands_for: Option<ChatKey> =
                    self.read(&inner.aliases, alias.storage_key().as_bytes())?;
                if stands_for.as_ref() == Some(chat) {
                    inner.aliases.remove(alias.storage_key().as_bytes())?;
                }
                Ok(())
            }
        }
    }

    /// Builds the index from every order, watch, ticket and alias, once: for a store written
    /// before the index existed (a scan, at start-up only).
    pub(super) fn index_owned_once(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        let meta = inner.db.open_tree("meta")?;
        if meta.get(INDEXED)?.is_some() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        for entry in inner.orders.iter() {
            let (key, bytes) = entry?;
            if let Some(record) = self.decode::<OrderRecord>(&inner.orders, &key, &bytes) {
                self.name_owners(&key, &record.owners)?;
            }
        }
        for entry in inner.watches.iter() {
            let (key, bytes) = entry?;
            let watch = self.decode::<Watch>(&inner.watches, &key, &bytes);
            for entry in watch_entries(&key, watch.as_ref()) {
                inner.owned.insert(entry, &[])?;
            }
        }
        for entry in inner.tickets.iter() {
            let (key, bytes) = entry?;
            if let Some(ticket) = self.decode::<Ticket>(&inner.tickets, &key, &bytes) {
                self.name_ticket(&ticket)?;
            }
        }
        for entry in inner.aliases.iter() {
            let (key, bytes) = entry?;
            let alias = std::str::from_utf8(&key).ok().and_then(|k| k.parse::<ChatKey>().ok());
            let chat = self.decode::<ChatKey>(&inner.aliases, &key, &bytes);
            if let (Some(alias), Some(chat)) = (alias, chat) {
                self.name_alias(&alias, &chat)?;
            }
        }
        meta.insert(INDEXED, IVec::from(&b"1"[..]))?;
        inner.db.flush()?;
        tracing::info!(millis = started.elapsed().as_millis() as u64, "indexed what each chat owns");
        Ok(())
    }
}

/// The `owned` entries of a watch (of the order `key`): one for each chat waiting on it.
pub(super) fn watch_entries(key: &[u8], watch: Option<&Watch>) -> Vec<Vec<u8>> {
    watch.map(|w| w.watchers.iter().map(|w| entry(&w.chat, WATCH, key)).collect()).unwrap_or_default()
}

/// An entry's kind and key (what follows the chat's prefix); `None` for one this build does not
/// know (skipped, and removed by `/forget`).
fn decode_entry(rest: &[u8]) -> Option<Owned> {
    let (kind, key) = rest.split_first()?;
    let key = std::str::from_utf8(key).ok()?;
    match *kind {
        ORDER => OrderNo::parse(key).ok().map(Owned::Order),
        WATCH => OrderNo::parse(key).ok().map(Owned::Watch),
        TICKET => Some(Owned::Ticket(key.to_owned())),
        ALIAS => key.parse().ok().map(Owned::Alias),
        _ => None,
    }
}
