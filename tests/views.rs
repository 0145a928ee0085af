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
        assert!(text.contains("31.4 kWh"));
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
}
