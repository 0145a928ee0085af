//! Paginated lists: the chat's own orders and lookups, and the merchant's history (agents).

use super::menus::{self, labelled, menu_row, page_of, pager};
use super::payload::Action;
use super::reply::Reply;
use super::session::{Replies, Session};
use super::state::State;
use crate::domain::{CustomerReference, Role};
use crate::i18n::format;
use crate::store::ActivityItem;
use crate::t;
use crate::views::{self, ErrorSubject};

/// Items a page of the chat's own list.
pub const ORDERS_PER_PAGE: usize = 5;
/// Transactions a page of the merchant history.
pub const HISTORY_PER_PAGE: usize = 8;

/// Items a page shows: `wanted`, or fewer where the channel cannot offer that many buttons beside
/// the page's own three (newer, older, menu).
fn per_page(s: &Session<'_>, wanted: usize) -> usize {
    wanted.min(s.caps.max_choices.saturating_sub(3)).max(1)
}

/// `/orders`: newest first, each with a button that checks it again.
pub(crate) async fn orders(s: &mut Session<'_>, page: usize) -> Replies {
    s.state = State::Menu;
    let items = s.bot.store.activity(s.chat).await?;
    if items.is_empty() {
        return Ok(vec![menus::main_menu(s, t!(s.lang, "orders-empty"))]);
    }
    let (page, pages, range) = page_of(items.len(), per_page(s, ORDERS_PER_PAGE), page);
    let mut lines = vec![t!(s.lang, "orders-title", page = (page + 1) as u64, pages = pages as u64)];
    let mut buttons = Vec::new();
    for (n, activity) in items[range.clone()].iter().enumerate() {
        let n = range.start + n + 1;
        let date = format::date_time(s.lang, activity.at);
        match &activity.item {
            ActivityItem::Lookup { biller, reference } => {
                lines.push(t!(
                    s.lang,
                    "orders-line-lookup",
                    n = n as u64,
                    biller = views::biller_name(s.lang, *biller),
                    reference = reference.as_str(),
                    date = date
                ));
                if let Ok(r) = CustomerReference::parse(*biller, reference) {
                    buttons.push(labelled(t!(s.lang, "btn-recheck", n = n as u64), Action::Inquire(r)));
                }
            }
            ActivityItem::Order { order_no, status } => {
                lines.push(t!(
                    s.lang,
                    "orders-line-order",
                    n = n as u64,
                    order = order_no.to_string(),
                    status = t!(s.lang, &format!("order-status-{}", status.key())),
                    date = date
                ));
                buttons
                    .push(labelled(t!(s.lang, "btn-recheck", n = n as u64), Action::Order(order_no.clone())));
            }
        }
    }
    lines.push(String::new());
    lines.push(t!(s.lang, "orders-recheck-hint"));
    let mut keyboard = vec![buttons];
    keyboard.push(pager(s.lang, page, pages, Action::Orders));
    keyboard.push(menu_row(s.lang));
    keyboard.retain(|row| !row.is_empty());
    Ok(vec![Reply::text(lines.join("\n")).with_keyboard(keyboard)])
}

/// `/history`: the merchant's transactions, for agents only.
pub(crate) async fn history(s: &mut Session<'_>, page: usize) -> Replies {
    s.state = State::Menu;
    if s.role != Role::Agent {
        return Ok(vec![menus::main_menu(s, t!(s.lang, "history-agents-only"))]);
    }
    let history = match s.bot.status.history().await {
        Ok(h) => h,
        Err(e) => {
            let text = views::upstream_error(s.lang, e.kind(), ErrorSubject::History);
            let keyboard = vec![vec![
                menus::button(s.lang, "btn-try-again", Action::History(page)),
                menus::button(s.lang, "btn-menu", Action::Menu),
            ]];
            return Ok(vec![Reply::text(text).with_keyboard(keyboard)]);
        }
    };
    if history.orders.is_empty() {
        return Ok(vec![menus::main_menu(s, t!(s.lang, "error-history-empty"))]);
    }
    let total = history.orders.len();
    let (page, pages, range) = page_of(total, per_page(s, HISTORY_PER_PAGE), page);
    let mut lines = vec![t!(
        s.lang,
        "history-title",
        page = (page + 1) as u64,
        pages = pages as u64,
        total = total as u64
    )];
    let mut rows = Vec::new();
    let mut row = Vec::new();
    for (n, order) in history.orders[range.clone()].iter().enumerate() {
        let n = range.start + n + 1;
        let number =
            order.order_no.as_ref().map(|o| o.to_string()).or_else(|| order.trx.clone()).unwrap_or_default();
        lines.push(t!(
            s.lang,
            "history-line",
            n = n as u64,
            order = number,
            amount = order.amount.as_ref().map(|m| format::money(s.lang, m)).unwrap_or_default(),
            status = views::status_label(s.lang, order),
            date = order.created_at.map(|d| format::date_time(s.lang, d)).unwrap_or_default()
        ));
        if let Some(order_no) = &order.order_no {
            row.push(labelled(n.to_string(), Action::Order(order_no.clone())));
            if row.len() == 4 {
                rows.push(std::mem::take(&mut row));
            }
        }
    }
    rows.push(row);
    lines.push(String::new());
    lines.push(t!(s.lang, "history-open-hint"));
    rows.push(pager(s.lang, page, pages, Action::History));
    rows.push(menu_row(s.lang));
    rows.retain(|r| !r.is_empty());
    Ok(vec![Reply::text(lines.join("\n")).with_keyboard(rows)])
}
