//! The adaptive limit on provider calls, alone: it grows while latency stays flat, shrinks on
//! 429/5xx or a latency rise (once per window), stays between 1 and its ceiling, serves its
//! queue first come first served, and refuses only a wait expected to exceed the longest allowed.
//! The clock is paused: a call's latency is what the test sleeps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use billbot::upstream::UpstreamError;
use billbot::upstream::error::Unavailable;
use billbot::upstream::limit::{AdaptiveLimit, Outcome};

const LONG: Duration = Duration::from_secs(3600);

/// `count` calls at once, each taking `latency` and ending `outcome`.
async fn calls(limit: &AdaptiveLimit, count: usize, latency: Duration, outcome: Outcome) {
    let permits: Vec<_> = (0..count).map(|_| limit.try_acquire().expect("a free turn")).collect();
    tokio::time::sleep(latency).await;
    for permit in permits {
        permit.done(outcome);
    }
}

/// `count` calls queued at once, each taking `latency` once its turn comes and ending `outcome`.
async fn burst(limit: &Arc<AdaptiveLimit>, count: usize, latency: Duration, outcome: Outcome) {
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let limit = limit.clone();
            tokio::spawn(async move {
                let permit = limit.acquire(LONG).await.expect("a turn");
                tokio::time::sleep(latency).await;
                permit.done(outcome);
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn the_limit_grows_while_the_latency_stays_flat_and_calls_wait() {
    let limit = Arc::new(AdaptiveLimit::starting_at(4, 100));
    calls(&limit, 4, Duration::from_millis(300), Outcome::Answered).await;
    assert!(limit.limit() > 4, "slow start: one more per call answered in time while in use");
    let before = limit.limit();
    burst(&limit, 60, Duration::from_millis(300), Outcome::Answered).await;
    assert!(limit.limit() >= 2 * before, "doubling each round while calls wait: {}", limit.limit());
}

#[tokio::test(start_paused = true)]
async fn an_idle_limit_does_not_grow() {
    let limit = AdaptiveLimit::starting_at(10, 100);
    for _ in 0..20 {
        calls(&limit, 1, Duration::from_millis(300), Outcome::Answered).await;
    }
    assert_eq!(limit.limit(), 10, "one call at a time never uses half of 10");
}

#[tokio::test(start_paused = true)]
async fn a_429_or_5xx_shrinks_the_limit_once_per_window() {
    let limit = AdaptiveLimit::starting_at(10, 100);
    let first = limit.try_acquire().unwrap();
    let same_window = limit.try_acquire().unwrap();
    first.done(Outcome::Overloaded);
    assert_eq!(limit.limit(), 9, "cut by a tenth");
    same_window.done(Outcome::Overloaded);
    assert_eq!(limit.limit(), 9, "a call sent before the cut does not cut again");
    calls(&limit, 1, Duration::from_millis(10), Outcome::Overloaded).await;
    assert_eq!(limit.limit(), 8, "a call sent after the cut does");
}

#[tokio::test(start_paused = true)]
async fn after_the_first_cut_the_limit_grows_by_one_per_limits_worth_of_calls() {
    let limit = Arc::new(AdaptiveLimit::starting_at(10, 100));
    calls(&limit, 1, Duration::from_millis(10), Outcome::Overloaded).await;
    assert_eq!(limit.limit(), 9);
    // 80 calls: about 9 + 10 + … + 14 of them, so the limit grows by about six (slow start would
    // have doubled it several times over).
    burst(&limit, 80, Duration::from_millis(300), Outcome::Answered).await;
    assert!((12..=16).contains(&limit.limit()), "{}", limit.limit());
}

#[tokio::test(start_paused = true)]
async fn a_rise_in_latency_shrinks_the_limit() {
    let limit = AdaptiveLimit::starting_at(8, 8);
    for _ in 0..5 {
        calls(&limit, 8, Duration::from_millis(100), Outcome::Answered).await;
    }
    assert_eq!(limit.limit(), 8);
    calls(&limit, 1, Duration::from_secs(1), Outcome::Answered).await;
    assert_eq!(limit.limit(), 7, "ten times slower than usual: cut");
}

#[tokio::test(start_paused = true)]
async fn the_limit_never_passes_its_ceiling_nor_falls_below_one() {
    let limit = AdaptiveLimit::starting_at(1, 3);
    for _ in 0..10 {
        let n = limit.limit();
        calls(&limit, n, Duration::from_millis(50), Outcome::Answered).await;
    }
    assert_eq!(limit.limit(), 3);
    for _ in 0..10 {
        calls(&limit, 1, Duration::from_millis(50), Outcome::Overloaded).await;
    }
    assert_eq!(limit.limit(), 1);
    let one = limit.try_acquire();
    assert!(one.is_some(), "one call may always be made");
    assert!(limit.try_acquire().is_none(), "and only one");
    assert_eq!(AdaptiveLimit::starting_at(0, 0).limit(), 1, "a ceiling of 0 is read as 1");
    assert_eq!(AdaptiveLimit::starting_at(50, 20).limit(), 20, "a start above the ceiling is the ceiling");
}

#[tokio::test(start_paused = true)]
async fn a_cut_while_calls_are_in_flight_takes_effect_as_they_come_back() {
    let limit = AdaptiveLimit::starting_at(10, 10);
    let mut permits: Vec<_> = (0..10).map(|_| limit.try_acquire().unwrap()).collect();
    permits.pop().unwrap().done(Outcome::Overloaded);
    assert_eq!(limit.limit(), 9);
    drop(permits);
    let held: Vec<_> = std::iter::from_fn(|| limit.try_acquire()).take(20).collect();
    assert_eq!(held.len(), 9, "no more turns than the new limit");
}

#[tokio::test(start_paused = true)]
async fn a_call_made_again_after_a_429_keeps_its_turn_and_cuts_the_limit_once() {
    let limit = AdaptiveLimit::starting_at(10, 10);
    let mut permit = limit.try_acquire().unwrap();
    for _ in 0..3 {
        permit.again(Outcome::Overloaded);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(limit.limit(), 9, "one cut for one call, however often the provider refused it");
    assert_eq!(limit.in_flight(), 1, "it kept its turn");
    permit.done(Outcome::Answered);
    assert_eq!(limit.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_turn_frees_its_place_and_leaves_the_limit_as_it_was() {
    let limit = AdaptiveLimit::starting_at(1, 10);
    drop(limit.try_acquire().unwrap());
    assert_eq!((limit.limit(), limit.in_flight()), (1, 0));
    assert!(limit.try_acquire().is_some());
}

#[tokio::test(start_paused = true)]
async fn waiting_calls_are_served_first_come_first_served() {
    let limit = Arc::new(AdaptiveLimit::starting_at(1, 1));
    let served = Arc::new(Mutex::new(Vec::new()));
    let first = limit.try_acquire().unwrap();
    let mut waiters = Vec::new();
    for i in 0..6 {
        let (limit, served) = (limit.clone(), served.clone());
        waiters.push(tokio::spawn(async move {
            let permit = limit.acquire(LONG).await.expect("served");
            served.lock().unwrap().push(i);
            tokio::time::sleep(Duration::from_millis(10)).await;
            permit.done(Outcome::Answered);
        }));
        // Each waiter joins the queue before the next one is started.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(limit.waiting(), 6);
    first.done(Outcome::Answered);
    for waiter in waiters {
        waiter.await.unwrap();
    }
    assert_eq!(*served.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
    assert_eq!(limit.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_wait_expected_to_exceed_the_longest_is_refused_at_once_and_a_shorter_one_waits() {
    let limit = Arc::new(AdaptiveLimit::starting_at(1, 1));
    assert_eq!(limit.expected_wait(5), None, "nothing timed yet: no estimate");
    calls(&limit, 1, Duration::from_millis(400), Outcome::Answered).await;
    assert_eq!(limit.expected_wait(0), Some(Duration::from_millis(400)));
    let held = limit.try_acquire().unwrap();
    let longest = Duration::from_secs(1);
    let mut waiters = Vec::new();
    for _ in 0..2 {
        let limit = limit.clone();
        waiters.push(tokio::spawn(
            async move { limit.acquire(longest).await.map(|p| p.done(Outcome::Answered)) },
        ));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let started = tokio::time::Instant::now();
    assert!(limit.acquire(longest).await.is_none(), "third in line: 1.2 s expected, over 1 s");
    assert_eq!(started.elapsed(), Duration::ZERO, "refused without waiting");
    drop(held);
    for waiter in waiters {
        assert!(waiter.await.unwrap().is_some(), "0.4 s and 0.8 s expected: served");
    }
}

#[tokio::test(start_paused = true)]
async fn a_turn_that_does_not_come_within_the_longest_wait_is_refused() {
    let limit = AdaptiveLimit::starting_at(1, 1);
    let _held = limit.try_acquire().unwrap();
    let started = tokio::time::Instant::now();
    assert!(limit.acquire(Duration::from_secs(2)).await.is_none());
    assert!(started.elapsed() >= Duration::from_secs(2), "it waited its turn that long");
    assert_eq!(limit.waiting(), 0, "the refused call left the queue");
}

#[test]
fn a_429_a_5xx_and_a_timeout_are_overload_and_other_answers_are_not() {
    let err = |e: UpstreamError| Outcome::of::<()>(&Err(e));
    let status = |code| err(UpstreamError::Unavailable(Unavailable::Status(code)));
    assert_eq!(status(429), Outcome::Overloaded);
    assert_eq!(status(503), Outcome::Overloaded);
    assert_eq!(err(UpstreamError::Unavailable(Unavailable::Timeout)), Outcome::Overloaded);
    assert_eq!(err(UpstreamError::Unavailable(Unavailable::Connect)), Outcome::Ignored);
    assert_eq!(err(UpstreamError::NotFound { message: None }), Outcome::Answered);
    assert_eq!(err(UpstreamError::Maintenance), Outcome::Answered);
    assert_eq!(Outcome::of(&Ok(())), Outcome::Answered);
}
