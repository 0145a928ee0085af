//! A WhatsApp Business Cloud API (Graph API) server on loopback, for driving the real WhatsApp
//! channel through its real HTTP client. It keeps the messages the bot sent, and refuses what real
//! WhatsApp refuses: a bad token, an unknown phone number id, texts over 4096 characters, reply
//! buttons beyond 3 or titled over 20 characters, lists over 10 rows, unapproved templates, and
//! free-form messages to a user who has not written in the last 24 hours (error 131047).
//!
//! It also plays the users: `user_says` and friends POST Meta-shaped webhooks, signed with the
//! app secret as Meta signs them, to the bot's webhook, and open the user's 24-hour window.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tokio::sync::Notify;
use tokio::time::Instant;

pub const TOKEN: &str = "EAAtest-WA-token_never-logged-5xQ";
pub const PHONE_NUMBER_ID: &str = "109876543210987";
pub const APP_SECRET: &str = "wa-app-secret-Zk29";
pub const VERIFY_TOKEN: &str = "verify-me-0123456789";
pub const VERSION: &str = "v23.0";
pub const BUSINESS_NUMBER: &str = "221338000000";

/// How long waits (and webhook deliveries to a bot still starting) go on before the test fails:
/// a guard against hanging, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(10);
/// The customer service window: free-form messages are allowed this long after the user's last
/// message.
const WINDOW_SECS: i64 = 24 * 3600;

/// A WhatsApp user. Since 2026 a user may hide their phone number and be known to the business
/// only by a business-scoped user id (BSUID, like `SN.1502576394655843`), so either id may be
/// missing.
#[derive(Clone, Debug)]
pub struct WaUser {
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
    pub name: String,
}

impl WaUser {
    pub fn phone(wa_id: &str) -> WaUser {
        WaUser { wa_id: Some(wa_id.to_owned()), user_id: None, name: "Awa".to_owned() }
    }

    pub fn bsuid_only(user_id: &str) -> WaUser {
        WaUser { wa_id: None, user_id: Some(user_id.to_owned()), name: "Awa".to_owned() }
    }

    pub fn both(wa_id: &str, user_id: &str) -> WaUser {
        WaUser { wa_id: Some(wa_id.to_owned()), user_id: Some(user_id.to_owned()), name: "Awa".to_owned() }
    }

    /// How messages to the user are addressed: `to` = the wa_id when there is one, else
    /// `recipient` = the user id.
    pub fn key(&self) -> String {
        self.wa_id.clone().or_else(|| self.user_id.clone()).expect("a WaUser needs a wa_id or a user_id")
    }

    /// The user's entry in a webhook's `contacts`.
    fn contact(&self) -> Value {
        let mut contact = json!({"profile": {"name": self.name}});
        if let Some(wa_id) = &self.wa_id {
            contact["wa_id"] = json!(wa_id);
        }
        if let Some(user_id) = &self.user_id {
            contact["user_id"] = json!(user_id);
        }
        contact
    }
}

/// One message the server accepted.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The wamid the server returned (`wamid.out.<n>`).
    pub id: String,
    /// The value of `to`, or of `recipient` when there is no `to`.
    pub to: String,
    /// "text", "button", "list" or "template".
    pub kind: String,
    /// `text.body`, or `interactive.body.text`, or a template's parameters joined by " | ".
    pub text: String,
    /// (id, title) of the reply buttons or of every list row, in order.
    pub choices: Vec<(String, String)>,
    /// The list rows' descriptions, in the order of `choices` (empty for buttons).
    pub descriptions: Vec<Option<String>>,
    /// The label of the button that opens a list.
    pub list_button: Option<String>,
    /// (name, language code, body parameter texts).
    pub template: Option<(String, String, Vec<String>)>,
    pub raw: Value,
}

/// One request to `/{version}/{phone_number_id}/messages`, accepted or not.
#[derive(Clone, Debug)]
pub struct Call {
    pub path: String,
    pub body: Value,
    pub status: u16,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Inner {
    next_inbound: u64,
    next_outbound: u64,
    /// Accepted messages, in the order accepted.
    sent: Vec<Sent>,
    /// Where in `sent` each addressee's messages are: a waiter reads its own, not everyone's
    /// (with a thousand users waiting, scanning all would cost the harness more than the bot).
    sent_to: HashMap<String, Vec<usize>>,
    /// Woken when an addressee gets a message.
    notify_to: HashMap<String, Arc<Notify>>,
    calls: Vec<Call>,
    /// The answer to each call, for panic messages.
    answers: Vec<Value>,
    rejected: Vec<(Value, u64)>,
    reads: Vec<(String, bool)>,
    /// Answers to force on the next message sends: (HTTP status, body).
    forced: VecDeque<(u16, Value)>,
    templates: HashSet<String>,
    webhook: Option<String>,
    /// Unix time of each user's last inbound message, under each of the user's ids.
    last_inbound: HashMap<String, i64>,
    /// The other id of users known by both a wa_id and a user id, so that `age_window` moves
    /// the window however the bot addresses the user.
    other_id: HashMap<String, String>,
    /// The inbound wamids delivered, which read receipts may name.
    inbound_ids: HashSet<String>,
}

#[derive(Clone)]
pub struct FakeWhatsApp {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    /// Per fake rather than process-wide: each `#[tokio::test]` has its own runtime, and a
    /// pooled connection must not outlive the runtime that drives it.
    client: reqwest::Client,
}

/// Why a request is refused: HTTP status, Graph error code, and the rule, for `error_data.details`.
struct Refusal {
    status: u16,
    code: u64,
    details: String,
}

fn refuse<T>(code: u64, details: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal { status: 400, code, details: details.into() })
}

/// The title Graph gives an error code, for the codes a bot meets.
fn error_title(code: u64) -> &'static str {
    match code {
        4 => "Application request limit reached",
        100 => "Invalid parameter",
        190 => "Invalid OAuth access token - Cannot parse access token",
        80007 => "Rate limit issues",
        130429 => "Rate limit hit",
        131000 => "Something went wrong",
        131008 => "Required parameter is missing",
        131009 => "Parameter value is not valid",
        131026 => "Message undeliverable",
        131047 => "Re-engagement message",
        131048 => "Spam rate limit hit",
        131056 => "(Business Account, Consumer Account) pair rate limit hit",
        132001 => "Template does not exist",
        132018 => "There was an issue with the parameters in your template",
        _ => "Error",
    }
}

/// A Graph API error body, as WhatsApp returns it.
fn graph_error(code: u64, details: &str) -> Value {
    if code == 190 {
        return json!({"error": {"message": error_title(190), "type": "OAuthException", "code": 190,
                                "fbtrace_id": "Atest"}});
    }
    json!({"error": {
        "message": format!("(#{code}) {}", error_title(code)),
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": "Atest",
    }})
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Ids for messages built by `message_payload`, which has no fake to count with; they start high
/// so that they never collide with a fake's own `wamid.in.<n>` (a bot may drop repeated ids).
static PAYLOAD_IDS: AtomicU64 = AtomicU64::new(1_000_000);

impl FakeWhatsApp {
    pub async fn start() -> FakeWhatsApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeWhatsApp {
            addr: listener.local_addr().unwrap(),
            inner: Arc::new(Mutex::new(Inner::default())),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(PATIENCE)
                .build()
                .expect("a reqwest client"),
        };
        let app = Router::new()
            .route("/{version}/{phone_number_id}/messages", any(handle))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    /// `http://{addr}/v23.0`, without a trailing slash (as `https://graph.facebook.com/v23.0`).
    pub fn api_url(&self) -> reqwest::Url {
        reqwest::Url::parse(&format!("http://{}/{VERSION}", self.addr)).unwrap()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// Lets the server accept templates named `name` (others are refused with 132001).
    pub fn approve_template(&self, name: &str) {
        self.lock().templates.insert(name.to_owned());
    }

    /// Where user messages and statuses are POSTed, e.g. `http://127.0.0.1:PORT/whatsapp/webhook`.
    pub fn set_webhook(&self, url: &str) {
        self.lock().webhook = Some(url.to_owned());
    }

    fn next_inbound_id(&self) -> String {
        let mut inner = self.lock();
        inner.next_inbound += 1;
        format!("wamid.in.{}", inner.next_inbound)
    }

    /// The user types `text` now.
    pub async fn user_says(&self, user: &WaUser, text: &str) -> String {
        self.user_sends(user, "text", json!({"text": {"body": text}})).await
    }

    /// The user types `text` at `timestamp` (unix seconds), which becomes their last inbound
    /// time: a timestamp over 24 hours old leaves the window closed.
    pub async fn user_says_at(&self, user: &WaUser, text: &str, timestamp: i64) -> String {
        self.user_sends(user, "text", json!({"text": {"body": text}, "timestamp": timestamp.to_string()}))
            .await
    }

    /// The user sends a message of type `kind`; `fields` (an object) is merged into the message,
    /// e.g. `{"image": {"id": "1", "mime_type": "image/jpeg"}}`. Returns the message's wamid.
    pub async fn user_sends(&self, user: &WaUser, kind: &str, fields: Value) -> String {
        let mut message = json!({"id": self.next_inbound_id(), "type": kind});
        if let Value::Object(fields) = fields {
            message.as_object_mut().unwrap().extend(fields);
        } else {
            assert!(fields.is_null(), "user_sends: fields must be an object, not {fields}");
        }
        let payload = Self::message_payload(&[(user, message)]);
        let status = self.deliver(&payload).await;
        if !(200..300).contains(&status) {
            eprintln!("graphapi: the bot answered a user message with HTTP {status}");
        }
        payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The user presses the reply button or picks the list row whose title contains
    /// `title_contains`, on the newest message to them that has one.
    pub async fn press(&self, user: &WaUser, title_contains: &str) -> String {
        let key = user.key();
        let messages = self.messages_to(&key);
        let Some((sent, index)) = messages.iter().rev().find_map(|m| {
            m.choices.iter().position(|(_, title)| title.contains(title_contains)).map(|i| (m, i))
        }) else {
            panic!("{key}: no button or row titled like {title_contains:?} in:\n{}", summary(&messages));
        };
        let (id, title) = sent.choices[index].clone();
        let interactive = if sent.kind == "list" {
            let mut reply = json!({"id": id, "title": title});
            if let Some(description) = sent.descriptions.get(index).cloned().flatten() {
                reply["description"] = json!(description);
            }
            json!({"type": "list_reply", "list_reply": reply})
        } else {
            json!({"type": "button_reply", "button_reply": {"id": id, "title": title}})
        };
        let context = json!({"from": BUSINESS_NUMBER, "id": sent.id});
        self.user_sends(user, "interactive", json!({"interactive": interactive, "context": context})).await
    }

    /// The user presses a template's quick-reply button. Like WhatsApp, the reply names the
    /// newest template sent to the user as its context, when there is one.
    pub async fn press_template_button(&self, user: &WaUser, payload: &str, text: &str) -> String {
        let mut fields = json!({"button": {"payload": payload, "text": text}});
        if let Some(template) = self.messages_to(&user.key()).iter().rev().find(|m| m.kind == "template") {
            fields["context"] = json!({"from": BUSINESS_NUMBER, "id": template.id});
        }
        self.user_sends(user, "button", fields).await
    }

    /// One webhook body batching `messages` (possibly of several users) in one change, with a
    /// contact for each distinct user. Each message gets the user's `from` / `from_user_id`, an
    /// id and the current timestamp unless it has its own.
    pub fn message_payload(users_and_messages: &[(&WaUser, Value)]) -> Value {
        let mut contacts: Vec<Value> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut messages = Vec::new();
        for (user, message) in users_and_messages {
            if seen.insert(user.key()) {
                contacts.push(user.contact());
            }
            let mut full = Map::new();
            if let Some(wa_id) = &user.wa_id {
                full.insert("from".into(), json!(wa_id));
            }
            if let Some(user_id) = &user.user_id {
                full.insert("from_user_id".into(), json!(user_id));
            }
            let n = PAYLOAD_IDS.fetch_add(1, Ordering::Relaxed) + 1;
            full.insert("id".into(), json!(format!("wamid.in.{n}")));
            full.insert("timestamp".into(), json!(now().to_string()));
            if let Value::Object(fields) = message {
                full.extend(fields.clone());
            }
            messages.push(Value::Object(full));
        }
        webhook_body(json!({"contacts": contacts, "messages": messages}))
    }

    /// A status webhook for the bot's message `wamid` ("sent", "delivered", "read", "failed").
    pub async fn send_status(&self, user: &WaUser, wamid: &str, status: &str) -> u16 {
        let mut entry = json!({"id": wamid, "status": status, "timestamp": now().to_string(),
                               "recipient_id": user.key()});
        if status == "failed" {
            entry["errors"] = json!([{"code": 131026, "title": error_title(131026),
                                      "message": error_title(131026),
                                      "error_data": {"details": "Message Undeliverable."}}]);
        }
        self.deliver(&webhook_body(json!({"statuses": [entry]}))).await
    }

    /// POSTs `payload`, signed, to the webhook; returns the HTTP status. Its messages open their
    /// users' windows, as a user's message does on WhatsApp whatever the bot answers.
    pub async fn deliver(&self, payload: &Value) -> u16 {
        let body = serde_json::to_vec(payload).unwrap();
        self.note_inbound(payload);
        let signature = Self::signature(&body);
        self.post_webhook(body, Some(signature)).await
    }

    /// POSTs exactly `body` with `signature` as the `X-Hub-Signature-256` header (None: no
    /// header). Only a body whose signature is right counts as inbound: a forged one never went
    /// through WhatsApp.
    pub async fn deliver_raw(&self, body: Vec<u8>, signature: Option<String>) -> u16 {
        if signature.as_deref() == Some(Self::signature(&body).as_str())
            && let Ok(payload) = serde_json::from_slice::<Value>(&body)
        {
            self.note_inbound(&payload);
        }
        self.post_webhook(body, signature).await
    }

    /// `sha256=` and the lowercase hex HMAC-SHA256 of `body` keyed with the app secret, as Meta
    /// signs webhooks.
    pub fn signature(body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).expect("any key length");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Records the messages of a webhook body: their ids (which read receipts may name) and their
    /// senders' last inbound time.
    fn note_inbound(&self, payload: &Value) {
        let mut inner = self.lock();
        for entry in payload["entry"].as_array().into_iter().flatten() {
            for change in entry["changes"].as_array().into_iter().flatten() {
                for message in change["value"]["messages"].as_array().into_iter().flatten() {
                    if let Some(id) = message["id"].as_str() {
                        inner.inbound_ids.insert(id.to_owned());
                    }
                    let at = match &message["timestamp"] {
                        Value::String(s) => s.parse().unwrap_or_else(|_| now()),
                        Value::Number(n) => n.as_i64().unwrap_or_else(now),
                        _ => now(),
                    };
                    let from = message["from"].as_str().map(str::to_owned);
                    let user_id = message["from_user_id"].as_str().map(str::to_owned);
                    for id in from.iter().chain(&user_id) {
                        inner.last_inbound.insert(id.clone(), at);
                    }
                    if let (Some(from), Some(user_id)) = (from, user_id) {
                        inner.other_id.insert(from.clone(), user_id.clone());
                        inner.other_id.insert(user_id, from);
                    }
                }
            }
        }
    }

    /// POSTs to the webhook, retrying for up to 10 s while it cannot be reached (the bot may still
    /// be starting, or restarting).
    async fn post_webhook(&self, body: Vec<u8>, signature: Option<String>) -> u16 {
        let url = self.lock().webhook.clone().expect("FakeWhatsApp::set_webhook was not called");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mut request = self
                .client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            if let Some(signature) = &signature {
                request = request.header("X-Hub-Signature-256", signature);
            }
            match request.send().await {
                Ok(response) => return response.status().as_u16(),
                // Refused (the bot is starting), or a pooled connection to a bot that was killed
                // since: delivered again, as Meta does.
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("webhook POST to {url} failed: {e}"),
            }
        }
    }

    /// What wakes the waiters for `key`'s messages.
    fn notify_to(&self, key: &str) -> Arc<Notify> {
        self.lock().notify_to.entry(key.to_owned()).or_default().clone()
    }

    /// The messages accepted for `key` (a wa_id or a user id), in order.
    pub fn messages_to(&self, key: &str) -> Vec<Sent> {
        let inner = self.lock();
        inner
            .sent_to
            .get(key)
            .map(|at| at.iter().map(|i| inner.sent[*i].clone()).collect())
            .unwrap_or_default()
    }

    pub fn all_sent(&self) -> Vec<Sent> {
        self.lock().sent.clone()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The requests refused by a rule (not the forced answers): (body, Graph error code).
    pub fn rejected(&self) -> Vec<(Value, u64)> {
        self.lock().rejected.clone()
    }

    /// Read receipts: (message id, whether a typing indicator was asked).
    pub fn reads(&self) -> Vec<(String, bool)> {
        self.lock().reads.clone()
    }

    /// Answers the next message send (not a read receipt) with `http_status` and `body`, before
    /// any check. Queued: several calls answer several sends, in order.
    pub fn force_next(&self, http_status: u16, body: Value) {
        self.lock().forced.push_back((http_status, body));
    }

    /// `force_next` with a Graph error body of `code` (e.g. 130429, 131056, 131000).
    pub fn force_error(&self, http_status: u16, code: u64) {
        self.force_next(http_status, graph_error(code, "forced by the test"));
    }

    /// Pretends the user's last inbound message was `hours` ago (over 24: the window is closed).
    pub fn age_window(&self, key: &str, hours: i64) {
        let at = now() - hours * 3600;
        let mut inner = self.lock();
        if let Some(other) = inner.other_id.get(key).cloned() {
            inner.last_inbound.insert(other, at);
        }
        inner.last_inbound.insert(key.to_owned(), at);
    }

    /// Waits until `key` has received at least `count` messages.
    pub async fn wait_for_messages(&self, key: &str, count: usize) -> Vec<Sent> {
        self.wait_until(key, &format!("got {count} messages"), |m| m.len() >= count).await
    }

    /// Waits until `check` holds for the messages to `key`; after 10 s, panics with the messages
    /// and with the sends to `key` that failed (a refusal is the usual reason nothing arrives).
    pub async fn wait_until(&self, key: &str, what: &str, check: impl Fn(&[Sent]) -> bool) -> Vec<Sent> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let notify = self.notify_to(key);
            let notified = notify.notified();
            let messages = self.messages_to(key);
            if check(&messages) {
                return messages;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let inner = self.lock();
                let failed: Vec<String> = inner
                    .calls
                    .iter()
                    .zip(&inner.answers)
                    .filter(|(c, _)| c.status != 200 && addressee(&c.body) == Some(key))
                    .map(|(c, a)| format!("  HTTP {} {} for {}", c.status, a["error"]["message"], c.body))
                    .collect();
                drop(inner);
                panic!(
                    "{key}: never {what}; {} messages:\n{}failed sends:\n{}",
                    messages.len(),
                    summary(&messages),
                    failed.join("\n")
                );
            }
        }
    }

    /// The reply to the latest input: waits for more than `before` messages, then until about
    /// 150 ms pass without another (a reply may be several messages); returns the newest.
    pub async fn next_reply(&self, key: &str, before: usize) -> Sent {
        let mut count = self.wait_for_messages(key, before + 1).await.len();
        let mut quiet_since = Instant::now();
        let deadline = quiet_since + PATIENCE;
        loop {
            let notify = self.notify_to(key);
            let notified = notify.notified();
            let messages = self.messages_to(key);
            if messages.len() != count {
                count = messages.len();
                quiet_since = Instant::now();
            }
            let quiet_until = quiet_since + Duration::from_millis(150);
            if Instant::now() >= quiet_until.min(deadline) {
                return messages.last().cloned().unwrap();
            }
            let _ = tokio::time::timeout_at(quiet_until.min(deadline), notified).await;
        }
    }
}

/// The body of a `messages` webhook whose value holds `fields` besides the product and metadata.
fn webhook_body(fields: Value) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": BUSINESS_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
    });
    if let Value::Object(fields) = fields {
        value.as_object_mut().unwrap().extend(fields);
    }
    json!({"object": "whatsapp_business_account",
           "entry": [{"id": "WABA-1", "changes": [{"field": "messages", "value": value}]}]})
}

/// One line per message, for panic messages.
fn summary(messages: &[Sent]) -> String {
    messages
        .iter()
        .map(|m| {
            let titles: Vec<&str> = m.choices.iter().map(|(_, t)| t.as_str()).collect();
            format!("  [{} {}] {:?} {titles:?}\n", m.kind, m.id, m.text)
        })
        .collect()
}

/// Whom a send is addressed to: `to`, else `recipient`.
fn addressee(body: &Value) -> Option<&str> {
    body.get("to").or_else(|| body.get("recipient")).and_then(Value::as_str)
}

async fn handle(
    State(fake): State<FakeWhatsApp>,
    method: Method,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization =
        headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let record = parsed.clone().unwrap_or(Value::Null);
    let (status, answer) = {
        let mut inner = fake.lock();
        let forced = (method == Method::POST && record.get("type").is_some())
            .then(|| inner.forced.pop_front())
            .flatten();
        let (status, answer) = match forced {
            Some(forced) => forced,
            None => {
                let result = if method != Method::POST {
                    refuse(100, format!("Unsupported {} request", method.as_str().to_ascii_lowercase()))
                } else {
                    answer(&mut inner, &version, &phone_number_id, authorization.as_deref(), parsed.as_ref())
                };
                match result {
                    Ok(answer) => (200, answer),
                    Err(refusal) => {
                        inner.rejected.push((record.clone(), refusal.code));
                        (refusal.status, graph_error(refusal.code, &refusal.details))
                    }
                }
            }
        };
        let path = format!("/{version}/{phone_number_id}/messages");
        inner.calls.push(Call { path, body: record.clone(), status, authorization });
        inner.answers.push(answer.clone());
        (status, answer)
    };
    if status == 200
        && let Some(to) = addressee(&record)
    {
        fake.notify_to(to).notify_waiters();
    }
    (StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response()
}

/// Checks a POST as WhatsApp does; on success records it and returns the answer.
fn answer(
    inner: &mut Inner,
    version: &str,
    phone_number_id: &str,
    authorization: Option<&str>,
    body: Option<&Value>,
) -> Result<Value, Refusal> {
    if authorization != Some(format!("Bearer {TOKEN}").as_str()) {
        return Err(Refusal { status: 401, code: 190, details: String::new() });
    }
    if version != VERSION {
        return refuse(100, format!("Unknown API version {version}"));
    }
    if phone_number_id != PHONE_NUMBER_ID {
        return refuse(100, format!("Object with ID '{phone_number_id}' does not exist"));
    }
    let Some(body) = body.filter(|b| b.is_object()) else {
        return refuse(100, "The request body is not a JSON object");
    };
    if body.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return refuse(100, "messaging_product must be \"whatsapp\"");
    }
    if body.get("status").is_some() {
        return read_receipt(inner, body);
    }
    let (to, by_user_id) = match (body.get("to"), body.get("recipient")) {
        (Some(to), _) => (to, false),
        (None, Some(recipient)) => (recipient, true),
        (None, None) => return refuse(100, "The parameter to (or recipient) is required"),
    };
    let to = match to.as_str() {
        Some(to) if !to.is_empty() => to.to_owned(),
        _ => return refuse(100, "to (or recipient) must be a non-empty string"),
    };
    if let Some(kind) = body.get("recipient_type")
        && kind.as_str() != Some("individual")
    {
        return refuse(100, "recipient_type must be \"individual\"");
    }
    let content = content(body, &inner.templates)?;
    if content.kind != "template" {
        let open = inner.last_inbound.get(&to).is_some_and(|at| now() - at <= WINDOW_SECS);
        if !open {
            return refuse(
                131047,
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            );
        }
    }
    inner.next_outbound += 1;
    let id = format!("wamid.out.{}", inner.next_outbound);
    let contact =
        if by_user_id { json!({"input": to, "user_id": to}) } else { json!({"input": to, "wa_id": to}) };
    let mut message = json!({"id": id});
    if content.kind == "template" {
        message["message_status"] = json!("accepted");
    }
    inner.sent_to.entry(to.clone()).or_default().push(inner.sent.len());
    inner.sent.push(Sent {
        id,
        to,
        kind: content.kind,
        text: content.text,
        choices: content.choices,
        descriptions: content.descriptions,
        list_button: content.list_button,
        template: content.template,
        raw: body.clone(),
    });
    Ok(json!({"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]}))
}

/// `{"status": "read", "message_id": ..., "typing_indicator": {"type": "text"}}`.
fn read_receipt(inner: &mut Inner, body: &Value) -> Result<Value, Refusal> {
    if body["status"].as_str() != Some("read") {
        return refuse(100, "status must be \"read\"");
    }
    let Some(message_id) = body["message_id"].as_str() else {
        return refuse(100, "The parameter message_id is required");
    };
    if !inner.inbound_ids.contains(message_id) {
        return refuse(100, format!("Invalid message_id {message_id}"));
    }
    let typing = match body.get("typing_indicator") {
        None => false,
        Some(t) if t["type"].as_str() == Some("text") => true,
        Some(_) => return refuse(100, "typing_indicator.type must be \"text\""),
    };
    inner.reads.push((message_id.to_owned(), typing));
    Ok(json!({"success": true}))
}

/// What an accepted message shows, as recorded in `Sent`.
#[derive(Default)]
struct Content {
    kind: String,
    text: String,
    choices: Vec<(String, String)>,
    descriptions: Vec<Option<String>>,
    list_button: Option<String>,
    template: Option<(String, String, Vec<String>)>,
}

/// The string at `pointer`, required: missing, not a string or blank is code 100; over `max`
/// characters (not bytes) is 131009.
fn required(body: &Value, pointer: &str, max: usize) -> Result<String, Refusal> {
    match optional(body, pointer, max)? {
        Some(text) if !text.trim().is_empty() => Ok(text),
        _ => refuse(100, format!("{} is required and must not be empty", field(pointer))),
    }
}

/// The string at `pointer` if present; not a string is 100, over `max` characters 131009.
fn optional(body: &Value, pointer: &str, max: usize) -> Result<Option<String>, Refusal> {
    match body.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.chars().count() > max => {
            refuse(131009, format!("{} is over {max} characters", field(pointer)))
        }
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => refuse(100, format!("{} must be a string", field(pointer))),
    }
}

/// `/interactive/body/text` as `interactive.body.text`.
fn field(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

fn array<'a>(body: &'a Value, pointer: &str) -> Result<&'a Vec<Value>, Refusal> {
    match body.pointer(pointer) {
        Some(Value::Array(items)) => Ok(items),
        _ => refuse(100, format!("{} is required and must be an array", field(pointer))),
    }
}

fn content(body: &Value, templates: &HashSet<String>) -> Result<Content, Refusal> {
    match body.get("type").and_then(Value::as_str) {
        Some("text") => {
            let text = required(body, "/text/body", 4096)?;
            Ok(Content { kind: "text".into(), text, ..Content::default() })
        }
        Some("interactive") => interactive(body),
        Some("template") => template(body, templates),
        Some(other) => refuse(100, format!("Unsupported message type {other}")),
        None => refuse(100, "The parameter type is required"),
    }
}

fn interactive(body: &Value) -> Result<Content, Refusal> {
    let kind = match body.pointer("/interactive/type").and_then(Value::as_str) {
        Some(kind @ ("button" | "list")) => kind.to_owned(),
        Some(other) => return refuse(100, format!("Unsupported interactive type {other}")),
        None => return refuse(100, "interactive.type is required"),
    };
    let text = required(body, "/interactive/body/text", 1024)?;
    if body.pointer("/interactive/header").is_some() {
        if body.pointer("/interactive/header/type").and_then(Value::as_str) != Some("text") {
            return refuse(100, "interactive.header.type must be \"text\"");
        }
        required(body, "/interactive/header/text", 60)?;
    }
    if body.pointer("/interactive/footer").is_some() {
        required(body, "/interactive/footer/text", 60)?;
    }
    let mut content = Content { kind: kind.clone(), text, ..Content::default() };
    if kind == "button" {
        let buttons = array(body, "/interactive/action/buttons")?;
        if buttons.is_empty() || buttons.len() > 3 {
            return refuse(131009, format!("a message has 1 to 3 buttons, not {}", buttons.len()));
        }
        for button in buttons {
            if button["type"].as_str() != Some("reply") {
                return refuse(100, "interactive.action.buttons[].type must be \"reply\"");
            }
            let id = required(button, "/reply/id", 256)?;
            let title = required(button, "/reply/title", 20)?;
            if content.choices.iter().any(|(i, _)| *i == id) {
                return refuse(131009, format!("button id {id:?} is not unique"));
            }
            if content.choices.iter().any(|(_, t)| *t == title) {
                return refuse(131009, format!("button title {title:?} is not unique"));
            }
            content.choices.push((id, title));
        }
        return Ok(content);
    }
    content.list_button = Some(required(body, "/interactive/action/button", 20)?);
    let sections = array(body, "/interactive/action/sections")?;
    if sections.is_empty() || sections.len() > 10 {
        return refuse(131009, format!("a list has 1 to 10 sections, not {}", sections.len()));
    }
    for section in sections {
        if sections.len() > 1 {
            required(section, "/title", 24)?;
        } else {
            optional(section, "/title", 24)?;
        }
        let rows = array(section, "/rows")?;
        if rows.is_empty() {
            return refuse(131009, "a section has at least one row");
        }
        for row in rows {
            let id = required(row, "/id", 200)?;
            let title = required(row, "/title", 24)?;
            let description = optional(row, "/description", 72)?;
            if content.choices.iter().any(|(i, _)| *i == id) {
                return refuse(131009, format!("row id {id:?} is not unique"));
            }
            content.choices.push((id, title));
            content.descriptions.push(description);
        }
    }
    if content.choices.len() > 10 {
        return refuse(131009, format!("a list has at most 10 rows, not {}", content.choices.len()));
    }
    Ok(content)
}

fn template(body: &Value, templates: &HashSet<String>) -> Result<Content, Refusal> {
    let name = required(body, "/template/name", 512)?;
    let language = required(body, "/template/language/code", 15)?;
    if !templates.contains(&name) {
        return refuse(132001, format!("template name ({name}) does not exist in {language}"));
    }
    let mut params = Vec::new();
    if let Some(components) = body.pointer("/template/components") {
        let Some(components) = components.as_array() else {
            return refuse(100, "template.components must be an array");
        };
        for component in components.iter().filter(|c| c["type"].as_str() == Some("body")) {
            for param in array(component, "/parameters")? {
                if param["type"].as_str() != Some("text") {
                    continue;
                }
                let text = required(param, "/text", 32768)?;
                // Real WhatsApp refuses these in parameters, which a multi-line bill summary hits.
                if text.contains(['\n', '\t']) || text.contains("     ") {
                    return refuse(
                        132018,
                        "Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
                    );
                }
                params.push(text);
            }
        }
    }
    Ok(Content {
        kind: "template".into(),
        text: params.join(" | "),
        template: Some((name, language, params)),
        ..Content::default()
    })
}
