//! Money and dates, written the way each language writes them. The separators, currency names
//! and month names come from the locale files; this module only arranges them.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};

use super::Lang;
use crate::domain::Money;
use crate::t;

/// `12 500 FCFA` in French, `12,500 FCFA` in English; two decimals where the currency has them.
pub fn money(lang: Lang, value: &Money) -> String {
    let amount = value.amount();
    let text = amount.abs().to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let group = t!(lang, "number-group-separator");
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3 * group.len());
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push_str(&group);
        }
        grouped.push(digit);
    }
    if !fraction.is_empty() {
        grouped.push_str(&t!(lang, "number-decimal-separator"));
        grouped.push_str(fraction);
    }
    if amount.is_sign_negative() && !amount.is_zero() {
        grouped.insert(0, '-');
    }
    let currency = t!(lang, &format!("currency-{}", value.currency().code()));
    t!(lang, "money", amount = grouped, currency = currency)
}

/// `13 juin 2022` / `13 Jun 2022`.
pub fn date(lang: Lang, day: NaiveDate) -> String {
    let month = t!(lang, &format!("month-{}", day.month()));
    t!(lang, "date", day = day.day().to_string(), month = month, year = day.year().to_string())
}

/// `13 juin 2022 à 21:06` / `13 Jun 2022, 21:06`. Times are shown as they come, in UTC, which is
/// Dakar's time all year round.
pub fn date_time(lang: Lang, at: DateTime<Utc>) -> String {
    let time = format!("{:02}:{:02}", at.hour(), at.minute());
    t!(lang, "date-time", date = date(lang, at.date_naive()), time = time)
}

/// A due date as the provider wrote it (`2026-12-15`, `15/12/2026`, a timestamp…), localized when
/// it is one of the usual forms and shown as sent otherwise.
pub fn due_date(lang: Lang, raw: &str) -> String {
    let raw = raw.trim();
    let parsed = ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(raw, f).ok())
        .or_else(|| DateTime::parse_from_rfc3339(raw).ok().map(|d| d.date_naive()))
        .or_else(|| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S").ok().map(|d| d.date()));
    parsed.map(|d| date(lang, d)).unwrap_or_else(|| raw.to_owned())
}
