//! What the bot says outside of a conversation step: the tracker's news of a watched order, and
//! reminders of bills' due dates. The tracker and the reminder job decide when to tell; these are
//! the words and buttons, like every other view.

use super::menus::{button, ticket_keyboard};
use super::payload::{self, Action};
use super::payload_key::PayloadKeys;
use super::reply::Reply;
use crate::domain::ChatKey;
use crate::i18n::{Lang, format};
use crate::outbox::Notice;
use crate::store::StoreError;
use crate::t;
use crate::views::{self, Audience};

/// The notice as a message, with the buttons that lead on from it.
pub fn reply(lang: Lang, notice: &Notice) -> Reply {
    match notice {
        Notice::StatusChanged { order_no, order } => {
            let heading = t!(lang, "watch-update", order = order_no.to_string());
            let text = format!("{heading}\n\n{}", views::order(lang, order, Audience::Customer));
            let mut row = Vec::new();
            if !order.status.is_final() {
                row.push(button(lang, "btn-refresh", Action::Order(order_no.clone())));
            }
            row.push(button(lang, "btn-menu", Action::Menu));
            Reply::text(text).with_keyboard(vec![row])
        }
        Notice::Reminder { reference, amount, .. } => {
            let mut text = reminder_sentence(lang, notice);
            text.push_str("\n\n");
            text.push_str(&match amount {
                Some(amount) => t!(lang, "reminder-amount", amount = format::money(lang, amount)),
                None => t!(lang, "reminder-amount-unknown"),
            });
            Reply::text(text).with_keyboard(vec![
                vec![button(lang, "btn-check-bill", Action::Inquire(reference.clone()))],
                vec![
                    button(lang, "btn-reminders", Action::Reminders),
                    button(lang, "btn-menu", Action::Menu),
                ],
            ])
        }
        Notice::ToSupport { ticket, text } => Reply::text(text.clone()).with_keyboard(vec![vec![button(
            lang,
            "btn-close-ticket",
            Action::CloseTicket(ticket.clone()),
        )]]),
        Notice::FromSupport { ticket, text, agent, closed: false } => {
            let heading = match agent {
                Some(name) => t!(lang, "support-from-agent", ticket = ticket.as_str(), agent = name.as_str()),
                None => t!(lang, "support-from", ticket = ticket.as_str()),
            };
            Reply::text(format!("{heading}\n{text}\n\n{}", t!(lang, "support-answer-hint")))
                .with_keyboard(ticket_keyboard(lang, ticket))
        }
        Notice::FromSupport { ticket, closed: true, .. } => {
            Reply::text(t!(lang, "support-closed-by-agent", ticket = ticket.as_str()))
                .with_keyboard(vec![vec![button(lang, "btn-menu", Action::Menu)]])
        }
        Notice::WatchEnded { order_no, hours } => {
            let text = t!(lang, "watch-expired", order = order_no.to_string(), hours = *hours);
            Reply::text(text).with_keyboard(vec![vec![
                button(lang, "btn-check-now", Action::Order(order_no.clone())),
                button(lang, "btn-menu", Action::Menu),
            ]])
        }
    }
}

/// [`reply`] as it goes to `chat`: its buttons signed for that chat (see [`payload`]), so that
/// a "Check the bill" or "Close my request" under a notice works like any other button.
pub async fn sealed(
    keys: &PayloadKeys,
    chat: &ChatKey,
    lang: Lang,
    notice: &Notice,
) -> Result<Reply, StoreError> {
    let mut replies = [reply(lang, notice)];
    payload::seal_replies(&mut replies, keys.get().await?, chat);
    let [reply] = replies;
    Ok(reply)
}

/// The first sentence of a reminder: which bill, and when it is due.
fn reminder_sentence(lang: Lang, notice: &Notice) -> String {
    let Notice::Reminder { reference, due_day, days_left, .. } = notice else { return String::new() };
    let when = format::due_date_and_distance(lang, *due_day, *days_left);
    t!(
        lang,
        "reminder-text",
        biller = views::biller_name(lang, reference.biller()),
        kind = views::reference_kind(lang, reference.biller()),
        reference = reference.as_str().to_owned(),
        when = when
    )
}

/// A notice as the parameters of its WhatsApp template (outside the 24-hour window): an order's
/// number and status in words (`✅ delivered`); a reminder's biller, reference, amount (`—` when
/// unknown) and due date.
pub fn template_params(lang: Lang, notice: &Notice) -> Vec<String> {
    match notice {
        Notice::StatusChanged { order_no, order } => {
            vec![order_no.to_string(), views::status_label(lang, order)]
        }
        Notice::WatchEnded { order_no, .. } => vec![order_no.to_string(), t!(lang, "watch-ended-status")],
        Notice::Reminder { reference, due_day, amount, .. } => vec![
            views::biller_name(lang, reference.biller()),
            reference.as_str().to_owned(),
            amount.as_ref().map(|a| format::money(lang, a)).unwrap_or_else(|| "—".to_owned()),
            format::date(lang, *due_day),
        ],
        Notice::ToSupport { ticket, text } | Notice::FromSupport { ticket, text, .. } => {
            vec![ticket.clone(), text.clone()]
        }
    }
}
