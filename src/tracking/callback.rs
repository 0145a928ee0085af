//! The provider's status callbacks: `POST {base}/provider/callback/{secret}` (or
//! `POST {base}/provider/callback` with the secret in `X-Callback-Secret`), a JSON body with
//! `event, status, provider, recipient, trx, reference, errorMsg`, answered
//! `{"response":"success"}`.
//!
//! The provider documents no signature, so a shared secret authenticates the call: in a header
//! where the provider can send one (preferred: a header stays out of access logs), else in the
//! URL configured at the provider (its documents describe no callback settings). Neither the
//! secret nor any request's path is ever logged. A callback is only a hint: the order is fetched
//! from the status API (which carries the purchased code the receipt needs), and only what the
//! status API says is stored and told. If the status API cannot confirm it, the callback changes
//! nothing (anyone who knows the secret could otherwise announce a delivery that never happened,
//! or wipe a stored code): the order's watch is checked again at once, and backs off as usual if
//! the status API is still down. Replays change nothing: watchers are told each status once.
//!
//! A callback answers fast, whatever the number of watchers: one status call (no retries, at most
//! [`CONFIRM_WITHIN`]) and one write that records the order and puts its notices in the outbox;
//! the outbox's sender delivers them after the answer.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use super::Tracker;
use crate::domain::{Order, OrderNo};
use crate::upstream::StatusClient;
use crate::upstream::wire::lenient;

/// A provider callback, as far as billbot reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CallbackBody {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub event: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub provider: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub recipient: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub trx: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub reference: Option<String>,
    #[serde(rename = "errorMsg", deserialize_with = "lenient::opt_string")]
    pub error_msg: Option<String>,
}

struct CallbackState {
    tracker: Arc<Tracker>,
    status: StatusClient,
}

/// How long a callback waits for the status API to confirm it: half the 10 s after which the
/// provider gives up on the callback and sends it again. Past it, the tracker checks the order's
/// watch again at once, and the callback is answered.
const CONFIRM_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Where the callback is posted: the secret in the path's last segment, or in a header.
const PATH: &str = "/provider/callback";

/// The callback routes, with the body limit and timeouts of every listener (`http`). The secret
/// is checked, in constant time, before the body is read.
pub fn router(tracker: Arc<Tracker>, status: StatusClient, secret: SecretString) -> Router {
    let secret = Arc::new(secret);
    let guard = move |request: Request, next: Next| {
        let secret = secret.clone();
        async move {
            let in_path = request.uri().path().strip_prefix(PATH).and_then(|rest| rest.strip_prefix('/'));
            let given = match in_path {
                Some(segment) => segment.as_bytes().to_vec(),
                None => request
                    .headers()
                    .get("X-Callback-Secret")
                    .map(|v| v.as_bytes().to_vec())
                    .unwrap_or_default(),
            };
            if !crate::http::same_secret(&given, &secret) {
                tracing::warn!("provider callback refused: wrong or missing secret");
                return answer(StatusCode::UNAUTHORIZED, "unauthorized");
            }
            next.run(request).await
        }
    };
    // One call, within a budget: the provider gives up on a callback after 10 s and sends it
    // again, so a status API that fails or hangs leaves the check to the tracker, never to
    // retries inside the provider's request.
    let state = Arc::new(CallbackState { tracker, status: status.without_retries() });
    let routes = Router::new()
        .route(PATH, post(handle))
        .route(&format!("{PATH}/{{secret}}"), post(handle))
        .layer(axum::middleware::from_fn(guard))
        .with_state(state);
    crate::http::limited(routes)
}

fn answer(status: StatusCode, response: &str) -> Response {
    (status, axum::Json(json!({ "response": response }))).into_response()
}

async fn handle(State(state): State<Arc<CallbackState>>, body: Bytes) -> Response {
    let callback: CallbackBody = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "provider callback refused: not the documented JSON");
            return answer(StatusCode::BAD_REQUEST, "invalid");
        }
    };
    let order_no = [&callback.trx, &callback.reference]
        .into_iter()
        .flatten()
        .find_map(|candidate| OrderNo::parse(candidate).ok());
    let Some(order_no) = order_no else {
        tracing::warn!("provider callback refused: no order number in trx or reference");
        return answer(StatusCode::BAD_REQUEST, "invalid");
    };
    tracing::info!(order = %order_no, event = ?callback.event, status = ?callback.status, "provider callback");
    let order = match confirm(&state.status, &order_no).await {
        Ok(order) => order,
        Err(e) => {
            tracing::warn!(
                order = %order_no,
                error = %e,
                claimed = ?callback.status,
                "a provider callback the status API could not confirm: checking the order again"
            );
            return match state.tracker.recheck_now(&order_no).await {
                Ok(()) => answer(StatusCode::OK, "success"),
                Err(e) => {
                    tracing::error!(order = %order_no, error = %e, "a re-check could not be scheduled");
                    answer(StatusCode::INTERNAL_SERVER_ERROR, "error")
                }
            };
        }
    };
    match state.tracker.apply(&order_no, &order).await {
        Ok(()) => answer(StatusCode::OK, "success"),
        Err(e) => {
            tracing::error!(order = %order_no, error = %e, "a provider callback could not be stored");
            answer(StatusCode::INTERNAL_SERVER_ERROR, "error")
        }
    }
}

/// The order as the status API gives it, in one call within [`CONFIRM_WITHIN`]; else why not.
async fn confirm(status: &StatusClient, order_no: &OrderNo) -> Result<Order, String> {
    match tokio::time::timeout(CONFIRM_WITHIN, status.status(order_no)).await {
        Ok(answer) => answer.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CONFIRM_WITHIN.as_secs())),
    }
}
