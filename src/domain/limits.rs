//! Lookup limits: how many bill inquiries and order lookups a customer chat may make a minute
//! and an hour, and the record of a chat's recent lookups that enforces them.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How many lookups of each kind a customer chat may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupLimits {
    pub per_minute: u32,
    pub per_hour: u32,
}

impl Default for LookupLimits {
    fn default() -> Self {
        LookupLimits { per_minute: 10, per_hour: 60 }
    }
}

/// What a lookup asks the provider for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    /// A bill inquiry (bill-payment API).
    Bill,
    /// An order's status (bill-status API).
    Order,
}

/// A chat's lookups of the last hour, oldest first; and, for the support desk's limits, the
/// requests it opened in the last day and the messages it had relayed to support in the last
/// window (see [`Lookups::take_in_window`]). Times only: nothing of what was asked or said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lookups {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bills: Vec<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<DateTime<Utc>>,
    /// Support requests opened. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tickets: Vec<DateTime<Utc>>,
    /// Messages relayed to support. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relays: Vec<DateTime<Utc>>,
    /// Times the chat erased itself with `/forget` in the last day. Absent in records written
    /// before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forgets: Vec<DateTime<Utc>>,
}

impl Lookups {
    pub fn is_empty(&self) -> bool {
        self.bills.is_empty()
            && self.orders.is_empty()
            && self.tickets.is_empty()
            && self.relays.is_empty()
            && self.forgets.is_empty()
    }

    /// Counts one more event in `times` at `now` if fewer than `max` fall in the `window` before
    /// it, or says how long until one fits. Times out of the window are forgotten, so a chat keeps
    /// `max` of them at most.
    pub fn take_in_window(
        times: &mut Vec<DateTime<Utc>>,
        now: DateTime<Utc>,
        window: Duration,
        max: u32,
    ) -> Result<(), Duration> {
        times.retain(|t| *t > now - window && *t <= now);
        let max = max.max(1) as usize;
        if times.len() >= max {
            return Err(times[times.len() - max] + window - now);
        }
        times.push(now);
        Ok(())
    }

    fn of(&mut self, kind: LookupKind) -> &mut Vec<DateTime<Utc>> {
        match kind {
            LookupKind::Bill => &mut self.bills,
            LookupKind::Order => &mut self.orders,
        }
    }

    /// Counts a lookup of `kind` made at `at` outside the chat's steps (the reminder job's), once
    /// allowed by [`Lookups::take`] on a copy: the count lands in the chat's prefs by a
    /// read-modify-write that keeps whatever else a step changed meanwhile.
    pub fn count(&mut self, kind: LookupKind, at: DateTime<Utc>) {
        let times = self.of(kind);
        times.retain(|t| *t > at - Duration::hours(1));
        let place = times.partition_point(|t| *t <= at);
        times.insert(place, at);
    }

    /// Counts a lookup of `kind` at `now`, or says how long until one is allowed.
    pub fn take(
        &mut self,
        kind: LookupKind,
        now: DateTime<Utc>,
        limits: LookupLimits,
    ) -> Result<(), Duration> {
        let (minute, hour) = (Duration::minutes(1), Duration::hours(1));
        let times = self.of(kind);
        times.retain(|t| *t > now - hour && *t <= now);
        let in_minute = times.iter().filter(|t| **t > now - minute).count();
        let mut wait = Duration::zero();
        // The lookup that must age out of a window before another one fits in it.
        if in_minute >= limits.per_minute as usize {
            let oldest = times[times.len() - limits.per_minute.max(1) as usize];
            wait = wait.max(oldest + minute - now);
        }
        if times.len() >= limits.per_hour as usize {
            let oldest = times[times.len() - limits.per_hour.max(1) as usize];
            wait = wait.max(oldest + hour - now);
        }
        if wait > Duration::zero() {
            return Err(wait);
        }
        times.push(now);
        Ok(())
    }
}

/// How much one chat may send (`BILLBOT_MAX_WAITING_UPDATES`, `BILLBOT_UPDATES_PER_MINUTE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    /// Updates that may wait behind the one running.
    pub max_waiting: usize,
    /// Updates a minute, with bursts of a third of it.
    pub per_minute: u32,
}

impl Default for Flood {
    fn default() -> Self {
        Flood { max_waiting: 5, per_minute: 60 }
    }
}
