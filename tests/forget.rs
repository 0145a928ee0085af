//! User rights and retention: `/forget` (with confirmation, in both languages), the cap on saved
//! numbers, the retention settings. What the store erases and sweeps is in `store_contract.rs`.

mod common;

use billbot::config::Retention;
use billbot::conversation::{Role, State};
use billbot::domain::{Biller, CustomerReference};
use billbot::sandbox::fixtures::{orders, refs};
use billbot::store::Op;
use common::chat::Harness;

#[tokio::test]
async fn forget_asks_first_then_erases_everything_about_the_chat_in_french() {
    let h = Harness::new().await;
    let mut c = h.chat("oubli", "fr", Role::Customer);
    let store = h.bot.store().clone();
    c.say("/lang fr").await;
    c.say("/bill").await;
    c.press("Senelec").await;
    assert!(c.say(refs::ONE_BILL).await.contains("FCFA"));
    c.press("Garder ce numéro").await;
    c.press("Passer").await;
    assert!(c.say(&format!("/status {}", orders::PENDING)).await.contains("en cours"));
    assert_eq!(store.saved_references(&c.key).await.unwrap().len(), 1);
    assert!(!store.activity(&c.key).await.unwrap().is_empty());

    let asked = c.say("oublier").await;
    assert!(asked.contains("Effacer tout ce que je garde"), "{asked}");
    assert!(c.has_button("Oui, tout effacer") && c.has_button("Non, garder"), "{:?}", c.labels());
    assert_eq!(store.saved_references(&c.key).await.unwrap().len(), 1, "nothing erased before the yes");
    let done = c.press("Oui, tout effacer").await;
    assert!(done.contains("je ne garde plus rien"), "{done}");
    assert!(store.saved_references(&c.key).await.unwrap().is_empty());
    assert!(store.activity(&c.key).await.unwrap().is_empty());
    assert_eq!(store.prefs(&c.key).await.unwrap().lang, None, "the language choice too");
    let record =
        store.order(&billbot::domain::OrderNo::parse(orders::PENDING).unwrap()).await.unwrap().unwrap();
    assert!(!record.owners.contains(&c.key), "no longer an owner of the order it looked up");
    assert_eq!(store.dialogue::<State>(&c.key).await.unwrap(), Some(State::Menu), "at the menu");
}

#[tokio::test]
async fn no_keeps_everything_and_an_old_yes_button_asks_again() {
    let h = Harness::new().await;
    let mut c = h.chat("keep", "en", Role::Customer);
    let store = h.bot.store().clone();
    let reference = CustomerReference::parse(Biller::Senelec, refs::ONE_BILL).unwrap();
    let at = chrono::Utc::now();
    store.commit(Op::SaveReference { chat: c.key.clone(), reference, nickname: None, at }).await.unwrap();
    c.say("/forget").await;
    let yes = c.last[0].buttons().find(|b| b.label.contains("Yes, erase all")).unwrap().payload.clone();
    let kept = c.press("Keep it").await;
    assert!(kept.contains("What would you like to do"), "{kept}");
    // The yes of that question, pressed later: asked again, nothing erased.
    let again = c.press_payload(&yes).await;
    assert!(again.contains("Erase everything I keep about this chat?"), "{again}");
    assert_eq!(store.saved_references(&c.key).await.unwrap().len(), 1);
    // Typing something else instead of answering keeps everything, and is answered.
    let typed = c.say(&format!("/status {}", orders::PENDING)).await;
    assert!(typed.contains("pending"), "{typed}");
    c.say("/forget").await;
    let typed = c.say("why?").await;
    assert!(typed.contains("Nothing was erased"), "{typed}");
    assert_eq!(store.saved_references(&c.key).await.unwrap().len(), 1);
}

#[tokio::test]
async fn erasing_does_not_lift_the_lookup_limits() {
    let h = Harness::new().await;
    let mut c = h.chat("limited", "en", Role::Customer);
    for _ in 0..10 {
        assert!(c.say(&format!("/status {}", orders::PENDING)).await.contains("pending"));
    }
    c.say("/forget").await;
    c.press("Yes, erase all").await;
    let refused = c.say(&format!("/status {}", orders::PENDING)).await;
    assert!(refused.contains("Please wait"), "{refused}");
}

#[tokio::test]
async fn a_chat_erases_itself_at_most_3_times_a_day_in_both_languages() {
    let h = Harness::new().await;
    let mut c = h.chat("eraser", "en", Role::Customer);
    for _ in 0..billbot::conversation::FORGETS_PER_DAY {
        c.say("/forget").await;
        assert!(c.press("Yes, erase all").await.contains("I no longer keep anything"));
    }
    let refused = c.say("/forget").await;
    assert!(refused.contains("You have erased this chat 3 times today"), "{refused}");
    assert!(refused.contains("in 24 hours"), "{refused}");
    assert!(!c.has_button("Yes, erase all"), "{:?}", c.labels());
    // The limit outlives the erasures it counts, and holds in French too.
    c.say("/lang fr").await;
    let refused = c.say("oublier").await;
    assert!(refused.contains("Vous avez effacé cette discussion 3 fois aujourd'hui"), "{refused}");
    let prefs = h.bot.store().prefs(&c.key).await.unwrap();
    assert_eq!(prefs.lookups.forgets.len(), 3);
}

#[tokio::test]
async fn a_yes_pressed_after_the_days_erasures_are_used_up_erases_nothing() {
    let h = Harness::new().await;
    let mut c = h.chat("late-yes", "en", Role::Customer);
    let store = h.bot.store().clone();
    c.say("/forget").await;
    let yes = c.last[0].buttons().find(|b| b.label.contains("Yes, erase all")).unwrap().payload.clone();
    // Three erasures in between, from another device of the same chat.
    for _ in 0..3 {
        c.say("/forget").await;
        c.press("Yes, erase all").await;
    }
    let reference = CustomerReference::parse(Biller::Senelec, refs::ONE_BILL).unwrap();
    let at = chrono::Utc::now();
    store.commit(Op::SaveReference { chat: c.key.clone(), reference, nickname: None, at }).await.unwrap();
    let refused = c.press_payload(&yes).await;
    assert!(refused.contains("3 times today"), "{refused}");
    assert_eq!(store.saved_references(&c.key).await.unwrap().len(), 1, "nothing erased");
}

#[tokio::test]
async fn a_chat_keeps_at_most_10_saved_numbers_and_is_told_how_to_make_room() {
    let h = Harness::new().await;
    let mut c = h.chat("collector", "en", Role::Customer);
    let store = h.bot.store().clone();
    let at = chrono::Utc::now();
    for n in 0..10 {
        let reference = CustomerReference::parse(Biller::Senelec, &format!("1{n:010}")).unwrap();
        store.commit(Op::SaveReference { chat: c.key.clone(), reference, nickname: None, at }).await.unwrap();
    }
    c.say("/bill").await;
    c.press("Senelec").await;
    assert!(c.say(refs::ONE_BILL).await.contains("FCFA"));
    let full = c.press("Save this number").await;
    assert!(full.contains("You already have 10 saved numbers"), "{full}");
    assert!(c.has_button("Manage saved numbers"), "{:?}", c.labels());
    assert_eq!(store.saved_references(&c.key).await.unwrap().len(), 10);
}

#[test]
fn retention_periods_are_configurable_in_days() {
    let from = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Retention::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    };
    let day = std::time::Duration::from_secs(86_400);
    assert_eq!(from(&[]).unwrap(), Retention { orders: day * 180, idle_dialogue: day * 30 });
    let set = from(&[("BILLBOT_KEEP_ORDERS_DAYS", "90"), ("BILLBOT_KEEP_IDLE_DIALOGUE_DAYS", "7")]).unwrap();
    assert_eq!(set, Retention { orders: day * 90, idle_dialogue: day * 7 });
    for var in ["BILLBOT_KEEP_ORDERS_DAYS", "BILLBOT_KEEP_IDLE_DIALOGUE_DAYS"] {
        for bad in ["0", "soon"] {
            let e = from(&[(var, bad)]).unwrap_err().to_string();
            assert!(e.contains(var), "{e}");
        }
    }
}
