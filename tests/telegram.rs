//! The Telegram front-end through teloxide's real HTTP client and the real dispatcher, against a
//! Bot API server on loopback (`common::botapi`) and the sandbox.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use billbot::channels::telegram;
use billbot::channels::telegram::Limits;
use billbot::config::{TelegramSettings, WebhookSettings};
use billbot::conversation::Bot;
use billbot::sandbox::SandboxConfig;
use billbot::sandbox::fixtures::{self, orders, refs};
use billbot::store::Store;
use common::botapi::{FakeTelegram, Sent, TOKEN};
use serde_json::json;

const AGENT: i64 = 777_001;

struct Running {
    fake: FakeTelegram,
    dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), billbot::app::AppError>>>,
}

fn settings(fake: &FakeTelegram) -> TelegramSettings {
    TelegramSettings {
        token: TOKEN.to_owned().into(),
        api_url: Some(fake.api_url()),
        agents: HashSet::from([AGENT as u64]),
        webhook: None,
        rate_limits: false,
        poll_timeout: Duration::from_secs(1),
        instances: 1,
        resume_after: Duration::from_secs(120),
    }
}

impl Running {
    async fn start() -> Running {
        Self::start_with(
            FakeTelegram::start().await,
            tempfile::tempdir().unwrap(),
            Duration::from_secs(2),
            None,
        )
        .await
    }

    async fn start_with(
        fake: FakeTelegram,
        dir: tempfile::TempDir,
        slow: Duration,
        webhook: Option<WebhookSettings>,
    ) -> Running {
        let mut settings = common::app_settings(dir.path(), SandboxConfig { slow, ..Default::default() });
        let mut telegram = self::settings(&fake);
        telegram.webhook = webhook;
        settings.telegram = Some(telegram);
        let app = billbot::app::build(settings).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run(billbot::app::Listeners::default(), async {
            let _ = stopped.await;
        }));
        Running { fake, dir, stop: Some(stop), task: Some(task) }
    }

    /// Stops the dispatcher gracefully and waits for it.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task).await.unwrap().unwrap().unwrap();
        }
    }

    /// The user types `text`; returns the bot's newest message once it has answered.
    async fn say(&self, user: i64, lang: &str, text: &str) -> Sent {
        let before = self.fake.messages_to(user).len();
        self.fake.user_says(user, lang, text);
        self.fake.next_reply(user, before).await
    }

    /// The user presses the newest button labelled `label`; returns the bot's newest message.
    async fn press(&self, user: i64, lang: &str, label: &str) -> Sent {
        let before = self.fake.messages_to(user).len();
        let id = self.fake.press(user, lang, label);
        let reply = self.fake.next_reply(user, before).await;
        assert!(self.fake.callback_answered(&id), "every callback query is answered");
        reply
    }
}

fn labels(sent: &Sent) -> Vec<String> {
    sent.buttons.iter().flatten().map(|(l, _)| l.clone()).collect()
}

#[tokio::test]
async fn the_dispatcher_schema_type_checks_with_its_dependencies() {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = common::sandbox().await;
    let (inquiry, status) = common::sandbox_clients(&sandbox);
    let core = Bot::new(inquiry, status, Store::open(dir.path()).unwrap());
    let bot = telegram::bot(&settings(&fake));
    // `build` panics when a handler needs a dependency that is not provided.
    let intake = billbot::channels::intake::Intake::new(core, Default::default(), Default::default());
    let channel = telegram::Telegram::new(bot.clone(), telegram::Agents::default(), intake);
    let _dispatcher = teloxide::dispatching::Dispatcher::builder(bot, telegram::schema())
        .dependencies(telegram::dependencies(channel))
        .build();
}

#[tokio::test]
async fn commands_are_registered_in_english_and_french_and_agents_get_history() {
    let mut bot = Running::start().await;
    bot.say(1, "en", "/start").await;
    let calls = bot.fake.calls("setMyCommands");
    assert_eq!(calls.len(), 4, "{calls:#?}");
    let names = |i: usize| -> Vec<String> {
        calls[i].params["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["command"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(0), ["start", "bill", "status", "orders", "reminders", "lang", "cancel", "help"]);
    assert!(calls[0].params.get("language_code").is_none());
    assert_eq!(calls[1].params["language_code"], "fr");
    assert_eq!(
        calls[1].params["commands"][1]["description"],
        "Consulter une facture SenEau, Senelec ou Woyofal"
    );
    assert!(names(2).contains(&"history".to_owned()));
    assert_eq!(calls[2].params["scope"], json!({"type": "chat", "chat_id": AGENT}));
    assert!(calls.iter().all(|c| c.status == 200), "the server accepted every command list");
    bot.stop().await;
}

#[tokio::test]
async fn a_bill_flow_in_english_with_inline_keyboards_and_answered_callbacks() {
    let mut bot = Running::start().await;
    let menu = bot.say(10, "en-GB", "/start").await;
    assert!(menu.text.starts_with("Hello! I'm billbot."), "{}", menu.text);
    assert!(
        menu.html.starts_with("<b>Hello!") && menu.html.contains("</b>\n"),
        "first line bold: {}",
        menu.html
    );
    assert!(labels(&menu).contains(&"💡 Check a bill".to_owned()));
    assert_eq!(bot.press(10, "en-GB", "Check a bill").await.text, "Which biller?");
    let ask = bot.press(10, "en-GB", "Senelec").await;
    assert!(ask.text.contains("Senelec customer number (police)"));
    let result = bot.say(10, "en-GB", "10 0000 0002").await;
    assert!(result.text.contains("To pay: 2 bills, 88,550 FCFA in total."), "{}", result.text);
    assert!(labels(&result).iter().any(|l| l.contains("Remind me")), "{:?}", labels(&result));
    let set = bot.press(10, "en-GB", "Remind me").await;
    assert!(set.text.contains("I will remind you 3 days before the due date"), "{}", set.text);
    let all_payloads_fit =
        bot.fake.messages_to(10).iter().flat_map(|m| m.buttons.iter().flatten()).all(|(_, d)| d.len() <= 64);
    assert!(all_payloads_fit);
    bot.stop().await;
}

#[tokio::test]
async fn french_clients_get_french_and_reserved_characters_arrive_intact() {
    let mut bot = Running::start().await;
    // A customer sees the holder and the address masked, escaped all the same.
    bot.say(11, "fr", "/bill").await;
    bot.press(11, "fr", "Woyofal").await;
    let masked = bot.say(11, "fr", refs::METER_SPECIAL).await;
    assert!(masked.text.contains("Titulaire : Aïssatou N.\n"), "{}", masked.text);
    assert!(masked.text.contains("Adresse : R••• 1••• x 1••• <••• &"), "{}", masked.text);
    assert!(masked.html.contains("&lt;••• &amp;"), "escaped for HTML: {}", masked.html);
    // An agent (in a private chat) sees them whole: every reserved character arrives intact.
    const AG: i64 = AGENT;
    bot.say(AG, "fr", "/bill").await;
    bot.press(AG, "fr", "Woyofal").await;
    let meter = bot.say(AG, "fr", refs::METER_SPECIAL).await;
    assert!(meter.text.contains(&format!("Titulaire : {}", fixtures::SPECIAL_HOLDER)), "{}", meter.text);
    assert!(meter.text.contains("Adresse : Rue 10 x 15 <Médina> & \"Fass\" #3 [bloc *B*]"), "{}", meter.text);
    assert!(meter.html.contains("&lt;Médina&gt; &amp;"), "escaped for HTML: {}", meter.html);
    assert!(meter.text.contains("État du compteur : bloqué"));
    bot.say(AG, "fr", "/bill").await;
    bot.press(AG, "fr", "Senelec").await;
    let bill = bot.say(AG, "fr", refs::SPECIAL_NAME).await;
    assert!(bill.text.contains(fixtures::SPECIAL_HOLDER), "{}", bill.text);
    bot.stop().await;
}

#[tokio::test]
async fn a_long_reply_is_split_under_4096_characters_with_the_buttons_on_the_last_part() {
    let mut bot = Running::start().await;
    // An agent: holder names whole make the longest reply.
    bot.say(AGENT, "en", "/bill").await;
    bot.press(AGENT, "en", "SenEau").await;
    let before = bot.fake.messages_to(AGENT).len();
    bot.fake.user_says(AGENT, "en", refs::MANY_BILLS);
    let all = bot
        .fake
        .wait_until(AGENT, "the total line", |m| m.iter().any(|s| s.text.contains("To pay: 60 bills")))
        .await;
    let parts = &all[before..];
    assert!(parts.len() >= 2, "{} parts", parts.len());
    assert!(parts.iter().all(|p| p.text.encode_utf16().count() <= 4096));
    assert!(parts[..parts.len() - 1].iter().all(|p| p.buttons.is_empty()));
    assert!(!parts.last().unwrap().buttons.is_empty());
    let joined: String = parts.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n");
    assert!(joined.contains("Bill 1 of 60") && joined.contains("Bill 24 of 60"), "{joined}");
    assert!(
        !joined.contains("Bill 25 of 60") && joined.contains("36 more bills"),
        "summarized past 24: {joined}"
    );
    bot.stop().await;
}

#[tokio::test]
async fn order_status_list_pages_are_edited_in_place() {
    let mut bot = Running::start().await;
    let pending = bot.say(13, "en", &format!("/status {}", orders::PENDING)).await;
    assert!(pending.text.contains("⏳ pending") && labels(&pending).iter().any(|l| l.contains("Refresh")));
    assert!(bot.press(13, "en", "Refresh").await.text.contains("⏳ pending"));
    for number in
        [orders::SUCCESSFUL, orders::FAILED, orders::REFUNDED, orders::PROCESSING, orders::UNKNOWN_STATUS]
    {
        bot.say(13, "en", &format!("/status {number}")).await;
    }
    let list = bot.say(13, "en", "/orders").await;
    assert!(list.text.contains("(page 1 of 2)"));
    let before = bot.fake.messages_to(13).len();
    let id = bot.fake.press(13, "en", "Older");
    let edited = bot
        .fake
        .wait_until(13, "edited", |m| m.iter().any(|s| s.message_id == list.message_id && s.edits == 1))
        .await;
    assert_eq!(edited.len(), before, "no new message: the list page was edited in place");
    assert!(bot.fake.message(list.message_id).unwrap().text.contains("(page 2 of 2)"));
    assert!(bot.fake.callback_answered(&id));
    bot.stop().await;
}

#[tokio::test]
async fn a_signed_button_works_in_its_chat_and_is_refused_when_pressed_in_another() {
    let mut bot = Running::start().await;
    bot.say(12, "en", "/bill").await;
    bot.press(12, "en", "Senelec").await;
    let result = bot.say(12, "en", refs::SEVERAL_BILLS).await;
    let data = result.buttons.iter().flatten().find(|(l, _)| l.contains("Remind me")).unwrap().1.clone();
    assert!(data.starts_with("v2:rm:senelec:1000000002:") && data.len() <= 64, "{data}");
    // Another user sends the same callback data from a message of their own: Telegram passes it
    // on as sent.
    let menu = bot.say(13, "en", "/start").await;
    let before = bot.fake.messages_to(13).len();
    let id = bot.fake.user_presses(13, "en", menu.message_id, &data);
    let refused = bot.fake.next_reply(13, before).await;
    assert!(refused.text.starts_with("This menu has expired."), "{}", refused.text);
    assert!(bot.fake.callback_answered(&id));
    // Its own chat's press sets the reminder.
    let set = bot.press(12, "en", "Remind me").await;
    assert!(set.text.contains("I will remind you 3 days before the due date"), "{}", set.text);
    bot.stop().await;
}

#[tokio::test]
async fn stale_buttons_and_stickers_get_the_menu_not_silence() {
    let mut bot = Running::start().await;
    let menu = bot.say(14, "fr", "/start").await;
    let before = bot.fake.messages_to(14).len();
    let id = bot.fake.user_presses(14, "fr", menu.message_id, "v0:old:button");
    let expired = bot.fake.next_reply(14, before).await;
    assert!(expired.text.starts_with("Ce menu a expiré."), "{}", expired.text);
    assert!(bot.fake.callback_answered(&id));
    let before = bot.fake.messages_to(14).len();
    bot.fake.user_sends_sticker(14, "fr");
    let answer = bot.fake.next_reply(14, before).await;
    assert!(answer.text.contains("Je n'ai pas compris"), "{}", answer.text);
    bot.stop().await;
}

#[tokio::test]
async fn a_button_on_a_message_too_old_to_edit_still_gets_its_answer() {
    let mut bot = Running::start().await;
    let menu = bot.say(19, "en", "/start").await;
    let data = menu.buttons.iter().flatten().find(|(l, _)| l.contains("Check a bill")).unwrap().1.clone();
    let before = bot.fake.messages_to(19).len();
    let id = bot.fake.user_presses_on_old_message(19, "en", menu.message_id, &data);
    let reply = bot.fake.next_reply(19, before).await;
    assert!(reply.text.starts_with("Which biller?"), "{}", reply.text);
    assert_ne!(reply.message_id, menu.message_id, "sent as a new message");
    assert!(bot.fake.callback_answered(&id));
    bot.stop().await;
}

#[tokio::test]
async fn a_button_pressed_on_an_inline_message_is_answered_though_it_has_no_chat() {
    let mut bot = Running::start().await;
    let id = bot.fake.user_presses_inline(20, "en", "v1:menu");
    let started = std::time::Instant::now();
    while !bot.fake.callback_answered(&id) {
        assert!(started.elapsed() < Duration::from_secs(10), "the button press was never answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Nowhere to answer in: no message is sent to anyone.
    assert!(bot.fake.messages_to(20).is_empty());
    bot.stop().await;
}

#[tokio::test]
async fn service_messages_such_as_a_member_joining_a_group_get_no_answer() {
    let mut bot = Running::start().await;
    bot.fake.user_joins_group(-500, 31, "en");
    bot.fake.user_says_in_group(-500, 31, "en", "1000000002");
    let messages = bot.fake.wait_for_messages(-500, 1).await;
    assert!(messages[0].text.contains("1000000002"), "the first answer is to the text: {}", messages[0].text);
    bot.stop().await;
    assert_eq!(bot.fake.messages_to(-500).len(), 1, "{:?}", bot.fake.messages_to(-500));
}

#[tokio::test]
async fn agents_see_merchant_fields_and_history_customers_do_not() {
    let mut bot = Running::start().await;
    let customer = bot.say(15, "en", &format!("/status {}", orders::DOC_SAMPLE)).await;
    assert!(customer.text.contains("Recipient: •••••••0008") && !customer.text.contains("Wallet"));
    let refused = bot.say(15, "en", "/history").await;
    assert!(refused.text.contains("for agents only"));
    let pretend = bot.say(15, "en", "I am an agent, /history please").await;
    assert!(!pretend.text.contains("Merchant transactions"), "typing cannot grant a role");

    let agent = bot.say(AGENT, "en", &format!("/status {}", orders::DOC_SAMPLE)).await;
    assert!(
        agent.text.contains("Recipient: 07025150008") && agent.text.contains("Wallet balance"),
        "{}",
        agent.text
    );
    let history = bot.say(AGENT, "en", "/history").await;
    assert!(history.text.contains("52 in all"), "{}", history.text);
    bot.stop().await;
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_the_message_still_arrives() {
    let mut bot = Running::start().await;
    bot.say(16, "en", "/start").await;
    bot.fake.force_next(
        "sendMessage",
        429,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}),
    );
    let help = bot.say(16, "en", "/help").await;
    assert!(help.text.contains("Here is what I can do"));
    let statuses: Vec<u16> = bot.fake.calls("sendMessage").iter().map(|c| c.status).collect();
    assert!(statuses.contains(&429) && statuses.last() == Some(&200), "{statuses:?}");
    bot.stop().await;
}

#[tokio::test]
async fn a_conversation_resumes_after_a_restart() {
    let fake = FakeTelegram::start().await;
    let mut first =
        Running::start_with(fake.clone(), tempfile::tempdir().unwrap(), Duration::from_secs(2), None).await;
    first.say(17, "fr", "/bill").await;
    first.press(17, "fr", "Woyofal").await;
    first.say(17, "fr", "/lang en").await;
    first.say(17, "fr", "/bill").await;
    first.press(17, "fr", "Woyofal").await;
    first.stop().await;
    let dir = first.dir;

    let mut second = Running::start_with(fake, dir, Duration::from_secs(2), None).await;
    let meter = second.say(17, "fr", refs::METER).await;
    assert!(meter.text.contains("Meter status: active"), "same step, language kept: {}", meter.text);
    second.stop().await;
}

#[tokio::test]
async fn a_slow_provider_in_one_chat_does_not_delay_another_chat() {
    let fake = FakeTelegram::start().await;
    let bot = Running::start_with(fake, tempfile::tempdir().unwrap(), Duration::from_secs(3), None).await;
    bot.say(18, "en", "/bill").await;
    bot.press(18, "en", "Senelec").await;
    let slow_before = bot.fake.messages_to(18).len();
    bot.fake.user_says(18, "en", refs::SLOW);
    for step in ["/start", "/help", &format!("/status {}", orders::PENDING)] {
        bot.say(19, "en", step).await;
    }
    assert_eq!(bot.fake.messages_to(18).len(), slow_before, "chat 19 was served while chat 18 still waited");
    let slow = bot.fake.next_reply(18, slow_before).await;
    assert!(slow.text.contains("not answering"), "{}", slow.text);
}

#[tokio::test]
async fn an_update_in_hand_at_shutdown_is_answered_before_the_bot_stops() {
    let mut bot = Running::start().await;
    bot.say(20, "en", "/bill").await;
    bot.press(20, "en", "Senelec").await;
    let before = bot.fake.messages_to(20).len();
    bot.fake.user_says(20, "en", refs::SLOW); // answered only after the client's timeout
    while !bot.fake.all_updates_taken() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(bot.fake.messages_to(20).len(), before, "still waiting for the provider");
    bot.stop().await;
    let messages = bot.fake.messages_to(20);
    assert_eq!(messages.len(), before + 1, "the update in hand was answered before run returned");
    assert!(messages[before].text.contains("not answering"), "{}", messages[before].text);
}

#[tokio::test]
async fn one_chats_messages_are_handled_in_order() {
    let mut bot = Running::start().await;
    bot.say(20, "en", "/start").await;
    let before = bot.fake.messages_to(20).len();
    bot.fake.user_says(20, "en", "/bill");
    bot.fake.user_says(20, "en", "/lang fr");
    bot.fake.user_says(20, "en", "/help");
    let all = bot.fake.wait_for_messages(20, before + 3).await;
    let texts: Vec<&str> = all[before..].iter().map(|m| m.text.as_str()).collect();
    assert!(texts[0].starts_with("Which biller?"), "{texts:?}");
    assert!(texts[1].starts_with("Langue : français."), "{texts:?}");
    assert!(texts[2].starts_with("Voici ce que je sais faire"), "{texts:?}");
    bot.stop().await;
}

#[tokio::test]
async fn webhook_mode_sets_the_webhook_and_checks_the_secret() {
    let fake = FakeTelegram::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let url = reqwest::Url::parse(&format!("http://127.0.0.1:{port}/telegram-hook")).unwrap();
    let webhook =
        WebhookSettings { url: url.clone(), listen, secret: Some("s3cret-Hook_value".to_owned().into()) };
    let mut bot = Running::start_with(
        fake.clone(),
        tempfile::tempdir().unwrap(),
        Duration::from_secs(2),
        Some(webhook),
    )
    .await;
    let set = loop {
        if let Some(call) = fake.calls("setWebhook").pop() {
            break call;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(set.params["url"], url.as_str());
    assert_eq!(set.params["secret_token"], "s3cret-Hook_value");

    let update = json!({"update_id": 9_001, "message": {
        "message_id": 5, "date": 1_764_000_000, "chat": {"id": 21, "type": "private", "first_name": "Awa"},
        "from": {"id": 21, "is_bot": false, "first_name": "Awa", "language_code": "en"}, "text": "/help"}});
    let client = reqwest::Client::new();
    let post = |secret: &'static str| {
        client.post(url.clone()).header("X-Telegram-Bot-Api-Secret-Token", secret).json(&update).send()
    };
    let refused = loop {
        match post("wrong-secret").await {
            Ok(response) => break response,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await, // server still starting
        }
    };
    assert_eq!(refused.status(), 401);
    assert!(post("s3cret-Hook_value").await.unwrap().status().is_success());
    let reply = fake.next_reply(21, 0).await;
    assert!(reply.text.contains("Here is what I can do"));
    assert_eq!(fake.messages_to(21).len(), 1, "the refused update was not handled");
    // Telegram delivers again an update it got no 200 for: the same update_id is answered once.
    assert!(post("s3cret-Hook_value").await.unwrap().status().is_success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.messages_to(21).len(), 1, "a redelivered update is not answered twice");
    // Over 256 KiB: refused unread. Not an update: acknowledged (Telegram would send it forever)
    // and dropped.
    let huge = client
        .post(url.clone())
        .header("X-Telegram-Bot-Api-Secret-Token", "s3cret-Hook_value")
        .body(vec![b' '; 300 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    let garbage = client
        .post(url.clone())
        .header("X-Telegram-Bot-Api-Secret-Token", "s3cret-Hook_value")
        .body("{not an update")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fake.messages_to(21).len(), 1);
    // Updates from the Bot API server itself arrive by the webhook, with the secret.
    fake.user_says(21, "fr", "/start");
    let reply = fake.next_reply(21, 1).await;
    assert!(reply.text.starts_with("Bonjour"), "{}", reply.text);
    bot.stop().await;
}

#[tokio::test]
async fn notify_me_pushes_one_receipt_in_the_users_language_when_the_order_is_delivered() {
    use billbot::tracking::TrackerConfig;
    let fake = FakeTelegram::start().await;
    let sandbox = SandboxConfig { deliver_after: Duration::from_millis(300), ..Default::default() };
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::app_settings(dir.path(), sandbox);
    settings.telegram = Some(self::settings(&fake));
    settings.tracking.tracker = TrackerConfig {
        min_interval: Duration::from_millis(200),
        max_interval: Duration::from_secs(1),
        tick: Duration::from_millis(50),
        ..TrackerConfig::default()
    };
    let app = billbot::app::build(settings).await.unwrap();
    let (store, tracker) = (app.store.clone(), app.tracker.clone());
    tokio::spawn(app.run(billbot::app::Listeners::default(), std::future::pending()));

    fake.user_says(30, "fr", &format!("/status {}", orders::DELIVERED_LATER));
    let pending =
        fake.wait_until(30, "the pending order", |m| m.iter().any(|s| s.text.contains("⏳ en cours"))).await;
    assert!(pending.last().unwrap().buttons.iter().flatten().any(|(l, _)| l.contains("Me prévenir")));
    fake.press(30, "fr", "Me prévenir");
    fake.wait_until(30, "the watch confirmation", |m| {
        m.iter().any(|s| s.text.contains("Je vous préviendrai"))
    })
    .await;
    let delivered = fake
        .wait_until(30, "the delivery notification", |m| {
            m.iter().any(|s| s.text.contains("Du nouveau pour votre commande"))
        })
        .await;
    let news: Vec<&Sent> = delivered.iter().filter(|s| s.text.contains("Du nouveau")).collect();
    assert!(news[0].text.contains("Code : 5555 6666 7777 8888 9999"), "{}", news[0].text);
    assert!(news[0].text.contains("✅ livrée"));
    let order = billbot::domain::OrderNo::parse(orders::DELIVERED_LATER).unwrap();
    assert!(store.watch(&order).await.unwrap().is_none(), "the watch ended");
    // Later checks or duplicate news change nothing: one message.
    let final_order = store.order(&order).await.unwrap().unwrap().order;
    tracker.apply(&order, &final_order).await.unwrap();
    assert_eq!(fake.messages_to(30).iter().filter(|s| s.text.contains("Du nouveau")).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_queues_keep_each_chats_order_and_run_chats_side_by_side() {
    use std::sync::{Arc, Mutex};
    let queues = billbot::channels::ChatQueues::new();
    let order = Arc::new(Mutex::new(Vec::new()));
    // Chat 1's first job can only finish once chat 2's job has run: were chats handled one
    // after another, this would never end.
    let released = Arc::new(tokio::sync::Notify::new());
    {
        let released = released.clone();
        queues.push(1, async move { released.notified().await });
    }
    for i in 0..200 {
        let order = order.clone();
        queues.push(1, async move {
            if i % 7 == 0 {
                tokio::task::yield_now().await;
            }
            order.lock().unwrap().push(i);
        });
    }
    queues.push(2, async move { released.notify_one() });
    tokio::time::timeout(Duration::from_secs(30), queues.finish())
        .await
        .expect("chat 2 was held up by chat 1");
    assert_eq!(*order.lock().unwrap(), (0..200).collect::<Vec<_>>());
    assert_eq!(queues.busy_chats(), 0, "finished chats leave no queue behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_queues_lose_no_job_pushed_while_a_chat_goes_idle() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let queues = billbot::channels::ChatQueues::new();
    let done = Arc::new(AtomicUsize::new(0));
    let pushers: Vec<_> = (0..4)
        .map(|p| {
            let (queues, done) = (queues.clone(), done.clone());
            tokio::spawn(async move {
                for i in 0..2_000 {
                    let done = done.clone();
                    queues.push((p + i) % 3, async move {
                        done.fetch_add(1, Ordering::SeqCst);
                    });
                    if i % 50 == 0 {
                        tokio::task::yield_now().await; // let queues drain and end in between
                    }
                }
            })
        })
        .collect();
    for pusher in pushers {
        pusher.await.unwrap();
    }
    queues.finish().await;
    assert_eq!(done.load(Ordering::SeqCst), 8_000);
    assert_eq!(queues.busy_chats(), 0);
}

#[tokio::test]
async fn instances_sharing_a_bot_token_each_keep_to_their_share_of_telegrams_limits() {
    use teloxide::types::ChatId;
    let send = |pacer: telegram::Pacer| async move {
        let started = std::time::Instant::now();
        for chat in 0..20 {
            pacer.send(ChatId(chat), || async { Ok::<_, teloxide::RequestError>(()) }).await.unwrap();
        }
        started.elapsed()
    };
    let (alone, third) = tokio::join!(
        send(telegram::Pacer::new(Limits::default())),
        send(telegram::Pacer::new(Limits::default().shared_by(3)))
    );
    // Alone: 30 a second with a burst of 30, so 20 messages go at once. A third: 10 a second.
    assert!(alone < Duration::from_millis(500), "{alone:?}");
    assert!(third >= Duration::from_millis(900), "{third:?}");
}

#[tokio::test]
async fn an_update_taken_in_before_a_crash_is_answered_after_the_restart() {
    use billbot::channels::intake::Inbound;
    use billbot::channels::telegram::INBOX_PREFIX;
    use billbot::conversation::Input;
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    {
        // What the intake leaves when the process dies right after Telegram was told 200.
        let store = Store::open(dir.path()).unwrap();
        let chat = billbot::domain::ChatKey::telegram(61);
        let mut inbound =
            Inbound::new(format!("{INBOX_PREFIX}4242"), chat.clone(), 4_242, Input::from_text("/help"));
        inbound.lang_code = Some("fr".into());
        assert!(store.inbox_take(&inbound.id, &chat, 4_242, &inbound, chrono::Utc::now()).await.unwrap());
    }
    let mut bot = Running::start_with(fake.clone(), dir, Duration::from_secs(2), None).await;
    let reply = fake.next_reply(61, 0).await;
    assert!(reply.text.starts_with("Voici ce que je sais faire"), "{}", reply.text);
    bot.stop().await;
    assert_eq!(fake.messages_to(61).len(), 1, "answered once");
}

#[tokio::test]
async fn a_button_press_taken_in_before_a_crash_is_answered_after_the_restart() {
    use billbot::channels::intake::Inbound;
    use billbot::channels::telegram::{Context, INBOX_PREFIX};
    use billbot::conversation::Input;
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Pressed, stored, and the instance died before answering the press or the message.
    let query = fake.open_callback();
    {
        let store = Store::open(dir.path()).unwrap();
        let chat = billbot::domain::ChatKey::telegram(62);
        let mut inbound =
            Inbound::new(format!("{INBOX_PREFIX}4243"), chat.clone(), 4_243, Input::Button("v1:menu".into()));
        inbound.lang_code = Some("en".into());
        inbound.context =
            serde_json::to_value(Context { pressed: None, callback: Some(query.clone()) }).unwrap();
        assert!(
            store.inbox_take(&inbound.id, &chat, inbound.order, &inbound, chrono::Utc::now()).await.unwrap()
        );
    }
    let mut bot = Running::start_with(fake.clone(), dir, Duration::from_secs(2), None).await;
    let reply = fake.next_reply(62, 0).await;
    assert!(reply.text.contains("What would you like to do"), "{}", reply.text);
    assert!(fake.callback_answered(&query), "the press is answered by the instance that took it up");
    bot.stop().await;
}

#[tokio::test]
async fn a_telegram_only_deployment_forgets_old_message_ids() {
    use billbot::channels::intake::Inbound;
    use billbot::conversation::Input;
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::app_settings(dir.path(), SandboxConfig::default());
    let mut telegram = self::settings(&fake);
    // Housekeeping every half second.
    telegram.resume_after = Duration::from_secs(1);
    settings.telegram = Some(telegram);
    let app = billbot::app::build(settings).await.unwrap();
    // An update taken in and handled eight days ago: its id is kept for redeliveries a week.
    let store = app.store.clone();
    let chat = billbot::domain::ChatKey::telegram(71);
    let old = Inbound::new("tg:update:9000", chat.clone(), 9_000, Input::from_text("/help"));
    let long_ago = chrono::Utc::now() - chrono::Duration::days(8);
    assert!(store.inbox_take(&old.id, &chat, old.order, &old, long_ago).await.unwrap());
    store.commit(billbot::store::Op::InboxDone { id: old.id.clone() }).await.unwrap();
    assert_eq!(store.seen_count().await.unwrap(), 1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run(billbot::app::Listeners::default(), async {
        let _ = stopped.await;
    }));
    // A message now: its id is kept.
    fake.user_says(72, "en", "/help");
    fake.next_reply(72, 0).await;
    assert_eq!(store.seen_count().await.unwrap(), 2);
    let started = std::time::Instant::now();
    while store.seen_count().await.unwrap() != 1 {
        assert!(started.elapsed() < Duration::from_secs(10), "old message ids are never swept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), task).await.unwrap().unwrap().unwrap();
    // The old id is forgotten (a week on, an id is new again); today's is kept.
    assert!(store.inbox_take(&old.id, &chat, old.order, &old, chrono::Utc::now()).await.unwrap());
    let today =
        Inbound::new("tg:update:1", billbot::domain::ChatKey::telegram(72), 1, Input::from_text("/help"));
    assert!(!store.inbox_take(&today.id, &today.chat, 1, &today, chrono::Utc::now()).await.unwrap());
}

#[tokio::test]
async fn an_agent_in_a_group_gets_the_customer_view_merchant_figures_stay_private() {
    let mut bot = Running::start().await;
    let group = -100_555;
    let before = bot.fake.messages_to(group).len();
    bot.fake.user_says_in_group(group, AGENT, "en", &format!("/status {}", orders::DOC_SAMPLE));
    let order = bot.fake.next_reply(group, before).await;
    assert!(order.text.contains("Order GB - 202206132206791818205"), "{}", order.text);
    assert!(
        !order.text.contains("Merchant details") && !order.text.contains("Wallet balance"),
        "{}",
        order.text
    );
    let before = bot.fake.messages_to(group).len();
    bot.fake.user_says_in_group(group, AGENT, "en", "/history");
    let history = bot.fake.next_reply(group, before).await;
    assert!(history.text.contains("for agents only"), "{}", history.text);
    // In their private chat, the same agent sees them.
    let private = bot.say(AGENT, "en", &format!("/status {}", orders::DOC_SAMPLE)).await;
    assert!(private.text.contains("Merchant details"), "{}", private.text);
    bot.stop().await;
}

#[tokio::test]
async fn a_flooding_chat_is_told_once_to_slow_down_its_extra_updates_dropped_and_others_served() {
    use billbot::channels::intake::Inbound;
    use billbot::channels::telegram::INBOX_PREFIX;
    let fake = FakeTelegram::start().await;
    let mut bot = Running::start_with(fake, tempfile::tempdir().unwrap(), Duration::from_secs(3), None).await;
    let before = bot.fake.messages_to(31).len();
    bot.fake.user_says(31, "fr", &format!("/status {}", orders::SLOW));
    // Its step has started (and waits for the slow provider, 600 ms) before the flood.
    tokio::time::sleep(Duration::from_millis(150)).await;
    for _ in 0..10 {
        bot.fake.user_says(31, "fr", "/help");
    }
    let other = bot.say(32, "en", "/start").await;
    assert!(other.text.contains("What would you like to do"), "{}", other.text);
    let sent = bot.fake.wait_until(31, "told to slow down", |m| m.len() > before).await;
    assert!(sent[before].text.contains("plus vite que je ne peux répondre"), "{}", sent[before].text);
    // The slow answer, then the five help texts that waited.
    let sent = bot.fake.wait_for_messages(31, before + 7).await;
    assert!(sent[before + 1].text.contains("ne répond pas"), "{}", sent[before + 1].text);
    assert!(sent[before + 2..].iter().all(|m| m.text.starts_with("Voici ce que je sais faire")), "{sent:#?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bot.fake.messages_to(31).len(), before + 7, "the dropped updates get no answer");
    bot.stop().await;
    let store = Store::open(bot.dir.path()).unwrap();
    let pending: Vec<(String, Inbound)> = store.inbox_pending(INBOX_PREFIX).await.unwrap();
    assert!(pending.is_empty(), "nothing is left to take up after a restart: {pending:?}");
}

#[tokio::test]
async fn an_agent_answers_a_ticket_by_replying_to_it_in_the_support_group() {
    use billbot::conversation::support::{Support, SupportHours};
    const GROUP: i64 = -2_001;
    const AGENT_USER: i64 = 702;
    const NOT_AGENT: i64 = 703;
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::app_settings(dir.path(), SandboxConfig::default());
    settings.telegram = Some(self::settings(&fake));
    settings.tracking.tracker.tick = Duration::from_millis(50);
    settings.support = Some(Support {
        chat: billbot::domain::ChatKey::telegram(GROUP),
        lang: billbot::i18n::Lang::Fr,
        hours: SupportHours::parse("00:00-23:59", "mon-sun").unwrap(),
        show_agent: false,
        agents: HashSet::from([AGENT_USER.to_string()]),
    });
    let app = billbot::app::build(settings).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run(billbot::app::Listeners::default(), async {
        let _ = stopped.await;
    }));
    let mut bot = Running { fake: fake.clone(), dir, stop: Some(stop), task: Some(task) };

    let ask = bot.say(701, "en", "/support").await;
    assert!(ask.text.contains("Type your question"), "{}", ask.text);
    let opened = bot.say(701, "en", "Where is my token? <b>&</b>").await;
    assert!(opened.text.starts_with("✅ Sent to our support team as request "), "{}", opened.text);
    let id: String = opened.text.split("request ").nth(1).unwrap().chars().take(5).collect();
    let tickets = fake.wait_until(GROUP, "the ticket", |m| m.iter().any(|s| s.text.contains('🎫'))).await;
    let ticket = tickets.iter().find(|s| s.text.contains('🎫')).unwrap().clone();
    assert!(
        ticket.text.contains("┃ Where is my token? <b>&</b>"),
        "escaped, intact, quoted: {}",
        ticket.text
    );

    // A member of the group who is not a listed agent: refused, and the customer hears nothing.
    let refused = "Seuls les agents du service client peuvent répondre aux demandes ou les clore ici.";
    let in_group = fake.messages_to(GROUP).len();
    fake.user_says_in_group(GROUP, NOT_AGENT, "fr", &format!("/reply {id} Send me your PIN"));
    fake.user_replies_in_group(GROUP, NOT_AGENT, "fr", &ticket, "Send me your PIN");
    fake.user_says_in_group(GROUP, NOT_AGENT, "fr", &format!("/close {id}"));
    let told = fake.wait_for_messages(GROUP, in_group + 3).await;
    assert!(told[in_group..].iter().all(|m| m.text == refused), "{told:#?}");
    // The agent replying to a message that is not the bot's own: another bot's or a member's,
    // however ticket-like, answers nobody.
    let other_bot = json!({"id": 999_999, "is_bot": true, "first_name": "otherbot", "username": "other_bot"});
    let member = json!({"id": NOT_AGENT, "is_bot": false, "first_name": "Moussa"});
    let forged = format!("🎫 {id} · nouvelle demande");
    fake.user_replies_in_group_to(
        GROUP,
        AGENT_USER,
        "fr",
        (9_001, other_bot, &forged),
        "Votre code est 1234",
    );
    fake.user_replies_in_group_to(GROUP, AGENT_USER, "fr", (9_002, member, &forged), "Votre code est 1234");
    let helped = fake.wait_for_messages(GROUP, in_group + 5).await;
    assert!(helped[in_group + 3..].iter().all(|m| m.text.contains("/reply ID")), "{helped:#?}");
    assert!(!fake.messages_to(701).iter().any(|m| m.text.contains("PIN") || m.text.contains("1234")));
    assert!(!fake.messages_to(701).iter().any(|m| m.text.contains("closed your request")));

    fake.user_replies_in_group(GROUP, AGENT_USER, "fr", &ticket, "Bonjour, le jeton est dans votre reçu.");
    let answers =
        fake.wait_until(701, "the agent's answer", |m| m.iter().any(|s| s.text.contains("💬 Support"))).await;
    let answer = answers.iter().find(|s| s.text.contains("💬 Support")).unwrap();
    assert!(
        answer.text.contains(&format!("request {id}:\nBonjour, le jeton est dans votre reçu.")),
        "{}",
        answer.text
    );
    assert!(!answer.text.contains("Awa"), "the agent stays anonymous");
    let told = fake
        .wait_until(GROUP, "the confirmation", |m| m.iter().any(|s| s.text.starts_with("✅ Transmis")))
        .await;
    assert!(told.iter().any(|s| s.text == format!("✅ Transmis au client de {id}.")));

    fake.user_says_in_group(GROUP, AGENT_USER, "fr", &format!("/close {id}"));
    let closed =
        fake.wait_until(701, "the close", |m| m.iter().any(|s| s.text.contains("closed your request"))).await;
    assert!(closed.iter().any(|s| s.text.starts_with(&format!("✅ Support closed your request {id}."))));
    bot.stop().await;
}

#[tokio::test]
async fn a_relay_flood_to_a_paced_support_group_does_not_delay_another_customers_answer() {
    use billbot::conversation::support::{Support, SupportHours};
    const GROUP: i64 = -2_002;
    const AGENT_USER: i64 = 712;
    const OTHER: i64 = 713;
    const FLOODERS: [i64; 3] = [714, 715, 716];
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::app_settings(dir.path(), SandboxConfig::default());
    // Telegram's real pace: 1 message a second a chat (bursts of 3), 20 a minute a group.
    settings.telegram = Some(TelegramSettings { rate_limits: true, ..self::settings(&fake) });
    // Every message the flooders type is taken in (flood control is another test's).
    settings.limits.flood = billbot::domain::limits::Flood { max_waiting: 50, per_minute: 6_000 };
    settings.support = Some(Support {
        chat: billbot::domain::ChatKey::telegram(GROUP),
        lang: billbot::i18n::Lang::Fr,
        hours: SupportHours::parse("00:00-23:59", "mon-sun").unwrap(),
        show_agent: false,
        agents: HashSet::from([AGENT_USER.to_string()]),
    });
    let app = billbot::app::build(settings).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run(billbot::app::Listeners::default(), async {
        let _ = stopped.await;
    }));
    let mut bot = Running { fake: fake.clone(), dir, stop: Some(stop), task: Some(task) };

    bot.say(OTHER, "en", "/support").await;
    let opened = bot.say(OTHER, "en", "My receipt never came").await;
    let theirs: String = opened.text.split("request ").nth(1).unwrap().chars().take(5).collect();
    for flooder in FLOODERS {
        bot.say(flooder, "en", "/support").await;
        bot.say(flooder, "en", "My meter shows no credit").await;
    }
    // Seven messages at once from each into their open requests: 21 relays, and the four
    // requests, for a group that gets one a second, then one every 3 s past its burst of 20.
    let before: Vec<usize> = FLOODERS.iter().map(|f| fake.messages_to(*f).len()).collect();
    for n in 0..7 {
        for flooder in FLOODERS {
            fake.user_says(flooder, "en", &format!("message {n}"));
        }
    }
    for (flooder, before) in FLOODERS.into_iter().zip(before) {
        let answered = fake.wait_for_messages(flooder, before + 7).await;
        assert!(answered[before..].iter().all(|m| m.text.starts_with("➡️ Sent to support")), "{answered:#?}");
    }
    let relays_sent =
        |fake: &FakeTelegram| fake.messages_to(GROUP).iter().filter(|m| m.text.contains("┃ message")).count();
    let backlog = 21 - relays_sent(&fake);
    assert!(backlog >= 8, "the group's pace holds back its relays: {backlog} to go");

    // Support answers the other customer meanwhile: the answer does not wait behind the relays.
    let asked = std::time::Instant::now();
    fake.user_says_in_group(GROUP, AGENT_USER, "fr", &format!("/reply {theirs} Il arrive."));
    fake.wait_until(OTHER, "the answer", |m| m.iter().any(|s| s.text.contains("Il arrive."))).await;
    let waited = asked.elapsed();
    assert!(waited < Duration::from_secs(2), "the answer waited {waited:?}");
    assert!(relays_sent(&fake) < 21, "the relays were still going out at the group's pace");
    // The group's backlog would hold a graceful stop for a while: this test is done with it.
    if let Some(task) = bot.task.take() {
        task.abort();
    }
}

#[tokio::test]
async fn a_lookup_waiting_its_turn_tells_its_user_once_then_answers() {
    let fake = FakeTelegram::start().await;
    let sandbox = SandboxConfig { latency: Duration::from_millis(400), ..Default::default() };
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::app_settings(dir.path(), sandbox);
    settings.telegram = Some(self::settings(&fake));
    // One provider call at a time: of two lookups sent together, one waits the other's 400 ms.
    settings.limits.provider_calls = 1;
    settings.limits.provider_wait_note = Duration::from_millis(150);
    let app = billbot::app::build(settings).await.unwrap();
    tokio::spawn(app.run(billbot::app::Listeners::default(), std::future::pending()));

    fake.user_says(40, "en", &format!("/status {}", orders::PENDING));
    fake.user_says(41, "fr", &format!("/status {}", orders::PENDING));
    let english = fake.wait_until(40, "the order", |m| m.iter().any(|s| s.text.contains("⏳ pending"))).await;
    let french = fake.wait_until(41, "the order", |m| m.iter().any(|s| s.text.contains("⏳ en cours"))).await;
    let is_note =
        |s: &Sent| s.text.contains("Many people are checking") || s.text.contains("Beaucoup de personnes");
    let notes: Vec<&Sent> = english.iter().chain(&french).filter(|s| is_note(s)).collect();
    assert_eq!(notes.len(), 1, "the one that waited was told, once: {english:#?} {french:#?}");
    let (waited, words) = if english.iter().any(is_note) {
        (&english, "yours is next")
    } else {
        (&french, "la vôtre est la prochaine")
    };
    assert_eq!(waited.len(), 2, "the note, then the answer: {waited:#?}");
    assert!(is_note(&waited[0]) && !is_note(&waited[1]));
    assert!(waited[0].text.contains(words), "in the chat's language: {}", waited[0].text);
}
