//! Telegram's webhook, served by billbot itself rather than by teloxide's listener, so that:
//!
//! - the secret (`X-Telegram-Bot-Api-Secret-Token`) is compared in constant time, before the
//!   body is read;
//! - an update is recorded in the store before Telegram is told 200: an instance that dies after
//!   answering loses nothing (another instance, or this one restarted, handles it), and an update
//!   Telegram delivers again, to any instance, is handled once;
//! - bodies over 256 KiB get 413, a request over 10 s gets 408.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::{Request, Requester};
use teloxide::types::{AllowedUpdate, Update};
use tower_http::timeout::TimeoutLayer;

use super::{Telegram, TgBot};
use crate::config::WebhookSettings;

const MAX_BODY: usize = 256 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Hook {
    telegram: Telegram,
    secret: SecretString,
}

/// The secret Telegram is asked to send: the configured one, or 32 random bytes (hex) from the
/// system's random source.
pub fn secret(settings: &WebhookSettings) -> std::io::Result<SecretString> {
    if let Some(secret) = &settings.secret {
        return Ok(secret.clone());
    }
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    Ok(SecretString::from(hex::encode(bytes)))
}

/// The webhook's route, at the path of the public URL Telegram is given.
pub fn router(telegram: Telegram, settings: &WebhookSettings, secret: SecretString) -> Router {
    let path = match settings.url.path() {
        "" => "/",
        path => path,
    };
    Router::new()
        .route(path, post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .with_state(Hook { telegram, secret })
}

/// Tells Telegram where to post updates, with the secret, for messages and button presses.
pub async fn register(
    bot: &TgBot,
    settings: &WebhookSettings,
    secret: &SecretString,
) -> Result<(), teloxide::RequestError> {
    bot.set_webhook(settings.url.clone())
        .secret_token(secret.expose_secret().to_owned())
        .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
        .send()
        .await?;
    Ok(())
}

async fn receive(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let given = headers.get("x-telegram-bot-api-secret-token").map(|v| v.as_bytes()).unwrap_or_default();
    if !bool::from(given.ct_eq(hook.secret.expose_secret().as_bytes())) {
        tracing::warn!("Telegram webhook refused: wrong or missing secret");
        return StatusCode::UNAUTHORIZED;
    }
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(e) => {
            // Telegram would deliver it again and again: it is logged and let go.
            tracing::warn!(error = %e, "a Telegram update that does not parse was dropped");
            return StatusCode::OK;
        }
    };
    match hook.telegram.take_in(update).await {
        Ok(()) => StatusCode::OK,
        // Telegram delivers it again later.
        Err(e) => {
            tracing::error!(error = %e, "a Telegram update could not be recorded");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}
