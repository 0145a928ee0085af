//! The Telegram channel (`billbot serve`): updates come by long polling (teloxide's dispatcher)
//! or by webhook ([`webhook`]); each is read into an [`Inbound`] and given to the one intake
//! ([`crate::channels::intake`]), which stores, orders and queues it; the replies come back
//! through [`TelegramEdge`].
//!
//! - Every message waits for Telegram's rate limits ([`pace`]); a 429 with `retry_after` is
//!   waited out and the message sent again, not dropped.
//! - The role comes from the verified sender id (`BILLBOT_AGENTS`), never from message text.
//! - Replies are HTML with every dynamic value escaped ([`render`]).
//! - Every button press is answered (`answerCallbackQuery`), even one the bot cannot place (from
//!   an inline-mode message, which has no chat).

pub mod pace;
pub mod render;
pub mod webhook;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use teloxide::dispatching::{Dispatcher, UpdateHandler};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::payloads::{EditMessageTextSetters, SendMessageSetters, SetMyCommandsSetters};
use teloxide::prelude::{Request, Requester, dptree};
use teloxide::types::{
    BotCommand, BotCommandScope, CallbackQueryId, ChatId, MessageId, MessageKind, ParseMode, Recipient,
    Update, UpdateKind, User,
};
use teloxide::update_listeners::Polling;

use super::intake::{Doing, Edge, Inbound, Intake};
use crate::config::TelegramSettings;
use crate::conversation::{ChatKey, Input, PayloadKeys, Reply, Role, Turn, notices};
use crate::i18n::Lang;
use crate::outbox::{Delivery, Notice, Notifier, SendError, Sending};
use crate::store::StoreError;
use crate::t;

pub use pace::{Limits, Pacer};

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

/// The Bot API client for `settings`.
pub fn bot(settings: &TelegramSettings) -> TgBot {
    let bot = teloxide::Bot::new(settings.token.expose_secret());
    match &settings.api_url {
        Some(url) => bot.set_api_url(url.clone()),
        None => bot,
    }
}

/// The prefix of Telegram's updates in the inbox.
pub const INBOX_PREFIX: &str = "tg:update:";

/// What Telegram needs to answer a message, kept with it in the inbox.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The message whose button was pressed (a reply may replace it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressed: Option<i32>,
    /// The button press to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
}

impl Context {
    fn of(inbound: &Inbound) -> Context {
        serde_json::from_value(inbound.context.clone()).unwrap_or_default()
    }
}

/// What an update is to the bot.
#[derive(Debug, Clone)]
pub enum Read {
    /// A message or a button press to answer.
    Message(Box<Inbound>),
    /// A button press the bot cannot place (an inline-mode message has no chat): only answered.
    AnswerOnly(CallbackQueryId),
    /// Gets no answer: channel posts (no sender), service messages (a member joined, a pin…),
    /// inline queries.
    Ignored,
}

/// The bot's own Telegram user id: the number before the colon of its token (`123456:ABC…`), as
/// Telegram issues them. `None` for a token not written so.
pub fn bot_id(token: &str) -> Option<u64> {
    token.split_once(':').and_then(|(id, _)| id.parse().ok())
}

/// What an update asks, for `agents`, read by the bot whose user id is `bot_id` (see [`bot_id`]).
/// A message without text (a sticker, a photo) goes as empty text, which the core answers with
/// the menu rather than silence. A reply carries the message it answers only when that message is
/// this bot's own: another bot's, or a member's, could be written to look like a ticket.
pub fn read(agents: &Agents, bot_id: Option<u64>, update: &Update) -> Read {
    let update_id = update.id.0;
    let id = format!("{INBOX_PREFIX}{update_id}");
    match &update.kind {
        UpdateKind::Message(msg) => {
            let Some(user) = msg.from.as_ref() else { return Read::Ignored };
            if !matches!(msg.kind, MessageKind::Common(_) | MessageKind::Dice(_)) {
                return Read::Ignored;
            }
            let text = msg.text().or(msg.caption()).unwrap_or_default();
            let reply_to = msg
                .reply_to_message()
                .filter(|replied| replied.from.as_ref().is_some_and(|u| u.is_bot && Some(u.id.0) == bot_id))
                .and_then(|replied| replied.text())
                .map(str::to_owned);
            let mut inbound = Inbound::new(
                id,
                ChatKey::telegram(msg.chat.id.0),
                i64::from(update_id),
                Input::from_text(text),
            );
            inbound.lang_code = user.language_code.clone();
            // Merchant figures and the history never go to a group, whoever asks there.
            inbound.agent = msg.chat.is_private() && agents.role(user) == Role::Agent;
            inbound.sent_at = Some(msg.date);
            inbound.sender = Some(user.first_name.clone());
            inbound.sender_id = Some(user.id.0.to_string());
            // With the words as typed: in the support chat an answer is what it says, not a
            // keyword ("Bonjour, …" is not a hello there).
            if reply_to.is_some() {
                inbound.reply_to = reply_to;
                inbound.typed = Some(text.to_owned());
            }
            Read::Message(Box::new(inbound))
        }
        UpdateKind::CallbackQuery(query) => {
            let Some(message) = query.message.as_ref() else {
                return Read::AnswerOnly(query.id.clone());
            };
            let chat = message.chat();
            let input = Input::Button(query.data.clone().unwrap_or_default());
            let mut inbound = Inbound::new(id, ChatKey::telegram(chat.id.0), i64::from(update_id), input);
            inbound.lang_code = query.from.language_code.clone();
            inbound.agent = chat.is_private() && agents.role(&query.from) == Role::Agent;
            inbound.sender = Some(query.from.first_name.clone());
            inbound.sender_id = Some(query.from.id.0.to_string());
            let context = Context {
                // A message over 48 hours old reaches bots as "inaccessible": it cannot be
                // edited, so the answer comes as a new message.
                pressed: message.regular_message().map(|m| m.id.0),
                callback: Some(query.id.0.clone()),
            };
            inbound.context = serde_json::to_value(context).unwrap_or_default();
            Read::Message(Box::new(inbound))
        }
        _ => Read::Ignored,
    }
}

/// Telegram's receiving side, shared by the long poll's handler and the webhook. Cheap to clone.
#[derive(Clone)]
pub struct Telegram {
    inner: Arc<TelegramInner>,
}

struct TelegramInner {
    bot: TgBot,
    agents: Agents,
    intake: Intake,
    /// The bot's own user id, read once from its token.
    bot_id: Option<u64>,
}

impl Telegram {
    pub fn new(bot: TgBot, agents: Agents, intake: Intake) -> Telegram {
        let bot_id = self::bot_id(bot.token());
        if bot_id.is_none() {
            tracing::warn!(
                "the bot token does not start with the bot's id: replies to its messages are not read"
            );
        }
        Telegram { inner: Arc::new(TelegramInner { bot, agents, intake, bot_id }) }
    }

    /// Hands an update to the intake. Returns once it is durable, so that Telegram may be told.
    pub async fn take_in(&self, update: Update) -> Result<(), StoreError> {
        match read(&self.inner.agents, self.inner.bot_id, &update) {
            Read::Message(inbound) => {
                self.inner.intake.take_in(*inbound).await?;
            }
            Read::AnswerOnly(id) => {
                tracing::debug!(update = update.id.0, "a button press the bot cannot place: answered only");
                let bot = self.inner.bot.clone();
                tokio::spawn(async move { answer_callback(&bot, id).await });
            }
            Read::Ignored => tracing::debug!(update = update.id.0, "update ignored"),
        }
        Ok(())
    }
}

async fn answer_callback(bot: &TgBot, id: CallbackQueryId) {
    if let Err(e) = bot.answer_callback_query(id).await {
        tracing::warn!(error = %e, "could not answer a callback query");
    }
}

/// Telegram's sending side: replies and notices, paced.
pub struct TelegramEdge {
    bot: TgBot,
    pacer: Arc<Pacer>,
    /// Signs the buttons of notices (the turn's replies come signed from the core).
    payloads: PayloadKeys,
}

impl TelegramEdge {
    pub fn new(bot: TgBot, pacer: Arc<Pacer>, payloads: PayloadKeys) -> TelegramEdge {
        TelegramEdge { bot, pacer, payloads }
    }
}

fn telegram_chat(chat: &ChatKey) -> Result<ChatId, SendError> {
    chat.telegram_id().map(ChatId).ok_or_else(|| SendError::WrongChannel(chat.clone()))
}

impl Edge for TelegramEdge {
    fn deliver<'a>(&'a self, inbound: &'a Inbound, turn: &'a Turn) -> Sending<'a, ()> {
        Box::pin(async move {
            let chat = telegram_chat(&inbound.chat)?;
            let pressed = Context::of(inbound).pressed.map(MessageId);
            deliver(&self.bot, &self.pacer, chat, pressed, &turn.replies).await?;
            Ok(())
        })
    }

    fn acknowledge<'a>(&'a self, inbound: &'a Inbound) -> Doing<'a> {
        Box::pin(async move {
            // Stops the client's spinner; the answer itself comes as a message.
            if let Some(id) = Context::of(inbound).callback {
                answer_callback(&self.bot, CallbackQueryId(id)).await;
            }
        })
    }

    fn forget_idle(&self) {
        self.pacer.forget_idle();
    }
}

impl Notifier for TelegramEdge {
    fn notify<'a>(&'a self, chat: &'a ChatKey, lang: Lang, notice: &'a Notice) -> Sending<'a, Delivery> {
        Box::pin(async move {
            let id = telegram_chat(chat)?;
            let replies = [notices::sealed(&self.payloads, chat, lang, notice).await?];
            deliver(&self.bot, &self.pacer, id, None, &replies).await?;
            Ok(Delivery::Sent)
        })
    }
}

/// The routing tree: every update goes to [`Telegram::take_in`], which reads what it needs.
pub fn schema() -> UpdateHandler<teloxide::RequestError> {
    dptree::entry().endpoint(on_update)
}

/// What the handler of [`schema`] takes besides the update.
pub fn dependencies(telegram: Telegram) -> teloxide::dptree::di::DependencyMap {
    dptree::deps![telegram]
}

#[tracing::instrument(name = "update", skip_all)]
async fn on_update(update: Update, telegram: Telegram) -> HandlerResult {
    if let Err(e) = telegram.take_in(update).await {
        // Not acknowledged to Telegram's long poll either: the update comes again.
        tracing::error!(error = %e, "an update could not be recorded");
    }
    Ok(())
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

fn commands(lang: Lang, agent: bool, support: bool) -> Vec<BotCommand> {
    let mut names = vec!["start", "bill", "status", "orders", "reminders", "lang", "cancel", "help"];
    if support {
        names.insert(5, "support");
    }
    if agent {
        names.push("history");
    }
    names.into_iter().map(|name| BotCommand::new(name, t!(lang, &format!("command-{name}")))).collect()
}

/// Registers the command menus: English by default, French for French clients, and the agents'
/// own (with /history) in each agent's private chat. `/support` is listed when there is a support
/// chat to hand over to.
pub async fn register_commands(
    bot: &TgBot,
    agents: &Agents,
    support: bool,
) -> Result<(), teloxide::RequestError> {
    bot.set_my_commands(commands(Lang::En, false, support)).await?;
    bot.set_my_commands(commands(Lang::Fr, false, support)).language_code("fr").await?;
    for agent in &agents.0 {
        let scope = BotCommandScope::Chat { chat_id: Recipient::Id(ChatId(*agent as i64)) };
        bot.set_my_commands(commands(Lang::En, true, support)).scope(scope.clone()).await?;
        bot.set_my_commands(commands(Lang::Fr, true, support)).scope(scope).language_code("fr").await?;
    }
    Ok(())
}

/// Long polling: teloxide's dispatcher reads `getUpdates` and hands each update to
/// [`Telegram::take_in`], until `shutdown`. With several instances on one database, one polls
/// and the others wait to take over (webhook mode is the mode for several instances).
pub async fn poll(
    bot: TgBot,
    telegram: Telegram,
    poll_timeout: Duration,
    store: crate::store::Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), teloxide::RequestError> {
    let mut dispatcher = Dispatcher::builder(bot.clone(), schema())
        .dependencies(dependencies(telegram))
        .default_handler(|update| async move { tracing::debug!(id = update.id.0, "update ignored") })
        .build();
    let token = dispatcher.shutdown_token();
    let stopping = tokio_util::sync::CancellationToken::new();
    let ended = tokio_util::sync::CancellationToken::new();
    let (stop, dispatched) = (stopping.clone(), ended.clone());
    tokio::spawn(async move {
        shutdown.await;
        stop.cancel();
        // The dispatcher refuses a shutdown until it runs: a shutdown asked while it is still
        // starting (deleting the webhook, waiting to poll) is asked again until it takes, or the
        // dispatcher has ended without running.
        loop {
            if let Ok(done) = token.shutdown() {
                done.await;
                return;
            }
            tokio::select! {
                () = dispatched.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    });
    // Telegram has one `getUpdates` consumer per bot.
    let result = match poller(&store, &stopping).await {
        Some(_poller) => {
            let listener = Polling::builder(bot).timeout(poll_timeout).delete_webhook().await.build();
            let listener_errors = LoggingErrorHandler::with_custom_text("update listener error");
            dispatcher.try_dispatch_with_listener(listener, listener_errors).await
        }
        None => Ok(()),
    };
    ended.cancel();
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
