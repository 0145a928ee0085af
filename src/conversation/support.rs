//! Talking to a person: a customer's request (a ticket with a short id) goes to the support chat
//! (`BILLBOT_SUPPORT_CHAT`) with what the chat needs to be helped (its last lookups), agents answer
//! there (a reply to the ticket's message, or `/reply ID text`) and close it (`/close ID`), and
//! what they say reaches the customer on their channel, framed as coming from support. While a
//! ticket is open (until closed, or 24 hours without a message), what the customer types goes to
//! support. Every message either way goes through the outbox: sent at least once, never lost on
//! a restart.
//!
//! Agents see the ticket id, the customer's channel and language, the chat's own recent lookups
//! and then the question: never the chat id, a phone number or another customer's data. What the
//! customer wrote comes after the bot's own lines and is quoted as theirs, line by line (`quoted`),
//! so that words of their making cannot pass for the bot's context. Customers see "Support" unless
//! operators choose to show agents' first names (`BILLBOT_SUPPORT_SHOW_AGENT`).
//!
//! Only the listed agents act as support ([`Support::is_agent`], by the sender's user id, never by
//! the chat): anyone else in the support chat is refused and reaches no customer. A reply answers
//! a ticket only when it quotes the bot's own message, and the ticket is read from the mark that
//! opens it, which customers cannot write.
//!
//! One customer cannot flood support: [`RELAYS_PER_WINDOW`] messages relayed per
//! [`RELAY_WINDOW_MINUTES`] (then they are told an agent will read what they sent), and
//! [`TICKETS_PER_DAY`] requests opened a day.

use chrono::{DateTime, Duration, Utc};

use super::input::Input;
use super::menus::{self, ticket_keyboard};
use super::payload::Action;
use super::reply::Reply;
use super::session::{Replies, Session};
use super::state::State;
pub use super::support_settings::{Support, SupportHours};
use super::ticket_ids::{TICKET_MARK, is_ticket_id, ticket_id, ticket_in};
use crate::domain::ChatKey;
use crate::domain::limits::Lookups;
use crate::i18n::{Lang, format};
use crate::outbox::Notice;
use crate::store::{ActivityItem, Op, Outgoing, Store, StoreError, Ticket};
use crate::t;
use crate::views;

/// Messages one customer may have relayed to support in [`RELAY_WINDOW_MINUTES`]. Beyond, they are
/// told that an agent will read what they sent, and what they type is not relayed until the
/// window lets more in: one customer cannot bury the support chat (and its 20 messages a minute
/// on Telegram) under theirs.
pub const RELAYS_PER_WINDOW: u32 = 20;
/// The window [`RELAYS_PER_WINDOW`] counts in.
pub const RELAY_WINDOW_MINUTES: i64 = 10;
/// Requests one chat may open in a day (counted over the last 24 hours).
pub const TICKETS_PER_DAY: u32 = 5;
/// How many fresh ids a new ticket tries before the step gives up (with a thousand tickets kept,
/// two ids in a row taken is one chance in about 800 million).
const TICKET_ID_TRIES: u32 = 10;

/// Who sent a message in the support chat: their first name and their user id on the channel.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sender<'a> {
    pub name: Option<&'a str>,
    pub id: Option<&'a str>,
}

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

/// "Talk to an agent": asks for the question, or says an open ticket is listening, or that the
/// chat has opened as many requests as a day allows.
pub(crate) async fn start(s: &mut Session<'_>, about: Option<String>) -> Replies {
    let Some(support) = support_of(s) else { return Ok(unavailable(s)) };
    if let Some(ticket) = open_ticket(s).await {
        let text = t!(s.lang, "support-already-open", ticket = ticket.id.as_str());
        return Ok(vec![Reply::text(text).with_keyboard(ticket_keyboard(s.lang, &ticket.id))]);
    }
    // Asked on a copy: the request counts once opened.
    let mut probe = s.prefs.lookups.clone();
    if let Err(refused) = take_ticket(s, &mut probe) {
        return Ok(refused);
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

/// Counts a new request in `lookups` (the chat's), or the answer that says the day's are used up.
fn take_ticket(s: &mut Session<'_>, lookups: &mut Lookups) -> Result<(), Vec<Reply>> {
    Lookups::take_in_window(&mut lookups.tickets, s.now, Duration::hours(24), TICKETS_PER_DAY).map_err(
        |wait| {
            tracing::info!(chat = %s.chat, "support requests limit reached");
            let hours = ((wait.num_minutes() + 59) / 60).max(1);
            let text = t!(s.lang, "support-ticket-limit", count = TICKETS_PER_DAY, hours = hours);
            s.state = State::Menu;
            vec![menus::main_menu(s, text)]
        },
    )
}

/// The customer's `text` as agents see it: every line behind a quote bar, so that nothing the
/// customer types can pass for the bot's own lines (a "Recent lookups:" or "About:" of their own
/// making, naming someone else's order, starts "┃" like the rest of their words, after the bot's
/// real context); and without the ticket mark, which alone names the ticket a reply answers. Every
/// way of breaking a line counts as one (a Unicode line or paragraph separator too), and the
/// bidirectional controls that could move text across the bar are dropped.
pub(crate) fn quoted(text: &str) -> String {
    let text = text.trim().replace("\r\n", "\n");
    let cleaned: String = text
        .chars()
        .filter_map(|c| match c {
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => None,
            '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => Some('\n'),
            TICKET_MARK => Some('#'),
            c => Some(c),
        })
        .collect();
    let lines: Vec<String> = cleaned
        .split('\n')
        .map(|line| if line.is_empty() { "┃".to_owned() } else { format!("┃ {line}") })
        .collect();
    lines.join("\n")
}

/// Opens a ticket under the first of `ids` that no ticket has: each is tried with an insert that
/// never writes over a ticket ([`Store::open_ticket`]), so that an id drawn twice (five characters:
/// it happens) never reaches another customer's ticket. `make` gives the ticket and its first
/// notices for an id. `None` when every id was taken.
pub async fn open_fresh<F>(
    store: &Store,
    ids: impl IntoIterator<Item = String>,
    make: F,
) -> Result<Option<Ticket>, StoreError>
where
    F: Fn(&str) -> Result<(Ticket, Vec<Outgoing>), StoreError>,
{
    for id in ids {
        let (ticket, tell) = make(&id)?;
        if store.open_ticket(&ticket, &tell).await? {
            return Ok(Some(ticket));
        }
        tracing::info!(ticket = id, "a new ticket's id is taken: another one is drawn");
    }
    Ok(None)
}

/// The question typed: a new ticket, sent to the support chat. The ticket and its message to
/// support are written at once, before the step's other writes, because an id taken meanwhile
/// must be known to draw another.
pub(crate) async fn open(s: &mut Session<'_>, question: &str, about: Option<String>) -> Replies {
    let Some(support) = support_of(s) else { return Ok(unavailable(s)) };
    let question = question.trim();
    if question.is_empty() {
        return start(s, about).await;
    }
    let mut lookups = s.prefs.lookups.clone();
    if let Err(refused) = take_ticket(s, &mut lookups) {
        return Ok(refused);
    }
    let agents = support.lang;
    let channel = t!(agents, &format!("channel-{}", s.chat.channel().tag()));
    let customer_lang = t!(s.lang, "lang-name");
    let context = context(s, agents).await;
    // The bot's context first, then the customer's words, quoted as theirs.
    let about =
        about.map(|about| format!("\n{}", t!(agents, "ticket-about", about = about))).unwrap_or_default();
    let wrote = t!(agents, "ticket-customer-wrote", text = quoted(question));
    let (chat, lang, now) = (s.chat.clone(), s.lang, s.now);
    let make = |id: &str| {
        let head = t!(
            agents,
            "ticket-opened",
            ticket = id,
            channel = channel.as_str(),
            lang = customer_lang.as_str(),
            context = context.as_str()
        );
        let how = t!(agents, "ticket-how-to-answer", ticket = id);
        let notice =
            Notice::ToSupport { ticket: id.to_owned(), text: format!("{head}{about}\n\n{wrote}\n\n{how}") };
        let tell = vec![ticket_message(&support.chat, agents, id, 1, &notice, now)?];
        let ticket = Ticket {
            id: id.to_owned(),
            chat: chat.clone(),
            lang,
            opened_at: now,
            last_at: now,
            closed_at: None,
            messages: 1,
        };
        Ok((ticket, tell))
    };
    let seed = format!("{}|{}", s.chat.storage_key(), s.now.timestamp_nanos_opt().unwrap_or_default());
    let ids = (0..TICKET_ID_TRIES).map(|attempt| ticket_id(&seed, attempt));
    let Some(ticket) = open_fresh(&s.bot.store, ids, make).await? else {
        return Err(StoreError::Contended {
            table: "tickets".to_owned(),
            key: "a new ticket's id".to_owned(),
        });
    };
    s.prefs.lookups = lookups;
    s.writes.push(Op::Prefs { chat: s.chat.clone(), prefs: s.prefs.clone() });
    s.state = State::Menu;
    let id = ticket.id;
    let text = with_hours(s.lang, support, s.now, t!(s.lang, "support-opened", ticket = id.as_str()));
    Ok(vec![Reply::text(text).with_keyboard(ticket_keyboard(s.lang, &id))])
}

/// Text from a customer with an open ticket: relayed to support, quoted as theirs; beyond
/// [`RELAYS_PER_WINDOW`], not relayed, and the customer told an agent will read what they sent.
pub(crate) fn relay(s: &mut Session<'_>, mut ticket: Ticket, text: &str) -> Replies {
    let Some(support) = support_of(s) else { return Ok(Vec::new()) };
    let window = Duration::minutes(RELAY_WINDOW_MINUTES);
    if let Err(wait) = Lookups::take_in_window(&mut s.prefs.lookups.relays, s.now, window, RELAYS_PER_WINDOW)
    {
        tracing::info!(chat = %s.chat, ticket = ticket.id, "support relays limit reached: not relayed");
        let minutes = ((wait.num_seconds() + 59) / 60).max(1);
        let text = t!(s.lang, "support-relay-limit", minutes = minutes);
        return Ok(vec![Reply::text(text).with_keyboard(ticket_keyboard(s.lang, &ticket.id))]);
    }
    s.writes.push(Op::Prefs { chat: s.chat.clone(), prefs: s.prefs.clone() });
    ticket.messages += 1;
    ticket.last_at = s.now;
    let message = t!(support.lang, "ticket-customer-says", ticket = ticket.id.as_str(), text = quoted(text));
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
/// close button. Anything else gets the agents' help. Only a listed agent ([`Support::is_agent`],
/// by `from`'s user id) acts as support: anyone else is refused, and no customer hears of it.
pub(crate) async fn agent_step(
    s: &mut Session<'_>,
    input: Input,
    replying_to: Option<&str>,
    from: Sender<'_>,
) -> Replies {
    s.state = State::Menu;
    // The support chat speaks the agents' language, whatever each agent's client says.
    if let (None, Some(support)) = (s.prefs.lang, support_of(s)) {
        s.lang = support.lang;
    }
    if !support_of(s).is_some_and(|support| support.is_agent(from.id)) {
        let sender = from.id;
        tracing::warn!(chat = %s.chat, sender, "a message in the support chat from a non-agent: refused");
        return Ok(vec![Reply::text(t!(s.lang, "support-not-agent"))]);
    }
    let agent = from.name;
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
