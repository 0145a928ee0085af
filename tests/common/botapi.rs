//! A Telegram Bot API server on loopback, for driving the real dispatcher through teloxide's
//! real HTTP client. It keeps the chats' messages, queues updates for `getUpdates`, and rejects
//! what real Telegram rejects: texts over 4096 characters or empty, HTML that does not parse,
//! callback data over 64 bytes, edits that change nothing, unanswered-callback bookkeeping.
//! Method names are matched case-insensitively, as Telegram does (teloxide sends `SendMessage`).
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;

pub const TOKEN: &str = "123456:TEST-token_never-logged-ABCdef";
pub const BOT_ID: i64 = 123456;

/// A message the bot sent (as it now stands, after edits).
#[derive(Debug, Clone)]
pub struct Sent {
    pub message_id: i64,
    pub chat_id: i64,
    /// The visible text (HTML tags removed, entities decoded).
    pub text: String,
    /// The HTML as sent.
    pub html: String,
    /// Rows of (label, callback data).
    pub buttons: Vec<Vec<(String, String)>>,
    pub edits: usize,
}

/// One Bot API call, as received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub params: Value,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    updates: VecDeque<Value>,
    next_update_id: i64,
    next_message_id: i64,
    next_callback_id: i64,
    /// Messages by chat, in the order sent.
    messages: HashMap<i64, Vec<Sent>>,
    /// The chat of each message id.
    chat_of: HashMap<i64, i64>,
    /// Woken when a chat gets a message or an edit.
    sent: HashMap<i64, Arc<Notify>>,
    calls: Vec<Call>,
    open_callbacks: HashMap<String, bool>,
    /// Answers to force on the next calls of a method: (HTTP status, body).
    forced: HashMap<String, VecDeque<(u16, Value)>>,
    /// Set by `setWebhook`: updates are then POSTed there (with the secret) instead of queued.
    webhook: Option<(String, Option<String>)>,
}

#[derive(Clone)]
pub struct FakeTelegram {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    updated: Arc<Notify>,
}

fn ok(result: Value) -> (u16, Value) {
    (200, json!({"ok": true, "result": result}))
}

fn bad(description: &str) -> (u16, Value) {
    (400, json!({"ok": false, "error_code": 400, "description": format!("Bad Request: {description}")}))
}

impl FakeTelegram {
    pub async fn start() -> FakeTelegram {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeTelegram {
            addr: listener.local_addr().unwrap(),
            inner: Arc::new(Mutex::new(Inner {
                next_update_id: 1,
                next_message_id: 1,
                ..Default::default()
            })),
            updated: Arc::new(Notify::new()),
        };
        let app = Router::new().route("/{bot}/{method}", post(handle)).with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    pub fn api_url(&self) -> reqwest::Url {
        reqwest::Url::parse(&format!("http://{}/", self.addr)).unwrap()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    fn push_update(&self, build: impl FnOnce(i64) -> Value) {
        let mut inner = self.lock();
        let id = inner.next_update_id;
        inner.next_update_id += 1;
        let update = build(id);
        if let Some((url, secret)) = inner.webhook.clone() {
            drop(inner);
            tokio::spawn(deliver_to_webhook(url, secret, vec![update]));
            return;
        }
        inner.updates.push_back(update);
        drop(inner);
        self.updated.notify_waiters();
    }

    fn user(user_id: i64, lang: &str) -> Value {
        json!({"id": user_id, "is_bot": false, "first_name": "Awa", "language_code": lang})
    }

    fn chat(chat_id: i64) -> Value {
        json!({"id": chat_id, "type": "private", "first_name": "Awa"})
    }

    fn group(group_id: i64) -> Value {
        json!({"id": group_id, "type": "group", "title": "Agents Dakar"})
    }

    /// Telegram's service message when `user_id` joins the group `group_id`.
    pub fn user_joins_group(&self, group_id: i64, user_id: i64, lang: &str) {
        let message = json!({
            "message_id": 3_000_000 + user_id,
            "date": 1_764_000_000,
            "chat": Self::group(group_id),
            "from": Self::user(user_id, lang),
            "new_chat_members": [Self::user(user_id, lang)],
        });
        self.push_update(|id| json!({"update_id": id, "message": message}));
    }

    /// The user `user_id` types `text` in the group `group_id`.
    pub fn user_says_in_group(&self, group_id: i64, user_id: i64, lang: &str, text: &str) {
        let mut message = json!({
            "message_id": 4_000_000 + user_id,
            "date": 1_764_000_000,
            "chat": Self::group(group_id),
            "from": Self::user(user_id, lang),
            "text": text,
        });
        if text.starts_with('/') {
            let length = text.split_whitespace().next().unwrap_or_default().encode_utf16().count();
            message["entities"] = json!([{"type": "bot_command", "offset": 0, "length": length}]);
        }
        self.push_update(|id| json!({"update_id": id, "message": message}));
    }

    /// The user `user_id` answers the bot's message `replied` in the group `group_id` (a Telegram
    /// reply: the message carries the one it answers).
    pub fn user_replies_in_group(&self, group_id: i64, user_id: i64, lang: &str, replied: &Sent, text: &str) {
        let bot =
            json!({"id": BOT_ID, "is_bot": true, "first_name": "billbot", "username": "billbot_test_bot"});
        self.user_replies_in_group_to(
            group_id,
            user_id,
            lang,
            (replied.message_id, bot, &replied.text),
            text,
        );
    }

    /// The user `user_id` answers, in the group `group_id`, the message `(id, from, text)` sent
    /// there by `from` (a user or a bot, as Telegram describes them).
    pub fn user_replies_in_group_to(
        &self,
        group_id: i64,
        user_id: i64,
        lang: &str,
        (replied_id, from, replied_text): (i64, Value, &str),
        text: &str,
    ) {
        let message = json!({
            "message_id": 5_000_000 + user_id,
            "date": 1_764_000_000,
            "chat": Self::group(group_id),
            "from": Self::user(user_id, lang),
            "text": text,
            "reply_to_message": {
                "message_id": replied_id,
                "date": 1_764_000_000,
                "chat": Self::group(group_id),
                "from": from,
                "text": replied_text,
            },
        });
        self.push_update(|id| json!({"update_id": id, "message": message}));
    }

    /// The user `user_id` (in private chat `user_id`) types `text`.
    pub fn user_says(&self, user_id: i64, lang: &str, text: &str) {
        let message = Self::typed(user_id, lang, text);
        self.push_update(|id| json!({"update_id": id, "message": message}));
    }

    /// The update of the user `user_id` typing `text`, with the next update id, not delivered:
    /// the test posts it where it chooses ([`post_update`]).
    pub fn update_user_says(&self, user_id: i64, lang: &str, text: &str) -> Value {
        let mut inner = self.lock();
        let id = inner.next_update_id;
        inner.next_update_id += 1;
        drop(inner);
        json!({"update_id": id, "message": Self::typed(user_id, lang, text)})
    }

    /// The message of the user `user_id` typing `text` in their private chat.
    fn typed(user_id: i64, lang: &str, text: &str) -> Value {
        let mut message = json!({
            "message_id": 1_000_000 + user_id,
            "date": 1_764_000_000,
            "chat": Self::chat(user_id),
            "from": Self::user(user_id, lang),
            "text": text,
        });
        if text.starts_with('/') {
            let length = text.split_whitespace().next().unwrap_or_default().encode_utf16().count();
            message["entities"] = json!([{"type": "bot_command", "offset": 0, "length": length}]);
        }
        message
    }

    /// The user sends a sticker (a message without text).
    pub fn user_sends_sticker(&self, user_id: i64, lang: &str) {
        let message = json!({
            "message_id": 2_000_000 + user_id,
            "date": 1_764_000_000,
            "chat": Self::chat(user_id),
            "from": Self::user(user_id, lang),
            "sticker": {"file_id": "s1", "file_unique_id": "u1", "type": "regular", "width": 512,
                        "height": 512, "is_animated": false, "is_video": false},
        });
        self.push_update(|id| json!({"update_id": id, "message": message}));
    }

    /// A new callback query id, recorded as not yet answered.
    pub fn open_callback(&self) -> String {
        let mut inner = self.lock();
        inner.next_callback_id += 1;
        let id = format!("cb{}", inner.next_callback_id);
        inner.open_callbacks.insert(id.clone(), false);
        id
    }

    /// The user presses the button with callback `data` on the bot's message `message_id`.
    pub fn user_presses(&self, user_id: i64, lang: &str, message_id: i64, data: &str) -> String {
        let sent = self.message(message_id);
        let text = sent.as_ref().map(|m| m.text.clone()).unwrap_or_default();
        let message = json!({
            "message_id": message_id,
            "date": 1_764_000_000,
            "chat": Self::chat(user_id),
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "billbot", "username": "billbot_test_bot"},
            "text": text,
        });
        self.push_callback(user_id, lang, data, message)
    }

    /// The user presses a button with `data` on a message Telegram no longer gives bots (over 48 h
    /// old): the query carries an inaccessible message (date 0, no text).
    pub fn user_presses_on_old_message(
        &self,
        user_id: i64,
        lang: &str,
        message_id: i64,
        data: &str,
    ) -> String {
        let message = json!({"message_id": message_id, "date": 0, "chat": Self::chat(user_id)});
        self.push_callback(user_id, lang, data, message)
    }

    /// The user presses a button with `data` on a message sent in inline mode (through another
    /// chat): the query has an `inline_message_id` and no message, so no chat to answer in.
    pub fn user_presses_inline(&self, user_id: i64, lang: &str, data: &str) -> String {
        let callback_id = self.open_callback();
        let query = json!({
            "id": callback_id,
            "from": Self::user(user_id, lang),
            "chat_instance": "ci-2",
            "inline_message_id": "AAAAAInline",
            "data": data,
        });
        self.push_update(|id| json!({"update_id": id, "callback_query": query}));
        callback_id
    }

    /// Queues a callback query with `data` on `message`; returns its id.
    fn push_callback(&self, user_id: i64, lang: &str, data: &str, message: Value) -> String {
        let callback_id = self.open_callback();
        let query = json!({
            "id": callback_id,
            "from": Self::user(user_id, lang),
            "chat_instance": "ci-1",
            "data": data,
            "message": message,
        });
        self.push_update(|id| json!({"update_id": id, "callback_query": query}));
        callback_id
    }

    /// Presses the button labelled `label` on the latest message of the chat that has one.
    pub fn press(&self, user_id: i64, lang: &str, label: &str) -> String {
        let (message_id, data) = self
            .messages_to(user_id)
            .iter()
            .rev()
            .find_map(|m| {
                m.buttons
                    .iter()
                    .flatten()
                    .find(|(l, _)| l.contains(label))
                    .map(|(_, d)| (m.message_id, d.clone()))
            })
            .unwrap_or_else(|| panic!("no button {label:?} in chat {user_id}"));
        self.user_presses(user_id, lang, message_id, &data)
    }

    /// Whether the bot has fetched and confirmed every update (its next `getUpdates` asked past them).
    pub fn all_updates_taken(&self) -> bool {
        self.lock().updates.is_empty()
    }

    pub fn messages_to(&self, chat_id: i64) -> Vec<Sent> {
        self.lock().messages.get(&chat_id).cloned().unwrap_or_default()
    }

    /// How many messages the chat has received.
    pub fn count_to(&self, chat_id: i64) -> usize {
        self.lock().messages.get(&chat_id).map_or(0, Vec::len)
    }

    pub fn message(&self, message_id: i64) -> Option<Sent> {
        let inner = self.lock();
        let chat = inner.chat_of.get(&message_id)?;
        inner.messages.get(chat)?.iter().find(|m| m.message_id == message_id).cloned()
    }

    fn chat_notify(&self, chat_id: i64) -> Arc<Notify> {
        self.lock().sent.entry(chat_id).or_default().clone()
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.lock().calls.iter().filter(|c| c.method.eq_ignore_ascii_case(method)).cloned().collect()
    }

    /// How many calls of each method were received (long polling's `getUpdates` included).
    pub fn call_counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for call in &self.lock().calls {
            *counts.entry(call.method.clone()).or_default() += 1;
        }
        counts
    }

    pub fn callback_answered(&self, id: &str) -> bool {
        self.lock().open_callbacks.get(id).copied().unwrap_or(false)
    }

    /// Forces the next call of `method` to get `status` and `body`.
    pub fn force_next(&self, method: &str, status: u16, body: Value) {
        self.lock().forced.entry(method.to_ascii_lowercase()).or_default().push_back((status, body));
    }

    /// Waits until the chat has received at least `count` messages (a guard stops a broken run
    /// from hanging; it is not a speed assertion).
    pub async fn wait_for_messages(&self, chat_id: i64, count: usize) -> Vec<Sent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let notify = self.chat_notify(chat_id);
        loop {
            let notified = notify.notified();
            let messages = self.messages_to(chat_id);
            if messages.len() >= count {
                return messages;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("chat {chat_id}: {} messages, {count} expected: {messages:#?}", messages.len());
            }
        }
    }

    /// Waits until `check` holds for the chat's messages.
    pub async fn wait_until(&self, chat_id: i64, what: &str, check: impl Fn(&[Sent]) -> bool) -> Vec<Sent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let notify = self.chat_notify(chat_id);
        loop {
            let notified = notify.notified();
            let messages = self.messages_to(chat_id);
            if check(&messages) {
                return messages;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("chat {chat_id}: never {what}: {messages:#?}");
            }
        }
    }

    /// Waits for the reply to the latest input: `before` messages were there, one more arrives
    /// (or an edit happens); returns the chat's last message.
    pub async fn next_reply(&self, chat_id: i64, before: usize) -> Sent {
        self.wait_for_messages(chat_id, before + 1).await.pop().unwrap()
    }
}

async fn handle(
    State(fake): State<FakeTelegram>,
    Path((bot, method)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let method = method.to_ascii_lowercase();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let params: Value = match content_type.split_once("boundary=") {
        Some((_, boundary)) => multipart_fields(&body, boundary.trim_matches('"')),
        None => serde_json::from_slice(&body).unwrap_or(json!({})),
    };
    let (status, answer) = if bot != format!("bot{TOKEN}") {
        (401, json!({"ok": false, "error_code": 401, "description": "Unauthorized"}))
    } else if let Some(forced) = fake.lock().forced.get_mut(&method).and_then(VecDeque::pop_front) {
        forced
    } else if method == "getupdates" {
        get_updates(&fake, &params).await
    } else {
        answer(&fake, &method, &params)
    };
    let chat = params.get("chat_id").and_then(Value::as_i64);
    let notify = {
        let mut inner = fake.lock();
        inner.calls.push(Call { method: method.clone(), params, status });
        match (chat, method.as_str()) {
            (Some(chat), "sendmessage" | "editmessagetext") => inner.sent.get(&chat).cloned(),
            _ => None,
        }
    };
    if let Some(notify) = notify {
        notify.notify_waiters();
    }
    (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response()
}

async fn get_updates(fake: &FakeTelegram, params: &Value) -> (u16, Value) {
    let offset = params.get("offset").and_then(Value::as_i64).unwrap_or(0);
    let wait = params.get("timeout").and_then(Value::as_u64).unwrap_or(0).min(2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let notified = fake.updated.notified();
        {
            let mut inner = fake.lock();
            inner.updates.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            if !inner.updates.is_empty() {
                let limit = params.get("limit").and_then(Value::as_u64).unwrap_or(100).clamp(1, 100) as usize;
                return ok(Value::Array(inner.updates.iter().take(limit).cloned().collect()));
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return ok(json!([]));
        }
    }
}

fn message_json(sent: &Sent) -> Value {
    let mut message = json!({
        "message_id": sent.message_id,
        "date": 1_764_000_000,
        "chat": {"id": sent.chat_id, "type": "private", "first_name": "Awa"},
        "from": {"id": BOT_ID, "is_bot": true, "first_name": "billbot", "username": "billbot_test_bot"},
        "text": sent.text,
    });
    if !sent.buttons.is_empty() {
        let rows: Vec<Value> = sent
            .buttons
            .iter()
            .map(|row| row.iter().map(|(l, d)| json!({"text": l, "callback_data": d})).collect())
            .collect();
        message["reply_markup"] = json!({"inline_keyboard": rows});
    }
    message
}

/// Rows of (label, callback data).
type Keyboard = Vec<Vec<(String, String)>>;

/// Checks text and markup as Telegram does; returns the visible text and buttons.
fn validate(params: &Value) -> Result<(String, String, Keyboard), (u16, Value)> {
    let html = params.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
    let text = match params.get("parse_mode").and_then(Value::as_str) {
        Some("HTML") => parse_html(&html).map_err(|e| bad(&format!("can't parse entities: {e}")))?,
        Some(other) => return Err(bad(&format!("unsupported parse_mode {other}"))),
        None => html.clone(),
    };
    if text.trim().is_empty() {
        return Err(bad("message text is empty"));
    }
    if text.encode_utf16().count() > 4096 {
        return Err(bad("message is too long"));
    }
    let mut buttons = Vec::new();
    if let Some(rows) = params.pointer("/reply_markup/inline_keyboard").and_then(Value::as_array) {
        for row in rows {
            let mut out = Vec::new();
            for button in row.as_array().into_iter().flatten() {
                let label = button.get("text").and_then(Value::as_str).unwrap_or_default();
                let data = button.get("callback_data").and_then(Value::as_str).unwrap_or_default();
                if label.is_empty() {
                    return Err(bad("inline keyboard button text is empty"));
                }
                if data.is_empty() || data.len() > 64 {
                    return Err(bad("BUTTON_DATA_INVALID"));
                }
                out.push((label.to_owned(), data.to_owned()));
            }
            buttons.push(out);
        }
    }
    Ok((text, html, buttons))
}

fn answer(fake: &FakeTelegram, method: &str, params: &Value) -> (u16, Value) {
    match method {
        "getme" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "billbot", "username": "billbot_test_bot",
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "has_main_web_app": false,
        })),
        "deletewebhook" => {
            fake.lock().webhook = None;
            ok(json!(true))
        }
        "setwebhook" => {
            let url = params.get("url").and_then(Value::as_str).map(str::to_owned);
            let secret = params.get("secret_token").and_then(Value::as_str).map(str::to_owned);
            let mut inner = fake.lock();
            inner.webhook = url.clone().map(|u| (u, secret.clone()));
            // Like Telegram: updates that were waiting are delivered to the new webhook.
            if let Some(url) = url {
                let pending: Vec<Value> = inner.updates.drain(..).collect();
                tokio::spawn(deliver_to_webhook(url, secret, pending));
            }
            ok(json!(true))
        }
        "setmycommands" => {
            let commands = params.get("commands").and_then(Value::as_array).cloned().unwrap_or_default();
            let valid = !commands.is_empty()
                && commands.iter().all(|c| {
                    let name = c.get("command").and_then(Value::as_str).unwrap_or_default();
                    let description = c.get("description").and_then(Value::as_str).unwrap_or_default();
                    (1..=32).contains(&name.len())
                        && name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
                        && (1..=256).contains(&description.chars().count())
                });
            if valid { ok(json!(true)) } else { bad("BOT_COMMAND_INVALID") }
        }
        "answercallbackquery" => {
            let id = params.get("callback_query_id").and_then(Value::as_str).unwrap_or_default();
            let mut inner = fake.lock();
            match inner.open_callbacks.get_mut(id) {
                Some(answered @ false) => {
                    *answered = true;
                    ok(json!(true))
                }
                _ => bad("query is too old and response timeout expired or query ID is invalid"),
            }
        }
        "sendmessage" => {
            let (text, html, buttons) = match validate(params) {
                Ok(v) => v,
                Err(e) => return e,
            };
            let Some(chat_id) = params.get("chat_id").and_then(Value::as_i64) else {
                return bad("chat not found");
            };
            let mut inner = fake.lock();
            let message_id = inner.next_message_id;
            inner.next_message_id += 1;
            let sent = Sent { message_id, chat_id, text, html, buttons, edits: 0 };
            let json = message_json(&sent);
            inner.messages.entry(chat_id).or_default().push(sent);
            inner.chat_of.insert(message_id, chat_id);
            ok(json)
        }
        "editmessagetext" => {
            let (text, html, buttons) = match validate(params) {
                Ok(v) => v,
                Err(e) => return e,
            };
            let message_id = params.get("message_id").and_then(Value::as_i64).unwrap_or_default();
            let mut inner = fake.lock();
            let chat_id = params.get("chat_id").and_then(Value::as_i64).unwrap_or_default();
            let Some(sent) = inner
                .messages
                .get_mut(&chat_id)
                .and_then(|m| m.iter_mut().find(|m| m.message_id == message_id))
            else {
                return bad("message to edit not found");
            };
            if sent.html == html && sent.buttons == buttons {
                return bad(
                    "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
                );
            }
            sent.text = text;
            sent.html = html;
            sent.buttons = buttons;
            sent.edits += 1;
            ok(message_json(sent))
        }
        _ => (404, json!({"ok": false, "error_code": 404, "description": "Not Found: method not found"})),
    }
}

/// The visible text of a Telegram HTML message, or why Telegram would refuse it.
pub fn parse_html(html: &str) -> Result<String, String> {
    const TAGS: [&str; 15] = [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "code",
        "pre",
        "a",
        "span",
        "tg-spoiler",
        "blockquote",
    ];
    let mut out = String::new();
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').ok_or("unclosed start tag")?;
                let tag = &rest[1..end];
                let (closing, body) = match tag.strip_prefix('/') {
                    Some(b) => (true, b),
                    None => (false, tag),
                };
                let name = body.split_whitespace().next().unwrap_or_default();
                if !TAGS.contains(&name) {
                    return Err(format!("unsupported start tag \"{name}\""));
                }
                if closing {
                    if open.pop().as_deref() != Some(name) {
                        return Err(format!("unmatched end tag \"{name}\""));
                    }
                } else {
                    open.push(name.to_owned());
                }
                rest = &rest[end + 1..];
            }
            '&' => {
                let end = rest.find(';').filter(|e| *e <= 10).ok_or("unterminated entity")?;
                let entity = &rest[1..end];
                let decoded = match entity {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    e if e.starts_with('#') => e[1..]
                        .parse::<u32>()
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("bad entity &{e};"))?,
                    e => return Err(format!("unknown entity &{e};")),
                };
                out.push(decoded);
                rest = &rest[end + 1..];
            }
            '>' => return Err("unexpected > (must be escaped)".into()),
            c => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if let Some(tag) = open.pop() {
        return Err(format!("unclosed tag \"{tag}\""));
    }
    Ok(out)
}

/// The text fields of a `multipart/form-data` body (teloxide sends `setWebhook` that way).
fn multipart_fields(body: &[u8], boundary: &str) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for part in text.split(&format!("--{boundary}")) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else { continue };
        let Some(name) = head.split("name=\"").nth(1).and_then(|n| n.split('"').next()) else { continue };
        fields.insert(name.to_owned(), Value::String(value.trim_end_matches("\r\n").to_owned()));
    }
    Value::Object(fields)
}

/// POSTs `updates` to the webhook in order, with the secret header. Like Telegram, a delivery the
/// bot cannot take yet (its server still starting) is retried, for up to 2 s.
async fn deliver_to_webhook(url: String, secret: Option<String>, updates: Vec<Value>) {
    let client = webhook_client();
    for update in updates {
        for attempt in 0.. {
            let mut post = client.post(&url).json(&update);
            if let Some(secret) = &secret {
                post = post.header("X-Telegram-Bot-Api-Secret-Token", secret);
            }
            match post.send().await {
                Ok(_) => break,
                Err(e) if attempt >= 100 => {
                    eprintln!("webhook delivery failed: {e}");
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }
}

/// POSTs one update to a webhook as Telegram does, with the secret; returns the HTTP status.
pub async fn post_update(url: &str, secret: &str, update: &Value) -> u16 {
    let response = webhook_client()
        .post(url)
        .header("X-Telegram-Bot-Api-Secret-Token", secret)
        .json(update)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

/// One pooled client for webhook deliveries.
fn webhook_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new).clone()
}
