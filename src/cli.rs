//! The operator commands: argument grammar (clap) and what each command prints.
//!
//! Exit codes of `inquire` and `status` (documented in the README):
//! 0 a result; 1 configuration or start-up failure; 2 invalid input; 3 not found; 4 unauthorized;
//! 5 maintenance; 6 unavailable; 7 unreadable answer.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app;
use crate::channels::terminal;
use crate::config::{self, ConfigError, ProviderSettings};
use crate::conversation::Role;
use crate::domain::{Biller, CustomerReference, OrderNo};
use crate::i18n::Lang;
use crate::providers::Providers;
use crate::sandbox;
use crate::store::Store;
use crate::t;
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
        /// Serve the web chat instead, and print the address to open in a browser.
        #[arg(long)]
        web: bool,
        /// Address of the web chat (with --web).
        #[arg(long, default_value = "127.0.0.1:8445", requires = "web")]
        listen: std::net::SocketAddr,
    },
    /// Run the bot on every configured channel (Telegram when TELOXIDE_TOKEN is set, WhatsApp when BILLBOT_WHATSAPP_TOKEN is).
    Serve {
        /// Answer from the built-in sandbox (test data) when no provider is configured, as
        /// BILLBOT_SANDBOX=1 does; every reply then says it is test data.
        #[arg(long)]
        sandbox: bool,
    },
    /// Serve both provider APIs, simulated, for trying billbot without a provider account.
    Sandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Copy the sled store (BILLBOT_DATA_DIR) into a new directory, while the bot is stopped.
    Backup {
        /// Where the copy goes: a directory that does not exist yet, or is empty.
        dir: std::path::PathBuf,
    },
    /// Copy a sled store into PostgreSQL (idempotent: running it again changes nothing).
    MigrateStore {
        /// The sled store: sled:DIR.
        #[arg(long)]
        from: String,
        /// The PostgreSQL database: postgres://user:password@host/database (default:
        /// BILLBOT_DATABASE_URL, which other users of the machine cannot read as they can a
        /// command line).
        #[arg(long)]
        to: Option<String>,
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
        Command::Sandbox { .. } | Command::Serve { .. } => "info",
        Command::MigrateStore { .. } | Command::Backup { .. } => "warn",
    }
}

/// Runs one command to its exit code.
pub async fn run(cli: Cli) -> Exit {
    match cli.command {
        Command::Inquire { service_code, reference, output } => {
            inquire(&service_code, &reference, &output).await
        }
        Command::Status { order_no, output } => status(&order_no, &output).await,
        Command::Demo { lang, agent, web: false, .. } => demo(lang, agent).await,
        Command::Demo { lang, web: true, listen, .. } => demo_web(lang, listen).await,
        Command::Serve { sandbox } => serve(sandbox).await,
        Command::Sandbox { listen } => serve_sandbox(listen).await,
        Command::MigrateStore { from, to } => migrate_store(&from, to.as_deref()).await,
        Command::Backup { dir } => backup(&dir),
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
                // `Busy` comes from the chats' cap on calls in flight, which the CLI does not use.
                Unavailable::Transport(_) | Unavailable::Busy => t!(lang, "cli-reason-transport"),
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
            println!("{}", views::inquiry(lang, &result, Audience::Agent, chrono::Utc::now().date_naive()));
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
    let config_error =
        |e: ConfigError| fail(lang, Exit::Failure, t!(lang, "cli-config-error", detail = e.to_string()));
    let providers = match ProviderSettings::from_env() {
        Ok(s) => s,
        Err(e) => return config_error(e),
    };
    let tracking = match config::TrackingSettings::from_env() {
        Ok(s) => s,
        Err(e) => return config_error(e),
    };
    let temporary = match temporary_data_dir(lang) {
        Ok(dir) => dir,
        Err(exit) => return exit,
    };
    let data_dir =
        config::data_dir().or_else(|| temporary.as_ref().map(|d| d.path().to_owned())).unwrap_or_default();
    let database = match config::DatabaseSettings::from_env() {
        Ok(db) => db,
        Err(e) => return config_error(e),
    };
    let limits = match config::LimitSettings::from_lookup(|name| std::env::var(name).ok()) {
        Ok(limits) => limits,
        Err(e) => return config_error(e),
    };
    let settings = app::Settings {
        providers,
        tracking,
        limits,
        data_dir,
        database,
        metrics_listen: None,
        connections: Default::default(),
        telegram: None,
        whatsapp: None,
        webchat: None,
        terminal: true,
        sandbox_notice: false,
        retention: Default::default(),
        support: None,
    };
    let app = match start(lang, settings).await {
        Ok(app) => app,
        Err(exit) => return exit,
    };
    let bot = app.bot.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.run(app::Listeners::default(), async {
        let _ = stopped.await;
    }));
    let role = if agent { Role::Agent } else { Role::Customer };
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let ended = terminal::run(&bot, lang, role, stdin, tokio::io::stdout()).await;
    let _ = stop.send(());
    let _ = serving.await;
    match ended {
        Ok(()) => Exit::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
        Err(e) => fail(lang, Exit::Failure, e.to_string()),
    }
}

/// The web chat on the embedded sandbox (or the configured providers), on `listen`, until Ctrl-C.
/// Its session secret is made up for the run.
async fn demo_web(lang: Option<Lang>, listen: std::net::SocketAddr) -> Exit {
    let lang = lang.unwrap_or_else(config::terminal_lang);
    let mut secret = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut secret) {
        return fail(lang, Exit::Failure, t!(lang, "cli-start-error", detail = e.to_string()));
    }
    let secret = hex::encode(secret);
    let temporary = match temporary_data_dir(lang) {
        Ok(dir) => dir,
        Err(exit) => return exit,
    };
    let data_dir = temporary.as_ref().map(|d| d.path().to_owned());
    let lookup = |name: &str| match name {
        "BILLBOT_WEBCHAT_LISTEN" => Some(listen.to_string()),
        "BILLBOT_WEBCHAT_SECRET" => Some(secret.clone()),
        "BILLBOT_SANDBOX" => Some("1".to_owned()),
        "BILLBOT_DATA_DIR" if data_dir.is_some() => data_dir.as_ref().map(|d| d.display().to_string()),
        // The demo is the web chat alone.
        "TELOXIDE_TOKEN" | "BILLBOT_WHATSAPP_TOKEN" => None,
        _ => std::env::var(name).ok(),
    };
    let mut settings = match app::Settings::for_serve_from(lookup) {
        Ok(s) => s,
        Err(e) => return fail(lang, Exit::Failure, t!(lang, "cli-config-error", detail = e.to_string())),
    };
    // A demo: its replies are not marked as test data, as in the terminal demo.
    settings.sandbox_notice = false;
    let (app, listeners) = match start_listening(lang, settings).await {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    let addr = listeners.web.as_ref().and_then(|l| l.local_addr().ok()).unwrap_or(listen);
    let _ = writeln!(std::io::stdout(), "{}", t!(lang, "cli-demo-web-open", url = format!("http://{addr}/")));
    let _ = std::io::stdout().flush();
    let result = app.run(listeners, app::shutdown_signal()).await;
    drop(temporary);
    match result {
        Ok(()) => Exit::Ok,
        Err(e) => fail(lang, Exit::Failure, t!(lang, "cli-serve-stopped", detail = e.to_string())),
    }
}

/// Without a configured data directory a demo keeps its data in a temporary one, removed when
/// it is dropped: that one, or `None` when `BILLBOT_DATA_DIR` is set.
fn temporary_data_dir(lang: Lang) -> Result<Option<tempfile::TempDir>, Exit> {
    match config::data_dir() {
        Some(_) => Ok(None),
        None => tempfile::tempdir()
            .map(Some)
            .map_err(|e| fail(lang, Exit::Failure, t!(lang, "cli-store-error", detail = e.to_string()))),
    }
}

/// Builds the bot ([`start`]) and binds the listeners its settings name, saying which address
/// could not be taken.
async fn start_listening(lang: Lang, settings: app::Settings) -> Result<(app::App, app::Listeners), Exit> {
    let app = start(lang, settings).await?;
    let listeners = app::Listeners::bind(&app.settings).await.map_err(|e| match e {
        app::AppError::Listen { addr, source } => {
            let detail = source.to_string();
            fail(lang, Exit::Failure, t!(lang, "cli-listen-error", addr = addr.to_string(), detail = detail))
        }
        e => fail(lang, Exit::Failure, t!(lang, "cli-start-error", detail = e.to_string())),
    })?;
    Ok((app, listeners))
}

/// Builds the bot, saying so when it answers from the embedded sandbox.
async fn start(lang: Lang, settings: app::Settings) -> Result<app::App, Exit> {
    let app = app::build(settings).await.map_err(|e| match e {
        app::AppError::Store(e) => {
            fail(lang, Exit::Failure, t!(lang, "cli-store-error", detail = e.to_string()))
        }
        other => fail(lang, Exit::Failure, t!(lang, "cli-start-error", detail = other.to_string())),
    })?;
    if let Some(sb) = &app.providers.sandbox {
        let _ =
            writeln!(std::io::stderr(), "{}", t!(lang, "cli-embedded-sandbox", addr = sb.addr().to_string()));
    }
    Ok(app)
}

async fn serve(sandbox: bool) -> Exit {
    let lang = config::terminal_lang();
    let lookup = |name: &str| match name {
        "BILLBOT_SANDBOX" if sandbox => Some("1".to_owned()),
        _ => std::env::var(name).ok(),
    };
    let settings = match app::Settings::for_serve_from(lookup) {
        Ok(s) => s,
        Err(e) => return fail(lang, Exit::Failure, t!(lang, "cli-config-error", detail = e.to_string())),
    };
    match &settings.database {
        Some(_) => tracing::info!("starting, with the store in PostgreSQL"),
        None => tracing::info!(data_dir = %settings.data_dir.display(), "starting"),
    }
    let (app, listeners) = match start_listening(lang, settings).await {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    match app.run(listeners, app::shutdown_signal()).await {
        Ok(()) => Exit::Ok,
        Err(e) => fail(lang, Exit::Failure, t!(lang, "cli-serve-stopped", detail = e.to_string())),
    }
}

fn backup(target: &std::path::Path) -> Exit {
    let lang = config::terminal_lang();
    let source = config::data_dir().unwrap_or_else(|| app::DEFAULT_DATA_DIR.into());
    if target.exists() && std::fs::read_dir(target).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return fail(
            lang,
            Exit::Invalid,
            t!(lang, "cli-backup-not-empty", dir = target.display().to_string()),
        );
    }
    let store = match Store::open(&source) {
        Ok(s) => s,
        Err(e) => return fail(lang, Exit::Failure, t!(lang, "cli-store-error", detail = e.to_string())),
    };
    match store.backup(target) {
        Ok(()) => {
            let (from, to) = (source.display().to_string(), target.display().to_string());
            println!("{}", t!(lang, "cli-backup-done", from = from, to = to));
            Exit::Ok
        }
        Err(e) => fail(lang, Exit::Failure, t!(lang, "cli-store-error", detail = e.to_string())),
    }
}

/// Copies the sled store `from` into the PostgreSQL database `to`, or, without `to`, the one
/// `BILLBOT_DATABASE_URL` names (with `BILLBOT_DATABASE_POOL`): the environment keeps the password
/// off the command line, which every user of the machine can read.
async fn migrate_store(from: &str, to: Option<&str>) -> Exit {
    let lang = config::terminal_lang();
    let Some(dir) = from.strip_prefix("sled:").filter(|d| !d.is_empty()) else {
        return fail(lang, Exit::Invalid, t!(lang, "cli-migrate-from"));
    };
    let target = match to {
        Some(to) => {
            let target = config::DatabaseSettings::from_lookup(|name| match name {
                "BILLBOT_DATABASE_URL" => Some(to.to_owned()),
                _ => std::env::var(name).ok(),
            });
            if reqwest::Url::parse(to).is_ok_and(|url| url.password().is_some()) {
                let _ = writeln!(std::io::stderr(), "{}", t!(lang, "cli-migrate-password-visible"));
            }
            target
        }
        None => config::DatabaseSettings::from_env(),
    };
    let target = match target {
        Ok(Some(db)) => db,
        Ok(None) => return fail(lang, Exit::Invalid, t!(lang, "cli-migrate-to-missing")),
        Err(ConfigError::Invalid { var: "BILLBOT_DATABASE_URL", .. }) => {
            return fail(lang, Exit::Invalid, t!(lang, "cli-migrate-to"));
        }
        Err(e) => return fail(lang, Exit::Failure, t!(lang, "cli-config-error", detail = e.to_string())),
    };
    let source = match Store::open(std::path::Path::new(dir)) {
        Ok(s) => s,
        Err(e) => return fail(lang, Exit::Failure, t!(lang, "cli-store-error", detail = e.to_string())),
    };
    let records = match source.dump() {
        Ok(r) => r,
        Err(e) => return fail(lang, Exit::Failure, t!(lang, "cli-store-error", detail = e.to_string())),
    };
    let store = match Store::connect(secrecy::ExposeSecret::expose_secret(&target.url), &target.pool).await {
        Ok(s) => s,
        Err(e) => return fail(lang, Exit::Failure, t!(lang, "cli-store-error", detail = e.to_string())),
    };
    // In slices: one transaction each, so that a huge store does not hold one open for long.
    for slice in records.chunks(1_000) {
        if let Err(e) = store.load(slice).await {
            return fail(lang, Exit::Failure, t!(lang, "cli-store-error", detail = e.to_string()));
        }
    }
    let mut counts: Vec<(&str, u64)> = Vec::new();
    for record in &records {
        match counts.iter_mut().find(|(kind, _)| *kind == record.kind()) {
            Some((_, n)) => *n += 1,
            None => counts.push((record.kind(), 1)),
        }
    }
    for (kind, n) in &counts {
        let kind = t!(lang, &format!("cli-migrate-kind-{kind}"));
        println!("{}", t!(lang, "cli-migrate-count", kind = kind, count = *n));
    }
    println!("{}", t!(lang, "cli-migrate-done", count = records.len() as u64));
    if source.skipped_records() > 0 {
        println!("{}", t!(lang, "cli-migrate-skipped", count = source.skipped_records()));
    }
    Exit::Ok
}

async fn serve_sandbox(listen: SocketAddr) -> Exit {
    let lang = config::terminal_lang();
    let settings = match ProviderSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            return fail(lang, Exit::Failure, t!(lang, "cli-config-error", detail = e.to_string()));
        }
    };
    let listener = match crate::http::bind(listen).await {
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

/// The command line's grammar with its help in `lang`: every description comes from
/// `locales/<lang>/cli.ftl` (`cli-about[-<command>]`, `cli-arg[-<command>]-<argument>`), and so
/// do the help's headings. clap's own error messages stay in English (clap has no translations).
pub fn localized(lang: Lang) -> clap::Command {
    use clap::CommandFactory;
    let mut command = Cli::command();
    command.build();
    localize(command, lang, "")
}

/// The messages `localized` looks up for `command` (whose path is `path`, `""` at the top):
/// its about, and each argument's help. `help` and `version` are worded once for all commands.
pub fn help_messages(command: &clap::Command, path: &str) -> (String, Vec<(String, String)>) {
    // `billbot help` lists the commands again: they say what the commands themselves say.
    let path = path.strip_prefix("-help").filter(|p| !p.is_empty()).unwrap_or(path);
    let about = format!("cli-about{path}");
    let args = command
        .get_arguments()
        .map(|a| {
            let id = a.get_id().to_string();
            let message = match id.as_str() {
                "help" | "version" => format!("cli-arg-{id}"),
                _ => format!("cli-arg{path}-{id}"),
            };
            (id, message)
        })
        .collect();
    (about, args)
}

fn localize(mut command: clap::Command, lang: Lang, path: &str) -> clap::Command {
    let (about, args) = help_messages(&command, path);
    command = command
        .about(t!(lang, &about))
        .help_template(t!(lang, "cli-help-template"))
        .subcommand_help_heading(t!(lang, "cli-heading-commands"))
        .subcommand_value_name(t!(lang, "cli-value-command"));
    for (order, (id, message)) in args.into_iter().enumerate() {
        command = command.mut_arg(id.as_str(), |arg| {
            let heading = if arg.is_positional() { "cli-heading-arguments" } else { "cli-heading-options" };
            arg.help(t!(lang, &message)).help_heading(t!(lang, heading)).display_order(order)
        });
    }
    let names: Vec<String> = command.get_subcommands().map(|c| c.get_name().to_owned()).collect();
    for name in names {
        let sub_path = format!("{path}-{name}");
        command = command.mut_subcommand(name.as_str(), |sub| localize(sub, lang, &sub_path));
    }
    command
}
