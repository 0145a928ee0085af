//! What a bill inquiry finds: postpaid bills to settle, or a prepaid meter to top up.

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
