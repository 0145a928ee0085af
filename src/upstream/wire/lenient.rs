//! Serde helpers that accept the loose JSON providers send.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serializer};
use serde_json::Value;

/// A string, or a number or boolean written out; `null` and blank strings are `None`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    })
}

/// A decimal written as a JSON number or a string (`"250.00"`); `null` and blank are `None`.
pub fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let text = match Value::deserialize(d)? {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        other => {
            return Err(serde::de::Error::custom(format!("expected an amount, found {other}")));
        }
    };
    parse_decimal(text.trim())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("expected an amount, found {text:?}")))
}

fn parse_decimal(text: &str) -> Option<Decimal> {
    Decimal::from_str(text).or_else(|_| Decimal::from_scientific(text)).ok()
}

/// A flag written as a boolean, `0`/`1`, or a string of either; `null` is `None`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let value = Value::deserialize(d)?;
    let flag = match &value {
        Value::Null => return Ok(None),
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "y" => Some(true),
            "0" | "false" | "no" | "n" | "" => Some(false),
            _ => None,
        },
        Value::Array(_) | Value::Object(_) => None,
    };
    flag.map(Some).ok_or_else(|| serde::de::Error::custom(format!("expected a flag, found {value}")))
}

/// A count written as a number or a string.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Writes an amount as the inquiry API does: a JSON number. Whole amounts (every XOF amount) are
/// written as integers; a fractional one as its exact decimal text, which the decoder accepts.
pub fn ser_decimal_number<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        Some(d) if d.fract().is_zero() => match i64::try_from(d.trunc()) {
            Ok(i) => s.serialize_i64(i),
            Err(_) => s.serialize_str(&d.to_string()),
        },
        Some(d) => s.serialize_str(&d.to_string()),
    }
}

/// Writes an amount as the status API does: a string (`"500.00"`).
pub fn ser_decimal_string<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        Some(d) => s.serialize_str(&d.to_string()),
    }
}
