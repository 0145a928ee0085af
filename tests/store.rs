//! The sled store: what survives a reopen, and unreadable records skipped without a crash.

mod common;

use billbot::conversation::{Role, State};
use billbot::domain::{Biller, OrderNo, OrderStatus};
use billbot::i18n::Lang;
use billbot::sandbox::fixtures::{orders, refs};
use billbot::store::{ACTIVITY_LIMIT, ActivityItem, Store, StoreError};
use chrono::{Duration, Utc};
use common::chat::Harness;

#[tokio::test]
async fn state_language_and_orders_survive_reopening_the_store() {
    let h = Harness::new().await;
    let mut c = h.chat("reopen", "en", Role::Customer);
    c.say("/lang fr").await;
    c.say(&format!("/status {}", orders::PENDING)).await;
    c.say("/bill").await;
    c.press("Woyofal").await;
    let key = c.key.clone();
    let Harness { bot, sandbox, dir } = h;
    drop(c);
    drop(bot);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.prefs(&key).unwrap().lang, Some(Lang::Fr));
    assert_eq!(
        store.dialogue::<State>(&key).unwrap(),
        Some(State::AwaitingReference { biller: Biller::Woyofal })
    );
    let pending = OrderNo::parse(orders::PENDING).unwrap();
    let record = store.order(&pending).unwrap().unwrap();
    assert_eq!(record.order.status, OrderStatus::Pending);
    let activity = store.activity(&key).unwrap();
    assert_eq!(activity.len(), 1);
    assert_eq!(activity[0].item, ActivityItem::Order { order_no: pending, status: OrderStatus::Pending });

    // The conversation resumes where it was, in the language chosen.
    let (inquiry, status) = common::sandbox_clients(&sandbox);
    let bot = billbot::conversation::Bot::new(inquiry, status, store);
    let h = Harness { bot, sandbox, dir };
    let mut c = h.chat("reopen", "en", Role::Customer);
    let text = c.say(refs::METER).await;
    assert!(text.contains("État du compteur : actif"), "{text}");
}

#[test]
fn an_orders_status_history_records_each_change_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let no = OrderNo::parse(orders::PENDING).unwrap();
    let mut order = sample_order();
    let t0 = Utc::now();
    store.record_order(&no, &order, t0).unwrap();
    store.record_order(&no, &order, t0 + Duration::minutes(1)).unwrap();
    order.status = OrderStatus::Succeeded;
    order.provider_status = "delivered".into();
    let record = store.record_order(&no, &order, t0 + Duration::minutes(2)).unwrap();
    let statuses: Vec<_> = record.changes.iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![OrderStatus::Pending, OrderStatus::Succeeded]);
    assert_eq!(record.first_seen, t0);
    assert_eq!(record.last_checked, t0 + Duration::minutes(2));
}

#[test]
fn concurrent_checks_of_one_order_lose_no_status_change() {
    // Chats and the tracker may record the same order at once: each write must build on the
    // last one, or a change seen by one of them is overwritten by another's older view.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let t0 = Utc::now();
    for n in 0..20 {
        let no = OrderNo::parse(&format!("2026112099{n:011}")).unwrap();
        std::thread::scope(|scope| {
            for writer in 0..8 {
                let (store, no) = (&store, &no);
                scope.spawn(move || {
                    let mut order = sample_order();
                    order.provider_status = format!("STEP-{writer}");
                    store.record_order(no, &order, t0).unwrap();
                });
            }
        });
        let record = store.order(&no).unwrap().unwrap();
        assert_eq!(record.changes.len(), 8, "order {n}: {:?}", record.changes);
    }
}

fn sample_order() -> billbot::domain::Order {
    serde_json::from_value(serde_json::json!({
        "order_no": "GB - 202611200800000000001", "trx": null, "reference": null, "status": "pending",
        "provider_status": "PENDING", "message": null, "service_type": null, "provider": null,
        "recipient": null, "amount": null, "fee": null, "purchased_code": null, "units": null,
        "refunded": false, "created_at": null, "updated_at": null, "merchant": {}
    }))
    .unwrap()
}

#[test]
fn activity_is_newest_first_deduplicated_and_capped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let t0 = Utc::now();
    let lookup = |n: usize| ActivityItem::Lookup { biller: Biller::Senelec, reference: format!("{:010}", n) };
    for n in 0..ACTIVITY_LIMIT + 5 {
        store.touch_activity(&k("term:c"), lookup(n), t0 + Duration::seconds(n as i64)).unwrap();
    }
    store.touch_activity(&k("term:c"), lookup(10), t0 + Duration::hours(1)).unwrap();
    let items = store.activity(&k("term:c")).unwrap();
    assert_eq!(items.len(), ACTIVITY_LIMIT);
    assert_eq!(items[0].item, lookup(10), "a repeat moves to the top, once");
    assert_eq!(items.iter().filter(|a| a.item == lookup(10)).count(), 1);
    assert!(!items.iter().any(|a| a.item == lookup(0)), "the oldest were dropped");
    assert!(store.activity(&k("term:other")).unwrap().is_empty(), "chats do not see each other's");
}

#[tokio::test]
async fn corrupt_and_foreign_version_records_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.set_lang(&k("tg:1"), Lang::Fr).unwrap();
        store.flush().await.unwrap();
    }
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("dialogue").unwrap().insert("term:broken", &b"{not json"[..]).unwrap();
        db.open_tree("prefs")
            .unwrap()
            .insert("term:future", &br#"{"v":99,"data":{"lang":"wo"}}"#[..])
            .unwrap();
        db.open_tree("activity").unwrap().insert("term:broken\0l:x", &b"\xff\xfe"[..]).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.dialogue::<State>(&k("term:broken")).unwrap(), None);
    assert_eq!(store.prefs(&k("term:future")).unwrap().lang, None);
    assert!(store.activity(&k("term:broken")).unwrap().is_empty());
    assert_eq!(store.skipped_records(), 3);
    assert_eq!(store.prefs(&k("tg:1")).unwrap().lang, Some(Lang::Fr), "good records are still read");

    // A chat whose stored state is garbage starts again at the menu instead of failing.
    let sb = common::sandbox().await;
    let (inquiry, status) = common::sandbox_clients(&sb);
    let h = Harness { bot: billbot::conversation::Bot::new(inquiry, status, store), sandbox: sb, dir };
    let mut c = h.chat("broken", "en", Role::Customer);
    assert!(c.say("what is this").await.contains("didn't understand"));
    assert!(c.say("/orders").await.contains("no orders"));
}

#[test]
fn a_database_of_another_schema_version_is_refused_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("meta").unwrap().insert("schema_version", "2").unwrap();
        db.flush().unwrap();
    }
    match Store::open(dir.path()) {
        Err(StoreError::ForeignSchema { found, .. }) => assert_eq!(found, "2"),
        other => panic!("expected a schema refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn saved_references_are_kept_per_chat_renamed_deleted_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let home = billbot::domain::CustomerReference::parse(Biller::Senelec, refs::ONE_BILL).unwrap();
    let meter = billbot::domain::CustomerReference::parse(Biller::Woyofal, refs::METER).unwrap();
    let t0 = Utc::now();
    {
        let store = Store::open(dir.path()).unwrap();
        store.save_reference(&k("term:a"), &home, Some(" Maison ".into()), t0).unwrap();
        store.save_reference(&k("term:a"), &meter, None, t0 + Duration::seconds(1)).unwrap();
        store.save_reference(&k("term:b"), &meter, Some("Boutique".into()), t0).unwrap();
        let renamed = store
            .save_reference(&k("term:a"), &home, Some("Maison Dakar".into()), t0 + Duration::hours(1))
            .unwrap();
        assert_eq!(renamed.saved_at, t0, "renaming keeps the place in the list");
        store.flush().await.unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let saved = store.saved_references(&k("term:a")).unwrap();
    let names: Vec<_> = saved.iter().map(|s| (s.reference.as_str(), s.nickname.as_deref())).collect();
    assert_eq!(names, vec![(refs::ONE_BILL, Some("Maison Dakar")), (refs::METER, None)]);
    assert!(store.delete_reference(&k("term:a"), &meter).unwrap());
    assert!(!store.delete_reference(&k("term:a"), &meter).unwrap(), "deleting twice finds nothing");
    assert_eq!(store.saved_references(&k("term:a")).unwrap().len(), 1);
    assert_eq!(store.saved_references(&k("term:b")).unwrap()[0].nickname.as_deref(), Some("Boutique"));
}

/// A chat key from its stored form (`tg:1`).
fn k(key: &str) -> billbot::domain::ChatKey {
    key.parse().unwrap()
}
