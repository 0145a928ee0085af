//! The Telegram channel (`billbot serve`): teloxide's dispatcher routes messages and button
//! presses into the conversation core and sends the replies back.
//!
//! - One schema ([`schema`]) holds the routing: messages (commands and text alike, since the core
//!   reads commands itself) and callback queries.
//! - One chat's updates are handled in order and different chats concurrently, so a slow
//!   provider call in one chat never delays another: the dispatcher's handlers only queue the
//!   work in per-chat queues ([`ChatQueues`]), which run it.
//! - Every message waits for Telegram's rate limits ([`pace`]); a 429 with `retry_after` is
//!   waited out and the message sent again, not dropped.
//! - The role comes from the verified sender id (`BILLBOT_AGENTS`), never from message text.
//! - Replies are HTML with every dynamic value escaped ([`render`]).

pub mod pace;
pub mod render;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use teloxide::dispatching::{Dispatcher, UpdateFilterExt, UpdateHandler};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::payloads::{EditMessageTextSetters, SendMessageSetters, SetMyCommandsSetters};
use teloxide::prelude::{Request, Requester, dptree};
use teloxide::types::{
    BotCommand, BotCommandScope, CallbackQuery, ChatId, Message, MessageId, MessageKind, ParseMode,
    Recipient, Update, User,
};
use teloxide::update_listeners::{Polling, webhooks};

use super::ChatQueues;
use crate::config::TelegramSettings;
use crate::conversation::{Bot, ChatKey, Incoming, Input, Reply, Role, notices};
use crate::i18n::Lang;
use crate::t;
use crate::tracking::{Delivery, Notice, Notifier};

pub use pace::{Limits, Pacer};

/// Telegram's chat ids key its work queues.
pub type TelegramQueues = ChatQueues<i64>;

/// The Bot API client billbot uses.
pub type TgBot = teloxide::Bot;

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
#[derive(Clone)]
pub struct RunOptions {
    /// Paces every message, replies and notifications alike: Telegram's own limits by default;
    /// tests and benchmarks against a local Bot API lift them.
    pub pacer: Arc<Pacer>,
    /// How long one `getUpdates` long poll waits for updates. It must stay under teloxide's HTTP
    /// client timeout (17 s), or every idle poll would end in a timeout error.
    pub poll_timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions::new(Limits::default())
    }
}

impl RunOptions {
    pub fn new(limits: Limits) -> RunOptions {
        RunOptions { pacer: Arc::new(Pacer::new(limits)), poll_timeout: Duration::from_secs(10) }
    }
}

/// Delivers the tracker's notifications to Telegram chats (`tg:<chat id>`), paced like replies.
pub struct TelegramNotifier {
    bot: TgBot,
    pacer: Arc<Pacer>,
}

impl TelegramNotifier {
    pub fn new(bot: TgBot, pacer: Arc<Pacer>) -> TelegramNotifier {
        TelegramNotifier { bot, pacer }
    }
}

impl Notifier for TelegramNotifier {
    fn notify<'a>(
        &'a self,
        chat: &'a ChatKey,
        lang: Lang,
        notice: &'a Notice,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Delivery, String>> + Send + 'a>> {
        Box::pin(async move {
            let id = chat.telegram_id().ok_or_else(|| format!("{chat} is not a Telegram chat"))?;
            let replies = [notices::reply(lang, notice)];
            deliver(&self.bot, &self.pacer, ChatId(id), None, &replies).await.map_err(|e| e.to_string())?;
            Ok(Delivery::Sent)
        })
    }
}

/// The Bot API client for `settings`.
pub fn bot(settings: &TelegramSettings) -> TgBot {
    let bot = teloxide::Bot::new(settings.token.expose_secret());
    match &settings.api_url {
        Some(url) => bot.set_api_url(url.clone()),
        None => bot,
    }
}

/// The routing tree: every update goes to the conversation core.
pub fn schema() -> UpdateHandler<teloxide::RequestError> {
    dptree::entry()
        .branch(Update::filter_message().endpoint(on_message))
        .branch(Update::filter_callback_query().endpoint(on_callback))
}

/// What the handlers of [`schema`] take besides the update and the Bot API client.
pub fn dependencies(
    core: Bot,
    agents: Arc<Agents>,
    pacer: Arc<Pacer>,
    queues: TelegramQueues,
) -> teloxide::dptree::di::DependencyMap {
    dptree::deps![core, agents, pacer, queues]
}

/// The update's id in the store's dedupe: a webhook update redelivered to any instance is handled
/// once.
fn update_key(update: &Update) -> String {
    format!("tg:update:{}", update.id.0)
}

fn incoming(chat: ChatId, user: &User, agents: &Agents, input: Input) -> Incoming {
    let mut incoming = Incoming::new(ChatKey::telegram(chat.0), input).role(agents.role(user));
    incoming.lang_code = user.language_code.clone();
    incoming
}

/// A message: commands and text go to the core as typed; anything without text (a sticker, a
/// photo) goes as empty text, which the core answers with the menu rather than silence. The work
/// is queued behind the chat's earlier updates ([`ChatQueues`]); the handler returns at once.
#[tracing::instrument(name = "update", skip_all)]
async fn on_message(
    bot: TgBot,
    update: Update,
    msg: Message,
    core: Bot,
    agents: Arc<Agents>,
    pacer: Arc<Pacer>,
    queues: TelegramQueues,
) -> HandlerResult {
    let Some(user) = msg.from.as_ref() else {
        return Ok(()); // channel posts have no sender and are not for us
    };
    if !matches!(msg.kind, MessageKind::Common(_) | MessageKind::Dice(_)) {
        // Service messages (a member joined, a title changed, a pin…) are not addressed to the bot.
        return Ok(());
    }
    let text = msg.text().or(msg.caption()).unwrap_or_default();
    let chat = msg.chat.id;
    let mut incoming = incoming(chat, user, &agents, Input::from_text(text));
    incoming.sent_at = Some(msg.date);
    incoming.update_id = Some(update_key(&update));
    queue_turn(&queues, bot, core, pacer, chat, None, incoming);
    Ok(())
}

/// A button press: answered at once (that stops the client's spinner), then queued like a
/// message.
#[tracing::instrument(name = "update", skip_all)]
async fn on_callback(
    bot: TgBot,
    update: Update,
    query: CallbackQuery,
    core: Bot,
    agents: Arc<Agents>,
    pacer: Arc<Pacer>,
    queues: TelegramQueues,
) -> HandlerResult {
    let answer = {
        let bot = bot.clone();
        let id = query.id.clone();
        async move {
            if let Err(e) = bot.answer_callback_query(id).await {
                tracing::warn!(error = %e, "could not answer a callback query");
            }
        }
    };
    queues.spawn(answer);
    let Some(message) = query.message.as_ref() else {
        return Ok(()); // inline-mode messages: billbot sends none
    };
    let chat = message.chat().id;
    // A message over 48 hours old reaches bots as "inaccessible": it cannot be edited, so the
    // answer comes as a new message.
    let pressed = message.regular_message().map(|m| m.id);
    let mut incoming =
        incoming(chat, &query.from, &agents, Input::Button(query.data.clone().unwrap_or_default()));
    incoming.update_id = Some(update_key(&update));
    queue_turn(&queues, bot, core, pacer, chat, pressed, incoming);
    Ok(())
}

/// Queues one turn of the chat: the core handles `incoming`, then the replies are delivered
/// (a failure is logged: the user has been answered as far as Telegram allowed).
fn queue_turn(
    queues: &TelegramQueues,
    bot: TgBot,
    core: Bot,
    pacer: Arc<Pacer>,
    chat: ChatId,
    pressed: Option<MessageId>,
    incoming: Incoming,
) {
    queues.push(chat.0, async move {
        let replies = core.handle(incoming).await;
        if let Err(e) = deliver(&bot, &pacer, chat, pressed, &replies).await {
            tracing::warn!(chat = chat.0, error = %e, "a reply could not be delivered");
        }
    });
}

/// Sends replies in order, each message paced. The first reply may replace the message whose
/// button was pressed; if that edit fails (too old, unchanged), it is sent as a new message.
async fn deliver(
    bot: &TgBot,
    pacer: &Pacer,
    chat: ChatId,
    pressed: Option<MessageId>,
    replies: &[Reply],
) -> HandlerResult {
    for (index, reply) in replies.iter().enumerate() {
        let pieces = render::messages(reply);
        let markup = render::keyboard(reply);
        let last = pieces.len() - 1;
        if let (0, Some(message_id), true, 0) = (index, pressed, reply.edit_in_place, last) {
            let edited = pacer
                .send(chat, || {
                    let edit = bot
                        .edit_message_text(chat, message_id, pieces[0].clone())
                        .parse_mode(ParseMode::Html);
                    match markup.clone() {
                        Some(markup) => edit.reply_markup(markup).send(),
                        None => edit.send(),
                    }
                })
                .await;
            match edited {
                Ok(_) => {
                    metrics::counter!("billbot_messages_sent_total", "channel" => "tg").increment(1);
                    continue;
                }
                Err(e) => tracing::info!(error = %e, "edit in place failed; sending a new message"),
            }
        }
        for (i, piece) in pieces.iter().enumerate() {
            pacer
                .send(chat, || {
                    let send = bot.send_message(chat, piece.clone()).parse_mode(ParseMode::Html);
                    match markup.clone().filter(|_| i == last) {
                        Some(markup) => send.reply_markup(markup).send(),
                        None => send.send(),
                    }
                })
                .await
                .inspect_err(|_| {
                    metrics::counter!("billbot_messages_rejected_total", "channel" => "tg").increment(1)
                })?;
            metrics::counter!("billbot_messages_sent_total", "channel" => "tg").increment(1);
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
    let pacer = options.pacer.clone();
    let queues = TelegramQueues::new();
    let forgetting = {
        let pacer = pacer.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                pacer.forget_idle();
            }
        })
    };
    if let Err(e) = register_commands(&bot, &agents).await {
        tracing::warn!(error = %e, "could not register the command menus");
    }
    let mut dispatcher = Dispatcher::builder(bot.clone(), schema())
        .dependencies(dependencies(core.clone(), agents, pacer, queues.clone()))
        .default_handler(|update| async move { tracing::debug!(id = update.id.0, "update ignored") })
        .build();
    let token = dispatcher.shutdown_token();
    let stopping = tokio_util::sync::CancellationToken::new();
    let stop = stopping.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop.cancel();
        tracing::info!("shutting down: finishing the updates in hand");
        // Fails only if the dispatcher is not running (it already stopped).
        if let Ok(done) = token.shutdown() {
            done.await;
        }
    });
    let listener_errors = LoggingErrorHandler::with_custom_text("update listener error");
    let result = match &settings.webhook {
        None => {
            // Telegram has one `getUpdates` consumer per bot: with several instances on one
            // database, one polls and the others wait to take over (webhook mode is the mode for
            // several instances).
            let Some(_poller) = poller(core.store(), &stopping).await else {
                queues.finish().await;
                forgetting.abort();
                return Ok(());
            };
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
    // The dispatcher has stopped taking updates: let the ones in hand finish.
    queues.finish().await;
    forgetting.abort();
    result
}

/// Waits until this instance is the one to poll Telegram (at once, with one instance), or until
/// `stopping`.
async fn poller(
    store: &crate::store::Store,
    stopping: &tokio_util::sync::CancellationToken,
) -> Option<crate::store::Exclusive> {
    let mut said = false;
    loop {
        match store.exclusive("telegram-polling").await {
            Ok(Some(poller)) => {
                if said {
                    tracing::info!("this instance now polls Telegram");
                }
                return (!stopping.is_cancelled()).then_some(poller);
            }
            Ok(None) if !said => {
                tracing::warn!(
                    "another instance polls Telegram: this one waits to take over (use webhook mode for several instances)"
                );
                said = true;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "could not tell whether another instance polls Telegram"),
        }
        tokio::select! {
            () = stopping.cancelled() => return None,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
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
