//! Talking to a person: a customer's request (a ticket with a short id) goes to the support chat
//! (`BILLBOT_SUPPORT_CHAT`) with what the chat needs to be helped (its last lookups), agents answer
//! there (a reply to the ticket's message, or `/reply ID text`) and close it (`/close ID`), and
//! what they say reaches the customer on their channel, framed as coming from support. While a
//! ticket is open (until closed, or 24 hours without a message), what the customer types goes to
//! support. Every message either way goes through the outbox: sent at least once, never lost on
//! a restart.
//!
//! Agents see the ticket id, the customer's channel and language, the question and the chat's own
//! recent lookups: never the chat id, a phone number or another customer's data. Customers see
//! "Support" unless operators choose to show agents' first names (`BILLBOT_SUPPORT_SHOW_AGENT`).

use chrono::{DateTime, Utc};

use super::input::Input;
use super::menus::{self, ticket_keyboard};
use super::payload::Action;
use super::reply::Reply;
use super::session::{Replies, Session};
use super::state::State;
pub use super::support_settings::{Support, SupportHours};
use super::ticket_ids::{is_ticket_id, ticket_id, ticket_in};
use crate::domain::ChatKey;
use crate::i18n::{Lang, format};
use crate::outbox::Notice;
use crate::store::{ActivityItem, Op, Outgoing, StoreError, Ticket};
use crate::t;
use crate::views;

/// Message `n` of `ticket`, to `to` in `lang`, as an outbox entry (its id names all three).
fn ticket_message(
    to: &ChatKey,
    lang: Lang,
    ticket: &str,
    n: u32,
    notice: &Notice,
    now: DateTime<Utc>,
) -> Result<Outgoing, StoreError> {
    let id = format!("{}|ticket|{ticket}|{n}", to.storage_key());
    Ok(Outgoing::new(id, to, lang, serde_json::to_value(notice)?, now))
}

fn support_of<'a>(s: &Session<'a>) -> Option<&'a Support> {
    s.bot.support.as_ref()
}

/// The chat's open ticket, if it has one.
pub(crate) async fn open_ticket(s: &mut Session<'_>) -> Option<Ticket> {
    support_of(s)?;
    let ticket = s.bot.store.latest_ticket(s.chat).await.ok().flatten()?;
    ticket.is_open(s.now).then_some(ticket)
}

/// "Talk to an agent": asks for the question, or says an open ticket is listening.
pub(crate) async fn start(s: &mut Session<'_>, about: Option<String>) -> Replies {
    let Some(support) = support_of(s) else { return Ok(unavailable(s)) };
    if let Some(ticket) = open_ticket(s).await {
        let text = t!(s.lang, "support-already-open", ticket = ticket.id.as_str());
        return Ok(vec![Reply::text(text).with_keyboard(ticket_keyboard(s.lang, &ticket.id))]);
    }
    s.state = State::AwaitingQuestion { about };
    let text = with_hours(s.lang, support, s.now, t!(s.lang, "support-ask"));
    Ok(vec![Reply::text(text).with_keyboard(vec![menus::menu_row(s.lang)])])
}

/// No support chat is configured: said so, with the menu.
fn unavailable(s: &mut Session<'_>) -> Vec<Reply> {
    s.state = State::Menu;
    vec![menus::main_menu(s, t!(s.lang, "support-unavailable"))]
}

/// `text`, then, outside support hours, when to expect an answer.
fn with_hours(lang: Lang, support: &Support, now: DateTime<Utc>, text: String) -> String {
    if support.hours.is_open(now) {
        return text;
    }
    let next = support.hours.next_open(now);
    let time = support.hours.open.format("%H:%M").to_string();
    let note = t!(lang, "support-closed-now", day = format::date(lang, next.date_naive()), time = time);
    format!("{text}\n\n{note}")
}

/// The chat's recent lookups, for the agents: what it looked up, not who it is.
async fn context(s: &mut Session<'_>, lang: Lang) -> String {
    let activity = s.bot.store.activity(s.chat).await.unwrap_or_default();
    let lines: Vec<String> = activity
        .iter()
        .take(3)
        .map(|a| match &a.item {
            ActivityItem::Lookup { biller, reference } => {
                format!("• {} {reference}", views::biller_name(lang, *biller))
            }
            ActivityItem::Order { order_no, .. } => format!("• {order_no}"),
        })
        .collect();
    if lines.is_empty() { t!(lang, "ticket-no-context") } else { lines.join("\n") }
}

/// The question typed: a new ticket, sent to the support chat.
pub(crate) async fn open(s: &mut Session<'_>, question: &str, about: Option<String>) -> Replies {
    let Some(support) = support_of(s) else { return Ok(unavailable(s)) };
    let question = question.trim();
    if question.is_empty() {
        return start(s, about).await;
    }
    let seed = format!("{}|{}", s.chat.storage_key(), s.now.timestamp_nanos_opt().unwrap_or_default());
    let mut id = ticket_id(&seed, 0);
    for attempt in 1..10 {
        if s.bot.store.ticket(&id).await?.is_none() {
            break;
        }
        id = ticket_id(&seed, attempt);
    }
    let ticket = Ticket {
        id: id.clone(),
        chat: s.chat.clone(),
        lang: s.lang,
        opened_at: s.now,
        last_at: s.now,
        closed_at: None,
        messages: 1,
    };
    let agents = support.lang;
    let text = t!(
        agents,
        "ticket-opened",
        ticket = id.as_str(),
        channel = t!(agents, &format!("channel-{}", s.chat.channel().tag())),
        lang = t!(s.lang, "lang-name"),
        question = question.to_owned(),
        context = context(s, agents).await
    );
    let text = match about {
        Some(about) => format!("{text}\n\n{}", t!(agents, "ticket-about", about = about)),
        None => text,
    };
    let notice = Notice::ToSupport { ticket: id.clone(), text };
    let tell = vec![ticket_message(&support.chat, agents, &id, 1, &notice, s.now)?];
    s.writes.push(Op::Ticket { ticket, tell });
    s.state = State::Menu;
    let text = with_hours(s.lang, support, s.now, t!(s.lang, "support-opened", ticket = id.as_str()));
    Ok(vec![Reply::text(text).with_keyboard(ticket_keyboard(s.lang, &id))])
}

/// Text from a customer with an open ticket: relayed to support.
pub(crate) fn relay(s: &mut Session<'_>, mut ticket: Ticket, text: &str) -> Replies {
    let Some(support) = support_of(s) else { return Ok(Vec::new()) };
    ticket.messages += 1;
    ticket.last_at = s.now;
    let message =
        t!(support.lang, "ticket-customer-says", ticket = ticket.id.as_str(), text = text.trim().to_owned());
    let notice = Notice::ToSupport { ticket: ticket.id.clone(), text: message };
    let tell =
        vec![ticket_message(&support.chat, support.lang, &ticket.id, ticket.messages, &notice, s.now)?];
    let reply = Reply::text(t!(s.lang, "support-relayed", ticket = ticket.id.as_str()))
        .with_keyboard(ticket_keyboard(s.lang, &ticket.id));
    s.writes.push(Op::Ticket { ticket, tell });
    Ok(vec![reply])
}

/// "Close my request" (customer) or "Close" (support chat).
pub(crate) async fn close(s: &mut Session<'_>, id: &str) -> Replies {
    let Some(support) = support_of(s) else { return start(s, None).await };
    let from_support = *s.chat == support.chat;
    let ticket = s.bot.store.ticket(id).await?.filter(|t| from_support || t.chat == *s.chat);
    let Some(mut ticket) = ticket.filter(|t| t.closed_at.is_none()) else {
        let text = t!(s.lang, "support-not-open", ticket = id.to_owned());
        return Ok(vec![if from_support { Reply::text(text) } else { menus::main_menu(s, text) }]);
    };
    ticket.closed_at = Some(s.now);
    ticket.messages += 1;
    let n = ticket.messages;
    let (to, lang, notice) = if from_support {
        let notice =
            Notice::FromSupport { ticket: ticket.id.clone(), text: String::new(), agent: None, closed: true };
        (ticket.chat.clone(), ticket.lang, notice)
    } else {
        let text = t!(support.lang, "ticket-closed-by-customer", ticket = ticket.id.as_str());
        (support.chat.clone(), support.lang, Notice::ToSupport { ticket: ticket.id.clone(), text })
    };
    let tell = vec![ticket_message(&to, lang, &ticket.id, n, &notice, s.now)?];
    let id = ticket.id.clone();
    s.writes.push(Op::Ticket { ticket, tell });
    if from_support {
        return Ok(vec![Reply::text(t!(s.lang, "ticket-closed-told", ticket = id.as_str()))]);
    }
    s.state = State::Menu;
    Ok(vec![menus::main_menu(s, t!(s.lang, "support-closed-by-you", ticket = id.as_str()))])
}

/// What the support chat sends: `/reply ID text`, a reply to a ticket's message, `/close ID`, the
/// close button. Anything else gets the agents' help.
pub(crate) async fn agent_step(
    s: &mut Session<'_>,
    input: Input,
    replying_to: Option<&str>,
    agent: Option<&str>,
) -> Replies {
    s.state = State::Menu;
    // The support chat speaks the agents' language, whatever each agent's client says.
    if let (None, Some(support)) = (s.prefs.lang, support_of(s)) {
        s.lang = support.lang;
    }
    match input {
        Input::Command { name, arg } if name == "reply" => {
            let arg = arg.unwrap_or_default();
            let (id, text) = arg.trim().split_once(char::is_whitespace).unwrap_or((arg.trim(), ""));
            answer(s, &id.to_ascii_uppercase(), text, agent).await
        }
        Input::Command { name, arg } if name == "close" => {
            close(s, &arg.unwrap_or_default().trim().to_ascii_uppercase()).await
        }
        Input::Button(payload) => match Action::open(&payload, s.bot.payloads.get().await?, s.chat) {
            Some(Action::CloseTicket(id)) => close(s, &id).await,
            _ => Ok(vec![Reply::text(t!(s.lang, "support-agent-help"))]),
        },
        Input::Text(text) => match replying_to.and_then(ticket_in) {
            Some(id) => answer(s, &id, &text, agent).await,
            None => Ok(vec![Reply::text(t!(s.lang, "support-agent-help"))]),
        },
        Input::Command { .. } => Ok(vec![Reply::text(t!(s.lang, "support-agent-help"))]),
    }
}

/// An agent's answer to ticket `id`, sent to its customer.
async fn answer(s: &mut Session<'_>, id: &str, text: &str, agent: Option<&str>) -> Replies {
    let text = text.trim();
    if !is_ticket_id(id) || text.is_empty() {
        return Ok(vec![Reply::text(t!(s.lang, "support-agent-help"))]);
    }
    let show_agent = support_of(s).is_some_and(|sp| sp.show_agent);
    let Some(mut ticket) = s.bot.store.ticket(id).await?.filter(|t| t.is_open(s.now)) else {
        return Ok(vec![Reply::text(t!(s.lang, "support-not-open", ticket = id.to_owned()))]);
    };
    ticket.messages += 1;
    ticket.last_at = s.now;
    let agent = agent.filter(|_| show_agent).map(str::to_owned);
    let notice =
        Notice::FromSupport { ticket: ticket.id.clone(), text: text.to_owned(), agent, closed: false };
    let tell = vec![ticket_message(&ticket.chat, ticket.lang, &ticket.id, ticket.messages, &notice, s.now)?];
    s.writes.push(Op::Ticket { ticket, tell });
    Ok(vec![Reply::text(t!(s.lang, "support-answer-sent", ticket = id.to_owned()))])
}
