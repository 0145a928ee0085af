//! The WhatsApp channel through real HTTP: Meta's side is the loopback Graph API server
//! (`common::graphapi`), which signs the webhooks it posts and rejects what WhatsApp rejects; the
//! bot is the whole app (`app::build`) on the sandbox.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use billbot::app::{self, AppError, Listeners, Settings};
use billbot::channels::intake::Inbound;
use billbot::config::WhatsAppSettings;
use billbot::domain::ChatKey;
use billbot::sandbox::SandboxConfig;
use billbot::sandbox::fixtures::{orders, refs};
use billbot::store::Store;
use common::graphapi::{self, FakeWhatsApp, Sent, WaUser};
use serde_json::json;

const AGENT: &str = "221770000001";
const AWA: &str = "221771234567";
const JOHN: &str = "14155550123";

struct Running {
    fake: FakeWhatsApp,
    dir: tempfile::TempDir,
    webhook: String,
    store: Store,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), AppError>>>,
}

fn whatsapp_settings(fake: &FakeWhatsApp, listen: std::net::SocketAddr) -> WhatsAppSettings {
    WhatsAppSettings {
        token: graphapi::TOKEN.to_owned().into(),
        phone_number_id: graphapi::PHONE_NUMBER_ID.to_owned(),
        app_secret: graphapi::APP_SECRET.to_owned().into(),
        verify_token: graphapi::VERIFY_TOKEN.to_owned().into(),
        api_url: fake.api_url(),
        listen,
        agents: HashSet::from([AGENT.to_owned()]),
        notify_template: None,
        reminder_template: None,
        messages_per_sec: 10_000,
        user_burst: 1_000,
        retry_base: Duration::from_millis(10),
        instances: 1,
        resume_after: Duration::from_secs(120),
    }
}

impl Running {
    async fn start() -> Running {
        Self::start_with(FakeWhatsApp::start().await, tempfile::tempdir().unwrap(), |_| {}).await
    }

    async fn start_with(
        fake: FakeWhatsApp,
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut Settings),
    ) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sandbox = SandboxConfig {
            slow: Duration::from_secs(2),
            deliver_after: Duration::from_millis(300),
            ..Default::default()
        };
        let mut settings = common::app_settings(dir.path(), sandbox);
        settings.whatsapp = Some(whatsapp_settings(&fake, addr));
        tweak(&mut settings);
        let app = app::build(settings).await.unwrap();
        let store = app.store.clone();
        let webhook = format!("http://{addr}/whatsapp/webhook");
        fake.set_webhook(&webhook);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let listeners = Listeners { whatsapp: Some(listener), ..Default::default() };
        let task = tokio::spawn(app.run(listeners, async {
            let _ = stopped.await;
        }));
        Running { fake, dir, webhook, store, stop: Some(stop), task: Some(task) }
    }

    /// Stops the app gracefully and waits for it.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task).await.unwrap().unwrap().unwrap();
        }
    }

    /// The data directory, everything else (the store included) closed.
    fn into_dir(self) -> tempfile::TempDir {
        self.dir
    }

    /// Waits for the bot's answer to what the user just did: the messages after `before`, once no
    /// more arrive for a moment.
    async fn answer(&self, user: &WaUser, before: usize) -> Vec<Sent> {
        self.fake.next_reply(&user.key(), before).await;
        self.fake.messages_to(&user.key())[before..].to_vec()
    }

    async fn say(&self, user: &WaUser, text: &str) -> Vec<Sent> {
        let before = self.fake.messages_to(&user.key()).len();
        self.fake.user_says(user, text).await;
        self.answer(user, before).await
    }

    async fn press(&self, user: &WaUser, title: &str) -> Vec<Sent> {
        let before = self.fake.messages_to(&user.key()).len();
        self.fake.press(user, title).await;
        self.answer(user, before).await
    }

    /// Every message WhatsApp refused so far: none, whatever the test did.
    fn assert_nothing_rejected(&self) {
        let rejected = self.fake.rejected();
        assert!(rejected.is_empty(), "WhatsApp refused: {rejected:#?}");
    }
}

fn text(sent: &[Sent]) -> String {
    sent.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join("\n---\n")
}

fn titles(sent: &[Sent]) -> Vec<String> {
    sent.iter().flat_map(|s| s.choices.iter().map(|(_, t)| t.clone())).collect()
}

#[tokio::test]
async fn the_verification_get_echoes_the_challenge_only_for_our_verify_token() {
    let mut bot = Running::start().await;
    let client = reqwest::Client::new();
    let get = |query: &'static str| client.get(format!("{}?{query}", bot.webhook)).send();
    let ok = get("hub.mode=subscribe&hub.verify_token=verify-me-0123456789&hub.challenge=1158201444")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    for refused in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        "hub.mode=unsubscribe&hub.verify_token=verify-me-0123456789&hub.challenge=1",
        "hub.verify_token=verify-me-0123456789&hub.challenge=1",
        "hub.mode=subscribe&hub.challenge=1",
    ] {
        assert_eq!(get(refused).await.unwrap().status(), 403, "{refused}");
    }
    bot.stop().await;
}

#[tokio::test]
async fn unsigned_or_badly_signed_posts_get_401_and_nothing_is_handled() {
    let mut bot = Running::start().await;
    let user = WaUser::phone(AWA);
    let payload =
        FakeWhatsApp::message_payload(&[(&user, json!({"type": "text", "text": {"body": "menu"}}))]);
    let body = serde_json::to_vec(&payload).unwrap();
    assert_eq!(bot.fake.deliver_raw(body.clone(), None).await, 401, "no signature");
    assert_eq!(bot.fake.deliver_raw(body.clone(), Some("sha256=00ff".into())).await, 401, "wrong digest");
    assert_eq!(bot.fake.deliver_raw(body.clone(), Some("deadbeef".into())).await, 401, "no sha256= prefix");
    let other = FakeWhatsApp::signature(b"another body");
    assert_eq!(bot.fake.deliver_raw(body.clone(), Some(other)).await, 401, "the signature of another body");
    // Over the webhook's 3 MiB: refused before anything else.
    let huge = vec![b' '; billbot::channels::whatsapp::webhook::MAX_BODY + 1];
    let signed = FakeWhatsApp::signature(&huge);
    assert_eq!(bot.fake.deliver_raw(huge, Some(signed)).await, 413);
    // Signed but not JSON: refused as malformed, after the signature was checked.
    let garbage = b"{not json".to_vec();
    let signed = FakeWhatsApp::signature(&garbage);
    assert_eq!(bot.fake.deliver_raw(garbage, Some(signed)).await, 400);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(bot.fake.calls().is_empty(), "nothing was answered: {:#?}", bot.fake.calls());
    assert_eq!(bot.store.seen_count().await.unwrap(), 0, "nothing was recorded");
    // The same payload, correctly signed, is answered.
    assert_eq!(bot.fake.deliver(&payload).await, 200);
    bot.fake.wait_for_messages(&user.key(), 1).await;
    bot.stop().await;
}

#[tokio::test]
async fn a_first_contact_from_senegal_gets_a_bilingual_greeting_and_french_by_default() {
    let mut bot = Running::start().await;
    let awa = WaUser::phone(AWA);
    let first = bot.say(&awa, "Bonjour !").await;
    assert_eq!(first.len(), 1, "{first:#?}");
    assert_eq!(first[0].kind, "button");
    assert!(first[0].text.starts_with("*Bonjour ! Je suis billbot"), "{}", first[0].text);
    assert!(first[0].text.contains("Hello! I'm billbot"), "{}", first[0].text);
    assert_eq!(titles(&first), ["Français", "English"]);
    assert!(bot.fake.reads().iter().any(|(_, typing)| *typing), "read, with the typing indicator");
    // Someone who just types is answered in French (+221).
    let typed = bot.say(&awa, "1000000001").await;
    assert!(text(&typed).contains("Pour quel facturier est le numéro 1000000001"), "{}", text(&typed));
    // The choice is kept.
    let english = bot.say(&awa, "langue en").await;
    assert!(text(&english).contains("Language: English"), "{}", text(&english));
    let help = bot.say(&awa, "AIDE").await;
    assert!(text(&help).contains("Here is what I can do"), "{}", text(&help));
    bot.assert_nothing_rejected();
    bot.stop().await;
}

#[tokio::test]
async fn a_bill_in_french_from_a_keyword_to_the_bills_within_whatsapps_limits() {
    let mut bot = Running::start().await;
    let awa = WaUser::phone(AWA);
    let first = bot.say(&awa, "facture").await;
    // A first message that asks something gets the greeting and the answer.
    assert!(text(&first).contains("Choisissez votre langue"), "{}", text(&first));
    assert!(text(&first).contains("Quel facturier"), "{}", text(&first));
    let prompt = bot.press(&awa, "Senelec").await;
    assert!(text(&prompt).contains("Saisissez votre numéro Senelec"), "{}", text(&prompt));
    // A label one character too long loses its emoji rather than turning two buttons into a list.
    assert_eq!(titles(&prompt), ["Changer de facturier", "🏠 Menu"]);
    let bills = bot.say(&awa, refs::SEVERAL_BILLS).await;
    let all = text(&bills);
    assert!(all.contains("Facture 1 sur 3") && all.contains("Facture 3 sur 3"), "{all}");
    assert!(all.contains("à payer"), "{all}");
    // Three short choices: reply buttons, one tap each.
    let last = bills.last().unwrap();
    assert_eq!(last.kind, "button", "the choices come with the bills: {last:#?}");
    assert_eq!(titles(&bills), ["⏰ Me le rappeler", "⭐ Garder ce numéro", "🏠 Menu"]);
    // Save it, name it, and find it first in the biller list.
    bot.press(&awa, "Garder ce numéro").await;
    let named = bot.say(&awa, "Maison").await;
    assert!(text(&named).contains("« Maison »") || text(&named).contains("Maison"), "{}", text(&named));
    let chooser = bot.say(&awa, "facture").await;
    assert!(titles(&chooser).iter().any(|t| t.contains("Maison")), "{:?}", titles(&chooser));
    bot.assert_nothing_rejected();
    bot.stop().await;
}

#[tokio::test]
async fn an_order_status_in_english_and_a_meter_for_a_number_outside_west_africa() {
    let mut bot = Running::start().await;
    let john = WaUser::phone(JOHN);
    let first = bot.say(&john, &format!("status GB - {}", orders::DOC_SAMPLE)).await;
    let all = text(&first);
    assert!(all.contains("Hello! I'm billbot"), "{all}");
    assert!(all.contains("GB - 202206132206791818205") && all.contains("✅ delivered"), "{all}");
    assert!(!all.contains("init_bal") && !all.contains("Wallet balance"), "no merchant fields: {all}");
    let meter = bot.say(&john, "bill").await;
    assert!(text(&meter).contains("Which biller"), "{}", text(&meter));
    bot.press(&john, "Woyofal").await;
    let result = bot.say(&john, refs::METER).await;
    assert!(
        text(&result).contains("amount is chosen when you pay") || text(&result).contains("Meter"),
        "{}",
        text(&result)
    );
    bot.assert_nothing_rejected();
    bot.stop().await;
}

#[tokio::test]
async fn a_redelivered_message_is_answered_once_even_after_a_restart() {
    let fake = FakeWhatsApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bot = Running::start_with(fake.clone(), dir, |_| {}).await;
    let awa = WaUser::phone(AWA);
    let message = json!({"id": "wamid.dup.1", "type": "text", "text": {"body": "aide"}});
    let payload = FakeWhatsApp::message_payload(&[(&awa, message)]);
    assert_eq!(fake.deliver(&payload).await, 200);
    fake.wait_for_messages(&awa.key(), 1).await;
    let answered = fake.next_reply(&awa.key(), 0).await;
    let count = fake.messages_to(&awa.key()).len();
    assert_eq!(fake.deliver(&payload).await, 200, "a duplicate is acknowledged");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(fake.messages_to(&awa.key()).len(), count, "and not answered again");
    bot.stop().await;
    let dir = bot.into_dir();
    let mut again = Running::start_with(fake.clone(), dir, |_| {}).await;
    assert_eq!(fake.deliver(&payload).await, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(fake.messages_to(&awa.key()).len(), count, "the id survived the restart: {answered:?}");
    again.stop().await;
}

#[tokio::test]
async fn a_batched_payload_of_two_users_answers_each_in_their_language() {
    let mut bot = Running::start().await;
    let (awa, john) = (WaUser::phone(AWA), WaUser::phone(JOHN));
    let payload = FakeWhatsApp::message_payload(&[
        (&awa, json!({"type": "text", "text": {"body": "menu"}})),
        (&john, json!({"type": "text", "text": {"body": "menu"}})),
    ]);
    assert_eq!(bot.fake.deliver(&payload).await, 200);
    let to_awa = bot.fake.wait_for_messages(&awa.key(), 1).await;
    let to_john = bot.fake.wait_for_messages(&john.key(), 1).await;
    assert!(to_awa[0].text.contains("Bonjour"), "{}", to_awa[0].text);
    assert!(to_john[0].text.contains("Hello"), "{}", to_john[0].text);
    // News of another phone number of the same app is not ours to answer.
    let mut other =
        FakeWhatsApp::message_payload(&[(&awa, json!({"type": "text", "text": {"body": "aide"}}))]);
    other["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = json!("999999999999999");
    let count = bot.fake.messages_to(&awa.key()).len();
    assert_eq!(bot.fake.deliver(&other).await, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(bot.fake.messages_to(&awa.key()).len(), count);
    bot.stop().await;
}

#[tokio::test]
async fn a_change_without_a_phone_number_id_is_ignored_not_routed_by_default() {
    let mut bot = Running::start().await;
    let awa = WaUser::phone(AWA);
    let hello =
        || FakeWhatsApp::message_payload(&[(&awa, json!({"type": "text", "text": {"body": "menu"}}))]);
    let mut unnamed = hello();
    let metadata = &mut unnamed["entry"][0]["changes"][0]["value"]["metadata"];
    metadata.as_object_mut().unwrap().remove("phone_number_id");
    assert_eq!(bot.fake.deliver(&unnamed).await, 200, "Meta is told it was received");
    let mut bare = hello();
    bare["entry"][0]["changes"][0]["value"].as_object_mut().unwrap().remove("metadata");
    assert_eq!(bot.fake.deliver(&bare).await, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(bot.fake.messages_to(&awa.key()).is_empty(), "{:#?}", bot.fake.messages_to(&awa.key()));
    assert_eq!(bot.store.seen_count().await.unwrap(), 0, "nothing was taken in");
    // Named, it is ours.
    assert_eq!(bot.fake.deliver(&hello()).await, 200);
    bot.fake.wait_for_messages(&awa.key(), 1).await;
    bot.stop().await;
}

#[tokio::test]
async fn a_signed_batch_of_200_kib_is_taken_and_one_over_the_limit_gets_413() {
    let mut bot = Running::start().await;
    let awa = WaUser::phone(AWA);
    // Meta batches: a message among a thousand statuses of earlier messages.
    let statuses = |n: usize| -> Vec<serde_json::Value> {
        (0..n)
            .map(|i| {
                json!({"id": format!("wamid.HBgMMjIxNzcxMjM0NTY3FQIAERgSQjQ1RjU2RDk5QjY0{i:08}"),
                       "status": "delivered", "timestamp": "1765000000", "recipient_id": JOHN,
                       "conversation": {"id": format!("conversation-{i:08}"), "origin": {"type": "service"}},
                       "pricing": {"billable": true, "pricing_model": "CBP", "category": "service"}})
            })
            .collect()
    };
    let mut batch =
        FakeWhatsApp::message_payload(&[(&awa, json!({"type": "text", "text": {"body": "menu"}}))]);
    batch["entry"][0]["changes"][0]["value"]["statuses"] = json!(statuses(1_000));
    let size = serde_json::to_vec(&batch).unwrap().len();
    assert!(size > 200 * 1024 && size < billbot::channels::whatsapp::webhook::MAX_BODY, "{size}");
    assert_eq!(bot.fake.deliver(&batch).await, 200);
    let answer = bot.fake.wait_for_messages(&awa.key(), 1).await;
    assert!(answer[0].text.contains("Bonjour"), "{}", answer[0].text);
    // One over the limit, signed as Meta would: 413, and nothing in it is handled.
    let mut huge =
        FakeWhatsApp::message_payload(&[(&awa, json!({"type": "text", "text": {"body": "aide"}}))]);
    huge["entry"][0]["changes"][0]["value"]["statuses"] = json!(statuses(15_000));
    let body = serde_json::to_vec(&huge).unwrap();
    assert!(body.len() > billbot::channels::whatsapp::webhook::MAX_BODY, "{}", body.len());
    let signature = FakeWhatsApp::signature(&body);
    let count = bot.fake.messages_to(&awa.key()).len();
    assert_eq!(bot.fake.deliver_raw(body, Some(signature)).await, 413);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(bot.fake.messages_to(&awa.key()).len(), count);
    bot.stop().await;
}

#[tokio::test]
async fn every_message_type_is_taken_media_gets_the_menu_reactions_and_statuses_get_nothing() {
    let mut bot = Running::start().await;
    let awa = WaUser::phone(AWA);
    bot.say(&awa, "menu").await; // the first contact
    let media = [
        ("image", json!({"image": {"id": "m1", "mime_type": "image/jpeg", "sha256": "x"}})),
        ("sticker", json!({"sticker": {"id": "m2", "mime_type": "image/webp", "animated": false}})),
        ("audio", json!({"audio": {"id": "m3", "mime_type": "audio/ogg", "voice": true}})),
        ("video", json!({"video": {"id": "m4", "mime_type": "video/mp4"}})),
        ("document", json!({"document": {"id": "m5", "filename": "facture.pdf"}})),
        ("location", json!({"location": {"latitude": 14.69, "longitude": -17.44, "name": "Dakar"}})),
        ("contacts", json!({"contacts": [{"name": {"formatted_name": "Moussa"}}]})),
        ("unsupported", json!({"errors": [{"code": 131051, "title": "Message type unknown"}]})),
        ("hologram", json!({"hologram": {"depth": 3}})),
    ];
    for (kind, fields) in media {
        let before = bot.fake.messages_to(&awa.key()).len();
        bot.fake.user_sends(&awa, kind, fields).await;
        let answer = bot.answer(&awa, before).await;
        assert_eq!(answer.len(), 1, "{kind}: {answer:#?}");
        assert!(answer[0].text.contains("Je n'ai pas compris"), "{kind}: {}", answer[0].text);
        assert!(!answer[0].choices.is_empty(), "{kind}: the menu comes with it");
    }
    // A photo with a caption is read as its caption.
    let before = bot.fake.messages_to(&awa.key()).len();
    bot.fake.user_sends(&awa, "image", json!({"image": {"id": "m6", "caption": "aide"}})).await;
    assert!(text(&bot.answer(&awa, before).await).contains("Voici ce que je sais faire"));
    // A reaction and a status are not answered.
    let count = bot.fake.messages_to(&awa.key()).len();
    let last = bot.fake.messages_to(&awa.key()).last().unwrap().id.clone();
    bot.fake.user_sends(&awa, "reaction", json!({"reaction": {"message_id": last, "emoji": "👍"}})).await;
    assert_eq!(bot.fake.send_status(&awa, &last, "delivered").await, 200);
    assert_eq!(bot.fake.send_status(&awa, &last, "failed").await, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(bot.fake.messages_to(&awa.key()).len(), count);
    // A template's quick-reply button is a press.
    let before = bot.fake.messages_to(&awa.key()).len();
    bot.fake.press_template_button(&awa, "v1:?", "Aide").await;
    assert!(text(&bot.answer(&awa, before).await).contains("Voici ce que je sais faire"));
    bot.assert_nothing_rejected();
    bot.stop().await;
}

#[tokio::test]
async fn names_with_whatsapps_formatting_characters_never_break_the_formatting() {
    let mut bot = Running::start().await;
    // An agent sees names whole (customers see them masked): every formatting character is there.
    let awa = WaUser::phone(AGENT);
    bot.say(&awa, "menu").await;
    bot.say(&awa, "facture").await;
    bot.press(&awa, "SenEau").await;
    let bill = bot.say(&awa, refs::SPECIAL_NAME).await;
    let body = text(&bill);
    assert!(body.contains("Aïssatou N'Diaye-Sène ˍ∗[]()∼ˋ>#+-=|{}.!<>&"), "{body}");
    for sent in &bill {
        // The only formatting is the bold heading of the first message: one pair of stars.
        let stars = sent.text.matches('*').count();
        assert!(stars == 0 || (stars == 2 && sent.text.starts_with('*')), "{}", sent.text);
        assert!(!sent.text.contains(['_', '~', '`']), "{}", sent.text);
    }
    bot.assert_nothing_rejected();
    bot.stop().await;
}

#[tokio::test]
async fn long_lists_page_within_ten_rows_and_the_agent_sees_the_merchant_history() {
    let mut bot = Running::start().await;
    let agent = WaUser::phone(AGENT);
    bot.say(&agent, "menu").await;
    let menu = bot.say(&agent, "menu").await;
    let last = menu.last().unwrap();
    assert_eq!(last.kind, "list", "six choices do not fit three buttons: {last:#?}");
    assert!(titles(&menu).iter().any(|t| t.contains("Historique")), "{:?}", titles(&menu));
    let history = bot.press(&agent, "Historique").await;
    assert!(text(&history).contains("Transactions du marchand"), "{}", text(&history));
    let list = history.last().unwrap();
    assert!(list.choices.len() <= 10, "{list:#?}");
    assert!(list.choices.iter().any(|(_, t)| t.contains("Plus anciennes")), "{list:#?}");
    let older = bot.press(&agent, "Plus anciennes").await;
    assert!(text(&older).contains("page 2"), "{}", text(&older));
    // A customer is told the history is for agents.
    let awa = WaUser::phone(AWA);
    bot.say(&awa, "menu").await;
    let refused = bot.say(&awa, "/history").await;
    assert!(text(&refused).contains("réservé aux agents"), "{}", text(&refused));
    bot.assert_nothing_rejected();
    bot.stop().await;
}

#[tokio::test]
async fn a_user_known_only_by_a_business_scoped_id_is_answered_by_that_id_and_keeps_one_chat() {
    let mut bot = Running::start().await;
    let scoped = WaUser::bsuid_only("SN.1502576394655843");
    let greeting = bot.say(&scoped, "menu").await;
    assert_eq!(greeting[0].to, "SN.1502576394655843");
    assert_eq!(greeting[0].raw["recipient"], "SN.1502576394655843", "addressed by recipient, not to");
    assert!(greeting[0].text.starts_with("*Bonjour"), "SN: French");
    bot.say(&scoped, "facture").await;
    bot.press(&scoped, "Woyofal").await;
    // The same user, now with their phone number too: the dialogue continues.
    let both = WaUser::both(AWA, "SN.1502576394655843");
    let before = bot.fake.messages_to("SN.1502576394655843").len();
    bot.fake.user_says(&both, refs::METER).await;
    let meter = bot.answer(&scoped, before).await;
    assert!(text(&meter).contains(refs::METER), "{}", text(&meter));
    bot.assert_nothing_rejected();
    bot.stop().await;
}

#[tokio::test]
async fn a_dialogue_goes_on_after_a_restart_and_a_message_received_before_a_crash_is_answered() {
    let fake = FakeWhatsApp::start().await;
    let mut bot = Running::start_with(fake.clone(), tempfile::tempdir().unwrap(), |_| {}).await;
    let awa = WaUser::phone(AWA);
    bot.say(&awa, "facture").await;
    bot.press(&awa, "Woyofal").await;
    bot.stop().await;
    // A message recorded as received but not yet handled, as a crash right after the webhook's
    // 200 would leave it.
    let dir = bot.into_dir();
    {
        let store = Store::open(dir.path()).unwrap();
        let input = billbot::conversation::Input::from_text(refs::METER);
        let now = chrono::Utc::now();
        let mut inbound = Inbound::new("wamid.crash.1", ChatKey::whatsapp(AWA), now.timestamp(), input);
        inbound.lang_code = Some("fr".into());
        inbound.sent_at = Some(now);
        assert!(store.inbox_take(&inbound.id, &inbound.chat, inbound.order, &inbound, now).await.unwrap());
    }
    let before = fake.messages_to(&awa.key()).len();
    let mut again = Running::start_with(fake.clone(), dir, |_| {}).await;
    let meter = again.answer(&awa, before).await;
    assert!(text(&meter).contains(refs::METER), "the Woyofal step resumed: {}", text(&meter));
    assert!(again.store.inbox_pending::<Inbound>("wamid.").await.unwrap().is_empty());
    // Only the read receipt of the made-up message id was refused (WhatsApp never sent it).
    let refused: Vec<_> =
        again.fake.rejected().into_iter().filter(|(body, _)| body.get("type").is_some()).collect();
    assert!(refused.is_empty(), "{refused:#?}");
    again.stop().await;
}

#[tokio::test]
async fn graph_errors_are_retried_when_worth_it_and_never_looped_when_not() {
    let mut bot = Running::start().await;
    let awa = WaUser::phone(AWA);
    bot.say(&awa, "menu").await;
    for code in [131056u64, 130429] {
        bot.fake.force_error(400, code);
        let answer = bot.say(&awa, "aide").await;
        assert!(text(&answer).contains("Voici ce que je sais faire"), "sent after {code}");
    }
    bot.fake.force_error(429, 4);
    bot.fake.force_error(500, 131000);
    assert!(text(&bot.say(&awa, "aide").await).contains("Voici"), "sent after a 429 and a 500");
    // A refused token or a closed window: one call, no retry, and the next message goes out.
    for (status, code) in [(401u16, 190u64), (400, 131047), (400, 131026)] {
        let calls = bot.fake.calls().iter().filter(|c| c.body.get("type").is_some()).count();
        bot.fake.force_error(status, code);
        bot.fake.user_says(&awa, "aide").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = bot.fake.calls().iter().filter(|c| c.body.get("type").is_some()).count();
        assert_eq!(after - calls, 1, "code {code}: tried once, the reply's other messages not sent");
        assert!(text(&bot.say(&awa, "aide").await).contains("Voici"), "after {code}");
    }
    let tokens = bot.fake.calls();
    assert!(
        tokens.iter().all(|c| c.authorization.as_deref() == Some(&format!("Bearer {}", graphapi::TOKEN)))
    );
    bot.stop().await;
}

#[tokio::test]
async fn order_news_inside_the_window_is_a_message_outside_it_a_template_or_kept_for_later() {
    use billbot::tracking::TrackerConfig;
    let fast = |s: &mut Settings| {
        s.tracking.tracker = TrackerConfig {
            min_interval: Duration::from_millis(200),
            max_interval: Duration::from_secs(1),
            tick: Duration::from_millis(50),
            ..TrackerConfig::default()
        };
    };
    // Inside the window: the receipt comes as a message.
    let mut bot = Running::start_with(FakeWhatsApp::start().await, tempfile::tempdir().unwrap(), fast).await;
    let awa = WaUser::phone(AWA);
    bot.say(&awa, "menu").await;
    bot.say(&awa, &format!("statut {}", orders::DELIVERED_LATER)).await;
    let started = bot.press(&awa, "Me prévenir").await;
    assert!(text(&started).contains("Je vous préviendrai"), "{}", text(&started));
    let news = bot
        .fake
        .wait_until(&awa.key(), "the receipt", |m| m.iter().any(|s| s.text.contains("Du nouveau")))
        .await;
    let receipt = news.iter().find(|s| s.text.contains("Du nouveau")).unwrap();
    assert!(receipt.text.contains("5555 6666 7777 8888 9999"), "{}", receipt.text);
    bot.assert_nothing_rejected();
    bot.stop().await;

    // Outside the window, with a template: the template, in the user's language.
    let fake = FakeWhatsApp::start().await;
    fake.approve_template("order_update");
    let with_template = |s: &mut Settings| {
        fast(s);
        s.whatsapp.as_mut().unwrap().notify_template = Some("order_update".into());
    };
    let mut bot = Running::start_with(fake.clone(), tempfile::tempdir().unwrap(), with_template).await;
    bot.say(&awa, "menu").await;
    bot.say(&awa, &format!("statut {}", orders::DELIVERED_LATER)).await;
    bot.press(&awa, "Me prévenir").await;
    close_window(&bot, &awa).await;
    let sent = fake.wait_until(&awa.key(), "the template", |m| m.iter().any(|s| s.kind == "template")).await;
    let template = sent.iter().find(|s| s.kind == "template").unwrap().template.clone().unwrap();
    assert_eq!(template.0, "order_update");
    assert_eq!(template.1, "fr");
    assert_eq!(template.2, vec![format!("GB - {}", orders::DELIVERED_LATER), "✅ livrée".to_owned()]);
    assert!(!sent.iter().any(|s| s.text.contains("Du nouveau")), "no free-form message outside the window");
    bot.assert_nothing_rejected();
    bot.stop().await;

    // Outside the window, no template: nothing is sent; the news waits for the user's next message.
    let fake = FakeWhatsApp::start().await;
    let mut bot = Running::start_with(fake.clone(), tempfile::tempdir().unwrap(), fast).await;
    bot.say(&awa, "menu").await;
    bot.say(&awa, &format!("statut {}", orders::DELIVERED_LATER)).await;
    bot.press(&awa, "Me prévenir").await;
    let count = fake.messages_to(&awa.key()).len();
    close_window(&bot, &awa).await;
    let order = billbot::domain::OrderNo::parse(orders::DELIVERED_LATER).unwrap();
    for _ in 0..100 {
        if bot.store.watch(&order).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(bot.store.watch(&order).await.unwrap().is_none(), "the order was delivered and the watch ended");
    assert_eq!(fake.messages_to(&awa.key()).len(), count, "nothing sent outside the window");
    assert!(fake.rejected().is_empty(), "and nothing tried: {:#?}", fake.rejected());
    let back = bot.say(&awa, "menu").await;
    assert!(back[0].text.contains("Du nouveau") && back[0].text.contains("5555 6666"), "{}", text(&back));
    assert!(text(&back).contains("Menu principal"), "then the answer: {}", text(&back));
    let again = bot.say(&awa, "menu").await;
    assert!(!text(&again).contains("Du nouveau"), "given once");
    bot.stop().await;
}

/// Moves the user's last message 25 hours back, for the bot and for WhatsApp.
async fn close_window(bot: &Running, user: &WaUser) {
    let chat = ChatKey::whatsapp(user.key());
    let mut prefs = bot.store.prefs(&chat).await.unwrap();
    prefs.last_inbound_at = Some(chrono::Utc::now() - chrono::Duration::hours(25));
    bot.store.commit(billbot::store::Op::Prefs { chat, prefs }).await.unwrap();
    bot.fake.age_window(&user.key(), 25);
}

#[test]
fn serve_names_what_to_set_when_no_channel_or_a_companion_is_missing() {
    let none = Settings::for_serve_from(|_| None).unwrap_err().to_string();
    assert!(none.contains("TELOXIDE_TOKEN") && none.contains("BILLBOT_WHATSAPP_TOKEN"), "{none}");
    let partial = Settings::for_serve_from(|name| match name {
        "BILLBOT_WHATSAPP_TOKEN" => Some("t".into()),
        "BILLBOT_WHATSAPP_APP_SECRET" => Some("s".into()),
        _ => None,
    })
    .unwrap_err()
    .to_string();
    assert!(
        partial.contains("BILLBOT_WHATSAPP_PHONE_NUMBER_ID")
            && partial.contains("BILLBOT_WHATSAPP_VERIFY_TOKEN"),
        "{partial}"
    );
    assert!(!partial.contains("BILLBOT_WHATSAPP_APP_SECRET,"), "only the missing ones: {partial}");
    let both = Settings::for_serve_from(|name| match name {
        "TELOXIDE_TOKEN" => Some("1:x".into()),
        "BILLBOT_WHATSAPP_TOKEN" => Some("t".into()),
        "BILLBOT_WHATSAPP_PHONE_NUMBER_ID" => Some("123".into()),
        "BILLBOT_WHATSAPP_APP_SECRET" => Some("s".into()),
        "BILLBOT_WHATSAPP_VERIFY_TOKEN" => Some("verify-me-0123456789".into()),
        "BILLBOT_SANDBOX" => Some("1".into()),
        _ => None,
    })
    .unwrap();
    assert!(both.telegram.is_some() && both.whatsapp.is_some());
    let wa = both.whatsapp.unwrap();
    assert_eq!(wa.api_url.as_str(), "https://graph.facebook.com/v23.0");
    assert_eq!(wa.listen.to_string(), "127.0.0.1:8444");
}

#[tokio::test]
async fn sends_are_paced_to_the_numbers_rate_and_to_about_one_every_6_s_per_user_after_a_burst() {
    use billbot::channels::whatsapp::GraphClient;
    use billbot::channels::whatsapp::render::Outgoing;
    use billbot::i18n::Lang;
    let fake = FakeWhatsApp::start().await;
    fake.approve_template("order_update"); // templates need no open window
    let template =
        Outgoing::Template { name: "order_update".into(), lang: Lang::Fr, params: vec!["x".into()] };
    let mut settings = whatsapp_settings(&fake, "127.0.0.1:0".parse().unwrap());
    settings.messages_per_sec = 5;
    let per_number = GraphClient::new(&settings).unwrap();
    settings.messages_per_sec = 1_000;
    settings.user_burst = 2;
    let per_user = GraphClient::new(&settings).unwrap();
    let started = std::time::Instant::now();
    let many_users = async {
        for i in 0..10 {
            per_number.send(&format!("2217700000{i:02}"), &template).await.unwrap();
        }
        started.elapsed()
    };
    let one_user = async {
        let mut times = Vec::new();
        for _ in 0..3 {
            per_user.send(AWA, &template).await.unwrap();
            times.push(started.elapsed());
        }
        times
    };
    let (ten, three) = tokio::join!(many_users, one_user);
    // 5 a second, bursts of 5: the last five wait 200 ms each.
    assert!(ten >= Duration::from_millis(900), "{ten:?}");
    // Two at once, then the pace of the pair rate limit.
    assert!(three[1] < Duration::from_secs(2), "{three:?}");
    assert!(three[2] >= Duration::from_millis(5_500), "{three:?}");
    assert_eq!(fake.messages_to(AWA).len(), 3);
}

#[tokio::test]
async fn on_postgresql_the_same_dialogue_goes_on_across_a_restart_and_a_redelivery_is_recognized() {
    let Some(schema) = common::pg::schema("whatsapp on postgresql").await else { return };
    let on_postgres = |s: &mut Settings| {
        s.database =
            Some(billbot::config::DatabaseSettings { url: schema.url().into(), pool: Default::default() });
    };
    let fake = FakeWhatsApp::start().await;
    let mut bot = Running::start_with(fake.clone(), tempfile::tempdir().unwrap(), on_postgres).await;
    let awa = WaUser::phone(AWA);
    let first = FakeWhatsApp::message_payload(&[(
        &awa,
        json!({
            "id": "wamid.pg.1", "type": "text", "text": {"body": "facture"}
        }),
    )]);
    assert_eq!(fake.deliver(&first).await, 200);
    fake.wait_until(&awa.key(), "the biller choice", |m| m.iter().any(|s| s.text.contains("Quel facturier")))
        .await;
    bot.press(&awa, "Senelec").await;
    bot.stop().await;
    let dir = bot.into_dir();
    let mut again = Running::start_with(fake.clone(), dir, on_postgres).await;
    let count = fake.messages_to(&awa.key()).len();
    assert_eq!(fake.deliver(&first).await, 200, "a redelivery after the restart");
    let bills = again.say(&awa, refs::SEVERAL_BILLS).await;
    assert!(text(&bills).contains("Facture 3 sur 3"), "the Senelec step resumed: {}", text(&bills));
    assert!(!fake.messages_to(&awa.key())[count..].iter().any(|s| s.text.contains("Quel facturier")));
    let chat = ChatKey::whatsapp(AWA);
    assert_eq!(again.store.activity(&chat).await.unwrap().len(), 1, "the lookup is in PostgreSQL");
    assert!(again.store.postgres().is_some());
    again.assert_nothing_rejected();
    again.stop().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut bot = Running::start().await;
    let address = bot.webhook.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"POST /whatsapp/webhook HTTP/1.1\r\nHost: bot\r\nX-Hub-Signature-256: sha256=00")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 256];
    // The server closes (or answers 408 and closes) once the header timeout passes.
    let read = tokio::time::timeout(Duration::from_secs(20), slow.read(&mut buf)).await;
    let waited = started.elapsed();
    assert!(read.is_ok(), "the connection was still open after 20 s");
    assert!(waited >= Duration::from_secs(9), "cut off after the header timeout, not before: {waited:?}");
    bot.stop().await;
}

#[tokio::test]
async fn a_flooding_user_is_told_once_to_slow_down_and_the_extra_messages_are_dropped() {
    let mut bot = Running::start().await;
    let awa = WaUser::phone(AWA);
    bot.say(&awa, "menu").await; // the first contact
    let before = bot.fake.messages_to(&awa.key()).len();
    bot.fake.user_says(&awa, &format!("statut {}", orders::SLOW)).await;
    // Its step has started (and waits for the slow provider, 600 ms) before the flood.
    tokio::time::sleep(Duration::from_millis(150)).await;
    for _ in 0..10 {
        bot.fake.user_says(&awa, "aide").await;
    }
    let count = |m: &[Sent], what: &str| m[before..].iter().filter(|s| s.text.contains(what)).count();
    bot.fake
        .wait_until(&awa.key(), "answered the five that waited", |m| {
            count(m, "Voici ce que je sais faire") >= 5 && count(m, "ne répond pas") >= 1
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = bot.fake.messages_to(&awa.key());
    assert_eq!(count(&sent, "plus vite que je ne peux répondre"), 1, "{sent:#?}");
    assert_eq!(count(&sent, "Voici ce que je sais faire"), 5, "the dropped ones get no answer");
    bot.stop().await;
    let pending: Vec<(String, serde_json::Value)> = bot.store.inbox_pending("wamid.").await.unwrap();
    assert!(pending.is_empty(), "nothing is left to take up after a restart: {pending:?}");
}

/// A reminder put in the outbox for `user`, as the reminder job records it.
async fn remind(bot: &Running, user: &WaUser, stage: &str) -> String {
    use billbot::domain::{Biller, Currency, CustomerReference, Money};
    let chat = ChatKey::whatsapp(user.key());
    let reference = CustomerReference::parse(Biller::Senelec, refs::SEVERAL_BILLS).unwrap();
    let due_day = chrono::NaiveDate::from_ymd_opt(2026, 12, 15).unwrap();
    let notice = billbot::outbox::Notice::Reminder {
        reference: reference.clone(),
        due_day,
        days_left: 3,
        amount: Some(Money::new(rust_decimal::Decimal::from(64_050), Currency::Xof)),
    };
    let id = format!("{}|reminder|senelec:1000000002|2026-12-15|{stage}", chat.storage_key());
    let now = chrono::Utc::now();
    let outgoing = billbot::store::Outgoing {
        id: id.clone(),
        chat: chat.clone(),
        lang: billbot::i18n::Lang::Fr,
        notice: serde_json::to_value(&notice).unwrap(),
        attempts: 0,
        next_at: Some(now),
        created_at: now,
        done_at: None,
        claimed_by: None,
    };
    let update = move |_| (None, vec![outgoing.clone()]);
    bot.store
        .commit(billbot::store::Op::ReminderStep { chat, reference, update: Box::new(update) })
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn a_reminder_inside_the_window_is_a_message_outside_it_its_template_or_nothing() {
    use billbot::tracking::TrackerConfig;
    let fast = |s: &mut Settings| {
        s.tracking.tracker = TrackerConfig { tick: Duration::from_millis(50), ..TrackerConfig::default() };
    };
    let awa = WaUser::phone(AWA);
    // Inside the window: the reminder as a message, with its buttons.
    let mut bot = Running::start_with(FakeWhatsApp::start().await, tempfile::tempdir().unwrap(), fast).await;
    bot.say(&awa, "menu").await;
    remind(&bot, &awa, "before").await;
    let sent = bot
        .fake
        .wait_until(&awa.key(), "the reminder", |m| m.iter().any(|s| s.text.contains("Rappel")))
        .await;
    let reminder = sent.iter().find(|s| s.text.contains("Rappel")).unwrap();
    assert!(reminder.text.contains("Montant à payer : 64\u{a0}050 FCFA."), "{}", reminder.text);
    // The notice's buttons are signed for its chat like any reply's: "see the bill" works there,
    // and nowhere else.
    let (id, _) = reminder.choices.iter().find(|(_, t)| t.contains("Voir la facture")).unwrap().clone();
    assert!(id.starts_with("v2:q:senelec:1000000002:"), "{id}");
    let bill = bot.press(&awa, "Voir la facture").await;
    assert!(text(&bill).contains("à payer"), "{}", text(&bill));
    let john = WaUser::phone(JOHN);
    bot.say(&john, "menu").await;
    let before = bot.fake.messages_to(&john.key()).len();
    let reply = json!({"type": "button_reply", "button_reply": {"id": id, "title": "Voir la facture"}});
    bot.fake.user_sends(&john, "interactive", json!({"interactive": reply})).await;
    let refused = bot.answer(&john, before).await;
    assert!(text(&refused).contains("expired") || text(&refused).contains("expiré"), "{}", text(&refused));
    bot.assert_nothing_rejected();
    bot.stop().await;

    // Outside the window, with the reminder template: the template, in the user's language.
    let fake = FakeWhatsApp::start().await;
    fake.approve_template("bill_reminder");
    let with_template = |s: &mut Settings| {
        fast(s);
        s.whatsapp.as_mut().unwrap().reminder_template = Some("bill_reminder".into());
    };
    let mut bot = Running::start_with(fake.clone(), tempfile::tempdir().unwrap(), with_template).await;
    bot.say(&awa, "menu").await;
    close_window(&bot, &awa).await;
    remind(&bot, &awa, "before").await;
    let sent = fake.wait_until(&awa.key(), "the template", |m| m.iter().any(|s| s.kind == "template")).await;
    let template = sent.iter().find(|s| s.kind == "template").unwrap().template.clone().unwrap();
    assert_eq!((template.0.as_str(), template.1.as_str()), ("bill_reminder", "fr"));
    assert_eq!(template.2, ["Senelec", "1000000002", "64\u{a0}050 FCFA", "15 déc. 2026"]);
    assert!(!sent.iter().any(|s| s.text.contains("Rappel")), "no free-form message outside the window");
    bot.assert_nothing_rejected();
    bot.stop().await;

    // Outside the window, no reminder template: not sent, and not kept for later either (a
    // reminder given days late would be wrong).
    let fake = FakeWhatsApp::start().await;
    let mut bot = Running::start_with(fake.clone(), tempfile::tempdir().unwrap(), fast).await;
    bot.say(&awa, "menu").await;
    let count = fake.messages_to(&awa.key()).len();
    close_window(&bot, &awa).await;
    let id = remind(&bot, &awa, "on_the_day").await;
    for _ in 0..100 {
        if bot.store.outgoing(&id).await.unwrap().is_some_and(|o| o.done_at.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(bot.store.outgoing(&id).await.unwrap().unwrap().done_at.is_some(), "handled, once");
    assert_eq!(fake.messages_to(&awa.key()).len(), count, "nothing sent outside the window");
    assert!(fake.rejected().is_empty(), "and nothing tried: {:#?}", fake.rejected());
    let back = bot.say(&awa, "menu").await;
    assert!(!text(&back).contains("Rappel"), "not held for later: {}", text(&back));
    bot.stop().await;
}

#[tokio::test]
async fn a_customer_talks_to_support_on_a_whatsapp_number_through_the_graph_api() {
    use billbot::conversation::support::{Support, SupportHours};
    const DESK: &str = "221770000999";
    let with_support = |s: &mut Settings| {
        s.tracking.tracker.tick = Duration::from_millis(50);
        s.support = Some(Support {
            chat: ChatKey::whatsapp(DESK),
            lang: billbot::i18n::Lang::Fr,
            hours: SupportHours::parse("00:00-23:59", "mon-sun").unwrap(),
            show_agent: false,
            // The desk's own number answers: nobody else writes in its chat.
            agents: Default::default(),
        });
    };
    let mut bot =
        Running::start_with(FakeWhatsApp::start().await, tempfile::tempdir().unwrap(), with_support).await;
    let (awa, desk) = (WaUser::phone(AWA), WaUser::phone(DESK));
    // The desk has written within 24 hours: tickets reach it as messages.
    bot.say(&desk, "bonjour").await;
    bot.say(&awa, "menu").await;
    bot.press(&awa, "Français").await;
    let ask = bot.press(&awa, "Parler à un agent").await;
    assert!(text(&ask).contains("Écrivez votre question"), "{}", text(&ask));
    let opened = bot.say(&awa, "Mon compteur Woyofal est bloqué").await;
    let opened = text(&opened);
    assert!(opened.contains("✅ Transmis à notre service client"), "{opened}");
    let id: String = opened.split("demande ").nth(1).unwrap().chars().take(5).collect();
    let tickets = bot.fake.wait_until(DESK, "the ticket", |m| m.iter().any(|s| s.text.contains('🎫'))).await;
    let ticket = tickets.iter().find(|s| s.text.contains('🎫')).unwrap();
    assert!(
        ticket.text.contains("Mon compteur Woyofal est bloqué")
            && ticket.text.contains("(WhatsApp, Français)")
    );
    assert!(!ticket.text.contains(AWA), "no phone number for agents: {}", ticket.text);
    let sent = bot.say(&desk, &format!("/reply {id} Nous le débloquons.")).await;
    assert!(text(&sent).contains(&format!("Transmis au client de {id}")), "{}", text(&sent));
    let answers =
        bot.fake.wait_until(AWA, "the answer", |m| m.iter().any(|s| s.text.contains("Service client"))).await;
    let answer = answers.iter().find(|s| s.text.contains("Service client")).unwrap();
    assert!(answer.text.contains("Nous le débloquons."), "{}", answer.text);
    bot.assert_nothing_rejected();
    bot.stop().await;
}
