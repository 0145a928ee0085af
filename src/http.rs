//! How billbot serves HTTP (the Telegram and WhatsApp webhooks, the provider callback, health and
//! metrics), with the same limits on every listener:
//!
//! - a request's headers must arrive within 10 s (a client that sends them a byte at a time does
//!   not hold a connection open), and the whole request must be answered within 10 s (408);
//! - bodies over 64 KiB get 413 before they are read further;
//! - at most 1,024 connections at once: one more is closed at once rather than queued;
//! - on shutdown, no new connection is accepted and the requests in hand finish (5 s at most).
//!
//! Secrets are checked before a body is read, where the secret is not in the body itself
//! ([`require_secret`]); every comparison of a secret is constant-time (`subtle`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

/// The largest body any listener takes.
pub const MAX_BODY: usize = 64 * 1024;
/// The longest a request may take, body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once, per listener.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long the requests in hand may take to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(5);

/// `router` with the body limit and the request timeout.
pub fn limited(router: Router) -> Router {
    router
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
}

/// Whether `given` is the secret, compared in constant time.
pub fn same_secret(given: &[u8], secret: &SecretString) -> bool {
    given.ct_eq(secret.expose_secret().as_bytes()).into()
}

/// Runs `next` only if the header `name` holds the secret (401 otherwise), before the body is
/// read: a middleware step (`axum::middleware::from_fn`).
pub async fn require_secret(
    name: &'static str,
    secret: Arc<SecretString>,
    request: Request,
    next: Next,
) -> Response {
    let given = request.headers().get(name).map(|v| v.as_bytes()).unwrap_or_default();
    if !same_secret(given, &secret) {
        tracing::warn!(header = name, "request refused: wrong or missing secret");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    next.run(request).await
}

/// Serves `router` on `listener` until `shutdown`, with the limits above.
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, for one: pause rather than spin.
                    tracing::warn!(error = %e, "a connection could not be accepted");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!("too many connections: one closed at once");
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a connection ended with an error");
            }
            drop(slot);
        });
    }
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still in hand at shutdown were cut off");
    }
}
