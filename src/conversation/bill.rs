//! The bill flow: choose a biller, type a reference, see the bills or the meter.

use super::limits::{self, LookupKind};
use super::menus::{button, labelled, menu_row};
use super::order;
use super::payload::Action;
use super::reply::{Button, Reply};
use super::session::{Replies, Session};
use super::state::State;
use crate::domain::{Biller, CustomerReference, OrderNo, ReferenceError};
use crate::store::{ActivityItem, Op};
use crate::t;
use crate::upstream::ErrorKind;
use crate::views::{self, Audience, ErrorSubject};

/// The biller buttons, after `hint` if there is one.
pub(crate) async fn choose_biller(s: &mut Session<'_>, hint: Option<String>) -> Vec<Reply> {
    s.state = State::ChoosingBiller;
    let mut text = t!(s.lang, "bill-choose");
    if let Some(hint) = hint {
        text = format!("{hint}\n\n{text}");
    }
    // Saved references first: one tap re-checks them.
    let saved = s.bot.store.saved_references(s.chat).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "saved references unreadable");
        Vec::new()
    });
    // As many as the channel can offer beside the billers, "manage" and "menu"; the rest are a
    // tap away under "manage".
    let room = s.caps.max_choices.saturating_sub(Biller::ALL.len() + 2);
    let mut rows: Vec<_> = saved
        .iter()
        .filter_map(|saved| super::saved::recheck_button(s, saved))
        .take(room)
        .map(|b| vec![b])
        .collect();
    if !saved.is_empty() {
        text = format!("{}\n\n{text}", t!(s.lang, "saved-intro"));
    }
    rows.extend(
        Biller::ALL
            .iter()
            .map(|b| vec![labelled(t!(s.lang, &format!("btn-biller-{}", b.key())), Action::Biller(*b))]),
    );
    if !saved.is_empty() {
        rows.push(vec![button(s.lang, "btn-manage-saved", Action::Saved(0))]);
    }
    rows.push(menu_row(s.lang));
    vec![Reply::text(text).with_keyboard(rows)]
}

fn reference_keyboard(s: &Session<'_>) -> Vec<Vec<Button>> {
    vec![vec![button(s.lang, "btn-change-biller", Action::Bill), button(s.lang, "btn-menu", Action::Menu)]]
}

/// Asks for a reference of `biller`, saying what it looks like.
pub(crate) fn ask_reference(s: &mut Session<'_>, biller: Biller) -> Vec<Reply> {
    s.state = State::AwaitingReference { biller };
    let rule = biller.reference_rule();
    let text = t!(
        s.lang,
        "bill-ask-reference",
        biller = views::biller_name(s.lang, biller),
        kind = views::reference_kind(s.lang, biller),
        min = rule.min_digits as u64,
        max = rule.max_digits as u64
    );
    vec![Reply::text(text).with_keyboard(reference_keyboard(s))]
}

/// A reference typed while one is awaited: checked before any provider call.
pub(crate) async fn typed_reference(s: &mut Session<'_>, biller: Biller, text: &str) -> Replies {
    if OrderNo::looks_like(text) {
        return order::check_typed(s, text).await;
    }
    match CustomerReference::parse(biller, text) {
        Ok(reference) => inquire(s, reference).await,
        Err(e) => {
            let mut keyboard = reference_keyboard(s);
            // Too long for a reference, but it could be an order number (typed without `GB`):
            // one tap checks it as one.
            if let (ReferenceError::TooLong { .. }, Ok(order_no)) = (&e, OrderNo::parse(text)) {
                keyboard.insert(0, vec![button(s.lang, "btn-its-an-order", Action::Order(order_no))]);
            }
            Ok(vec![Reply::text(views::reference_error(s.lang, biller, &e)).with_keyboard(keyboard)])
        }
    }
}

/// A number typed right after a bill of `biller`, as a reference of the same biller (unless it
/// is written as an order number).
pub(crate) fn same_biller(biller: Biller, text: &str) -> Option<CustomerReference> {
    if OrderNo::looks_like(text) {
        return None;
    }
    CustomerReference::parse(biller, text).ok()
}

/// Looks up a number typed right after a bill with that bill's biller, with a way to say it was
/// for another one (when another biller takes such a number).
pub(crate) async fn inquire_assumed(s: &mut Session<'_>, reference: CustomerReference) -> Replies {
    let others = other_billers(&reference);
    let mut replies = inquire(s, reference.clone()).await?;
    if !others.is_empty()
        && let Some(last) = replies.last_mut()
    {
        last.keyboard.insert(0, vec![button(s.lang, "btn-another-biller", Action::OtherBiller(reference))]);
    }
    Ok(replies)
}

/// The same number as a reference of each other biller that takes it.
fn other_billers(reference: &CustomerReference) -> Vec<CustomerReference> {
    Biller::ALL
        .iter()
        .filter(|b| **b != reference.biller())
        .filter_map(|b| CustomerReference::parse(*b, reference.as_str()).ok())
        .collect()
}

/// "Another biller" pressed: the other billers that take the number, one tap each.
pub(crate) fn other_biller(s: &mut Session<'_>, reference: &CustomerReference) -> Reply {
    s.state = State::Menu;
    let mut rows: Vec<_> = other_billers(reference)
        .into_iter()
        .map(|r| vec![labelled(t!(s.lang, &format!("btn-biller-{}", r.biller().key())), Action::Inquire(r))])
        .collect();
    if rows.is_empty() {
        // Only a stale button gets here (no other biller ever took the number).
        return Reply::text(t!(s.lang, "bill-choose")).with_keyboard(vec![menu_row(s.lang)]);
    }
    rows.push(menu_row(s.lang));
    Reply::text(t!(s.lang, "bill-which-biller", reference = reference.as_str().to_owned()))
        .with_keyboard(rows)
}

/// Looks `reference` up and shows the result, or a way forward when it fails.
pub(crate) async fn inquire(s: &mut Session<'_>, reference: CustomerReference) -> Replies {
    let biller = reference.biller();
    if let Err(wait) = limits::take(s, LookupKind::Bill) {
        s.state = State::AwaitingReference { biller };
        return Ok(wait);
    }
    match s.bot.provider_call(s.waiting_note(), || s.bot.inquiry.inquire(&reference)).await {
        Ok(result) => {
            let item = ActivityItem::Lookup { biller, reference: reference.as_str().to_owned() };
            s.writes.push(Op::Activity { chat: s.chat.clone(), item, at: s.now });
            s.state = State::AfterBill { biller };
            let save = button(s.lang, "btn-save-reference", Action::Save(reference.clone()));
            let menu = button(s.lang, "btn-menu", Action::Menu);
            // Three choices at most, so that WhatsApp shows them as buttons: with "Remind me",
            // "another number" is left to the line that says to just type it.
            let keyboard = match super::reminders::offer(s, &result) {
                Some(remind) => vec![vec![remind, save], vec![menu]],
                None => vec![
                    vec![save],
                    vec![button(s.lang, "btn-another-reference", Action::Biller(biller)), menu],
                ],
            };
            let view = views::inquiry(s.lang, &result, audience(s, &reference), s.now.date_naive());
            let hint = t!(s.lang, "bill-type-next", biller = views::biller_name(s.lang, biller));
            Ok(vec![Reply::text(format!("{view}\n\n{hint}")).with_keyboard(keyboard)])
        }
        Err(e) => {
            s.state = State::AwaitingReference { biller };
            let text = views::upstream_error(s.lang, e.kind(), ErrorSubject::Reference(&reference));
            let mut row = Vec::new();
            if e.kind() != ErrorKind::NotFound {
                row.push(button(s.lang, "btn-try-again", Action::Inquire(reference.clone())));
            }
            row.push(button(s.lang, "btn-another-reference", Action::Biller(biller)));
            row.push(button(s.lang, "btn-menu", Action::Menu));
            let hint = t!(s.lang, "bill-type-another", kind = views::reference_kind(s.lang, biller));
            let mut keyboard = vec![row];
            if s.bot.support.is_some() {
                keyboard.push(vec![button(s.lang, "btn-support", Action::SupportReference(reference))]);
            }
            Ok(vec![Reply::text(format!("{text}\n\n{hint}")).with_keyboard(keyboard)])
        }
    }
}

/// What this chat may see of the holder of `reference`: an agent (in a private chat)
/// everything; a customer chat the name and address in full only if it paid that reference
/// through billbot (an order it owns, seen succeeded), else what lets an owner recognize them.
/// Saving a reference proves nothing (anyone who looked it up may save it).
fn audience(s: &Session<'_>, reference: &CustomerReference) -> Audience {
    match Audience::from(s.role) {
        Audience::Agent => Audience::Agent,
        _ if s.prefs.paid.contains(reference, s.now.date_naive()) => Audience::Customer,
        _ => Audience::Stranger,
    }
}

/// Digits typed at the menu: asks which biller they are for (and offers "it's an order" when
/// they could be one), or `None` when they fit nothing.
pub(crate) fn which_biller(s: &mut Session<'_>, digits: &str) -> Option<Reply> {
    let mut rows: Vec<_> = Biller::ALL
        .iter()
        .filter_map(|b| CustomerReference::parse(*b, digits).ok())
        .map(|r| vec![labelled(t!(s.lang, &format!("btn-biller-{}", r.biller().key())), Action::Inquire(r))])
        .collect();
    if let Ok(order_no) = OrderNo::parse(digits) {
        rows.push(vec![button(s.lang, "btn-its-an-order", Action::Order(order_no))]);
    }
    if rows.is_empty() {
        return None;
    }
    s.state = State::Menu;
    rows.push(menu_row(s.lang));
    Some(Reply::text(t!(s.lang, "bill-which-biller", reference = digits)).with_keyboard(rows))
}
