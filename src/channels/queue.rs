//! Per-chat queues of work: one chat's work runs one job after another, different chats at the
//! same time, and nothing waits on a chat's work but that chat. The intake queues every chat's
//! turns here, and the outbox every chat's notices.
//!
//! Why not leave Telegram's to teloxide's dispatcher, which also runs one worker per chat? Its loop
//! reaps idle workers, and when it takes one that has just picked up an update (a race it
//! covers by waiting for the worker), it waits for that update's whole handling, a provider call
//! included, before it reads the next update: every chat stalls. The load benchmark saw it in
//! about a third of its runs (one provider latency, 300 ms; in production up to the client's
//! timeout). The handlers here only queue the work, so the dispatcher's workers are never busy
//! for long; the work runs in these queues.
//!
//! Flood control ([`ChatQueues::admit`]): a chat may have at most [`Flood::max_waiting`] updates
//! waiting behind the one running, and send at most [`Flood::per_minute`] updates a minute
//! (a GCRA limiter, `governor`, with a burst of a third of that); beyond, updates are refused, and
//! the channel tells the chat once a minute to slow down. These limits are per instance: they
//! protect this process's memory and the chats it serves, and need no shared state.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub use crate::domain::limits::Flood;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_util::task::TaskTracker;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;
type Queues<K> = Mutex<HashMap<K, Queue>>;

/// A chat's queue, and how many of its jobs wait (not yet running).
struct Queue {
    jobs: UnboundedSender<Job>,
    waiting: Arc<AtomicUsize>,
}

/// What became of an update offered to [`ChatQueues::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Queued,
    /// Dropped: the chat sends too fast. `warn`: tell it (once a minute at most).
    Refused {
        warn: bool,
    },
}

/// How often a flooding chat is told to slow down, at most.
const WARN_EVERY: Duration = Duration::from_secs(60);

struct Gate<K: Hash + Eq + Clone> {
    flood: Flood,
    rate: DefaultKeyedRateLimiter<K>,
    warned: Mutex<HashMap<K, Instant>>,
}

/// The chats with work queued or running, each drained by one task. Cheap to clone. `K` is the
/// channel's chat id.
pub struct ChatQueues<K: Hash + Eq + Clone> {
    queues: Arc<Queues<K>>,
    tasks: TaskTracker,
    gate: Arc<Gate<K>>,
}

impl<K: Hash + Eq + Clone> Clone for ChatQueues<K> {
    fn clone(&self) -> Self {
        ChatQueues { queues: self.queues.clone(), tasks: self.tasks.clone(), gate: self.gate.clone() }
    }
}

impl<K: Hash + Eq + Clone + Send + 'static> Default for ChatQueues<K> {
    fn default() -> Self {
        ChatQueues::bounded(Flood::default())
    }
}

impl<K: Hash + Eq + Clone + Send + 'static> ChatQueues<K> {
    pub fn new() -> ChatQueues<K> {
        ChatQueues::default()
    }

    /// Queues whose [`admit`](ChatQueues::admit) keeps to `flood`.
    pub fn bounded(flood: Flood) -> ChatQueues<K> {
        let per_minute = NonZeroU32::new(flood.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new((flood.per_minute / 3).max(1)).unwrap_or(NonZeroU32::MIN);
        let gate = Gate {
            flood,
            rate: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            warned: Mutex::new(HashMap::new()),
        };
        ChatQueues {
            queues: Arc::new(Mutex::new(HashMap::new())),
            tasks: TaskTracker::new(),
            gate: Arc::new(gate),
        }
    }

    /// Queues `job` behind the chat's earlier jobs, unless the chat sends too fast (see
    /// [`Flood`]); a refused job is dropped.
    pub fn admit(&self, chat: K, job: impl Future<Output = ()> + Send + 'static) -> Admission {
        let waiting = lock(&self.queues).get(&chat).map_or(0, |q| q.waiting.load(Ordering::SeqCst));
        let too_many = waiting >= self.gate.flood.max_waiting;
        if too_many || self.gate.rate.check_key(&chat).is_err() {
            let now = Instant::now();
            let mut warned = self.gate.warned.lock().unwrap_or_else(|e| e.into_inner());
            if warned.len() >= 1024 && warned.len().is_power_of_two() {
                warned.retain(|_, at| now.duration_since(*at) < WARN_EVERY);
            }
            let warn = warned.get(&chat).is_none_or(|at| now.duration_since(*at) >= WARN_EVERY);
            if warn {
                warned.insert(chat, now);
            }
            metrics::counter!("billbot_updates_dropped_total").increment(1);
            return Admission::Refused { warn };
        }
        self.push(chat, job);
        Admission::Queued
    }

    /// Runs `job` after the chat's earlier jobs, whatever their number.
    pub fn push(&self, chat: K, job: impl Future<Output = ()> + Send + 'static) {
        let mut queues = lock(&self.queues);
        let waiting = queues.get(&chat).map(|q| q.waiting.clone()).unwrap_or_default();
        waiting.fetch_add(1, Ordering::SeqCst);
        let job: Job = {
            let waiting = waiting.clone();
            Box::pin(async move {
                waiting.fetch_sub(1, Ordering::SeqCst);
                job.await
            })
        };
        let job = match queues.get(&chat) {
            Some(queue) => match queue.jobs.send(job) {
                Ok(()) => return,
                // Its task has ended (it only ends with an empty queue): start a new one.
                Err(unsent) => unsent.0,
            },
            None => job,
        };
        let (sender, jobs) = unbounded_channel();
        // Cannot fail: the receiver is alive, and is handed to the task below.
        let _ = sender.send(job);
        queues.insert(chat.clone(), Queue { jobs: sender, waiting });
        drop(queues);
        self.tasks.spawn(drain(self.queues.clone(), chat, jobs));
    }

    /// Forgets the pace of chats that have been quiet (keeps memory flat with many chats).
    pub fn forget_idle(&self) {
        self.gate.rate.retain_recent();
        let now = Instant::now();
        self.gate
            .warned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, at| now.duration_since(*at) < WARN_EVERY);
    }

    /// Runs `work` on its own, outside any chat's order; [`ChatQueues::finish`] waits for it too.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(work);
    }

    /// Waits until every queued job has run, jobs queued meanwhile included.
    pub async fn finish(&self) {
        self.tasks.close();
        self.tasks.wait().await;
        self.tasks.reopen();
    }

    /// Whether `chat` has work queued or running.
    pub fn is_busy(&self, chat: &K) -> bool {
        lock(&self.queues).contains_key(chat)
    }

    /// How many chats have work queued or running.
    pub fn busy_chats(&self) -> usize {
        lock(&self.queues).len()
    }
}

fn lock<K>(queues: &Queues<K>) -> std::sync::MutexGuard<'_, HashMap<K, Queue>> {
    // The map stays consistent even if a thread panicked while holding the lock.
    queues.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs a chat's jobs in order; ends, removing the chat, once its queue is empty. The last
/// check happens under the map's lock, so a job pushed at that moment either is seen here or
/// finds no queue and starts a new task: none is lost.
async fn drain<K: Hash + Eq>(queues: Arc<Queues<K>>, chat: K, mut jobs: UnboundedReceiver<Job>) {
    loop {
        let job = match jobs.try_recv() {
            Ok(job) => job,
            Err(_) => {
                let mut map = lock(&queues);
                match jobs.try_recv() {
                    Ok(job) => job,
                    Err(_) => {
                        map.remove(&chat);
                        return;
                    }
                }
            }
        };
        job.await;
    }
}
