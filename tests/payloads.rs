//! Button payloads are the user's to forge: Telegram lets a client send any callback data, and
//! WhatsApp hands reply ids back as they were sent. A payload that carries data is signed for the
//! chat it was sent to; a reminder is set only for a bill the chat was shown, due within 90 days;
//! anything else gets "this menu has expired", and no bill is ever looked up for it.

mod common;

use std::sync::Arc;

use billbot::conversation::payload::MAX_PAYLOAD_BYTES;
use billbot::conversation::{Action, Bot, Capabilities, ChatKey, PayloadKey, PayloadKeys, Role};
use billbot::domain::{Biller, CustomerReference};
use billbot::reminders::Reminders;
use billbot::sandbox::fixtures::refs;
use billbot::store::{Op, Store};
use chrono::{Duration, NaiveDate, NaiveTime, Utc};
use common::chat::{Chat, Harness};
use common::{reference, sandbox_clients};

const EXPIRED: &str = "This menu has expired";

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn remind(reference: &CustomerReference, due_day: NaiveDate) -> Action {
    Action::Remind { reference: reference.clone(), due_day, days: 3 }
}

/// The payload of the button labelled like `label` in the chat's last replies.
fn payload_of(chat: &Chat, label: &str) -> String {
    let button = chat.last.iter().flat_map(|r| r.buttons()).find(|b| b.label.contains(label));
    button.unwrap_or_else(|| panic!("no {label:?} in {:?}", chat.labels())).payload.clone()
}

/// Presses `payload` and checks that it expired and changed nothing: no provider call (now, or
/// later from the reminder job at every hour a reminder could speak), no reminder, no saved number.
async fn refused(h: &Harness, c: &mut Chat, payload: &str) {
    let calls = h.sandbox.inquiry_calls();
    let text = c.press_payload(payload).await;
    assert!(text.starts_with(EXPIRED), "{payload:?} was taken: {text}");
    let store = h.bot.store();
    assert!(store.reminders(&c.key).await.unwrap().is_empty(), "{payload:?} set a reminder");
    assert!(store.saved_references(&c.key).await.unwrap().is_empty(), "{payload:?} saved a number");
    let (inquiry, _) = sandbox_clients(&h.sandbox);
    let job = Arc::new(Reminders::new(store.clone(), inquiry));
    for days in [0, 3, 9, 730] {
        let at = (today() + Duration::days(days)).and_time(NaiveTime::MIN).and_utc() + Duration::hours(9);
        assert_eq!(job.run_due(at, 100).await.unwrap(), 0, "a reminder is due {days} days on");
    }
    assert_eq!(h.sandbox.inquiry_calls(), calls, "{payload:?} made a provider call");
}

#[tokio::test]
async fn a_forged_reminder_button_is_expired_and_no_bill_is_ever_looked_up_for_it() {
    let h = Harness::new().await;
    let mut c = h.chat("forger", "en", Role::Customer);
    let victim = reference(Biller::Senelec, refs::SEVERAL_BILLS);
    let due = today() + Duration::days(9);
    let unsigned = remind(&victim, due).encode();
    assert!(unsigned.starts_with("v2:rm:senelec:1000000002:"), "{unsigned}");
    let other_chat = h.bot.payload(&ChatKey::terminal("someone"), &remind(&victim, due)).await.unwrap();
    for payload in [
        // Well formed, without its tag, with a wrong one, with another chat's, as before signing.
        unsigned.clone(),
        format!("{unsigned}:0000000000000000"),
        other_chat,
        unsigned.replacen("v2:", "v1:", 1),
        // Signed for this chat, as the key's holder would: still a bill it never looked up.
        h.bot.payload(&c.key, &remind(&victim, due)).await.unwrap(),
        h.bot.payload(&c.key, &remind(&victim, today() + Duration::days(730))).await.unwrap(),
    ] {
        refused(&h, &mut c, &payload).await;
    }

    // Once the chat looked up another bill: that bill's due day only.
    c.say("/bill").await;
    c.press("Senelec").await;
    c.say(refs::ONE_BILL).await;
    let genuine = payload_of(&c, "Remind me");
    let own = reference(Biller::Senelec, refs::ONE_BILL);
    // `v2:rm:senelec:<reference>:<yyyymmdd>:<days>:<tag>`: the due day the chat was shown.
    let shown = genuine.split(':').nth(4).unwrap_or_default();
    let due_day = NaiveDate::parse_from_str(shown, "%Y%m%d").unwrap();
    for forged in [remind(&victim, due), remind(&own, due_day + Duration::days(1))] {
        let payload = h.bot.payload(&c.key, &forged).await.unwrap();
        refused(&h, &mut c, &payload).await;
    }
    // A bill it was shown, due too far ahead (no provider gives one: written here).
    let mut prefs = h.bot.store().prefs(&c.key).await.unwrap();
    let far = today() + Duration::days(91);
    prefs.seen_bills.record(&victim, far, today());
    h.bot.store().commit(Op::Prefs { chat: c.key.clone(), prefs }).await.unwrap();
    let payload = h.bot.payload(&c.key, &remind(&victim, far)).await.unwrap();
    refused(&h, &mut c, &payload).await;

    // The genuine button works, and sets the reminder it shows.
    let set = c.press_payload(&genuine).await;
    assert!(set.contains("I will remind you"), "{set}");
    let stored = h.bot.store().reminders(&c.key).await.unwrap();
    assert_eq!((stored.len(), &stored[0].reference, stored[0].due_day), (1, &own, due_day));
}

/// A key no deployment has: nothing it signs opens with another's.
fn any_key() -> PayloadKey {
    PayloadKey::new(b"not the deployment's key")
}

#[tokio::test]
async fn a_button_replayed_in_another_chat_is_refused_and_its_own_chat_keeps_it() {
    let h = Harness::new().await;
    let mut awa = h.chat("awa", "en", Role::Customer);
    let mut mallory = h.chat("mallory", "en", Role::Customer);
    // Both looked the same bill up: only the signature tells their buttons apart.
    for c in [&mut awa, &mut mallory] {
        c.say("/bill").await;
        c.press("Senelec").await;
        c.say(refs::SEVERAL_BILLS).await;
    }
    let mallorys = payload_of(&mallory, "Remind me");
    let (remind, save, menu) =
        (payload_of(&awa, "Remind me"), payload_of(&awa, "Save"), payload_of(&awa, "Menu"));
    assert_ne!(remind, mallorys, "the same button differs from chat to chat");
    refused(&h, &mut mallory, &remind).await;
    refused(&h, &mut mallory, &save).await;
    // A button without data is the same for everyone.
    assert_eq!(menu, "v1:m");
    assert!(mallory.press_payload(&menu).await.contains("Main menu"), "{}", mallory.text());
    // Each chat's own buttons work.
    assert!(awa.press_payload(&remind).await.contains("I will remind you"), "{}", awa.text());
    assert!(mallory.press_payload(&mallorys).await.contains("I will remind you"), "{}", mallory.text());
    assert_eq!(h.bot.store().reminders(&mallory.key).await.unwrap().len(), 1);
}

#[test]
fn the_longest_payload_fits_every_channel_and_a_byte_changed_or_another_key_is_refused() {
    let key = PayloadKey::new(b"a deployment's key");
    let chat = ChatKey::telegram(-1_001_234_567_890);
    // A reminder of a 14-digit Senelec number: the longest payload there is.
    let longest =
        remind(&reference(Biller::Senelec, "12345678901234"), NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
    let payload = longest.sealed(&key, &chat);
    assert_eq!(payload.len(), MAX_PAYLOAD_BYTES, "{payload}");
    for caps in [Capabilities::TELEGRAM, Capabilities::WHATSAPP, Capabilities::TERMINAL] {
        assert!(payload.len() <= caps.max_payload_bytes);
    }
    assert_eq!(Action::open(&payload, &key, &chat), Some(longest));
    assert_eq!(Action::open(&payload, &any_key(), &chat), None, "another deployment's key");
    assert_eq!(Action::open(&payload, &key, &ChatKey::telegram(1)), None, "another chat");
    for i in 0..payload.len() {
        let mut bytes = payload.clone().into_bytes();
        bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
        let changed = String::from_utf8(bytes).unwrap();
        assert_eq!(Action::open(&changed, &key, &chat), None, "{changed:?}");
    }
    // Data-free payloads stay as they were before signing: old menus keep working.
    for action in [Action::Menu, Action::Orders(2), Action::Biller(Biller::Woyofal)] {
        assert!(!action.carries_data());
        let sealed = action.sealed(&key, &chat);
        assert!(sealed.starts_with("v1:"), "{sealed}");
        assert_eq!(Action::open(&sealed, &key, &ChatKey::whatsapp("221770000000")), Some(action));
    }
}

/// The tag `keys` give a payload in chat `tg:5`.
async fn tag(keys: PayloadKeys) -> String {
    keys.get().await.unwrap().tag(&ChatKey::telegram(5), "v2:q:senelec:1000000001")
}

#[tokio::test]
async fn the_payload_key_is_made_once_and_kept_by_the_store_across_restarts_and_bots() {
    let dir = tempfile::tempdir().unwrap();
    let chat = ChatKey::telegram(5);
    let first = {
        let store = Store::open(dir.path()).unwrap();
        let first = tag(PayloadKeys::new(store.clone())).await;
        // Another bot on the same store (another instance's handle) signs alike.
        assert_eq!(tag(PayloadKeys::new(store.clone())).await, first);
        let h = Harness::new().await;
        let (inquiry, status) = sandbox_clients(&h.sandbox);
        let bot = Bot::new(inquiry, status, store.clone());
        let payload =
            bot.payload(&chat, &Action::Inquire(reference(Biller::Senelec, refs::ONE_BILL))).await.unwrap();
        assert!(payload.ends_with(&first), "{payload} is not signed with the store's key");
        first
    };
    // A restart reads the same key back; another store has its own.
    assert_eq!(tag(PayloadKeys::new(Store::open(dir.path()).unwrap())).await, first);
    let elsewhere = tempfile::tempdir().unwrap();
    assert_ne!(tag(PayloadKeys::new(Store::open(elsewhere.path()).unwrap())).await, first);
}

#[tokio::test]
async fn on_postgresql_instances_starting_together_end_up_with_one_key() {
    let Some((store, schema)) = common::pg::store("payload_key").await else { return };
    let settings = billbot::store::postgres::PgSettings::default();
    let other = Store::connect_with(schema.options(), &settings).await.unwrap();
    // Each offers its own candidate at once: the first insert wins, both read it back.
    let (a, b) = tokio::join!(store.payload_key(&[1; 32]), other.payload_key(&[2; 32]));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert!(a == [1; 32] || a == [2; 32], "{a:?}");
    assert_eq!(store.payload_key(&[3; 32]).await.unwrap(), a, "kept for good");
    let chat = ChatKey::whatsapp("221770000001");
    let (ka, kb) = (PayloadKeys::new(store), PayloadKeys::new(other));
    let payload = "v2:hc:K7M2Q";
    assert_eq!(ka.get().await.unwrap().tag(&chat, payload), kb.get().await.unwrap().tag(&chat, payload));
}
