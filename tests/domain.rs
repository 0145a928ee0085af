//! The domain parsers and normalizers: order numbers, references, statuses, money.

use billbot::domain::{
    Biller, BillerKind, Currency, CustomerReference, Money, OrderNo, OrderNoError, OrderStatus,
    ReferenceError,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::str::FromStr;

#[test]
fn the_four_spellings_of_an_order_number_are_the_same_order() {
    let spellings = [
        "GB - 202206132206791818205",
        "gb-202206132206791818205",
        " GB 202206132206791818205 ",
        "202206132206791818205",
    ];
    let parsed: Vec<OrderNo> = spellings.iter().map(|s| OrderNo::parse(s).unwrap()).collect();
    for order in &parsed {
        assert_eq!(order, &parsed[0]);
        assert_eq!(order.to_string(), "GB - 202206132206791818205");
        assert_eq!(order.digits(), "202206132206791818205");
    }
}

#[test]
fn order_numbers_with_letters_or_wrong_lengths_are_rejected_with_the_reason() {
    assert_eq!(OrderNo::parse("   "), Err(OrderNoError::Empty));
    assert_eq!(OrderNo::parse("GB - 2022x"), Err(OrderNoError::InvalidCharacter { found: 'x' }));
    assert_eq!(
        OrderNo::parse("XY-202206132206791818205"),
        Err(OrderNoError::InvalidCharacter { found: 'X' })
    );
    assert_eq!(OrderNo::parse("GB - 12345"), Err(OrderNoError::WrongLength { actual: 5 }));
    assert_eq!(OrderNo::parse(&"9".repeat(33)), Err(OrderNoError::WrongLength { actual: 33 }));
    assert_eq!(OrderNo::parse("GB"), Err(OrderNoError::WrongLength { actual: 0 }));
}

#[test]
fn an_order_number_round_trips_through_json_in_canonical_form() {
    let order = OrderNo::parse("gb-202206132206791818205").unwrap();
    let json = serde_json::to_string(&order).unwrap();
    assert_eq!(json, "\"GB - 202206132206791818205\"");
    assert_eq!(serde_json::from_str::<OrderNo>(&json).unwrap(), order);
    assert!(serde_json::from_str::<OrderNo>("\"nonsense\"").is_err());
}

fn spacing() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec![" ", "-", "  ", " - ", "\t"]), 0..3)
        .prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn any_spelling_of_prefix_case_and_spacing_gives_the_same_order(
        digits in "[0-9]{12,32}",
        prefix in prop::sample::select(vec!["", "GB", "gb", "Gb", "gB"]),
        before in spacing(),
        middle in spacing(),
        after in spacing(),
    ) {
        let typed = format!("{before}{prefix}{middle}{digits}{after}");
        let order = OrderNo::parse(&typed).unwrap();
        prop_assert_eq!(order.digits(), digits.as_str());
        prop_assert_eq!(OrderNo::parse(&order.to_string()).unwrap(), order);
    }

    #[test]
    fn a_text_recognized_as_an_order_parses_as_one(input in "\\PC{0,40}") {
        if OrderNo::looks_like(&input) {
            prop_assert!(OrderNo::parse(&input).is_ok());
        }
    }

    #[test]
    fn order_parsing_never_panics(input in "\\PC{0,40}") {
        let _ = OrderNo::parse(&input);
    }

    #[test]
    fn a_reference_keeps_exactly_its_digits_whatever_the_separators(
        groups in prop::collection::vec("[0-9]{1,4}", 1..5),
        separator in prop::sample::select(vec![" ", "-", " - ", "\u{00A0}", "\u{2013}"]),
    ) {
        let typed = groups.join(separator);
        let digits: String = groups.concat();
        match CustomerReference::parse(Biller::Senelec, &typed) {
            Ok(reference) => prop_assert_eq!(reference.as_str(), digits.as_str()),
            Err(ReferenceError::TooShort { actual, min }) => {
                prop_assert_eq!(actual, digits.len());
                prop_assert!(actual < min);
            }
            Err(ReferenceError::TooLong { actual, max }) => {
                prop_assert_eq!(actual, digits.len());
                prop_assert!(actual > max);
            }
            Err(other) => prop_assert!(false, "unexpected rejection {other:?}"),
        }
    }

    #[test]
    fn reference_parsing_never_panics(input in "\\PC{0,40}", biller in prop::sample::select(Biller::ALL.to_vec())) {
        let _ = CustomerReference::parse(biller, &input);
    }
}

#[test]
fn references_are_stripped_of_spaces_and_dashes() {
    let r = CustomerReference::parse(Biller::Woyofal, " 140-0000 0001 ").unwrap();
    assert_eq!(r.as_str(), "14000000001");
    assert_eq!(r.biller(), Biller::Woyofal);
}

/// Every dash a phone or a word processor may put in a number, with its name.
const DASHES: [(char, &str); 11] = [
    ('-', "hyphen-minus"),
    ('\u{2010}', "hyphen"),
    ('\u{2011}', "non-breaking hyphen"),
    ('\u{2012}', "figure dash"),
    ('\u{2013}', "en dash"),
    ('\u{2014}', "em dash"),
    ('\u{2015}', "horizontal bar"),
    ('\u{2212}', "minus sign"),
    ('\u{FE58}', "small em dash"),
    ('\u{FE63}', "small hyphen-minus"),
    ('\u{FF0D}', "full-width hyphen-minus"),
];

#[test]
fn every_kind_of_dash_separates_digits_in_orders_and_references_alike() {
    use billbot::domain::separators::{is_dash, is_separator, without_separators};
    for (dash, name) in DASHES {
        assert!(is_dash(dash) && is_separator(dash), "{name}");
        let order = format!("GB {dash} 2022{dash}0613 2206791818205");
        assert_eq!(OrderNo::parse(&order).unwrap().digits(), "202206132206791818205", "{name}");
        assert!(OrderNo::looks_like(&order), "{name}");
        let reference = format!("140{dash}0000 0001");
        assert_eq!(CustomerReference::parse(Biller::Woyofal, &reference).unwrap().as_str(), "14000000001");
        assert_eq!(without_separators(&reference), "14000000001", "{name}");
        assert_eq!(
            CustomerReference::parse(Biller::SenEau, &format!(" {dash} ")),
            Err(ReferenceError::Empty)
        );
        assert_eq!(OrderNo::parse(&format!("{dash}{dash}")), Err(OrderNoError::Empty), "{name}");
    }
    // Lookalikes that are no dash stay what they are: a character a number cannot hold.
    for other in ['_', '~', '.', '/', '\u{00AD}', '\u{2016}', '\u{2043}', '\u{30FC}'] {
        assert!(!is_dash(other), "{other:?}");
        let typed = format!("140{other}00000001");
        assert_eq!(
            CustomerReference::parse(Biller::Woyofal, &typed),
            Err(ReferenceError::InvalidCharacter { found: other })
        );
        assert_eq!(OrderNo::parse(&typed), Err(OrderNoError::InvalidCharacter { found: other }));
    }
    assert!(is_separator('\u{00A0}') && !is_dash('\u{00A0}'), "a no-break space is a space");
}

#[test]
fn an_order_number_is_recognized_by_its_gb_prefix_in_any_case_and_spacing() {
    for typed in [
        "GB - 202206132206791818205",
        "GB-202206132206791818205",
        "gb202206132206791818205",
        "Gb 2022 0613 2206 7918 18205",
        "  gB  -  202206132206791818205  ",
        "\tGB\u{00A0}\u{2013}\u{00A0}202206132206791818205\n",
        "G B 202206132206791818205",
        "- GB 202206132206791818205",
    ] {
        assert!(OrderNo::looks_like(typed), "{typed:?}");
        assert_eq!(OrderNo::parse(typed).unwrap().digits(), "202206132206791818205", "{typed:?}");
    }
}

#[test]
fn digits_alone_or_anything_but_a_valid_gb_number_is_not_written_as_an_order() {
    // Digits alone parse as an order number, but may as well be a reference: not recognized.
    assert!(OrderNo::parse("202206132206791818205").is_ok());
    for typed in [
        "202206132206791818205",
        "14000000001",
        "",
        "   ",
        "GB",
        "GB - ",
        "GB 12345",
        &format!("GB {}", "9".repeat(33)),
        "GB - 2022x0613220679181820",
        "GBX202206132206791818205",
        "202206132206791818205 GB",
        "XY-202206132206791818205",
        "hello",
        "gbp 202206132206791818205",
        "ГВ 202206132206791818205",
    ] {
        assert!(!OrderNo::looks_like(typed), "{typed:?}");
    }
}

#[test]
fn a_rejected_reference_says_why() {
    assert_eq!(CustomerReference::parse(Biller::SenEau, " - "), Err(ReferenceError::Empty));
    assert_eq!(
        CustomerReference::parse(Biller::SenEau, "12A456"),
        Err(ReferenceError::InvalidCharacter { found: 'A' })
    );
    assert_eq!(
        CustomerReference::parse(Biller::Woyofal, "1234567890"),
        Err(ReferenceError::TooShort { min: 11, actual: 10 })
    );
    assert_eq!(
        CustomerReference::parse(Biller::SenEau, "1234567890123"),
        Err(ReferenceError::TooLong { max: 12, actual: 13 })
    );
}

#[test]
fn each_biller_has_its_documented_bounds_and_kind() {
    let bounds: Vec<(Biller, usize, usize, BillerKind)> = Biller::ALL
        .iter()
        .map(|b| (*b, b.reference_rule().min_digits, b.reference_rule().max_digits, b.kind()))
        .collect();
    assert_eq!(
        bounds,
        vec![
            (Biller::SenEau, 6, 12, BillerKind::Postpaid),
            (Biller::Senelec, 6, 14, BillerKind::Postpaid),
            (Biller::Woyofal, 11, 13, BillerKind::Prepaid),
        ]
    );
    for biller in Biller::ALL {
        let rule = biller.reference_rule();
        assert!(CustomerReference::parse(biller, &"1".repeat(rule.min_digits)).is_ok());
        assert!(CustomerReference::parse(biller, &"1".repeat(rule.max_digits)).is_ok());
        assert!(CustomerReference::parse(biller, &"1".repeat(rule.min_digits - 1)).is_err());
        assert!(CustomerReference::parse(biller, &"1".repeat(rule.max_digits + 1)).is_err());
    }
}

#[test]
fn service_codes_parse_in_any_case_and_unknown_ones_are_refused() {
    assert_eq!(Biller::from_str(" senelec_sn_bill ").unwrap(), Biller::Senelec);
    assert_eq!(Biller::from_str("WOYOFAL_SN_BILL").unwrap().service_code(), "WOYOFAL_SN_BILL");
    assert!(Biller::from_str("ORANGE_SN_BILL").is_err());
}

#[test]
fn masked_references_show_only_the_last_four_digits() {
    let r = CustomerReference::parse(Biller::Woyofal, "14000000001").unwrap();
    assert_eq!(r.masked(), "•••••••0001");
}

#[test]
fn provider_status_words_normalize_in_any_case() {
    use OrderStatus::*;
    let cases = [
        ("delivered", false, Succeeded),
        ("successful", false, Succeeded),
        ("SUCCESS", false, Succeeded),
        ("Success", false, Succeeded),
        ("PENDING", false, Pending),
        ("processing", false, Pending),
        ("FAIL", false, Failed),
        ("failed", false, Failed),
        ("FAIL", true, Refunded),
        ("delivered", true, Refunded),
        ("PENDING", true, Refunded),
        ("ON_HOLD", false, Unknown),
        ("", false, Unknown),
    ];
    for (word, refunded, expected) in cases {
        assert_eq!(OrderStatus::from_provider(word, refunded), expected, "{word:?} refunded={refunded}");
    }
    assert!(Succeeded.is_final() && Failed.is_final() && Refunded.is_final());
    assert!(!Pending.is_final() && !Unknown.is_final());
}

#[test]
fn money_keeps_the_currency_scale_without_losing_anything() {
    let xof = Money::new(Decimal::from_str("250.00").unwrap(), Currency::Xof);
    assert_eq!(xof.amount().to_string(), "250");
    let ngn = Money::new(Decimal::from_str("100").unwrap(), Currency::Ngn);
    assert_eq!(ngn.amount().to_string(), "100.00");
    let odd = Money::new(Decimal::from_str("7290.78").unwrap(), Currency::Xof);
    assert_eq!(odd.amount().to_string(), "7290.78", "a finer amount is kept, never rounded");
    assert_eq!(xof.checked_add(&xof).unwrap().amount(), Decimal::from(500));
    assert!(xof.checked_add(&ngn).is_none(), "no sums across currencies");
    assert_eq!(Currency::Xof.minor_units(), 0);
    assert_eq!(Currency::Ngn.minor_units(), 2);
}

#[test]
fn money_serializes_its_amount_as_an_exact_string() {
    let m = Money::new(Decimal::from_str("12500").unwrap(), Currency::Xof);
    assert_eq!(serde_json::to_value(m).unwrap(), serde_json::json!({"amount": "12500", "currency": "XOF"}));
}

#[test]
fn chat_keys_keep_their_channel_through_the_stored_form() {
    use billbot::domain::{Channel, ChatKey};
    let keys = [ChatKey::telegram(-100123), ChatKey::whatsapp("221771234567"), ChatKey::terminal("demo")];
    for key in &keys {
        let back: ChatKey = key.storage_key().parse().unwrap();
        assert_eq!(&back, key);
        let json = serde_json::to_string(key).unwrap();
        assert_eq!(serde_json::from_str::<ChatKey>(&json).unwrap(), *key);
    }
    assert_eq!(keys[0].storage_key(), "tg:-100123");
    assert_eq!(keys[0].telegram_id(), Some(-100123));
    assert_eq!(keys[1].telegram_id(), None, "a WhatsApp chat has no Telegram id");
    assert_eq!(keys[1].channel(), Channel::WhatsApp);
    // A business-scoped WhatsApp user id contains a dot and letters: still one id.
    let bsuid: ChatKey = "wa:SN.1502576394655843".parse().unwrap();
    assert_eq!(bsuid.id(), "SN.1502576394655843");
    for bad in ["", "tg", "tg:", "xx:1", ":1"] {
        assert!(bad.parse::<ChatKey>().is_err(), "{bad:?}");
    }
}

#[test]
fn every_channel_carries_the_longest_button_payload_the_core_makes() {
    use billbot::conversation::payload::MAX_PAYLOAD_BYTES;
    use billbot::domain::Channel;
    for channel in Channel::ALL {
        assert!(channel.capabilities().max_payload_bytes >= MAX_PAYLOAD_BYTES, "{channel}");
    }
}

#[test]
fn names_and_addresses_are_masked_word_by_word_whatever_their_characters() {
    use billbot::domain::reference::mask_words;
    assert_eq!(mask_words("Moussa Diop"), "M••• D•••");
    assert_eq!(mask_words("Aïssatou N'Diaye-Sène"), "A••• N•••");
    assert_eq!(mask_words("  Rue 10 x 15  "), "R••• 1••• x 1•••", "one-letter words stay, spaces fold");
    assert_eq!(mask_words("Élodie"), "É•••", "the first character, not the first byte");
    assert_eq!(mask_words("🏠 Villa"), "🏠 V•••");
    assert_eq!(mask_words(""), "");
}

#[test]
fn a_stranger_sees_the_first_name_in_full_and_the_other_names_as_initials() {
    use billbot::domain::privacy::recognizable_name;
    assert_eq!(recognizable_name("Moussa Ndiaye"), "Moussa N.");
    assert_eq!(recognizable_name("Mame Diarra Bousso"), "Mame D. B.");
    assert_eq!(recognizable_name("Aïssatou N'Diaye-Sène"), "Aïssatou N.");
    assert_eq!(recognizable_name("N'Diaye"), "N'Diaye", "a single name is only a given name");
    assert_eq!(recognizable_name("Élodie (Fatou) Sow"), "Élodie F. S.", "the first letter, not the bracket");
    assert_eq!(recognizable_name("محمد علي"), "محمد ع.", "any script");
    assert_eq!(recognizable_name("张 伟"), "张 伟.");
    assert_eq!(recognizable_name("  Awa \t Sarr  "), "Awa S.", "spaces fold");
    assert_eq!(recognizable_name(""), "");
    assert_eq!(recognizable_name("   "), "");
    assert_eq!(recognizable_name("_*[]() !<>&"), "", "punctuation is no name");
    assert_eq!(recognizable_name("Aïssatou N'Diaye-Sène _*[]()~`>#+-=|{}.!<>&"), "Aïssatou N.");
    assert_eq!(recognizable_name("221771234567 Diop"), "2. D.", "a number is never shown in full");
}

#[test]
fn a_very_long_name_is_cut_whatever_its_length() {
    use billbot::domain::privacy::recognizable_name;
    let long = "Abdou".repeat(1_000);
    let shown = recognizable_name(&format!("{long} {}", "Diop ".repeat(1_000)));
    assert_eq!(shown, "AbdouAbdouAbdouAbdouAbd… D. D. D. D.", "24 characters, 4 initials");
    assert_eq!(recognizable_name(&"é".repeat(24)), "é".repeat(24), "24 characters are kept whole");
}

#[test]
fn an_address_shows_its_locality_only_when_its_last_part_is_a_place_name() {
    use billbot::domain::privacy::locality;
    assert_eq!(locality("Cité Keur Gorgui, Villa 12, Dakar"), Some("Dakar"));
    assert_eq!(locality("Quartier Escale,  Saint-Louis , "), Some("Saint-Louis"), "empty parts skipped");
    assert_eq!(locality("HLM 5, Thiès"), Some("Thiès"));
    assert_eq!(locality("Dakar"), None, "no comma: the whole address is no locality");
    assert_eq!(locality("Villa 12, Dakar 10200"), None, "digits: too precise");
    assert_eq!(locality("Rue 10 x 15 <Médina> & \"Fass\" #3 [bloc *B*]"), None);
    assert_eq!(locality("Villa 12, ***"), None, "no letter");
    assert_eq!(locality(&format!("Villa 12, {}", "Keur".repeat(10))), None, "too long to be a place");
    assert_eq!(locality(""), None);
    assert_eq!(locality(",,,"), None);
}

#[test]
fn a_paid_reference_proves_ownership_for_180_days_and_ten_are_kept() {
    use billbot::domain::paid::{PAID_KEPT, PaidReferences};
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(d);
    let meter = CustomerReference::parse(Biller::Woyofal, "14000000001").unwrap();
    let mut paid = PaidReferences::default();
    assert!(!paid.contains(&meter, day(0)));
    paid.record(&meter, day(0));
    assert!(paid.contains(&meter, day(179)));
    assert!(!paid.contains(&meter, day(180)), "a proof runs out");
    let other_biller = CustomerReference::parse(Biller::Senelec, "14000000001").unwrap();
    assert!(!paid.contains(&other_biller, day(1)), "the same digits at another biller are not it");
    for n in 0..PAID_KEPT as u64 {
        paid.record(
            &CustomerReference::parse(Biller::Senelec, &format!("{}", 1_000_000_000 + n)).unwrap(),
            day(1),
        );
    }
    assert!(!paid.contains(&meter, day(1)), "the oldest gave way");
    assert!(paid.contains(&CustomerReference::parse(Biller::Senelec, "1000000009").unwrap(), day(1)));
}

#[test]
fn only_a_succeeded_order_with_a_known_biller_names_the_reference_it_paid() {
    let order: billbot::domain::Order = serde_json::from_value(serde_json::json!({
        "order_no": null, "trx": null, "reference": null, "status": "succeeded",
        "provider_status": "SUCCESS", "message": null, "service_type": null, "provider": " Woyofal ",
        "recipient": "140-0000 0001", "amount": null, "fee": null, "purchased_code": null, "units": null,
        "refunded": false, "created_at": null, "updated_at": null, "merchant": {}
    }))
    .unwrap();
    let meter = CustomerReference::parse(Biller::Woyofal, "14000000001").unwrap();
    assert_eq!(order.paid_reference(), Some(meter));
    let pending = billbot::domain::Order { status: billbot::domain::OrderStatus::Pending, ..order.clone() };
    assert_eq!(pending.paid_reference(), None, "not paid yet");
    let airtime = billbot::domain::Order { provider: Some("ORANGE".into()), ..order.clone() };
    assert_eq!(airtime.paid_reference(), None, "no biller");
    let odd = billbot::domain::Order { recipient: Some("n/a".into()), ..order };
    assert_eq!(odd.paid_reference(), None, "no reference");
}

#[test]
fn a_chats_prefs_forget_bills_already_due_and_payments_past_their_proof() {
    use billbot::store::Prefs;
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(d);
    let meter = CustomerReference::parse(Biller::Woyofal, "14000000001").unwrap();
    let bill = CustomerReference::parse(Biller::Senelec, "1000000001").unwrap();
    let mut prefs = Prefs::default();
    prefs.paid.record(&meter, day(0));
    prefs.seen_bills.record(&bill, day(10), day(0));
    prefs.drop_expired(day(10));
    assert!(prefs.seen_bills.contains(&bill, day(10)) && prefs.paid.contains(&meter, day(10)), "still due");
    prefs.drop_expired(day(11));
    assert!(prefs.seen_bills.is_empty(), "the due day has passed");
    assert!(!prefs.paid.is_empty());
    prefs.drop_expired(day(180));
    assert!(prefs.paid.is_empty(), "180 days after the payment");
}
