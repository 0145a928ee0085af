//! The channels: thin adapters between a chat network and the conversation core.
//!
//! Each channel turns what a user sent into an [`Incoming`](crate::conversation::Incoming), runs
//! it through the core, and fits the replies to its network's rules. What the core may assume of
//! a channel is in [`Capabilities`](crate::domain::Capabilities); how the tracker's notices reach a
//! chat is [`Notifiers`], which hands each chat to its own channel.

pub mod queue;
pub mod telegram;
pub mod terminal;
pub mod text;
pub mod whatsapp;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::domain::{Channel, ChatKey};
use crate::i18n::Lang;
use crate::tracking::{Delivery, Notice, Notifier};

pub use queue::{Admission, ChatQueues, Flood};

/// The notifier of each running channel: a notice goes out through the channel of its chat.
#[derive(Default, Clone)]
pub struct Notifiers {
    routes: Vec<(Channel, Arc<dyn Notifier>)>,
}

impl Notifiers {
    pub fn new() -> Notifiers {
        Notifiers::default()
    }

    /// Sends the notices of `channel`'s chats through `notifier`.
    pub fn route(mut self, channel: Channel, notifier: Arc<dyn Notifier>) -> Notifiers {
        self.routes.retain(|(c, _)| *c != channel);
        self.routes.push((channel, notifier));
        self
    }

    fn notifier(&self, channel: Channel) -> Option<&Arc<dyn Notifier>> {
        self.routes.iter().find(|(c, _)| *c == channel).map(|(_, n)| n)
    }
}

impl Notifier for Notifiers {
    fn notify<'a>(
        &'a self,
        chat: &'a ChatKey,
        lang: Lang,
        notice: &'a Notice,
    ) -> Pin<Box<dyn Future<Output = Result<Delivery, String>> + Send + 'a>> {
        match self.notifier(chat.channel()) {
            Some(notifier) => notifier.notify(chat, lang, notice),
            None => {
                let channel = chat.channel();
                Box::pin(async move { Err(format!("the {channel} channel is not running")) })
            }
        }
    }
}
