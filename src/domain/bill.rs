//! What a bill inquiry finds: postpaid bills to settle, or a prepaid meter to top up.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::biller::Biller;
use super::money::Money;
use super::reference::CustomerReference;

/// The answer to one inquiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InquiryResult {
    /// SenEau and Senelec: every bill on the account, paid or not, in the provider's order.
    Bills { reference: CustomerReference, bills: Vec<Bill> },
    /// Woyofal: the meter; the amount is chosen by the customer at payment.
    Meter { reference: CustomerReference, meter: Meter },
}

/// One postpaid bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bill {
    /// `referenceFacture`.
    pub bill_reference: Option<String>,
    /// `nom`: the account holder, when the provider knows it. Any character may appear.
    pub holder: Option<String>,
    pub amount: Money,
    pub fee: Money,
    /// `total`, or `amount + fee` when the provider left it out.
    pub total: Money,
    /// `dateEcheance`, as sent (the document gives no format); views parse the usual ones.
    pub due_date: Option<String>,
    pub paid: bool,
}

impl Bill {
    /// The due date, when the provider wrote it in one of the usual forms (`2026-12-15`,
    /// `15/12/2026`, an RFC 3339 timestamp…).
    pub fn due_day(&self) -> Option<NaiveDate> {
        self.due_date.as_deref().and_then(parse_day)
    }
}

/// A day as providers write them; `None` for anything else ("fin du mois").
pub fn parse_day(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(raw, f).ok())
        .or_else(|| DateTime::parse_from_rfc3339(raw).ok().map(|d| d.date_naive()))
        .or_else(|| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S").ok().map(|d| d.date()))
}

/// A Woyofal meter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meter {
    /// `referenceClient`: the meter number as the provider knows it.
    pub meter_number: Option<String>,
    /// `nom`.
    pub holder: Option<String>,
    pub address: Option<String>,
    /// `meterStatus`, as sent (e.g. `ACTIVE`).
    pub status: Option<String>,
    /// `referenceFacture`: for Woyofal the provider's session token for the payment step.
    pub session: Option<String>,
}

impl InquiryResult {
    pub fn reference(&self) -> &CustomerReference {
        match self {
            InquiryResult::Bills { reference, .. } | InquiryResult::Meter { reference, .. } => reference,
        }
    }

    pub fn biller(&self) -> Biller {
        self.reference().biller()
    }

    /// The bills still to pay (none for a meter).
    pub fn unpaid(&self) -> impl Iterator<Item = &Bill> {
        let bills: &[Bill] = match self {
            InquiryResult::Bills { bills, .. } => bills,
            InquiryResult::Meter { .. } => &[],
        };
        bills.iter().filter(|b| !b.paid)
    }
}
