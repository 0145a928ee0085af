//! Telegram's webhook, served by billbot itself rather than by teloxide's listener, so that:
//!
//! - the secret (`X-Telegram-Bot-Api-Secret-Token`) is compared in constant time, before the
//!   body is read;
//! - an update is recorded in the store before Telegram is told 200: an instance that dies after
//!   answering loses nothing (another instance, or this one restarted, handles it), and an update
//!   Telegram delivers again, to any instance, is handled once;
//! - the limits of every listener apply (`http`: 64 KiB, timeouts, a cap on connections).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};
use teloxide::payloads::SetWebhookSetters;
use teloxide::prelude::{Request, Requester};
use teloxide::types::{AllowedUpdate, Update};

use super::{Telegram, TgBot};
use crate::config::WebhookSettings;

#[derive(Clone)]
struct Hook {
    telegram: Telegram,
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
    let secret = std::sync::Arc::new(secret);
    let routes = Router::new()
        .route(path, post(receive))
        .layer(axum::middleware::from_fn(move |request, next| {
            crate::http::require_secret("x-telegram-bot-api-secret-token", secret.clone(), request, next)
        }))
        .with_state(Hook { telegram });
    crate::http::limited(routes)
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

async fn receive(State(hook): State<Hook>, body: Bytes) -> StatusCode {
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
