//! Localized views of domain values: what customers and agents are shown.

use billbot::domain::{
    Biller, Currency, CustomerReference, MerchantFields, Money, Order, OrderNo, OrderStatus,
};
use billbot::i18n::Lang;
use billbot::upstream::ErrorKind;
use billbot::views::{self, Audience, ErrorSubject};
use rust_decimal::Decimal;

fn xof(v: i64) -> Option<Money> {
    Some(Money::new(Decimal::from(v), Currency::Xof))
}

fn order() -> Order {
    Order {
        order_no: Some(OrderNo::parse("202611200800000000003").unwrap()),
        trx: Some("202611200800000000003".into()),
        reference: Some("RESELLER-9".into()),
        status: OrderStatus::Succeeded,
        provider_status: "SUCCESS".into(),
        message: Some("Recharge réussie pour 14000000001".into()),
        service_type: Some("electricity".into()),
        provider: Some("WOYOFAL".into()),
        recipient: Some("14000000001".into()),
        amount: xof(10_000),
        fee: xof(0),
        purchased_code: Some("12345678901234567890".into()),
        units: Some("31.4 kWh".into()),
        refunded: false,
        created_at: None,
        updated_at: None,
        merchant: MerchantFields {
            paid: xof(9_900),
            discount: xof(100),
            voucher: xof(0),
            init_bal: xof(50_000),
            new_bal: xof(40_100),
            cg: xof(100),
            init_cg: xof(0),
            new_cg: xof(100),
            debit: Some("balance".into()),
            channel: Some("API".into()),
        },
    }
}

#[test]
fn customers_see_a_masked_recipient_and_no_merchant_figures() {
    for lang in Lang::ALL {
        let text = views::order(lang, &order(), Audience::Customer);
        assert!(text.contains("•••••••0001"), "{text}");
        assert!(!text.contains("14000000001"), "recipient unmasked (also via the provider message): {text}");
        for hidden in ["9 900", "9,900", "50,000", "50\u{a0}000", "40,100", "API", "RESELLER-9", "balance"] {
            assert!(!text.contains(hidden), "{lang}: {hidden:?} shown to a customer:\n{text}");
        }
        assert!(text.contains("1234 5678 9012 3456 7890"), "the code bought is the customer's");
    }
}

#[test]
fn agents_see_the_merchant_figures() {
    let text = views::order(Lang::En, &order(), Audience::Agent);
    for shown in [
        "14000000001",
        "Paid from wallet: 9,900 FCFA",
        "Wallet balance: 50,000 FCFA → 40,100 FCFA",
        "Channel: API",
    ] {
        assert!(text.contains(shown), "{shown:?} missing:\n{text}");
    }
    let text = views::order(Lang::Fr, &order(), Audience::Agent);
    assert!(text.contains("Solde du portefeuille : 50\u{a0}000 FCFA → 40\u{a0}100 FCFA"), "{text}");
}

#[test]
fn a_failed_order_tells_the_customer_why() {
    let mut failed = order();
    failed.status = OrderStatus::Failed;
    failed.message = Some("Compteur bloqué".into());
    let text = views::order(Lang::Fr, &failed, Audience::Customer);
    assert!(text.contains("❌ échouée") && text.contains("Compteur bloqué"), "{text}");
}

#[test]
fn an_unknown_status_is_shown_with_the_providers_word() {
    let mut odd = order();
    odd.status = OrderStatus::Unknown;
    odd.provider_status = "ON_HOLD".into();
    assert!(views::order(Lang::En, &odd, Audience::Customer).contains("not recognized (“ON_HOLD”)"));
}

#[test]
fn reference_errors_say_what_is_expected_in_both_languages() {
    let err = CustomerReference::parse(Biller::Woyofal, "1234").unwrap_err();
    assert_eq!(
        views::reference_error(Lang::En, Biller::Woyofal, &err),
        "A Woyofal meter number has 11 to 13 digits; this one has 4. Please check it and type it again."
    );
    let fr = views::reference_error(Lang::Fr, Biller::Woyofal, &err);
    assert!(fr.contains("11 à 13 chiffres") && fr.contains("vous en avez saisi 4"), "{fr}");
}

#[test]
fn provider_errors_become_customer_sentences() {
    let reference = CustomerReference::parse(Biller::SenEau, "1000000001").unwrap();
    let text = views::upstream_error(Lang::En, ErrorKind::NotFound, ErrorSubject::Reference(&reference));
    assert_eq!(
        text,
        "SenEau found no bill for customer reference 1000000001. Please check the number and try again."
    );
    for kind in [ErrorKind::Unauthorized, ErrorKind::Unavailable] {
        let text = views::upstream_error(Lang::Fr, kind, ErrorSubject::History);
        assert!(text.contains("ne répond pas"), "{kind:?} → {text}");
    }
}

#[test]
fn a_delivered_order_is_a_receipt_with_the_token_grouped_in_blocks_of_four() {
    for (lang, heading, code) in [
        (Lang::En, "🧾 Receipt, order GB - 202611200800000000003", "Code: 1234 5678 9012 3456 7890"),
        (Lang::Fr, "🧾 Reçu, commande GB - 202611200800000000003", "Code : 1234 5678 9012 3456 7890"),
    ] {
        let text = views::order(lang, &order(), Audience::Customer);
        assert!(text.starts_with(heading), "{text}");
        assert!(text.contains(code), "{text}");
        assert!(
            text.contains(if lang == Lang::Fr { "Unités : 31,4 kWh" } else { "Units: 31.4 kWh" }),
            "{text}"
        );
        assert!(text.contains("10,000 FCFA") || text.contains("10\u{a0}000 FCFA"), "amount paid: {text}");
    }
}

#[test]
fn several_codes_are_numbered_in_the_order_sent() {
    let mut two = order();
    two.purchased_code = Some("11112222333344445555, 6666-7777-8888-9999-0000".into());
    let en = views::order(Lang::En, &two, Audience::Customer);
    let first = en.find("Code 1: 1111 2222 3333 4444 5555").expect(&en);
    let second = en.find("Code 2: 6666 7777 8888 9999 0000").expect(&en);
    assert!(first < second);
    let fr = views::order(Lang::Fr, &two, Audience::Customer);
    assert!(fr.contains("Code 1 : 1111 2222 3333 4444 5555") && fr.contains("Code 2 : 6666"), "{fr}");
    assert_eq!(views::codes("PIN-ABC-12"), vec!["PIN-ABC-12".to_owned()], "non-numeric codes as sent");
    let dashed = views::codes("6666\u{2013}7777\u{2212}8888 9999\u{FF0D}0000");
    assert_eq!(dashed, vec!["6666 7777 8888 9999 0000".to_owned()], "any dash, as in order numbers");
}

#[test]
fn known_service_types_and_decimal_units_read_in_the_chats_language() {
    let fr = views::order(Lang::Fr, &order(), Audience::Customer);
    assert!(fr.contains("Service : électricité") && fr.contains("Unités : 31,4 kWh"), "{fr}");
    let en = views::order(Lang::En, &order(), Audience::Customer);
    assert!(en.contains("Service: electricity") && en.contains("Units: 31.4 kWh"), "{en}");
    let mut odd = order();
    odd.service_type = Some("Lottery".into());
    odd.units = Some("1.2.3 v2. 1,5 kWh .5".into());
    let fr = views::order(Lang::Fr, &odd, Audience::Customer);
    assert!(fr.contains("Service : Lottery"), "an unknown service type is shown as sent: {fr}");
    assert!(fr.contains("Unités : 1.2.3 v2. 1,5 kWh .5"), "only plain decimals change: {fr}");
    let mut water = order();
    water.service_type = Some(" WATER ".into());
    assert!(views::order(Lang::Fr, &water, Audience::Customer).contains("Service : eau"));
}

#[test]
fn an_order_number_with_a_letter_is_refused_in_plain_words() {
    let err = OrderNo::parse("GB - 2026a1120080000").unwrap_err();
    let fr = views::order_no_error(Lang::Fr, &err);
    assert_eq!(
        fr,
        "« a » ne peut pas figurer dans un numéro de commande : il s'écrit « GB - » suivi de chiffres \
         uniquement. Exemple : GB - 202206132206791818205."
    );
    let en = views::order_no_error(Lang::En, &err);
    assert!(en.starts_with("“a” cannot be part of an order number"), "{en}");
}

fn bills(due: &[(&str, bool)]) -> billbot::domain::InquiryResult {
    let reference = CustomerReference::parse(Biller::Senelec, "1000000002").unwrap();
    let bills = due
        .iter()
        .map(|(day, paid)| billbot::domain::Bill {
            bill_reference: None,
            holder: None,
            amount: xof(1_000).unwrap(),
            fee: xof(0).unwrap(),
            total: xof(1_000).unwrap(),
            due_date: Some((*day).to_owned()),
            paid: *paid,
        })
        .collect();
    billbot::domain::InquiryResult::Bills { reference, bills }
}

#[test]
fn unpaid_bills_say_how_far_their_due_date_is_with_plurals() {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    let result = bills(&[
        ("2026-12-09", false),
        ("07/12/2026", false),
        ("2026-12-06", false),
        ("2026-12-05", false),
        ("2026-12-01T00:00:00Z", false),
        ("2026-11-01", true),
        ("fin du mois", false),
    ]);
    let en = views::inquiry(Lang::En, &result, Audience::Customer, today);
    for line in [
        "Due date: 9 Dec 2026 (due in 3 days)",
        "Due date: 7 Dec 2026 (due tomorrow)",
        "Due date: 6 Dec 2026 (due today)",
        "Due date: 5 Dec 2026 (overdue by 1 day)",
        "Due date: 1 Dec 2026 (overdue by 5 days)",
        "Due date: 1 Nov 2026\n",
        "Due date: fin du mois\n",
    ] {
        assert!(en.contains(line), "{line:?} missing:\n{en}");
    }
    let fr = views::inquiry(Lang::Fr, &result, Audience::Customer, today);
    for line in [
        "Échéance : 9 déc. 2026 (dans 3 jours)",
        "Échéance : 7 déc. 2026 (à payer demain)",
        "Échéance : 6 déc. 2026 (à payer aujourd'hui)",
        "Échéance : 5 déc. 2026 (en retard d'un jour)",
        "Échéance : 1 déc. 2026 (en retard de 5 jours)",
        "Échéance : 1 nov. 2026\n",
    ] {
        assert!(fr.contains(line), "{line:?} missing:\n{fr}");
    }
}

fn meter(holder: &str, address: &str) -> billbot::domain::InquiryResult {
    billbot::domain::InquiryResult::Meter {
        reference: CustomerReference::parse(Biller::Woyofal, "14000000001").unwrap(),
        meter: billbot::domain::Meter {
            meter_number: Some("14000000001".into()),
            holder: Some(holder.into()),
            address: Some(address.into()),
            status: Some("ACTIVE".into()),
            session: None,
        },
    }
}

#[test]
fn a_stranger_recognizes_a_meter_an_owner_and_an_agent_read_it_whole() {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    let result = meter("Mame Diarra Bousso", "Cité Keur Gorgui, Villa 12, Dakar");
    let stranger = views::inquiry(Lang::En, &result, Audience::Stranger, today);
    assert!(stranger.contains("Holder: Mame D. B.\n"), "{stranger}");
    assert!(stranger.contains("Address: …, Dakar\n"), "{stranger}");
    assert!(!stranger.contains("Diarra") && !stranger.contains("Villa"), "{stranger}");
    let fr = views::inquiry(Lang::Fr, &result, Audience::Stranger, today);
    assert!(fr.contains("Titulaire : Mame D. B.\n") && fr.contains("Adresse : …, Dakar\n"), "{fr}");
    for audience in [Audience::Customer, Audience::Agent] {
        let whole = views::inquiry(Lang::En, &result, audience, today);
        assert!(whole.contains("Holder: Mame Diarra Bousso\n"), "{audience:?}: {whole}");
        assert!(whole.contains("Address: Cité Keur Gorgui, Villa 12, Dakar\n"), "{audience:?}: {whole}");
    }
}

#[test]
fn an_address_without_a_locality_is_masked_word_by_word_and_empty_values_are_left_out() {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    let odd = views::inquiry(Lang::En, &meter("N'Diaye", "Rue 10 x 15"), Audience::Stranger, today);
    assert!(odd.contains("Holder: N'Diaye\n") && odd.contains("Address: R••• 1••• x 1•••\n"), "{odd}");
    let blank = views::inquiry(Lang::En, &meter("  ", ""), Audience::Stranger, today);
    assert!(!blank.contains("Holder") && !blank.contains("Address"), "{blank}");
}

#[test]
fn a_stranger_sees_a_bills_holder_by_first_name_and_initials() {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    let billbot::domain::InquiryResult::Bills { reference, mut bills } = bills(&[("2026-12-09", false)])
    else {
        unreachable!("bills() makes bills")
    };
    bills[0].holder = Some("Moussa Ndiaye".into());
    let result = billbot::domain::InquiryResult::Bills { reference, bills };
    let stranger = views::inquiry(Lang::En, &result, Audience::Stranger, today);
    assert!(stranger.contains("Holder: Moussa N.\n") && !stranger.contains("Ndiaye"), "{stranger}");
    let owner = views::inquiry(Lang::En, &result, Audience::Customer, today);
    assert!(owner.contains("Holder: Moussa Ndiaye\n"), "{owner}");
}
