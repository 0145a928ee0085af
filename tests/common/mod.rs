//! Shared test helpers: clients with short timeouts, a sandbox on a loopback port, chats.
#![allow(dead_code)] // each test crate uses a different part of this module

pub mod balancer;
pub mod botapi;
pub mod chat;
pub mod graphapi;
pub mod pg;
pub mod process;
pub mod webclient;

use std::time::Duration;

use billbot::domain::{Biller, Currency, CustomerReference, OrderNo};
use billbot::sandbox::{self, RunningSandbox, SandboxConfig};
use billbot::upstream::{HttpOptions, InquiryClient, StatusClient};
use reqwest::Url;
use secrecy::SecretString;

pub const INQUIRY_KEY: &str = "test-inquiry-key-Zq81xK";
pub const STATUS_KEY: &str = "test-status-key-Pw43rT";
pub const MERCHANT: &str = "merchant-42";

/// Short timeouts and pauses, so error paths take milliseconds.
pub fn fast_http() -> HttpOptions {
    HttpOptions {
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_millis(600),
        retries: 2,
        retry_delay: Duration::from_millis(5),
    }
}

pub fn inquiry_client(url: &str) -> InquiryClient {
    InquiryClient::new(Url::parse(url).unwrap(), SecretString::from(INQUIRY_KEY), fast_http()).unwrap()
}

pub fn status_client(base: &str) -> StatusClient {
    StatusClient::new(
        Url::parse(base).unwrap(),
        SecretString::from(STATUS_KEY),
        MERCHANT,
        Currency::Xof,
        fast_http(),
    )
    .unwrap()
}

pub fn reference(biller: Biller, text: &str) -> CustomerReference {
    CustomerReference::parse(biller, text).unwrap()
}

pub fn order(text: &str) -> OrderNo {
    OrderNo::parse(text).unwrap()
}

/// A sandbox whose slow fixtures take 2 s (longer than [`fast_http`]'s timeout).
pub async fn sandbox() -> RunningSandbox {
    sandbox::spawn_on_loopback(SandboxConfig { slow: Duration::from_secs(2), ..SandboxConfig::default() })
        .await
        .unwrap()
}

/// Clients pointed at `sb` with the sandbox's own keys.
pub fn sandbox_clients(sb: &RunningSandbox) -> (InquiryClient, StatusClient) {
    let inquiry =
        InquiryClient::new(sb.inquiry_url(), SecretString::from(sandbox::INQUIRY_KEY), fast_http()).unwrap();
    let status = StatusClient::new(
        sb.status_base(),
        SecretString::from(sandbox::STATUS_KEY),
        sandbox::MERCHANT_ID,
        Currency::Xof,
        fast_http(),
    )
    .unwrap();
    (inquiry, status)
}

/// Settings of the whole bot for a test: the embedded sandbox (its slow fixtures taking
/// `slow`), [`fast_http`] clients, the store in `dir`, no channel yet.
pub fn app_settings(dir: &std::path::Path, sandbox: SandboxConfig) -> billbot::app::Settings {
    let lookup = |_: &str| None::<String>;
    let mut providers = billbot::config::ProviderSettings::from_lookup(lookup).unwrap();
    providers.http = fast_http();
    providers.sandbox = sandbox;
    billbot::app::Settings {
        providers,
        tracking: billbot::config::TrackingSettings::from_lookup(lookup).unwrap(),
        limits: Default::default(),
        data_dir: dir.to_owned(),
        database: None,
        metrics_listen: None,
        connections: Default::default(),
        telegram: None,
        whatsapp: None,
        webchat: None,
        terminal: false,
        sandbox_notice: false,
        retention: Default::default(),
        support: None,
    }
}

/// The web chat's secret in tests.
pub const WEB_SECRET: &str = "a web chat secret of 32 bytes, at least";

/// [`app_settings`] with the web chat on a fresh loopback listener (framed by `origins`), and
/// that listener, for `Listeners::web`.
pub async fn web_app_settings(
    dir: &std::path::Path,
    origins: Vec<String>,
) -> (billbot::app::Settings, tokio::net::TcpListener) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut settings = app_settings(dir, SandboxConfig::default());
    settings.webchat = Some(billbot::config::WebChatSettings {
        listen: listener.local_addr().unwrap(),
        secret: SecretString::from(WEB_SECRET),
        origins,
        max_connections: 4096,
    });
    (settings, listener)
}

/// A loopback port with nothing listening on it.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Every message id of the locale files (those with a dash, which no sentence contains).
pub fn locale_ids() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales/en");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        for line in std::fs::read_to_string(entry.unwrap().path()).unwrap().lines() {
            if let Some((id, _)) = line.split_once(" =")
                && id.contains('-')
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                ids.push(id.to_owned());
            }
        }
    }
    assert!(ids.len() > 50);
    ids
}

/// A support ticket of `chat` with an agent's answer `text` to send it: committed, the outbox
/// delivers the answer through the chat's channel.
pub fn support_answer(chat: &billbot::domain::ChatKey, ticket: &str, text: &str) -> billbot::store::Op {
    use billbot::i18n::Lang;
    use billbot::store::{Op, Outgoing, Ticket};
    let now = chrono::Utc::now();
    let opened = Ticket {
        id: ticket.into(),
        chat: chat.clone(),
        lang: Lang::En,
        opened_at: now,
        last_at: now,
        closed_at: None,
        messages: 1,
    };
    let answer = serde_json::json!({"kind": "from_support", "ticket": ticket, "text": text, "agent": null, "closed": false});
    let tell = Outgoing::new(format!("{chat}|ticket|{ticket}|1"), chat, Lang::En, answer, now);
    Op::Ticket { ticket: opened, tell: vec![tell] }
}
