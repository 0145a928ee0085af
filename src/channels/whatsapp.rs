//! The WhatsApp channel (WhatsApp Business Cloud API), in the same `serve` process and on the
//! same core, store and tracker as Telegram.
//!
//! - [`webhook`] takes Meta's signed webhooks; each message is read into an [`Inbound`] and given
//!   to the one intake ([`crate::channels::intake`]), which stores, orders and queues it.
//! - The replies go out through [`WhatsAppEdge`] and [`client`], fitted to WhatsApp's rules by
//!   [`render`].
//! - Chats are keyed by the user's phone number (`wa_id`), or by their business-scoped user id
//!   when WhatsApp gives only that; a user seen with both gets one chat, whichever comes later.
//! - WhatsApp tells no language: French is the guess for numbers of French-speaking West Africa
//!   (`+221` Senegal first), English otherwise, until the user picks one.
//! - Free-form messages may go out only within 24 hours of the user's last message. Outside that
//!   window the tracker's news goes as an approved template, or is held and given with the
//!   user's next message ([`WhatsAppEdge`]).

pub mod client;
pub mod render;
pub mod webhook;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::intake::{Doing, Edge, Inbound, Intake};
use crate::config::WhatsAppSettings;
use crate::conversation::{Input, PayloadKeys, Reply, Turn, notices};
use crate::domain::ChatKey;
use crate::i18n::Lang;
use crate::outbox::{Delivery, Notice, Notifier, SendError, Sending};
use crate::store::{Op, Store, StoreError};

pub use client::{GraphClient, GraphError};
use render::Outgoing;

/// WhatsApp's customer-service window.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);
/// A notice is sent free-form only this long into the window, so that it does not arrive just
/// as the window closes.
const WINDOW_MARGIN: Duration = Duration::from_secs(10 * 60);

/// Dialing codes (and the country codes that start business-scoped user ids) of countries where
/// French is the language of daily writing: a user from there who just types is answered in
/// French.
const FRENCH: &[(&str, &str)] = &[
    ("221", "SN"),
    ("223", "ML"),
    ("224", "GN"),
    ("225", "CI"),
    ("226", "BF"),
    ("227", "NE"),
    ("228", "TG"),
    ("229", "BJ"),
    ("222", "MR"),
    ("33", "FR"),
];

/// WhatsApp's receiving side: the webhook's messages into the intake. Cheap to clone.
#[derive(Clone)]
pub struct WhatsApp {
    inner: Arc<Inner>,
}

struct Inner {
    settings: WhatsAppSettings,
    store: Store,
    intake: Intake,
}

impl WhatsApp {
    pub fn new(settings: WhatsAppSettings, intake: Intake) -> WhatsApp {
        let store = intake.store().clone();
        WhatsApp { inner: Arc::new(Inner { settings, store, intake }) }
    }

    pub(crate) fn verify_token(&self) -> &SecretString {
        &self.inner.settings.verify_token
    }

    pub(crate) fn app_secret(&self) -> &SecretString {
        &self.inner.settings.app_secret
    }

    /// The webhook's routes.
    pub fn router(&self) -> axum::Router {
        webhook::router(self.clone())
    }

    /// Hands the messages of a verified webhook to the intake; statuses are logged. Returns once
    /// every new message is durable, so that Meta may be told 200.
    pub async fn take_in(&self, webhook: wire::Webhook) -> Result<(), StoreError> {
        let now = Utc::now();
        for change in webhook.entry.iter().flat_map(|e| &e.changes) {
            let value = &change.value;
            // Only changes that name our number are ours: one without a number is not routed by
            // default (an app may serve several numbers, and a change must say which).
            match value.metadata.phone_number_id.as_deref() {
                Some(number) if number == self.inner.settings.phone_number_id => {}
                Some(number) => {
                    tracing::warn!(number, "a WhatsApp webhook for another phone number id: ignored");
                    continue;
                }
                None => {
                    tracing::warn!("a WhatsApp webhook change without a phone number id: ignored");
                    continue;
                }
            }
            for status in &value.statuses {
                log_status(status);
            }
            for error in &value.errors {
                tracing::warn!(code = error.code, title = error.title, "WhatsApp reported an error");
            }
            for message in &value.messages {
                if let Some(inbound) = self.inbound(value, message, now).await? {
                    self.inner.intake.take_in(inbound).await?;
                }
            }
        }
        Ok(())
    }

    /// What a message asks, from whom; `None` for what gets no answer (reactions, system
    /// notices, a message with no sender or id).
    async fn inbound(
        &self,
        value: &wire::ChangeValue,
        message: &wire::Message,
        now: DateTime<Utc>,
    ) -> Result<Option<Inbound>, StoreError> {
        let Some(wamid) = message.id.clone().filter(|id| !id.is_empty()) else {
            return Ok(None);
        };
        let contact = value.contacts.iter().find(|c| {
            (c.wa_id.is_some() && c.wa_id == message.from)
                || (c.user_id.is_some() && c.user_id == message.from_user_id)
        });
        let contact = contact.or(if value.contacts.len() == 1 { value.contacts.first() } else { None });
        let wa_id = message.from.clone().or_else(|| contact.and_then(|c| c.wa_id.clone()));
        let user_id = message.from_user_id.clone().or_else(|| contact.and_then(|c| c.user_id.clone()));
        let wa_id = wa_id.filter(|id| !id.is_empty());
        let user_id = user_id.filter(|id| !id.is_empty());
        let kind = message.kind.as_deref().unwrap_or("unknown");
        let input = match kind {
            "text" => {
                Input::from_text(message.text.as_ref().and_then(|t| t.body.as_deref()).unwrap_or_default())
            }
            "interactive" => {
                let interactive = message.interactive.clone().unwrap_or_default();
                let choice = interactive.button_reply.or(interactive.list_reply).unwrap_or_default();
                match choice.id {
                    Some(id) => Input::Button(id),
                    None => Input::from_text(choice.title.as_deref().unwrap_or_default()),
                }
            }
            "button" => {
                let button = message.button.clone().unwrap_or_default();
                match button.payload.filter(|p| !p.is_empty()) {
                    Some(payload) => Input::Button(payload),
                    None => Input::from_text(button.text.as_deref().unwrap_or_default()),
                }
            }
            // The user opened the chat for the first time.
            "request_welcome" => Input::from_text("/start"),
            "reaction" | "system" | "ephemeral" | "revoke" | "edit" => {
                tracing::debug!(kind, "a WhatsApp message that needs no answer");
                return Ok(None);
            }
            // A photo, a voice note, a location, a sticker, something WhatsApp itself does not
            // support, or a type that did not exist when this was written: the caption if there
            // is one, else the menu.
            _ => {
                let caption = [&message.image, &message.video, &message.document]
                    .into_iter()
                    .flatten()
                    .find_map(|m| m.caption.clone());
                Input::from_text(caption.as_deref().unwrap_or_default())
            }
        };
        let Some(chat) = self.chat_of(wa_id.as_deref(), user_id.as_deref()).await? else {
            tracing::warn!(kind, "a WhatsApp message without a sender: ignored");
            return Ok(None);
        };
        let agents = &self.inner.settings.agents;
        let sent_at = message.sent_at().unwrap_or(now);
        // A chat's messages in WhatsApp's order (its timestamps, to the second), then arrival.
        let mut inbound = Inbound::new(wamid, chat, sent_at.timestamp(), input);
        inbound.agent = [&wa_id, &user_id].into_iter().flatten().any(|id| agents.contains(id));
        // As Meta's signed webhook names the sender: the phone number, else the user id.
        inbound.sender_id = wa_id.clone().or_else(|| user_id.clone());
        inbound.lang_code = guess_lang(wa_id.as_deref(), user_id.as_deref()).map(str::to_owned);
        inbound.sent_at = Some(sent_at);
        inbound.received_at = now;
        Ok(Some(inbound))
    }

    /// The chat of a user: by phone number, or by user id, one chat whichever way they come.
    async fn chat_of(
        &self,
        wa_id: Option<&str>,
        user_id: Option<&str>,
    ) -> Result<Option<ChatKey>, StoreError> {
        let store = &self.inner.store;
        let phone = wa_id.map(ChatKey::whatsapp);
        let scoped = user_id.map(ChatKey::whatsapp);
        for key in [&phone, &scoped].into_iter().flatten() {
            if let Some(chat) = store.alias(key).await? {
                return Ok(Some(chat));
            }
        }
        Ok(match (phone, scoped) {
            (Some(phone), Some(scoped)) => {
                // Known first by the user id alone: that chat stays theirs.
                let scoped_known = store.prefs(&scoped).await?.last_inbound_at.is_some();
                let (chat, alias) = if scoped_known { (scoped, phone) } else { (phone, scoped) };
                store.commit(Op::Alias { alias, chat: chat.clone() }).await?;
                Some(chat)
            }
            (phone, scoped) => phone.or(scoped),
        })
    }
}

/// The language a number's country suggests: `fr` for French-speaking West Africa.
pub fn guess_lang(wa_id: Option<&str>, user_id: Option<&str>) -> Option<&'static str> {
    let by_phone =
        wa_id.is_some_and(|id| FRENCH.iter().any(|(dial, _)| id.trim_start_matches('+').starts_with(dial)));
    let by_country = user_id.is_some_and(|id| {
        FRENCH.iter().any(|(_, iso)| id.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(&format!("{iso}."))))
    });
    (by_phone || by_country).then_some("fr")
}

fn log_status(status: &wire::Status) {
    let wamid = status.id.as_deref().unwrap_or_default();
    match status.status.as_deref() {
        Some("failed") => {
            for error in &status.errors {
                tracing::warn!(wamid, code = error.code, title = error.title, "a WhatsApp message failed");
            }
            if status.errors.is_empty() {
                tracing::warn!(wamid, "a WhatsApp message failed");
            }
        }
        other => tracing::debug!(wamid, status = other, "WhatsApp message status"),
    }
}

/// Sends replies in order. Stops at an error that the next message would meet too (outside the
/// window, undeliverable, a refused token); logs and goes on after any other.
async fn send_replies(
    client: &GraphClient,
    chat: &ChatKey,
    replies: &[Reply],
    lang: Lang,
) -> Result<(), GraphError> {
    let mut failed = None;
    for reply in replies {
        for message in render::messages(reply, lang) {
            match client.send(chat.id(), &message).await {
                Ok(_) => {}
                Err(
                    e @ (GraphError::OutsideWindow | GraphError::Undeliverable | GraphError::TokenInvalid),
                ) => {
                    return Err(e);
                }
                Err(e) => failed = Some(e),
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

/// WhatsApp's sending side: replies, and notices within the 24-hour window: free-form inside it,
/// as the configured template outside it, or else held for the chat's next message. A reminder
/// outside the window goes as its own template, or is not sent (it would be stale by the chat's
/// next message).
pub struct WhatsAppEdge {
    client: Arc<GraphClient>,
    store: Store,
    template: Option<String>,
    reminder_template: Option<String>,
    /// Signs the buttons of notices (the turn's replies come signed from the core).
    payloads: PayloadKeys,
}

impl WhatsAppEdge {
    pub fn new(client: Arc<GraphClient>, store: Store, template: Option<String>) -> WhatsAppEdge {
        let payloads = PayloadKeys::new(store.clone());
        WhatsAppEdge { client, store, template, reminder_template: None, payloads }
    }

    /// Reminders outside the 24-hour window go as the approved template `name`.
    pub fn with_reminder_template(mut self, name: Option<String>) -> WhatsAppEdge {
        self.reminder_template = name;
        self
    }

    async fn inside_window(&self, chat: &ChatKey, now: DateTime<Utc>) -> bool {
        let open = WINDOW.saturating_sub(WINDOW_MARGIN);
        let last = self.store.prefs(chat).await.ok().and_then(|p| p.last_inbound_at);
        last.is_some_and(|at| (now - at).to_std().is_ok_and(|age| age < open) || at > now)
    }

    async fn outside_window(
        &self,
        chat: &ChatKey,
        lang: Lang,
        notice: &Notice,
    ) -> Result<Delivery, SendError> {
        if matches!(notice, Notice::Reminder { .. }) {
            let Some(name) = &self.reminder_template else { return Ok(Delivery::NotSent) };
            let params = notices::template_params(lang, notice);
            let template = Outgoing::Template { name: name.clone(), lang, params };
            self.client.send(chat.id(), &template).await?;
            return Ok(Delivery::Template);
        }
        let order_news = matches!(notice, Notice::StatusChanged { .. } | Notice::WatchEnded { .. });
        match &self.template {
            Some(name) if order_news => {
                let params = notices::template_params(lang, notice);
                let template = Outgoing::Template { name: name.clone(), lang, params };
                self.client.send(chat.id(), &template).await?;
                Ok(Delivery::Template)
            }
            // Support's messages (and order news without a template) wait for the chat's next
            // message.
            _ => {
                let hold = Op::hold(chat, notice, Utc::now())?;
                self.store.commit(hold).await?;
                Ok(Delivery::Held)
            }
        }
    }
}

impl Edge for WhatsAppEdge {
    fn deliver<'a>(&'a self, inbound: &'a Inbound, turn: &'a Turn) -> Sending<'a, ()> {
        Box::pin(
            async move { Ok(send_replies(&self.client, &inbound.chat, &turn.replies, turn.lang).await?) },
        )
    }

    fn started<'a>(&'a self, inbound: &'a Inbound) -> Doing<'a> {
        // The blue ticks and "typing…" while the step runs.
        Box::pin(async move { self.client.mark_read(&inbound.id, true).await })
    }

    fn forget_idle(&self) {
        self.client.forget_idle();
    }
}

impl Notifier for WhatsAppEdge {
    fn notify<'a>(&'a self, chat: &'a ChatKey, lang: Lang, notice: &'a Notice) -> Sending<'a, Delivery> {
        Box::pin(async move {
            if !self.inside_window(chat, Utc::now()).await {
                return self.outside_window(chat, lang, notice).await;
            }
            let reply = notices::sealed(&self.payloads, chat, lang, notice).await?;
            match send_replies(&self.client, chat, &[reply], lang).await {
                Ok(()) => Ok(Delivery::Sent),
                // The window closed sooner than the store knew (a message it never saw dated).
                Err(GraphError::OutsideWindow) => self.outside_window(chat, lang, notice).await,
                Err(e) => Err(e.into()),
            }
        })
    }
}
