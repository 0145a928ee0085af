//! The order flow: type an order number, see its status; refresh while it is pending.

use super::Session;
use super::flow::Replies;
use super::menus::{button, menu_row};
use super::payload::Action;
use super::reply::Reply;
use super::state::State;
use crate::domain::OrderNo;
use crate::store::{ActivityItem, Op};
use crate::t;
use crate::upstream::ErrorKind;
use crate::views::{self, ErrorSubject};

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

/// Asks the provider for the order, records it, and shows it.
pub(crate) async fn check(s: &mut Session<'_>, order_no: OrderNo) -> Replies {
    match s.bot.status.status(&order_no).await {
        Ok(order) => {
            let record =
                Op::RecordOrder { order_no: order_no.clone(), order: Box::new(order.clone()), at: s.now };
            s.writes.push(record);
            let item = ActivityItem::Order { order_no: order_no.clone(), status: order.status };
            s.writes.push(Op::Activity { chat: s.chat.clone(), item, at: s.now });
            s.state = State::Menu;
            let mut text = views::order(s.lang, &order, s.role.into());
            let mut row = Vec::new();
            if !order.status.is_final() {
                text = format!("{text}\n\n{}", t!(s.lang, "status-pending-hint"));
                row.push(button(s.lang, "btn-refresh", Action::Order(order_no.clone())));
                if s.bot.tracker.is_some() {
                    row.push(button(s.lang, "btn-notify-me", Action::Watch(order_no)));
                }
            }
            row.push(button(s.lang, "btn-another-order", Action::AskOrder));
            row.push(button(s.lang, "btn-menu", Action::Menu));
            Ok(vec![Reply::text(text).with_keyboard(vec![row])])
        }
        Err(e) => {
            s.state = State::AwaitingOrderNo;
            let shown = order_no.to_string();
            let text = views::upstream_error(s.lang, e.kind(), ErrorSubject::Order(&shown));
            let mut row = Vec::new();
            if e.kind() != ErrorKind::NotFound {
                row.push(button(s.lang, "btn-try-again", Action::Order(order_no)));
            }
            row.push(button(s.lang, "btn-menu", Action::Menu));
            let hint = t!(s.lang, "status-type-another");
            Ok(vec![Reply::text(format!("{text}\n\n{hint}")).with_keyboard(vec![row])])
        }
    }
}

/// "Notify me": adds the chat to the order's watchers, from what was last seen of the order
/// (checked again now if this bot never saw it).
pub(crate) async fn watch(s: &mut Session<'_>, order_no: OrderNo) -> Replies {
    let Some(tracker) = s.bot.tracker.clone() else {
        return check(s, order_no).await;
    };
    let known = s.bot.store.order(&order_no).await?.map(|record| record.order);
    let order = match known {
        Some(order) => order,
        None => match s.bot.status.status(&order_no).await {
            Ok(order) => order,
            Err(_) => return check(s, order_no).await,
        },
    };
    s.state = State::Menu;
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
