//! Per-chat queues of work: one chat's updates are handled one after another, different chats
//! at the same time, and nothing waits on a chat's work but that chat. Every channel that takes
//! updates from the network (Telegram, WhatsApp) queues its work here.
//!
//! Why not leave Telegram's to teloxide's dispatcher, which also runs one worker per chat? Its loop
//! reaps idle workers, and when it takes one that has just picked up an update (a race it
//! covers by waiting for the worker), it waits for that update's whole handling, a provider call
//! included, before it reads the next update: every chat stalls. The load benchmark saw it in
//! about a third of its runs (one provider latency, 300 ms; in production up to the client's
//! timeout). The handlers here only queue the work, so the dispatcher's workers are never busy
//! for long; the work runs in these queues.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_util::task::TaskTracker;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;
type Queues<K> = Mutex<HashMap<K, UnboundedSender<Job>>>;

/// The chats with work queued or running, each drained by one task. Cheap to clone. `K` is the
/// channel's chat id.
pub struct ChatQueues<K> {
    queues: Arc<Queues<K>>,
    tasks: TaskTracker,
}

impl<K> Clone for ChatQueues<K> {
    fn clone(&self) -> Self {
        ChatQueues { queues: self.queues.clone(), tasks: self.tasks.clone() }
    }
}

impl<K> Default for ChatQueues<K> {
    fn default() -> Self {
        ChatQueues { queues: Arc::new(Mutex::new(HashMap::new())), tasks: TaskTracker::new() }
    }
}

impl<K: Hash + Eq + Clone + Send + 'static> ChatQueues<K> {
    pub fn new() -> ChatQueues<K> {
        ChatQueues::default()
    }

    /// Runs `job` after the chat's earlier jobs.
    pub fn push(&self, chat: K, job: impl Future<Output = ()> + Send + 'static) {
        let mut queues = lock(&self.queues);
        let job: Job = Box::pin(job);
        let job = match queues.get(&chat) {
            Some(queue) => match queue.send(job) {
                Ok(()) => return,
                // Its task has ended (it only ends with an empty queue): start a new one.
                Err(unsent) => unsent.0,
            },
            None => job,
        };
        let (queue, jobs) = unbounded_channel();
        // Cannot fail: the receiver is alive, and is handed to the task below.
        let _ = queue.send(job);
        queues.insert(chat.clone(), queue);
        drop(queues);
        self.tasks.spawn(drain(self.queues.clone(), chat, jobs));
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

    /// How many chats have work queued or running.
    pub fn busy_chats(&self) -> usize {
        lock(&self.queues).len()
    }
}

fn lock<K>(queues: &Queues<K>) -> std::sync::MutexGuard<'_, HashMap<K, UnboundedSender<Job>>> {
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
