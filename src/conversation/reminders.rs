//! Reminders in the conversation: "Remind me" after a bill with a due date, the choice of how many
//! days before, the chat's list of reminders, and cancelling one. The job that gives them is
//! [`crate::reminders`]; their words when they come are in `notices`.

use chrono::NaiveDate;

use super::menus::{self, button, labelled};
use super::payload::Action;
use super::reply::{Button, Reply};
use super::session::{Replies, Session};
use super::state::State;
use crate::domain::{CustomerReference, InquiryResult};
use crate::i18n::format;
use crate::reminders::{self, DAYS_BEFORE_CHOICES, DEFAULT_DAYS_BEFORE};
use crate::store::{MAX_REMINDERS, Op, Reminder, ReminderStage};
use crate::t;
use crate::views;

/// "Remind me" for a bill result, when it has an unpaid bill whose due date is still ahead
/// (within [`reminders::HORIZON_DAYS`]). The bill is noted in the chat's prefs, with this step:
/// only a bill noted so can be reminded of (see [`may_set`]).
pub(crate) fn offer(s: &mut Session<'_>, result: &InquiryResult) -> Option<Button> {
    let due_day = reminders::remindable_day(result, s.now)?;
    let reference = result.reference().clone();
    s.prefs.seen_bills.record(&reference, due_day, s.now.date_naive());
    s.writes.push(Op::Prefs { chat: s.chat.clone(), prefs: s.prefs.clone() });
    Some(button(s.lang, "btn-remind-me", Action::Remind { reference, due_day, days: DEFAULT_DAYS_BEFORE }))
}

/// Whether the chat may set a reminder of the bill of `reference` due on `due_day`: it was shown
/// that bill (its latest lookup of the reference gave that due day), and the day is within
/// [`reminders::HORIZON_DAYS`]. Whatever the button's signature says: a reminder's lookups are
/// the chat's, and this keeps them to bills it looked up within its limits.
pub(crate) fn may_set(s: &Session<'_>, reference: &CustomerReference, due_day: NaiveDate) -> bool {
    reminders::within_horizon(due_day, s.now) && s.prefs.seen_bills.contains(reference, due_day)
}

/// Sets (or changes) the chat's reminder of the bill of `reference` due on `due_day`.
pub(crate) async fn set(
    s: &mut Session<'_>,
    reference: CustomerReference,
    due_day: NaiveDate,
    days: u8,
) -> Replies {
    let existing = s.bot.store.reminders(s.chat).await?;
    let replacing = existing.iter().any(|r| r.reference == reference);
    if !replacing && existing.len() >= MAX_REMINDERS {
        let text = t!(s.lang, "reminder-full", max = MAX_REMINDERS as u64);
        return Ok(vec![Reply::text(text).with_keyboard(vec![
            vec![button(s.lang, "btn-reminders", Action::Reminders)],
            menus::menu_row(s.lang),
        ])]);
    }
    let Some(reminder) = reminders::schedule(s.chat, s.lang, &reference, due_day, days, s.now) else {
        // A button pressed after the due day's morning.
        let text = t!(s.lang, "reminder-too-late", date = format::date(s.lang, due_day));
        return Ok(vec![Reply::text(text).with_keyboard(vec![
            vec![button(s.lang, "btn-check-bill", Action::Inquire(reference))],
            menus::menu_row(s.lang),
        ])]);
    };
    let only_on_the_day = reminder.done.contains(&ReminderStage::Before);
    let date = format::date(s.lang, due_day);
    let text = if only_on_the_day {
        t!(s.lang, "reminder-set-on-the-day", date = date, hour = reminders::SPEAK_FROM as u64)
    } else {
        let before = reminders::stage_at(due_day, days, ReminderStage::Before).date_naive();
        t!(
            s.lang,
            "reminder-set",
            days = days as u64,
            before = format::date(s.lang, before),
            date = date,
            hour = reminders::SPEAK_FROM as u64
        )
    };
    s.writes.push(Op::Remind { reminder });
    let mut rows: Vec<Vec<Button>> = Vec::new();
    if !only_on_the_day {
        let other: Vec<Button> = DAYS_BEFORE_CHOICES
            .iter()
            .filter(|d| **d != days)
            .map(|d| {
                let label = t!(s.lang, "btn-remind-days", days = *d as u64);
                labelled(label, Action::Remind { reference: reference.clone(), due_day, days: *d })
            })
            .collect();
        rows.push(other);
    }
    rows.push(vec![
        button(s.lang, "btn-reminders", Action::Reminders),
        button(s.lang, "btn-menu", Action::Menu),
    ]);
    Ok(vec![Reply::text(format!("{text}\n{}", t!(s.lang, "reminder-how-to-cancel"))).with_keyboard(rows)])
}

fn line(s: &Session<'_>, reminder: &Reminder) -> String {
    let biller = reminder.reference.biller();
    let when = if reminder.done.contains(&ReminderStage::Before) {
        t!(s.lang, "reminder-when-on-the-day")
    } else {
        t!(s.lang, "reminder-when", days = reminder.days_before as u64)
    };
    t!(
        s.lang,
        "reminder-line",
        biller = views::biller_name(s.lang, biller),
        reference = reminder.reference.as_str().to_owned(),
        date = format::date(s.lang, reminder.due_day),
        when = when
    )
}

/// The chat's reminders, each with a button that cancels it. `done` comes first (what was just
/// done); the reminder of `cancelled` is left out (its removal lands with this step's writes).
pub(crate) async fn list(
    s: &mut Session<'_>,
    done: Option<String>,
    cancelled: Option<&CustomerReference>,
) -> Replies {
    s.state = State::Menu;
    let mut reminders = s.bot.store.reminders(s.chat).await?;
    reminders.retain(|r| Some(&r.reference) != cancelled);
    let mut text = done.map(|d| format!("{d}\n\n")).unwrap_or_default();
    if reminders.is_empty() {
        text.push_str(&t!(s.lang, "reminders-none"));
        return Ok(vec![
            Reply::text(text)
                .with_keyboard(vec![vec![button(s.lang, "btn-bill", Action::Bill)], menus::menu_row(s.lang)]),
        ]);
    }
    text.push_str(&t!(s.lang, "reminders-title"));
    for reminder in &reminders {
        text.push('\n');
        text.push_str(&line(s, reminder));
    }
    // One cancel button per reminder: MAX_REMINDERS (10) and the menu fit every channel's list.
    let mut rows: Vec<Vec<Button>> = reminders
        .iter()
        .take(s.caps.max_choices.saturating_sub(1))
        .map(|r| {
            let label = t!(
                s.lang,
                "btn-cancel-reminder",
                biller = views::biller_name(s.lang, r.reference.biller()),
                reference = r.reference.masked()
            );
            vec![labelled(label, Action::CancelReminder(r.reference.clone()))]
        })
        .collect();
    rows.push(menus::menu_row(s.lang));
    Ok(vec![Reply::text(text).with_keyboard(rows)])
}

/// Cancels the chat's reminder of `reference` (nothing happens if there is none), then lists the
/// rest.
pub(crate) async fn cancel(s: &mut Session<'_>, reference: CustomerReference) -> Replies {
    let had = s.bot.store.reminders(s.chat).await?.iter().any(|r| r.reference == reference);
    let done = if had {
        let biller = views::biller_name(s.lang, reference.biller());
        let text =
            t!(s.lang, "reminder-cancelled", biller = biller, reference = reference.as_str().to_owned());
        s.writes.push(Op::CancelReminder { chat: s.chat.clone(), reference: reference.clone() });
        text
    } else {
        t!(s.lang, "reminder-already-gone")
    };
    list(s, Some(done), Some(&reference)).await
}
