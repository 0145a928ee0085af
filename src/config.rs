//! Settings: every settings type reads its variables here, through a lookup function (the
//! environment, or a map in tests); `app.rs`, `cli.rs` and `telemetry.rs` only choose which ones to
//! read. Secrets become `SecretString` at once and are never printed: errors name the variable,
//! never its value.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BILLBOT_INQUIRY_URL` | full URL of the Bill Inquiry endpoint | embedded sandbox |
//! | `BILLBOT_INQUIRY_API_KEY` | its Bearer key | required with the URL |
//! | `BILLBOT_STATUS_URL` | base URL of the bill-status API | embedded sandbox |
//! | `BILLBOT_STATUS_API_KEY` | its Bearer key | required with the URL |
//! | `BILLBOT_MERCHANT_ID` | its `MerchantId` header | required with the URL |
//! | `BILLBOT_STATUS_CURRENCY` | currency of the status API's amounts (XOF or NGN) | XOF |
//! | `BILLBOT_HTTP_TIMEOUT_MS` | total time for one provider call | 8000 |
//! | `BILLBOT_HTTP_CONNECT_TIMEOUT_MS` | time to connect to a provider | 3000 |
//! | `BILLBOT_HTTP_RETRIES` | extra attempts for safely retryable failures | 2 |
//! | `BILLBOT_SANDBOX_SLOW_MS` | delay of the sandbox's slow fixtures | 12000 |
//! | `BILLBOT_SANDBOX_LATENCY_MS` | delay of every sandbox answer | 0 |
//! | `BILLBOT_SANDBOX_CAPACITY` | calls the sandbox serves at once; beyond, it answers 429 | unlimited |
//! | `BILLBOT_DATA_DIR` | directory of the sled database | `serve`: `./billbot-data`; `demo`: a temporary directory |

use crate::domain::limits::{Flood, LookupLimits};
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;
use secrecy::SecretString;

use crate::domain::Currency;
use crate::sandbox::SandboxConfig;
use crate::upstream::HttpOptions;

/// The fewest characters a secret billbot checks may have (the Telegram webhook's secret, the
/// WhatsApp verify token, the provider callback's secret): too many to guess.
pub const MIN_SECRET_LEN: usize = 16;

/// A configuration problem, naming the variable at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} must be set when {because} is set")]
    Missing { var: &'static str, because: &'static str },
    #[error("{var} is not valid: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error(
        "no channel is configured: set TELOXIDE_TOKEN (Telegram), or BILLBOT_WHATSAPP_TOKEN with \
         BILLBOT_WHATSAPP_PHONE_NUMBER_ID, BILLBOT_WHATSAPP_APP_SECRET and BILLBOT_WHATSAPP_VERIFY_TOKEN \
         (WhatsApp), or both"
    )]
    NoChannel,
    #[error(
        "no provider is configured (BILLBOT_INQUIRY_URL, BILLBOT_STATUS_URL): serve would answer real \
         users with the built-in sandbox's made-up bills. Set the provider variables, or set \
         BILLBOT_SANDBOX=1 (or pass --sandbox) to run on test data on purpose"
    )]
    SandboxNotAsked,
}

/// The Bill Inquiry endpoint and its key.
#[derive(Debug, Clone)]
pub struct InquiryEndpoint {
    pub url: Url,
    pub key: SecretString,
}

/// The bill-status API, its key and the merchant id.
#[derive(Debug, Clone)]
pub struct StatusEndpoint {
    pub base: Url,
    pub key: SecretString,
    pub merchant_id: String,
}

/// Everything needed to reach the providers. `None` endpoints mean: use the embedded sandbox.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub inquiry: Option<InquiryEndpoint>,
    pub status: Option<StatusEndpoint>,
    pub status_currency: Currency,
    pub http: HttpOptions,
    pub sandbox: SandboxConfig,
}

impl ProviderSettings {
    /// Whether either provider is the embedded sandbox (its URL is not configured).
    pub fn uses_sandbox(&self) -> bool {
        self.inquiry.is_none() || self.status.is_none()
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests). Blank values count
    /// as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let url = |var: &'static str| -> Result<Option<Url>, ConfigError> {
            get(var)
                .map(|v| {
                    let url =
                        Url::parse(&v).map_err(|e| ConfigError::Invalid { var, reason: e.to_string() })?;
                    secure(var, url)
                })
                .transpose()
        };
        let required =
            |var: &'static str, because: &'static str| get(var).ok_or(ConfigError::Missing { var, because });
        let millis = |var: &'static str, default: u64| -> Result<Duration, ConfigError> {
            parse_or(get(var), var, default).map(Duration::from_millis)
        };

        let inquiry = match url("BILLBOT_INQUIRY_URL")? {
            Some(url) => Some(InquiryEndpoint {
                url,
                key: SecretString::from(required("BILLBOT_INQUIRY_API_KEY", "BILLBOT_INQUIRY_URL")?),
            }),
            None => None,
        };
        let status = match url("BILLBOT_STATUS_URL")? {
            Some(base) => Some(StatusEndpoint {
                base,
                key: SecretString::from(required("BILLBOT_STATUS_API_KEY", "BILLBOT_STATUS_URL")?),
                merchant_id: required("BILLBOT_MERCHANT_ID", "BILLBOT_STATUS_URL")?,
            }),
            None => None,
        };
        let status_currency = match get("BILLBOT_STATUS_CURRENCY") {
            Some(v) => Currency::from_str(&v)
                .map_err(|reason| ConfigError::Invalid { var: "BILLBOT_STATUS_CURRENCY", reason })?,
            None => Currency::Xof,
        };
        let defaults = HttpOptions::default();
        let http = HttpOptions {
            connect_timeout: millis(
                "BILLBOT_HTTP_CONNECT_TIMEOUT_MS",
                defaults.connect_timeout.as_millis() as u64,
            )?,
            timeout: millis("BILLBOT_HTTP_TIMEOUT_MS", defaults.timeout.as_millis() as u64)?,
            retries: parse_or(get("BILLBOT_HTTP_RETRIES"), "BILLBOT_HTTP_RETRIES", defaults.retries)?,
            retry_delay: defaults.retry_delay,
        };
        let sandbox_defaults = SandboxConfig::default();
        let sandbox = SandboxConfig {
            slow: millis("BILLBOT_SANDBOX_SLOW_MS", sandbox_defaults.slow.as_millis() as u64)?,
            latency: millis("BILLBOT_SANDBOX_LATENCY_MS", 0)?,
            capacity: sandbox_capacity(get("BILLBOT_SANDBOX_CAPACITY"))?,
            ..sandbox_defaults
        };
        Ok(ProviderSettings { inquiry, status, status_currency, http, sandbox })
    }
}

/// `url` if it is https, or http to this machine (a local test server or sandbox): keys and tokens
/// never cross a network in clear.
fn secure(var: &'static str, url: Url) -> Result<Url, ConfigError> {
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(ConfigError::Invalid {
            var,
            reason: "use https (plain http only to this machine: 127.0.0.1, ::1, localhost)".to_owned(),
        }),
        other => Err(ConfigError::Invalid { var, reason: format!("scheme {other:?} is not https") }),
    }
}

/// `BILLBOT_SANDBOX_CAPACITY`: unset is unlimited; set, a whole number above 0.
fn sandbox_capacity(value: Option<String>) -> Result<Option<usize>, ConfigError> {
    let var = "BILLBOT_SANDBOX_CAPACITY";
    value
        .map(|v| match v.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError::Invalid { var, reason: format!("{v:?} is not a whole number above 0") }),
        })
        .transpose()
}

fn parse_or<T: FromStr>(value: Option<String>, var: &'static str, default: T) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ConfigError::Invalid { var, reason: format!("{v:?} is not a whole number") }),
    }
}

/// The language of the operator's terminal (`LC_ALL`, `LC_MESSAGES`, `LANG`), for commands
/// run without `--lang`.
pub fn terminal_lang() -> crate::i18n::Lang {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .map(|code| crate::i18n::Lang::from_code(&code))
        .unwrap_or_default()
}

/// The shared store, when `BILLBOT_DATABASE_URL` is set (unset: sled in `BILLBOT_DATA_DIR`).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `BILLBOT_DATABASE_URL` | `postgres://user:password@host:5432/db`: PostgreSQL, shared by instances | sled |
/// | `BILLBOT_DATABASE_POOL` | connections each instance keeps at most | 16 |
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub pool: crate::store::postgres::PgSettings,
}

impl DatabaseSettings {
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let Some(url) = get("BILLBOT_DATABASE_URL") else { return Ok(None) };
        // Checked without echoing it: the URL may carry a password.
        let scheme = url.split_once("://").map(|(s, _)| s);
        if !matches!(scheme, Some("postgres" | "postgresql")) || Url::parse(&url).is_err() {
            return Err(ConfigError::Invalid {
                var: "BILLBOT_DATABASE_URL",
                reason: "use postgres://user:password@host:5432/database".to_owned(),
            });
        }
        let mut pool = crate::store::postgres::PgSettings::default();
        pool.max_connections =
            parse_or(get("BILLBOT_DATABASE_POOL"), "BILLBOT_DATABASE_POOL", pool.max_connections)?;
        Ok(Some(DatabaseSettings { url: SecretString::from(url), pool }))
    }
}

/// `BILLBOT_INSTANCES`: how many instances share the channels' rate limits (Telegram's per bot
/// token, WhatsApp's per phone number); each keeps to its share. Default 1.
pub fn instances(lookup: impl Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    let value = lookup("BILLBOT_INSTANCES").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let n: u32 = parse_or(value, "BILLBOT_INSTANCES", 1)?;
    if n == 0 {
        return Err(ConfigError::Invalid { var: "BILLBOT_INSTANCES", reason: "at least 1".to_owned() });
    }
    Ok(n)
}

/// `BILLBOT_RESUME_AFTER_SECS`: how long an update taken in may stay unhandled before any
/// instance takes it up (its instance died). Default 120 s.
pub fn resume_after(lookup: impl Fn(&str) -> Option<String>) -> Result<Duration, ConfigError> {
    let value = lookup("BILLBOT_RESUME_AFTER_SECS").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    Ok(Duration::from_secs(parse_or(value, "BILLBOT_RESUME_AFTER_SECS", 120)?))
}

/// How every HTTP listener admits connections (`src/http.rs`).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `BILLBOT_MAX_CONNECTIONS_PER_CLIENT` | connections one client address may hold at once, per listener | 64 |
/// | `BILLBOT_TRUSTED_PROXIES` | comma-separated addresses or networks (`10.0.0.0/8`) of reverse proxies and load balancers, held only to the listener's 1,024; `none` for none | loopback (`127.0.0.0/8`, `::1`) |
pub fn connection_limits(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<crate::http::ConnectionLimits, ConfigError> {
    let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let mut limits = crate::http::ConnectionLimits::default();
    let var = "BILLBOT_MAX_CONNECTIONS_PER_CLIENT";
    limits.per_client = match parse_or(get(var), var, limits.per_client)? {
        0 => return Err(ConfigError::Invalid { var, reason: "it must be at least 1".to_owned() }),
        n => n,
    };
    if let Some(list) = get("BILLBOT_TRUSTED_PROXIES") {
        limits.trusted_proxies = if list.eq_ignore_ascii_case("none") {
            Vec::new()
        } else {
            list.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| {
                    item.parse()
                        .map_err(|reason| ConfigError::Invalid { var: "BILLBOT_TRUSTED_PROXIES", reason })
                })
                .collect::<Result<_, _>>()?
        };
    }
    Ok(limits)
}

/// `BILLBOT_METRICS_LISTEN`: where `/healthz`, `/readyz` and `/metrics` are served (unset: not
/// served). A loopback address unless `BILLBOT_METRICS_ALLOW_REMOTE=1` says that another address
/// is meant (and firewalled to the load balancer and Prometheus): the listener has no secret.
pub fn metrics_listen(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<std::net::SocketAddr>, ConfigError> {
    let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let var = "BILLBOT_METRICS_LISTEN";
    let Some(addr) = get(var) else { return Ok(None) };
    let addr: std::net::SocketAddr = addr
        .parse()
        .map_err(|_| ConfigError::Invalid { var, reason: format!("{addr:?} is not an address:port") })?;
    let allowed =
        get("BILLBOT_METRICS_ALLOW_REMOTE").is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
    if !addr.ip().to_canonical().is_loopback() && !allowed {
        return Err(ConfigError::Invalid {
            var,
            reason: format!(
                "{addr} is not a loopback address: /metrics and /readyz would answer anyone who reaches \
                 it. Listen on 127.0.0.1, or set BILLBOT_METRICS_ALLOW_REMOTE=1 and let only the load \
                 balancer and Prometheus reach it (a firewall, a private network)"
            ),
        });
    }
    Ok(Some(addr))
}

/// `BILLBOT_DATA_DIR`, when set.
pub fn data_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("BILLBOT_DATA_DIR").filter(|v| !v.is_empty()).map(std::path::PathBuf::from)
}

/// The Telegram front-end's settings.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `TELOXIDE_TOKEN` | the bot token | required |
/// | `TELOXIDE_API_URL` | Bot API base URL | `https://api.telegram.org` |
/// | `BILLBOT_AGENTS` | comma-separated numeric Telegram user ids of agents | none |
/// | `BILLBOT_WEBHOOK_URL` | public HTTPS URL Telegram posts updates to; set = webhook mode | long polling |
/// | `BILLBOT_WEBHOOK_LISTEN` | address the webhook server listens on | `127.0.0.1:8443` (put TLS in front) |
/// | `BILLBOT_WEBHOOK_SECRET` | secret checked in `X-Telegram-Bot-Api-Secret-Token` (16-256 of `A-Za-z0-9_-`) | generated at start |
/// | `BILLBOT_TELEGRAM_RATE_LIMITS` | `on`: pace messages to Telegram's limits; `off`: only for a local Bot API test server | `on` |
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    pub token: SecretString,
    pub api_url: Option<Url>,
    pub agents: std::collections::HashSet<u64>,
    pub webhook: Option<WebhookSettings>,
    /// Pace outgoing messages to Telegram's limits (on unless explicitly turned off).
    pub rate_limits: bool,
    /// How long one `getUpdates` long poll waits (10 s; tests shorten it so that they stop fast).
    pub poll_timeout: Duration,
    /// Instances sharing the bot token's rate limits (`BILLBOT_INSTANCES`).
    pub instances: u32,
    /// How long an update may stay unhandled before any instance takes it up.
    pub resume_after: Duration,
}

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: Url,
    pub listen: std::net::SocketAddr,
    pub secret: Option<SecretString>,
}

impl TelegramSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let token = get("TELOXIDE_TOKEN").ok_or(ConfigError::Invalid {
            var: "TELOXIDE_TOKEN",
            reason: "it must be set to the bot's token (from @BotFather)".to_owned(),
        })?;
        let parse_url = |var: &'static str, v: String| {
            Url::parse(&v).map_err(|e| ConfigError::Invalid { var, reason: e.to_string() })
        };
        let api_url = get("TELOXIDE_API_URL")
            .map(|v| parse_url("TELOXIDE_API_URL", v).and_then(|u| secure("TELOXIDE_API_URL", u)))
            .transpose()?;
        let agents = match get("BILLBOT_AGENTS") {
            None => Default::default(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(|id| {
                    id.parse::<u64>().map_err(|_| ConfigError::Invalid {
                        var: "BILLBOT_AGENTS",
                        reason: format!("{id:?} is not a numeric Telegram user id"),
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let webhook = match get("BILLBOT_WEBHOOK_URL") {
            None => None,
            Some(url) => {
                let url = parse_url("BILLBOT_WEBHOOK_URL", url)?;
                let listen = get("BILLBOT_WEBHOOK_LISTEN").unwrap_or_else(|| "127.0.0.1:8443".to_owned());
                let listen = listen.parse().map_err(|_| ConfigError::Invalid {
                    var: "BILLBOT_WEBHOOK_LISTEN",
                    reason: format!("{listen:?} is not an address:port"),
                })?;
                let secret = get("BILLBOT_WEBHOOK_SECRET");
                if let Some(s) = &secret
                    && (!(MIN_SECRET_LEN..=256).contains(&s.len())
                        || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                {
                    return Err(ConfigError::Invalid {
                        var: "BILLBOT_WEBHOOK_SECRET",
                        reason: format!(
                            "use {MIN_SECRET_LEN} to 256 characters among A-Z, a-z, 0-9, _ and - (or leave it \
                             unset: one is generated at start)"
                        ),
                    });
                }
                Some(WebhookSettings { url, listen, secret: secret.map(SecretString::from) })
            }
        };
        let rate_limits = match get("BILLBOT_TELEGRAM_RATE_LIMITS").map(|v| v.to_ascii_lowercase()).as_deref()
        {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "BILLBOT_TELEGRAM_RATE_LIMITS",
                    reason: format!("{other:?} is neither on nor off"),
                });
            }
        };
        Ok(TelegramSettings {
            token: SecretString::from(token),
            api_url,
            agents,
            webhook,
            rate_limits,
            poll_timeout: Duration::from_secs(10),
            instances: instances(&lookup)?,
            resume_after: resume_after(&lookup)?,
        })
    }
}

/// Order tracking and provider callbacks.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `BILLBOT_WATCH_MAX_AGE_SECS` | how long an order is watched before giving up | 86400 (24 h) |
/// | `BILLBOT_TRACKER_CALLS_PER_SEC` | status calls a second for all watched orders together | 20 |
/// | `BILLBOT_TRACKER_MIN_INTERVAL_MS` | the shortest pause between two checks of one order | 20000 |
/// | `BILLBOT_CALLBACK_LISTEN` | address of the provider-callback endpoint; unset = off | off |
/// | `BILLBOT_CALLBACK_SECRET` | the secret in the callback URL path or `X-Callback-Secret` | required with the listen address |
#[derive(Debug, Clone)]
pub struct TrackingSettings {
    pub tracker: crate::tracking::TrackerConfig,
    pub callback: Option<(std::net::SocketAddr, SecretString)>,
}

impl TrackingSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut tracker = crate::tracking::TrackerConfig::default();
        tracker.max_age = Duration::from_secs(parse_or(
            get("BILLBOT_WATCH_MAX_AGE_SECS"),
            "BILLBOT_WATCH_MAX_AGE_SECS",
            tracker.max_age.as_secs(),
        )?);
        tracker.calls_per_sec = parse_or(
            get("BILLBOT_TRACKER_CALLS_PER_SEC"),
            "BILLBOT_TRACKER_CALLS_PER_SEC",
            tracker.calls_per_sec,
        )?;
        tracker.min_interval = Duration::from_millis(parse_or(
            get("BILLBOT_TRACKER_MIN_INTERVAL_MS"),
            "BILLBOT_TRACKER_MIN_INTERVAL_MS",
            tracker.min_interval.as_millis() as u64,
        )?);
        tracker.max_interval = tracker.max_interval.max(tracker.min_interval);
        tracker.tick = tracker.tick.min(tracker.min_interval).max(Duration::from_millis(50));
        let callback = match get("BILLBOT_CALLBACK_LISTEN") {
            None => None,
            Some(listen) => {
                let addr = listen.parse().map_err(|_| ConfigError::Invalid {
                    var: "BILLBOT_CALLBACK_LISTEN",
                    reason: format!("{listen:?} is not an address:port"),
                })?;
                let secret = get("BILLBOT_CALLBACK_SECRET").ok_or(ConfigError::Missing {
                    var: "BILLBOT_CALLBACK_SECRET",
                    because: "BILLBOT_CALLBACK_LISTEN",
                })?;
                if secret.len() < MIN_SECRET_LEN
                    || !secret.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(ConfigError::Invalid {
                        var: "BILLBOT_CALLBACK_SECRET",
                        reason: format!(
                            "use at least {MIN_SECRET_LEN} characters among A-Z, a-z, 0-9, _ and -"
                        ),
                    });
                }
                Some((addr, SecretString::from(secret)))
            }
        };
        Ok(TrackingSettings { tracker, callback })
    }
}

/// The WhatsApp channel's settings (WhatsApp Business Cloud API).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `BILLBOT_WHATSAPP_TOKEN` | the Cloud API access token (set = the channel runs) | off |
/// | `BILLBOT_WHATSAPP_PHONE_NUMBER_ID` | the business phone number id | required with the token |
/// | `BILLBOT_WHATSAPP_APP_SECRET` | the app secret that signs webhooks (`X-Hub-Signature-256`) | required with the token |
/// | `BILLBOT_WHATSAPP_VERIFY_TOKEN` | the answer to Meta's webhook verification (16 characters or more) | required with the token |
/// | `BILLBOT_WHATSAPP_API_URL` | Graph API base, version included | `https://graph.facebook.com/v23.0` |
/// | `BILLBOT_WHATSAPP_LISTEN` | the webhook server's address (path `/whatsapp/webhook`) | `127.0.0.1:8444` |
/// | `BILLBOT_WHATSAPP_AGENTS` | comma-separated `wa_id`s (or business-scoped user ids) of agents | none |
/// | `BILLBOT_WHATSAPP_NOTIFY_TEMPLATE` | approved template for order news outside the 24-hour window | none: held |
/// | `BILLBOT_WHATSAPP_REMINDER_TEMPLATE` | approved template for due-date reminders outside the window | none: not sent |
/// | `BILLBOT_WHATSAPP_MESSAGES_PER_SEC` | messages a second for the number, all users together | 80 |
/// | `BILLBOT_WHATSAPP_USER_BURST` | messages one user may get at once before the pace of 1 per 6 s applies | 20 |
/// | `BILLBOT_WHATSAPP_RETRY_BASE_MS` | first pause after a throughput error (a pair-rate error waits 6 times longer) | 1000 |
#[derive(Debug, Clone)]
pub struct WhatsAppSettings {
    pub token: SecretString,
    pub phone_number_id: String,
    pub app_secret: SecretString,
    pub verify_token: SecretString,
    pub api_url: Url,
    pub listen: std::net::SocketAddr,
    pub agents: std::collections::HashSet<String>,
    pub notify_template: Option<String>,
    pub reminder_template: Option<String>,
    pub messages_per_sec: u32,
    pub user_burst: u32,
    pub retry_base: Duration,
    /// Instances sharing the number's rate limits (`BILLBOT_INSTANCES`).
    pub instances: u32,
    /// How long a message may stay unhandled before any instance takes it up.
    pub resume_after: Duration,
}

/// The Graph API's address when none is configured.
pub const WHATSAPP_API_URL: &str = "https://graph.facebook.com/v23.0";

impl WhatsAppSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let because = "BILLBOT_WHATSAPP_TOKEN";
        let token = get("BILLBOT_WHATSAPP_TOKEN").ok_or(ConfigError::Invalid {
            var: "BILLBOT_WHATSAPP_TOKEN",
            reason: "it must be set to the Cloud API access token".to_owned(),
        })?;
        // Name every missing companion at once: an operator fixes them in one go.
        let companions = [
            "BILLBOT_WHATSAPP_PHONE_NUMBER_ID",
            "BILLBOT_WHATSAPP_APP_SECRET",
            "BILLBOT_WHATSAPP_VERIFY_TOKEN",
        ];
        let missing: Vec<&'static str> = companions.into_iter().filter(|v| get(v).is_none()).collect();
        match missing.as_slice() {
            [] => {}
            [one] => return Err(ConfigError::Missing { var: one, because }),
            several => {
                return Err(ConfigError::Invalid {
                    var: "BILLBOT_WHATSAPP_TOKEN",
                    reason: format!("it is set, so {} must be set too", several.join(", ")),
                });
            }
        }
        let required = |var: &'static str| get(var).ok_or(ConfigError::Missing { var, because });
        let verify_token = required("BILLBOT_WHATSAPP_VERIFY_TOKEN")?;
        if verify_token.chars().count() < MIN_SECRET_LEN {
            return Err(ConfigError::Invalid {
                var: "BILLBOT_WHATSAPP_VERIFY_TOKEN",
                reason: format!("use at least {MIN_SECRET_LEN} characters: a short one can be guessed"),
            });
        }
        let phone_number_id = required("BILLBOT_WHATSAPP_PHONE_NUMBER_ID")?;
        if !phone_number_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(ConfigError::Invalid {
                var: "BILLBOT_WHATSAPP_PHONE_NUMBER_ID",
                reason: "a phone number id is digits (Meta's app dashboard shows it)".to_owned(),
            });
        }
        let api_url = get("BILLBOT_WHATSAPP_API_URL").unwrap_or_else(|| WHATSAPP_API_URL.to_owned());
        let api_url = Url::parse(api_url.trim_end_matches('/'))
            .map_err(|e| ConfigError::Invalid { var: "BILLBOT_WHATSAPP_API_URL", reason: e.to_string() })?;
        let api_url = secure("BILLBOT_WHATSAPP_API_URL", api_url)?;
        let listen = get("BILLBOT_WHATSAPP_LISTEN").unwrap_or_else(|| "127.0.0.1:8444".to_owned());
        let listen = listen.parse().map_err(|_| ConfigError::Invalid {
            var: "BILLBOT_WHATSAPP_LISTEN",
            reason: format!("{listen:?} is not an address:port"),
        })?;
        let agents = get("BILLBOT_WHATSAPP_AGENTS")
            .map(|list| {
                list.split(',')
                    .map(|id| id.trim().trim_start_matches('+').to_owned())
                    .filter(|id| !id.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(WhatsAppSettings {
            token: SecretString::from(token),
            phone_number_id,
            app_secret: SecretString::from(required("BILLBOT_WHATSAPP_APP_SECRET")?),
            verify_token: SecretString::from(verify_token),
            api_url,
            listen,
            agents,
            notify_template: get("BILLBOT_WHATSAPP_NOTIFY_TEMPLATE"),
            reminder_template: get("BILLBOT_WHATSAPP_REMINDER_TEMPLATE"),
            messages_per_sec: parse_or(
                get("BILLBOT_WHATSAPP_MESSAGES_PER_SEC"),
                "BILLBOT_WHATSAPP_MESSAGES_PER_SEC",
                80,
            )?,
            user_burst: parse_or(get("BILLBOT_WHATSAPP_USER_BURST"), "BILLBOT_WHATSAPP_USER_BURST", 20)?,
            retry_base: Duration::from_millis(parse_or(
                get("BILLBOT_WHATSAPP_RETRY_BASE_MS"),
                "BILLBOT_WHATSAPP_RETRY_BASE_MS",
                1000,
            )?),
            instances: instances(&lookup)?,
            resume_after: resume_after(&lookup)?,
        })
    }
}

/// Abuse limits: how much one chat may ask of the providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSettings {
    /// Bill inquiries, and order lookups, per customer chat (`BILLBOT_LOOKUPS_PER_MINUTE`, 10;
    /// `BILLBOT_LOOKUPS_PER_HOUR`, 60).
    pub lookups: LookupLimits,
    /// Updates one chat may have waiting (`BILLBOT_MAX_WAITING_UPDATES`, 5) and send a minute
    /// (`BILLBOT_UPDATES_PER_MINUTE`, 60); beyond, they are dropped and the chat told once.
    pub flood: Flood,
    /// The most provider calls from chats in flight at once, per instance
    /// (`BILLBOT_PROVIDER_CONCURRENCY`, 256): the ceiling of the limit that adapts to the
    /// provider. A lookup waits its turn in a fair queue; it is refused only when its wait would
    /// exceed the provider's timeout (`BILLBOT_HTTP_TIMEOUT_MS`).
    pub provider_calls: usize,
    /// A lookup that has waited this long for its turn tells its user so, once
    /// (`BILLBOT_PROVIDER_WAIT_NOTE_MS`, 2000).
    pub provider_wait_note: Duration,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            lookups: LookupLimits::default(),
            flood: Flood::default(),
            provider_calls: crate::conversation::PROVIDER_CALLS,
            provider_wait_note: crate::conversation::WAITING_NOTE_AFTER,
        }
    }
}

impl LimitSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let positive = |var: &'static str, default: u32| -> Result<u32, ConfigError> {
            match parse_or(get(var), var, default)? {
                0 => Err(ConfigError::Invalid { var, reason: "it must be at least 1".to_owned() }),
                n => Ok(n),
            }
        };
        let defaults = LookupLimits::default();
        let lookups = LookupLimits {
            per_minute: positive("BILLBOT_LOOKUPS_PER_MINUTE", defaults.per_minute)?,
            per_hour: positive("BILLBOT_LOOKUPS_PER_HOUR", defaults.per_hour)?,
        };
        if lookups.per_hour < lookups.per_minute {
            return Err(ConfigError::Invalid {
                var: "BILLBOT_LOOKUPS_PER_HOUR",
                reason: format!("it is below BILLBOT_LOOKUPS_PER_MINUTE ({})", lookups.per_minute),
            });
        }
        let flood = Flood {
            max_waiting: positive("BILLBOT_MAX_WAITING_UPDATES", Flood::default().max_waiting as u32)?
                as usize,
            per_minute: positive("BILLBOT_UPDATES_PER_MINUTE", Flood::default().per_minute)?,
        };
        let provider_calls =
            positive("BILLBOT_PROVIDER_CONCURRENCY", crate::conversation::PROVIDER_CALLS as u32)? as usize;
        let note_ms = crate::conversation::WAITING_NOTE_AFTER.as_millis() as u32;
        let provider_wait_note =
            Duration::from_millis(positive("BILLBOT_PROVIDER_WAIT_NOTE_MS", note_ms)?.into());
        Ok(LimitSettings { lookups, flood, provider_calls, provider_wait_note })
    }
}

/// How long what the bot keeps about chats is kept (`BILLBOT_KEEP_ORDERS_DAYS`,
/// `BILLBOT_KEEP_IDLE_DIALOGUE_DAYS`); swept in the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Orders last seen, and lookups made, longer ago are forgotten (180 days).
    pub orders: Duration,
    /// The dialogue state of a chat silent this long is forgotten (30 days).
    pub idle_dialogue: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            orders: Duration::from_secs(180 * 86_400),
            idle_dialogue: Duration::from_secs(30 * 86_400),
        }
    }
}

impl Retention {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let days = |var: &'static str, default: u64| -> Result<Duration, ConfigError> {
            let value = lookup(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
            match parse_or(value, var, default)? {
                0 => Err(ConfigError::Invalid { var, reason: "it must be at least 1 day".to_owned() }),
                n => Ok(Duration::from_secs(n.saturating_mul(86_400))),
            }
        };
        Ok(Retention {
            orders: days("BILLBOT_KEEP_ORDERS_DAYS", 180)?,
            idle_dialogue: days("BILLBOT_KEEP_IDLE_DIALOGUE_DAYS", 30)?,
        })
    }
}

/// Hand-off to a person (`BILLBOT_SUPPORT_*`); `None` when `BILLBOT_SUPPORT_CHAT` is not set.
///
/// | variable | what | default |
/// |---|---|---|
/// | `BILLBOT_SUPPORT_CHAT` | where tickets go: a Telegram group id (`-1001234567890`, or `tg:-100…`) or a WhatsApp number (`wa:221771234567`) | none: no hand-off |
/// | `BILLBOT_SUPPORT_LANG` | the language tickets are written in for agents | `fr` |
/// | `BILLBOT_SUPPORT_HOURS` | when agents answer, Dakar time | `08:00-18:00` |
/// | `BILLBOT_SUPPORT_DAYS` | the days they do | `mon-sat` |
/// | `BILLBOT_SUPPORT_SHOW_AGENT` | `1`: customers see the first name of the agent who answered | off |
/// | `BILLBOT_SUPPORT_AGENTS` | comma-separated user ids of those who may answer and close tickets: Telegram user ids for a group, `wa_id`s for a WhatsApp number | the channel's agents (`BILLBOT_AGENTS`, `BILLBOT_WHATSAPP_AGENTS`); required for a Telegram group |
pub fn support_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<crate::conversation::support::Support>, ConfigError> {
    use crate::conversation::support::{Support, SupportHours};
    let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let Some(chat) = get("BILLBOT_SUPPORT_CHAT") else { return Ok(None) };
    let invalid = |var: &'static str| move |reason: String| ConfigError::Invalid { var, reason };
    let chat = match chat.parse::<i64>() {
        Ok(id) => crate::domain::ChatKey::telegram(id),
        Err(_) => chat
            .parse::<crate::domain::ChatKey>()
            .map_err(|e| invalid("BILLBOT_SUPPORT_CHAT")(format!("{chat:?}: {e}")))?,
    };
    if chat.channel() == crate::domain::Channel::Web {
        return Err(invalid("BILLBOT_SUPPORT_CHAT")(
            "a web chat session cannot be the support desk: give a Telegram group or a WhatsApp number"
                .to_owned(),
        ));
    }
    let lang = match get("BILLBOT_SUPPORT_LANG") {
        Some(code) => code.parse().map_err(invalid("BILLBOT_SUPPORT_LANG"))?,
        None => crate::i18n::Lang::Fr,
    };
    let hours = SupportHours::parse(
        &get("BILLBOT_SUPPORT_HOURS").unwrap_or_else(|| "08:00-18:00".into()),
        &get("BILLBOT_SUPPORT_DAYS").unwrap_or_else(|| "mon-sat".into()),
    )
    .map_err(invalid("BILLBOT_SUPPORT_HOURS"))?;
    let show_agent =
        get("BILLBOT_SUPPORT_SHOW_AGENT").is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
    let agents = support_agents(&get, &chat)?;
    Ok(Some(Support { chat, lang, hours, show_agent, agents }))
}

/// The support agents for the support chat `chat`: `BILLBOT_SUPPORT_AGENTS`, or else the agents of
/// the chat's channel. In a Telegram group anyone may be a member, so a group with no agent listed
/// is refused: nobody could answer there, and nobody must answer by merely being in it.
fn support_agents(
    get: &impl Fn(&str) -> Option<String>,
    chat: &crate::domain::ChatKey,
) -> Result<std::collections::HashSet<String>, ConfigError> {
    use crate::domain::Channel;
    let channel_var = match chat.channel() {
        Channel::Telegram => "BILLBOT_AGENTS",
        Channel::WhatsApp => "BILLBOT_WHATSAPP_AGENTS",
        Channel::Terminal | Channel::Web => "BILLBOT_SUPPORT_AGENTS",
    };
    let (var, list) = match get("BILLBOT_SUPPORT_AGENTS") {
        Some(list) => ("BILLBOT_SUPPORT_AGENTS", list),
        None => (channel_var, get(channel_var).unwrap_or_default()),
    };
    let agents: std::collections::HashSet<String> = list
        .split(',')
        .map(|id| id.trim().trim_start_matches('+').to_owned())
        .filter(|id| !id.is_empty())
        .collect();
    if chat.channel() == Channel::Telegram
        && let Some(id) = agents.iter().find(|id| id.parse::<u64>().is_err())
    {
        return Err(ConfigError::Invalid {
            var,
            reason: format!("{id:?} is not a numeric Telegram user id"),
        });
    }
    if agents.is_empty() && chat.telegram_id().is_some_and(|id| id < 0) {
        return Err(ConfigError::Invalid {
            var: "BILLBOT_SUPPORT_AGENTS",
            reason: "list the Telegram user ids of the agents who may answer in the support group \
                     (or set BILLBOT_AGENTS): being in the group is not enough"
                .to_owned(),
        });
    }
    Ok(agents)
}

/// The web chat (`BILLBOT_WEBCHAT_*`); `None` when `BILLBOT_WEBCHAT_LISTEN` is not set.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `BILLBOT_WEBCHAT_LISTEN` | address of the web chat's page, widget and connections | off |
/// | `BILLBOT_WEBCHAT_SECRET` | signs session tokens: at least 32 bytes, the same on every instance | required with the address |
/// | `BILLBOT_WEBCHAT_ORIGINS` | comma-separated origins (`https://www.senelec.sn`) that may embed the widget; the page's own origin always may | none |
/// | `BILLBOT_WEBCHAT_MAX_CONNECTIONS` | connections the web chat serves at once (each open page holds one) | 4096 |
#[derive(Debug, Clone)]
pub struct WebChatSettings {
    pub listen: std::net::SocketAddr,
    pub secret: SecretString,
    /// The embedding sites' origins, as browsers send them (`scheme://host[:port]`, lowercase).
    pub origins: Vec<String>,
    /// Connections the web chat's listener serves at once: each open page holds one.
    pub max_connections: usize,
}

/// The web chat listener's connections at once, unless `BILLBOT_WEBCHAT_MAX_CONNECTIONS` says.
pub const WEBCHAT_MAX_CONNECTIONS: usize = 4096;

impl WebChatSettings {
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<WebChatSettings>, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let var = "BILLBOT_WEBCHAT_LISTEN";
        let Some(listen) = get(var) else { return Ok(None) };
        let listen = listen.parse().map_err(|_| ConfigError::Invalid {
            var,
            reason: format!("{listen:?} is not an address:port"),
        })?;
        let var = "BILLBOT_WEBCHAT_SECRET";
        let secret = get(var).ok_or(ConfigError::Missing { var, because: "BILLBOT_WEBCHAT_LISTEN" })?;
        let min = crate::channels::web::session::MIN_SECRET_BYTES;
        if secret.len() < min {
            return Err(ConfigError::Invalid {
                var,
                reason: format!(
                    "use at least {min} bytes (e.g. the output of `openssl rand -hex 32`): it signs every \
                     session, and a short one can be guessed"
                ),
            });
        }
        let origins = match get("BILLBOT_WEBCHAT_ORIGINS") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(origin)
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let var = "BILLBOT_WEBCHAT_MAX_CONNECTIONS";
        let max_connections = match parse_or(get(var), var, WEBCHAT_MAX_CONNECTIONS)? {
            0 => return Err(ConfigError::Invalid { var, reason: "it must be at least 1".to_owned() }),
            n => n,
        };
        Ok(Some(WebChatSettings { listen, secret: SecretString::from(secret), origins, max_connections }))
    }
}

/// An origin of `BILLBOT_WEBCHAT_ORIGINS` as a browser sends it: `https://host[:port]` (plain
/// `http` only for this machine), nothing after the host.
fn origin(text: &str) -> Result<String, ConfigError> {
    let var = "BILLBOT_WEBCHAT_ORIGINS";
    let invalid = |why: &str| ConfigError::Invalid { var, reason: format!("{text:?} {why}") };
    let url = Url::parse(text).map_err(|_| invalid("is not an origin like https://www.example.sn"))?;
    if url.host_str().is_none()
        || !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(invalid("is not an origin: give the scheme and host only, like https://www.example.sn"));
    }
    let url = secure(var, url)?;
    // `Url` drops a default port and lowercases the host, as browsers do in `Origin`.
    Ok(url.origin().ascii_serialization())
}
