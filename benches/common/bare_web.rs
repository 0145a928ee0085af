//! The yardstick of the web chat's load benchmark: a bare web chat on axum that speaks the same
//! protocol as billbot's page (a session, an events stream of Server-Sent Events resumed from
//! `Last-Event-ID`, one POST a message, answered 202), answers the same six steps with the same
//! buttons, calls the same sandbox for the same three of them, and keeps its lines in memory
//! only. What billbot costs beyond it is what its store, dialogue, limits and rendering cost.
//!
//! It runs as a process of its own, like billbot: the benchmark starts its own binary again with
//! `--as-bare-web`, listening on `BILLBOT_WEBCHAT_LISTEN`, with the provider's settings in the
//! environment (see `bare_provider.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::bare_provider::Provider;

/// A session's lines (numbered from 1) and the bell of its open stream.
#[derive(Default)]
struct Chat {
    lines: Vec<String>,
    bell: Arc<Notify>,
}

#[derive(Clone)]
struct Bare {
    chats: Arc<Mutex<HashMap<String, Chat>>>,
    sessions: Arc<AtomicU64>,
    provider: Provider,
}

impl Bare {
    fn push(&self, session: &str, line: Value) {
        let mut chats = self.chats.lock().unwrap();
        let chat = chats.entry(session.to_owned()).or_default();
        chat.lines.push(json!({ "at": chrono::Utc::now(), "line": line }).to_string());
        chat.bell.notify_waiters();
    }

    /// The lines after `after`, and the chat's bell.
    fn after(&self, session: &str, after: usize) -> (Vec<(usize, String)>, Arc<Notify>) {
        let mut chats = self.chats.lock().unwrap();
        let chat = chats.entry(session.to_owned()).or_default();
        let lines = chat.lines.iter().enumerate().skip(after).map(|(i, l)| (i + 1, l.clone())).collect();
        (lines, chat.bell.clone())
    }
}

fn session_of(headers: &HeaderMap) -> Option<String> {
    let token = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")?;
    Some(token.to_owned())
}

async fn start(State(bare): State<Bare>) -> Json<Value> {
    let id = format!("s{}", bare.sessions.fetch_add(1, Ordering::Relaxed));
    Json(json!({ "token": id, "session": id }))
}

async fn events(State(bare): State<Bare>, headers: HeaderMap) -> Response {
    let Some(session) = session_of(&headers) else { return StatusCode::UNAUTHORIZED.into_response() };
    let after = headers.get("last-event-id").and_then(|v| v.to_str().ok()?.trim().parse().ok()).unwrap_or(0);
    let stream =
        futures_util::stream::unfold((bare, session, after), |(bare, session, mut after)| async move {
            loop {
                let (lines, bell) = bare.after(&session, after);
                let rung = bell.notified();
                tokio::pin!(rung);
                rung.as_mut().enable();
                if let Some((seq, data)) = lines.into_iter().next() {
                    after = seq;
                    let event = Event::default().id(seq.to_string()).event("line").data(data);
                    return Some((Ok::<_, std::convert::Infallible>(event), (bare, session, after)));
                }
                // Rung between the read and `enable`: the next read sees the line.
                let (lines, _) = bare.after(&session, after);
                if lines.is_empty() {
                    rung.await;
                }
            }
        });
    Sse::new(stream).into_response()
}

fn bot(title: &str, label: &str, payload: &str) -> Value {
    json!({ "from": "bot", "title": title, "body": "", "buttons": [[{ "label": label, "payload": payload }]] })
}

async fn send(State(bare): State<Bare>, headers: HeaderMap, Json(message): Json<Value>) -> Response {
    let Some(session) = session_of(&headers) else { return StatusCode::UNAUTHORIZED.into_response() };
    let text = message["text"].as_str().map(str::to_owned);
    let payload = message["payload"].as_str().map(str::to_owned);
    let shown = text.clone().or_else(|| message["label"].as_str().map(str::to_owned)).unwrap_or_default();
    bare.push(&session, json!({ "from": "user", "id": message["id"], "text": shown }));
    tokio::spawn(async move {
        let answer = match (text.as_deref(), payload.as_deref()) {
            (Some("/start"), _) => bot("Welcome", "Check a bill", "bill"),
            (Some(text), _) => match text.strip_prefix("/status ") {
                Some(order) => bot(&bare.provider.status(order.trim()).await, "Refresh", order.trim()),
                None => bot(&bare.provider.inquire(text.trim()).await, "Menu", "menu"),
            },
            (None, Some("bill")) => bot("Which biller?", "Senelec", "senelec"),
            (None, Some("senelec")) => bot("Your customer number?", "Menu", "menu"),
            (None, Some(order)) => bot(&bare.provider.status(order).await, "Refresh", order),
            (None, None) => return,
        };
        bare.push(&session, answer);
    });
    StatusCode::ACCEPTED.into_response()
}

/// Runs the bare web chat until the process is killed.
pub fn run() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let listen = std::env::var("BILLBOT_WEBCHAT_LISTEN").expect("BILLBOT_WEBCHAT_LISTEN");
        let bare =
            Bare { chats: Default::default(), sessions: Default::default(), provider: Provider::from_env() };
        let app = Router::new()
            .route("/", get(|| async { "bare web chat" }))
            .route("/api/session", post(start))
            .route("/api/events", get(events))
            .route("/api/send", post(send))
            .with_state(bare);
        // The same backlog as billbot's listeners.
        let listen = listen.parse().expect("an address");
        let listener = billbot::http::bind(listen).await.expect("the listen address");
        axum::serve(listener, app).await.expect("the bare web chat");
    });
}
