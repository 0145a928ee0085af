//! The order flow: type an order number, see its status; refresh while it is pending.

use super::limits::{self, LookupKind};
use super::menus::{button, menu_row};
use super::payload::Action;
use super::reply::Reply;
use super::session::{Replies, Session};
use super::state::State;
use crate::domain::{Order, OrderNo};
use crate::store::{ActivityItem, Op, OrderRecord};
use crate::t;
use crate::upstream::ErrorKind;
use crate::views::{self, Audience, ErrorSubject};

pub(crate) fn ask(s: &mut Session<'_>) -> Vec<Reply> {
    s.state = State::AwaitingOrderNo;
    vec![Reply::text(t!(s.lang, "status-ask")).with_keyboard(vec![menu_row(s.lang)])]
}

/// An order number typed anywhere: checked before any provider call.
pub(crate) async fn check_typed(s: &mut Session<'_>, text: &str) -> Replies {
    match OrderNo::parse(text) {
        Ok(order_no) => check(s, order_no).await,
        Err(e) => {
            s.state = State::AwaitingOrderNo;
            Ok(vec![Reply::text(views::order_no_error(s.lang, &e)).with_keyboard(vec![menu_row(s.lang)])])
        }
    }
}

/// What this chat may see of an order: an agent (in a private chat) everything; a customer
/// chat the codes only if it owns the order, or the order never had an owner (it then becomes
/// the owner). An order whose owners are gone asks every chat for the recipient's digits.
fn audience(s: &Session<'_>, record: Option<&OrderRecord>) -> Audience {
    match Audience::from(s.role) {
        Audience::Customer if record.is_some_and(|r| !r.open_to(s.chat)) => Audience::Stranger,
        audience => audience,
    }
}

/// Asks the provider for the order, records it, and shows it.
pub(crate) async fn check(s: &mut Session<'_>, order_no: OrderNo) -> Replies {
    if let Err(wait) = limits::take(s, LookupKind::Order) {
        s.state = State::AwaitingOrderNo;
        return Ok(wait);
    }
    match s.bot.provider_call(s.waiting_note(), || s.bot.status.status(&order_no)).await {
        Ok(order) => {
            let record = s.bot.store.order(&order_no).await?;
            // An order swept with its owners is seen again: nobody takes it, it is proven.
            let swept = record.is_none() && s.bot.store.swept_owned(&order_no).await?;
            let audience = match audience(s, record.as_ref()) {
                Audience::Customer if swept => Audience::Stranger,
                audience => audience,
            };
            // The first customer chat to look an order up owns it (agents never take it).
            let claimant = (audience == Audience::Customer).then(|| s.chat.clone());
            s.writes.push(Op::RecordOrder {
                order_no: order_no.clone(),
                order: Box::new(order.clone()),
                at: s.now,
                claimant,
            });
            if swept {
                s.writes.push(Op::CloseOrder { order_no: order_no.clone() });
            }
            let item = ActivityItem::Order { order_no: order_no.clone(), status: order.status };
            s.writes.push(Op::Activity { chat: s.chat.clone(), item, at: s.now });
            if audience == Audience::Customer {
                note_paid(s, &order);
            }
            s.state = State::Menu;
            Ok(vec![show(s, order_no, &order, audience, None)])
        }
        Err(e) => {
            s.state = State::AwaitingOrderNo;
            let shown = order_no.to_string();
            let text = views::upstream_error(s.lang, e.kind(), ErrorSubject::Order(&shown));
            let mut row = Vec::new();
            if e.kind() != ErrorKind::NotFound {
                row.push(button(s.lang, "btn-try-again", Action::Order(order_no.clone())));
            }
            row.push(button(s.lang, "btn-menu", Action::Menu));
            let hint = t!(s.lang, "status-type-another");
            let mut keyboard = vec![row];
            if s.bot.support.is_some() {
                keyboard.push(vec![button(s.lang, "btn-support", Action::SupportOrder(order_no))]);
            }
            Ok(vec![Reply::text(format!("{text}\n\n{hint}")).with_keyboard(keyboard)])
        }
    }
}

/// An order a chat owns, seen succeeded, shows that the chat paid its recipient's reference:
/// noted in its prefs (with this step), so that its lookups of that reference show the holder
/// in full (see `bill::audience`).
fn note_paid(s: &mut Session<'_>, order: &Order) {
    if let Some(reference) = order.paid_reference() {
        s.prefs.paid.record(&reference, s.now.date_naive());
        s.writes.push(Op::Prefs { chat: s.chat.clone(), prefs: s.prefs.clone() });
    }
}

/// An order as this chat may see it, with what it can do next.
fn show(
    s: &Session<'_>,
    order_no: OrderNo,
    order: &Order,
    audience: Audience,
    before: Option<String>,
) -> Reply {
    let mut text = views::order(s.lang, order, audience);
    if let Some(before) = before {
        text = format!("{before}\n\n{text}");
    }
    let mut rows = Vec::new();
    if audience == Audience::Stranger && order.recipient_last_digits().is_some() {
        rows.push(vec![button(s.lang, "btn-my-order", Action::Claim(order_no.clone()))]);
    }
    let mut row = Vec::new();
    if !order.status.is_final() {
        text = format!("{text}\n\n{}", t!(s.lang, "status-pending-hint"));
        row.push(button(s.lang, "btn-refresh", Action::Order(order_no.clone())));
        if s.bot.tracker.is_some() && audience != Audience::Stranger {
            row.push(button(s.lang, "btn-notify-me", Action::Watch(order_no)));
        }
    }
    row.push(button(s.lang, "btn-another-order", Action::AskOrder));
    row.push(button(s.lang, "btn-menu", Action::Menu));
    rows.push(row);
    Reply::text(text).with_keyboard(rows)
}

/// "My order": asks a chat that does not own the order for the recipient's last 4 digits.
pub(crate) async fn ask_proof(s: &mut Session<'_>, order_no: OrderNo) -> Replies {
    let Some(record) = s.bot.store.order(&order_no).await? else {
        return check(s, order_no).await;
    };
    if audience(s, Some(&record)) != Audience::Stranger || record.order.recipient_last_digits().is_none() {
        return check(s, order_no).await;
    }
    if record.proof_tries_left(s.chat, s.now) == 0 {
        return Ok(locked(s, &order_no));
    }
    s.state = State::AwaitingProof { order_no: order_no.clone() };
    let text = t!(s.lang, "proof-ask", order = order_no.to_string());
    Ok(vec![Reply::text(text).with_keyboard(vec![menu_row(s.lang)])])
}

/// The digits typed to prove an order is the chat's.
pub(crate) async fn proof(s: &mut Session<'_>, order_no: OrderNo, text: &str) -> Replies {
    let typed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != 4 || !typed.chars().all(|c| c.is_ascii_digit()) {
        if OrderNo::looks_like(text) {
            return check_typed(s, text).await;
        }
        let hint = t!(s.lang, "proof-format", order = order_no.to_string());
        return Ok(vec![Reply::text(hint).with_keyboard(vec![menu_row(s.lang)])]);
    }
    let Some(record) = s.bot.store.order(&order_no).await? else {
        return check(s, order_no).await;
    };
    if audience(s, Some(&record)) != Audience::Stranger {
        return check(s, order_no).await;
    }
    let tries_left = record.proof_tries_left(s.chat, s.now);
    if tries_left == 0 {
        return Ok(locked(s, &order_no));
    }
    s.state = State::Menu;
    if record.order.recipient_last_digits().as_deref() == Some(typed.as_str()) {
        s.writes.push(Op::OwnOrder { order_no: order_no.clone(), chat: s.chat.clone() });
        let item = ActivityItem::Order { order_no: order_no.clone(), status: record.order.status };
        s.writes.push(Op::Activity { chat: s.chat.clone(), item, at: s.now });
        note_paid(s, &record.order);
        let thanks = t!(s.lang, "proof-ok");
        return Ok(vec![show(s, order_no, &record.order, Audience::Customer, Some(thanks))]);
    }
    s.writes.push(Op::FailedProof { order_no: order_no.clone(), chat: s.chat.clone(), at: s.now });
    let left = tries_left - 1;
    if left == 0 {
        return Ok(locked(s, &order_no));
    }
    s.state = State::AwaitingProof { order_no: order_no.clone() };
    let text = t!(s.lang, "proof-wrong", order = order_no.to_string(), left = left as u64);
    Ok(vec![Reply::text(text).with_keyboard(vec![menu_row(s.lang)])])
}

fn locked(s: &mut Session<'_>, order_no: &OrderNo) -> Vec<Reply> {
    s.state = State::Menu;
    let text = t!(s.lang, "proof-locked", order = order_no.to_string());
    vec![Reply::text(text).with_keyboard(vec![vec![
        button(s.lang, "btn-another-order", Action::AskOrder),
        button(s.lang, "btn-menu", Action::Menu),
    ]])]
}

/// "Notify me": adds the chat to the order's watchers, from what was last seen of the order.
/// An order never seen (or forgotten since) is checked first; a chat that does not own the
/// order is told why it cannot.
pub(crate) async fn watch(s: &mut Session<'_>, order_no: OrderNo) -> Replies {
    let Some(tracker) = s.bot.tracker.clone() else {
        return check(s, order_no).await;
    };
    let Some(record) = s.bot.store.order(&order_no).await? else {
        return check(s, order_no).await;
    };
    let audience = audience(s, Some(&record));
    s.state = State::Menu;
    if audience == Audience::Stranger {
        let why = t!(s.lang, "order-owner-only");
        return Ok(vec![show(s, order_no, &record.order, audience, Some(why))]);
    }
    let order = record.order;
    let shown = order_no.to_string();
    if order.status.is_final() {
        let text = t!(s.lang, "watch-already-final", order = shown.clone());
        return Ok(vec![Reply::text(text).with_keyboard(vec![vec![
            button(s.lang, "btn-check-now", Action::Order(order_no)),
            button(s.lang, "btn-menu", Action::Menu),
        ]])]);
    }
    s.writes.push(tracker.watch_op(&order_no, &order, s.chat, s.lang));
    let hours = (tracker.config().max_age.as_secs() / 3600).max(1);
    let text = t!(s.lang, "watch-started", order = shown, hours = hours);
    Ok(vec![Reply::text(text).with_keyboard(vec![menu_row(s.lang)])])
}
