//! Talking to a person: a customer's request goes to the support chat as a ticket with its context,
//! agents answer (`/reply ID`, or a reply to the ticket's message) and close it, and each message
//! goes through the outbox to the other side, in both languages; outside support hours the
//! customer is told when to expect an answer.

mod common;

use billbot::config::support_from_lookup;
use billbot::conversation::notices;
use billbot::conversation::support::{self, Support, SupportHours};
use billbot::conversation::{Action, Bot, ChatKey, Incoming, Input, Role};
use billbot::i18n::{Lang, format};
use billbot::outbox::Notice;
use billbot::sandbox::fixtures::refs;
use billbot::store::{Op, Store, Ticket};
use chrono::{Datelike, Duration, Utc};
use common::chat::{Chat, Harness};
use common::sandbox_clients;
use std::collections::HashSet;

const SUPPORT: i64 = -1_001_234;
/// The Telegram user id of the support group's one listed agent.
const AGENT: &str = "777";

fn always() -> SupportHours {
    SupportHours::parse("00:00-23:59", "mon-sun").unwrap()
}

/// A bot handing over to the Telegram group `SUPPORT`, with `hours`; `AGENT` answers there.
fn bot(h: &Harness, hours: SupportHours, show_agent: bool) -> Bot {
    let (inquiry, status) = sandbox_clients(&h.sandbox);
    let support = Support {
        chat: ChatKey::telegram(SUPPORT),
        lang: Lang::Fr,
        hours,
        show_agent,
        agents: HashSet::from([AGENT.to_owned()]),
    };
    Bot::new(inquiry, status, h.bot.store().clone()).with_support(Some(support))
}

/// What the support group's member `sender` (a Telegram user id; `None`: unknown) gets for typing
/// `text`, as a reply to the bot's message `replying` when given.
async fn in_group(bot: &Bot, sender: Option<&str>, text: &str, replying: Option<&str>) -> String {
    let mut incoming = Incoming::new(ChatKey::telegram(SUPPORT), Input::from_text(text))
        .replying(replying.map(str::to_owned), Some("Awa".into()));
    if replying.is_some() {
        incoming = incoming.typed(text);
    }
    if let Some(sender) = sender {
        incoming = incoming.sent_by(sender);
    }
    let replies = bot.handle(incoming).await;
    replies.iter().map(|r| r.text.as_str()).collect::<Vec<_>>().join("\n")
}

/// What the listed agent gets for typing `text` in the support group.
async fn agent_says(bot: &Bot, text: &str) -> String {
    in_group(bot, Some(AGENT), text, None).await
}

fn chat(bot: &Bot, key: ChatKey, lang: &str) -> Chat {
    Chat { bot: bot.clone(), key, lang_code: lang.to_owned(), role: Role::Customer, last: vec![] }
}

/// The notice of message `n` of ticket `id` to `to`, from the outbox.
async fn message(store: &Store, to: &ChatKey, id: &str, n: u32) -> Notice {
    let outgoing = store.outgoing(&format!("{}|ticket|{id}|{n}", to.storage_key())).await.unwrap();
    let outgoing = outgoing.unwrap_or_else(|| panic!("no message {n} of {id} to {to}"));
    serde_json::from_value(outgoing.notice).unwrap()
}

fn text(notice: &Notice) -> String {
    match notice {
        Notice::ToSupport { text, .. } => text.clone(),
        other => panic!("{other:?}"),
    }
}

/// The ticket id in "… request K7M2Q …".
fn ticket_id(reply: &str) -> String {
    let after = reply.split("request ").nth(1).or_else(|| reply.split("demande ").nth(1)).unwrap();
    after.chars().take(5).collect()
}

#[tokio::test]
async fn a_request_reaches_support_with_its_context_and_the_answers_reach_the_customer() {
    let h = Harness::new().await;
    let bot = bot(&h, always(), false);
    let store = bot.store().clone();
    let support = ChatKey::telegram(SUPPORT);
    let mut c = chat(&bot, ChatKey::telegram(501), "en");
    c.say("/bill").await;
    c.press("Senelec").await;
    c.say(refs::SEVERAL_BILLS).await;
    assert!(c.say("/start").await.contains("Hello"));
    assert!(c.has_button("Talk to an agent"), "{:?}", c.labels());
    let ask = c.press("Talk to an agent").await;
    assert!(ask.starts_with("💬 Type your question in one message"), "{ask}");
    let opened = c.say("My Senelec bill looks too high").await;
    assert!(opened.starts_with("✅ Sent to our support team as request "), "{opened}");
    let id = ticket_id(&opened);
    assert!(c.has_button("Close my request"));

    // The agents get the question and the chat's own lookups, in French; not who the customer is.
    let first = text(&message(&store, &support, &id, 1).await);
    assert!(first.starts_with(&format!("🎫 {id} · nouvelle demande (Telegram, English)")), "{first}");
    assert!(
        first.contains("My Senelec bill looks too high") && first.contains("• Senelec 1000000002"),
        "{first}"
    );
    assert!(!first.contains("501"), "no chat id for agents: {first}");

    // What the customer types next goes to support.
    let relayed = c.say("It says 64,050 FCFA").await;
    assert_eq!(relayed.lines().next(), Some(format!("➡️ Sent to support (request {id}).").as_str()));
    let relayed = text(&message(&store, &support, &id, 2).await);
    assert_eq!(relayed, format!("🎫 {id} · le client a écrit :\n┃ It says 64,050 FCFA"));

    // An agent answers with /reply, then by replying to the ticket's message.
    let sent =
        agent_says(&bot, &format!("/reply {} Bonjour, nous vérifions votre compte.", id.to_lowercase()))
            .await;
    assert_eq!(sent, format!("✅ Transmis au client de {id}."));
    let answer = message(&store, &c.key, &id, 3).await;
    let shown = notices::reply(Lang::En, &answer).text;
    assert!(shown.starts_with(&format!("💬 Support, request {id}:\nBonjour, nous vérifions")), "{shown}");
    let reply = Incoming::new(support.clone(), Input::Text("C'est corrigé.".into()))
        .replying(Some(first.clone()), Some("Awa".into()))
        .sent_by(AGENT);
    assert_eq!(bot.handle(reply).await[0].text, format!("✅ Transmis au client de {id}."));
    let Notice::FromSupport { text: said, agent: who, .. } = message(&store, &c.key, &id, 4).await else {
        panic!()
    };
    assert_eq!((said.as_str(), who), ("C'est corrigé.", None), "agents stay anonymous unless configured");

    // Closed by support: the customer is told, and what they type is no longer relayed.
    let closed = agent_says(&bot, &format!("/close {id}")).await;
    assert_eq!(closed, format!("🎫 {id} close ; le client est prévenu."));
    let notice = message(&store, &c.key, &id, 5).await;
    assert!(
        notices::reply(Lang::En, &notice).text.starts_with(&format!("✅ Support closed your request {id}."))
    );
    assert!(!c.say("thanks").await.contains("Sent to support"), "{}", c.text());
    assert!(
        agent_says(&bot, &format!("/reply {id} encore"))
            .await
            .contains(&format!("Aucune demande {id} n'est ouverte"))
    );
    assert!(agent_says(&bot, "bonjour").await.contains("/reply ID"), "agents get their help");
}

#[tokio::test]
async fn a_customer_closes_a_request_in_french_and_agents_may_be_named_when_configured() {
    let h = Harness::new().await;
    let bot = bot(&h, always(), true);
    let store = bot.store().clone();
    let support = ChatKey::telegram(SUPPORT);
    let mut c = chat(&bot, ChatKey::whatsapp("221770000502"), "fr");
    c.say("/support").await;
    let opened = c.say("Ma commande n'est pas arrivée").await;
    assert!(opened.starts_with("✅ Transmis à notre service client"), "{opened}");
    let id = ticket_id(&opened);
    assert!(text(&message(&store, &support, &id, 1).await).contains("(WhatsApp, Français)"));
    let reply = Incoming::new(
        support.clone(),
        Input::Command { name: "reply".into(), arg: Some(format!("{id} On regarde.")) },
    )
    .replying(None, Some("Awa".into()))
    .sent_by(AGENT);
    bot.handle(reply).await;
    let answer = message(&store, &c.key, &id, 2).await;
    assert!(
        notices::reply(Lang::Fr, &answer)
            .text
            .starts_with(&format!("💬 Awa, du service client, demande {id} :"))
    );
    // Asking again while it is open: told so, not a second ticket.
    assert!(c.say("/support").await.starts_with(&format!("Votre demande {id} est ouverte")));
    let closed = c.press("Clore ma demande").await;
    assert!(closed.starts_with(&format!("Demande {id} close.")), "{closed}");
    assert!(text(&message(&store, &support, &id, 3).await).contains("close par le client"));
    // A stale close button, and another customer's ticket: nothing changes.
    assert!(
        c.press_action(Action::CloseTicket(id.clone()))
            .await
            .contains(&format!("Aucune demande {id} n'est ouverte"))
    );
    let mut other = chat(&bot, ChatKey::telegram(503), "en");
    other.say("/support").await;
    let theirs = ticket_id(&other.say("I need help with my meter").await);
    assert!(c.press_action(Action::CloseTicket(theirs.clone())).await.contains("n'est ouverte"));
    assert!(store.ticket(&theirs).await.unwrap().unwrap().closed_at.is_none());
}

#[tokio::test]
async fn outside_support_hours_the_customer_is_told_when_to_expect_an_answer() {
    let h = Harness::new().await;
    let tomorrow = Utc::now().date_naive() + Duration::days(1);
    let day = format!("{:?}", tomorrow.weekday()).to_lowercase();
    let bot = bot(&h, SupportHours::parse("08:00-18:00", &day).unwrap(), false);
    let mut c = chat(&bot, ChatKey::telegram(504), "en");
    let ask = c.say("/support").await;
    let when = format!("expect an answer from {}, 08:00 (Dakar time)", format::date(Lang::En, tomorrow));
    assert!(ask.contains(&when), "{ask}");
    assert!(c.say("Is anyone there?").await.contains(&when));
}

#[tokio::test]
async fn without_a_support_chat_there_is_no_hand_off_and_no_dead_end() {
    let h = Harness::new().await;
    let mut c = h.chat("no-support", "en", Role::Customer);
    assert!(!{
        c.say("/start").await;
        c.has_button("Talk to an agent")
    });
    let text = c.say("/support").await;
    assert!(text.starts_with("Talking to an agent is not available here yet."), "{text}");
    assert!(c.has_button("Check a bill"), "with the menu: {:?}", c.labels());
}

#[test]
fn support_settings_hours_and_tickets_expire() {
    let get = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    };
    assert_eq!(support_from_lookup(get(&[])).unwrap(), None);
    // A group where nobody may answer is refused: being a member is not enough.
    let nobody = support_from_lookup(get(&[("BILLBOT_SUPPORT_CHAT", "-1001234")])).unwrap_err();
    assert!(nobody.to_string().contains("BILLBOT_SUPPORT_AGENTS"), "{nobody}");
    // By default, the channel's agents.
    let s = support_from_lookup(get(&[("BILLBOT_SUPPORT_CHAT", "-1001234"), ("BILLBOT_AGENTS", "42, 43")]))
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.chat, s.lang, s.hours, s.show_agent),
        (ChatKey::telegram(-1_001_234), Lang::Fr, SupportHours::default(), false)
    );
    assert_eq!(s.agents, HashSet::from(["42".to_owned(), "43".to_owned()]));
    let s = support_from_lookup(get(&[
        ("BILLBOT_SUPPORT_CHAT", "-1001234"),
        ("BILLBOT_AGENTS", "42"),
        ("BILLBOT_SUPPORT_AGENTS", "7,8"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(
        s.agents,
        HashSet::from(["7".to_owned(), "8".to_owned()]),
        "the support agents, not /history's"
    );
    assert!(s.is_agent(Some("7")) && !s.is_agent(Some("42")) && !s.is_agent(None));
    assert!(!s.is_agent(Some("-1001234")), "the group itself is nobody");
    let bad =
        support_from_lookup(get(&[("BILLBOT_SUPPORT_CHAT", "-1001234"), ("BILLBOT_SUPPORT_AGENTS", "awa")]));
    assert!(bad.unwrap_err().to_string().contains("BILLBOT_SUPPORT_AGENTS"));
    let s = support_from_lookup(get(&[
        ("BILLBOT_SUPPORT_CHAT", "wa:221770000000"),
        ("BILLBOT_SUPPORT_SHOW_AGENT", "1"),
        ("BILLBOT_WHATSAPP_AGENTS", "+221770000001"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!((s.chat.clone(), s.show_agent), (ChatKey::whatsapp("221770000000"), true));
    assert!(s.is_agent(Some("221770000001")), "a listed wa_id");
    assert!(s.is_agent(Some("221770000000")), "the support number's own chat: only it writes there");
    assert!(!s.is_agent(Some("221770000002")));
    let bad =
        support_from_lookup(get(&[("BILLBOT_SUPPORT_CHAT", "-1"), ("BILLBOT_SUPPORT_HOURS", "18:00-08:00")]));
    assert!(bad.unwrap_err().to_string().contains("BILLBOT_SUPPORT_HOURS"));
    assert!(support_from_lookup(get(&[("BILLBOT_SUPPORT_CHAT", "somebody")])).is_err());

    let hours = SupportHours::default();
    let saturday = chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
    let at = |d: chrono::NaiveDate, h: u32| d.and_hms_opt(h, 0, 0).unwrap().and_utc();
    assert!(hours.is_open(at(saturday, 10)) && !hours.is_open(at(saturday, 18)));
    assert_eq!(hours.next_open(at(saturday, 19)), at(saturday + Duration::days(2), 8), "Sunday is off");
    assert_eq!(hours.next_open(at(saturday, 7)), at(saturday, 8));

    let now = Utc::now();
    let ticket = Ticket {
        id: "K7M2Q".into(),
        chat: ChatKey::telegram(1),
        lang: Lang::En,
        opened_at: now - Duration::hours(30),
        last_at: now - Duration::hours(25),
        closed_at: None,
        messages: 3,
    };
    assert!(!ticket.is_open(now), "24 hours without a message");
    assert!(Ticket { last_at: now - Duration::hours(23), ..ticket.clone() }.is_open(now));
    let _ = Op::Ticket { ticket, tell: Vec::new() };
}

#[tokio::test]
async fn after_a_failed_lookup_the_ticket_says_what_it_is_about() {
    use billbot::sandbox::fixtures::orders;
    let h = Harness::new().await;
    let bot = bot(&h, always(), false);
    let store = bot.store().clone();
    let mut c = chat(&bot, ChatKey::telegram(505), "en");
    let failed = c.say(&format!("/status {}", orders::UNKNOWN)).await;
    assert!(failed.contains("GB - 202611200899999999999"), "{failed}");
    c.press("Talk to an agent").await;
    let id = ticket_id(&c.say("I paid but the order is not found").await);
    let ticket = text(&message(&store, &ChatKey::telegram(SUPPORT), &id, 1).await);
    assert!(
        ticket.contains("À propos de : GB - 202611200899999999999 (la consultation a échoué)"),
        "{ticket}"
    );
    // And after a bill lookup that failed.
    let mut d = chat(&bot, ChatKey::telegram(506), "fr");
    d.say("/bill").await;
    d.press("Senelec").await;
    let failed = d.say("90000000500").await;
    assert!(d.has_button("Réessayer") && d.has_button("Parler à un agent"), "{failed} {:?}", d.labels());
    d.press("Parler à un agent").await;
    let id = ticket_id(&d.say("Le site ne répond pas").await);
    let ticket = text(&message(&store, &ChatKey::telegram(SUPPORT), &id, 1).await);
    assert!(ticket.contains("À propos de : Senelec 90000000500"), "{ticket}");
}

#[tokio::test]
async fn help_offers_support_only_where_there_is_one() {
    let h = Harness::new().await;
    let with = bot(&h, always(), false);
    let mut c = chat(&with, ChatKey::telegram(507), "en");
    assert!(c.say("/help").await.contains("/support: talk to a person"), "{}", c.text());
    let mut d = h.chat("no-support-help", "en", Role::Customer);
    assert!(!d.say("/help").await.contains("/support"), "{}", d.text());
}

/// Opens a ticket for `c` with `question`; returns its id.
async fn open_ticket(c: &mut Chat, question: &str) -> String {
    c.say("/support").await;
    let opened = c.say(question).await;
    assert!(opened.contains("request ") || opened.contains("demande "), "{opened}");
    ticket_id(&opened)
}

#[tokio::test]
async fn a_member_of_the_support_chat_who_is_not_an_agent_reaches_no_customer() {
    let h = Harness::new().await;
    let bot = bot(&h, always(), false);
    let store = bot.store().clone();
    let support = ChatKey::telegram(SUPPORT);
    let mut c = chat(&bot, ChatKey::telegram(511), "en");
    let id = open_ticket(&mut c, "My meter is blocked").await;
    let ticket = text(&message(&store, &support, &id, 1).await);
    let refused = "Seuls les agents du service client peuvent répondre aux demandes ou les clore ici.";

    // An invited friend, a former employee: /reply, /close, a reply to the ticket, its button.
    for sender in [Some("666"), None] {
        assert_eq!(in_group(&bot, sender, &format!("/reply {id} Send me your PIN"), None).await, refused);
        assert_eq!(in_group(&bot, sender, &format!("/close {id}"), None).await, refused);
        assert_eq!(in_group(&bot, sender, "Send me your PIN", Some(&ticket)).await, refused);
        let close = notices::reply(Lang::Fr, &message(&store, &support, &id, 1).await)
            .buttons()
            .next()
            .unwrap()
            .payload
            .clone();
        let press = Incoming::new(support.clone(), Input::Button(close));
        let press = match sender {
            Some(sender) => press.sent_by(sender),
            None => press,
        };
        assert_eq!(bot.handle(press).await[0].text, refused);
    }
    assert!(store.outgoing(&format!("{}|ticket|{id}|2", c.key.storage_key())).await.unwrap().is_none());
    let kept = store.ticket(&id).await.unwrap().unwrap();
    assert!(kept.closed_at.is_none() && kept.messages == 1, "nothing changed: {kept:?}");

    // The listed agent still answers.
    assert_eq!(
        agent_says(&bot, &format!("/reply {id} On regarde.")).await,
        format!("✅ Transmis au client de {id}.")
    );
    let Notice::FromSupport { text: said, .. } = message(&store, &c.key, &id, 2).await else { panic!() };
    assert_eq!(said, "On regarde.");
}

#[tokio::test]
async fn a_forged_ticket_context_is_quoted_as_the_customers() {
    let h = Harness::new().await;
    let bot = bot(&h, always(), false);
    let store = bot.store().clone();
    let support = ChatKey::telegram(SUPPORT);
    let mut victim = chat(&bot, ChatKey::telegram(512), "en");
    let theirs = open_ticket(&mut victim, "Where is my token?").await;
    let mut c = chat(&bot, ChatKey::telegram(513), "en");
    c.say("/bill").await;
    c.press("Senelec").await;
    c.say(refs::SEVERAL_BILLS).await;
    // Fake headers naming someone else's order, the ticket mark with another ticket's id, and
    // every way of starting a line.
    let forged = format!(
        "Look:\r\nRecent lookups:\n• GB - 202611200800000000001\u{2028}About: GB - 202611200800000000001 \
         (the lookup failed)\u{2029}🎫 {theirs} · new request\rConsultations récentes :\u{85}\u{202E}sdrow"
    );
    let id = open_ticket(&mut c, &forged).await;
    let ticket = text(&message(&store, &support, &id, 1).await);

    // The bot's own lines first, then the customer's, each behind the quote bar.
    let (ours, customers) =
        ticket.split_once("\nLe client a écrit :\n").unwrap_or_else(|| panic!("{ticket}"));
    assert!(
        ours.starts_with(&format!(
            "🎫 {id} · nouvelle demande (Telegram, English)\nConsultations récentes :\n"
        ))
    );
    assert!(ours.trim_end().ends_with("• Senelec 1000000002"), "the chat's own lookup, and only it: {ours}");
    let (quoted, how) = customers.rsplit_once("\n\n").unwrap();
    assert!(how.starts_with("Répondez à ce message"), "{how}");
    let lines: Vec<&str> = quoted.lines().collect();
    assert_eq!(
        lines,
        [
            "┃ Look:",
            "┃ Recent lookups:",
            "┃ • GB - 202611200800000000001",
            "┃ About: GB - 202611200800000000001 (the lookup failed)",
            &format!("┃ # {theirs} · new request"),
            "┃ Consultations récentes :",
            "┃ sdrow",
        ],
        "{ticket}"
    );
    assert_eq!(ticket.matches('🎫').count(), 1, "the mark is the bot's alone: {ticket}");

    // A relay is quoted the same way; and a reply to this ticket answers it, not the other one.
    c.say(&format!("🎫 {theirs}\nAbout: nothing")).await;
    let relay = text(&message(&store, &support, &id, 2).await);
    assert_eq!(relay, format!("🎫 {id} · le client a écrit :\n┃ # {theirs}\n┃ About: nothing"));
    for quoted in [&ticket, &relay] {
        assert_eq!(
            in_group(&bot, Some(AGENT), "Bonjour", Some(quoted)).await,
            format!("✅ Transmis au client de {id}.")
        );
    }
    assert!(
        store.outgoing(&format!("{}|ticket|{theirs}|2", victim.key.storage_key())).await.unwrap().is_none()
    );
    // A message that does not open with the mark names no ticket, wherever one appears in it.
    let later = format!("┃ see 🎫 {theirs}");
    assert!(in_group(&bot, Some(AGENT), "Bonjour", Some(&later)).await.contains("/reply ID"));
    assert!(
        store.outgoing(&format!("{}|ticket|{theirs}|2", victim.key.storage_key())).await.unwrap().is_none()
    );
}

#[tokio::test]
async fn one_customer_cannot_flood_support_with_relays_or_requests() {
    let h = Harness::new().await;
    let bot = bot(&h, always(), false);
    let store = bot.store().clone();
    let support = ChatKey::telegram(SUPPORT);
    let mut c = chat(&bot, ChatKey::telegram(514), "en");
    let id = open_ticket(&mut c, "My meter shows no credit").await;
    for n in 0..support::RELAYS_PER_WINDOW {
        let said = c.say(&format!("message {n}")).await;
        assert!(said.starts_with("➡️ Sent to support"), "{n}: {said}");
    }
    let held = c.say("one more").await;
    assert!(held.starts_with("✋ You have sent many messages: an agent will read what you sent"), "{held}");
    assert!(held.contains("write again in 10 minutes"), "{held}");
    assert!(c.has_button("Close my request"), "the request stays open");
    let last = 1 + support::RELAYS_PER_WINDOW;
    assert!(text(&message(&store, &support, &id, last).await).ends_with(&format!("message {}", last - 2)));
    assert!(
        store
            .outgoing(&format!("{}|ticket|{id}|{}", support.storage_key(), last + 1))
            .await
            .unwrap()
            .is_none()
    );
    // Support still answers.
    assert!(agent_says(&bot, &format!("/reply {id} We read everything.")).await.starts_with("✅"));

    // Requests: a day's worth, then told when the next one may come.
    c.press("Close my request").await;
    for _ in 1..support::TICKETS_PER_DAY {
        open_ticket(&mut c, "Again").await;
        c.press("Close my request").await;
    }
    let refused = c.say("/support").await;
    assert!(refused.starts_with("You have opened 5 requests today"), "{refused}");
    assert!(refused.contains("open a new one in 24 hours"), "{refused}");
    assert!(c.has_button("Check a bill"), "with the menu: {:?}", c.labels());
    c.say("A sixth question").await;
    assert!(store.latest_ticket(&c.key).await.unwrap().unwrap().closed_at.is_some(), "no sixth request");
}

#[tokio::test]
async fn a_new_ticket_whose_id_is_taken_gets_another_and_never_touches_the_other_ticket() {
    let h = Harness::new().await;
    let store = h.bot.store().clone();
    let support = ChatKey::telegram(SUPPORT);
    let now = Utc::now();
    let ticket = |id: &str, chat: i64| Ticket {
        id: id.to_owned(),
        chat: ChatKey::telegram(chat),
        lang: Lang::En,
        opened_at: now,
        last_at: now,
        closed_at: None,
        messages: 1,
    };
    let theirs = ticket("AAAAA", 521);
    assert!(store.open_ticket(&theirs, &[]).await.unwrap());
    let tell = |id: &str| {
        let notice = Notice::ToSupport { ticket: id.to_owned(), text: format!("🎫 {id} · new") };
        let outgoing = billbot::store::Outgoing::new(
            format!("{}|ticket|{id}|1", support.storage_key()),
            &support,
            Lang::Fr,
            serde_json::to_value(notice).unwrap(),
            now,
        );
        Ok::<_, billbot::store::StoreError>((ticket(id, 522), vec![outgoing]))
    };
    let ids = ["AAAAA", "BBBBB"].map(str::to_owned);
    let opened = support::open_fresh(&store, ids, tell).await.unwrap().unwrap();
    assert_eq!((opened.id.as_str(), &opened.chat), ("BBBBB", &ChatKey::telegram(522)));
    assert_eq!(
        store.ticket("AAAAA").await.unwrap().unwrap(),
        theirs,
        "the other customer's ticket is untouched"
    );
    assert_eq!(store.latest_ticket(&ChatKey::telegram(521)).await.unwrap().unwrap().id, "AAAAA");
    assert_eq!(store.latest_ticket(&ChatKey::telegram(522)).await.unwrap().unwrap().id, "BBBBB");
    assert!(store.outgoing(&format!("{}|ticket|AAAAA|1", support.storage_key())).await.unwrap().is_none());
    assert!(store.outgoing(&format!("{}|ticket|BBBBB|1", support.storage_key())).await.unwrap().is_some());
    // Every id taken: none opened, nothing written.
    let none = support::open_fresh(&store, ["AAAAA".to_owned()], tell).await.unwrap();
    assert!(none.is_none());
}

/// A support group on Telegram gets 20 messages a minute: one every 3 s.
const GROUP_PACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Every chat's notices as a channel would send them, the support group's at its pace (the sender
/// waits its turn, as Telegram makes it); when each went out, on tokio's clock.
#[derive(Default)]
struct PacedGroup {
    sent: std::sync::Mutex<Vec<(ChatKey, String, tokio::time::Instant)>>,
    free_at: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl PacedGroup {
    fn sent_to(&self, chat: &ChatKey) -> Vec<(String, tokio::time::Instant)> {
        let sent = self.sent.lock().unwrap();
        sent.iter().filter(|(to, _, _)| to == chat).map(|(_, text, at)| (text.clone(), *at)).collect()
    }
}

impl billbot::outbox::Notifier for PacedGroup {
    fn notify<'a>(
        &'a self,
        chat: &'a ChatKey,
        lang: Lang,
        notice: &'a Notice,
    ) -> billbot::outbox::Sending<'a, billbot::outbox::Delivery> {
        Box::pin(async move {
            if *chat == ChatKey::telegram(SUPPORT) {
                let at = {
                    let mut free = self.free_at.lock().unwrap();
                    let now = tokio::time::Instant::now();
                    let at = free.map_or(now, |f| f.max(now));
                    *free = Some(at + GROUP_PACE);
                    at
                };
                tokio::time::sleep_until(at).await;
            }
            let text = notices::reply(lang, notice).text;
            self.sent.lock().unwrap().push((chat.clone(), text, tokio::time::Instant::now()));
            Ok(billbot::outbox::Delivery::Sent)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn sixty_messages_into_a_ticket_do_not_delay_another_chats_answer() {
    use billbot::outbox::{Outbox, OutboxConfig};
    use std::sync::Arc;
    let h = Harness::new().await;
    let bot = bot(&h, always(), false);
    let store = bot.store().clone();
    let support = ChatKey::telegram(SUPPORT);
    let channel = Arc::new(PacedGroup::default());
    let outbox = Arc::new(Outbox::new(store.clone(), channel.clone(), OutboxConfig::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let sender = tokio::spawn(outbox.clone().run(async {
        let _ = stopped.await;
    }));

    let mut b = chat(&bot, ChatKey::telegram(532), "en");
    let theirs = open_ticket(&mut b, "My receipt never came").await;
    // 60 messages into an open ticket: 20 relays, then "an agent will read what you sent".
    let mut a = chat(&bot, ChatKey::telegram(531), "en");
    open_ticket(&mut a, "My meter shows no credit").await;
    let (mut relayed, mut held) = (0, 0);
    for n in 0..60 {
        let said = a.say(&format!("message {n:02}")).await;
        relayed += usize::from(said.starts_with("➡️ Sent to support"));
        held += usize::from(said.starts_with("✋"));
    }
    assert_eq!((relayed, held), (20, 40));
    // The group's pace is saturated: 22 messages are a minute's work for it.
    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    let backlog = 22usize.saturating_sub(channel.sent_to(&support).len());
    assert!(backlog > 5, "the group still has {backlog} messages to get");

    // Support answers the other customer: the answer goes out at once.
    let due = tokio::time::Instant::now();
    assert!(agent_says(&bot, &format!("/reply {theirs} It is on its way.")).await.starts_with("✅"));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let answers = channel.sent_to(&b.key);
    let (_, at) =
        answers.iter().find(|(text, _)| text.contains("It is on its way.")).expect("the answer was sent");
    assert!(
        *at - due < std::time::Duration::from_secs(1),
        "the answer waited {:?} behind the group",
        *at - due
    );
    assert!(channel.sent_to(&support).len() < 22, "the group's messages were still going out");

    // And the group gets the two requests and the 20 relays, in order, at its pace: never 60.
    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
    let group = channel.sent_to(&support);
    let relays: Vec<&str> = group
        .iter()
        .filter_map(|(text, _)| text.lines().nth(1))
        .filter(|l| l.starts_with("┃ message"))
        .collect();
    let expected: Vec<String> = (0..20).map(|n| format!("┃ message {n:02}")).collect();
    assert_eq!(relays, expected, "{group:#?}");
    assert_eq!(group.len(), 22, "{group:#?}");
    assert!(group.windows(2).all(|w| w[1].1 - w[0].1 >= GROUP_PACE));
    let _ = stop.send(());
    sender.await.unwrap();
}
