//! Customer references: the meter, police or customer number a customer types.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::biller::Biller;
use super::separators::is_separator;

/// A customer reference that satisfies its biller's [`ReferenceRule`](super::biller::ReferenceRule).
///
/// People copy numbers from paper bills with spaces and dashes (`12-345 678`), so those are
/// stripped (the same [`separators`](super::separators) as in order numbers); anything else that
/// is not a digit is rejected with the offending character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CustomerReference {
    biller: Biller,
    digits: String,
}

/// Why a typed reference was rejected. Each variant carries what the user needs to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("the reference is empty")]
    Empty,
    #[error("the reference may only contain digits, found {found:?}")]
    InvalidCharacter { found: char },
    #[error("the reference has {actual} digits, at least {min} are expected")]
    TooShort { min: usize, actual: usize },
    #[error("the reference has {actual} digits, at most {max} are expected")]
    TooLong { max: usize, actual: usize },
}

impl CustomerReference {
    /// Parses what a user typed for `biller`.
    pub fn parse(biller: Biller, input: &str) -> Result<Self, ReferenceError> {
        let mut digits = String::with_capacity(input.len());
        for c in input.chars().filter(|c| !is_separator(*c)) {
            if !c.is_ascii_digit() {
                return Err(ReferenceError::InvalidCharacter { found: c });
            }
            digits.push(c);
        }
        let rule = biller.reference_rule();
        let actual = digits.len();
        if actual == 0 {
            return Err(ReferenceError::Empty);
        }
        if actual < rule.min_digits {
            return Err(ReferenceError::TooShort { min: rule.min_digits, actual });
        }
        if actual > rule.max_digits {
            return Err(ReferenceError::TooLong { max: rule.max_digits, actual });
        }
        Ok(CustomerReference { biller, digits })
    }

    pub fn biller(&self) -> Biller {
        self.biller
    }

    /// The digits, as sent to the provider.
    pub fn as_str(&self) -> &str {
        &self.digits
    }

    /// The reference with all but its last four digits hidden, for showing to someone else.
    pub fn masked(&self) -> String {
        mask_tail(&self.digits, 4)
    }
}

/// Replaces every character but the last `keep` with `•`.
/// A name or an address with each word cut to its first character and `•••`: enough for its
/// owner to recognize it (`A••• N••• S•••`), too little to read someone else's, and the same
/// length for any word. One-character words are kept.
pub fn mask_words(value: &str) -> String {
    value
        .split_whitespace()
        .map(|word| {
            let mut chars = word.chars();
            match (chars.next(), chars.next()) {
                (Some(first), Some(_)) => format!("{first}•••"),
                _ => word.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn mask_tail(value: &str, keep: usize) -> String {
    let count = value.chars().count();
    value.chars().enumerate().map(|(i, c)| if i + keep < count { '•' } else { c }).collect()
}

impl fmt::Display for CustomerReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digits)
    }
}
