//! The reminder job under load: N reminders (default 100,000) due over one day, given against the
//! sandbox over loopback (a fresh inquiry each) and delivered through the tracker's outbox sender,
//! on a simulated clock that moves a minute at a time from midnight to 09:00 the next day.
//!
//! `cargo bench --bench reminders -- [--reminders N]`
//!
//! The reminders' times are spread evenly over the day, so the run also shows the speaking hours
//! at work: those due before 09:00 wait for 09:00, those due after 20:00 for the next morning.
//! Reports the time to store them, how many were given at each hour, the give rate (lookup and
//! outbox write) and the send rate (outbox to a channel that accepts at once), and the peak RSS.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use billbot::domain::{Biller, ChatKey, CustomerReference};
use billbot::i18n::Lang;
use billbot::outbox::{Delivery, Notifier, Outbox, OutboxConfig, Sending};
use billbot::reminders::Reminders;
use billbot::sandbox::{self, SandboxConfig, fixtures};
use billbot::store::{Batch, Op, Reminder, ReminderStage, Store};
use billbot::upstream::{HttpOptions, InquiryClient};
use chrono::{NaiveTime, Timelike, Utc};

/// A channel that takes every message at once, counting them.
struct Counting(std::sync::atomic::AtomicU64);

impl Notifier for Counting {
    fn notify<'a>(
        &'a self,
        _: &'a ChatKey,
        _: Lang,
        _: &'a billbot::outbox::Notice,
    ) -> Sending<'a, Delivery> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::pin(async { Ok(Delivery::Sent) })
    }
}

fn main() {
    let count = common::arg("--reminders", 100_000) as usize;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let sb = sandbox::spawn_on_loopback(SandboxConfig::default()).await.unwrap();
        let inquiry = InquiryClient::new(
            sb.inquiry_url(),
            sandbox::INQUIRY_KEY.to_owned().into(),
            HttpOptions::default(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let counting = Arc::new(Counting(Default::default()));
        let outbox = Arc::new(Outbox::new(store.clone(), counting.clone(), OutboxConfig::default()));
        let job = Arc::new(Reminders::new(store.clone(), inquiry));

        // The sandbox's bills of these accounts fall due 9 days from today: remind of them on the day.
        let due_day = Utc::now().date_naive() + chrono::Duration::days(9);
        let midnight = due_day.and_time(NaiveTime::MIN).and_utc();
        let reference = CustomerReference::parse(Biller::Senelec, fixtures::refs::SEVERAL_BILLS).unwrap();
        let started = Instant::now();
        let mut batch = Batch::new();
        for i in 0..count {
            let offset = chrono::Duration::milliseconds((i as i64) * 86_400_000 / count as i64);
            batch.push(Op::Remind {
                reminder: Reminder {
                    chat: ChatKey::telegram(i as i64 + 1),
                    lang: if i % 2 == 0 { Lang::Fr } else { Lang::En },
                    reference: reference.clone(),
                    due_day,
                    days_before: 3,
                    next_at: midnight + offset,
                    done: vec![ReminderStage::Before],
                    created_at: midnight - chrono::Duration::days(5),
                },
            });
            if (i + 1) % 1000 == 0 {
                store.commit(std::mem::take(&mut batch)).await.unwrap();
            }
        }
        store.commit(batch).await.unwrap();
        let storing = started.elapsed();
        assert_eq!(store.reminder_count().await.unwrap(), count);

        let (mut giving, mut sending) = (Duration::ZERO, Duration::ZERO);
        let mut given_by_hour: BTreeMap<u32, usize> = BTreeMap::new();
        let mut now = midnight;
        let end = midnight + chrono::Duration::hours(33);
        let mut sent = 0;
        while now <= end {
            let t = Instant::now();
            let before = counting.0.load(std::sync::atomic::Ordering::Relaxed);
            while job.run_due(now, 500).await.unwrap() == 500 {}
            giving += t.elapsed();
            let t = Instant::now();
            loop {
                let n = outbox.send_due_at(now).await.unwrap();
                sent += n;
                if n == 0 {
                    break;
                }
            }
            sending += t.elapsed();
            let delivered = counting.0.load(std::sync::atomic::Ordering::Relaxed) - before;
            if delivered > 0 {
                *given_by_hour
                    .entry(now.hour() + if now.date_naive() > due_day { 24 } else { 0 })
                    .or_default() += delivered as usize;
            }
            now += chrono::Duration::minutes(1);
        }
        let delivered = counting.0.load(std::sync::atomic::Ordering::Relaxed);
        println!("reminders: {count}, due over one day (simulated clock, a minute a tick)");
        println!("storing them (batches of 1,000, each flushed): {:.2} s", storing.as_secs_f64());
        println!("delivered by hour of the simulated day (24+ = the next day): {given_by_hour:?}");
        println!(
            "delivered: {delivered} (outbox sends: {sent}), left in the store: {}",
            store.reminder_count().await.unwrap()
        );
        println!(
            "giving (a fresh lookup each, then the outbox write): {:.1} s, {:.0} a second",
            giving.as_secs_f64(),
            delivered as f64 / giving.as_secs_f64()
        );
        println!(
            "sending (outbox claim, channel, marked done): {:.1} s, {:.0} a second",
            sending.as_secs_f64(),
            sent as f64 / sending.as_secs_f64()
        );
        println!("peak RSS (job, tracker, store, sandbox): {:.1} MiB", common::peak_rss_mib("self"));
    });
}
