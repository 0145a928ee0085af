//! Talking to a person: a customer's request goes to the support chat as a ticket with its context,
//! agents answer (`/reply ID`, or a reply to the ticket's message) and close it, and each message
//! goes through the outbox to the other side, in both languages; outside support hours the
//! customer is told when to expect an answer.

mod common;

use billbot::config::support_from_lookup;
use billbot::conversation::notices;
use billbot::conversation::support::{Support, SupportHours};
use billbot::conversation::{Action, Bot, ChatKey, Incoming, Input, Role};
use billbot::i18n::{Lang, format};
use billbot::outbox::Notice;
use billbot::sandbox::fixtures::refs;
use billbot::store::{Op, Store, Ticket};
use chrono::{Datelike, Duration, Utc};
use common::chat::{Chat, Harness};
use common::sandbox_clients;

const SUPPORT: i64 = -1_001_234;

fn always() -> SupportHours {
    SupportHours::parse("00:00-23:59", "mon-sun").unwrap()
}

/// A bot handing over to the Telegram group `SUPPORT`, with `hours`.
fn bot(h: &Harness, hours: SupportHours, show_agent: bool) -> Bot {
    let (inquiry, status) = sandbox_clients(&h.sandbox);
    let support = Support { chat: ChatKey::telegram(SUPPORT), lang: Lang::Fr, hours, show_agent };
    Bot::new(inquiry, status, h.bot.store().clone()).with_support(Some(support))
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
    assert!(text(&message(&store, &support, &id, 2).await).contains("le client : It says 64,050 FCFA"));

    // An agent answers with /reply, then by replying to the ticket's message.
    let mut agent = chat(&bot, support.clone(), "fr");
    let sent =
        agent.say(&format!("/reply {} Bonjour, nous vérifions votre compte.", id.to_lowercase())).await;
    assert_eq!(sent, format!("✅ Transmis au client de {id}."));
    let answer = message(&store, &c.key, &id, 3).await;
    let shown = notices::reply(Lang::En, &answer).text;
    assert!(shown.starts_with(&format!("💬 Support, request {id}:\nBonjour, nous vérifions")), "{shown}");
    let reply = Incoming::new(support.clone(), Input::Text("C'est corrigé.".into()))
        .replying(Some(first.clone()), Some("Awa".into()));
    assert_eq!(bot.handle(reply).await[0].text, format!("✅ Transmis au client de {id}."));
    let Notice::FromSupport { text: said, agent: who, .. } = message(&store, &c.key, &id, 4).await else {
        panic!()
    };
    assert_eq!((said.as_str(), who), ("C'est corrigé.", None), "agents stay anonymous unless configured");

    // Closed by support: the customer is told, and what they type is no longer relayed.
    let closed = agent.say(&format!("/close {id}")).await;
    assert_eq!(closed, format!("🎫 {id} close ; le client est prévenu."));
    let notice = message(&store, &c.key, &id, 5).await;
    assert!(
        notices::reply(Lang::En, &notice).text.starts_with(&format!("✅ Support closed your request {id}."))
    );
    assert!(!c.say("thanks").await.contains("Sent to support"), "{}", c.text());
    assert!(
        agent
            .say(&format!("/reply {id} encore"))
            .await
            .contains(&format!("Aucune demande {id} n'est ouverte"))
    );
    assert!(agent.say("bonjour").await.contains("/reply ID"), "agents get their help");
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
    .replying(None, Some("Awa".into()));
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
    let s = support_from_lookup(get(&[("BILLBOT_SUPPORT_CHAT", "-1001234")])).unwrap().unwrap();
    assert_eq!(
        (s.chat, s.lang, s.hours, s.show_agent),
        (ChatKey::telegram(-1_001_234), Lang::Fr, SupportHours::default(), false)
    );
    let s = support_from_lookup(get(&[
        ("BILLBOT_SUPPORT_CHAT", "wa:221770000000"),
        ("BILLBOT_SUPPORT_SHOW_AGENT", "1"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!((s.chat, s.show_agent), (ChatKey::whatsapp("221770000000"), true));
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
