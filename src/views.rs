//! Domain values as localized plain text: the blocks every channel shows (the operator CLI, the
//! terminal demo, Telegram). Plain text only: a channel that uses markup escapes these texts once,
//! in its renderer.

use crate::domain::privacy::{locality, recognizable_name};
use crate::domain::reference::{mask_tail, mask_words};
use crate::domain::separators::without_separators;
use crate::domain::{
    Bill, Biller, CustomerReference, InquiryResult, Meter, Money, Order, OrderNoError, OrderStatus,
    ReferenceError,
};
use chrono::NaiveDate;

use crate::i18n::{Lang, format};
use crate::t;
use crate::upstream::ErrorKind;

/// Who is looking: what an order or a bill view may show depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// A customer chat that owns what it looks at: an order it owns (recipient masked, no
    /// merchant figures), a reference it paid through billbot (holder and address in full).
    Customer,
    /// A customer chat that does not own it. Of an order: its status and amount, but neither the
    /// codes bought, nor the recipient, nor the provider's message (any of which would tell it).
    /// Of a bill: the holder's first name and initials, the address's locality.
    Stranger,
    /// A field agent or an operator (in a private chat): everything, merchant wallet figures
    /// included.
    Agent,
}

impl From<crate::domain::Role> for Audience {
    fn from(role: crate::domain::Role) -> Audience {
        match role {
            crate::domain::Role::Customer => Audience::Customer,
            crate::domain::Role::Agent => Audience::Agent,
        }
    }
}

/// `Label: value` (French: `Label : value`).
fn field(lang: Lang, label_id: &str, value: impl Into<String>) -> String {
    t!(lang, "field-line", label = t!(lang, label_id), value = value.into())
}

fn optional_field(lines: &mut Vec<String>, lang: Lang, label_id: &str, value: Option<String>) {
    if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
        lines.push(field(lang, label_id, value));
    }
}

/// The biller's name as customers know it.
pub fn biller_name(lang: Lang, biller: Biller) -> String {
    t!(lang, &format!("biller-{}", biller.key()))
}

/// What the biller calls its reference ("meter number", "customer number"…).
pub fn reference_kind(lang: Lang, biller: Biller) -> String {
    let kind = match biller.reference_rule().kind {
        crate::domain::ReferenceKind::CustomerReference => "customer-reference",
        crate::domain::ReferenceKind::CustomerNumber => "customer-number",
        crate::domain::ReferenceKind::MeterNumber => "meter-number",
    };
    t!(lang, &format!("reference-kind-{kind}"))
}

/// A bill inquiry's result. A [`Audience::Stranger`] sees the holder's name and the address
/// only as much as lets their owner recognize them ([`recognizable_name`], [`locality`]): anyone
/// can type anyone's meter number. Unpaid bills say how far their due date is from `today`
/// (Dakar's date, which is UTC's).
pub fn inquiry(lang: Lang, result: &InquiryResult, audience: Audience, today: NaiveDate) -> String {
    let privacy = Shown { lang, audience };
    match result {
        InquiryResult::Bills { reference, bills } => bills_view(lang, reference, bills, privacy, today),
        InquiryResult::Meter { reference, meter } => meter_view(lang, reference, meter, privacy),
    }
}

/// How much of a holder's name and address one audience sees.
#[derive(Clone, Copy)]
struct Shown {
    lang: Lang,
    audience: Audience,
}

impl Shown {
    fn in_full(self) -> bool {
        self.audience != Audience::Stranger
    }

    fn holder(self, name: &Option<String>) -> Option<String> {
        let name = name.as_deref()?;
        Some(if self.in_full() { name.to_owned() } else { recognizable_name(name) })
    }

    /// A stranger sees `…, Dakar`, or each word's first character when the address has no
    /// locality to show.
    fn address(self, address: &Option<String>) -> Option<String> {
        let address = address.as_deref()?;
        if self.in_full() {
            return Some(address.to_owned());
        }
        Some(match locality(address) {
            Some(place) => t!(self.lang, "address-locality", locality = place.to_owned()),
            None => mask_words(address),
        })
    }
}

fn heading(lang: Lang, reference: &CustomerReference) -> String {
    t!(
        lang,
        "inquiry-heading",
        biller = biller_name(lang, reference.biller()),
        kind = reference_kind(lang, reference.biller()),
        reference = reference.as_str().to_owned()
    )
}

/// Bills one answer shows in full; past this, the rest are counted (the total due still counts
/// them all). A provider that answers hundreds of bills does not flood the chat.
pub const MAX_BILLS_SHOWN: usize = 24;

fn bills_view(
    lang: Lang,
    reference: &CustomerReference,
    bills: &[Bill],
    privacy: Shown,
    today: NaiveDate,
) -> String {
    let count = bills.len();
    let unpaid: Vec<&Bill> = bills.iter().filter(|b| !b.paid).collect();
    let mut blocks = vec![heading(lang, reference)];
    let mut shown: Vec<(usize, &Bill)> = bills.iter().enumerate().collect();
    if count > MAX_BILLS_SHOWN {
        // Bills to pay first: they are what the customer came for.
        shown.sort_by_key(|(_, b)| b.paid);
    }
    for (index, bill) in shown.iter().take(MAX_BILLS_SHOWN) {
        blocks.push(bill_view(lang, bill, (index + 1, count), privacy, today));
    }
    if count > MAX_BILLS_SHOWN {
        let hidden = &shown[MAX_BILLS_SHOWN..];
        let hidden_unpaid = hidden.iter().filter(|(_, b)| !b.paid).count();
        blocks.push(t!(
            lang,
            "inquiry-more-bills",
            count = hidden.len() as u64,
            unpaid = hidden_unpaid as u64
        ));
    }
    let due = unpaid.iter().try_fold(None::<Money>, |sum, b| match sum {
        None => Some(Some(b.total)),
        Some(s) => s.checked_add(&b.total).map(Some),
    });
    blocks.push(match due {
        Some(Some(total)) => {
            t!(lang, "inquiry-total-due", count = unpaid.len() as u64, total = format::money(lang, &total))
        }
        Some(None) => t!(lang, "inquiry-nothing-to-pay"),
        None => t!(lang, "inquiry-total-mixed"),
    });
    blocks.join("\n\n")
}

fn bill_view(
    lang: Lang,
    bill: &Bill,
    (index, count): (usize, usize),
    privacy: Shown,
    today: NaiveDate,
) -> String {
    let mut lines = vec![t!(lang, "inquiry-bill-title", index = index as u64, count = count as u64)];
    optional_field(&mut lines, lang, "label-bill-reference", bill.bill_reference.clone());
    optional_field(&mut lines, lang, "label-holder", privacy.holder(&bill.holder));
    lines.push(field(lang, "label-amount", format::money(lang, &bill.amount)));
    lines.push(field(lang, "label-fee", format::money(lang, &bill.fee)));
    lines.push(field(lang, "label-total", format::money(lang, &bill.total)));
    let due = match (bill.due_day(), bill.paid) {
        (Some(day), false) => Some(format::due_date_and_distance(lang, day, (day - today).num_days())),
        _ => bill.due_date.as_deref().map(|d| format::due_date(lang, d)),
    };
    optional_field(&mut lines, lang, "label-due-date", due);
    let state = if bill.paid { "bill-state-paid" } else { "bill-state-unpaid" };
    lines.push(field(lang, "label-bill-state", t!(lang, state)));
    lines.join("\n")
}

fn meter_view(lang: Lang, reference: &CustomerReference, meter: &Meter, privacy: Shown) -> String {
    let mut lines = vec![heading(lang, reference)];
    optional_field(&mut lines, lang, "label-holder", privacy.holder(&meter.holder));
    optional_field(&mut lines, lang, "label-address", privacy.address(&meter.address));
    optional_field(
        &mut lines,
        lang,
        "label-meter-status",
        meter.status.as_deref().map(|s| meter_status(lang, s)),
    );
    lines.push(String::new());
    lines.push(t!(lang, "inquiry-meter-amount-at-payment"));
    lines.join("\n")
}

/// Known meter statuses in words; anything else as the provider wrote it.
fn meter_status(lang: Lang, raw: &str) -> String {
    known_word(lang, "meter-status", raw)
}

/// A provider's word in `lang` when `locales` has `<prefix>-<word>` for it (any case), else as
/// the provider wrote it.
fn known_word(lang: Lang, prefix: &str, raw: &str) -> String {
    let id = format!("{prefix}-{}", raw.trim().to_ascii_lowercase());
    if crate::i18n::has_message(lang, &id) { t!(lang, &id) } else { raw.to_owned() }
}

/// Known service types in words (`electricity` → `électricité`); anything else as sent.
fn service_type(lang: Lang, raw: &str) -> String {
    known_word(lang, "service-type", raw)
}

/// An order's status in words, with its marker.
pub fn status_label(lang: Lang, order: &Order) -> String {
    match order.status {
        OrderStatus::Unknown => t!(lang, "order-status-unknown", raw = order.provider_status.clone()),
        status => t!(lang, &format!("order-status-{}", status.key())),
    }
}

/// One order, for `audience`.
pub fn order(lang: Lang, order: &Order, audience: Audience) -> String {
    let number =
        order.order_no.as_ref().map(|o| o.to_string()).or_else(|| order.trx.clone()).unwrap_or_default();
    let stranger = audience == Audience::Stranger;
    let heading = if order.status == OrderStatus::Succeeded && order.purchased_code.is_some() && !stranger {
        "order-receipt-heading"
    } else {
        "order-heading"
    };
    let mut lines = vec![t!(lang, heading, order = number)];
    lines.push(field(lang, "label-status", status_label(lang, order)));
    optional_field(
        &mut lines,
        lang,
        "label-service",
        order.service_type.as_deref().map(|s| service_type(lang, s)),
    );
    optional_field(&mut lines, lang, "label-provider", order.provider.clone());
    let recipient = match audience {
        Audience::Customer => order.recipient.as_deref().map(|r| mask_tail(r, 4)),
        Audience::Agent => order.recipient.clone(),
        Audience::Stranger => None,
    };
    optional_field(&mut lines, lang, "label-recipient", recipient);
    let money = |m: &Option<Money>| m.as_ref().map(|m| format::money(lang, m));
    optional_field(&mut lines, lang, "label-amount", money(&order.amount));
    optional_field(&mut lines, lang, "label-fee", money(&order.fee));
    let codes = order.purchased_code.as_deref().filter(|_| !stranger).map(codes).unwrap_or_default();
    match codes.as_slice() {
        [] => {}
        [one] => lines.push(field(lang, "label-code", one.clone())),
        several => {
            for (n, code) in several.iter().enumerate() {
                let label = t!(lang, "label-code-numbered", n = (n + 1) as u64);
                lines.push(t!(lang, "field-line", label = label, value = code.clone()));
            }
        }
    }
    if stranger && order.purchased_code.is_some() {
        lines.push(t!(lang, "order-code-hidden"));
    }
    optional_field(
        &mut lines,
        lang,
        "label-units",
        order.units.as_deref().map(|u| format::decimals(lang, u)),
    );
    optional_field(&mut lines, lang, "label-created", order.created_at.map(|d| format::date_time(lang, d)));
    optional_field(&mut lines, lang, "label-updated", order.updated_at.map(|d| format::date_time(lang, d)));
    // The provider's message repeats the recipient in full on success; customers see it only
    // when it explains a failure.
    let show_message = audience == Audience::Agent
        || (audience == Audience::Customer
            && matches!(order.status, OrderStatus::Failed | OrderStatus::Refunded));
    if show_message {
        optional_field(&mut lines, lang, "label-provider-message", order.message.clone());
    }
    if audience == Audience::Agent {
        lines.push(String::new());
        lines.push(t!(lang, "order-merchant-heading"));
        let m = &order.merchant;
        optional_field(&mut lines, lang, "label-paid", money(&m.paid));
        optional_field(&mut lines, lang, "label-discount", money(&m.discount));
        optional_field(&mut lines, lang, "label-voucher", money(&m.voucher));
        let change = |before: &Option<Money>, after: &Option<Money>| match (before, after) {
            (Some(b), Some(a)) => Some(t!(
                lang,
                "value-change",
                before = format::money(lang, b),
                after = format::money(lang, a)
            )),
            _ => None,
        };
        optional_field(&mut lines, lang, "label-balance", change(&m.init_bal, &m.new_bal));
        optional_field(&mut lines, lang, "label-commission", money(&m.cg));
        optional_field(&mut lines, lang, "label-commission-balance", change(&m.init_cg, &m.new_cg));
        optional_field(&mut lines, lang, "label-debit", m.debit.clone());
        optional_field(&mut lines, lang, "label-channel", m.channel.clone());
        optional_field(&mut lines, lang, "label-trx", order.trx.clone());
        optional_field(&mut lines, lang, "label-reseller-reference", order.reference.clone());
    }
    lines.join("\n")
}

/// Why a typed reference was refused, and what is expected instead.
pub fn reference_error(lang: Lang, biller: Biller, error: &ReferenceError) -> String {
    let rule = biller.reference_rule();
    let kind = reference_kind(lang, biller);
    let name = biller_name(lang, biller);
    let (min, max) = (rule.min_digits as u64, rule.max_digits as u64);
    match error {
        ReferenceError::Empty => {
            t!(lang, "reference-error-empty", kind = kind, biller = name, min = min, max = max)
        }
        ReferenceError::InvalidCharacter { found } => t!(
            lang,
            "reference-error-character",
            kind = kind,
            found = found.to_string(),
            min = min,
            max = max
        ),
        ReferenceError::TooShort { actual, .. } | ReferenceError::TooLong { actual, .. } => t!(
            lang,
            "reference-error-length",
            kind = kind,
            biller = name,
            min = min,
            max = max,
            actual = *actual as u64
        ),
    }
}

/// Why a typed order number was refused.
pub fn order_no_error(lang: Lang, error: &OrderNoError) -> String {
    match error {
        OrderNoError::Empty => t!(lang, "order-no-error-empty"),
        OrderNoError::InvalidCharacter { found } => {
            t!(lang, "order-no-error-character", found = found.to_string())
        }
        OrderNoError::WrongLength { actual } => t!(lang, "order-no-error-length", actual = *actual as u64),
    }
}

/// What a customer is told when a provider call fails. `subject` names what was looked up.
pub fn upstream_error(lang: Lang, kind: ErrorKind, subject: ErrorSubject) -> String {
    match (kind, subject) {
        (ErrorKind::NotFound, ErrorSubject::Reference(reference)) => t!(
            lang,
            "error-bill-not-found",
            biller = biller_name(lang, reference.biller()),
            kind = reference_kind(lang, reference.biller()),
            reference = reference.as_str().to_owned()
        ),
        (ErrorKind::NotFound, ErrorSubject::Order(order)) => t!(lang, "error-order-not-found", order = order),
        (ErrorKind::NotFound, ErrorSubject::History) => t!(lang, "error-history-empty"),
        (ErrorKind::Maintenance, _) => t!(lang, "error-maintenance"),
        (ErrorKind::Unauthorized | ErrorKind::Unavailable, _) => t!(lang, "error-unavailable"),
        (ErrorKind::Unreadable, _) => t!(lang, "error-unreadable"),
    }
}

/// What a failed provider call was about.
#[derive(Debug, Clone, Copy)]
pub enum ErrorSubject<'a> {
    Reference(&'a CustomerReference),
    Order(&'a str),
    History,
}

/// The codes (tokens, vouchers) of a purchase, in the order sent, each made easy to read: a code
/// of digits only is grouped in blocks of four (`1234 5678 9012 3456 7890`); anything else is
/// shown as sent. Several codes may come separated by commas, semicolons, bars or line breaks.
pub fn codes(purchased: &str) -> Vec<String> {
    purchased
        .split([',', ';', '|', '\n'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|code| {
            let digits = without_separators(code);
            if digits.len() >= 8 && digits.chars().all(|c| c.is_ascii_digit()) {
                digits
                    .as_bytes()
                    .chunks(4)
                    .map(|g| String::from_utf8_lossy(g).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                code.to_owned()
            }
        })
        .collect()
}
