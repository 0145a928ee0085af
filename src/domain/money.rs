//! Money: an exact decimal amount with its currency. Never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The currencies the providers deal in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    /// West African CFA franc (Senegal). No minor unit: 12 500 FCFA, never 12 500.00.
    #[serde(rename = "XOF")]
    Xof,
    /// Nigerian naira, in which the bill-status document's samples are written. Two minor digits.
    #[serde(rename = "NGN")]
    Ngn,
}

impl Currency {
    /// ISO 4217 code.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Xof => "XOF",
            Currency::Ngn => "NGN",
        }
    }

    /// Number of digits after the decimal point (ISO 4217 minor unit).
    pub fn minor_units(self) -> u32 {
        match self {
            Currency::Xof => 0,
            Currency::Ngn => 2,
        }
    }
}

impl FromStr for Currency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "XOF" => Ok(Currency::Xof),
            "NGN" => Ok(Currency::Ngn),
            other => Err(format!("unsupported currency {other:?} (expected XOF or NGN)")),
        }
    }
}

/// An amount of money.
///
/// The amount is kept at the currency's scale when that loses nothing ("250.00" XOF becomes 250,
/// "100" NGN becomes 100.00). A provider figure finer than the currency allows (a merchant balance
/// of "7290.78" XOF) is kept exactly as sent rather than rounded: money is never silently changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
    amount: Decimal,
    currency: Currency,
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Money {
        let minor = currency.minor_units();
        let mut amount = amount.normalize();
        if amount.scale() < minor {
            amount.rescale(minor);
        }
        Money { amount, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money::new(Decimal::ZERO, currency)
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// The sum of two amounts of the same currency; `None` across currencies or on overflow.
    pub fn checked_add(&self, other: &Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        Some(Money::new(self.amount.checked_add(other.amount)?, self.currency))
    }
}

/// Machine form, as in logs and `--json`: `12500 XOF`. People see the localized form from `i18n`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency.code())
    }
}
