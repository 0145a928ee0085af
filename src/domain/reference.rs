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

    /// The reference as the logs show it: its biller and its last 3 digits (`senelec:•••••••002`),
    /// enough to tell two apart in one chat's trail, too little to look anyone's bill up.
    pub fn for_log(&self) -> String {
        format!("{}:{}", self.biller.key(), mask_for_log(&self.digits))
    }
}

/// How many of a number's last characters the logs keep.
const LOG_KEEP: usize = 3;

/// A customer's number (a reference, a meter, a phone number) as the logs show it: all but its
/// last 3 characters hidden. Every log line that names one goes through here (or
/// [`CustomerReference::for_log`], or [`mask_numbers`] for free text).
pub fn mask_for_log(value: &str) -> String {
    mask_tail(value, LOG_KEEP)
}

/// `text` with every run of 6 digits or more masked as [`mask_for_log`] does: for free text that
/// may hold a customer's number (a button's payload, a provider's message, an error that quotes
/// one). Shorter runs (amounts, codes, dates' parts) are left as they are.
pub fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 6 {
            out.push_str(&mask_for_log(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

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

/// Replaces every character but the last `keep` with `•`.
pub fn mask_tail(value: &str, keep: usize) -> String {
    let count = value.chars().count();
    value.chars().enumerate().map(|(i, c)| if i + keep < count { '•' } else { c }).collect()
}

impl fmt::Display for CustomerReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digits)
    }
}
