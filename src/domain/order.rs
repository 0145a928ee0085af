//! Orders of the bill-status API: the order number, its normalized status and the order record.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::money::Money;
use super::separators::without_separators;
use super::{Biller, CustomerReference};

/// An order number, normalized.
///
/// The provider writes order numbers as `GB - 202206132206791818205`; people type them with or
/// without the `GB` prefix, in any case, with any spacing and dashes (every kind of dash: see
/// [`separators`](super::separators)). All of these are the same order, held as its digits; [`Display`](fmt::Display) gives the provider's canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderNo {
    digits: String,
}

/// The provider's order numbers run from 18 to 22 digits in the documents; the bounds leave room.
pub const ORDER_NO_MIN_DIGITS: usize = 12;
pub const ORDER_NO_MAX_DIGITS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderNoError {
    #[error("the order number is empty")]
    Empty,
    #[error("an order number is GB followed by digits, found {found:?}")]
    InvalidCharacter { found: char },
    #[error("an order number has {min} to {max} digits, this one has {actual}", min = ORDER_NO_MIN_DIGITS, max = ORDER_NO_MAX_DIGITS)]
    WrongLength { actual: usize },
}

/// The prefix the provider writes before an order's digits.
const PREFIX: &str = "GB";

/// The digits of `compact` (text without separators) after the `GB` prefix in any case, or
/// `None` when it does not start with the prefix.
fn after_prefix(compact: &str) -> Option<&str> {
    compact.get(..PREFIX.len())?.eq_ignore_ascii_case(PREFIX).then_some(())?;
    compact.get(PREFIX.len()..)
}

impl OrderNo {
    pub fn parse(input: &str) -> Result<OrderNo, OrderNoError> {
        OrderNo::parse_compact(&without_separators(input))
    }

    /// Whether `text` is written as an order number: the `GB` prefix (any case, any spacing and
    /// dashes) and a valid number after it. The dialogue takes such a text as an order wherever
    /// it is typed, even where a reference is awaited; digits alone stay ambiguous.
    pub fn looks_like(text: &str) -> bool {
        let compact = without_separators(text);
        after_prefix(&compact).is_some() && OrderNo::parse_compact(&compact).is_ok()
    }

    /// [`OrderNo::parse`] of a text already stripped of its separators.
    fn parse_compact(compact: &str) -> Result<OrderNo, OrderNoError> {
        if compact.is_empty() {
            return Err(OrderNoError::Empty);
        }
        let digits = after_prefix(compact).unwrap_or(compact);
        if let Some(found) = digits.chars().find(|c| !c.is_ascii_digit()) {
            return Err(OrderNoError::InvalidCharacter { found });
        }
        let actual = digits.len();
        if !(ORDER_NO_MIN_DIGITS..=ORDER_NO_MAX_DIGITS).contains(&actual) {
            return Err(OrderNoError::WrongLength { actual });
        }
        Ok(OrderNo { digits: digits.to_owned() })
    }

    /// The digits alone (the provider's `trx`).
    pub fn digits(&self) -> &str {
        &self.digits
    }
}

impl fmt::Display for OrderNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GB - {}", self.digits)
    }
}

impl FromStr for OrderNo {
    type Err = OrderNoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderNo::parse(s)
    }
}

impl TryFrom<String> for OrderNo {
    type Error = OrderNoError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        OrderNo::parse(&s)
    }
}

impl From<OrderNo> for String {
    fn from(o: OrderNo) -> String {
        o.to_string()
    }
}

/// The one status vocabulary billbot speaks, whatever the provider wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted, not finished yet.
    Pending,
    /// Delivered to the biller.
    Succeeded,
    /// Not delivered.
    Failed,
    /// Not delivered, and the money was given back.
    Refunded,
    /// A status word the provider has not documented; shown as such and never taken as final.
    Unknown,
}

impl OrderStatus {
    /// Normalizes the provider's `status` (any case) and `refunded` flag. A refund wins over any
    /// status word: a `delivered` order that was refunded is refunded.
    pub fn from_provider(status: &str, refunded: bool) -> OrderStatus {
        if refunded {
            return OrderStatus::Refunded;
        }
        match status.trim().to_ascii_lowercase().as_str() {
            "delivered" | "successful" | "success" | "succeeded" | "completed" | "done" => {
                OrderStatus::Succeeded
            }
            "pending" | "processing" | "initiated" | "queued" | "in progress" | "in_progress" => {
                OrderStatus::Pending
            }
            "fail" | "failed" | "failure" | "error" | "declined" | "cancelled" | "canceled" => {
                OrderStatus::Failed
            }
            "refunded" | "reversed" => OrderStatus::Refunded,
            _ => OrderStatus::Unknown,
        }
    }

    /// A final status never changes again; anything else is worth checking later.
    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Succeeded | OrderStatus::Failed | OrderStatus::Refunded)
    }

    /// Stable key, for message ids (`status-succeeded`) and JSON.
    pub fn key(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Succeeded => "succeeded",
            OrderStatus::Failed => "failed",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Unknown => "unknown",
        }
    }
}

/// An order as the bill-status API describes it, normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The order number (`orderNo`, or `ref` in the history when it is one).
    pub order_no: Option<OrderNo>,
    /// The provider's transaction id.
    pub trx: Option<String>,
    /// The reseller's own reference, when it sent one.
    pub reference: Option<String>,
    pub status: OrderStatus,
    /// The status word exactly as the provider sent it.
    pub provider_status: String,
    /// `errorMsg`: the provider's message about the outcome (success text or failure reason).
    pub message: Option<String>,
    pub service_type: Option<String>,
    pub provider: Option<String>,
    pub recipient: Option<String>,
    pub amount: Option<Money>,
    pub fee: Option<Money>,
    /// Token or voucher code(s) bought, as sent.
    pub purchased_code: Option<String>,
    pub units: Option<String>,
    pub refunded: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The merchant's own figures. Agents may see them; customers never.
    pub merchant: MerchantFields,
}

impl Order {
    /// The last 4 digits of the recipient (meter or phone number): what a customer types to show
    /// an order is theirs. `None` when the recipient has fewer digits, or none is known.
    pub fn recipient_last_digits(&self) -> Option<String> {
        let digits: Vec<char> = self.recipient.as_deref()?.chars().filter(char::is_ascii_digit).collect();
        (digits.len() >= 4).then(|| digits[digits.len() - 4..].iter().collect())
    }

    /// The reference this order paid, when it succeeded and its provider names a biller
    /// (`SENELEC`, `SENEAU`, `WOYOFAL`) whose rule the recipient satisfies: what a chat that
    /// owns the order has shown to be its own.
    pub fn paid_reference(&self) -> Option<CustomerReference> {
        if self.status != OrderStatus::Succeeded {
            return None;
        }
        let biller = Biller::from_key(&self.provider.as_deref()?.trim().to_ascii_lowercase())?;
        CustomerReference::parse(biller, self.recipient.as_deref()?).ok()
    }
}

/// The merchant-side fields of an order: wallet balances, commission, discount, channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MerchantFields {
    /// What the merchant's wallet paid: `amount - discount` in every sample, so it is the
    /// merchant's cost, not the customer's.
    pub paid: Option<Money>,
    pub discount: Option<Money>,
    pub voucher: Option<Money>,
    pub init_bal: Option<Money>,
    pub new_bal: Option<Money>,
    pub cg: Option<Money>,
    pub init_cg: Option<Money>,
    pub new_cg: Option<Money>,
    pub debit: Option<String>,
    pub channel: Option<String>,
}
