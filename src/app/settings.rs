//! What [`build`](super::build) needs, and `serve`'s reading of it from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::{
    ConfigError, DatabaseSettings, LimitSettings, ProviderSettings, TelegramSettings, TrackingSettings,
    WhatsAppSettings,
};

/// Where `serve` keeps its database when `BILLBOT_DATA_DIR` is not set.
pub const DEFAULT_DATA_DIR: &str = "billbot-data";

/// Everything [`build`] needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub providers: ProviderSettings,
    pub tracking: TrackingSettings,
    /// How much one chat may ask of the providers.
    pub limits: LimitSettings,
    /// The sled database's directory (when no database is configured).
    pub data_dir: PathBuf,
    /// Set: the store is this PostgreSQL database, shared with other instances.
    pub database: Option<DatabaseSettings>,
    /// Set: `/healthz`, `/readyz` and `/metrics` are served here (`BILLBOT_METRICS_LISTEN`;
    /// loopback unless `BILLBOT_METRICS_ALLOW_REMOTE` says otherwise).
    pub metrics_listen: Option<SocketAddr>,
    /// How every HTTP listener admits and keeps connections.
    pub connections: crate::http::ConnectionLimits,
    /// Set: the Telegram channel runs.
    pub telegram: Option<TelegramSettings>,
    /// Set: the WhatsApp channel runs.
    pub whatsapp: Option<WhatsAppSettings>,
    /// Set: the web chat runs.
    pub webchat: Option<crate::config::WebChatSettings>,
    /// The terminal demo's chat gets the tracker's notices on standard output.
    pub terminal: bool,
    /// Every reply says it comes from test data (`serve` on the sandbox).
    pub sandbox_notice: bool,
    /// How long orders, lookups and idle chats' dialogue states are kept.
    pub retention: crate::config::Retention,
    /// Where customers' requests to talk to a person go (`BILLBOT_SUPPORT_CHAT`).
    pub support: Option<crate::conversation::support::Support>,
}

impl Settings {
    /// `serve`'s settings from the environment: the channels whose token is set (at least one).
    pub fn for_serve() -> Result<Settings, ConfigError> {
        Settings::for_serve_from(|name| std::env::var(name).ok())
    }

    /// [`Settings::for_serve`] through `lookup` (a map in tests).
    pub fn for_serve_from(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let set = |name: &str| lookup(name).is_some_and(|v| !v.trim().is_empty());
        let telegram = set("TELOXIDE_TOKEN").then(|| TelegramSettings::from_lookup(&lookup)).transpose()?;
        let whatsapp =
            set("BILLBOT_WHATSAPP_TOKEN").then(|| WhatsAppSettings::from_lookup(&lookup)).transpose()?;
        let webchat = crate::config::WebChatSettings::from_lookup(&lookup)?;
        if telegram.is_none() && whatsapp.is_none() && webchat.is_none() {
            return Err(ConfigError::NoChannel);
        }
        let providers = ProviderSettings::from_lookup(&lookup)?;
        // Real users must never get made-up bills by accident: the sandbox is asked for by name.
        let sandbox_asked =
            lookup("BILLBOT_SANDBOX").is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
        if providers.uses_sandbox() && !sandbox_asked {
            return Err(ConfigError::SandboxNotAsked);
        }
        Ok(Settings {
            providers,
            sandbox_notice: sandbox_asked,
            tracking: TrackingSettings::from_lookup(&lookup)?,
            limits: LimitSettings::from_lookup(&lookup)?,
            retention: crate::config::Retention::from_lookup(&lookup)?,
            data_dir: lookup("BILLBOT_DATA_DIR")
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            database: DatabaseSettings::from_lookup(&lookup)?,
            metrics_listen: crate::config::metrics_listen(&lookup)?,
            connections: crate::config::connection_limits(&lookup)?,
            telegram,
            whatsapp,
            webchat,
            terminal: false,
            support: crate::config::support_from_lookup(&lookup)?,
        })
    }
}
