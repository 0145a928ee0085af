//! Reminders of bills' due dates: a chat that saw an unpaid bill may ask to be reminded some
//! days before its due date (1, 3 or 7; 3 unless it chooses) and on the day.
//!
//! - Reminders live in the store with a schedule index ([`crate::store::Reminder`]), one per chat
//!   and reference, so they survive restarts; the job claims the due ones like the tracker
//!   claims watches, so several instances never remind twice.
//! - Each stage is given once at most: the notice goes into the outbox, keyed by the chat, the
//!   reference, the due date and the stage, in the same write that marks the stage done; the
//!   outbox's sender delivers it (retried, never twice). A stage found late (billbot was down)
//!   passes over the ones before it.
//! - Reminders speak between 09:00 and 20:00 in Dakar (UTC all year round); one due outside those
//!   hours waits for 09:00.
//! - Just before speaking, the bill is looked up again: if it is paid by then, the reminder is
//!   dropped without a word; if the provider cannot answer, the reminder goes without an amount.
//! - That lookup is the chat's: it counts toward the chat's lookup limits like one the chat
//!   asked for, and a chat over its limits is reminded without an amount, without the lookup.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::domain::limits::{LookupKind, LookupLimits};
use crate::domain::{ChatKey, CustomerReference, InquiryResult, Money};
use crate::i18n::Lang;
use crate::outbox::Notice;
use crate::store::{Op, Outgoing, Reminder, ReminderStage, Store, StoreError};
use crate::upstream::InquiryClient;

/// Days before the due date the first reminder comes, unless the chat chooses.
pub const DEFAULT_DAYS_BEFORE: u8 = 3;

/// What a chat may choose.
pub const DAYS_BEFORE_CHOICES: [u8; 3] = [1, 3, 7];

/// The hour reminders start speaking, and the hour they stop (Dakar time, which is UTC).
pub const SPEAK_FROM: u32 = 9;
pub const SPEAK_UNTIL: u32 = 20;

/// How far ahead a due date may be for a reminder: bills come monthly or every two months, so a
/// real one is due within weeks; a button with a date further off was not made by the bot.
pub const HORIZON_DAYS: i64 = 90;

/// How long a claimed reminder is left to the instance that claimed it.
const CLAIM: Duration = Duration::from_secs(600);

/// When `stage` of a reminder of a bill due on `due_day` is due: 09:00 on its day.
pub fn stage_at(due_day: NaiveDate, days_before: u8, stage: ReminderStage) -> DateTime<Utc> {
    match stage {
        ReminderStage::Before => speaking_from(due_day - chrono::Duration::days(i64::from(days_before))),
        ReminderStage::OnTheDay => speaking_from(due_day),
    }
}

/// 09:00 on `day`, when reminders start speaking.
fn speaking_from(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::from_hms_opt(SPEAK_FROM, 0, 0).unwrap_or_default()).and_utc()
}

const STAGES: [ReminderStage; 2] = [ReminderStage::Before, ReminderStage::OnTheDay];

/// The first stage not given yet whose time is after `now`, and its time.
fn next_stage(reminder: &Reminder, now: DateTime<Utc>) -> Option<(ReminderStage, DateTime<Utc>)> {
    STAGES
        .into_iter()
        .filter(|s| !reminder.done.contains(s))
        .map(|s| (s, stage_at(reminder.due_day, reminder.days_before, s)))
        .find(|(_, at)| *at > now)
}

/// `at`, or the next moment a reminder may speak: between 09:00 and 20:00.
pub fn speaking_time(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike;
    match at.hour() {
        h if h < SPEAK_FROM => speaking_from(at.date_naive()),
        h if h >= SPEAK_UNTIL => speaking_from(at.date_naive() + chrono::Duration::days(1)),
        _ => at,
    }
}

/// A reminder of the bill of `reference` due on `due_day`, set at `now`; `None` when no stage is
/// left to give (the due day's 09:00 has passed). Stages already past are passed over.
pub fn schedule(
    chat: &ChatKey,
    lang: Lang,
    reference: &CustomerReference,
    due_day: NaiveDate,
    days_before: u8,
    now: DateTime<Utc>,
) -> Option<Reminder> {
    let mut reminder = Reminder {
        chat: chat.clone(),
        lang,
        reference: reference.clone(),
        due_day,
        days_before,
        next_at: now,
        done: Vec::new(),
        created_at: now,
    };
    let (next, at) = next_stage(&reminder, now)?;
    reminder.done = STAGES.into_iter().take_while(|s| *s != next).collect();
    reminder.next_at = at;
    Some(reminder)
}

/// The bill a reminder could be set for in `result`: the earliest due date of an unpaid bill
/// that still leaves a stage to give at `now`, within [`HORIZON_DAYS`].
pub fn remindable_day(result: &InquiryResult, now: DateTime<Utc>) -> Option<NaiveDate> {
    let days = result.unpaid().filter_map(|b| b.due_day());
    days.filter(|d| speaking_from(*d) > now && within_horizon(*d, now)).min()
}

/// Whether `due_day` is no further than [`HORIZON_DAYS`] after `now`'s day.
pub fn within_horizon(due_day: NaiveDate, now: DateTime<Utc>) -> bool {
    (due_day - now.date_naive()).num_days() <= HORIZON_DAYS
}

/// What the provider says of the reminded bill now.
enum Fresh {
    /// Still to pay: the total of the unpaid bills due that day.
    Due(Money),
    /// Nothing due that day is left to pay.
    Paid,
    /// No answer: remind without an amount.
    Unknown,
    /// Not asked: the chat is over its lookup limits. Reminded without an amount.
    Limited,
}

fn fresh(result: Result<InquiryResult, crate::upstream::UpstreamError>, due_day: NaiveDate) -> Fresh {
    let Ok(result) = result else { return Fresh::Unknown };
    let mut due = result.unpaid().filter(|b| b.due_day() == Some(due_day)).map(|b| b.total);
    let Some(first) = due.next() else { return Fresh::Paid };
    due.try_fold(first, |sum, m| sum.checked_add(&m)).map_or(Fresh::Unknown, Fresh::Due)
}

/// The outbox id of a reminder's stage: never recorded twice.
pub fn outgoing_id(reminder: &Reminder, stage: ReminderStage) -> String {
    format!(
        "{}|reminder|{}|{}|{}",
        reminder.chat.storage_key(),
        reminder.key(),
        reminder.due_day,
        stage.key()
    )
}

/// The job that gives due reminders (the outbox's sender delivers them).
pub struct Reminders {
    store: Store,
    inquiry: InquiryClient,
    /// Lookups in flight at once.
    calls: Arc<Semaphore>,
    clock: Clock,
    /// The chats' lookup limits, which the fresh lookups count toward.
    limits: LookupLimits,
}

impl Reminders {
    pub fn new(store: Store, inquiry: InquiryClient) -> Reminders {
        let calls = Arc::new(Semaphore::new(16));
        Reminders { store, inquiry, calls, clock: Clock::new(), limits: LookupLimits::default() }
    }

    /// This job, with the chats' lookup limits (the bot's own, `BILLBOT_LOOKUPS_*`).
    pub fn with_limits(mut self, limits: LookupLimits) -> Reminders {
        self.limits = limits;
        self
    }

    /// Takes one bill lookup of `chat`'s allowance at `now`, or says `false` when the chat is over
    /// its limits. The count is a read-modify-write of the chat's prefs, so a step of the chat
    /// running meanwhile loses none of its own changes (though its end may write over this
    /// count: at worst one lookup goes uncounted, never one too many refused).
    async fn take_lookup(&self, chat: &ChatKey, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut lookups = self.store.prefs(chat).await?.lookups;
        if let Err(wait) = lookups.take(LookupKind::Bill, now, self.limits) {
            metrics::counter!("billbot_lookups_refused_total").increment(1);
            tracing::info!(%chat, wait_secs = wait.num_seconds(), "a reminder goes without its lookup: limit reached");
            return Ok(false);
        }
        self.store.commit(Op::CountLookup { chat: chat.clone(), kind: LookupKind::Bill, at: now }).await?;
        Ok(true)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Claims the reminders due at `now` (at most `limit`) and gives each; returns how many
    /// were claimed.
    pub async fn run_due(self: &Arc<Self>, now: DateTime<Utc>, limit: usize) -> Result<usize, StoreError> {
        let claimed = self
            .store
            .claim_reminders(now, now + chrono::Duration::from_std(CLAIM).unwrap_or_default(), limit)
            .await?;
        let count = claimed.len();
        let mut tasks = tokio::task::JoinSet::new();
        for reminder in claimed {
            let job = self.clone();
            tasks.spawn(async move {
                let chat = reminder.chat.clone();
                if let Err(e) = job.give(reminder, now).await {
                    tracing::error!(%chat, error = %e, "a reminder could not be stored");
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        metrics::counter!("billbot_reminders_claimed_total").increment(count as u64);
        Ok(count)
    }

    /// Gives the stage of `reminder` due at `now` (and passes over any earlier one), or moves it
    /// to a decent hour.
    async fn give(&self, reminder: Reminder, now: DateTime<Utc>) -> Result<(), StoreError> {
        let (chat, reference, created) =
            (reminder.chat.clone(), reminder.reference.clone(), reminder.created_at);
        let speak_at = speaking_time(now);
        let due: Vec<ReminderStage> = STAGES
            .into_iter()
            .filter(|s| !reminder.done.contains(s))
            .filter(|s| stage_at(reminder.due_day, reminder.days_before, *s) <= now)
            .collect();
        if speak_at > now || due.is_empty() {
            // Not the hour (or claimed early): due again at the next decent time.
            let next =
                if due.is_empty() { next_stage(&reminder, now).map(|(_, at)| at) } else { Some(speak_at) };
            let update = move |stored: Option<Reminder>| match (stored, next) {
                (Some(mut r), Some(at)) if r.created_at == created => {
                    r.next_at = at;
                    (Some(r), Vec::new())
                }
                (Some(r), _) if r.created_at != created => (Some(r), Vec::new()),
                _ => (None, Vec::new()),
            };
            return self.store.commit(Op::ReminderStep { chat, reference, update: Box::new(update) }).await;
        }
        let stage = *due.last().unwrap_or(&ReminderStage::OnTheDay);
        let fresh = if self.take_lookup(&reminder.chat, now).await? {
            let answer = {
                let _permit = self.calls.acquire().await;
                self.inquiry.inquire(&reminder.reference).await
            };
            fresh(answer, reminder.due_day)
        } else {
            Fresh::Limited
        };
        let outcome = match &fresh {
            Fresh::Paid => "paid",
            Fresh::Due(_) => "due",
            Fresh::Unknown => "unknown",
            Fresh::Limited => "limited",
        };
        metrics::counter!("billbot_reminders_given_total", "outcome" => outcome).increment(1);
        let (amount, paid) = match fresh {
            Fresh::Due(m) => (Some(m), false),
            Fresh::Paid => (None, true),
            Fresh::Unknown | Fresh::Limited => (None, false),
        };
        let notice = Notice::Reminder {
            reference: reminder.reference.clone(),
            due_day: reminder.due_day,
            days_left: (reminder.due_day - now.date_naive()).num_days(),
            amount,
        };
        let notice = serde_json::to_value(&notice)?;
        let update = move |stored: Option<Reminder>| {
            let Some(mut r) = stored else { return (None, Vec::new()) };
            if r.created_at != created {
                // Set again meanwhile: the new one has its own schedule.
                return (Some(r), Vec::new());
            }
            for s in &due {
                if !r.done.contains(s) {
                    r.done.push(*s);
                }
            }
            if paid {
                return (None, Vec::new());
            }
            let tell = vec![Outgoing::new(outgoing_id(&r, stage), &r.chat, r.lang, notice.clone(), now)];
            match next_stage(&r, now) {
                Some((_, at)) => {
                    r.next_at = at;
                    (Some(r), tell)
                }
                None => (None, tell),
            }
        };
        self.store.commit(Op::ReminderStep { chat, reference, update: Box::new(update) }).await
    }

    /// Gives due reminders every `tick` until `shutdown` completes.
    pub async fn run(self: Arc<Self>, tick: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticker.tick() => {}
            }
            loop {
                match self.run_due(self.now(), 500).await {
                    Ok(500) => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "the reminders could not be read");
                        break;
                    }
                }
            }
        }
    }
}
