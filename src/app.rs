//! The composition root: [`build`] makes the whole bot from [`Settings`] (provider clients or
//! the embedded sandbox, the store, the tracker, the core and every configured channel), and
//! [`App::run`] serves it on the [`Listeners`] it is given until a shutdown future completes.
//!
//! `billbot serve`, `billbot demo` and the tests all build the bot here, so what a test starts is
//! what an operator runs; tests bind their listeners on port 0 and pass them in.

mod settings;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::channels::intake::{Edge, Intake, IntakeSettings};
use crate::channels::whatsapp::{self, GraphClient, WhatsApp, WhatsAppEdge};
use crate::channels::{telegram, terminal};
use crate::config::{ConfigError, TelegramSettings};
use crate::conversation::{Bot, PayloadKeys};
use crate::domain::Channel;
use crate::outbox::{Notifiers, Outbox, OutboxConfig};
use crate::providers::{Providers, ProvidersError};
use crate::reminders::Reminders;
use crate::store::{Store, StoreError};
use crate::tracking::{Tracker, callback};

pub use settings::{DEFAULT_DATA_DIR, Settings};

/// How often due reminders are looked for (they are due at 09:00: a few seconds late is fine).
const REMINDER_TICK: std::time::Duration = std::time::Duration::from_secs(30);

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
    webchat: Option<crate::channels::web::WebChat>,
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
    let web_live = Arc::new(crate::channels::web::Live::default());
    if settings.webchat.is_some() {
        // Lines written by other instances (notices, the same chat's turn taken there) wake the
        // pages open here.
        if let Some(written) = store.web_written() {
            tokio::spawn(web_live.clone().follow(written));
        }
        let edge = Arc::new(crate::channels::web::WebEdge::new(store.clone(), web_live.clone()));
        notifiers = notifiers.route(Channel::Web, edge.clone());
        edges.insert(Channel::Web, edge);
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
    .with_provider_calls(settings.limits.provider_calls, settings.providers.http.timeout)
    .with_waiting_note(settings.limits.provider_wait_note)
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
    let webchat = settings.webchat.as_ref().map(|web| {
        use secrecy::ExposeSecret;
        let lifetime = chrono::Duration::from_std(settings.retention.idle_dialogue)
            .unwrap_or(chrono::Duration::days(30));
        let keys =
            crate::channels::web::session::SessionKeys::new(web.secret.expose_secret().as_bytes(), lifetime);
        crate::channels::web::WebChat::new(
            keys,
            intake.clone(),
            store.clone(),
            web_live.clone(),
            web.origins.clone(),
        )
    });
    let reminders = Arc::new(
        Reminders::new(store.clone(), providers.inquiry.clone()).with_limits(settings.limits.lookups),
    );
    Ok(App {
        settings,
        providers,
        store,
        tracker,
        reminders,
        outbox,
        bot,
        intake,
        telegram,
        whatsapp,
        webchat,
    })
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
    /// The web chat's page and API.
    pub web: Option<TcpListener>,
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
        let web = match &settings.webchat {
            Some(web) => Some(bind(web.listen).await?),
            None => None,
        };
        Ok(Listeners { callback, whatsapp, ops, telegram, web })
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, AppError> {
    crate::http::bind(addr).await.map_err(|source| AppError::Listen { addr, source })
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
        let App {
            settings,
            providers,
            store,
            tracker,
            reminders,
            outbox,
            bot,
            intake,
            telegram,
            whatsapp,
            webchat,
        } = self;
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
        jobs.spawn(crate::retention::run(store.clone(), settings.retention, until(&jobs_stopped)));
        let chat_channels = telegram.is_some() || whatsapp.is_some() || webchat.is_some();
        if chat_channels {
            jobs.spawn(intake.clone().run(until(&edges_stopped)));
        }

        // Every HTTP listener, served the same way.
        let mut routes: Vec<Route> = Vec::new();
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
        // Each open page holds a connection: the web chat has its own total, not the webhooks'.
        let web_route = match (&webchat, listeners.web, &settings.webchat) {
            (Some(web), Some(listener), Some(web_settings)) => {
                let limits = crate::http::ConnectionLimits {
                    max_connections: web_settings.max_connections,
                    ..settings.connections.clone()
                };
                Some(("the web chat", listener, web.router(), limits))
            }
            (Some(_), None, _) => {
                tracing::error!("the web chat has no listener: its page is not served");
                None
            }
            _ => None,
        };
        let polling = match &telegram {
            Some(part) => {
                let (route, task) =
                    start_telegram(part, &bot, &intake, &store, listeners.telegram, until(&edges_stopped))
                        .await?;
                routes.extend(route);
                Some(task)
            }
            None => None,
        };
        let mut servers = tokio::task::JoinSet::new();
        let routes = routes
            .into_iter()
            .map(|(what, listener, router)| (what, listener, router, settings.connections.clone()));
        for (what, listener, router, limits) in routes.chain(web_route) {
            tracing::info!(listen = ?listener.local_addr().ok(), "serving {what}");
            servers.spawn(crate::http::serve_with(listener, router, limits, until(&edges_stopped)));
        }

        let webhook = settings.telegram.as_ref().is_some_and(|t| t.webhook.is_some());
        let result = until_stopped(polling, webhook, shutdown, &stop_edges).await;
        let _ = stop_edges.send(true);
        if let Some(web) = &webchat {
            web.stop();
        }
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

/// A listener's route: what it serves (for the logs), the socket, the router.
type Route = (&'static str, TcpListener, axum::Router);

/// Starts the Telegram channel: registers its command menus, and returns its webhook's route (in
/// webhook mode) and the task to run (the webhook's registration, or the long poll until
/// `stopped`).
async fn start_telegram(
    part: &TelegramPart,
    bot: &Bot,
    intake: &Intake,
    store: &Store,
    listener: Option<TcpListener>,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> Result<(Option<Route>, TelegramTask), AppError> {
    let TelegramPart { settings: tg, client } = part;
    tracing::info!(agents = tg.agents.len(), webhook = tg.webhook.is_some(), "starting the Telegram bot");
    let agents = telegram::Agents(tg.agents.clone());
    if let Err(e) = telegram::register_commands(client, &agents, bot.has_support()).await {
        tracing::warn!(error = %e, "could not register the command menus");
    }
    let receiver = telegram::Telegram::new(client.clone(), agents, intake.clone());
    let Some(webhook) = &tg.webhook else {
        let poll = telegram::poll(client.clone(), receiver, tg.poll_timeout, store.clone(), stopped);
        return Ok((None, Box::pin(poll)));
    };
    let listener = match listener {
        Some(listener) => listener,
        None => bind(webhook.listen).await?,
    };
    let secret = telegram::webhook::secret(webhook).map_err(|e| AppError::Telegram(Arc::new(e).into()))?;
    let router = telegram::webhook::router(receiver, webhook, secret.clone());
    // Run once the route is served: Telegram may post at once.
    let (client, webhook) = (client.clone(), webhook.clone());
    let register = async move { telegram::webhook::register(&client, &webhook, &secret).await };
    Ok((Some(("the Telegram webhook", listener, router)), Box::pin(register)))
}

/// Waits for `shutdown`, running Telegram's task meanwhile: its failure (the long poll's, or the
/// webhook's registration) stops the bot as the shutdown does; a webhook registered waits for the
/// shutdown.
async fn until_stopped(
    telegram: Option<TelegramTask>,
    webhook: bool,
    shutdown: impl Future<Output = ()>,
    stop_edges: &tokio::sync::watch::Sender<bool>,
) -> Result<(), AppError> {
    let Some(telegram) = telegram else {
        shutdown.await;
        return Ok(());
    };
    let mut telegram = tokio::spawn(telegram);
    tokio::pin!(shutdown);
    let ended = tokio::select! {
        () = &mut shutdown => {
            // The long poll stops with the edges: no update is taken in after this returns.
            let _ = stop_edges.send(true);
            return Ok(flatten(telegram.await)?);
        }
        ended = &mut telegram => flatten(ended),
    };
    if ended.is_ok() && webhook {
        shutdown.await;
    }
    Ok(ended?)
}

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
