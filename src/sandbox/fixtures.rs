//! The sandbox's fixture references and orders: each one exercises a case of the provider
//! documents. The README's fixture table lists them; tests use these constants.

use std::sync::LazyLock;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::domain::{Biller, OrderNo};
use crate::upstream::wire::inquiry::WireBill;
use crate::upstream::wire::status::{WireHistoryItem, WireMoney};

/// Customer references. Postpaid ones have 10 digits (valid for SenEau and Senelec), Woyofal
/// meters 11; the error references have 11 digits, valid for every biller, and end in the HTTP
/// status they provoke.
pub mod refs {
    /// SenEau or Senelec: one unpaid bill.
    pub const ONE_BILL: &str = "1000000001";
    /// SenEau or Senelec: three bills, two unpaid.
    pub const SEVERAL_BILLS: &str = "1000000002";
    /// SenEau or Senelec: two bills, both already paid.
    pub const ALL_PAID: &str = "1000000003";
    /// SenEau or Senelec: a holder name with accents and every Telegram-reserved character.
    pub const SPECIAL_NAME: &str = "1000000004";
    /// Senelec or SenEau: amounts sent as strings, `paid` as 0, nulls, unknown fields.
    pub const LOOSE_TYPES: &str = "1000000005";
    /// SenEau or Senelec: sixty unpaid bills, a reply longer than one Telegram message.
    pub const MANY_BILLS: &str = "1000000006";
    /// Woyofal: an active meter (montant 0, meterStatus, address, nom).
    pub const METER: &str = "14000000001";
    /// Woyofal: a blocked meter whose holder and address contain reserved characters.
    pub const METER_SPECIAL: &str = "14000000002";
    /// Any biller: 400, bill not found.
    pub const NOT_FOUND: &str = "90000000400";
    /// Any biller: 401, as if the API key were wrong.
    pub const UNAUTHORIZED: &str = "90000000401";
    /// Any biller: 403, API under maintenance.
    pub const MAINTENANCE: &str = "90000000403";
    /// Any biller: 500, server error.
    pub const SERVER_ERROR: &str = "90000000500";
    /// Any biller: answers after the sandbox's slow delay (longer than the clients' timeout).
    pub const SLOW: &str = "90000000504";
    /// Any biller: 200 with an HTML page instead of JSON.
    pub const GARBAGE: &str = "90000000200";
}

/// Order numbers (digits; any form of them is accepted).
pub mod orders {
    /// The status document's sample, verbatim: delivered.
    pub const DOC_SAMPLE: &str = "202206132206791818205";
    /// The history document's third sample: `ref` is `GB - 2022062913471514250236`.
    pub const DOC_HISTORY_GB: &str = "2022062913471514250236";
    /// Woyofal top-up, `PENDING`.
    pub const PENDING: &str = "202611200800000000001";
    /// Senelec bill, `processing` (normalized to pending).
    pub const PROCESSING: &str = "202611200800000000002";
    /// Woyofal top-up, `SUCCESS`, with a 20-digit token and units.
    pub const SUCCESS_WITH_TOKEN: &str = "202611200800000000003";
    /// SenEau bill, `successful`.
    pub const SUCCESSFUL: &str = "202611200800000000004";
    /// Woyofal top-up, `FAIL` with a reason.
    pub const FAILED: &str = "202611200800000000005";
    /// Senelec bill, `FAIL` and `refunded: 1`.
    pub const REFUNDED: &str = "202611200800000000006";
    /// Woyofal top-up, `delivered` but `refunded: "true"`: the refund wins.
    pub const DELIVERED_BUT_REFUNDED: &str = "202611200800000000007";
    /// A status word the documents do not list (`ON_HOLD`).
    pub const UNKNOWN_STATUS: &str = "202611200800000000008";
    /// Woyofal top-up, `SUCCESS`, with two tokens (a split purchase).
    pub const SEVERAL_TOKENS: &str = "202611200800000000009";
    /// Woyofal top-up, `PENDING` until the sandbox's `deliver_after` (40 s) has passed since it
    /// was first asked about, then `SUCCESS` with a token: for watching an order change.
    pub const DELIVERED_LATER: &str = "202611200800000000010";
    /// Any 21-digit order starting with this is a pending Woyofal top-up (load tests).
    pub const LOAD_PREFIX: &str = "2026112099";
    /// 403, maintenance.
    pub const MAINTENANCE: &str = "202611200800000000403";
    /// 500, server error.
    pub const SERVER_ERROR: &str = "202611200800000000500";
    /// Answers after the slow delay.
    pub const SLOW: &str = "202611200800000000504";
    /// 200 with an HTML page.
    pub const GARBAGE: &str = "202611200800000000200";
    /// Not in the sandbox: 404 not found.
    pub const UNKNOWN: &str = "202611200899999999999";
}

/// What the sandbox does for one inquiry.
#[derive(Debug, Clone)]
pub enum InquiryFixture {
    Bills(Vec<WireBill>),
    /// A body served as is (to show loose typing the typed wire structs would normalize).
    Raw(Value),
    NotFound,
    Unauthorized,
    Maintenance,
    ServerError,
    Slow,
    Garbage,
}

fn dec(v: i64) -> Option<Decimal> {
    Some(Decimal::from(v))
}

fn bill(
    reference: &str,
    facture: &str,
    nom: &str,
    montant: i64,
    frais: i64,
    due: &str,
    paid: bool,
) -> WireBill {
    WireBill {
        reference_client: Some(reference.to_owned()),
        reference_facture: Some(facture.to_owned()),
        nom: Some(nom.to_owned()),
        montant: dec(montant),
        frais: dec(frais),
        total: dec(montant + frais),
        date_echeance: Some(due.to_owned()),
        paid: Some(paid),
        address: None,
        meter_status: None,
    }
}

fn meter(reference: &str, nom: &str, address: &str, status: &str, session: &str) -> WireBill {
    WireBill {
        reference_client: Some(reference.to_owned()),
        reference_facture: Some(session.to_owned()),
        nom: Some(nom.to_owned()),
        montant: dec(0),
        frais: dec(0),
        total: dec(0),
        date_echeance: None,
        paid: Some(false),
        address: Some(address.to_owned()),
        meter_status: Some(status.to_owned()),
    }
}

/// The day `offset` days from today (Dakar's date, which is UTC's), written with `format`: the
/// sandbox's bills fall due relative to the day it answers, so the demo always has a bill due
/// soon and one overdue.
pub fn day(offset: i64, format: &str) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(offset)).format(format).to_string()
}

/// The holder name that exercises escaping: accents, an apostrophe, and every character
/// Telegram reserves in MarkdownV2 or HTML.
pub const SPECIAL_HOLDER: &str = "Aïssatou N'Diaye-Sène _*[]()~`>#+-=|{}.!<>&";

/// The fixture for `reference` at `biller`; unknown references are not found.
pub fn inquiry(biller: Biller, reference: &str) -> InquiryFixture {
    use refs::*;
    let postpaid = biller != Biller::Woyofal;
    let (prefix, base) = match biller {
        Biller::SenEau => ("SDE", 8_450),
        _ => ("SEN", 21_300),
    };
    let facture = |n: u32| format!("{prefix}-2026-{n:06}");
    match reference {
        NOT_FOUND => InquiryFixture::NotFound,
        UNAUTHORIZED => InquiryFixture::Unauthorized,
        MAINTENANCE => InquiryFixture::Maintenance,
        SERVER_ERROR => InquiryFixture::ServerError,
        SLOW => InquiryFixture::Slow,
        GARBAGE => InquiryFixture::Garbage,
        ONE_BILL if postpaid => InquiryFixture::Bills(vec![bill(
            reference,
            &facture(101),
            "Moussa Diop",
            base,
            150,
            &day(9, "%Y-%m-%d"),
            false,
        )]),
        SEVERAL_BILLS if postpaid => InquiryFixture::Bills(vec![
            bill(reference, &facture(201), "Fatou Ndiaye", base + 1_200, 150, &day(-51, "%Y-%m-%d"), true),
            bill(reference, &facture(202), "Fatou Ndiaye", base + 3_050, 150, &day(-21, "%Y-%m-%d"), false),
            bill(reference, &facture(203), "Fatou Ndiaye", base * 3, 150, &day(9, "%Y-%m-%d"), false),
        ]),
        ALL_PAID if postpaid => InquiryFixture::Bills(vec![
            bill(reference, &facture(301), "Ibrahima Fall", base, 150, &day(-51, "%Y-%m-%d"), true),
            bill(reference, &facture(302), "Ibrahima Fall", base + 500, 150, &day(-21, "%Y-%m-%d"), true),
        ]),
        SPECIAL_NAME if postpaid => InquiryFixture::Bills(vec![bill(
            reference,
            &facture(401),
            SPECIAL_HOLDER,
            base + 99,
            150,
            &day(9, "%d/%m/%Y"),
            false,
        )]),
        MANY_BILLS if postpaid => InquiryFixture::Bills(
            (1..=60)
                .map(|n| {
                    let due = day((n as i64 - 30) * 10, "%Y-%m-%d");
                    bill(
                        reference,
                        &facture(600 + n),
                        "Entreprise Sénégalaise de Services",
                        base + n as i64,
                        150,
                        &due,
                        false,
                    )
                })
                .collect(),
        ),
        LOOSE_TYPES if postpaid => InquiryFixture::Raw(serde_json::json!({
            "bills": [{
                "referenceClient": 1000000005u64,
                "referenceFacture": facture(501),
                "nom": null,
                "montant": "12500",
                "frais": "100.00",
                "total": null,
                "dateEcheance": day(25, "%Y-%m-%dT00:00:00.000000Z"),
                "paid": 0,
                "extraField": {"ignored": true}
            }]
        })),
        METER if !postpaid => InquiryFixture::Bills(vec![meter(
            reference,
            "Awa Sarr",
            "Cité Keur Gorgui, Villa 12, Dakar",
            "ACTIVE",
            "WYF-SESSION-7f3a9c",
        )]),
        METER_SPECIAL if !postpaid => InquiryFixture::Bills(vec![meter(
            reference,
            SPECIAL_HOLDER,
            "Rue 10 x 15 <Médina> & \"Fass\" #3 [bloc *B*]",
            "BLOCKED",
            "WYF-SESSION-0b11d2",
        )]),
        _ => InquiryFixture::NotFound,
    }
}

/// What the sandbox does for one order.
#[derive(Debug, Clone)]
pub enum StatusFixture {
    /// A body served verbatim (the document's sample).
    Verbatim(&'static str),
    /// The `data` of a status answer.
    Order(Value),
    NotFound,
    Maintenance,
    ServerError,
    Slow,
    Garbage,
}

pub const STATUS_SAMPLE: &str = include_str!("samples/status.json");
pub const HISTORY_SAMPLE: &str = include_str!("samples/history.json");

struct Seed {
    order: String,
    service: &'static str,
    provider: &'static str,
    recipient: &'static str,
    amount: i64,
    status: &'static str,
    message: Option<&'static str>,
    refunded: Value,
    code: Option<&'static str>,
    units: Option<&'static str>,
    minute: u32,
}

fn seeds() -> Vec<Seed> {
    use orders::*;
    let seed = |order: &str, service, provider, recipient, amount, status, minute| Seed {
        order: order.to_owned(),
        service,
        provider,
        recipient,
        amount,
        status,
        message: None,
        refunded: Value::from(0),
        code: None,
        units: None,
        minute,
    };
    vec![
        seed(PENDING, "electricity", "WOYOFAL", "14000000001", 5_000, "PENDING", 50),
        seed(PROCESSING, "electricity", "SENELEC", "1000000001", 21_450, "processing", 45),
        Seed {
            code: Some("12345678901234567890"),
            units: Some("31.4 kWh"),
            message: Some("Recharge Woyofal réussie"),
            ..seed(SUCCESS_WITH_TOKEN, "electricity", "WOYOFAL", "14000000001", 10_000, "SUCCESS", 40)
        },
        Seed {
            message: Some("Paiement SenEau effectué"),
            ..seed(SUCCESSFUL, "water", "SENEAU", "1000000002", 11_650, "successful", 35)
        },
        Seed {
            message: Some("Compteur bloqué : contactez Senelec"),
            ..seed(FAILED, "electricity", "WOYOFAL", "14000000002", 2_000, "FAIL", 30)
        },
        Seed {
            message: Some("Facture déjà réglée"),
            refunded: Value::from(1),
            ..seed(REFUNDED, "electricity", "SENELEC", "1000000003", 21_300, "FAIL", 25)
        },
        Seed {
            refunded: Value::from("true"),
            ..seed(DELIVERED_BUT_REFUNDED, "electricity", "WOYOFAL", "14000000001", 3_000, "delivered", 20)
        },
        seed(UNKNOWN_STATUS, "water", "SENEAU", "1000000001", 8_600, "ON_HOLD", 15),
        Seed {
            code: Some("11112222333344445555,66667777888899990000"),
            units: Some("62.8 kWh"),
            ..seed(SEVERAL_TOKENS, "electricity", "WOYOFAL", "14000000001", 20_000, "SUCCESS", 10)
        },
    ]
}

fn history_item(id: u64, seed: &Seed, balance: &mut Decimal) -> WireHistoryItem {
    let amount = Decimal::from(seed.amount);
    let discount = (amount / Decimal::from(100)).round();
    let paid = amount - discount;
    let before = *balance;
    *balance -= paid;
    let at = format!("2026-11-20T08:{:02}:00.000000Z", seed.minute);
    WireHistoryItem {
        id: Some(id),
        service_type: Some(seed.service.to_owned()),
        provider: Some(seed.provider.to_owned()),
        recipient: Some(seed.recipient.to_owned()),
        money: WireMoney {
            amount: Some(amount),
            discount: Some(discount),
            fee: Some(Decimal::ZERO),
            voucher: Some(Decimal::ZERO),
            paid: Some(paid),
            init_bal: Some(before),
            new_bal: Some(*balance),
            cg: Some(discount),
            init_cg: Some(Decimal::ZERO),
            new_cg: Some(discount),
            debit: Some("balance".to_owned()),
        },
        trx: Some(seed.order.clone()),
        reference: Some(format!("GB - {}", seed.order)),
        api_req_id: None,
        channel: Some("API".to_owned()),
        purchased_code: seed.code.map(str::to_owned),
        cards: None,
        units: seed.units.map(str::to_owned),
        status: Some(seed.status.to_owned()),
        error_msg: seed.message.map(str::to_owned),
        refunded: crate::upstream::wire::lenient::opt_bool(seed.refunded.clone()).ok().flatten(),
        created_at: Some(at.clone()),
        updated_at: Some(at),
    }
}

/// How many generated filler transactions the history holds beyond the named orders, so that
/// it needs several pages in any chat.
pub const HISTORY_FILLER: usize = 40;

/// The merchant's history: the named orders, filler, then the document's three samples.
pub fn history() -> &'static [Value] {
    static HISTORY: LazyLock<Vec<Value>> = LazyLock::new(build_history);
    &HISTORY
}

fn build_history() -> Vec<Value> {
    let mut balance = Decimal::from(2_500_000);
    let mut items: Vec<Value> = Vec::new();
    let mut id = 20_000;
    for seed in seeds() {
        id += 1;
        items.push(serde_json::to_value(history_item(id, &seed, &mut balance)).unwrap_or(Value::Null));
    }
    let billers = [
        ("electricity", "WOYOFAL", "14000000001"),
        ("electricity", "SENELEC", "1000000001"),
        ("water", "SENEAU", "1000000002"),
    ];
    for n in 0..HISTORY_FILLER {
        id += 1;
        let (service, provider, recipient) = billers[n % billers.len()];
        let seed = Seed {
            order: format!("2026111907{n:014}"),
            service,
            provider,
            recipient,
            amount: 1_000 + 250 * n as i64,
            status: "delivered",
            message: None,
            refunded: Value::from(0),
            code: None,
            units: None,
            minute: (59 - n % 60) as u32,
        };
        items.push(serde_json::to_value(history_item(id, &seed, &mut balance)).unwrap_or(Value::Null));
    }
    if let Ok(sample) = serde_json::from_str::<Value>(HISTORY_SAMPLE)
        && let Some(Value::Array(data)) = sample.get("data")
    {
        items.extend(data.iter().cloned());
    }
    items
}

/// The fixture for the order whose digits are `digits`.
pub fn status(digits: &str) -> StatusFixture {
    use orders::*;
    match digits {
        DOC_SAMPLE => StatusFixture::Verbatim(STATUS_SAMPLE),
        MAINTENANCE => StatusFixture::Maintenance,
        SERVER_ERROR => StatusFixture::ServerError,
        SLOW => StatusFixture::Slow,
        GARBAGE => StatusFixture::Garbage,
        _ => history()
            .iter()
            .find(|item| item_matches(item, digits))
            .map(|item| StatusFixture::Order(status_data(item)))
            .unwrap_or(StatusFixture::NotFound),
    }
}

fn item_matches(item: &Value, digits: &str) -> bool {
    let field = |k: &str| item.get(k).and_then(Value::as_str).and_then(|v| OrderNo::parse(v).ok());
    field("trx").is_some_and(|o| o.digits() == digits) || field("ref").is_some_and(|o| o.digits() == digits)
}

/// A history item reshaped as the status endpoint's `data`: money and merchant figures move
/// under `bill`, values kept exactly as they were (so `refunded: 0` stays `0`).
fn status_data(item: &Value) -> Value {
    let get = |k: &str| item.get(k).cloned().unwrap_or(Value::Null);
    let reference = get("ref");
    let order_no = match reference.as_str() {
        Some(r) if crate::domain::OrderNo::looks_like(r) => reference.clone(),
        _ => Value::from(format!("GB - {}", get("trx").as_str().unwrap_or_default())),
    };
    let bill_keys = [
        "provider",
        "recipient",
        "amount",
        "discount",
        "fee",
        "voucher",
        "paid",
        "init_bal",
        "new_bal",
        "cg",
        "init_cg",
        "new_cg",
        "debit",
        "purchased_code",
        "units",
        "refunded",
    ];
    let bill: serde_json::Map<String, Value> = bill_keys.iter().map(|k| (k.to_string(), get(k))).collect();
    serde_json::json!({
        "trx": get("trx"),
        "orderNo": order_no,
        "reference": get("api_req_id"),
        "status": get("status"),
        "errorMsg": get("errorMsg"),
        "service_type": get("service_type"),
        "channel": get("channel"),
        "bill": bill,
        "created_at": get("created_at"),
        "updated_at": get("updated_at"),
    })
}

/// The "delivered later" order: pending, or delivered with its token once `delivered`.
pub fn delivered_later(delivered: bool) -> StatusFixture {
    let mut balance = Decimal::from(100_000);
    let seed = Seed {
        order: orders::DELIVERED_LATER.to_owned(),
        service: "electricity",
        provider: "WOYOFAL",
        recipient: "14000000001",
        amount: 7_500,
        status: if delivered { "SUCCESS" } else { "PENDING" },
        message: None,
        refunded: Value::from(0),
        code: delivered.then_some("55556666777788889999"),
        units: delivered.then_some("23.6 kWh"),
        minute: 55,
    };
    let item = serde_json::to_value(history_item(30_000, &seed, &mut balance)).unwrap_or(Value::Null);
    StatusFixture::Order(status_data(&item))
}

/// A pending order for any number under [`orders::LOAD_PREFIX`].
pub fn load_order(digits: &str) -> StatusFixture {
    let mut balance = Decimal::from(100_000);
    let seed = Seed {
        order: digits.to_owned(),
        service: "electricity",
        provider: "WOYOFAL",
        recipient: "14000000001",
        amount: 1_000,
        status: "PENDING",
        message: None,
        refunded: Value::from(0),
        code: None,
        units: None,
        minute: 0,
    };
    let item = serde_json::to_value(history_item(40_000, &seed, &mut balance)).unwrap_or(Value::Null);
    StatusFixture::Order(status_data(&item))
}
