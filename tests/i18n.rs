//! French and English text: money and dates per language, and the locale files' completeness.

use std::collections::BTreeSet;
use std::str::FromStr;

use billbot::domain::{Currency, Money};
use billbot::i18n::{Lang, format, has_message};
use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;

fn xof(text: &str) -> Money {
    Money::new(Decimal::from_str(text).unwrap(), Currency::Xof)
}

#[test]
fn money_is_written_the_french_way_in_french() {
    assert_eq!(format::money(Lang::Fr, &xof("12500")), "12\u{a0}500 FCFA");
    assert_eq!(format::money(Lang::Fr, &xof("1250000")), "1\u{a0}250\u{a0}000 FCFA");
    assert_eq!(format::money(Lang::Fr, &xof("500")), "500 FCFA");
    let naira = Money::new(Decimal::from_str("1234.5").unwrap(), Currency::Ngn);
    assert_eq!(format::money(Lang::Fr, &naira), "1\u{a0}234,50 NGN");
}

#[test]
fn money_is_written_the_english_way_in_english() {
    assert_eq!(format::money(Lang::En, &xof("12500")), "12,500 FCFA");
    assert_eq!(format::money(Lang::En, &xof("0")), "0 FCFA");
    assert_eq!(format::money(Lang::En, &xof("-1500")), "-1,500 FCFA");
    let naira = Money::new(Decimal::from_str("1234.5").unwrap(), Currency::Ngn);
    assert_eq!(format::money(Lang::En, &naira), "1,234.50 NGN");
}

#[test]
fn dates_are_localized() {
    let day = NaiveDate::from_ymd_opt(2026, 12, 15).unwrap();
    assert_eq!(format::date(Lang::Fr, day), "15 déc. 2026");
    assert_eq!(format::date(Lang::En, day), "15 Dec 2026");
    let at = Utc.with_ymd_and_hms(2022, 6, 13, 21, 6, 57).unwrap();
    assert_eq!(format::date_time(Lang::Fr, at), "13 juin 2022 à 21:06");
    assert_eq!(format::date_time(Lang::En, at), "13 Jun 2022, 21:06");
}

#[test]
fn due_dates_in_usual_forms_are_localized_and_others_shown_as_sent() {
    assert_eq!(format::due_date(Lang::En, "2026-12-15"), "15 Dec 2026");
    assert_eq!(format::due_date(Lang::En, "15/12/2026"), "15 Dec 2026");
    assert_eq!(format::due_date(Lang::Fr, "2026-12-31T00:00:00.000000Z"), "31 déc. 2026");
    assert_eq!(format::due_date(Lang::Fr, "fin du mois"), "fin du mois");
}

#[test]
fn language_codes_choose_french_for_any_fr_variant() {
    assert_eq!(Lang::from_code("fr"), Lang::Fr);
    assert_eq!(Lang::from_code("fr-SN"), Lang::Fr);
    assert_eq!(Lang::from_code("fr_FR.UTF-8"), Lang::Fr);
    assert_eq!(Lang::from_code("en-US"), Lang::En);
    assert_eq!(Lang::from_code("wo"), Lang::En);
    assert_eq!(Lang::from_code(""), Lang::En);
    assert!(Lang::from_str("de").is_err());
}

/// Message ids defined in `locales/<lang>/*.ftl`.
fn ids(lang: &str) -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales").join(lang);
    let mut ids = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            if let Some((id, _)) = line.split_once(" =")
                && !id.is_empty()
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                ids.insert(id.to_owned());
            }
        }
    }
    ids
}

#[test]
fn every_message_exists_in_both_languages() {
    let fr = ids("fr");
    let en = ids("en");
    assert!(en.len() > 50, "the locale files were read ({} ids)", en.len());
    let only_en: Vec<_> = en.difference(&fr).collect();
    let only_fr: Vec<_> = fr.difference(&en).collect();
    assert!(only_en.is_empty() && only_fr.is_empty(), "only in en: {only_en:?}; only in fr: {only_fr:?}");
    for id in &en {
        assert!(has_message(Lang::En, id) && has_message(Lang::Fr, id), "{id} does not load");
    }
}
