//! Money and dates, written the way each language writes them. The separators, currency names
//! and month names come from the locale files; this module only arranges them.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

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
    crate::domain::bill::parse_day(raw).map(|d| date(lang, d)).unwrap_or_else(|| raw.trim().to_owned())
}

/// A due date with how far it is, `days_left` days from today: `15 Dec 2026 (due in 3 days)`,
/// `(due today)`, `(overdue by 5 days)`; French `15 déc. 2026 (dans 3 jours)`, `(en retard de
/// 5 jours)`.
pub fn due_date_and_distance(lang: Lang, due: NaiveDate, days_left: i64) -> String {
    let distance = match days_left {
        0 => t!(lang, "due-today"),
        d if d > 0 => t!(lang, "due-in-days", days = d),
        d => t!(lang, "overdue-by-days", days = -d),
    };
    t!(lang, "due-date-and-distance", date = date(lang, due), distance = distance)
}

/// `text` with every decimal number in it (`31.4`) written with the language's decimal
/// separator (`31,4` in French); whatever else it holds is kept as it is (`31.4 kWh`).
pub fn decimals(lang: Lang, text: &str) -> String {
    let separator = t!(lang, "number-decimal-separator");
    if separator == "." {
        return text.to_owned();
    }
    // Runs of digits and dots: a run that is digits, one dot, digits is a decimal number;
    // anything else (`1.2.3`, `v.`, `3.`) is left alone.
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        match run.split_once('.') {
            Some((whole, fraction))
                if !whole.is_empty() && !fraction.is_empty() && !fraction.contains('.') =>
            {
                out.push_str(whole);
                out.push_str(&separator);
                out.push_str(fraction);
            }
            _ => out.push_str(run),
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}
