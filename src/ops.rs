//! What operators and load balancers ask of a running instance, on `BILLBOT_METRICS_LISTEN`
//! (off by default):
//!
//! - `GET /healthz`: 200 while the process runs.
//! - `GET /readyz`: 200 when the store answers (PostgreSQL: a query through the pool), 503
//!   otherwise; a load balancer sends updates only to ready instances.
//! - `GET /metrics`: Prometheus text, recorded with the `metrics` crate:
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `billbot_updates_total` | `channel`, `outcome` (`answered`, `duplicate`, `failed`) | inputs handled |
//! | `billbot_step_seconds` | `channel` | one step, from taking the chat to the commit |
//! | `billbot_provider_calls_total` | `endpoint` (`inquiry`, `status`, `history`), `outcome` | provider calls |
//! | `billbot_provider_call_seconds` | `endpoint` | their latency |
//! | `billbot_store_commit_seconds` | `backend` | one commit (a step's writes) |
//! | `billbot_tracker_claimed_total` | | watches claimed for a check by this instance |
//! | `billbot_tracker_notified_total` | `how` (`sent`, `template`, `held`, `not_sent`, `failed`) | notices sent from the outbox |
//! | `billbot_reminders_claimed_total` | | reminders claimed by this instance's reminder job |
//! | `billbot_reminders_given_total` | `outcome` (`due`, `paid`, `unknown`, `limited`) | reminders given after their fresh lookup |
//! | `billbot_messages_sent_total` | `channel` | messages delivered to users |
//! | `billbot_messages_rejected_total` | `channel` | messages the network refused or that failed |
//! | `billbot_lookups_refused_total` | | lookups refused by a chat's lookup limits |
//! | `billbot_store_stalled_flushes_total` | | sled flushes that took over 5 s |
//! | `billbot_updates_dropped_total` | | updates dropped by flood control |
//! | `billbot_provider_calls_refused_total` | | lookups not made: their wait would exceed the provider's timeout |
//! | `billbot_provider_concurrency_limit` | | the adaptive limit on provider calls in flight |
//! | `billbot_provider_queue_length` | | lookups waiting for their turn |
//! | `billbot_provider_queue_wait_seconds` | | their wait for a turn |
//! | `billbot_provider_wait_notes_total` | | users told that their lookup is next |
//! | `billbot_notices_given_up_total` | | tracker notices given up after 8 failed sends |
//! | `billbot_messages_given_up_total` | `channel` | messages given up: Telegram asked to wait over 30 s |
//! | `billbot_connections_refused_total` | `reason` (`listener`, `client`) | connections closed at once: the listener's cap, or one client's (`http`) |

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::store::Store;

/// The process's Prometheus recorder, installed on first use (once: it is global).
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
            let builder = PrometheusBuilder::new()
                .set_buckets(&seconds)
                .inspect_err(|e| tracing::error!(error = %e, "metrics buckets refused"))
                .ok()?;
            builder
                .install_recorder()
                .inspect_err(|e| tracing::error!(error = %e, "the metrics recorder could not be installed"))
                .ok()
        })
        .as_ref()
}

#[derive(Clone)]
struct Ops {
    store: Store,
    metrics: Option<&'static PrometheusHandle>,
}

/// The routes of the operations listener.
pub fn router(store: Store) -> Router {
    let ops = Ops { store, metrics: recorder() };
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(render))
        .with_state(ops)
}

async fn ready(State(ops): State<Ops>) -> Response {
    match ops.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the store does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "the store does not answer\n").into_response()
        }
    }
}

async fn render(State(ops): State<Ops>) -> Response {
    match ops.metrics {
        Some(handle) => ([("content-type", "text/plain; version=0.0.4")], handle.render()).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics are unavailable\n").into_response(),
    }
}
