//! The webhook Meta calls, at `/whatsapp/webhook`:
//!
//! - `GET` is Meta's verification: `hub.challenge` is answered verbatim when `hub.mode` is
//!   `subscribe` and `hub.verify_token` is ours; anything else gets 403.
//! - `POST` carries messages and statuses. The `X-Hub-Signature-256` header (HMAC-SHA256 of the
//!   raw body with the app secret) is checked, in constant time, before the body is parsed: 401
//!   without a valid one, and nothing is handled. A signed body that is not JSON gets 400. Else
//!   the messages are recorded (a redelivered one is recognized) and 200 goes back at once; the
//!   work runs in the chats' queues.
//! - The limits of every listener apply (`http`: timeouts, caps on connections), but bodies may
//!   be 3 MiB ([`MAX_BODY`]): Meta batches changes, and documents webhook payloads of up to 3 MB.
//!   A POST without a signature header is refused before its body is read.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::WhatsApp;
use super::wire::Webhook;

/// The webhook's path.
pub const PATH: &str = "/whatsapp/webhook";
/// The largest body the webhook takes (413 beyond): Meta's documented maximum, 3 MB, and a little
/// more. A batch must fit whole: one refused is delivered again, and refused again, for days.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// The webhook's routes.
pub fn router(whatsapp: WhatsApp) -> Router {
    let routes = Router::new()
        .route(PATH, get(verify).post(receive))
        .layer(axum::middleware::from_fn(signed_or_unread))
        .with_state(whatsapp);
    crate::http::limited_to(routes, MAX_BODY)
}

/// A POST without a signature header is refused before its body is read.
async fn signed_or_unread(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let post = request.method() == axum::http::Method::POST;
    if post && !request.headers().contains_key("x-hub-signature-256") {
        tracing::warn!("WhatsApp webhook refused: no signature");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    next.run(request).await
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` with `secret`.
pub fn signed(secret: &SecretString, signature: Option<&str>, body: &[u8]) -> bool {
    let Some(hex_digest) = signature.and_then(|s| s.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).is_ok()
}

async fn verify(State(whatsapp): State<WhatsApp>, Query(query): Query<HashMap<String, String>>) -> Response {
    let mode = query.get("hub.mode").map(String::as_str);
    let token = query.get("hub.verify_token").map(String::as_str).unwrap_or_default();
    match (mode, query.get("hub.challenge")) {
        (Some("subscribe"), Some(challenge))
            if crate::http::same_secret(token.as_bytes(), whatsapp.verify_token()) =>
        {
            tracing::info!("WhatsApp webhook verified");
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => {
            tracing::warn!("WhatsApp webhook verification refused");
            StatusCode::FORBIDDEN.into_response()
        }
    }
}

async fn receive(State(whatsapp): State<WhatsApp>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
    if !signed(whatsapp.app_secret(), signature, &body) {
        tracing::warn!(signed = signature.is_some(), "WhatsApp webhook refused: bad or missing signature");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let webhook: Webhook = match serde_json::from_slice(&body) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "WhatsApp webhook refused: not JSON");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    match whatsapp.take_in(webhook).await {
        Ok(()) => StatusCode::OK.into_response(),
        // Meta delivers again later: nothing is lost.
        Err(e) => {
            tracing::error!(error = %e, "a WhatsApp webhook could not be recorded");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
