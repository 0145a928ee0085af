//! An adaptive cap on provider calls in flight, in front of a first-come-first-served queue.
//!
//! The limit moves with the provider (AIMD, as TCP's congestion window):
//!
//! - **It grows** while calls come back in about their usual time and the limit is in use (calls
//!   are waiting, or at least half of it is in flight): by one a call until the first sign of
//!   overload (slow start), then by one per limit's worth of calls.
//! - **It shrinks** to [`DECREASE`] of itself on a sign of overload: a 429, a 5xx, no answer in
//!   time, or a call much slower than usual ([`LATENCY_RISE`] times, plus [`LATENCY_SLACK`]).
//!   Once per window: calls that started before the last cut do not cut again, so a volley of
//!   429s answering one burst shrinks the limit once, not to 1.
//! - It starts at the ceiling (`BILLBOT_PROVIDER_CONCURRENCY`), and stays between 1 and it.
//!
//! The queue is a tokio [`Semaphore`], which is fair: waiters are served in the order they came,
//! whichever chat they come from. The limit is its number of permits: growing adds permits,
//! shrinking forgets the free ones and owes the rest, forgotten as the calls holding them end.
//!
//! A call is refused only when its wait is expected to exceed `longest` (the provider's own
//! timeout), from the calls ahead of it, the limit they will be served at and the recent latency;
//! or when it has waited that long after all.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
// tokio's clock, so that tests with a paused clock decide what a call's latency is.
use tokio::time::Instant;

use super::error::{Unavailable, UpstreamError};

/// The share of the limit kept when the provider shows signs of overload.
pub const DECREASE: f64 = 0.9;
/// A call this many times slower than usual (plus [`LATENCY_SLACK`]) is a sign of overload.
pub const LATENCY_RISE: u32 = 2;
/// Latency that never counts as a rise: a fast provider's few milliseconds of jitter are not load.
pub const LATENCY_SLACK: Duration = Duration::from_millis(50);

/// How a call made under a [`Permit`] ended, as far as the provider's load goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The provider answered (whatever it said): the call's latency counts.
    Answered,
    /// A sign of overload: 429, a 5xx, no answer in time.
    Overloaded,
    /// Says nothing about the provider's load (a refused connection, a cut answer).
    Ignored,
}

impl Outcome {
    /// What a call's result says about the provider's load.
    pub fn of<T>(result: &Result<T, UpstreamError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Answered,
            Err(UpstreamError::Unavailable(Unavailable::Status(429 | 500..=599) | Unavailable::Timeout)) => {
                Outcome::Overloaded
            }
            Err(UpstreamError::Unavailable(_)) => Outcome::Ignored,
            Err(_) => Outcome::Answered,
        }
    }
}

/// The adaptive limit and its queue. See the module's documentation.
#[derive(Debug)]
pub struct AdaptiveLimit {
    permits: Semaphore,
    control: Mutex<Control>,
    /// Calls waiting for a permit.
    waiting: AtomicUsize,
}

#[derive(Debug)]
struct Control {
    limit: usize,
    ceiling: usize,
    /// Permits in circulation beyond the limit (it shrank while they were in use): forgotten as
    /// they come back.
    owed: usize,
    in_flight: usize,
    /// Growing by one a call, until the first sign of overload.
    slow_start: bool,
    /// Calls answered in time since the limit last grew (after slow start).
    credit: usize,
    /// The provider's usual latency (a slow average) and its recent one (a fast average).
    usual: Option<Duration>,
    recent: Option<Duration>,
    /// Counts the cuts: a call that started before the last one does not cut again.
    epoch: u64,
}

/// A turn to call the provider. Say how the call went with [`Permit::done`]; a permit dropped
/// without it frees its place and leaves the limit as it was.
#[derive(Debug)]
pub struct Permit<'a> {
    limit: &'a AdaptiveLimit,
    permit: Option<SemaphorePermit<'a>>,
    epoch: u64,
    started: Instant,
}

impl AdaptiveLimit {
    /// A limit starting at `ceiling` (at least 1), never above it. The ceiling is what the
    /// operator says the provider takes: a burst is served at that pace from its first call, and
    /// the limit comes down only when the provider shows it takes less. (Starting lower, at the
    /// old fixed cap of 64, cost a burst of 1,000 four rounds of climbing: 1.2 s of a 0.3 s call.)
    pub fn new(ceiling: usize) -> AdaptiveLimit {
        AdaptiveLimit::starting_at(ceiling, ceiling)
    }

    /// A limit starting at `initial`, never above `ceiling`; both at least 1.
    pub fn starting_at(initial: usize, ceiling: usize) -> AdaptiveLimit {
        let ceiling = ceiling.max(1);
        let limit = initial.clamp(1, ceiling);
        let control = Control {
            limit,
            ceiling,
            owed: 0,
            in_flight: 0,
            slow_start: true,
            credit: 0,
            usual: None,
            recent: None,
            epoch: 0,
        };
        AdaptiveLimit {
            permits: Semaphore::new(limit),
            control: Mutex::new(control),
            waiting: AtomicUsize::new(0),
        }
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.control().limit
    }

    /// Calls in flight.
    pub fn in_flight(&self) -> usize {
        self.control().in_flight
    }

    /// Calls waiting for their turn.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// A turn at once if one is free and nobody waits, else `None`.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        self.permits.try_acquire().ok().map(|p| self.start(p))
    }

    /// Waits for a turn, first come first served. `None` (at once) when the wait is expected to
    /// exceed `longest`, or after waiting `longest` for a turn that did not come.
    pub async fn acquire(&self, longest: Duration) -> Option<Permit<'_>> {
        if let Some(permit) = self.try_acquire() {
            record_wait(Duration::ZERO);
            return Some(permit);
        }
        let queued = Queued::join(self);
        if self.expected_wait(queued.ahead).is_some_and(|wait| wait > longest) {
            return None;
        }
        let since = Instant::now();
        let permit = tokio::time::timeout(longest, self.permits.acquire()).await.ok()?.ok()?;
        drop(queued);
        record_wait(since.elapsed());
        Some(self.start(permit))
    }

    /// How long a call with `ahead` calls before it in the queue should wait: the rounds of the
    /// limit it takes to reach it, each as long as a recent call. `None` before any call has been
    /// timed. During slow start the limit is on its way to the ceiling, which the rounds count on.
    pub fn expected_wait(&self, ahead: usize) -> Option<Duration> {
        let control = self.control();
        let rate = if control.slow_start { control.ceiling } else { control.limit };
        let rounds = (ahead + 1).div_ceil(rate.max(1));
        let rounds = u32::try_from(rounds).unwrap_or(u32::MAX);
        control.recent.map(|latency| latency.saturating_mul(rounds))
    }

    fn control(&self) -> std::sync::MutexGuard<'_, Control> {
        // A poisoned lock only means a thread panicked holding it; the numbers are still usable.
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start<'a>(&'a self, permit: SemaphorePermit<'a>) -> Permit<'a> {
        let mut control = self.control();
        control.in_flight += 1;
        // Both shown from the first call on, before any wait or change.
        metrics::gauge!("billbot_provider_concurrency_limit").set(control.limit as f64);
        metrics::gauge!("billbot_provider_queue_length").increment(0.0);
        Permit { limit: self, permit: Some(permit), epoch: control.epoch, started: Instant::now() }
    }

    /// A call under `epoch` ended `outcome`, after `latency`: the limit moves.
    fn adjust(&self, control: &mut Control, epoch: u64, outcome: Outcome, latency: Duration) {
        match outcome {
            Outcome::Answered => {
                let rose = control.observe(latency);
                let busy = self.waiting() > 0 || control.in_flight * 2 >= control.limit;
                if rose && epoch == control.epoch {
                    self.cut(control);
                } else if !rose && busy {
                    self.grow(control);
                }
            }
            Outcome::Overloaded if epoch == control.epoch => self.cut(control),
            Outcome::Overloaded | Outcome::Ignored => {}
        }
        metrics::gauge!("billbot_provider_concurrency_limit").set(control.limit as f64);
    }

    fn grow(&self, control: &mut Control) {
        if control.limit >= control.ceiling {
            return;
        }
        if !control.slow_start {
            control.credit += 1;
            if control.credit < control.limit {
                return;
            }
            control.credit = 0;
        }
        control.limit += 1;
        if control.owed > 0 {
            control.owed -= 1;
        } else {
            self.permits.add_permits(1);
        }
    }

    fn cut(&self, control: &mut Control) {
        control.slow_start = false;
        control.credit = 0;
        control.epoch += 1;
        let kept = ((control.limit as f64 * DECREASE) as usize).max(1);
        let cut = control.limit - kept;
        control.limit = kept;
        control.owed += cut - self.permits.forget_permits(cut);
    }

    /// A permit comes back: it goes back to the pool, or is forgotten if the limit owes one.
    fn give_back(&self, control: &mut Control, permit: SemaphorePermit<'_>) {
        control.in_flight = control.in_flight.saturating_sub(1);
        if control.owed > 0 {
            control.owed -= 1;
            permit.forget();
        } else {
            drop(permit);
        }
    }
}

impl Control {
    /// Takes a latency in; whether it shows a rise over the usual one.
    fn observe(&mut self, latency: Duration) -> bool {
        let average = |old: Option<Duration>, weight: u32| match old {
            None => latency,
            Some(old) if latency >= old => old + (latency - old) / weight,
            Some(old) => old - (old - latency) / weight,
        };
        self.usual = Some(average(self.usual, 32));
        self.recent = Some(average(self.recent, 4));
        match (self.usual, self.recent) {
            (Some(usual), Some(recent)) => recent > usual * LATENCY_RISE + LATENCY_SLACK,
            _ => false,
        }
    }
}

impl Permit<'_> {
    /// The call ended `outcome`: the limit moves, and the turn is given back.
    pub fn done(mut self, outcome: Outcome) {
        let limit = self.limit;
        let mut control = limit.control();
        limit.adjust(&mut control, self.epoch, outcome, self.started.elapsed());
        if let Some(permit) = self.permit.take() {
            limit.give_back(&mut control, permit);
        }
    }

    /// The call ended `outcome` and is to be made again under this same turn (a 429: the
    /// provider did not act on it), keeping its place rather than queueing again. It stays in the
    /// window it started in: its own retries never cut the limit twice (calls sent after a cut do,
    /// if the cut was not enough).
    pub fn again(&mut self, outcome: Outcome) {
        let limit = self.limit;
        let mut control = limit.control();
        limit.adjust(&mut control, self.epoch, outcome, self.started.elapsed());
        self.started = Instant::now();
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            let limit = self.limit;
            limit.give_back(&mut limit.control(), permit);
        }
    }
}

/// A place in the queue, counted while it is held (also when the waiting call is dropped).
struct Queued<'a> {
    limit: &'a AdaptiveLimit,
    /// Calls that were waiting before this one.
    ahead: usize,
}

impl<'a> Queued<'a> {
    fn join(limit: &'a AdaptiveLimit) -> Queued<'a> {
        let ahead = limit.waiting.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!("billbot_provider_queue_length").increment(1.0);
        Queued { limit, ahead }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.limit.waiting.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!("billbot_provider_queue_length").decrement(1.0);
    }
}

fn record_wait(wait: Duration) {
    metrics::histogram!("billbot_provider_queue_wait_seconds").record(wait.as_secs_f64());
}
