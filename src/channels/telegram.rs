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
pub mod webhook;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use teloxide::dispatching::{Dispatcher, UpdateHandler};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::payloads::{EditMessageTextSetters, SendMessageSetters, SetMyCommandsSetters};
use teloxide::prelude::{Request, Requester, dptree};
use teloxide::types::{
    BotCommand, BotCommandScope, ChatId, MessageId, MessageKind, ParseMode, Recipient, Update, UpdateKind,
    User,
};
use teloxide::update_listeners::Polling;

use super::{Admission, ChatQueues, Flood};
use crate::config::TelegramSettings;
use crate::conversation::{Bot, ChatKey, Incoming, Input, Reply, Role, notices};
use crate::i18n::Lang;
use crate::store::StoreError;
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
    /// How much one chat may send before its updates are dropped.
    pub flood: Flood,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions::new(Limits::default())
    }
}

impl RunOptions {
    pub fn new(limits: Limits) -> RunOptions {
        RunOptions {
            pacer: Arc::new(Pacer::new(limits)),
            poll_timeout: Duration::from_secs(10),
            flood: Flood::default(),
        }
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

/// An update taken in, kept in the store's inbox (id `tg:update:<n>`) until its step is done: an
/// update redelivered to any instance is handled once, and one taken in by an instance that died
/// before handling it is handled by another.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TelegramInbound {
    pub update_id: u32,
    pub chat: i64,
    pub lang_code: Option<String>,
    pub agent: bool,
    pub input: Input,
    /// The message whose button was pressed (a reply may replace it).
    pub pressed: Option<i32>,
    pub sent_at: Option<DateTime<Utc>>,
    /// When this instance took it in.
    pub received_at: DateTime<Utc>,
    /// The text of the bot's message this one replies to (an agent answering a ticket), and
    /// this message's own text as typed.
    #[serde(default)]
    pub reply_to: Option<(String, String)>,
    /// The sender's first name.
    #[serde(default)]
    pub sender: Option<String>,
}

/// The prefix of Telegram's updates in the inbox.
pub const INBOX_PREFIX: &str = "tg:update:";

impl TelegramInbound {
    fn inbox_id(&self) -> String {
        format!("{INBOX_PREFIX}{}", self.update_id)
    }
}

/// The channel's running parts, shared by the long poll's handler and the webhook. Cheap to clone.
#[derive(Clone)]
pub struct Telegram {
    inner: Arc<TelegramInner>,
}

struct TelegramInner {
    bot: TgBot,
    core: Bot,
    agents: Agents,
    pacer: Arc<Pacer>,
    queues: TelegramQueues,
}

impl Telegram {
    pub fn new(bot: TgBot, core: Bot, agents: Agents, pacer: Arc<Pacer>, flood: Flood) -> Telegram {
        let queues = TelegramQueues::bounded(flood);
        Telegram { inner: Arc::new(TelegramInner { bot, core, agents, pacer, queues }) }
    }

    /// What an update asks, or `None` for what gets no answer: channel posts (no sender), service
    /// messages (a member joined, a pin…), inline queries. A message without text (a sticker, a
    /// photo) goes as empty text, which the core answers with the menu rather than silence.
    fn inbound(&self, update: &Update) -> Option<TelegramInbound> {
        inbound(&self.inner.agents, update)
    }

    /// Records an update (once: a redelivery is recognized) and queues its step behind the
    /// chat's earlier ones. Returns once the update is durable, so that Telegram may be told.
    /// A button press is answered at once (that stops the client's spinner).
    pub async fn take_in(&self, update: Update) -> Result<(), StoreError> {
        let Some(inbound) = self.inbound(&update) else {
            tracing::debug!(id = update.id.0, "update ignored");
            return Ok(());
        };
        let store = self.inner.core.store();
        if !store.inbox_receive(&inbound.inbox_id(), &inbound, Utc::now()).await? {
            tracing::info!(id = update.id.0, "a redelivered update: already taken in");
            return Ok(());
        }
        if let UpdateKind::CallbackQuery(query) = &update.kind {
            let (bot, id) = (self.inner.bot.clone(), query.id.clone());
            self.inner.queues.spawn(async move {
                if let Err(e) = bot.answer_callback_query(id).await {
                    tracing::warn!(error = %e, "could not answer a callback query");
                }
            });
        }
        self.admit(inbound);
        Ok(())
    }

    /// Queues a new update, unless its chat sends too fast: it is then dropped (and the chat
    /// told, once a minute at most).
    fn admit(&self, inbound: TelegramInbound) {
        let (chat, id, lang_code) = (inbound.chat, inbound.inbox_id(), inbound.lang_code.clone());
        let this = self.clone();
        let admission = self.inner.queues.admit(chat, async move { this.handle(inbound).await });
        if let Admission::Refused { warn } = admission {
            tracing::info!(chat, warn, "an update dropped: the chat sends too fast");
            let this = self.clone();
            self.inner.queues.spawn(async move {
                let core = &this.inner.core;
                let turn = core.refuse(&ChatKey::telegram(chat), Some(id), lang_code.as_deref(), warn).await;
                let delivered =
                    deliver(&this.inner.bot, &this.inner.pacer, ChatId(chat), None, &turn.replies);
                if let Err(e) = delivered.await {
                    tracing::warn!(chat, error = %e, "a \"slow down\" could not be delivered");
                }
            });
        }
    }

    /// Queues an update taken in earlier, however many wait.
    fn queue(&self, inbound: TelegramInbound) {
        let this = self.clone();
        self.inner.queues.push(inbound.chat, async move { this.handle(inbound).await });
    }

    /// One update's turn: the core handles it, then the replies are delivered (a failure is
    /// logged: the user has been answered as far as Telegram allowed).
    async fn handle(&self, inbound: TelegramInbound) {
        let chat = ChatId(inbound.chat);
        let pressed = inbound.pressed.map(MessageId);
        let mut incoming = Incoming::new(ChatKey::telegram(inbound.chat), inbound.input.clone())
            .role(if inbound.agent { Role::Agent } else { Role::Customer });
        incoming.lang_code = inbound.lang_code.clone();
        incoming.sent_at = inbound.sent_at;
        incoming.inbox_id = Some(inbound.inbox_id());
        let incoming = match inbound.reply_to.clone() {
            Some((replied, typed)) => incoming.replying(Some(replied), inbound.sender.clone()).typed(typed),
            None => incoming.replying(None, inbound.sender.clone()),
        };
        let replies = self.inner.core.handle(incoming).await;
        if let Err(e) = deliver(&self.inner.bot, &self.inner.pacer, chat, pressed, &replies).await {
            tracing::warn!(chat = chat.0, error = %e, "a reply could not be delivered");
        }
    }

    /// Queues the updates taken in at least `age` ago and not handled yet, oldest first: at
    /// start, those of before the restart; later, those of an instance that died. Handling one
    /// twice is harmless: the step checks, under the chat's lease, that it is still pending.
    pub async fn resume_older_than(&self, age: Duration) -> Result<usize, StoreError> {
        let store = self.inner.core.store();
        let before = Utc::now() - chrono::Duration::from_std(age).unwrap_or_default();
        let mut pending: Vec<(String, TelegramInbound)> = store.inbox_pending(INBOX_PREFIX).await?;
        pending.retain(|(_, inbound)| inbound.received_at <= before);
        pending.sort_by_key(|(_, inbound)| inbound.update_id);
        let count = pending.len();
        for (_, inbound) in pending {
            self.queue(inbound);
        }
        if count > 0 {
            tracing::info!(count, "Telegram updates taken in earlier are being handled");
        }
        Ok(count)
    }

    /// Waits until every queued update has been handled.
    pub async fn finish(&self) {
        self.inner.queues.finish().await;
    }
}

/// [`Telegram`]'s reading of an update, for `agents` (public for `billbot::fuzzing`).
#[doc(hidden)]
pub fn inbound(agents: &Agents, update: &Update) -> Option<TelegramInbound> {
    let update_id = update.id.0;
    match &update.kind {
        UpdateKind::Message(msg) => {
            let user = msg.from.as_ref()?;
            if !matches!(msg.kind, MessageKind::Common(_) | MessageKind::Dice(_)) {
                return None;
            }
            let text = msg.text().or(msg.caption()).unwrap_or_default();
            let reply_to = msg
                .reply_to_message()
                .filter(|replied| replied.from.as_ref().is_some_and(|u| u.is_bot))
                .and_then(|replied| replied.text())
                .map(str::to_owned);
            Some(TelegramInbound {
                update_id,
                chat: msg.chat.id.0,
                lang_code: user.language_code.clone(),
                // Merchant figures and the history never go to a group, whoever asks there.
                agent: msg.chat.is_private() && agents.role(user) == Role::Agent,
                input: Input::from_text(text),
                pressed: None,
                sent_at: Some(msg.date),
                received_at: Utc::now(),
                // With the words as typed: in the support chat an answer is what it says, not a
                // keyword ("Bonjour, …" is not a hello there).
                reply_to: reply_to.map(|replied| (replied, text.to_owned())),
                sender: Some(user.first_name.clone()),
            })
        }
        UpdateKind::CallbackQuery(query) => {
            let message = query.message.as_ref()?; // inline-mode messages: billbot sends none
            Some(TelegramInbound {
                update_id,
                chat: message.chat().id.0,
                lang_code: query.from.language_code.clone(),
                agent: message.chat().is_private() && agents.role(&query.from) == Role::Agent,
                input: Input::Button(query.data.clone().unwrap_or_default()),
                // A message over 48 hours old reaches bots as "inaccessible": it cannot be
                // edited, so the answer comes as a new message.
                pressed: message.regular_message().map(|m| m.id.0),
                sent_at: None,
                received_at: Utc::now(),
                reply_to: None,
                sender: Some(query.from.first_name.clone()),
            })
        }
        _ => None,
    }
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

/// How often updates stuck in the inbox are looked for, and idle chats' pace forgotten.
const HOUSEKEEPING: Duration = Duration::from_secs(60);

/// Runs the bot until `shutdown` completes, then lets the updates in hand finish. In webhook mode
/// it serves the webhook on `listener` (bound to `BILLBOT_WEBHOOK_LISTEN` when not given).
pub async fn run(
    bot: TgBot,
    core: Bot,
    settings: &TelegramSettings,
    options: RunOptions,
    listener: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), teloxide::RequestError> {
    let agents = Agents(settings.agents.clone());
    if let Err(e) = register_commands(&bot, &agents, core.has_support()).await {
        tracing::warn!(error = %e, "could not register the command menus");
    }
    let telegram = Telegram::new(bot.clone(), core.clone(), agents, options.pacer.clone(), options.flood);
    let stopping = tokio_util::sync::CancellationToken::new();
    let housekeeping = {
        let (telegram, pacer, stopping) = (telegram.clone(), options.pacer.clone(), stopping.clone());
        let queues = telegram.inner.queues.clone();
        let resume_after = settings.resume_after;
        tokio::spawn(async move {
            if let Err(e) = telegram.resume_older_than(Duration::ZERO).await {
                tracing::error!(error = %e, "Telegram updates taken in before the restart could not be read");
            }
            // Often enough that an update is taken up soon after it is due to be.
            let mut every =
                tokio::time::interval(HOUSEKEEPING.min(resume_after / 2).max(Duration::from_millis(500)));
            every.tick().await;
            loop {
                tokio::select! {
                    () = stopping.cancelled() => return,
                    _ = every.tick() => {}
                }
                pacer.forget_idle();
                queues.forget_idle();
                if let Err(e) = telegram.resume_older_than(resume_after).await {
                    tracing::error!(error = %e, "Telegram updates left unhandled could not be read");
                }
            }
        })
    };
    let result = match &settings.webhook {
        None => poll(&bot, &telegram, &options, core.store(), shutdown, stopping.clone()).await,
        Some(webhook) => {
            let listener = match listener {
                Some(listener) => listener,
                None => tokio::net::TcpListener::bind(webhook.listen).await.map_err(Arc::new)?,
            };
            let secret = webhook::secret(webhook).map_err(Arc::new)?;
            let app = webhook::router(telegram.clone(), webhook, secret.clone());
            let stop = stopping.clone();
            let server =
                tokio::spawn(crate::http::serve(listener, app, async move { stop.cancelled().await }));
            let registered = webhook::register(&bot, webhook, &secret).await;
            if registered.is_ok() {
                shutdown.await;
            }
            stopping.cancel();
            let _ = server.await;
            registered
        }
    };
    stopping.cancel();
    tracing::info!("shutting down: finishing the updates in hand");
    // No more updates come in: let the ones in hand finish.
    telegram.finish().await;
    let _ = housekeeping.await;
    result
}

/// Long polling: teloxide's dispatcher reads `getUpdates` and hands each update to
/// [`Telegram::take_in`], until `shutdown`.
async fn poll(
    bot: &TgBot,
    telegram: &Telegram,
    options: &RunOptions,
    store: &crate::store::Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
    stopping: tokio_util::sync::CancellationToken,
) -> Result<(), teloxide::RequestError> {
    let mut dispatcher = Dispatcher::builder(bot.clone(), schema())
        .dependencies(dependencies(telegram.clone()))
        .default_handler(|update| async move { tracing::debug!(id = update.id.0, "update ignored") })
        .build();
    let token = dispatcher.shutdown_token();
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
    // Telegram has one `getUpdates` consumer per bot: with several instances on one database, one
    // polls and the others wait to take over (webhook mode is the mode for several instances).
    let result = match poller(store, &stopping).await {
        Some(_poller) => {
            let listener =
                Polling::builder(bot.clone()).timeout(options.poll_timeout).delete_webhook().await.build();
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
