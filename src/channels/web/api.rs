//! The web chat's API, same-origin only (the widget frames the page, so every call comes from
//! the page's own origin):
//!
//! - `POST /api/session` with `{"token": …}` or nothing: the same session with a fresh token, or a
//!   new session when the token is missing, forged or expired. `{"token", "session"}`.
//! - `GET /api/events` with `Authorization: Bearer <token>` and `Last-Event-ID` (or `?after=`):
//!   the conversation's lines numbered after it, then each new line as it is written, as
//!   Server-Sent Events (`id` the line's number, `data` the line). The stream ends after
//!   [`STREAM_FOR`]; the page reconnects from its last id, so nothing is lost or shown twice.
//! - `POST /api/send` with the token and `{"id", "text"}` or `{"id", "payload"}` (a button), and
//!   `lang` (the browser's): 202 once the message is durable, 429 when flood control dropped it
//!   (the chat sends too fast). `id` is the page's own for the message: sent again, it is handled
//!   once. The user's own line comes down the stream with the bot's answer to it.
//!
//! A request with an `Origin` header that is not the page's own is refused (403): another site
//! cannot post into a session even with a token it stole.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;

use super::session::Session;
use super::{Bell, Line, MAX_MESSAGE_CHARS, Recent, WebChat};
use crate::channels::intake::{Inbound, Taken};
use crate::conversation::input::Input;

/// How long one events stream runs before the page is asked to reconnect: under the listener's
/// connection age ([`crate::http::MAX_CONNECTION_AGE`]), so a stream ends on its own terms.
pub const STREAM_FOR: Duration = Duration::from_secs(45);

/// Lines sent on one stream at once at most (a page far behind catches up over reconnections).
const CATCH_UP: usize = 500;

/// The largest request body: a message of [`MAX_MESSAGE_CHARS`] characters of 4 bytes, in JSON.
const MAX_BODY: usize = 16 * 1024;

pub fn router(chat: WebChat) -> Router {
    let api = Router::new()
        .route("/api/session", post(start))
        .route("/api/send", post(send))
        .with_state(chat.clone());
    // The stream outlives the request timeout on purpose: it is kept out of `limited`.
    let events = Router::new().route("/api/events", get(events)).with_state(chat);
    crate::http::limited_to(api, MAX_BODY).merge(events).layer(middleware::from_fn(same_origin))
}

/// Refuses a request that a browser says comes from another origin than the page's.
async fn same_origin(request: Request, next: Next) -> Response {
    let headers = request.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        let origin = origin.to_str().unwrap_or_default();
        let ours = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) == Some(host);
        if !ours || host.is_empty() {
            tracing::info!("a web chat request from another origin: refused");
            return StatusCode::FORBIDDEN.into_response();
        }
    }
    next.run(request).await
}

#[derive(Debug, Default, Deserialize)]
struct Start {
    #[serde(default)]
    token: Option<String>,
}

/// The session a token names; a missing, forged or expired one starts a new session.
async fn start(State(chat): State<WebChat>, body: Option<Json<Start>>) -> Response {
    let keys = &chat.inner.keys;
    let now = Utc::now();
    let given = body.and_then(|Json(s)| s.token);
    let session = match given.as_deref().map(|t| keys.open(t, now)) {
        Some(Ok(session)) => Some(session),
        Some(Err(why)) => {
            tracing::info!(%why, "a web chat token refused: a new session starts");
            None
        }
        None => None,
    };
    let (session, token) = match session {
        Some(session) => {
            let token = keys.token(&session, now);
            (session, token)
        }
        None => match keys.start(now) {
            Ok(started) => started,
            Err(e) => {
                tracing::error!(error = %e, "no randomness for a web chat session");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        },
    };
    Json(serde_json::json!({ "token": token, "session": session.id() })).into_response()
}

/// The session of a request's `Authorization: Bearer` token, or the status to answer (401).
fn session_of(chat: &WebChat, headers: &HeaderMap) -> Result<Session, StatusCode> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    chat.inner.keys.open(token, Utc::now()).map_err(|why| {
        tracing::info!(%why, "a web chat request with a bad token");
        StatusCode::UNAUTHORIZED
    })
}

#[derive(Debug, Deserialize)]
struct After {
    after: Option<i64>,
}

async fn events(State(chat): State<WebChat>, headers: HeaderMap, Query(after): Query<After>) -> Response {
    let session = match session_of(&chat, &headers) {
        Ok(session) => session,
        Err(refused) => return refused.into_response(),
    };
    let last_id =
        headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    let after = last_id.or(after.after).unwrap_or(0);
    let key = session.chat();
    let bell = chat.inner.live.watch(&key);
    let until = tokio::time::Instant::now() + STREAM_FOR;
    struct Stream {
        chat: WebChat,
        key: crate::domain::ChatKey,
        bell: Option<std::sync::Arc<Bell>>,
        after: i64,
        /// The bell's rings without lines this stream has read the store for; `None` at first.
        unknown: Option<u64>,
        pending: std::collections::VecDeque<Event>,
        until: tokio::time::Instant,
    }
    impl Drop for Stream {
        fn drop(&mut self) {
            if let Some(bell) = self.bell.take() {
                self.chat.inner.live.unwatch(&self.key, bell);
            }
        }
    }
    fn push(pending: &mut std::collections::VecDeque<Event>, after: &mut i64, seq: i64, data: &str) {
        *after = seq;
        pending.push_back(Event::default().id(seq.to_string()).event("line").data(data));
    }
    let state =
        Stream { chat, key, bell: Some(bell), after, unknown: None, pending: Default::default(), until };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(event) = s.pending.pop_front() {
                return Some((Ok::<_, std::convert::Infallible>(event), s));
            }
            // Borrowed, not cloned: when the page goes, the stream's state holds the only copy
            // besides the map's, and `Live::unwatch` sees that nobody else listens.
            let bell = s.bell.as_ref()?;
            let rung = bell.notified();
            tokio::pin!(rung);
            rung.as_mut().enable();
            // The lines just written here come with the ring; the store is read at first, after
            // a ring without lines (another instance wrote), and when some are missing.
            let unknown = bell.unknown();
            let recent = match s.unknown == Some(unknown) {
                true => bell.after(s.after),
                false => Recent::Gap,
            };
            match recent {
                Recent::Lines(lines) => {
                    for (seq, data) in lines {
                        push(&mut s.pending, &mut s.after, seq, &data);
                    }
                    continue;
                }
                Recent::Nothing => {}
                Recent::Gap => match s.chat.inner.store.web_log_after::<Line>(&s.key, s.after).await {
                    Ok(lines) => {
                        s.unknown = Some(unknown);
                        for line in lines.into_iter().take(CATCH_UP) {
                            push(
                                &mut s.pending,
                                &mut s.after,
                                line.seq,
                                &super::event_data(line.at, &line.line),
                            );
                        }
                        if !s.pending.is_empty() {
                            continue;
                        }
                    }
                    Err(e) => {
                        // The page reconnects and reads again from its last line.
                        tracing::warn!(error = %e, "the web chat's conversation could not be read");
                        return None;
                    }
                },
            }
            tokio::select! {
                _ = rung => {}
                _ = tokio::time::sleep_until(s.until) => return None,
                _ = s.chat.inner.stopping.cancelled() => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

#[derive(Debug, Deserialize)]
struct Send {
    id: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    payload: Option<String>,
    /// The pressed button's label, as the page showed it.
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

async fn send(State(chat): State<WebChat>, headers: HeaderMap, Json(message): Json<Send>) -> Response {
    let session = match session_of(&chat, &headers) {
        Ok(session) => session,
        Err(refused) => return refused.into_response(),
    };
    let id_ok = (1..=40).contains(&message.id.len())
        && message.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok {
        return (StatusCode::BAD_REQUEST, "a message needs an id of 1 to 40 letters, digits, - or _")
            .into_response();
    }
    let (input, shown) = match (message.text, message.payload) {
        (Some(text), None) => {
            if text.chars().count() > MAX_MESSAGE_CHARS {
                return StatusCode::PAYLOAD_TOO_LARGE.into_response();
            }
            let text = text.trim().to_owned();
            if text.is_empty() {
                return (StatusCode::BAD_REQUEST, "an empty message").into_response();
            }
            (Input::from_text(&text), text)
        }
        (None, Some(payload)) if payload.len() <= 64 => {
            let label: String = message.label.unwrap_or_default().trim().chars().take(100).collect();
            (Input::Button(payload), label)
        }
        _ => return (StatusCode::BAD_REQUEST, "give either a text or a button's payload").into_response(),
    };
    let key = session.chat();
    let now = Utc::now();
    let mut inbound =
        Inbound::new(format!("{key}:{}", message.id), key.clone(), now.timestamp_micros(), input);
    inbound.lang_code = message.lang.filter(|l| l.len() <= 35);
    inbound.sent_at = Some(now);
    if matches!(inbound.input, Input::Text(_) | Input::Command { .. }) {
        inbound.typed = Some(shown.clone());
    }
    // What the user sent, in the conversation before the bot's answer to it (a button press as
    // its label): written with that answer (`WebEdge::deliver`).
    if !shown.is_empty() {
        let line = Line::User { id: message.id, text: shown };
        inbound.context = serde_json::to_value(&line).unwrap_or_default();
    }
    match chat.inner.intake.take_in(inbound).await {
        Ok(Taken::Queued | Taken::Redelivered) => StatusCode::ACCEPTED.into_response(),
        // Dropped by flood control: the page says so and gives the user their message back.
        Ok(Taken::Refused) => StatusCode::TOO_MANY_REQUESTS.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "a web chat message could not be taken in");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
