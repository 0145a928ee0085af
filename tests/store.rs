//! The sled backend's own behaviour: what survives a reopen, unreadable records skipped without a
//! crash, a database of another schema refused. What every backend must do is in
//! `store_contract.rs`.

mod common;

use billbot::conversation::{Role, State};
use billbot::domain::{Biller, OrderNo, OrderStatus};
use billbot::i18n::Lang;
use billbot::sandbox::fixtures::{orders, refs};
use billbot::store::{ActivityItem, Op, Store, StoreError};
use common::chat::Harness;
use std::time::Duration;

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
    assert_eq!(store.prefs(&key).await.unwrap().lang, Some(Lang::Fr));
    assert_eq!(
        store.dialogue::<State>(&key).await.unwrap(),
        Some(State::AwaitingReference { biller: Biller::Woyofal })
    );
    let pending = OrderNo::parse(orders::PENDING).unwrap();
    let record = store.order(&pending).await.unwrap().unwrap();
    assert_eq!(record.order.status, OrderStatus::Pending);
    let activity = store.activity(&key).await.unwrap();
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

#[tokio::test]
async fn corrupt_and_foreign_version_records_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.commit(Op::Lang { chat: k("tg:1"), lang: Lang::Fr }).await.unwrap();
    }
    {
        let db = raw_sled(dir.path());
        db.open_tree("dialogue").unwrap().insert("term:broken", &b"{not json"[..]).unwrap();
        db.open_tree("prefs")
            .unwrap()
            .insert("term:future", &br#"{"v":99,"data":{"lang":"wo"}}"#[..])
            .unwrap();
        db.open_tree("activity").unwrap().insert("term:broken\0l:x", &b"\xff\xfe"[..]).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.dialogue::<State>(&k("term:broken")).await.unwrap(), None);
    assert_eq!(store.prefs(&k("term:future")).await.unwrap().lang, None);
    assert!(store.activity(&k("term:broken")).await.unwrap().is_empty());
    assert_eq!(store.skipped_records(), 3);
    assert_eq!(store.prefs(&k("tg:1")).await.unwrap().lang, Some(Lang::Fr), "good records are still read");

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

/// The sled database under a store that was just dropped: sled lets go of its lock a moment
/// after.
fn raw_sled(dir: &std::path::Path) -> sled::Db {
    let started = std::time::Instant::now();
    loop {
        match sled::open(dir) {
            Err(e) if started.elapsed() < Duration::from_secs(2) => {
                assert!(e.to_string().contains("could not acquire lock"), "{e}");
                std::thread::sleep(Duration::from_millis(20));
            }
            db => break db.unwrap(),
        }
    }
}

/// Keeps an unhandled inbound message as a billbot older than the chats' queues did (its id
/// seen, the message kept, in no chat's queue), as a store being migrated may hold one.
fn keep_unqueued(dir: &std::path::Path, id: &str, message: &str, at: chrono::DateTime<chrono::Utc>) {
    let db = raw_sled(dir);
    let millis = at.timestamp_millis();
    db.open_tree("seen").unwrap().insert(id, &millis.to_be_bytes()[..]).unwrap();
    let mut seen_at = (millis as u64).to_be_bytes().to_vec();
    seen_at.extend_from_slice(id.as_bytes());
    db.open_tree("seen_at").unwrap().insert(seen_at, &[][..]).unwrap();
    let envelope = serde_json::json!({ "v": 1, "data": message }).to_string();
    db.open_tree("inbox").unwrap().insert(id, envelope.as_bytes()).unwrap();
    db.flush().unwrap();
}

/// A chat key from its stored form (`tg:1`).
fn k(key: &str) -> billbot::domain::ChatKey {
    key.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_store_copies_a_sled_store_into_postgresql_and_a_second_run_changes_nothing() {
    use billbot::domain::{ChatKey, CustomerReference, OrderNo};
    use billbot::store::{Batch, Outgoing, Reminder, Ticket, Watch, Watcher};
    use chrono::Duration as Span;
    let Some(schema) = common::pg::schema("migrate_store").await else { return };
    let h = Harness::new().await;
    let mut c = h.chat("migrating", "fr", Role::Customer);
    c.say("/lang fr").await;
    c.say(&format!("/status {}", orders::PENDING)).await;
    c.say("/bill").await;
    c.press("Woyofal").await;
    let chat = c.key.clone();
    let Harness { bot, dir, .. } = h;
    drop((c, bot));
    let pending = OrderNo::parse(orders::PENDING).unwrap();
    let now = chrono::Utc::now();
    let ticket = Ticket {
        id: "K7M2Q".into(),
        chat: chat.clone(),
        lang: Lang::Fr,
        opened_at: now,
        last_at: now,
        closed_at: None,
        messages: 2,
    };
    let support = k("tg:-1");
    {
        let store = Store::open(dir.path()).unwrap();
        let meter = CustomerReference::parse(Biller::Woyofal, refs::METER).unwrap();
        let watch = Watch {
            order_no: pending.clone(),
            watchers: vec![Watcher {
                chat: chat.clone(),
                lang: Lang::Fr,
                since: now,
                told: vec![OrderStatus::Pending],
            }],
            started_at: now,
            checks: 2,
            next_check_at: now,
            last_status: OrderStatus::Pending,
            last_provider_status: "PENDING".into(),
        };
        let mut batch = Batch::new();
        batch.push(Op::SaveReference {
            chat: chat.clone(),
            reference: meter.clone(),
            nickname: Some("Maison".into()),
            at: now,
        });
        batch.push(Op::Watch { order_no: pending.clone(), update: Box::new(move |_| Some(watch.clone())) });
        batch.push(Op::hold(&chat, &"a notice", now).unwrap());
        batch.push(Op::Alias { alias: ChatKey::whatsapp("SN.1"), chat: ChatKey::whatsapp("221771234567") });
        store.commit(batch).await.unwrap();
        // Two notices to the support chat; one claimed by a sender, whose claim runs on.
        let relayed = |n: u32| {
            let notice = serde_json::json!({"kind": "to_support", "ticket": "K7M2Q", "text": n});
            Outgoing::new(format!("tg:-1|ticket|K7M2Q|{n}"), &support, Lang::Fr, notice, now)
        };
        store
            .commit(Op::Ticket { ticket: ticket.clone(), tell: vec![relayed(1), relayed(2)] })
            .await
            .unwrap();
        assert_eq!(
            store.claim_outgoing_for("sender-a", now, now + Span::minutes(5), 1).await.unwrap().len(),
            1
        );
        let reminder = Reminder {
            chat: chat.clone(),
            lang: Lang::Fr,
            reference: meter,
            due_day: (now + Span::days(3)).date_naive(),
            days_before: 1,
            next_at: now + Span::days(2),
            done: Vec::new(),
            created_at: now,
        };
        store.commit(Op::Remind { reminder }).await.unwrap();
        // Queued in the chat's order (9 came in first), two of one order in their arrival's.
        for (id, order) in [("tg:update:9", 9), ("tg:update:5", 5), ("tg:update:5b", 5)] {
            assert!(store.inbox_take(id, &chat, order, &id, now).await.unwrap());
        }
        // A web chat's conversation, one line of it forgotten-proof: its last number.
        let web = k("web:0123456789abcdef0123456789abcdef");
        store.web_log_append(&web, &["Bonjour".to_owned(), "<b>Menu</b>".to_owned()], now).await.unwrap();
    }
    keep_unqueued(dir.path(), "wamid.m1", "hello", now);
    // The mark of an order swept with its owners, as the retention sweep leaves it.
    {
        let db = raw_sled(dir.path());
        let millis = (now.timestamp_millis() as u64).to_be_bytes();
        db.open_tree("swept_owned").unwrap().insert("202001010000000000001", &millis[..]).unwrap();
        db.flush().unwrap();
    }
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_billbot"))
            .args([
                "migrate-store",
                "--from",
                &format!("sled:{}", dir.path().display()),
                "--to",
                &schema.url(),
            ])
            .env("LANG", "C")
            .output()
            .unwrap()
    };
    let first = run();
    let out = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(first.status.success(), "{out}{}", String::from_utf8_lossy(&first.stderr));
    for line in [
        "dialogues: 1",
        "preferences: 1",
        "orders: 1",
        "activity items: 1",
        "saved numbers: 1",
        "watches: 1",
        "held notices: 1",
        "aliases: 1",
        "swept orders that had owners: 1",
        "inbound message ids: 4",
        "unhandled messages: 4",
        "notices to send or sent: 2",
        "reminders: 1",
        "support tickets: 1",
        "web chat lines: 2",
        "web chat line counters: 1",
    ] {
        assert!(out.contains(line), "{line} in {out}");
    }
    let second = run();
    assert!(second.status.success());
    assert_eq!(String::from_utf8_lossy(&second.stdout), out, "the same records, counted again");

    let pg = Store::connect_with(schema.options(), &Default::default()).await.unwrap();
    assert_eq!(pg.prefs(&chat).await.unwrap().lang, Some(Lang::Fr));
    assert_eq!(
        pg.dialogue::<State>(&chat).await.unwrap(),
        Some(State::AwaitingReference { biller: Biller::Woyofal })
    );
    assert_eq!(pg.order(&pending).await.unwrap().unwrap().order.status, OrderStatus::Pending);
    assert!(pg.swept_owned(&OrderNo::parse("202001010000000000001").unwrap()).await.unwrap());
    let web = k("web:0123456789abcdef0123456789abcdef");
    let lines = pg.web_log_after::<String>(&web, 0).await.unwrap();
    assert_eq!(lines.iter().map(|l| l.line.as_str()).collect::<Vec<_>>(), ["Bonjour", "<b>Menu</b>"]);
    let next = pg.web_log_append(&web, &["next".to_owned()], now - Span::days(1)).await.unwrap();
    assert_eq!(next, vec![lines[1].seq + 1], "numbering goes on from the copied counter");
    assert_eq!(pg.activity(&chat).await.unwrap().len(), 1);
    assert_eq!(pg.saved_references(&chat).await.unwrap()[0].nickname.as_deref(), Some("Maison"));
    assert_eq!(pg.watch(&pending).await.unwrap().unwrap().checks, 2);
    assert_eq!(pg.due_watches(chrono::Utc::now(), 10).await.unwrap(), vec![pending.clone()], "scheduled");
    assert_eq!(pg.held::<String>(&chat).await.unwrap().len(), 1, "once, after two runs");
    assert_eq!(pg.alias(&ChatKey::whatsapp("SN.1")).await.unwrap(), Some(ChatKey::whatsapp("221771234567")));
    let again = pg.inbox_take("wamid.m1", &chat, 0, &"hello", chrono::Utc::now()).await.unwrap();
    assert!(!again, "its id is known");
    assert_eq!(pg.inbox_pending::<String>("wamid.").await.unwrap().len(), 1);
    assert_eq!(pg.inbox_stale_chats(chrono::Utc::now()).await.unwrap(), vec![chat.clone()], "received then");
    assert!(pg.inbox_stale_chats(chrono::Utc::now() - chrono::Duration::hours(1)).await.unwrap().is_empty());
    for id in ["tg:update:5", "tg:update:5b", "tg:update:9"] {
        let (_, next) = pg.turn_start_next::<State, String>(&chat).await.unwrap();
        assert_eq!(next, Some((id.to_owned(), id.to_owned())), "in the chat's order");
        pg.commit(Op::InboxDone { id: id.into() }).await.unwrap();
    }
    assert!(pg.turn_start_next::<State, String>(&chat).await.unwrap().1.is_none());
    assert_eq!(pg.latest_ticket(&chat).await.unwrap(), Some(ticket));
    let claimed = pg.outgoing("tg:-1|ticket|K7M2Q|1").await.unwrap().unwrap();
    assert_eq!(claimed.claimed_by.as_deref(), Some("sender-a"));
    let until = now + Span::minutes(1);
    let other_sender = pg.claim_outgoing_for("sender-b", now, until, 10).await.unwrap();
    assert!(other_sender.is_empty(), "the support chat's notices are still sender-a's: {other_sender:?}");
    let claimant = pg.claim_outgoing_for("sender-a", now, until, 10).await.unwrap();
    assert_eq!(claimant.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["tg:-1|ticket|K7M2Q|2"]);
    assert!(pg.claim_reminders(now + Span::days(1), now + Span::days(4), 10).await.unwrap().is_empty());
    let due = pg.claim_reminders(now + Span::days(2), now + Span::days(4), 10).await.unwrap();
    assert_eq!(due.len(), 1, "scheduled");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chats_queued_messages_survive_reopening_the_store_in_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let chat = k("tg:90");
    let now = chrono::Utc::now();
    {
        let store = Store::open(dir.path()).unwrap();
        for (id, order) in [("tg:update:3", 3), ("tg:update:2", 2), ("tg:update:2b", 2)] {
            assert!(store.inbox_take(id, &chat, order, &id, now).await.unwrap());
        }
    }
    let store = Store::open(dir.path()).unwrap();
    assert!(!store.inbox_take("tg:update:3", &chat, 3, &"again", now).await.unwrap(), "still seen");
    for id in ["tg:update:2", "tg:update:2b", "tg:update:3"] {
        let (_, next) = store.turn_start_next::<State, String>(&chat).await.unwrap();
        assert_eq!(next, Some((id.to_owned(), id.to_owned())));
        store.commit(Op::InboxDone { id: id.into() }).await.unwrap();
    }
    assert!(store.turn_start_next::<State, String>(&chat).await.unwrap().1.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_copies_the_store_into_a_new_directory_that_opens_as_the_same_store() {
    let h = Harness::new().await;
    let mut c = h.chat("backed-up", "fr", Role::Customer);
    c.say("/lang fr").await;
    c.say(&format!("/status {}", orders::PENDING)).await;
    let chat = c.key.clone();
    let Harness { bot, dir, .. } = h;
    drop((c, bot));
    let target = tempfile::tempdir().unwrap();
    let copy = target.path().join("copy");
    let run = |to: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_billbot"))
            .args(["backup", &to.display().to_string()])
            .env("BILLBOT_DATA_DIR", dir.path())
            .env("LANG", "C")
            .output()
            .unwrap()
    };
    let out = run(&copy);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("BILLBOT_DATA_DIR="));
    let again = run(&copy);
    assert_eq!(again.status.code(), Some(2), "an existing copy is never overwritten");
    let restored = Store::open(&copy).unwrap();
    assert_eq!(restored.prefs(&chat).await.unwrap().lang, Some(Lang::Fr));
    assert_eq!(restored.activity(&chat).await.unwrap().len(), 1);
    let pending = OrderNo::parse(orders::PENDING).unwrap();
    assert_eq!(restored.order(&pending).await.unwrap().unwrap().order.status, OrderStatus::Pending);
}

/// The backends stand alone: neither names the other (the rules both apply are the records' own,
/// in `store/records.rs`).
#[test]
fn neither_backend_imports_the_other() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    for (file, other) in [("sled.rs", "postgres"), ("postgres.rs", "sled")] {
        let source = std::fs::read_to_string(dir.join(file)).unwrap();
        for path in [format!("super::{other}"), format!("store::{other}")] {
            assert!(!source.contains(&path), "{file} names {path}");
        }
    }
}

#[tokio::test]
async fn a_store_written_before_the_owned_index_gets_it_built_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let (owner, no, alias) = (k("tg:31"), OrderNo::parse(orders::PENDING).unwrap(), k("wa:u.thirty-one"));
    let order: billbot::domain::Order = serde_json::from_value(serde_json::json!({
        "order_no": orders::PENDING, "trx": null, "reference": null, "status": "pending",
        "provider_status": "PENDING", "message": null, "service_type": null, "provider": null,
        "recipient": null, "amount": null, "fee": null, "purchased_code": null, "units": null,
        "refunded": false, "created_at": null, "updated_at": null, "merchant": {}
    }))
    .unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let at = chrono::Utc::now();
        let claimant = Some(owner.clone());
        store
            .commit(Op::RecordOrder { order_no: no.clone(), order: Box::new(order), at, claimant })
            .await
            .unwrap();
        store.commit(Op::Alias { alias: alias.clone(), chat: owner.clone() }).await.unwrap();
    }
    // As a billbot older than the index left the store: no `owned` tree, no mark that it is built.
    {
        let db = raw_sled(dir.path());
        db.drop_tree("owned").unwrap();
        db.open_tree("meta").unwrap().remove("owned_index").unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let expected =
        vec![billbot::store::Owned::Order(no.clone()), billbot::store::Owned::Alias(alias.clone())];
    assert_eq!(store.owned(&owner).await.unwrap(), expected, "built from the records");
    store.commit(Op::ForgetChat { chat: owner.clone() }).await.unwrap();
    assert!(store.order(&no).await.unwrap().unwrap().owners.is_empty(), "so /forget finds what it owned");
    assert_eq!(store.alias(&alias).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_an_instance_hears_of_another_ones_web_lines_not_of_its_own() {
    use tokio::sync::broadcast::Receiver;
    let Some(schema) = common::pg::schema("web_written").await else { return };
    let a = Store::connect_with(schema.options(), &Default::default()).await.unwrap();
    let b = Store::connect_with(schema.options(), &Default::default()).await.unwrap();
    let (mut heard_a, mut heard_b) = (a.web_written().unwrap(), b.web_written().unwrap());
    // NOTIFY is database-wide: tests running beside this one, in other schemas, are heard too.
    let page: billbot::domain::ChatKey = "web:5eb5eb5eb5eb5eb5eb5eb5eb5eb5eb5".parse().unwrap();
    let told = |heard: &mut Receiver<Option<String>>| {
        std::iter::from_fn(|| heard.try_recv().ok()).any(|word| word.as_deref() == Some(&*page.to_string()))
    };
    let wait_until_told = async |heard: &mut Receiver<Option<String>>| {
        for _ in 0..100 {
            if told(heard) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    a.web_log_append(&page, &["from a".to_owned()], chrono::Utc::now()).await.unwrap();
    assert!(wait_until_told(&mut heard_b).await, "b is told of a's line");
    // b's own line: a is told of it; b is not (it would have heard it by the time a did).
    b.web_log_append(&page, &["from b".to_owned()], chrono::Utc::now()).await.unwrap();
    assert!(wait_until_told(&mut heard_a).await, "a is told of b's line");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!told(&mut heard_a), "a is not told of its own line");
    assert!(!told(&mut heard_b), "b is not told of its own line");
}
