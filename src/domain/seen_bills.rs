//! The bills a chat was shown with a due date still ahead: the only ones it may be reminded of.
//!
//! A "Remind me" button names a reference and a due day. Both are checked against this record
//! (kept in the chat's prefs, written with the lookup that showed the bill), besides the
//! button's signature, so that a reminder is only ever set for a bill the chat itself looked up,
//! within its lookup limits, and for the due day the provider gave.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::CustomerReference;

/// Bills kept at most: the latest of each reference, newest last. As many as a chat may keep
/// reminders, so that a chat that looks up its bills one after another may set all of them.
pub const SEEN_BILLS_KEPT: usize = 10;

/// One bill a chat was shown: which reference, due on which day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenBill {
    pub reference: CustomerReference,
    pub due_day: NaiveDate,
}

/// A chat's bills with a due day ahead, newest last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SeenBills(Vec<SeenBill>);

impl SeenBills {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Notes that the bill of `reference` due on `due_day` was shown on `today`: it replaces the
    /// one shown before for the same reference; bills already due before today, and the oldest
    /// beyond [`SEEN_BILLS_KEPT`], are forgotten.
    pub fn record(&mut self, reference: &CustomerReference, due_day: NaiveDate, today: NaiveDate) {
        self.0.retain(|b| &b.reference != reference && b.due_day >= today);
        self.0.push(SeenBill { reference: reference.clone(), due_day });
        let extra = self.0.len().saturating_sub(SEEN_BILLS_KEPT);
        self.0.drain(..extra);
    }

    /// Forgets the bills already due before `today`.
    pub fn drop_past(&mut self, today: NaiveDate) {
        self.0.retain(|b| b.due_day >= today);
    }

    /// Whether the chat was last shown the bill of `reference` as due on `due_day`.
    pub fn contains(&self, reference: &CustomerReference, due_day: NaiveDate) -> bool {
        self.0.iter().any(|b| &b.reference == reference && b.due_day == due_day)
    }
}
