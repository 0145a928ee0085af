//! The operator commands: argument grammar (clap) and what each command prints.
//!
//! Exit codes of `inquire` and `status` (documented in the README):
//! 0 a result; 1 configuration or start-up failure; 2 invalid input; 3 not found; 4 unauthorized;
//! 5 maintenance; 6 unavailable; 7 unreadable answer.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::channels::{telegram, terminal};
use crate::config::{self, ProviderSettings};
use crate::conversation::{Bot, Role};
use crate::domain::{Biller, CustomerReference, OrderNo};
use crate::i18n::Lang;
use crate::providers::Providers;
use crate::sandbox;
use crate::store::Store;
use crate::t;
use crate::tracking::{Tracker, callback};
use crate::upstream::error::Unavailable;
use crate::upstream::{ErrorKind, UpstreamError};
use crate::views::{self, Audience, ErrorSubject};

#[derive(Debug, Parser)]
#[command(
    name = "billbot",
    version,
    about = "Look up Senegalese bills and order statuses, by chat or from the terminal"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Look up one bill (or a Woyofal meter) and print it.
    Inquire {
        /// SENEAU_SN_BILL, SENELEC_SN_BILL or WOYOFAL_SN_BILL.
        service_code: String,
        /// The customer reference, police or meter number (spaces and dashes allowed).
        reference: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Print one order's status, operator view (merchant fields included).
    Status {
        /// The order number, with or without its "GB - " prefix.
        order_no: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Chat with the bot in the terminal (numbered buttons; scriptable through standard input).
    Demo {
        /// Language of the client: fr or en (default: the terminal's).
        #[arg(long)]
        lang: Option<Lang>,
        /// Chat as an agent (merchant fields, /history).
        #[arg(long)]
        agent: bool,
    },
    /// Run the Telegram bot (long polling; webhook mode when BILLBOT_WEBHOOK_URL is set).
    Serve,
    /// Serve both provider APIs, simulated, for trying billbot without a provider account.
    Sandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Language of the output: fr or en (default: the terminal's).
    #[arg(long)]
    pub lang: Option<Lang>,
}

/// Exit codes, one per outcome an operator script may branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failure = 1,
    Invalid = 2,
    NotFound = 3,
    Unauthorized = 4,
    Maintenance = 5,
    Unavailable = 6,
    Unreadable = 7,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

impl From<ErrorKind> for Exit {
    fn from(kind: ErrorKind) -> Exit {
        match kind {
            ErrorKind::NotFound => Exit::NotFound,
            ErrorKind::Unauthorized => Exit::Unauthorized,
            ErrorKind::Maintenance => Exit::Maintenance,
            ErrorKind::Unavailable => Exit::Unavailable,
            ErrorKind::Unreadable => Exit::Unreadable,
        }
    }
}

/// The default log filter of a command: one-shot commands keep standard error for their answer.
pub fn default_log_filter(command: &Command) -> &'static str {
    match command {
        Command::Inquire { .. } | Command::Status { .. } | Command::Demo { .. } => "off",
        Command::Sandbox { .. } | Command::Serve => "info",
    }
}

/// Runs one command to its exit code.
pub async fn run(cli: Cli) -> Exit {
    match cli.command {
        Command::Inquire { service_code, reference, output } => {
            inquire(&service_code, &reference, &output).await
        }
        Command::Status { order_no, output } => status(&order_no, &output).await,
        Command::Demo { lang, agent } => demo(lang, agent).await,
        Command::Serve => serve().await,
        Command::Sandbox { listen } => serve_sandbox(listen).await,
    }
}

/// Prints one line on standard error.
fn fail(lang: Lang, exit: Exit, message: String) -> Exit {
    let _ = writeln!(std::io::stderr(), "{}", t!(lang, "cli-error", message = message));
    exit
}

async fn connect(lang: Lang) -> Result<Providers, Exit> {
    let settings = ProviderSettings::from_env()
        .map_err(|e| fail(lang, Exit::Failure, t!(lang, "cli-config-error", detail = e.to_string())))?;
    let providers = Providers::connect(&settings)
        .await
        .map_err(|e| fail(lang, Exit::Failure, t!(lang, "cli-start-error", detail = e.to_string())))?;
    if let Some(sb) = &providers.sandbox {
        let _ =
            writeln!(std::io::stderr(), "{}", t!(lang, "cli-embedded-sandbox", addr = sb.addr().to_string()));
    }
    Ok(providers)
}

/// The operator's line for a provider failure: the customer's wording, plus what to check.
fn upstream_failure(lang: Lang, error: &UpstreamError, subject: ErrorSubject<'_>) -> Exit {
    let message = match error {
        UpstreamError::Unauthorized => t!(lang, "cli-unauthorized"),
        UpstreamError::Unavailable(why) => {
            let reason = match why {
                Unavailable::Timeout => t!(lang, "cli-reason-timeout"),
                Unavailable::Connect => t!(lang, "cli-reason-connect"),
                Unavailable::Status(code) => t!(lang, "cli-reason-http", code = code.to_string()),
                Unavailable::Transport(_) => t!(lang, "cli-reason-transport"),
            };
            t!(lang, "cli-unavailable", reason = reason)
        }
        UpstreamError::NotFound { message: Some(m) } => {
            t!(
                lang,
                "cli-with-provider-message",
                text = views::upstream_error(lang, error.kind(), subject),
                provider = m.clone()
            )
        }
        other => views::upstream_error(lang, other.kind(), subject),
    };
    fail(lang, error.kind().into(), message)
}

fn print_json<T: serde::Serialize>(value: &T) -> Exit {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            Exit::Ok
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            Exit::Failure
        }
    }
}

async fn inquire(service_code: &str, reference: &str, output: &OutputArgs) -> Exit {
    let lang = output.lang.unwrap_or_else(config::terminal_lang);
    let Ok(biller) = service_code.parse::<Biller>() else {
        return fail(lang, Exit::Invalid, t!(lang, "cli-unknown-service-code", code = service_code));
    };
    let reference = match CustomerReference::parse(biller, reference) {
        Ok(r) => r,
        Err(e) => return fail(lang, Exit::Invalid, views::reference_error(lang, biller, &e)),
    };
    let providers = match connect(lang).await {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    match providers.inquiry.inquire(&reference).await {
        Ok(result) if output.json => print_json(&result),
        Ok(result) => {
            println!("{}", views::inquiry(lang, &result));
            Exit::Ok
        }
        Err(e) => upstream_failure(lang, &e, ErrorSubject::Reference(&reference)),
    }
}

async fn status(order_no: &str, output: &OutputArgs) -> Exit {
    let lang = output.lang.unwrap_or_else(config::terminal_lang);
    let order_no = match OrderNo::parse(order_no) {
        Ok(o) => o,
        Err(e) => return fail(lang, Exit::Invalid, views::order_no_error(lang, &e)),
    };
    let providers = match connect(lang).await {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let shown = order_no.to_string();
    match providers.status.status(&order_no).await {
        Ok(order) if output.json => print_json(&order),
        Ok(order) => {
            println!("{}", views::order(lang, &order, Audience::Agent));
            Exit::Ok
        }
        Err(e) => upstream_failure(lang, &e, ErrorSubject::Order(&shown)),
    }
}

async fn demo(lang: Option<Lang>, agent: bool) -> Exit {
    let lang = lang.unwrap_or_else(config::terminal_lang);
    let providers = match connect(lang).await {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    // Without a configured directory the demo keeps its data in a temporary one, removed at exit.
    let temporary = match config::data_dir() {
        Some(_) => None,
        None => match tempfile::tempdir() {
            Ok(dir) => Some(dir),
            Err(e) => {
                return fail(lang, Exit::Failure, t!(lang, "cli-store-error", detail = e.to_string()));
            }
        },
    };
    let dir =
        config::data_dir().or_else(|| temporary.as_ref().map(|d| d.path().to_owned())).unwrap_or_default();
    let store = match Store::open(&dir) {
        Ok(s) => s,
        Err(e) => {
            return fail(lang, Exit::Failure, t!(lang, "cli-store-error", detail = e.to_string()));
        }
    };
    let tracking = match config::TrackingSettings::from_env() {
        Ok(s) => s,
        Err(e) => return fail(lang, Exit::Failure, t!(lang, "cli-config-error", detail = e.to_string())),
    };
    let notifier = Arc::new(terminal::TerminalNotifier);
    let tracker = Arc::new(Tracker::new(providers.status.clone(), store.clone(), notifier, tracking.tracker));
    let bot = Bot::with_tracker(providers.inquiry.clone(), providers.status.clone(), store, tracker.clone());
    let tracking_loop = tokio::spawn(tracker.run(std::future::pending()));
    let role = if agent { Role::Agent } else { Role::Customer };
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let ended = terminal::run(&bot, lang, role, stdin, tokio::io::stdout()).await;
    tracking_loop.abort();
    match ended {
        Ok(()) => Exit::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => fail(lang, Exit::Failure, e.to_string()),
    }
}

/// Where `serve` keeps its database when `BILLBOT_DATA_DIR` is not set.
const DEFAULT_DATA_DIR: &str = "billbot-data";

async fn serve() -> Exit {
    let lang = config::terminal_lang();
    let settings = match config::TelegramSettings::from_env() {
        Ok(s) => s,
        Err(e) => return fail(lang, Exit::Failure, t!(lang, "cli-config-error", detail = e.to_string())),
    };
    let tracking = match config::TrackingSettings::from_env() {
        Ok(s) => s,
        Err(e) => return fail(lang, Exit::Failure, t!(lang, "cli-config-error", detail = e.to_string())),
    };
    let providers = match connect(lang).await {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let dir = config::data_dir().unwrap_or_else(|| DEFAULT_DATA_DIR.into());
    let store = match Store::open(&dir) {
        Ok(s) => s,
        Err(e) => return fail(lang, Exit::Failure, t!(lang, "cli-store-error", detail = e.to_string())),
    };
    tracing::info!(data_dir = %dir.display(), agents = settings.agents.len(), webhook = settings.webhook.is_some(), "starting the Telegram bot");
    let limits = if settings.rate_limits {
        telegram::Limits::default()
    } else {
        tracing::warn!("Telegram rate limits are off: only for a local Bot API test server");
        telegram::Limits::unlimited()
    };
    let options = telegram::RunOptions::new(limits);
    let bot = telegram::bot(&settings);
    let notifier = Arc::new(telegram::TelegramNotifier::new(bot.clone(), options.pacer.clone()));
    let tracker =
        Arc::new(Tracker::new(providers.status.clone(), store.clone(), notifier, tracking.tracker.clone()));
    let core = Bot::with_tracker(providers.inquiry.clone(), providers.status.clone(), store, tracker.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    let tracking_loop = tokio::spawn(tracker.clone().run(until_stopped(stopped.clone())));
    if let Some((listen, secret)) = tracking.callback {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                let detail = e.to_string();
                return fail(
                    lang,
                    Exit::Failure,
                    t!(lang, "cli-listen-error", addr = listen.to_string(), detail = detail),
                );
            }
        };
        let app = callback::router(tracker.clone(), providers.status.clone(), secret);
        let shutdown = until_stopped(stopped.clone());
        tracing::info!(%listen, "provider callbacks enabled");
        tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(shutdown).await });
    }
    let result = telegram::run(bot, core, &settings, options, telegram::shutdown_signal()).await;
    let _ = stop.send(true);
    let _ = tracking_loop.await;
    match result {
        Ok(()) => Exit::Ok,
        Err(e) => fail(lang, Exit::Failure, t!(lang, "cli-serve-stopped", detail = e.to_string())),
    }
}

async fn serve_sandbox(listen: SocketAddr) -> Exit {
    let lang = config::terminal_lang();
    let settings = match ProviderSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            return fail(lang, Exit::Failure, t!(lang, "cli-config-error", detail = e.to_string()));
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            return fail(
                lang,
                Exit::Failure,
                t!(lang, "cli-listen-error", addr = listen.to_string(), detail = e.to_string()),
            );
        }
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| listen.to_string());
    println!(
        "{}",
        t!(
            lang,
            "cli-sandbox-ready",
            inquiry_url = format!("http://{addr}{}", sandbox::INQUIRY_PATH),
            status_url = format!("http://{addr}"),
            inquiry_key = settings.sandbox.inquiry_key.clone(),
            status_key = settings.sandbox.status_key.clone(),
            merchant_id = settings.sandbox.merchant_id.clone()
        )
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match sandbox::serve(listener, settings.sandbox, shutdown).await {
        Ok(()) => Exit::Ok,
        Err(e) => fail(lang, Exit::Failure, e.to_string()),
    }
}
