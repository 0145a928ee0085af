//! Watches: the tracker's persistent state, with a schedule index (`watch_due`) so that finding
//! the orders due for a check reads only those, however many are watched.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, Watch};
use crate::domain::OrderNo;

fn due_key(at: DateTime<Utc>, order: &OrderNo) -> Vec<u8> {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let mut key = millis.to_be_bytes().to_vec();
    key.extend_from_slice(order.digits().as_bytes());
    key
}

impl Store {
    pub fn watch(&self, order: &OrderNo) -> Result<Option<Watch>, StoreError> {
        self.read(&self.inner.watches, order.digits().as_bytes())
    }

    /// Stores a watch and (re)schedules its next check. `previous` is the schedule it had.
    pub fn put_watch(&self, watch: &Watch, previous: Option<DateTime<Utc>>) -> Result<(), StoreError> {
        if let Some(at) = previous {
            self.inner.watch_due.remove(due_key(at, &watch.order_no))?;
        }
        self.write(&self.inner.watches, watch.order_no.digits().as_bytes(), watch)?;
        self.inner.watch_due.insert(due_key(watch.next_check_at, &watch.order_no), &[])?;
        Ok(())
    }

    /// Ends a watch.
    pub fn remove_watch(&self, watch: &Watch) -> Result<(), StoreError> {
        self.inner.watch_due.remove(due_key(watch.next_check_at, &watch.order_no))?;
        self.inner.watches.remove(watch.order_no.digits().as_bytes())?;
        Ok(())
    }

    /// Orders whose next check is at or before `now`, earliest first, at most `limit`.
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

    /// How many orders are watched.
    pub fn watch_count(&self) -> usize {
        self.inner.watches.len()
    }
}
