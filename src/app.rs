//! The composition root: [`build`] makes the whole bot from [`Settings`] (provider clients or
//! the embedded sandbox, the store, the tracker, the core and every configured channel), and
//! [`App::run`] serves it on the [`Listeners`] it is given until a shutdown future completes.
//!
//! `billbot serve`, `billbot demo` and the tests all build the bot here, so what a test starts is
//! what an operator runs; tests bind their listeners on port 0 and pass them in.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use std::collections::HashMap;

use crate::channels::intake::{Edge, Intake, IntakeSettings};
use crate::channels::whatsapp::{self, GraphClient, WhatsApp, WhatsAppEdge};
use crate::channels::{telegram, terminal};
use crate::config::{
    ConfigError, DatabaseSettings, LimitSettings, ProviderSettings, TelegramSettings, TrackingSettings,
    WhatsAppSettings,
};
use crate::conversation::{Bot, PayloadKeys};
use crate::domain::Channel;
use crate::outbox::{Notifiers, Outbox, OutboxConfig};
use crate::providers::{Providers, ProvidersError};
use crate::reminders::Reminders;
use crate::store::{Store, StoreError};
use crate::tracking::{Tracker, callback};

/// How often due reminders are looked for (they are due at 09:00: a few seconds late is fine).
const REMINDER_TICK: std::time::Duration = std::time::Duration::from_secs(30);

/// How often what has been kept long enough is swept (first a minute after start).
const RETENTION_SWEEP: std::time::Duration = std::time::Duration::from_secs(3600);

/// Forgets, every hour until `shutdown`, orders and lookups older than the retention period and
/// the dialogue state of chats idle for longer than theirs. Every instance may sweep: a sweep is
/// a few deletes, and two at once delete the same rows.
async fn sweep_expired(
    store: Store,
    retention: crate::config::Retention,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut first = true;
    loop {
        let wait = if first { std::time::Duration::from_secs(60) } else { RETENTION_SWEEP };
        first = false;
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(wait) => {}
        }
        let now = chrono::Utc::now();
        let ago = |d: std::time::Duration| now - chrono::Duration::from_std(d).unwrap_or_default();
        match store.sweep_expired(ago(retention.orders), ago(retention.idle_dialogue)).await {
            Ok(swept) if swept == Default::default() => {}
            Ok(swept) => tracing::info!(
                orders = swept.orders,
                lookups = swept.activity,
                dialogues = swept.dialogues,
                "kept long enough: forgotten"
            ),
            Err(e) => tracing::error!(error = %e, "the retention sweep failed"),
        }
    }
}

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
    /// Set: `/healthz`, `/readyz` and `/metrics` are served here (`BILLBOT_METRICS_LISTEN`).
    pub metrics_listen: Option<SocketAddr>,
    /// Set: the Telegram channel runs.
    pub telegram: Option<TelegramSettings>,
    /// Set: the WhatsApp channel runs.
    pub whatsapp: Option<WhatsAppSettings>,
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
        if telegram.is_none() && whatsapp.is_none() {
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
            metrics_listen: match lookup("BILLBOT_METRICS_LISTEN")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
            {
                None => None,
                Some(addr) => Some(addr.parse().map_err(|_| ConfigError::Invalid {
                    var: "BILLBOT_METRICS_LISTEN",
                    reason: format!("{addr:?} is not an address:port"),
                })?),
            },
            telegram,
            whatsapp,
            terminal: false,
            support: crate::config::support_from_lookup(&lookup)?,
        })
    }
}

/// Why the bot could not start or stopped on an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Providers(#[from] ProvidersError),
    #[error("the store could not be opened: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("Telegram: {0}")]
    Telegram(#[from] teloxide::RequestError),
    #[error("the WhatsApp client could not be built: {0}")]
    WhatsApp(reqwest::Error),
}

/// The Telegram channel, ready to run.
struct TelegramPart {
    settings: TelegramSettings,
    client: telegram::TgBot,
}

/// The bot, built and not yet serving.
pub struct App {
    pub settings: Settings,
    pub providers: Providers,
    pub store: Store,
    pub tracker: Arc<Tracker>,
    pub reminders: Arc<Reminders>,
    /// The sender of every notice (tracking, reminders, support).
    pub outbox: Arc<Outbox>,
    pub bot: Bot,
    /// The intake of every chat channel configured.
    pub intake: Intake,
    telegram: Option<TelegramPart>,
    whatsapp: Option<WhatsApp>,
}

/// Builds the bot: provider clients (the embedded sandbox where no URL is configured), the
/// store, each configured channel (its sending edge and notifier), the intake they share, the
/// outbox sending through them, the tracker and the core.
pub async fn build(settings: Settings) -> Result<App, AppError> {
    let providers = Providers::connect(&settings.providers).await?;
    let store = match &settings.database {
        Some(db) => Store::connect(db.url.expose_secret(), &db.pool).await?,
        None => Store::open(&settings.data_dir)?,
    };
    let mut notifiers = Notifiers::new();
    let mut edges: HashMap<Channel, Arc<dyn Edge>> = HashMap::new();
    let telegram = settings.telegram.clone().map(|settings| {
        let limits = if settings.rate_limits {
            telegram::Limits::default().shared_by(settings.instances)
        } else {
            tracing::warn!("Telegram rate limits are off: only for a local Bot API test server");
            telegram::Limits::unlimited()
        };
        let client = telegram::bot(&settings);
        let pacer = Arc::new(telegram::Pacer::new(limits));
        let edge =
            Arc::new(telegram::TelegramEdge::new(client.clone(), pacer, PayloadKeys::new(store.clone())));
        notifiers = std::mem::take(&mut notifiers).route(Channel::Telegram, edge.clone());
        edges.insert(Channel::Telegram, edge);
        TelegramPart { settings, client }
    });
    if let Some(wa) = &settings.whatsapp {
        let client = Arc::new(GraphClient::new(wa).map_err(AppError::WhatsApp)?);
        let edge = WhatsAppEdge::new(client, store.clone(), wa.notify_template.clone())
            .with_reminder_template(wa.reminder_template.clone());
        let edge = Arc::new(edge);
        notifiers = notifiers.route(Channel::WhatsApp, edge.clone());
        edges.insert(Channel::WhatsApp, edge);
    }
    if settings.terminal {
        notifiers = notifiers.route(Channel::Terminal, Arc::new(terminal::TerminalNotifier));
    }
    let outbox = Arc::new(Outbox::new(store.clone(), Arc::new(notifiers), OutboxConfig::default()));
    let tracker =
        Arc::new(Tracker::new(providers.status.clone(), store.clone(), settings.tracking.tracker.clone()));
    let mut bot = Bot::with_tracker(
        providers.inquiry.clone(),
        providers.status.clone(),
        store.clone(),
        tracker.clone(),
    )
    .with_limits(settings.limits.lookups)
    .with_provider_calls(settings.limits.provider_calls, crate::conversation::PROVIDER_CALL_WAIT)
    .with_support(settings.support.clone());
    if settings.sandbox_notice && providers.sandbox.is_some() {
        bot = bot.saying_test_data();
    }
    let resume_after = [
        settings.telegram.as_ref().map(|t| t.resume_after),
        settings.whatsapp.as_ref().map(|w| w.resume_after),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(IntakeSettings::default().resume_after);
    let intake_settings = IntakeSettings { flood: settings.limits.flood, resume_after, ..Default::default() };
    let intake = Intake::new(bot.clone(), edges, intake_settings);
    let whatsapp = settings.whatsapp.clone().map(|wa| WhatsApp::new(wa, intake.clone()));
    let reminders = Arc::new(
        Reminders::new(store.clone(), providers.inquiry.clone()).with_limits(settings.limits.lookups),
    );
    Ok(App { settings, providers, store, tracker, reminders, outbox, bot, intake, telegram, whatsapp })
}

/// The sockets the bot serves HTTP on; a listener not given is bound to its configured address.
#[derive(Debug, Default)]
pub struct Listeners {
    /// The provider-callback endpoint.
    pub callback: Option<TcpListener>,
    /// The WhatsApp webhook.
    pub whatsapp: Option<TcpListener>,
    /// Health, readiness and metrics (`ops`).
    pub ops: Option<TcpListener>,
    /// Telegram's webhook (webhook mode).
    pub telegram: Option<TcpListener>,
}

impl Listeners {
    /// Binds the addresses the settings name.
    pub async fn bind(settings: &Settings) -> Result<Listeners, AppError> {
        let callback = match &settings.tracking.callback {
            Some((addr, _)) => Some(bind(*addr).await?),
            None => None,
        };
        let whatsapp = match &settings.whatsapp {
            Some(wa) => Some(bind(wa.listen).await?),
            None => None,
        };
        let ops = match settings.metrics_listen {
            // The recorder is installed now, before the first message is counted: until it is,
            // every count is lost.
            Some(addr) => Some(bind(addr).await.inspect(|_| _ = crate::ops::recorder())?),
            None => None,
        };
        let telegram = match settings.telegram.as_ref().and_then(|t| t.webhook.as_ref()) {
            Some(webhook) => Some(bind(webhook.listen).await?),
            None => None,
        };
        Ok(Listeners { callback, whatsapp, ops, telegram })
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, AppError> {
    TcpListener::bind(addr).await.map_err(|source| AppError::Listen { addr, source })
}

impl App {
    /// Serves every configured channel, the tracker, the reminders, the outbox and the HTTP
    /// listeners until `shutdown` completes; then stops taking messages in, lets the turns in hand
    /// finish, and stops the background jobs.
    pub async fn run(
        self,
        listeners: Listeners,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let App { settings, providers, store, tracker, reminders, outbox, bot, intake, telegram, whatsapp } =
            self;
        // Two stages: the edges stop first (no more messages in), then the jobs behind them.
        let (stop_edges, edges_stopped) = tokio::sync::watch::channel(false);
        let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(false);
        let until = |stopped: &tokio::sync::watch::Receiver<bool>| {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let mut jobs = tokio::task::JoinSet::new();
        jobs.spawn(tracker.clone().run(until(&jobs_stopped)));
        jobs.spawn(reminders.run(REMINDER_TICK, until(&jobs_stopped)));
        jobs.spawn(outbox.run(until(&jobs_stopped)));
        jobs.spawn(sweep_expired(store.clone(), settings.retention, until(&jobs_stopped)));
        let chat_channels = telegram.is_some() || whatsapp.is_some();
        if chat_channels {
            jobs.spawn(intake.clone().run(until(&edges_stopped)));
        }

        // Every HTTP listener, served the same way.
        let mut routes: Vec<(&str, TcpListener, axum::Router)> = Vec::new();
        if let (Some(listener), Some((_, secret))) = (listeners.callback, settings.tracking.callback.clone())
        {
            routes.push((
                "provider callbacks",
                listener,
                callback::router(tracker.clone(), providers.status.clone(), secret),
            ));
        }
        if let Some(listener) = listeners.ops {
            routes.push((
                "health checks and metrics",
                listener,
                crate::http::limited(crate::ops::router(store.clone())),
            ));
        }
        match (&whatsapp, listeners.whatsapp) {
            (Some(whatsapp), Some(listener)) => {
                tracing::info!(path = whatsapp::webhook::PATH, "starting the WhatsApp bot");
                routes.push(("the WhatsApp webhook", listener, whatsapp.router()));
            }
            (Some(_), None) => {
                tracing::error!("the WhatsApp channel has no listener: its webhook is not served")
            }
            _ => {}
        }
        let mut polling = None;
        if let Some(TelegramPart { settings: tg, client }) = &telegram {
            tracing::info!(
                agents = tg.agents.len(),
                webhook = tg.webhook.is_some(),
                "starting the Telegram bot"
            );
            let agents = telegram::Agents(tg.agents.clone());
            if let Err(e) = telegram::register_commands(client, &agents, bot.has_support()).await {
                tracing::warn!(error = %e, "could not register the command menus");
            }
            let receiver = telegram::Telegram::new(client.clone(), agents, intake.clone());
            match &tg.webhook {
                Some(webhook) => {
                    let listener = match listeners.telegram {
                        Some(listener) => listener,
                        None => bind(webhook.listen).await?,
                    };
                    let secret = telegram::webhook::secret(webhook)
                        .map_err(|e| AppError::Telegram(Arc::new(e).into()))?;
                    let router = telegram::webhook::router(receiver, webhook, secret.clone());
                    routes.push(("the Telegram webhook", listener, router));
                    // Spawned once the route is served (below): Telegram may post at once.
                    let (client, webhook) = (client.clone(), webhook.clone());
                    let register: TelegramTask =
                        Box::pin(
                            async move { telegram::webhook::register(&client, &webhook, &secret).await },
                        );
                    polling = Some(register);
                }
                None => {
                    let poll = telegram::poll(
                        client.clone(),
                        receiver,
                        tg.poll_timeout,
                        store.clone(),
                        until(&edges_stopped),
                    );
                    let poll: TelegramTask = Box::pin(poll);
                    polling = Some(poll);
                }
            }
        }
        let mut servers = tokio::task::JoinSet::new();
        for (what, listener, router) in routes {
            tracing::info!(listen = ?listener.local_addr().ok(), "serving {what}");
            servers.spawn(crate::http::serve(listener, router, until(&edges_stopped)));
        }

        // Telegram's long poll (or its webhook's registration) runs until the shutdown; its
        // failure stops the bot, as the shutdown does.
        let result = match polling {
            Some(telegram) => {
                let telegram = tokio::spawn(telegram);
                tokio::pin!(shutdown);
                let mut telegram = telegram;
                tokio::select! {
                    () = &mut shutdown => {
                        let _ = stop_edges.send(true);
                        flatten(telegram.await)
                    }
                    ended = &mut telegram => {
                        let ended = flatten(ended);
                        // A registered webhook keeps serving until the shutdown; a long poll ends
                        // only with it (or with an error).
                        if ended.is_ok() && settings.telegram.as_ref().is_some_and(|t| t.webhook.is_some()) {
                            shutdown.await;
                        }
                        ended
                    }
                }
            }
            None => {
                shutdown.await;
                Ok(())
            }
        }
        .map_err(AppError::from);
        let _ = stop_edges.send(true);
        while servers.join_next().await.is_some() {}
        tracing::info!("shutting down: finishing the messages in hand");
        // No more messages come in: let the turns in hand finish.
        intake.finish().await;
        let _ = stop_jobs.send(true);
        while jobs.join_next().await.is_some() {}
        // Every commit was durable when it returned: nothing is left to flush.
        drop((store, providers, bot));
        result
    }
}

/// Telegram's long poll, or its webhook's registration.
type TelegramTask = std::pin::Pin<Box<dyn Future<Output = Result<(), teloxide::RequestError>> + Send>>;

fn flatten(
    joined: Result<Result<(), teloxide::RequestError>, tokio::task::JoinError>,
) -> Result<(), teloxide::RequestError> {
    joined.unwrap_or_else(|e| {
        tracing::error!(error = %e, "the Telegram channel's task failed");
        Ok(())
    })
}

/// Completes on Ctrl-C or SIGTERM: the signal `billbot serve` stops on.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
