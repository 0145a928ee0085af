//! Button payloads: short, versioned, self-contained strings (`v1:q:senelec:1000000001`).
//!
//! The longest payload here (a reminder of a 14-digit reference) takes 39 bytes, within every channel's
//! limit (Telegram: 64 bytes of callback data; WhatsApp: 200 of a list row id). A payload carries
//! everything its action needs, so a button keeps working in any dialogue state and after a
//! restart; one that does not decode (another version, a forged or truncated one) is answered
//! with "this menu has expired" and a fresh menu.

use chrono::NaiveDate;

use super::ticket_ids::is_ticket_id;
use crate::domain::{Biller, CustomerReference, OrderNo};
use crate::i18n::Lang;

const VERSION: &str = "v1";

/// The longest payload the core makes (a reminder of a 14-digit Senelec reference:
/// `v1:rm:senelec:` + 14 digits + `:yyyymmdd:7`); every channel's
/// [`Capabilities::max_payload_bytes`](crate::domain::Capabilities) must carry it.
pub const MAX_PAYLOAD_BYTES: usize = 39;

/// What a button does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Menu,
    /// Choose a biller.
    Bill,
    /// Ask for a reference of this biller.
    Biller(Biller),
    /// Look this reference up.
    Inquire(CustomerReference),
    /// Which other biller this reference's number is for (it was looked up with its biller
    /// because the chat had just used it).
    OtherBiller(CustomerReference),
    /// Remind the chat of the bill of this reference due on `due_day`, `days` before and on the
    /// day (setting it again replaces it).
    Remind {
        reference: CustomerReference,
        due_day: NaiveDate,
        days: u8,
    },
    /// The chat's reminders, to cancel them.
    Reminders,
    /// Cancel the chat's reminder of this reference.
    CancelReminder(CustomerReference),
    /// Talk to a person: open a support request.
    Support,
    /// Talk to a person about this order (after an error).
    SupportOrder(OrderNo),
    /// Talk to a person about this reference (after an error).
    SupportReference(CustomerReference),
    /// Close this support request (the customer's own, or, in the support chat, any).
    CloseTicket(String),
    /// Save this reference for the chat (then ask for a nickname).
    Save(CustomerReference),
    /// A page of the chat's saved references, to rename or delete them.
    Saved(usize),
    /// Ask for a new nickname for this saved reference.
    Rename(CustomerReference),
    /// Forget this saved reference.
    Delete(CustomerReference),
    /// Ask for an order number.
    AskOrder,
    /// Check this order.
    Order(OrderNo),
    /// Tell this chat when this order's status changes.
    Watch(OrderNo),
    /// Prove this order is the chat's (by the recipient's last digits) to see all of it.
    Claim(OrderNo),
    /// A page of the chat's orders and lookups.
    Orders(usize),
    /// A page of the merchant's history (agents).
    History(usize),
    /// Choose a language, or set one.
    Lang(Option<Lang>),
    Help,
    /// Ask whether to erase everything kept about the chat (`false`), or erase it (`true`).
    Forget(bool),
}

impl Action {
    pub fn encode(&self) -> String {
        let body = match self {
            Action::Menu => "m".to_owned(),
            Action::Bill => "b".to_owned(),
            Action::Biller(b) => format!("b:{}", b.key()),
            Action::Inquire(r) => format!("q:{}:{}", r.biller().key(), r.as_str()),
            Action::Save(r) => format!("sv:{}:{}", r.biller().key(), r.as_str()),
            Action::OtherBiller(r) => format!("ob:{}:{}", r.biller().key(), r.as_str()),
            Action::Remind { reference: r, due_day, days } => {
                format!("rm:{}:{}:{}:{days}", r.biller().key(), r.as_str(), due_day.format("%Y%m%d"))
            }
            Action::Reminders => "rl".to_owned(),
            Action::Support => "hp".to_owned(),
            Action::SupportOrder(o) => format!("ho:{}", o.digits()),
            Action::SupportReference(r) => format!("hq:{}:{}", r.biller().key(), r.as_str()),
            Action::CloseTicket(id) => format!("hc:{id}"),
            Action::CancelReminder(r) => format!("rx:{}:{}", r.biller().key(), r.as_str()),
            Action::Saved(0) => "sl".to_owned(),
            Action::Saved(page) => format!("sl:{page}"),
            Action::Rename(r) => format!("rn:{}:{}", r.biller().key(), r.as_str()),
            Action::Delete(r) => format!("dl:{}:{}", r.biller().key(), r.as_str()),
            Action::AskOrder => "s".to_owned(),
            Action::Order(o) => format!("s:{}", o.digits()),
            Action::Watch(o) => format!("w:{}", o.digits()),
            Action::Claim(o) => format!("c:{}", o.digits()),
            Action::Orders(page) => format!("o:{page}"),
            Action::History(page) => format!("h:{page}"),
            Action::Lang(None) => "l".to_owned(),
            Action::Lang(Some(lang)) => format!("l:{}", lang.code()),
            Action::Help => "?".to_owned(),
            Action::Forget(false) => "f".to_owned(),
            Action::Forget(true) => "f:y".to_owned(),
        };
        format!("{VERSION}:{body}")
    }

    /// The action of a payload, or `None` for anything this version did not make.
    pub fn decode(payload: &str) -> Option<Action> {
        let body = payload.strip_prefix(VERSION)?.strip_prefix(':')?;
        let parts: Vec<&str> = body.split(':').collect();
        let action = match parts.as_slice() {
            ["m"] => Action::Menu,
            ["b"] => Action::Bill,
            ["b", key] => Action::Biller(Biller::from_key(key)?),
            ["q", key, reference] => Action::Inquire(reference_of(key, reference)?),
            ["sv", key, reference] => Action::Save(reference_of(key, reference)?),
            ["ob", key, reference] => Action::OtherBiller(reference_of(key, reference)?),
            ["rm", key, reference, day, days] => remind(key, reference, day, days)?,
            ["rl"] => Action::Reminders,
            ["hp"] => Action::Support,
            ["ho", digits] => Action::SupportOrder(OrderNo::parse(digits).ok()?),
            ["hq", key, reference] => Action::SupportReference(reference_of(key, reference)?),
            ["hc", id] if is_ticket_id(id) => Action::CloseTicket((*id).to_owned()),
            ["rx", key, reference] => Action::CancelReminder(reference_of(key, reference)?),
            ["sl"] => Action::Saved(0),
            ["sl", page] => Action::Saved(page.parse().ok()?),
            ["rn", key, reference] => Action::Rename(reference_of(key, reference)?),
            ["dl", key, reference] => Action::Delete(reference_of(key, reference)?),
            ["s"] => Action::AskOrder,
            ["s", digits] => Action::Order(OrderNo::parse(digits).ok()?),
            ["w", digits] => Action::Watch(OrderNo::parse(digits).ok()?),
            ["c", digits] => Action::Claim(OrderNo::parse(digits).ok()?),
            ["o", page] => Action::Orders(page.parse().ok()?),
            ["h", page] => Action::History(page.parse().ok()?),
            ["l"] => Action::Lang(None),
            ["l", code] => Action::Lang(Some(code.parse().ok()?)),
            ["?"] => Action::Help,
            ["f"] => Action::Forget(false),
            ["f", "y"] => Action::Forget(true),
            _ => return None,
        };
        Some(action)
    }
}

/// A reminder's `yyyymmdd` due day and `days` before (one of the choices offered).
fn remind(key: &str, reference: &str, day: &str, days: &str) -> Option<Action> {
    if day.len() != 8 {
        return None;
    }
    let days: u8 = days.parse().ok()?;
    crate::reminders::DAYS_BEFORE_CHOICES.contains(&days).then_some(())?;
    let due_day = NaiveDate::parse_from_str(day, "%Y%m%d").ok()?;
    Some(Action::Remind { reference: reference_of(key, reference)?, due_day, days })
}

fn reference_of(biller_key: &str, reference: &str) -> Option<CustomerReference> {
    CustomerReference::parse(Biller::from_key(biller_key)?, reference).ok()
}
