//! Reminders of bills' due dates: set from a bill result in the conversation, listed and
//! cancelled; given by the reminder job at 09:00 Dakar time after a fresh inquiry against the
//! sandbox over loopback, once per stage, through the outbox.

mod common;

use std::sync::Arc;

use billbot::conversation::limits::{LookupLimits, Lookups};
use billbot::conversation::notices;
use billbot::conversation::{Action, Role};
use billbot::domain::{Biller, CustomerReference};
use billbot::i18n::{Lang, format};
use billbot::outbox::Notice;
use billbot::reminders::{self, Reminders};
use billbot::sandbox::fixtures::refs;
use billbot::store::{Op, Prefs, Reminder, ReminderStage, Store};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use common::chat::Harness;
use common::{reference, sandbox_clients};

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn at(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap()).and_utc()
}

fn job(h: &Harness) -> Arc<Reminders> {
    let (inquiry, _) = sandbox_clients(&h.sandbox);
    Arc::new(Reminders::new(h.bot.store().clone(), inquiry))
}

/// The notice the outbox holds for `reminder`'s `stage`, if any.
async fn given(store: &Store, reminder: &Reminder, stage: ReminderStage) -> Option<Notice> {
    let outgoing = store.outgoing(&reminders::outgoing_id(reminder, stage)).await.unwrap()?;
    Some(serde_json::from_value(outgoing.notice).unwrap())
}

#[tokio::test]
async fn a_reminder_is_set_from_a_bill_changed_listed_and_cancelled_in_both_languages() {
    let h = Harness::new().await;
    let mut c = h.chat("remind-en", "en", Role::Customer);
    c.say("/bill").await;
    c.press("Senelec").await;
    c.say(refs::SEVERAL_BILLS).await;
    let due = today() + Duration::days(9);
    let set = c.press("Remind me").await;
    let expected = format!(
        "I will remind you 3 days before the due date ({}) and on the day ({}), at 9:00 Dakar time",
        format::date(Lang::En, due - Duration::days(3)),
        format::date(Lang::En, due)
    );
    assert!(set.contains(&expected), "{set}");
    assert!(c.has_button("1 day before") && c.has_button("7 days before"), "{:?}", c.labels());
    let changed = c.press("7 days before").await;
    assert!(changed.contains("7 days before the due date"), "{changed}");
    let stored = h.bot.store().reminders(&c.key).await.unwrap();
    assert_eq!(stored.len(), 1, "set again, replaced: {stored:?}");
    assert_eq!((stored[0].days_before, stored[0].due_day), (7, due));
    let list = c.say("/reminders").await;
    let line = format!(
        "• Senelec 1000000002: due {}, reminded 7 days before and on the day",
        format::date(Lang::En, due)
    );
    assert!(list.contains(&line), "{list}");
    let cancelled = c.press("✖ Senelec").await;
    assert!(cancelled.starts_with("Reminder for Senelec 1000000002 cancelled."), "{cancelled}");
    assert!(cancelled.contains("You have no reminders."), "{cancelled}");
    assert!(h.bot.store().reminders(&c.key).await.unwrap().is_empty());
    // The cancel button again (stale): said so, nothing else changes.
    let again = c.press_action(Action::CancelReminder(reference(Biller::Senelec, refs::SEVERAL_BILLS))).await;
    assert!(again.starts_with("That reminder was already over or cancelled."), "{again}");

    // French, and nothing to remind of when every bill is paid.
    let mut fr = h.chat("remind-fr", "fr", Role::Customer);
    fr.say("/bill").await;
    fr.press("Senelec").await;
    fr.say(refs::ALL_PAID).await;
    assert!(!fr.has_button("Me le rappeler"), "{:?}", fr.labels());
    fr.say(refs::ONE_BILL).await;
    let set = fr.press("Me le rappeler").await;
    assert!(set.contains("je vous le rappellerai 3 jours avant l'échéance"), "{set}");
    assert!(fr.say("/reminders").await.contains("rappel 3 jours avant et le jour même"));
}

#[tokio::test]
async fn a_forged_or_past_reminder_button_changes_nothing() {
    let h = Harness::new().await;
    let mut c = h.chat("remind-forged", "en", Role::Customer);
    let several = reference(Biller::Senelec, refs::SEVERAL_BILLS);
    let due = today() + Duration::days(9);
    // Unsigned, as before signing: 5 days before (not a choice), a date that is not one, a bill.
    let day = due.format("%Y%m%d");
    for payload in [
        "v1:rm:senelec:1000000002:20991231:5".to_owned(),
        "v1:rm:senelec:1000000002:20991331:3".to_owned(),
        format!("v1:rm:senelec:1000000002:{day}:3"),
    ] {
        assert!(c.press_payload(&payload).await.starts_with("This menu has expired"), "{}", c.text());
    }
    // Signed, but not a choice of days.
    let five = Action::Remind { reference: several.clone(), due_day: due, days: 5 };
    assert!(c.press_action(five).await.starts_with("This menu has expired"), "{}", c.text());
    assert!(h.bot.store().reminders(&c.key).await.unwrap().is_empty());

    // A genuine button pressed once its due day's morning has passed (shown yesterday).
    let past = today() - Duration::days(1);
    let mut prefs = h.bot.store().prefs(&c.key).await.unwrap();
    prefs.seen_bills.record(&several, past, past);
    h.bot.store().commit(Op::Prefs { chat: c.key.clone(), prefs }).await.unwrap();
    let text = c.press_action(Action::Remind { reference: several, due_day: past, days: 3 }).await;
    assert!(text.contains("is today or past: there is nothing left to remind you of"), "{text}");
    assert!(h.bot.store().reminders(&c.key).await.unwrap().is_empty());
}

/// A chat's prefs with `count` bill lookups at `at`, and French chosen.
fn looked_up(count: usize, at: DateTime<Utc>) -> Prefs {
    let lookups = Lookups { bills: vec![at; count], ..Default::default() };
    Prefs { lang: Some(Lang::Fr), lookups, ..Default::default() }
}

#[tokio::test]
async fn the_jobs_fresh_lookup_counts_toward_the_chats_limits_and_none_is_made_beyond_them() {
    let h = Harness::new().await;
    let store = h.bot.store().clone();
    let (inquiry, _) = sandbox_clients(&h.sandbox);
    let limits = LookupLimits { per_minute: 10, per_hour: 2 };
    let job = Arc::new(Reminders::new(store.clone(), inquiry).with_limits(limits));
    let due = today() + Duration::days(9);
    let speak = at(due - Duration::days(3), 9);
    // Two lookups in the last hour: the chat is at its limit. One: it has one left.
    let full = direct("tg:81", refs::SEVERAL_BILLS, due, Utc::now());
    let room = direct("tg:82", refs::SEVERAL_BILLS, due, Utc::now());
    let before = speak - Duration::minutes(10);
    for (r, count) in [(&full, 2), (&room, 1)] {
        store.commit(Op::Remind { reminder: r.clone() }).await.unwrap();
        store.commit(Op::Prefs { chat: r.chat.clone(), prefs: looked_up(count, before) }).await.unwrap();
    }
    let calls = h.sandbox.inquiry_calls();
    assert_eq!(job.run_due(speak, 100).await.unwrap(), 2);
    assert_eq!(h.sandbox.inquiry_calls(), calls + 1, "one lookup: the chat with room for it");
    // Over its limits: reminded without an amount, and no lookup counted.
    let notice = given(&store, &full, ReminderStage::Before).await.expect("reminded all the same");
    assert!(matches!(notice, Notice::Reminder { amount: None, .. }), "{notice:?}");
    assert_eq!(store.prefs(&full.chat).await.unwrap().lookups.bills, vec![before; 2]);
    // Within them: the amount, and the lookup counted with the chat's own (its language kept).
    let notice = given(&store, &room, ReminderStage::Before).await.expect("reminded");
    assert!(matches!(notice, Notice::Reminder { amount: Some(_), .. }), "{notice:?}");
    let prefs = store.prefs(&room.chat).await.unwrap();
    assert_eq!(prefs.lookups.bills, vec![before, speak]);
    assert_eq!(prefs.lang, Some(Lang::Fr));
    // An hour later the allowance is back: the reminder on the day has its lookup.
    assert_eq!(job.run_due(at(due, 9), 100).await.unwrap(), 2);
    assert_eq!(h.sandbox.inquiry_calls(), calls + 3);
    let notice = given(&store, &full, ReminderStage::OnTheDay).await.expect("on the day");
    assert!(matches!(notice, Notice::Reminder { amount: Some(_), .. }), "{notice:?}");
}

#[tokio::test]
async fn the_job_reminds_before_and_on_the_day_once_each_with_a_fresh_amount() {
    let h = Harness::new().await;
    let mut c = h.chat("remind-job", "en", Role::Customer);
    c.say("/bill").await;
    c.press("Senelec").await;
    c.say(refs::SEVERAL_BILLS).await;
    c.press("Remind me").await;
    let store = h.bot.store().clone();
    let reminder = store.reminders(&c.key).await.unwrap().remove(0);
    let due = today() + Duration::days(9);
    assert_eq!(reminder.next_at, at(due - Duration::days(3), 9));
    let job = job(&h);
    // Not yet.
    assert_eq!(job.run_due(at(due - Duration::days(3), 8), 100).await.unwrap(), 0);
    // 3 days before, at 09:00: looked up again, told the amount of the bill due that day.
    assert_eq!(job.run_due(at(due - Duration::days(3), 9), 100).await.unwrap(), 1);
    let notice = given(&store, &reminder, ReminderStage::Before).await.expect("the first reminder");
    let Notice::Reminder { days_left, amount, .. } = &notice else { panic!("{notice:?}") };
    assert_eq!(*days_left, 3);
    let text = notices::reply(Lang::En, &notice).text;
    assert!(text.contains(&format!("is due on {} (due in 3 days)", format::date(Lang::En, due))), "{text}");
    assert!(text.contains("Amount to pay: 64,050 FCFA."), "{text}");
    assert!(amount.is_some());
    let fr = notices::reply(Lang::Fr, &notice);
    assert!(fr.text.contains("Montant à payer : 64\u{a0}050 FCFA."), "{}", fr.text);
    assert!(fr.buttons().any(|b| b.label.contains("Voir la facture")));
    // The same hour again: nothing (the next stage is on the day).
    assert_eq!(job.run_due(at(due - Duration::days(3), 10), 100).await.unwrap(), 0);
    let left = store.reminders(&c.key).await.unwrap();
    assert_eq!((left[0].next_at, left[0].done.clone()), (at(due, 9), vec![ReminderStage::Before]));
    // On the day: the last one, then the reminder is over.
    assert_eq!(job.run_due(at(due, 9), 100).await.unwrap(), 1);
    let notice = given(&store, &reminder, ReminderStage::OnTheDay).await.expect("the reminder on the day");
    assert!(notices::reply(Lang::En, &notice).text.contains("(due today)"));
    assert!(store.reminders(&c.key).await.unwrap().is_empty());
    assert_eq!(job.run_due(at(due, 12), 100).await.unwrap(), 0);
}

fn direct(chat: &str, digits: &str, due_day: NaiveDate, now: DateTime<Utc>) -> Reminder {
    let reference = CustomerReference::parse(Biller::Senelec, digits).unwrap();
    reminders::schedule(&chat.parse().unwrap(), Lang::En, &reference, due_day, 3, now).unwrap()
}

#[tokio::test]
async fn a_paid_bill_is_not_reminded_a_silent_provider_is_and_nobody_is_woken_at_night() {
    let h = Harness::new().await;
    let store = h.bot.store().clone();
    let job = job(&h);
    let due = today() + Duration::days(9);
    let now = Utc::now();
    // Paid by then (every bill of this account is): dropped without a word.
    let paid = direct("tg:71", refs::ALL_PAID, due, now);
    // The provider fails: reminded anyway, without an amount.
    let silent = direct("tg:72", "90000000500", due, now);
    for r in [&paid, &silent] {
        store.commit(Op::Remind { reminder: r.clone() }).await.unwrap();
    }
    assert_eq!(job.run_due(at(due - Duration::days(3), 9), 100).await.unwrap(), 2);
    assert!(given(&store, &paid, ReminderStage::Before).await.is_none());
    assert!(store.reminders(&paid.chat).await.unwrap().is_empty(), "a paid bill's reminder ends");
    let notice = given(&store, &silent, ReminderStage::Before).await.expect("reminded without an amount");
    assert!(matches!(notice, Notice::Reminder { amount: None, .. }));
    assert!(notices::reply(Lang::En, &notice).text.contains("I could not check the amount just now"));

    // Found due at 22:00 (billbot was down at 09:00): it waits for 09:00 the next morning.
    let late = direct("tg:73", refs::SEVERAL_BILLS, due, now);
    store.commit(Op::Remind { reminder: late.clone() }).await.unwrap();
    let night = at(due - Duration::days(3), 22);
    assert_eq!(job.run_due(night, 100).await.unwrap(), 1);
    assert!(given(&store, &late, ReminderStage::Before).await.is_none());
    let moved = store.reminders(&late.chat).await.unwrap().remove(0);
    assert_eq!(moved.next_at, at(due - Duration::days(2), 9));
    assert_eq!(job.run_due(at(due - Duration::days(2), 9), 100).await.unwrap(), 1);
    let notice = given(&store, &late, ReminderStage::Before).await.expect("given in the morning");
    assert!(matches!(notice, Notice::Reminder { days_left: 2, .. }), "{notice:?}");
    // Found only on the due day (down for days): the earlier stage is passed over, one message.
    let very_late = direct("tg:74", refs::ONE_BILL, due, now);
    store.commit(Op::Remind { reminder: very_late.clone() }).await.unwrap();
    assert_eq!(
        job.run_due(at(due, 10), 100).await.unwrap(),
        3,
        "the last stage of tg:72 and tg:73, and tg:74"
    );
    assert!(given(&store, &very_late, ReminderStage::Before).await.is_none());
    assert!(given(&store, &very_late, ReminderStage::OnTheDay).await.is_some());
    assert!(store.reminders(&very_late.chat).await.unwrap().is_empty());
}

#[test]
fn reminders_speak_between_nine_and_eight_in_dakar() {
    let day = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    assert_eq!(reminders::speaking_time(at(day, 3)), at(day, 9));
    assert_eq!(reminders::speaking_time(at(day, 14)), at(day, 14));
    assert_eq!(reminders::speaking_time(at(day, 20)), at(day + Duration::days(1), 9));
    assert_eq!(reminders::stage_at(day, 7, ReminderStage::Before), at(day - Duration::days(7), 9));
    // Set after the first stage's time: only the day itself is left.
    let reference = CustomerReference::parse(Biller::SenEau, "1000000001").unwrap();
    let chat = "tg:1".parse().unwrap();
    let r = reminders::schedule(&chat, Lang::Fr, &reference, day, 3, at(day - Duration::days(2), 9)).unwrap();
    assert_eq!((r.next_at, r.done), (at(day, 9), vec![ReminderStage::Before]));
    assert!(reminders::schedule(&chat, Lang::Fr, &reference, day, 3, at(day, 9)).is_none());
}
