//! The Telegram channel (`billbot serve`): teloxide's dispatcher routes messages and button
//! presses into the conversation core and sends the replies back.
//!
//! - One schema ([`schema`]) holds the routing: messages (commands and text alike, since the core
//!   reads commands itself) and callback queries.
//! - The dispatcher handles one chat's updates in order and different chats concurrently, so a
//!   slow provider call in one chat never delays another.
//! - Requests go through teloxide's `Throttle` adaptor: Telegram's rate limits are respected and
//!   a 429 with `retry_after` is waited out and retried, not dropped.
//! - The role comes from the verified sender id (`BILLBOT_AGENTS`), never from message text.
//! - Replies are HTML with every dynamic value escaped ([`render`]).

pub mod render;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use teloxide::adaptors::Throttle;
use teloxide::adaptors::throttle::{Limits, Settings as ThrottleSettings};
use teloxide::dispatching::{Dispatcher, UpdateFilterExt, UpdateHandler};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::payloads::{EditMessageTextSetters, SendMessageSetters, SetMyCommandsSetters};
use teloxide::prelude::{Requester, dptree};
use teloxide::types::{
    BotCommand, BotCommandScope, CallbackQuery, ChatId, Message, MessageId, ParseMode, Recipient, Update,
    User,
};
use teloxide::update_listeners::{Polling, webhooks};

use crate::config::TelegramSettings;
use crate::conversation::{Bot, ChatKey, Incoming, Input, Reply, Role};
use crate::i18n::Lang;
use crate::t;

/// The Bot API client billbot uses: teloxide's, throttled.
pub type TgBot = Throttle<teloxide::Bot>;

type HandlerResult = Result<(), teloxide::RequestError>;

/// Who the agents are, by Telegram user id.
#[derive(Debug, Clone, Default)]
pub struct Agents(pub HashSet<u64>);

impl Agents {
    fn role(&self, user: &User) -> Role {
        if self.0.contains(&user.id.0) { Role::Agent } else { Role::Customer }
    }
}

/// How the bot receives updates and how fast it may send.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Telegram's own limits by default; tests and benchmarks against a local Bot API raise them.
    pub limits: Limits,
    /// How long one `getUpdates` long poll waits for updates.
    pub poll_timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { limits: Limits::default(), poll_timeout: Duration::from_secs(25) }
    }
}

/// The Bot API client for `settings`, throttled to `limits`.
pub fn bot(settings: &TelegramSettings, limits: Limits) -> TgBot {
    let mut bot = teloxide::Bot::new(settings.token.expose_secret());
    if let Some(url) = &settings.api_url {
        bot = bot.set_api_url(url.clone());
    }
    Throttle::spawn_with_settings(bot, ThrottleSettings::default().limits(limits))
}

/// The routing tree: every update goes to the conversation core.
pub fn schema() -> UpdateHandler<teloxide::RequestError> {
    dptree::entry()
        .branch(Update::filter_message().endpoint(on_message))
        .branch(Update::filter_callback_query().endpoint(on_callback))
}

fn incoming(chat: ChatId, user: &User, agents: &Agents, input: Input) -> Incoming {
    Incoming {
        chat: ChatKey::new("tg", chat.0),
        lang_code: user.language_code.clone(),
        role: agents.role(user),
        input,
    }
}

/// A message: commands and text go to the core as typed; anything without text (a sticker, a
/// photo) goes as empty text, which the core answers with the menu rather than silence.
async fn on_message(bot: TgBot, msg: Message, core: Bot, agents: Arc<Agents>) -> HandlerResult {
    let Some(user) = msg.from.as_ref() else {
        return Ok(()); // channel posts have no sender and are not for us
    };
    let text = msg.text().or(msg.caption()).unwrap_or_default();
    let replies = core.handle(incoming(msg.chat.id, user, &agents, Input::from_text(text))).await;
    deliver(&bot, msg.chat.id, None, &replies).await
}

/// A button press: always answered (it stops the client's spinner), then handled like a message.
async fn on_callback(bot: TgBot, query: CallbackQuery, core: Bot, agents: Arc<Agents>) -> HandlerResult {
    if let Err(e) = bot.answer_callback_query(query.id.clone()).await {
        tracing::warn!(error = %e, "could not answer a callback query");
    }
    let Some(message) = query.regular_message() else {
        return Ok(()); // inline-mode messages: billbot sends none
    };
    let chat = message.chat.id;
    let input = Input::Button(query.data.clone().unwrap_or_default());
    let replies = core.handle(incoming(chat, &query.from, &agents, input)).await;
    deliver(&bot, chat, Some(message.id), &replies).await
}

/// Sends replies in order. The first may replace the message whose button was pressed; if that
/// edit fails (too old, unchanged), it is sent as a new message instead.
async fn deliver(bot: &TgBot, chat: ChatId, pressed: Option<MessageId>, replies: &[Reply]) -> HandlerResult {
    for (index, reply) in replies.iter().enumerate() {
        let pieces = render::messages(reply);
        let markup = render::keyboard(reply);
        let last = pieces.len() - 1;
        if let (0, Some(message_id), true, 0) = (index, pressed, reply.edit_in_place, last) {
            let mut edit =
                bot.edit_message_text(chat, message_id, pieces[0].clone()).parse_mode(ParseMode::Html);
            if let Some(markup) = markup.clone() {
                edit = edit.reply_markup(markup);
            }
            match edit.await {
                Ok(_) => continue,
                Err(e) => tracing::info!(error = %e, "edit in place failed; sending a new message"),
            }
        }
        for (i, piece) in pieces.into_iter().enumerate() {
            let mut send = bot.send_message(chat, piece).parse_mode(ParseMode::Html);
            if i == last
                && let Some(markup) = markup.clone()
            {
                send = send.reply_markup(markup);
            }
            send.await?;
        }
    }
    Ok(())
}

fn commands(lang: Lang, agent: bool) -> Vec<BotCommand> {
    let mut names = vec!["start", "bill", "status", "orders", "lang", "cancel", "help"];
    if agent {
        names.push("history");
    }
    names.into_iter().map(|name| BotCommand::new(name, t!(lang, &format!("command-{name}")))).collect()
}

/// Registers the command menus: English by default, French for French clients, and the agents'
/// own (with /history) in each agent's private chat.
pub async fn register_commands(bot: &TgBot, agents: &Agents) -> Result<(), teloxide::RequestError> {
    bot.set_my_commands(commands(Lang::En, false)).await?;
    bot.set_my_commands(commands(Lang::Fr, false)).language_code("fr").await?;
    for agent in &agents.0 {
        let scope = BotCommandScope::Chat { chat_id: Recipient::Id(ChatId(*agent as i64)) };
        bot.set_my_commands(commands(Lang::En, true)).scope(scope.clone()).await?;
        bot.set_my_commands(commands(Lang::Fr, true)).scope(scope).language_code("fr").await?;
    }
    Ok(())
}

/// Runs the bot until `shutdown` completes, then flushes the store.
pub async fn run(
    bot: TgBot,
    core: Bot,
    settings: &TelegramSettings,
    options: RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), teloxide::RequestError> {
    let agents = Arc::new(Agents(settings.agents.clone()));
    if let Err(e) = register_commands(&bot, &agents).await {
        tracing::warn!(error = %e, "could not register the command menus");
    }
    let mut dispatcher = Dispatcher::builder(bot.clone(), schema())
        .dependencies(dptree::deps![core.clone(), agents])
        .default_handler(|update| async move { tracing::debug!(id = update.id.0, "update ignored") })
        .build();
    let token = dispatcher.shutdown_token();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing the updates in hand");
        // Fails only if the dispatcher is not running (it already stopped).
        if let Ok(done) = token.shutdown() {
            done.await;
        }
    });
    let listener_errors = LoggingErrorHandler::with_custom_text("update listener error");
    let result = match &settings.webhook {
        None => {
            let listener =
                Polling::builder(bot.clone()).timeout(options.poll_timeout).delete_webhook().await.build();
            dispatcher.try_dispatch_with_listener(listener, listener_errors).await
        }
        Some(webhook) => {
            let mut opts = webhooks::Options::new(webhook.listen, webhook.url.clone());
            if let Some(secret) = &webhook.secret {
                opts = opts.secret_token(secret.expose_secret().to_owned());
            }
            let listener = webhooks::axum(bot.clone(), opts).await?;
            dispatcher.try_dispatch_with_listener(listener, listener_errors).await
        }
    };
    if let Err(e) = core.store().flush().await {
        tracing::error!(error = %e, "the store could not be flushed at shutdown");
    }
    result
}

/// Completes on Ctrl-C or SIGTERM.
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
