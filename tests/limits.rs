//! Per-chat lookup limits: bill inquiries and order lookups each at most N a minute and an hour
//! for customers, with a localized "please wait", no provider call, and a count kept in the store.

mod common;

use billbot::config::LimitSettings;
use billbot::conversation::limits::{LookupKind, LookupLimits, Lookups};
use billbot::conversation::{Action, Bot, Role};
use billbot::domain::Biller;
use billbot::sandbox::fixtures::{orders, refs};
use billbot::store::Store;
use chrono::{Duration, TimeZone, Utc};
use common::chat::Harness;
use common::sandbox_clients;

#[test]
fn a_window_lets_n_lookups_through_then_says_when_the_oldest_ages_out() {
    let limits = LookupLimits { per_minute: 3, per_hour: 5 };
    let t0 = Utc.with_ymd_and_hms(2026, 12, 6, 8, 0, 0).unwrap();
    let mut log = Lookups::default();
    for s in [0, 10, 20] {
        assert_eq!(log.take(LookupKind::Bill, t0 + Duration::seconds(s), limits), Ok(()));
    }
    // A fourth at 30 s waits until the first is a minute old (at 60 s).
    assert_eq!(log.take(LookupKind::Bill, t0 + Duration::seconds(30), limits), Err(Duration::seconds(30)));
    assert_eq!(log.take(LookupKind::Order, t0 + Duration::seconds(30), limits), Ok(()), "orders count apart");
    assert_eq!(log.take(LookupKind::Bill, t0 + Duration::seconds(61), limits), Ok(()));
    assert_eq!(log.take(LookupKind::Bill, t0 + Duration::seconds(200), limits), Ok(()));
    // Five in the hour: the next waits until the first is an hour old.
    assert_eq!(
        log.take(LookupKind::Bill, t0 + Duration::seconds(300), limits),
        Err(Duration::seconds(3600 - 300))
    );
    assert_eq!(log.take(LookupKind::Bill, t0 + Duration::seconds(3601), limits), Ok(()));
    assert!(log.bills.len() <= 5, "only the last hour is kept: {}", log.bills.len());
}

#[test]
fn limits_are_configurable_and_nonsense_is_refused() {
    let from = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        LimitSettings::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    };
    assert_eq!(from(&[]).unwrap().lookups, LookupLimits { per_minute: 10, per_hour: 60 });
    let set = from(&[("BILLBOT_LOOKUPS_PER_MINUTE", "5"), ("BILLBOT_LOOKUPS_PER_HOUR", "20")]).unwrap();
    assert_eq!(set.lookups, LookupLimits { per_minute: 5, per_hour: 20 });
    for bad in [
        &[("BILLBOT_LOOKUPS_PER_MINUTE", "0")][..],
        &[("BILLBOT_LOOKUPS_PER_HOUR", "many")],
        &[("BILLBOT_LOOKUPS_PER_MINUTE", "30"), ("BILLBOT_LOOKUPS_PER_HOUR", "20")],
    ] {
        let e = from(bad).unwrap_err().to_string();
        assert!(e.contains("BILLBOT_LOOKUPS_PER_"), "{e}");
    }
    let defaults = from(&[]).unwrap();
    assert_eq!(defaults.flood, billbot::channels::Flood { max_waiting: 5, per_minute: 60 });
    assert_eq!(defaults.provider_calls, 256);
    assert_eq!(defaults.provider_wait_note, std::time::Duration::from_secs(2));
    let set = from(&[
        ("BILLBOT_MAX_WAITING_UPDATES", "2"),
        ("BILLBOT_UPDATES_PER_MINUTE", "12"),
        ("BILLBOT_PROVIDER_CONCURRENCY", "8"),
        ("BILLBOT_PROVIDER_WAIT_NOTE_MS", "500"),
    ])
    .unwrap();
    assert_eq!(set.flood, billbot::channels::Flood { max_waiting: 2, per_minute: 12 });
    assert_eq!(set.provider_calls, 8);
    assert_eq!(set.provider_wait_note, std::time::Duration::from_millis(500));
    for var in [
        "BILLBOT_MAX_WAITING_UPDATES",
        "BILLBOT_UPDATES_PER_MINUTE",
        "BILLBOT_PROVIDER_CONCURRENCY",
        "BILLBOT_PROVIDER_WAIT_NOTE_MS",
    ] {
        let e = from(&[(var, "0")]).unwrap_err().to_string();
        assert!(e.contains(var), "{e}");
    }
}

#[tokio::test]
async fn the_eleventh_order_lookup_in_a_minute_waits_without_a_provider_call_even_after_a_restart() {
    let h = Harness::new().await;
    let mut c = h.chat("busy", "en", Role::Customer);
    for n in 0..10 {
        let text = c.say(&format!("/status {}", orders::PENDING)).await;
        assert!(text.contains("pending"), "lookup {n}: {text}");
    }
    let calls = h.sandbox.status_calls();
    let refused = c.say(&format!("/status {}", orders::PENDING)).await;
    assert!(
        refused.contains("You have checked many orders in a short time. Please wait a minute"),
        "{refused}"
    );
    assert_eq!(h.sandbox.status_calls(), calls, "no provider call");
    assert!(c.last[0].buttons().any(|b| b.label.contains("Menu")), "a way on");
    // Bills have their own allowance.
    let bill = c.press_action(Action::Inquire(common::reference(Biller::Senelec, refs::ONE_BILL))).await;
    assert!(bill.contains("FCFA"), "{bill}");
    // The count lives in the store: a new bot on it (a restart, another instance) still refuses.
    let (inquiry, status) = sandbox_clients(&h.sandbox);
    let store: Store = h.bot.store().clone();
    let mut again = h.chat("busy", "fr", Role::Customer);
    again.bot = Bot::new(inquiry, status, store);
    let still = again.say(&format!("/status {}", orders::PENDING)).await;
    assert!(still.contains("Merci d'attendre une minute"), "{still}");
    assert_eq!(h.sandbox.status_calls(), calls);
    // Another chat, and agents, are not held up.
    let mut other = h.chat("calm", "en", Role::Customer);
    assert!(other.say(&format!("/status {}", orders::PENDING)).await.contains("pending"));
    let mut agent = h.chat("agent", "en", Role::Agent);
    for _ in 0..12 {
        assert!(agent.say(&format!("/status {}", orders::PENDING)).await.contains("pending"));
    }
}

#[tokio::test]
async fn an_hourly_limit_asks_for_the_minutes_left_and_keeps_the_step() {
    let h = Harness::new().await;
    let (inquiry, status) = sandbox_clients(&h.sandbox);
    let mut c = h.chat("hourly", "en", Role::Customer);
    c.bot = Bot::new(inquiry, status, h.bot.store().clone())
        .with_limits(LookupLimits { per_minute: 10, per_hour: 2 });
    c.say("/bill").await;
    c.press("Senelec").await;
    for _ in 0..2 {
        // Typed right after a bill: the same biller.
        assert!(c.say(refs::ONE_BILL).await.contains("FCFA"));
    }
    let refused = c.say(refs::ONE_BILL).await;
    assert!(
        refused.contains("Please wait 60 minutes") || refused.contains("Please wait 59 minutes"),
        "{refused}"
    );
    let state: Option<billbot::conversation::State> = h.bot.store().dialogue(&c.key).await.unwrap();
    assert_eq!(
        state,
        Some(billbot::conversation::State::AwaitingReference { biller: billbot::domain::Biller::Senelec }),
        "the same number works once the wait is over"
    );
}
