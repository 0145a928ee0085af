//! Time as the background jobs (tracker, reminders, outbox) see it.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Wall-clock time that advances with tokio's clock, so that tests can run the background jobs
/// on tokio's paused time while the store keeps real timestamps.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall: DateTime<Utc>,
    at: tokio::time::Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock { wall: Utc::now(), at: tokio::time::Instant::now() }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.at;
        self.wall + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// `d` after `at` (`at` itself for a duration chrono cannot hold).
pub fn later(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    at + chrono::Duration::from_std(d).unwrap_or_default()
}
