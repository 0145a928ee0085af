//! Button payloads: short, versioned, self-contained strings, in two forms.
//!
//! - `v1:<body>` (`v1:m`, `v1:o:2`, `v1:b:senelec`): an action that names nothing of anyone's, a
//!   choice among the bot's own menus that any chat may make. Unsigned, as in version 1, so the
//!   menu buttons of messages sent before signing came keep working.
//! - `v2:<body>:<tag>` (`v2:q:senelec:1000000001:3f9a0c1d5e7b2a64`): an action that carries data
//!   (a reference, an order number, a ticket id, a date). The tag is a MAC of `v2:<body>` and of
//!   the chat the button was sent to, under the deployment's key ([`super::payload_key`]):
//!   Telegram lets a client send any callback data and WhatsApp hands reply ids back as sent, so
//!   a payload that was forged, altered, or sent to another chat is refused.
//!
//! A step builds its buttons with [`Action::encode`], which leaves a data action's payload
//! unsigned (`v2:<body>`, refused if it were pressed as it is); the bot [`seal`]s every reply's
//! buttons for its chat before they leave it (the turn's replies, and each notice). Only
//! [`Action::open`] reads a pressed button: it accepts what [`Action::sealed`] makes for the chat
//! and nothing else (only that exact text), and anything else (another version, an old unsigned
//! `v1:` data payload, a forged, truncated or altered one, another chat's) is answered with
//! "this menu has expired" and a fresh menu.
//!
//! The longest payload (a reminder of a 14-digit reference) takes 56 bytes, within every channel's
//! limit (Telegram: 64 bytes of callback data; WhatsApp: 200 of a list row id). A payload carries
//! everything its action needs, so a button keeps working in any dialogue state and after a
//! restart, on any instance.

use chrono::NaiveDate;

use super::payload_key::{PayloadKey, TAG_CHARS};
use super::reply::Reply;
use super::ticket_ids::is_ticket_id;
use crate::domain::{Biller, ChatKey, CustomerReference, OrderNo};
use crate::i18n::Lang;

/// Payloads of actions that carry no data: unsigned.
const UNSIGNED: &str = "v1";
/// Payloads of actions that carry data: signed for their chat.
const SIGNED: &str = "v2";

/// The longest payload the core makes (a reminder of a 14-digit Senelec reference:
/// `v2:rm:senelec:` + 14 digits + `:yyyymmdd:7` + `:` + a 16-digit tag); every channel's
/// [`Capabilities::max_payload_bytes`](crate::domain::Capabilities) must carry it.
pub const MAX_PAYLOAD_BYTES: usize = 56;

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
    /// Whether the action names something of one chat's (a reference, an order number, a ticket
    /// id, a date): its payload is signed for the chat. The rest (menus, pages, a biller or a
    /// language to choose) are the same for every chat, and anyone may press them.
    pub fn carries_data(&self) -> bool {
        !matches!(
            self,
            Action::Menu
                | Action::Bill
                | Action::Biller(_)
                | Action::Reminders
                | Action::Support
                | Action::Saved(_)
                | Action::AskOrder
                | Action::Orders(_)
                | Action::History(_)
                | Action::Lang(_)
                | Action::Help
                | Action::Forget(_)
        )
    }

    /// The payload as a step puts it on a button: final for an action without data (`v1:…`),
    /// still to be [`seal`]ed for an action with data (`v2:…` without its tag, which
    /// [`Action::open`] refuses).
    pub fn encode(&self) -> String {
        let version = if self.carries_data() { SIGNED } else { UNSIGNED };
        format!("{version}:{}", self.body())
    }

    /// The payload of a button of this action sent to `chat`: [`Action::encode`], with its tag
    /// when the action carries data.
    pub fn sealed(&self, key: &PayloadKey, chat: &ChatKey) -> String {
        let payload = self.encode();
        if self.carries_data() {
            let tag = key.tag(chat, &payload);
            format!("{payload}:{tag}")
        } else {
            payload
        }
    }

    /// The action of a button pressed in `chat`, or `None` for anything [`Action::sealed`] did
    /// not make for that chat with this key: no part of a payload is read before its tag checks.
    pub fn open(payload: &str, key: &PayloadKey, chat: &ChatKey) -> Option<Action> {
        let (version, rest) = payload.split_once(':')?;
        let action = match version {
            UNSIGNED => Action::parse(rest).filter(|a| !a.carries_data())?,
            SIGNED => {
                let (unsigned, tag) = payload.rsplit_once(':')?;
                if tag.len() != TAG_CHARS || !key.verify(chat, unsigned, tag) {
                    return None;
                }
                Action::parse(unsigned.strip_prefix(SIGNED)?.strip_prefix(':')?)
                    .filter(Action::carries_data)?
            }
            _ => return None,
        };
        // Only the text the encoder makes: one payload per action, byte for byte.
        (action.sealed(key, chat) == payload).then_some(action)
    }

    /// Reads back a payload as [`Action::encode`] made it (before any tag): the sealing of a
    /// step's buttons, and the fuzz targets, which seal what they make of their input.
    pub(crate) fn decode_unsealed(payload: &str) -> Option<Action> {
        let (version, body) = payload.split_once(':')?;
        let action = Action::parse(body)?;
        let expected = if action.carries_data() { SIGNED } else { UNSIGNED };
        (version == expected).then_some(action)
    }

    /// The payload's body: the action and its arguments, `:`-separated.
    fn body(&self) -> String {
        match self {
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
        }
    }

    /// The action of a payload's body, or `None` for anything [`Action::body`] does not make.
    fn parse(body: &str) -> Option<Action> {
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

/// `payload` as a step put it on a button, sealed for `chat`: an unsigned data payload (as
/// [`Action::encode`] makes it) gets its tag; any other is left as it is (sealing twice changes
/// nothing).
pub fn seal(payload: &str, key: &PayloadKey, chat: &ChatKey) -> String {
    match Action::decode_unsealed(payload) {
        Some(action) if action.carries_data() && action.encode() == payload => action.sealed(key, chat),
        _ => payload.to_owned(),
    }
}

/// Seals every button of `replies` for `chat` (see [`seal`]): what leaves the core, as the
/// answer to a message or as a notice.
pub fn seal_replies(replies: &mut [Reply], key: &PayloadKey, chat: &ChatKey) {
    for button in replies.iter_mut().flat_map(|r| r.keyboard.iter_mut().flatten()) {
        button.payload = seal(&button.payload, key, chat);
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
