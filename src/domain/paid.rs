//! The references a chat has paid through billbot: its proof that a bill is its own, so that
//! its lookups of that reference show the holder's name and address in full (see
//! [`crate::views::inquiry`]). Kept in the chat's prefs, noted when the chat, owning an order,
//! is shown it succeeded.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::CustomerReference;

/// References kept at most, the latest payment of each, newest last.
pub const PAID_KEPT: usize = 10;
/// How long a payment proves a reference is the chat's: as long as orders are kept by default.
pub const PAID_PROOF_DAYS: i64 = 180;

/// One reference a chat paid, and on which day it was last shown paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaidReference {
    pub reference: CustomerReference,
    pub day: NaiveDate,
}

/// A chat's paid references, newest last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaidReferences(Vec<PaidReference>);

impl PaidReferences {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Notes that `reference` was shown paid on `today`: it replaces an older note of the same
    /// reference; notes past [`PAID_PROOF_DAYS`], and the oldest beyond [`PAID_KEPT`], go.
    pub fn record(&mut self, reference: &CustomerReference, today: NaiveDate) {
        self.0.retain(|p| &p.reference != reference && fresh(p.day, today));
        self.0.push(PaidReference { reference: reference.clone(), day: today });
        let extra = self.0.len().saturating_sub(PAID_KEPT);
        self.0.drain(..extra);
    }

    /// Forgets the payments older than [`PAID_PROOF_DAYS`].
    pub fn drop_expired(&mut self, today: NaiveDate) {
        self.0.retain(|p| fresh(p.day, today));
    }

    /// Whether the chat paid `reference` within the last [`PAID_PROOF_DAYS`].
    pub fn contains(&self, reference: &CustomerReference, today: NaiveDate) -> bool {
        self.0.iter().any(|p| &p.reference == reference && fresh(p.day, today))
    }
}

fn fresh(day: NaiveDate, today: NaiveDate) -> bool {
    (today - day).num_days() < PAID_PROOF_DAYS
}
