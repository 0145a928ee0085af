//! What every storage backend must do, one suite run against each (`contract!` at the bottom):
//! batches of writes, atomic read-modify-writes of shared records under concurrent writers, the
//! per-chat lists and their limits, the tracker's schedule, the inbox of inbound messages, held
//! notices and aliases.

mod common;

use billbot::conversation::State;
use billbot::domain::{Biller, ChatKey, CustomerReference, Order, OrderNo, OrderStatus};
use billbot::i18n::Lang;
use billbot::sandbox::fixtures::refs;
use billbot::store::{
    ACTIVITY_LIMIT, ActivityItem, Batch, HELD_LIMIT, MAX_FAILED_PROOFS, Op, Outgoing, OutgoingChange, Owned,
    Prefs, Reminder, ReminderStage, Store, Ticket, Watch, Watcher,
};
use chrono::{Duration, DurationRound, TimeDelta, Utc};

/// A chat key from its stored form (`tg:1`).
fn k(key: &str) -> ChatKey {
    key.parse().unwrap()
}

fn order_no(n: u64) -> OrderNo {
    OrderNo::parse(&format!("2026112099{n:011}")).unwrap()
}

/// Now, to the millisecond: what every backend keeps of a time.
fn now() -> chrono::DateTime<Utc> {
    Utc::now().duration_trunc(TimeDelta::milliseconds(1)).unwrap()
}

fn sample_order() -> Order {
    serde_json::from_value(serde_json::json!({
        "order_no": "GB - 202611200800000000001", "trx": null, "reference": null, "status": "pending",
        "provider_status": "PENDING", "message": null, "service_type": null, "provider": null,
        "recipient": null, "amount": null, "fee": null, "purchased_code": null, "units": null,
        "refunded": false, "created_at": null, "updated_at": null, "merchant": {}
    }))
    .unwrap()
}

fn record(no: &OrderNo, order: &Order, at: chrono::DateTime<Utc>) -> Op {
    Op::RecordOrder { order_no: no.clone(), order: Box::new(order.clone()), at, claimant: None }
}

async fn a_batch_is_applied_in_order_and_read_back(store: Store) {
    let chat = k("term:batch");
    let mut batch = Batch::new();
    batch.push(Op::dialogue(&chat, &State::AwaitingReference { biller: Biller::Woyofal }).unwrap());
    batch.push(Op::Prefs {
        chat: chat.clone(),
        prefs: Prefs { lang: None, last_inbound_at: Some(now()), ..Default::default() },
    });
    // Applied after the prefs above: the language is set on them, not lost.
    batch.push(Op::Lang { chat: chat.clone(), lang: Lang::Fr });
    store.commit(batch).await.unwrap();
    assert_eq!(
        store.dialogue::<State>(&chat).await.unwrap(),
        Some(State::AwaitingReference { biller: Biller::Woyofal })
    );
    let prefs = store.prefs(&chat).await.unwrap();
    assert_eq!(prefs.lang, Some(Lang::Fr));
    assert!(prefs.last_inbound_at.is_some());
    assert_eq!(store.prefs(&k("term:nobody")).await.unwrap(), Prefs::default());
    assert_eq!(store.dialogue::<State>(&k("term:nobody")).await.unwrap(), None);
}

async fn an_orders_status_history_records_each_change_once(store: Store) {
    let no = order_no(1);
    let mut order = sample_order();
    let t0 = now();
    store.commit(record(&no, &order, t0)).await.unwrap();
    store.commit(record(&no, &order, t0 + Duration::minutes(1))).await.unwrap();
    order.status = OrderStatus::Succeeded;
    order.provider_status = "delivered".into();
    store.commit(record(&no, &order, t0 + Duration::minutes(2))).await.unwrap();
    let record = store.order(&no).await.unwrap().unwrap();
    let statuses: Vec<_> = record.changes.iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![OrderStatus::Pending, OrderStatus::Succeeded]);
    assert_eq!(record.first_seen, t0);
    assert_eq!(record.last_checked, t0 + Duration::minutes(2));
    assert_eq!(record.order.status, OrderStatus::Succeeded);
    assert!(store.order(&order_no(2)).await.unwrap().is_none());
}

async fn concurrent_writers_of_one_order_lose_no_status_change(store: Store) {
    // Chats and the tracker (on any instance) may record the same order at once: each write must
    // build on the last one, or a change seen by one of them is overwritten by an older view.
    let t0 = now();
    for n in 0..10 {
        let no = order_no(100 + n);
        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let (store, no) = (store.clone(), no.clone());
                tokio::spawn(async move {
                    let mut order = sample_order();
                    order.provider_status = format!("STEP-{writer}");
                    store.commit(record(&no, &order, t0)).await.unwrap();
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let record = store.order(&no).await.unwrap().unwrap();
        assert_eq!(record.changes.len(), 8, "order {n}: {:?}", record.changes);
    }
}

async fn activity_is_newest_first_deduplicated_and_capped(store: Store) {
    let chat = k("term:activity");
    let t0 = now();
    let lookup = |n: usize| ActivityItem::Lookup { biller: Biller::Senelec, reference: format!("{n:010}") };
    let mut batch = Batch::new();
    for n in 0..ACTIVITY_LIMIT + 5 {
        batch.push(Op::Activity {
            chat: chat.clone(),
            item: lookup(n),
            at: t0 + Duration::seconds(n as i64),
        });
    }
    store.commit(batch).await.unwrap();
    store
        .commit(Op::Activity { chat: chat.clone(), item: lookup(10), at: t0 + Duration::hours(1) })
        .await
        .unwrap();
    let items = store.activity(&chat).await.unwrap();
    assert_eq!(items.len(), ACTIVITY_LIMIT);
    assert_eq!(items[0].item, lookup(10), "a repeat moves to the top, once");
    assert_eq!(items.iter().filter(|a| a.item == lookup(10)).count(), 1);
    assert!(!items.iter().any(|a| a.item == lookup(0)), "the oldest were dropped");
    assert!(items.windows(2).all(|w| w[0].at >= w[1].at), "newest first");
    let order = ActivityItem::Order { order_no: order_no(3), status: OrderStatus::Pending };
    store
        .commit(Op::Activity { chat: chat.clone(), item: order.clone(), at: t0 + Duration::hours(2) })
        .await
        .unwrap();
    assert_eq!(store.activity(&chat).await.unwrap()[0].item, order);
    assert!(store.activity(&k("term:other")).await.unwrap().is_empty(), "chats do not see each other's");
}

/// A step's end with the chat's own writes of its batch (PostgreSQL writes them in one statement):
/// each lands as if applied in order, a later write of the same record winning, the activity
/// still capped.
async fn a_steps_end_lands_with_the_chats_own_writes_as_if_in_order(store: Store) {
    let (chat, t0) = (k("tg:fold"), now());
    let lookup = |n: usize| ActivityItem::Lookup { biller: Biller::Senelec, reference: format!("{n:010}") };
    let mut full = Batch::new();
    for n in 0..ACTIVITY_LIMIT {
        full.push(Op::Activity { chat: chat.clone(), item: lookup(n), at: t0 + Duration::seconds(n as i64) });
    }
    store.commit(full).await.unwrap();
    let step = |batch: &mut Batch, prefs: Prefs, n: usize, at| {
        batch.push(Op::Prefs { chat: chat.clone(), prefs });
        batch.push(Op::Activity { chat: chat.clone(), item: lookup(n), at });
    };
    // Prefs written, then a language change: the change stands.
    let lease = store.lock_chat(&chat).await.unwrap();
    let mut batch = Batch::new();
    step(&mut batch, Prefs { lang: Some(Lang::En), ..Prefs::default() }, 100, t0 + Duration::hours(1));
    batch.push(Op::Lang { chat: chat.clone(), lang: Lang::Fr });
    batch.push(lease.end_step(&State::Menu, None).unwrap());
    store.commit(batch).await.unwrap();
    assert_eq!(store.prefs(&chat).await.unwrap().lang, Some(Lang::Fr), "the later change stands");
    let items = store.activity(&chat).await.unwrap();
    assert_eq!(items.len(), ACTIVITY_LIMIT, "still capped");
    assert_eq!(items[0].item, lookup(100), "the new item on top");
    assert!(!items.iter().any(|a| a.item == lookup(0)), "the oldest dropped");
    // Two prefs and two items in one step: the last of each stands, both items are kept.
    let lease = store.lock_chat(&chat).await.unwrap();
    let mut batch = Batch::new();
    step(&mut batch, Prefs { lang: Some(Lang::En), ..Prefs::default() }, 101, t0 + Duration::hours(2));
    step(&mut batch, Prefs::default(), 102, t0 + Duration::hours(3));
    batch.push(lease.end_step(&State::AwaitingOrderNo, None).unwrap());
    store.commit(batch).await.unwrap();
    assert_eq!(store.prefs(&chat).await.unwrap().lang, None, "the last prefs written stand");
    let items = store.activity(&chat).await.unwrap();
    assert_eq!(items.len(), ACTIVITY_LIMIT);
    assert_eq!((&items[0].item, &items[1].item), (&lookup(102), &lookup(101)));
    assert_eq!(store.dialogue::<State>(&chat).await.unwrap(), Some(State::AwaitingOrderNo));
    // An order recorded in the same step lands too; the same state again changes nothing.
    let no = order_no(41);
    let lease = store.lock_chat(&chat).await.unwrap();
    let mut batch = Batch::new();
    batch.push(record(&no, &sample_order(), t0));
    step(&mut batch, Prefs::default(), 103, t0 + Duration::hours(4));
    batch.push(lease.end_step(&State::AwaitingOrderNo, None).unwrap());
    store.commit(batch).await.unwrap();
    assert!(store.order(&no).await.unwrap().is_some());
    assert_eq!(store.activity(&chat).await.unwrap()[0].item, lookup(103));
    assert_eq!(store.dialogue::<State>(&chat).await.unwrap(), Some(State::AwaitingOrderNo));
}

/// A step reads an order, asks the provider, and records it with its end (PostgreSQL: in one
/// statement when the order is still as read). A change made in between is kept, not overwritten.
async fn a_steps_order_lands_with_its_end_and_a_change_made_meanwhile_is_kept(store: Store) {
    let (chat, t0) = (k("tg:order-step"), now());
    let no = order_no(51);
    let mut order = sample_order();
    let step = |store: Store, order: Order, at| {
        let (chat, no) = (chat.clone(), no.clone());
        async move {
            let lease = store.lock_chat(&chat).await.unwrap();
            let mut batch = Batch::new();
            let claimant = Some(chat.clone());
            batch.push(Op::RecordOrder { order_no: no.clone(), order: Box::new(order), at, claimant });
            batch.push(lease.end_step(&State::Menu, None).unwrap());
            store.commit(batch).await
        }
    };
    // Unchanged since read: written with the step's end, the chat its owner.
    assert!(store.order(&no).await.unwrap().is_none());
    step(store.clone(), order.clone(), t0).await.unwrap();
    let stored = store.order(&no).await.unwrap().unwrap();
    assert_eq!(stored.owners, vec![chat.clone()]);
    assert_eq!(store.dialogue::<State>(&chat).await.unwrap(), Some(State::Menu));
    // Read, then changed by another writer (the tracker), then recorded: both changes stay.
    store.order(&no).await.unwrap();
    order.status = OrderStatus::Succeeded;
    order.provider_status = "delivered".into();
    store.commit(record(&no, &order, t0 + Duration::minutes(1))).await.unwrap();
    step(store.clone(), sample_order(), t0 + Duration::minutes(2)).await.unwrap();
    let stored = store.order(&no).await.unwrap().unwrap();
    let statuses: Vec<_> = stored.changes.iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![OrderStatus::Pending, OrderStatus::Succeeded, OrderStatus::Pending]);
    assert_eq!(stored.last_checked, t0 + Duration::minutes(2), "the step's write landed on the change");
    assert_eq!(stored.owners, vec![chat.clone()]);
}

async fn saved_references_are_kept_per_chat_renamed_and_deleted(store: Store) {
    let home = CustomerReference::parse(Biller::Senelec, refs::ONE_BILL).unwrap();
    let meter = CustomerReference::parse(Biller::Woyofal, refs::METER).unwrap();
    let (a, b) = (k("term:saved-a"), k("term:saved-b"));
    let t0 = now();
    let save =
        |chat: &ChatKey, reference: &CustomerReference, nickname: Option<&str>, at| Op::SaveReference {
            chat: chat.clone(),
            reference: reference.clone(),
            nickname: nickname.map(str::to_owned),
            at,
        };
    let mut batch = Batch::new();
    batch.push(save(&a, &home, Some(" Maison "), t0));
    batch.push(save(&a, &meter, None, t0 + Duration::seconds(1)));
    batch.push(save(&b, &meter, Some("Boutique"), t0));
    store.commit(batch).await.unwrap();
    store.commit(save(&a, &home, Some("Maison Dakar"), t0 + Duration::hours(1))).await.unwrap();
    let saved = store.saved_references(&a).await.unwrap();
    let names: Vec<_> = saved.iter().map(|s| (s.reference.as_str(), s.nickname.as_deref())).collect();
    assert_eq!(names, vec![(refs::ONE_BILL, Some("Maison Dakar")), (refs::METER, None)]);
    assert_eq!(saved[0].saved_at, t0, "renaming keeps the place in the list");
    store.commit(Op::DeleteReference { chat: a.clone(), reference: meter.clone() }).await.unwrap();
    store.commit(Op::DeleteReference { chat: a.clone(), reference: meter.clone() }).await.unwrap();
    assert_eq!(store.saved_references(&a).await.unwrap().len(), 1, "deleting twice is harmless");
    assert_eq!(store.saved_references(&b).await.unwrap()[0].nickname.as_deref(), Some("Boutique"));
}

fn watch_of(no: &OrderNo, at: chrono::DateTime<Utc>) -> Watch {
    Watch {
        order_no: no.clone(),
        watchers: vec![Watcher {
            chat: k("tg:1"),
            lang: Lang::Fr,
            since: at,
            told: vec![OrderStatus::Pending],
        }],
        started_at: at,
        checks: 0,
        next_check_at: at,
        last_status: OrderStatus::Pending,
        last_provider_status: "PENDING".into(),
    }
}

fn put(no: &OrderNo, watch: Option<Watch>) -> Op {
    Op::Watch { order_no: no.clone(), update: Box::new(move |_| watch.clone()) }
}

async fn watches_are_scheduled_rescheduled_and_ended(store: Store) {
    let t0 = now();
    let (early, late) = (order_no(10), order_no(11));
    store.commit(put(&late, Some(watch_of(&late, t0 + Duration::seconds(20))))).await.unwrap();
    store.commit(put(&early, Some(watch_of(&early, t0 + Duration::seconds(10))))).await.unwrap();
    assert_eq!(store.watch_count().await.unwrap(), 2);
    assert!(store.due_watches(t0, 10).await.unwrap().is_empty());
    assert_eq!(store.due_watches(t0 + Duration::seconds(15), 10).await.unwrap(), vec![early.clone()]);
    assert_eq!(
        store.due_watches(t0 + Duration::seconds(30), 10).await.unwrap(),
        vec![early.clone(), late.clone()]
    );
    assert_eq!(store.due_watches(t0 + Duration::seconds(30), 1).await.unwrap(), vec![early.clone()]);
    // Rescheduled: the old place in the schedule goes with it.
    let later = t0 + Duration::minutes(5);
    store
        .commit(Op::Watch {
            order_no: early.clone(),
            update: Box::new(move |w: Option<Watch>| {
                let mut w = w?;
                w.checks += 1;
                w.next_check_at = later;
                Some(w)
            }),
        })
        .await
        .unwrap();
    assert_eq!(store.due_watches(t0 + Duration::seconds(30), 10).await.unwrap(), vec![late.clone()]);
    assert_eq!(store.watch(&early).await.unwrap().unwrap().checks, 1);
    // An update of a watch that is not there may decline to create one.
    let missing = order_no(12);
    store
        .commit(Op::Watch { order_no: missing.clone(), update: Box::new(|w: Option<Watch>| w) })
        .await
        .unwrap();
    assert!(store.watch(&missing).await.unwrap().is_none());
    // Ended: gone from the watches and from the schedule.
    store.commit(put(&late, None)).await.unwrap();
    assert!(store.watch(&late).await.unwrap().is_none());
    assert_eq!(store.due_watches(t0 + Duration::hours(1), 10).await.unwrap(), vec![early]);
    assert_eq!(store.watch_count().await.unwrap(), 1);
}

async fn concurrent_updates_of_one_watch_each_build_on_the_last(store: Store) {
    let no = order_no(20);
    let t0 = now();
    store.commit(put(&no, Some(watch_of(&no, t0)))).await.unwrap();
    let writers: Vec<_> = (0..16)
        .map(|n| {
            let (store, no) = (store.clone(), no.clone());
            tokio::spawn(async move {
                let update = move |w: Option<Watch>| {
                    let mut w = w?;
                    w.watchers.push(Watcher {
                        chat: k(&format!("tg:{}", 100 + n)),
                        lang: Lang::En,
                        since: t0,
                        told: vec![],
                    });
                    Some(w)
                };
                store.commit(Op::Watch { order_no: no, update: Box::new(update) }).await.unwrap();
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(store.watch(&no).await.unwrap().unwrap().watchers.len(), 17);
}

async fn an_inbound_message_is_taken_once_kept_until_handled_and_forgotten_after_a_week(store: Store) {
    let t0 = now();
    let old = t0 - Duration::days(8);
    let (chat, other) = (k("wa:221770000069"), k("tg:69"));
    assert!(store.inbox_take("wamid.old", &chat, 1, &"hello", old).await.unwrap());
    assert!(store.inbox_take("wamid.1", &chat, 2, &"aide", t0).await.unwrap());
    assert!(!store.inbox_take("wamid.1", &chat, 2, &"aide", t0).await.unwrap(), "a redelivery");
    // Many deliveries of one id at once: one is new.
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (store, chat) = (store.clone(), chat.clone());
            tokio::spawn(async move { store.inbox_take("wamid.race", &chat, 3, &"x", t0).await.unwrap() })
        })
        .collect();
    let mut fresh = 0;
    for racer in racers {
        fresh += usize::from(racer.await.unwrap());
    }
    assert_eq!(fresh, 1);
    let mut pending: Vec<(String, String)> = store.inbox_pending("wamid.").await.unwrap();
    pending.sort();
    assert_eq!(
        pending.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["wamid.1", "wamid.old", "wamid.race"]
    );
    assert_eq!(pending[0].1, "aide");
    store.commit(Op::InboxDone { id: "wamid.1".into() }).await.unwrap();
    assert_eq!(store.inbox_pending::<String>("wamid.").await.unwrap().len(), 2);
    // Each channel reads its own: another's pending messages are neither read nor harmed.
    assert!(store.inbox_take("tg:update:9", &other, 9, &7_u32, t0).await.unwrap());
    assert_eq!(store.inbox_pending::<String>("wamid.").await.unwrap().len(), 2);
    assert_eq!(store.inbox_pending::<u32>("tg:update:").await.unwrap(), vec![("tg:update:9".to_owned(), 7)]);
    store.commit(Op::InboxDone { id: "tg:update:9".into() }).await.unwrap();
    assert!(!store.inbox_take("wamid.1", &chat, 2, &"aide", t0).await.unwrap(), "still known once handled");
    assert_eq!(store.seen_count().await.unwrap(), 4);
    assert_eq!(store.inbox_sweep(t0 - Duration::days(7)).await.unwrap(), 1);
    assert_eq!(store.seen_count().await.unwrap(), 3);
    assert!(store.inbox_take("wamid.old", &chat, 1, &"hello", t0).await.unwrap(), "forgotten after a week");
}

/// The chat's next message, as a step would start.
async fn next_message(store: &Store, chat: &ChatKey) -> Option<(String, String)> {
    let (start, next) = store.turn_start_next::<State, String>(chat).await.unwrap();
    assert!(start.pending);
    next
}

fn message(id: &str, text: &str) -> Option<(String, String)> {
    Some((id.to_owned(), text.to_owned()))
}

/// Whether the inbound message `id` waits to be handled (as a step that was handed it sees).
async fn pending(store: &Store, id: &str) -> bool {
    let chat = k("term:nobody");
    store.turn_start::<State>(&chat, Some(id)).await.unwrap().pending
}

async fn a_chats_messages_are_handed_out_in_the_channels_order_whatever_order_they_came_in(store: Store) {
    let t0 = now();
    let (chat, other) = (k("tg:70"), k("tg:71"));
    assert!(store.inbox_take("tg:update:7", &chat, 7, &"seven", t0).await.unwrap());
    assert!(store.inbox_take("tg:update:5", &chat, 5, &"five", t0).await.unwrap());
    assert!(store.inbox_take("tg:update:5b", &chat, 5, &"five again", t0).await.unwrap());
    assert!(!store.inbox_take("tg:update:7", &chat, 7, &"seven", t0).await.unwrap(), "a redelivery");
    assert!(store.inbox_take("tg:update:1", &other, 1, &"another chat's", t0).await.unwrap());
    // Many deliveries of one id at once: one is new, and it is queued once.
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (store, other) = (store.clone(), other.clone());
            tokio::spawn(
                async move { store.inbox_take("tg:update:2", &other, 2, &"raced", t0).await.unwrap() },
            )
        })
        .collect();
    let mut fresh = 0;
    for racer in racers {
        fresh += usize::from(racer.await.unwrap());
    }
    assert_eq!(fresh, 1);
    // The lowest order first, then the first to arrive; the same until it is handled.
    assert_eq!(next_message(&store, &chat).await, message("tg:update:5", "five"));
    assert_eq!(next_message(&store, &chat).await, message("tg:update:5", "five"));
    assert!(pending(&store, "tg:update:5").await);
    store.commit(Op::InboxDone { id: "tg:update:5".into() }).await.unwrap();
    assert!(!pending(&store, "tg:update:5").await);
    assert_eq!(next_message(&store, &chat).await, message("tg:update:5b", "five again"));
    // A step handles it: its state and the message's end in one write.
    let lease = store.lock_chat(&chat).await.unwrap();
    store.commit(lease.end_step(&State::Menu, Some("tg:update:5b".into())).unwrap()).await.unwrap();
    let (start, next) = store.turn_start_next::<State, String>(&chat).await.unwrap();
    assert_eq!((start.dialogue, next), (Some(State::Menu), message("tg:update:7", "seven")));
    store.commit(Op::InboxDone { id: "tg:update:7".into() }).await.unwrap();
    assert_eq!(next_message(&store, &chat).await, None);
    // Another chat's queue is its own.
    assert_eq!(next_message(&store, &other).await, message("tg:update:1", "another chat's"));
    let mut pending: Vec<(String, String)> = store.inbox_pending("tg:update:").await.unwrap();
    pending.sort();
    let ids: Vec<&str> = pending.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["tg:update:1", "tg:update:2"]);
    assert_eq!(next_message(&store, &k("tg:72")).await, None);
}

/// A burst: many chats' messages taken in at once, each delivered twice, one with characters
/// JSON escapes (a NUL among them, which PostgreSQL's jsonb refuses as such).
async fn a_burst_of_messages_is_taken_in_once_each_and_handed_out_in_each_chats_order(store: Store) {
    let t0 = now();
    let chats: Vec<ChatKey> = (0..40).map(|n| k(&format!("tg:9{n:02}"))).collect();
    let text = |c: usize, m: i64| {
        if c == 7 && m == 3 { "a\u{0}b\\u0000\"<&>\u{0}".to_owned() } else { format!("{c}:{m}") }
    };
    let mut takers = Vec::new();
    for m in (1..=5_i64).rev() {
        for (c, chat) in chats.iter().enumerate() {
            for _ in 0..2 {
                let (store, chat, text) = (store.clone(), chat.clone(), text(c, m));
                let id = format!("tg:update:{c}-{m}");
                takers.push(tokio::spawn(async move {
                    (id.clone(), store.inbox_take(&id, &chat, m, &text, t0).await)
                }));
            }
        }
    }
    let mut fresh = std::collections::HashMap::<String, usize>::new();
    for taker in takers {
        let (id, taken) = taker.await.unwrap();
        *fresh.entry(id).or_default() += usize::from(taken.expect("taken in"));
    }
    assert_eq!(fresh.len(), 200);
    assert!(fresh.values().all(|&n| n == 1), "each id new once: {fresh:?}");
    for (c, chat) in chats.iter().enumerate() {
        for m in 1..=5_i64 {
            let id = format!("tg:update:{c}-{m}");
            // A NUL is kept as U+FFFD (PostgreSQL refuses it); the rest as sent.
            let kept = text(c, m).replace('\0', "\u{fffd}");
            assert_eq!(next_message(&store, chat).await, message(&id, &kept), "chat {c}");
            store.commit(Op::InboxDone { id }).await.unwrap();
        }
        assert_eq!(next_message(&store, chat).await, None);
    }
}

async fn an_unreadable_message_is_skipped_and_removed_not_left_to_hold_up_its_chat(store: Store) {
    let t0 = now();
    let chat = k("wa:221770000073");
    assert!(store.inbox_take("wamid.unreadable", &chat, 1, &[1, 2, 3], t0).await.unwrap());
    assert!(store.inbox_take("wamid.next", &chat, 2, &"readable", t0).await.unwrap());
    let skipped = store.skipped_records();
    assert_eq!(next_message(&store, &chat).await, message("wamid.next", "readable"));
    assert_eq!(store.skipped_records(), skipped + 1);
    assert!(!pending(&store, "wamid.unreadable").await, "removed");
    assert!(!store.inbox_take("wamid.unreadable", &chat, 1, &"again", t0).await.unwrap(), "still seen");
    // Negative orders come first (an order is the channel's, whatever it is).
    assert!(store.inbox_take("wamid.early", &chat, -5, &"early", t0).await.unwrap());
    assert_eq!(next_message(&store, &chat).await, message("wamid.early", "early"));
}

async fn chats_whose_messages_wait_unhandled_are_found_and_swept_with_their_ids(store: Store) {
    let t0 = now();
    let (waiting, fresh) = (k("tg:80"), k("tg:81"));
    let minutes = |n: i64| t0 - Duration::minutes(n);
    assert!(store.inbox_take("tg:update:80", &waiting, 80, &"old", minutes(5)).await.unwrap());
    assert!(store.inbox_take("tg:update:81", &waiting, 81, &"old too", minutes(4)).await.unwrap());
    assert!(store.inbox_take("tg:update:82", &fresh, 82, &"new", t0).await.unwrap());
    assert_eq!(store.inbox_stale_chats(minutes(1)).await.unwrap(), vec![waiting.clone()], "each chat once");
    let mut all = store.inbox_stale_chats(t0 + Duration::seconds(1)).await.unwrap();
    all.sort();
    assert_eq!(all, vec![waiting.clone(), fresh.clone()]);
    if store.postgres().is_some() {
        // A chat whose step runs (on any instance) is not waiting for one.
        let lease = store.lock_chat(&waiting).await.unwrap();
        assert!(store.inbox_stale_chats(minutes(1)).await.unwrap().is_empty());
        store.unlock(lease).await;
        assert_eq!(store.inbox_stale_chats(minutes(1)).await.unwrap(), vec![waiting.clone()]);
    }
    store.commit(Op::InboxDone { id: "tg:update:80".into() }).await.unwrap();
    assert_eq!(store.inbox_stale_chats(minutes(1)).await.unwrap(), vec![waiting.clone()], "one left");
    store.commit(Op::InboxDone { id: "tg:update:81".into() }).await.unwrap();
    assert!(store.inbox_stale_chats(minutes(1)).await.unwrap().is_empty());
    // Swept: the ids are forgotten, and the messages still waiting leave their queues.
    assert_eq!(store.inbox_sweep(t0 + Duration::seconds(1)).await.unwrap(), 3);
    assert_eq!(next_message(&store, &fresh).await, None);
    assert!(store.inbox_stale_chats(t0 + Duration::seconds(1)).await.unwrap().is_empty());
    assert!(store.inbox_take("tg:update:82", &fresh, 82, &"new", t0).await.unwrap(), "forgotten");
    assert_eq!(next_message(&store, &fresh).await, message("tg:update:82", "new"));
}

async fn a_step_may_end_keeping_its_lease_and_unlock_once_its_replies_are_out(store: Store) {
    let t0 = now();
    let chat = k("tg:74");
    assert!(store.inbox_take("tg:update:741", &chat, 1, &"first", t0).await.unwrap());
    assert!(store.inbox_take("tg:update:742", &chat, 2, &"second", t0).await.unwrap());
    let lease = store.lock_chat(&chat).await.unwrap();
    assert_eq!(lease.chat(), &chat);
    assert_eq!(next_message(&store, &chat).await, message("tg:update:741", "first"));
    store.commit(lease.end_step_keeping(&State::Menu, Some("tg:update:741".into())).unwrap()).await.unwrap();
    // Written, though the lease is kept.
    let (start, next) = store.turn_start_next::<State, String>(&chat).await.unwrap();
    assert_eq!((start.dialogue, next), (Some(State::Menu), message("tg:update:742", "second")));
    store.unlock(lease).await;
    let next_step = tokio::time::timeout(std::time::Duration::from_secs(1), store.lock_chat(&chat));
    let lease = next_step.await.expect("the chat is free once unlocked").unwrap();
    store
        .commit(lease.end_step(&State::AwaitingOrderNo, Some("tg:update:742".into())).unwrap())
        .await
        .unwrap();
    let (start, next) = store.turn_start_next::<State, String>(&chat).await.unwrap();
    assert_eq!((start.dialogue, next), (Some(State::AwaitingOrderNo), None));
}

async fn held_notices_come_back_oldest_first_within_a_limit_and_once(store: Store) {
    let chat = k("wa:221771234567");
    let t0 = now();
    let mut batch = Batch::new();
    for n in 0..HELD_LIMIT + 3 {
        // Several in one millisecond: all kept, in order.
        batch.push(
            Op::hold(&chat, &format!("notice {n}"), t0 + Duration::milliseconds((n / 4) as i64)).unwrap(),
        );
    }
    store.commit(batch).await.unwrap();
    let held: Vec<(_, String)> = store.held(&chat).await.unwrap();
    let texts: Vec<&str> = held.iter().map(|(_, t)| t.as_str()).collect();
    let expected: Vec<String> = (3..HELD_LIMIT + 3).map(|n| format!("notice {n}")).collect();
    assert_eq!(texts, expected, "the newest {HELD_LIMIT}, oldest first");
    assert!(store.held::<String>(&k("wa:other")).await.unwrap().is_empty());
    let ids = held.into_iter().map(|(id, _)| id).collect();
    store.commit(Op::DropHeld { chat: chat.clone(), ids }).await.unwrap();
    assert!(store.held::<String>(&chat).await.unwrap().is_empty());
}

async fn an_alias_stands_for_its_chat(store: Store) {
    let (scoped, phone) = (k("wa:SN.1502576394655843"), k("wa:221771234567"));
    assert_eq!(store.alias(&scoped).await.unwrap(), None);
    store.commit(Op::Alias { alias: scoped.clone(), chat: phone.clone() }).await.unwrap();
    assert_eq!(store.alias(&scoped).await.unwrap(), Some(phone.clone()));
    assert_eq!(store.alias(&phone).await.unwrap(), None);
}

async fn an_order_is_owned_by_its_first_claimant_and_proofs_are_counted_for_a_day(store: Store) {
    let (no, order, at) = (order_no(900), sample_order(), now());
    let (first, second, third) = (k("tg:1"), k("wa:221771234567"), k("tg:3"));
    let claim = |chat: &ChatKey| Op::RecordOrder {
        order_no: no.clone(),
        order: Box::new(order.clone()),
        at,
        claimant: Some(chat.clone()),
    };
    // Proofs and owners of an order never recorded change nothing.
    store.commit(Op::OwnOrder { order_no: no.clone(), chat: second.clone() }).await.unwrap();
    store.commit(Op::FailedProof { order_no: no.clone(), chat: third.clone(), at }).await.unwrap();
    assert!(store.order(&no).await.unwrap().is_none());
    store.commit(record(&no, &order, at)).await.unwrap();
    assert!(store.order(&no).await.unwrap().unwrap().owners.is_empty(), "the tracker claims nothing");
    store.commit(claim(&first)).await.unwrap();
    store.commit(claim(&second)).await.unwrap();
    let stored = store.order(&no).await.unwrap().unwrap();
    assert_eq!(stored.owners, vec![first.clone()], "only the first claimant owns it");
    assert!(stored.open_to(&first) && !stored.open_to(&second));
    store.commit(Op::OwnOrder { order_no: no.clone(), chat: second.clone() }).await.unwrap();
    store.commit(Op::OwnOrder { order_no: no.clone(), chat: second.clone() }).await.unwrap();
    let stored = store.order(&no).await.unwrap().unwrap();
    assert_eq!(stored.owners, vec![first.clone(), second.clone()], "a proven chat is added once");
    assert!(!stored.open_to(&third));
    let day_ago = at - Duration::hours(25);
    let mut batch = Batch::new();
    batch.push(Op::FailedProof { order_no: no.clone(), chat: third.clone(), at: day_ago });
    batch.push(Op::FailedProof { order_no: no.clone(), chat: third.clone(), at });
    batch.push(Op::FailedProof { order_no: no.clone(), chat: k("tg:4"), at });
    store.commit(batch).await.unwrap();
    let stored = store.order(&no).await.unwrap().unwrap();
    assert_eq!(stored.recent_failed_proofs(at), 2, "a try older than a day no longer counts");
    assert_eq!(stored.wrong_proofs.len(), 2, "and is forgotten");
    assert_eq!(stored.recent_failed_proofs_by(&third, at), 1, "tries are counted per chat");
    assert_eq!(stored.proof_tries_left(&third, at), MAX_FAILED_PROOFS - 1);
    assert_eq!(stored.proof_tries_left(&k("tg:5"), at), MAX_FAILED_PROOFS, "another chat's do not count");
    // A later status keeps the owners and the tries.
    let mut delivered = order.clone();
    delivered.status = OrderStatus::Succeeded;
    store.commit(record(&no, &delivered, at)).await.unwrap();
    let stored = store.order(&no).await.unwrap().unwrap();
    assert_eq!((stored.owners.len(), stored.recent_failed_proofs(at)), (2, 2));
    assert_eq!(stored.order.status, OrderStatus::Succeeded);
    // Its owners forget themselves: the order stays closed, and no later claimant takes it.
    for chat in [&first, &second] {
        store.commit(Op::ForgetChat { chat: chat.clone() }).await.unwrap();
    }
    store.commit(claim(&third)).await.unwrap();
    let stored = store.order(&no).await.unwrap().unwrap();
    assert!(stored.owners.is_empty() && stored.claimed, "{stored:?}");
    assert!(!stored.open_to(&third) && !stored.open_to(&first), "the digits are asked of everyone");
    store.commit(Op::OwnOrder { order_no: no.clone(), chat: first.clone() }).await.unwrap();
    assert!(store.order(&no).await.unwrap().unwrap().open_to(&first), "proving the digits owns it again");
}

fn notice(chat: &ChatKey, no: &OrderNo, what: &str, at: chrono::DateTime<Utc>) -> Outgoing {
    Outgoing {
        id: Outgoing::id_for(chat, no, what),
        chat: chat.clone(),
        lang: Lang::Fr,
        notice: serde_json::json!({"kind": "watch_ended", "order_no": no.digits(), "hours": 24}),
        attempts: 0,
        next_at: Some(at),
        created_at: at,
        done_at: None,
        claimed_by: None,
    }
}

async fn the_outbox_records_a_notice_once_hands_it_to_one_sender_and_keeps_it_until_swept(store: Store) {
    let t0 = now();
    let (no, chat) = (order_no(40), k("tg:40"));
    store.commit(put(&no, Some(watch_of(&no, t0 + Duration::minutes(1))))).await.unwrap();
    // The watch ends and tells its watcher, in one write; told again (a replay), nothing new.
    for _ in 0..2 {
        let tell = notice(&chat, &no, "ended", t0);
        let update = move |stored: Option<Watch>| (None, stored.map(|_| tell.clone()).into_iter().collect());
        store.commit(Op::WatchAndTell { order_no: no.clone(), update: Box::new(update) }).await.unwrap();
    }
    assert!(store.watch(&no).await.unwrap().is_none());
    assert!(store.due_watches(t0 + Duration::hours(1), 10).await.unwrap().is_empty());
    let id = Outgoing::id_for(&chat, &no, "ended");
    assert_eq!(store.outgoing(&id).await.unwrap(), Some(notice(&chat, &no, "ended", t0)));
    // Two senders at once: one gets it.
    let claim = |store: Store, holder: &'static str| async move {
        store.claim_outgoing_for(holder, t0, t0 + Duration::seconds(60), 10).await.unwrap()
    };
    let (a, b) = tokio::join!(claim(store.clone(), "sender-a"), claim(store.clone(), "sender-b"));
    assert_eq!(a.len() + b.len(), 1, "{a:?} {b:?}");
    assert!(claim(store.clone(), "sender-a").await.is_empty(), "claimed: not due until the claim runs out");
    // Failed: due again at the time given, one attempt more.
    let retry = t0 + Duration::seconds(30);
    store
        .commit(Op::Outgoing {
            id: id.clone(),
            change: OutgoingChange::Retry { next_at: retry },
            holder: None,
        })
        .await
        .unwrap();
    assert!(
        store
            .claim_outgoing_for("sender-a", t0 + Duration::seconds(29), t0 + Duration::seconds(90), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.claim_outgoing_for("sender-a", retry, retry + Duration::seconds(60), 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    // Delivered: never due again, and not recorded again either, until it is swept.
    let done = t0 + Duration::seconds(31);
    store
        .commit(Op::Outgoing { id: id.clone(), change: OutgoingChange::Done { at: done }, holder: None })
        .await
        .unwrap();
    let later = (t0 + Duration::hours(1), t0 + Duration::hours(2));
    assert!(store.claim_outgoing_for("sender-a", later.0, later.1, 10).await.unwrap().is_empty());
    store.commit(put(&no, Some(watch_of(&no, t0)))).await.unwrap();
    let tell = notice(&chat, &no, "ended", t0);
    let update = move |_: Option<Watch>| (None, vec![tell.clone()]);
    store.commit(Op::WatchAndTell { order_no: no.clone(), update: Box::new(update) }).await.unwrap();
    assert_eq!(store.outgoing(&id).await.unwrap().unwrap().done_at, Some(done), "not recorded again");
    assert_eq!(store.sweep_outgoing(done).await.unwrap(), 0);
    assert_eq!(store.sweep_outgoing(done + Duration::seconds(1)).await.unwrap(), 1);
    assert!(store.outgoing(&id).await.unwrap().is_none());
}

/// Records `tell` in the outbox (as a watch that ends would).
async fn tell(store: &Store, no: &OrderNo, tell: Vec<Outgoing>) {
    let update = move |_: Option<Watch>| (None, tell.clone());
    store.commit(Op::WatchAndTell { order_no: no.clone(), update: Box::new(update) }).await.unwrap();
}

async fn a_claimed_notice_and_its_chat_are_one_senders_until_the_claim_runs_out(store: Store) {
    let t0 = now();
    let secs = |n: i64| t0 + Duration::seconds(n);
    let (chat, other, no) = (k("tg:95"), k("tg:96"), order_no(95));
    let first = notice(&chat, &no, "pending", t0);
    let second = notice(&chat, &no, "ended", secs(1));
    let others = notice(&other, &no, "ended", secs(2));
    tell(&store, &no, vec![first.clone(), second.clone(), others.clone()]).await;
    let ids = |claimed: &[Outgoing]| claimed.iter().map(|o| o.id.clone()).collect::<Vec<_>>();
    // The earliest due, for sender a, until its claim runs out.
    let a = store.claim_outgoing_for("sender-a", secs(5), secs(60), 1).await.unwrap();
    assert_eq!(ids(&a), [first.id.as_str()]);
    assert_eq!((a[0].claimed_by.as_deref(), a[0].next_at), (Some("sender-a"), Some(secs(60))));
    let stored = store.outgoing(&first.id).await.unwrap().unwrap();
    assert_eq!((stored.claimed_by.as_deref(), stored.next_at), (Some("sender-a"), Some(secs(60))));
    // Sender b: not the chat's other notice, due as it is (a holds the chat); another chat's, yes.
    let b = store.claim_outgoing_for("sender-b", secs(5), secs(65), 10).await.unwrap();
    assert_eq!(ids(&b), [others.id.as_str()]);
    let done = |id: &str, holder: &str, at| Op::Outgoing {
        id: id.into(),
        change: OutgoingChange::Done { at },
        holder: Some(holder.into()),
    };
    store.commit(done(&others.id, "sender-b", secs(6))).await.unwrap();
    let stored = store.outgoing(&others.id).await.unwrap().unwrap();
    assert_eq!((stored.done_at, stored.claimed_by), (Some(secs(6)), None));
    // A renews its claim before it runs out (b cannot: it is not b's); past the first end of the
    // claim, the chat is still a's.
    assert_eq!(
        store.renew_outgoing("sender-b", std::slice::from_ref(&first.id), secs(300)).await.unwrap(),
        0
    );
    let renewed = store.renew_outgoing("sender-a", &[first.id.clone(), others.id.clone()], secs(120)).await;
    assert_eq!(renewed.unwrap(), 1, "the claim still a's and not done");
    assert!(store.claim_outgoing_for("sender-b", secs(90), secs(150), 10).await.unwrap().is_empty());
    // A's claim runs out: b takes the chat's notices, earliest due first.
    let b = store.claim_outgoing_for("sender-b", secs(130), secs(190), 10).await.unwrap();
    assert_eq!(ids(&b), [second.id.as_str(), first.id.as_str()]);
    // A, late, marks what is now b's: nothing changes, and a cannot renew it either.
    store.commit(done(&first.id, "sender-a", secs(131))).await.unwrap();
    let retry = OutgoingChange::Retry { next_at: secs(500) };
    store
        .commit(Op::Outgoing { id: second.id.clone(), change: retry, holder: Some("sender-a".into()) })
        .await
        .unwrap();
    for id in [&first.id, &second.id] {
        let stored = store.outgoing(id).await.unwrap().unwrap();
        assert_eq!(
            (stored.claimed_by.as_deref(), stored.next_at),
            (Some("sender-b"), Some(secs(190))),
            "{id}"
        );
        assert_eq!((stored.done_at, stored.attempts), (None, 0));
    }
    assert_eq!(
        store.renew_outgoing("sender-a", std::slice::from_ref(&first.id), secs(400)).await.unwrap(),
        0
    );
    // B marks them: the claims end with it.
    store.commit(done(&first.id, "sender-b", secs(140))).await.unwrap();
    let retry = OutgoingChange::Retry { next_at: secs(200) };
    store
        .commit(Op::Outgoing { id: second.id.clone(), change: retry, holder: Some("sender-b".into()) })
        .await
        .unwrap();
    let stored = store.outgoing(&first.id).await.unwrap().unwrap();
    assert_eq!((stored.done_at, stored.next_at, stored.claimed_by), (Some(secs(140)), None, None));
    let stored = store.outgoing(&second.id).await.unwrap().unwrap();
    assert_eq!((stored.attempts, stored.next_at, stored.claimed_by), (1, Some(secs(200)), None));
    assert_eq!(
        store.renew_outgoing("sender-b", std::slice::from_ref(&first.id), secs(400)).await.unwrap(),
        0,
        "done"
    );
    // Due again, and the chat nobody's: any sender may take it.
    let a = store.claim_outgoing_for("sender-a", secs(200), secs(260), 10).await.unwrap();
    assert_eq!((ids(&a), a[0].attempts), (vec![second.id.clone()], 1));
}

async fn two_senders_claiming_at_once_never_share_a_chat(store: Store) {
    let t0 = now();
    for n in 0..5 {
        let (chat, no) = (k(&format!("tg:{}", 970 + n)), order_no(970 + n));
        tell(&store, &no, vec![notice(&chat, &no, "pending", t0), notice(&chat, &no, "ended", t0)]).await;
    }
    // Each claims one at a time, both at once, until nothing is left.
    let claim = |holder: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let one = store.claim_outgoing_for(holder, t0, t0 + Duration::seconds(60), 1).await.unwrap();
                if one.is_empty() {
                    return claimed;
                }
                claimed.extend(one);
            }
        })
    };
    let (x, y) = (claim("sender-x"), claim("sender-y"));
    let (x, y) = (x.await.unwrap(), y.await.unwrap());
    assert_eq!(x.len() + y.len(), 10, "each notice claimed once: {x:?} {y:?}");
    for outgoing in &x {
        assert!(!y.iter().any(|o| o.chat == outgoing.chat), "{} was shared: {x:?} {y:?}", outgoing.chat);
    }
}

fn reminder(chat: &ChatKey, digits: &str, next_at: chrono::DateTime<Utc>) -> Reminder {
    Reminder {
        chat: chat.clone(),
        lang: Lang::Fr,
        reference: CustomerReference::parse(Biller::Senelec, digits).unwrap(),
        due_day: (next_at + Duration::days(3)).date_naive(),
        days_before: 3,
        next_at,
        done: Vec::new(),
        created_at: next_at - Duration::days(5),
    }
}

async fn reminders_are_kept_per_chat_scheduled_given_once_and_cancelled(store: Store) {
    let t0 = now();
    let (a, b) = (k("tg:50"), k("wa:221770000050"));
    let later = reminder(&a, "1000000002", t0 + Duration::hours(2));
    let sooner = reminder(&a, "1000000001", t0 + Duration::hours(1));
    let others = reminder(&b, "1000000001", t0 + Duration::hours(1));
    for r in [&later, &sooner, &others] {
        store.commit(Op::Remind { reminder: r.clone() }).await.unwrap();
    }
    let listed = store.reminders(&a).await.unwrap();
    assert_eq!(listed.iter().map(|r| r.reference.as_str()).collect::<Vec<_>>(), ["1000000001", "1000000002"]);
    assert_eq!(store.reminder_count().await.unwrap(), 3);
    // Set again: replaced, not added.
    let mut moved = sooner.clone();
    moved.days_before = 7;
    store.commit(Op::Remind { reminder: moved.clone() }).await.unwrap();
    assert_eq!(store.reminders(&a).await.unwrap().len(), 2);
    assert!(store.reminders(&a).await.unwrap().contains(&moved));
    // Due: claimed by one of two claimers, pushed to the end of the claim.
    assert!(store.claim_reminders(t0, t0 + Duration::minutes(10), 10).await.unwrap().is_empty());
    let at = t0 + Duration::hours(1);
    let claim = |store: Store| async move {
        store.claim_reminders(at, at + Duration::minutes(10), 10).await.unwrap()
    };
    let (x, y) = tokio::join!(claim(store.clone()), claim(store.clone()));
    assert_eq!(x.len() + y.len(), 2, "both chats' reminders, each once: {x:?} {y:?}");
    assert!(x.iter().chain(&y).all(|r| r.next_at == at + Duration::minutes(10)));
    assert!(claim(store.clone()).await.is_empty());
    // Given: the stage is done and the notice recorded in the same write; a replay adds nothing.
    for _ in 0..2 {
        let tell = Outgoing {
            id: format!("{}|reminder|senelec:1000000001|before", a.storage_key()),
            chat: a.clone(),
            lang: Lang::Fr,
            notice: serde_json::json!({"kind": "watch_ended", "order_no": "202611200800000000001", "hours": 1}),
            attempts: 0,
            next_at: Some(at),
            created_at: at,
            done_at: None,
            claimed_by: None,
        };
        let update = move |stored: Option<Reminder>| {
            let Some(mut r) = stored else { return (None, Vec::new()) };
            if !r.done.contains(&ReminderStage::Before) {
                r.done.push(ReminderStage::Before);
            }
            r.next_at = at + Duration::days(3);
            (Some(r), vec![tell.clone()])
        };
        let reference = moved.reference.clone();
        store
            .commit(Op::ReminderStep { chat: a.clone(), reference, update: Box::new(update) })
            .await
            .unwrap();
    }
    let sent = store.claim_outgoing_for("sender", at, at + Duration::minutes(1), 10).await.unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let stored =
        store.reminders(&a).await.unwrap().into_iter().find(|r| r.reference == moved.reference).unwrap();
    assert_eq!((stored.done, stored.next_at), (vec![ReminderStage::Before], at + Duration::days(3)));
    // Due next: the other reference, and b's (its claim ran out); not the one just given.
    let keys = |claimed: Vec<Reminder>| {
        let mut keys: Vec<String> = claimed.iter().map(|r| format!("{} {}", r.chat, r.key())).collect();
        keys.sort();
        keys
    };
    let due = store.claim_reminders(at + Duration::hours(2), at + Duration::hours(3), 10).await.unwrap();
    assert_eq!(keys(due), [format!("{a} senelec:1000000002"), format!("{b} senelec:1000000001")]);
    // Cancelled: gone, and off the schedule.
    store.commit(Op::CancelReminder { chat: a.clone(), reference: later.reference.clone() }).await.unwrap();
    assert_eq!(store.reminders(&a).await.unwrap().len(), 1);
    let due = store.claim_reminders(at + Duration::days(30), at + Duration::days(31), 10).await.unwrap();
    assert_eq!(keys(due), [format!("{a} senelec:1000000001"), format!("{b} senelec:1000000001")]);
    // Forgetting a chat takes its reminders, not another chat's.
    store.commit(Op::ForgetChat { chat: a.clone() }).await.unwrap();
    assert!(store.reminders(&a).await.unwrap().is_empty());
    assert_eq!(store.reminders(&b).await.unwrap().len(), 1);
    assert_eq!(store.reminder_count().await.unwrap(), 1);
}

async fn tickets_are_found_by_id_and_by_chat_and_forgotten_with_it(store: Store) {
    let t0 = now();
    let (a, b) = (k("tg:60"), k("wa:221770000060"));
    let ticket = |id: &str, chat: &ChatKey, at| Ticket {
        id: id.into(),
        chat: chat.clone(),
        lang: Lang::En,
        opened_at: at,
        last_at: at,
        closed_at: None,
        messages: 1,
    };
    let first = ticket("AAAA2", &a, t0);
    let to_support = |n: u32| Outgoing {
        id: format!("tg:-1|ticket|AAAA2|{n}"),
        chat: k("tg:-1"),
        lang: Lang::Fr,
        notice: serde_json::json!({"kind": "to_support", "ticket": "AAAA2", "text": "?"}),
        attempts: 0,
        next_at: Some(t0),
        created_at: t0,
        done_at: None,
        claimed_by: None,
    };
    store.commit(Op::Ticket { ticket: first.clone(), tell: vec![to_support(1)] }).await.unwrap();
    store.commit(Op::Ticket { ticket: ticket("BBBB3", &b, t0), tell: Vec::new() }).await.unwrap();
    assert_eq!(store.ticket("AAAA2").await.unwrap(), Some(first.clone()));
    assert_eq!(store.latest_ticket(&a).await.unwrap(), Some(first.clone()));
    // A later ticket of the same chat is its latest; a change is written over.
    let second = ticket("CCCC4", &a, t0 + Duration::seconds(5));
    store.commit(Op::Ticket { ticket: second.clone(), tell: Vec::new() }).await.unwrap();
    let mut closed = second.clone();
    closed.closed_at = Some(t0 + Duration::seconds(9));
    store.commit(Op::Ticket { ticket: closed.clone(), tell: vec![to_support(1)] }).await.unwrap();
    assert_eq!(store.latest_ticket(&a).await.unwrap(), Some(closed));
    assert_eq!(
        store.claim_outgoing_for("sender", t0, t0 + Duration::minutes(1), 10).await.unwrap().len(),
        1,
        "recorded once"
    );
    store.commit(Op::ForgetChat { chat: a.clone() }).await.unwrap();
    assert!(store.latest_ticket(&a).await.unwrap().is_none());
    assert!(store.ticket("AAAA2").await.unwrap().is_none() && store.ticket("CCCC4").await.unwrap().is_none());
    assert!(store.ticket("BBBB3").await.unwrap().is_some(), "another chat's ticket stays");
}

async fn a_new_ticket_is_written_only_where_no_ticket_has_its_id(store: Store) {
    let t0 = now();
    let (a, b, c) = (k("tg:70"), k("wa:221770000070"), k("tg:71"));
    let ticket = |id: &str, chat: &ChatKey| Ticket {
        id: id.into(),
        chat: chat.clone(),
        lang: Lang::En,
        opened_at: t0,
        last_at: t0,
        closed_at: None,
        messages: 1,
    };
    let to_support = |id: &str, text: &str| Outgoing {
        id: format!("tg:-1|ticket|{id}|1|{text}"),
        chat: k("tg:-1"),
        lang: Lang::Fr,
        notice: serde_json::json!({"kind": "to_support", "ticket": id, "text": text}),
        attempts: 0,
        next_at: Some(t0),
        created_at: t0,
        done_at: None,
        claimed_by: None,
    };
    let first = ticket("DDDD5", &a);
    assert!(store.open_ticket(&first, &[to_support("DDDD5", "a")]).await.unwrap());
    assert_eq!(store.ticket("DDDD5").await.unwrap(), Some(first.clone()));
    assert_eq!(store.latest_ticket(&a).await.unwrap(), Some(first.clone()));
    assert!(store.outgoing("tg:-1|ticket|DDDD5|1|a").await.unwrap().is_some());

    // The same id for another customer: refused, and nothing of it written.
    let theirs = ticket("DDDD5", &b);
    assert!(!store.open_ticket(&theirs, &[to_support("DDDD5", "b")]).await.unwrap());
    assert_eq!(store.ticket("DDDD5").await.unwrap(), Some(first.clone()), "the first customer's ticket");
    assert_eq!(store.latest_ticket(&b).await.unwrap(), None);
    assert!(store.outgoing("tg:-1|ticket|DDDD5|1|b").await.unwrap().is_none());
    // Changes to an open ticket are still written over it.
    let mut closed = first.clone();
    closed.closed_at = Some(t0 + Duration::seconds(3));
    store.commit(Op::Ticket { ticket: closed.clone(), tell: Vec::new() }).await.unwrap();
    assert!(!store.open_ticket(&first, &[]).await.unwrap(), "a ticket is opened once");
    assert_eq!(store.ticket("DDDD5").await.unwrap(), Some(closed));

    // Two customers drawing one new id at once: one gets it.
    let (one, two) = (ticket("EEEE6", &b), ticket("EEEE6", &c));
    let (s1, s2) = (store.clone(), store.clone());
    let (got_one, got_two) = tokio::join!(
        async move { s1.open_ticket(&one, &[to_support("EEEE6", "b")]).await.unwrap() },
        async move { s2.open_ticket(&two, &[to_support("EEEE6", "c")]).await.unwrap() },
    );
    assert!(got_one ^ got_two, "one of the two: {got_one} {got_two}");
    let owner = store.ticket("EEEE6").await.unwrap().unwrap().chat;
    let (winner, loser) = if got_one { (&b, &c) } else { (&c, &b) };
    assert_eq!(&owner, winner);
    assert_eq!(store.latest_ticket(loser).await.unwrap(), None);
    let told = |who: &str| format!("tg:-1|ticket|EEEE6|1|{who}");
    let (w, l) = if got_one { ("b", "c") } else { ("c", "b") };
    assert!(
        store.outgoing(&told(w)).await.unwrap().is_some()
            && store.outgoing(&told(l)).await.unwrap().is_none()
    );
}

/// Everything kept about `chat` (and about `other`, which must survive its erasure).
async fn fill(store: &Store, chat: &ChatKey, other: &ChatKey, no: &OrderNo, at: chrono::DateTime<Utc>) {
    let mut batch = Batch::new();
    for c in [chat, other] {
        batch.push(Op::dialogue(c, &State::Menu).unwrap());
        batch.push(Op::Lang { chat: c.clone(), lang: Lang::Fr });
        let item = ActivityItem::Order { order_no: no.clone(), status: OrderStatus::Pending };
        batch.push(Op::Activity { chat: c.clone(), item, at });
        let reference = CustomerReference::parse(Biller::Senelec, refs::ONE_BILL).unwrap();
        batch.push(Op::SaveReference { chat: c.clone(), reference, nickname: Some("Maison".into()), at });
        batch.push(Op::hold(c, &"news", at).unwrap());
        batch.push(Op::OwnOrder { order_no: no.clone(), chat: c.clone() });
    }
    batch.push(Op::Alias { alias: k("wa:u.alias"), chat: chat.clone() });
    store.commit(batch).await.unwrap();
    let mut watch = watch_of(no, at + Duration::minutes(1));
    watch.watchers.push(Watcher { chat: chat.clone(), lang: Lang::Fr, since: at, told: vec![] });
    watch.watchers.push(Watcher { chat: other.clone(), lang: Lang::En, since: at, told: vec![] });
    let tell = vec![notice(chat, no, "ended", at), notice(other, no, "ended", at)];
    let update = move |_: Option<Watch>| (Some(watch.clone()), tell.clone());
    store.commit(Op::WatchAndTell { order_no: no.clone(), update: Box::new(update) }).await.unwrap();
}

async fn forgetting_a_chat_erases_all_it_left_and_nothing_of_others(store: Store) {
    let (chat, other, no) = (k("tg:50"), k("tg:500"), order_no(50));
    let t0 = now();
    store.commit(record(&no, &sample_order(), t0)).await.unwrap();
    fill(&store, &chat, &other, &no, t0).await;
    store.commit(Op::ForgetChat { chat: chat.clone() }).await.unwrap();
    assert_eq!(store.dialogue::<State>(&chat).await.unwrap(), None);
    assert_eq!(store.prefs(&chat).await.unwrap(), Prefs::default());
    assert!(store.activity(&chat).await.unwrap().is_empty());
    assert!(store.saved_references(&chat).await.unwrap().is_empty());
    assert!(store.held::<String>(&chat).await.unwrap().is_empty());
    assert_eq!(store.alias(&k("wa:u.alias")).await.unwrap(), None);
    assert!(store.outgoing(&Outgoing::id_for(&chat, &no, "ended")).await.unwrap().is_none());
    let record = store.order(&no).await.unwrap().expect("the order itself stays");
    assert_eq!(record.owners, vec![other.clone()]);
    let watch = store.watch(&no).await.unwrap().expect("still watched by the other chat");
    let watchers: Vec<ChatKey> = watch.watchers.iter().map(|w| w.chat.clone()).collect();
    assert!(!watchers.contains(&chat) && watchers.contains(&other), "{watchers:?}");
    // The other chat keeps everything.
    assert_eq!(store.dialogue::<State>(&other).await.unwrap(), Some(State::Menu));
    assert_eq!(store.prefs(&other).await.unwrap().lang, Some(Lang::Fr));
    assert_eq!(store.activity(&other).await.unwrap().len(), 1);
    assert_eq!(store.saved_references(&other).await.unwrap().len(), 1);
    assert_eq!(store.held::<String>(&other).await.unwrap().len(), 1);
    assert!(store.outgoing(&Outgoing::id_for(&other, &no, "ended")).await.unwrap().is_some());
    // A watch whose last watcher forgets itself ends, and leaves the schedule.
    for chat in watchers {
        store.commit(Op::ForgetChat { chat }).await.unwrap();
    }
    assert!(store.watch(&no).await.unwrap().is_none());
    assert!(store.due_watches(t0 + Duration::hours(1), 10).await.unwrap().is_empty());
}

/// Orders owned by `chats` other chats (one each), in batches.
async fn orders_of_others(store: &Store, chats: u64, at: chrono::DateTime<Utc>) {
    for chunk in (0..chats).collect::<Vec<_>>().chunks(500) {
        let mut batch = Batch::new();
        for n in chunk {
            batch.push(Op::RecordOrder {
                order_no: order_no(10_000 + n),
                order: Box::new(sample_order()),
                at,
                claimant: Some(k(&format!("tg:9{n}"))),
            });
        }
        store.commit(batch).await.unwrap();
    }
}

async fn forgetting_visits_only_the_records_indexed_under_the_chat(store: Store) {
    let t0 = now();
    orders_of_others(&store, 2_000, t0).await;
    let (chat, other) = (k("tg:77"), k("tg:9123"));
    let (mine, watched) = (order_no(77), order_no(78));
    let mut batch = Batch::new();
    batch.push(Op::RecordOrder {
        order_no: mine.clone(),
        order: Box::new(sample_order()),
        at: t0,
        claimant: None,
    });
    batch.push(Op::OwnOrder { order_no: mine.clone(), chat: chat.clone() });
    // An order of another chat the chat proved too.
    batch.push(Op::OwnOrder { order_no: order_no(10_123), chat: chat.clone() });
    batch.push(Op::Alias { alias: k("wa:u.seventy"), chat: chat.clone() });
    let ticket = Ticket {
        id: "TTTT7".into(),
        chat: chat.clone(),
        lang: Lang::Fr,
        opened_at: t0,
        last_at: t0,
        closed_at: None,
        messages: 1,
    };
    batch.push(Op::Ticket { ticket, tell: Vec::new() });
    store.commit(batch).await.unwrap();
    let mut watch = watch_of(&watched, t0);
    watch.watchers.clear();
    watch.watchers.push(Watcher { chat: chat.clone(), lang: Lang::Fr, since: t0, told: vec![] });
    store.commit(put(&watched, Some(watch))).await.unwrap();

    // The index lists exactly what names the chat among 2,000 orders of other chats.
    let expected = vec![
        Owned::Order(mine.clone()),
        Owned::Order(order_no(10_123)),
        Owned::Watch(watched.clone()),
        Owned::Ticket("TTTT7".into()),
        Owned::Alias(k("wa:u.seventy")),
    ];
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(store.owned(&chat).await.unwrap(), sorted);
    assert_eq!(store.owned(&other).await.unwrap(), vec![Owned::Order(order_no(10_123))]);

    store.commit(Op::ForgetChat { chat: chat.clone() }).await.unwrap();
    assert!(store.owned(&chat).await.unwrap().is_empty(), "nothing names the chat any more");
    assert!(store.order(&mine).await.unwrap().unwrap().owners.is_empty());
    assert_eq!(store.order(&order_no(10_123)).await.unwrap().unwrap().owners, vec![other.clone()]);
    assert!(store.watch(&watched).await.unwrap().is_none(), "its only watcher is gone");
    assert!(store.ticket("TTTT7").await.unwrap().is_none());
    assert_eq!(store.alias(&k("wa:u.seventy")).await.unwrap(), None);
    // Other chats' records and index entries are untouched.
    assert_eq!(store.owned(&other).await.unwrap(), vec![Owned::Order(order_no(10_123))]);
    for n in [0, 999, 1_999] {
        let owner = k(&format!("tg:9{n}"));
        assert_eq!(store.order(&order_no(10_000 + n)).await.unwrap().unwrap().owners, vec![owner.clone()]);
        assert_eq!(store.owned(&owner).await.unwrap(), vec![Owned::Order(order_no(10_000 + n))]);
    }
}

async fn the_index_follows_owners_watchers_and_tickets_as_they_come_and_go(store: Store) {
    let t0 = now();
    let (a, b) = (k("tg:81"), k("tg:82"));
    let no = order_no(81);
    store
        .commit(Op::RecordOrder {
            order_no: no.clone(),
            order: Box::new(sample_order()),
            at: t0,
            claimant: Some(a.clone()),
        })
        .await
        .unwrap();
    let mut watch = watch_of(&no, t0);
    watch.watchers.clear();
    for chat in [&a, &b] {
        watch.watchers.push(Watcher { chat: chat.clone(), lang: Lang::En, since: t0, told: vec![] });
    }
    store.commit(put(&no, Some(watch.clone()))).await.unwrap();
    assert_eq!(store.owned(&a).await.unwrap(), vec![Owned::Order(no.clone()), Owned::Watch(no.clone())]);
    assert_eq!(store.owned(&b).await.unwrap(), vec![Owned::Watch(no.clone())]);
    // A watcher leaves, then the watch ends: the index follows.
    watch.watchers.retain(|w| w.chat != b);
    store.commit(put(&no, Some(watch))).await.unwrap();
    assert!(store.owned(&b).await.unwrap().is_empty());
    store.commit(put(&no, None)).await.unwrap();
    assert_eq!(store.owned(&a).await.unwrap(), vec![Owned::Order(no.clone())]);
    // A swept order and ticket leave the index.
    let old = t0 - Duration::days(200);
    store
        .commit(Op::RecordOrder {
            order_no: no.clone(),
            order: Box::new(sample_order()),
            at: old,
            claimant: None,
        })
        .await
        .unwrap();
    let ticket = Ticket {
        id: "OLDA8".into(),
        chat: a.clone(),
        lang: Lang::En,
        opened_at: old,
        last_at: old,
        closed_at: Some(old),
        messages: 1,
    };
    store.commit(Op::Ticket { ticket, tell: Vec::new() }).await.unwrap();
    assert_eq!(store.owned(&a).await.unwrap(), vec![Owned::Order(no.clone()), Owned::Ticket("OLDA8".into())]);
    let swept = store.sweep_expired(t0 - Duration::days(180), t0 - Duration::days(30)).await.unwrap();
    assert_eq!((swept.orders, swept.tickets), (1, 1));
    assert!(store.owned(&a).await.unwrap().is_empty());
}

async fn an_order_swept_with_its_owners_is_nobodys_to_take_when_seen_again(store: Store) {
    let t0 = now();
    let (owned, ownerless, owner) = (order_no(91), order_no(92), k("tg:91"));
    let long_ago = t0 - Duration::days(200);
    let claimant = Some(owner.clone());
    store
        .commit(Op::RecordOrder {
            order_no: owned.clone(),
            order: Box::new(sample_order()),
            at: long_ago,
            claimant,
        })
        .await
        .unwrap();
    store.commit(record(&ownerless, &sample_order(), long_ago)).await.unwrap();
    let swept = store.sweep_expired(t0 - Duration::days(180), t0 - Duration::days(30)).await.unwrap();
    assert_eq!(swept.orders, 2);
    assert!(store.order(&owned).await.unwrap().is_none(), "the record is gone");
    assert!(store.swept_owned(&owned).await.unwrap(), "a mark that it had owners stays");
    assert!(!store.swept_owned(&ownerless).await.unwrap());
    // Seen again: the record is closed to a first claimant, and the mark goes.
    let mut batch = Batch::new();
    batch.push(Op::RecordOrder {
        order_no: owned.clone(),
        order: Box::new(sample_order()),
        at: t0,
        claimant: Some(k("tg:92")),
    });
    batch.push(Op::CloseOrder { order_no: owned.clone() });
    store.commit(batch).await.unwrap();
    assert!(!store.swept_owned(&owned).await.unwrap());
    let record = store.order(&owned).await.unwrap().unwrap();
    assert!(record.claimed && !record.open_to(&owner) && !record.open_to(&k("tg:93")), "{record:?}");
}

async fn orders_lookups_and_idle_dialogues_are_swept_after_their_time(store: Store) {
    let t0 = now();
    let (old, fresh) = (order_no(60), order_no(61));
    store.commit(record(&old, &sample_order(), t0 - Duration::days(200))).await.unwrap();
    store.commit(record(&fresh, &sample_order(), t0 - Duration::days(10))).await.unwrap();
    let (idle, active, silent) = (k("tg:60"), k("tg:61"), k("tg:62"));
    let mut batch = Batch::new();
    for (chat, last) in
        [(&idle, Some(t0 - Duration::days(40))), (&active, Some(t0 - Duration::days(2))), (&silent, None)]
    {
        batch.push(Op::dialogue(chat, &State::AwaitingOrderNo).unwrap());
        if last.is_some() {
            batch.push(Op::Prefs {
                chat: chat.clone(),
                prefs: Prefs { last_inbound_at: last, ..Default::default() },
            });
        }
    }
    let item = |n: u64| ActivityItem::Order { order_no: order_no(n), status: OrderStatus::Pending };
    batch.push(Op::Activity { chat: active.clone(), item: item(1), at: t0 - Duration::days(190) });
    batch.push(Op::Activity { chat: active.clone(), item: item(2), at: t0 - Duration::days(5) });
    for (id, days) in [("OLDT2", 200), ("NEWT3", 3)] {
        let at = t0 - Duration::days(days);
        let ticket = Ticket {
            id: id.into(),
            chat: active.clone(),
            lang: Lang::En,
            opened_at: at,
            last_at: at,
            closed_at: Some(at),
            messages: 2,
        };
        batch.push(Op::Ticket { ticket, tell: Vec::new() });
    }
    store.commit(batch).await.unwrap();
    let swept = store.sweep_expired(t0 - Duration::days(180), t0 - Duration::days(30)).await.unwrap();
    assert_eq!((swept.orders, swept.activity, swept.dialogues, swept.tickets), (1, 1, 2, 1), "{swept:?}");
    assert!(store.ticket("OLDT2").await.unwrap().is_none() && store.ticket("NEWT3").await.unwrap().is_some());
    assert!(store.order(&old).await.unwrap().is_none());
    assert!(store.order(&fresh).await.unwrap().is_some());
    assert_eq!(store.dialogue::<State>(&idle).await.unwrap(), None);
    assert_eq!(store.dialogue::<State>(&silent).await.unwrap(), None);
    assert_eq!(store.dialogue::<State>(&active).await.unwrap(), Some(State::AwaitingOrderNo));
    assert_eq!(store.activity(&active).await.unwrap().len(), 1);
    assert!(store.prefs(&idle).await.unwrap().last_inbound_at.is_some(), "prefs are kept");
    let again = store.sweep_expired(t0 - Duration::days(180), t0 - Duration::days(30)).await.unwrap();
    assert_eq!((again.orders, again.activity, again.dialogues), (0, 0, 0));
}

/// One test a contract item, for one backend.
async fn a_web_conversation_is_numbered_in_order_resumed_after_a_number_capped_and_erased(store: Store) {
    use billbot::store::{WEB_LOG_KEPT, WebLine};
    let (page, other) =
        (k("web:0123456789abcdef0123456789abcdef"), k("web:fedcba9876543210fedcba9876543210"));
    let t0 = now();
    let first = store.web_log_append(&page, &["hello".to_owned(), "Menu".to_owned()], t0).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[1], first[0] + 1);
    assert!(first[0] >= t0.timestamp_micros(), "numbers start at the time in microseconds");
    // Written earlier by a clock behind: still after the last.
    let behind = store
        .web_log_append(&page, &["<b>&amp;</b> \u{0}".to_owned()], t0 - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(behind, vec![first[1] + 1]);
    store.web_log_append(&other, &["other chat".to_owned()], t0).await.unwrap();
    let all: Vec<WebLine<String>> = store.web_log_after(&page, 0).await.unwrap();
    let lines: Vec<&str> = all.iter().map(|l| l.line.as_str()).collect();
    assert_eq!(
        lines,
        ["hello", "Menu", "<b>&amp;</b> \u{fffd}"],
        "in order, text as written, the NUL made U+FFFD"
    );
    let after: Vec<WebLine<String>> = store.web_log_after(&page, first[0]).await.unwrap();
    assert_eq!(after.iter().map(|l| l.seq).collect::<Vec<_>>(), vec![first[1], behind[0]]);
    assert!(
        store.web_log_after::<String>(&page, behind[0]).await.unwrap().is_empty(),
        "nothing after the last"
    );

    // Writers at once: every number once, each visible in order.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (store, page) = (store.clone(), page.clone());
            tokio::spawn(async move {
                let mut numbers = Vec::new();
                for i in 0..5 {
                    numbers.extend(store.web_log_append(&page, &[format!("{w}-{i}")], now()).await.unwrap());
                }
                numbers
            })
        })
        .collect();
    let mut written = Vec::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    let read: Vec<i64> =
        store.web_log_after::<String>(&page, behind[0]).await.unwrap().iter().map(|l| l.seq).collect();
    written.sort();
    assert_eq!(read, written, "40 lines, 40 distinct numbers, read back in order");

    // The newest are kept.
    let many: Vec<String> = (0..WEB_LOG_KEPT).map(|i| format!("line {i}")).collect();
    store.web_log_append(&page, &many, now()).await.unwrap();
    let kept: Vec<WebLine<String>> = store.web_log_after(&page, 0).await.unwrap();
    assert_eq!(kept.len(), WEB_LOG_KEPT);
    assert_eq!(kept[0].line, "line 0");
    assert_eq!(kept.last().unwrap().line, format!("line {}", WEB_LOG_KEPT - 1));
    let last = kept.last().unwrap().seq;

    // /forget erases the chat's lines and no other's; numbering goes on above what a page holds.
    store.commit(Op::ForgetChat { chat: page.clone() }).await.unwrap();
    assert!(store.web_log_after::<String>(&page, 0).await.unwrap().is_empty());
    assert_eq!(store.web_log_after::<String>(&other, 0).await.unwrap().len(), 1);
    let again = store.web_log_append(&page, &["after forget".to_owned()], t0).await.unwrap();
    assert!(again[0] > last, "{} after {last}", again[0]);

    // Swept with idle dialogues: by the time each line was written.
    store.web_log_append(&other, &["old".to_owned()], t0 - Duration::days(40)).await.unwrap();
    let swept = store.sweep_expired(t0 - Duration::days(180), t0 - Duration::days(30)).await.unwrap();
    assert_eq!(swept.web_lines, 1, "the line written 40 days ago");
    assert_eq!(store.web_log_after::<String>(&other, 0).await.unwrap().len(), 1);
    let stale = store.sweep_expired(t0 - Duration::days(180), t0 + Duration::days(1)).await.unwrap();
    assert_eq!(stale.web_lines, 2, "every line older than the idle limit");
    assert!(store.web_log_after::<String>(&other, 0).await.unwrap().is_empty());
}

macro_rules! contract {
    ($backend:ident, $open:expr) => {
        mod $backend {
            contract!(@tests $open;
                a_batch_is_applied_in_order_and_read_back,
                an_orders_status_history_records_each_change_once,
                concurrent_writers_of_one_order_lose_no_status_change,
                activity_is_newest_first_deduplicated_and_capped,
                a_steps_end_lands_with_the_chats_own_writes_as_if_in_order,
                a_steps_order_lands_with_its_end_and_a_change_made_meanwhile_is_kept,
                saved_references_are_kept_per_chat_renamed_and_deleted,
                watches_are_scheduled_rescheduled_and_ended,
                concurrent_updates_of_one_watch_each_build_on_the_last,
                an_inbound_message_is_taken_once_kept_until_handled_and_forgotten_after_a_week,
                a_chats_messages_are_handed_out_in_the_channels_order_whatever_order_they_came_in,
                a_burst_of_messages_is_taken_in_once_each_and_handed_out_in_each_chats_order,
                an_unreadable_message_is_skipped_and_removed_not_left_to_hold_up_its_chat,
                chats_whose_messages_wait_unhandled_are_found_and_swept_with_their_ids,
                a_step_may_end_keeping_its_lease_and_unlock_once_its_replies_are_out,
                held_notices_come_back_oldest_first_within_a_limit_and_once,
                an_alias_stands_for_its_chat,
                an_order_is_owned_by_its_first_claimant_and_proofs_are_counted_for_a_day,
                the_outbox_records_a_notice_once_hands_it_to_one_sender_and_keeps_it_until_swept,
                a_claimed_notice_and_its_chat_are_one_senders_until_the_claim_runs_out,
                two_senders_claiming_at_once_never_share_a_chat,
                forgetting_a_chat_erases_all_it_left_and_nothing_of_others,
                forgetting_visits_only_the_records_indexed_under_the_chat,
                the_index_follows_owners_watchers_and_tickets_as_they_come_and_go,
                an_order_swept_with_its_owners_is_nobodys_to_take_when_seen_again,
                orders_lookups_and_idle_dialogues_are_swept_after_their_time,
                reminders_are_kept_per_chat_scheduled_given_once_and_cancelled,
                tickets_are_found_by_id_and_by_chat_and_forgotten_with_it,
                a_new_ticket_is_written_only_where_no_ticket_has_its_id,
                a_web_conversation_is_numbered_in_order_resumed_after_a_number_capped_and_erased
            );
        }
    };
    (@tests $open:expr; $($test:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let Some((store, _guard)) = $open(stringify!($test)).await else { return };
                super::$test(store).await;
            }
        )+
    };
}

/// A sled store in a temporary directory (removed with the guard).
async fn sled_store(_: &str) -> Option<(Store, Box<dyn std::any::Any + Send>)> {
    let dir = tempfile::tempdir().unwrap();
    Some((Store::open(dir.path()).unwrap(), Box::new(dir)))
}

/// A PostgreSQL store in a schema of its own (dropped with the guard).
async fn postgres_store(test: &str) -> Option<(Store, Box<dyn std::any::Any + Send>)> {
    let (store, schema) = common::pg::store(test).await?;
    Some((store, Box::new(schema)))
}

contract!(sled, super::sled_store);
contract!(postgres, super::postgres_store);

/// Two instances on one PostgreSQL database: what only one may do at a time, and chats they take
/// turns on.
mod instances {
    use billbot::store::Store;
    use billbot::store::postgres::PgSettings;

    use super::{ActivityItem, Batch, Biller, Lang, Op, Prefs, k, now};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_instance_polls_and_another_takes_over_when_it_stops() {
        let Some(schema) = crate::common::pg::schema("one_instance_polls").await else { return };
        let a = Store::connect_with(schema.options(), &PgSettings::default()).await.unwrap();
        let b = Store::connect_with(schema.options(), &PgSettings::default()).await.unwrap();
        let polling = a.exclusive("telegram-polling").await.unwrap();
        assert!(polling.is_some());
        assert!(b.exclusive("telegram-polling").await.unwrap().is_none(), "one poller at a time");
        assert!(b.exclusive("another-job").await.unwrap().is_some(), "jobs are independent");
        drop(polling); // the instance stops (or dies: its session ends)
        let mut taken = None;
        for _ in 0..50 {
            taken = b.exclusive("telegram-polling").await.unwrap();
            if taken.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(taken.is_some(), "the other instance takes over");
    }

    /// Many steps ending at once (PostgreSQL writes their ends together): each lands as if alone,
    /// with its prefs, activity item, state and handled message; a step whose lease was lost writes
    /// nothing and is told so; a kept lease stays held.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn steps_ending_at_once_each_land_as_if_alone_and_a_lost_lease_writes_nothing() {
        use billbot::conversation::State;
        let Some(schema) = crate::common::pg::schema("ends_at_once").await else { return };
        let store = Store::connect_with(schema.options(), &PgSettings::default()).await.unwrap();
        let t0 = now();
        let chats: Vec<_> = (0..60).map(|n| k(&format!("tg:77{n:02}"))).collect();
        let mut ends = Vec::new();
        for (n, chat) in chats.iter().enumerate() {
            let id = format!("tg:update:77{n:02}");
            assert!(store.inbox_take(&id, chat, 1, &"hi", t0).await.unwrap());
            let lease = store.lock_chat(chat).await.unwrap();
            let mut batch = Batch::new();
            let lang = if n % 2 == 0 { Lang::Fr } else { Lang::En };
            batch.push(Op::Prefs {
                chat: chat.clone(),
                prefs: Prefs { lang: Some(lang), ..Prefs::default() },
            });
            if n % 3 == 0 {
                let item = ActivityItem::Lookup { biller: Biller::Senelec, reference: format!("{n:010}") };
                batch.push(Op::Activity { chat: chat.clone(), item, at: t0 });
            }
            let state = if n % 2 == 0 { State::Menu } else { State::AwaitingOrderNo };
            batch.push(match n {
                // Its lease is another holder's now: the end must write nothing.
                0 => Op::EndStep {
                    chat: chat.clone(),
                    state: serde_json::to_vec(&state).unwrap(),
                    handled: Some(id.clone()),
                    holder: "an instance that died".into(),
                    release: true,
                },
                n if n % 5 == 0 => lease.end_step_keeping(&state, Some(id.clone())).unwrap(),
                _ => lease.end_step(&state, Some(id.clone())).unwrap(),
            });
            ends.push((n, lease, batch));
        }
        let committing: Vec<_> = ends
            .into_iter()
            .map(|(n, lease, batch)| {
                let store = store.clone();
                tokio::spawn(async move { (n, lease, store.commit(batch).await) })
            })
            .collect();
        let mut kept = Vec::new();
        for done in committing {
            let (n, lease, committed) = done.await.unwrap();
            match n {
                0 => assert!(
                    matches!(committed, Err(billbot::store::StoreError::LeaseLost(_))),
                    "{committed:?}"
                ),
                _ => committed.unwrap(),
            }
            if n % 5 == 0 {
                kept.push(lease);
            }
        }
        for (n, chat) in chats.iter().enumerate() {
            let (start, next) = store.turn_start_next::<State, String>(chat).await.unwrap();
            let lang = if n % 2 == 0 { Lang::Fr } else { Lang::En };
            let state = if n % 2 == 0 { State::Menu } else { State::AwaitingOrderNo };
            let items = store.activity(chat).await.unwrap().len();
            if n == 0 {
                assert_eq!((start.prefs.lang, start.dialogue, items), (None, None, 0), "nothing landed");
                assert!(next.is_some(), "the message still waits");
                continue;
            }
            assert_eq!((start.prefs.lang, start.dialogue), (Some(lang), Some(state)), "chat {n}");
            assert_eq!(items, usize::from(n % 3 == 0), "chat {n}");
            assert!(next.is_none(), "chat {n}'s message handled");
        }
        // Kept leases are still held (chat 0's too: its step's end was refused), released ones gone.
        let pool = store.postgres().unwrap().pool().clone();
        let held: Vec<String> =
            sqlx::query_scalar("SELECT chat FROM chat_locks ORDER BY chat").fetch_all(&pool).await.unwrap();
        let expected: Vec<String> = (0..60).step_by(5).map(|n| chats[n].storage_key()).collect();
        assert_eq!(held, expected);
        for lease in kept {
            store.unlock(lease).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_chats_steps_on_two_instances_take_turns_and_a_lost_lease_drops_the_writes() {
        let Some(schema) = crate::common::pg::schema("chat_leases").await else { return };
        let a = Store::connect_with(schema.options(), &PgSettings::default()).await.unwrap();
        let b = Store::connect_with(schema.options(), &PgSettings::default()).await.unwrap();
        let chat = k("tg:7");
        let first = a.lock_chat(&chat).await.unwrap();
        let waiting = {
            let (b, chat) = (b.clone(), chat.clone());
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let lease = b.lock_chat(&chat).await.unwrap();
                (started.elapsed(), lease)
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "the second step waits for the first");
        a.commit(first.release()).await.unwrap();
        let (waited, second) = waiting.await.unwrap();
        assert!(waited >= std::time::Duration::from_millis(300), "{waited:?}");
        // The lease was taken over (as when it runs out): the old holder's commit is refused whole.
        let stale = Op::Unlock { chat: chat.clone(), holder: "an instance that died".into() };
        let mut batch = billbot::store::Batch::new();
        batch.push(Op::Lang { chat: chat.clone(), lang: billbot::i18n::Lang::Fr });
        batch.push(stale);
        assert!(matches!(a.commit(batch).await, Err(billbot::store::StoreError::LeaseLost(_))));
        assert_eq!(a.prefs(&chat).await.unwrap().lang, None, "nothing of that step landed");
        b.commit(second.release()).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_step_that_keeps_its_lease_holds_its_chat_until_it_unlocks_and_a_lost_one_writes_nothing() {
        use billbot::conversation::State;
        use std::time::Duration;
        let Some(schema) = crate::common::pg::schema("kept_leases").await else { return };
        let a = Store::connect_with(schema.options(), &PgSettings::default()).await.unwrap();
        let b = Store::connect_with(schema.options(), &PgSettings::default()).await.unwrap();
        let (chat, t0) = (k("tg:8"), chrono::Utc::now());
        assert!(a.inbox_take("tg:update:81", &chat, 81, &"first", t0).await.unwrap());
        assert!(a.inbox_take("tg:update:82", &chat, 82, &"second", t0).await.unwrap());
        let lease = a.lock_chat(&chat).await.unwrap();
        a.commit(lease.end_step_keeping(&State::Menu, Some("tg:update:81".into())).unwrap()).await.unwrap();
        assert!(!super::pending(&b, "tg:update:81").await, "the step's writes landed");
        // Its replies go out: the chat's next message waits, on every instance.
        assert!(tokio::time::timeout(Duration::from_secs(1), b.lock_chat(&chat)).await.is_err(), "still a's");
        a.unlock(lease).await;
        let taken = tokio::time::timeout(Duration::from_secs(1), b.lock_chat(&chat)).await;
        let second = taken.expect("free once unlocked").unwrap();
        // A step whose lease was taken over ends alone in its batch: none of its end lands.
        for release in [true, false] {
            let stale = Op::EndStep {
                chat: chat.clone(),
                state: br#"{"v":1,"data":"not this"}"#.to_vec(),
                handled: Some("tg:update:82".into()),
                holder: "an instance that died".into(),
                release,
            };
            assert!(matches!(a.commit(stale).await, Err(billbot::store::StoreError::LeaseLost(_))));
            assert_eq!(a.dialogue::<State>(&chat).await.unwrap(), Some(State::Menu), "release: {release}");
            assert!(super::pending(&a, "tg:update:82").await, "release: {release}");
        }
        b.commit(second.end_step(&State::AwaitingOrderNo, Some("tg:update:82".into())).unwrap())
            .await
            .unwrap();
        assert!(!super::pending(&a, "tg:update:82").await);
        let again = tokio::time::timeout(Duration::from_secs(1), a.lock_chat(&chat)).await;
        a.unlock(again.expect("released with the step's end").unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_step_whose_lease_was_lost_writes_none_of_what_its_end_carries() {
        use billbot::conversation::State;
        let Some(schema) = crate::common::pg::schema("lost_fold").await else { return };
        let a = Store::connect_with(schema.options(), &PgSettings::default()).await.unwrap();
        let chat = k("tg:10");
        let mut batch = Batch::new();
        batch.push(Op::Prefs {
            chat: chat.clone(),
            prefs: Prefs { lang: Some(Lang::Fr), ..Prefs::default() },
        });
        let item = ActivityItem::Lookup { biller: Biller::Senelec, reference: "1000000002".into() };
        batch.push(Op::Activity { chat: chat.clone(), item, at: now() });
        batch.push(Op::EndStep {
            chat: chat.clone(),
            state: br#"{"v":1,"data":"not this"}"#.to_vec(),
            handled: None,
            holder: "an instance that died".into(),
            release: true,
        });
        assert!(matches!(a.commit(batch).await, Err(billbot::store::StoreError::LeaseLost(_))));
        assert_eq!(a.prefs(&chat).await.unwrap().lang, None, "no prefs");
        assert!(a.activity(&chat).await.unwrap().is_empty(), "no activity");
        assert_eq!(a.dialogue::<State>(&chat).await.unwrap(), None, "no state");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_step_whose_lease_was_lost_records_no_order_it_read() {
        use billbot::conversation::State;
        let Some(schema) = crate::common::pg::schema("lost_order").await else { return };
        let a = Store::connect_with(schema.options(), &PgSettings::default()).await.unwrap();
        let (chat, no) = (k("tg:11"), super::order_no(61));
        assert!(a.order(&no).await.unwrap().is_none(), "read by the step");
        let mut batch = Batch::new();
        let order = Box::new(super::sample_order());
        batch.push(Op::RecordOrder { order_no: no.clone(), order, at: now(), claimant: Some(chat.clone()) });
        batch.push(Op::EndStep {
            chat: chat.clone(),
            state: br#"{"v":1,"data":"not this"}"#.to_vec(),
            handled: None,
            holder: "an instance that died".into(),
            release: true,
        });
        assert!(matches!(a.commit(batch).await, Err(billbot::store::StoreError::LeaseLost(_))));
        assert!(a.order(&no).await.unwrap().is_none(), "no order");
        assert_eq!(a.dialogue::<State>(&chat).await.unwrap(), None, "no state");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_turn_is_taken_with_its_start_in_one_go_released_later_and_taken_over_by_its_own_instance() {
        use billbot::conversation::State;
        use billbot::store::TurnStart;
        use std::time::Duration;
        type Taken = (billbot::store::ChatLease, TurnStart<State>, Option<(String, String)>);
        let Some(schema) = crate::common::pg::schema("taken_turns").await else { return };
        let a = Store::connect_with(schema.options(), &PgSettings::default()).await.unwrap();
        let b = Store::connect_with(schema.options(), &PgSettings::default()).await.unwrap();
        let (chat, t0) = (k("tg:9"), chrono::Utc::now());
        a.commit(Op::dialogue(&chat, &State::AwaitingOrderNo).unwrap()).await.unwrap();
        assert!(b.inbox_take("tg:update:92", &chat, 92, &"second", t0).await.unwrap());
        assert!(b.inbox_take("tg:update:91", &chat, 91, &"first", t0).await.unwrap());
        let (lease, start, next): Taken = a.take_turn(&chat).await.unwrap();
        assert_eq!(start.dialogue, Some(State::AwaitingOrderNo), "the state, read with the lease");
        assert_eq!(next, Some(("tg:update:91".to_owned(), "first".to_owned())), "the oldest message");
        a.commit(lease.end_step_keeping(&State::Menu, Some("tg:update:91".into())).unwrap()).await.unwrap();
        // Held until released: another instance waits, this one takes it over (its next turn of
        // the chat, the release being on its way).
        let other =
            tokio::time::timeout(Duration::from_millis(500), b.take_turn::<State, String>(&chat)).await;
        assert!(other.is_err(), "another instance waits while the lease is held");
        let (again, start, next): Taken =
            tokio::time::timeout(Duration::from_millis(500), a.take_turn(&chat)).await.unwrap().unwrap();
        assert_eq!(start.dialogue, Some(State::Menu));
        assert_eq!(next.map(|(id, _)| id).as_deref(), Some("tg:update:92"));
        a.commit(again.end_step_keeping(&State::Menu, Some("tg:update:92".into())).unwrap()).await.unwrap();
        a.release(again);
        let (last, _, next): Taken = tokio::time::timeout(Duration::from_secs(2), b.take_turn(&chat))
            .await
            .expect("released soon")
            .unwrap();
        assert_eq!(next, None, "both messages handled");
        b.release(last);
    }
}
