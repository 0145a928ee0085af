//! Who the bot talks to: a chat on one channel, the role of the person writing, and what each
//! channel can show. The conversation core renders against [`Capabilities`] and never assumes one
//! channel's limits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A chat network billbot speaks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Telegram,
    WhatsApp,
    /// The terminal demo (and tests that talk to the core directly).
    Terminal,
    /// The web chat: a page billbot serves, or its widget on a biller's site. The id is the
    /// session's, made by the server (see `channels::web::session`).
    Web,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Telegram, Channel::WhatsApp, Channel::Terminal, Channel::Web];

    /// The short tag of the channel in stored keys (`tg`, `wa`, `term`, `web`).
    pub fn tag(self) -> &'static str {
        match self {
            Channel::Telegram => "tg",
            Channel::WhatsApp => "wa",
            Channel::Terminal => "term",
            Channel::Web => "web",
        }
    }

    /// What the channel can show.
    pub fn capabilities(self) -> &'static Capabilities {
        match self {
            Channel::Telegram => &Capabilities::TELEGRAM,
            Channel::WhatsApp => &Capabilities::WHATSAPP,
            Channel::Terminal => &Capabilities::TERMINAL,
            Channel::Web => &Capabilities::WEB,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// A chat, qualified by its channel. The `id` is the channel's own: a Telegram chat id, a WhatsApp
/// user (`wa_id`, or a business-scoped user id), `demo` for the terminal.
///
/// Stored as `<tag>:<id>` (`tg:123456`, `wa:221771234567`); that text form is read back only by
/// [`ChatKey::from_str`], never taken apart elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChatKey {
    channel: Channel,
    id: String,
}

impl ChatKey {
    pub fn new(channel: Channel, id: impl fmt::Display) -> ChatKey {
        ChatKey { channel, id: id.to_string() }
    }

    pub fn telegram(chat_id: i64) -> ChatKey {
        ChatKey::new(Channel::Telegram, chat_id)
    }

    pub fn whatsapp(user: impl fmt::Display) -> ChatKey {
        ChatKey::new(Channel::WhatsApp, user)
    }

    pub fn terminal(id: impl fmt::Display) -> ChatKey {
        ChatKey::new(Channel::Terminal, id)
    }

    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The channel's own id of the chat.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The Telegram chat id, for a Telegram chat.
    pub fn telegram_id(&self) -> Option<i64> {
        (self.channel == Channel::Telegram).then(|| self.id.parse().ok()).flatten()
    }

    /// The key's stored form, `<tag>:<id>`.
    pub fn storage_key(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ChatKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.channel.tag(), self.id)
    }
}

/// A stored chat key that names no known channel, or no id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a chat key (expected tg:, wa:, term: or web: and an id)")]
pub struct ChatKeyError(String);

impl FromStr for ChatKey {
    type Err = ChatKeyError;

    fn from_str(s: &str) -> Result<ChatKey, ChatKeyError> {
        let (tag, id) = s.split_once(':').ok_or_else(|| ChatKeyError(s.to_owned()))?;
        let channel =
            Channel::ALL.into_iter().find(|c| c.tag() == tag).ok_or_else(|| ChatKeyError(s.to_owned()))?;
        if id.is_empty() {
            return Err(ChatKeyError(s.to_owned()));
        }
        Ok(ChatKey { channel, id: id.to_owned() })
    }
}

impl TryFrom<String> for ChatKey {
    type Error = ChatKeyError;

    fn try_from(s: String) -> Result<ChatKey, ChatKeyError> {
        s.parse()
    }
}

impl From<ChatKey> for String {
    fn from(key: ChatKey) -> String {
        key.to_string()
    }
}

/// Who is writing. Channels derive it from a verified sender id, never from what was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    #[default]
    Customer,
    Agent,
}

/// What a channel can show, as far as the conversation core needs to know. Finer rules (label
/// lengths of each kind of button, markup) belong to the channel's renderer, which fits every
/// reply to them; the core keeps its menus within these numbers so that fitting loses nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Most choices one message can offer (Telegram: 100 inline buttons; WhatsApp: a list of 10).
    pub max_choices: usize,
    /// Characters a choice's label can show before it is cut (WhatsApp: 20 on a button, 24 on a
    /// list row).
    pub max_label_chars: usize,
    /// Bytes a button can carry back (Telegram: 64 of callback data; WhatsApp: 200 of a list
    /// row id).
    pub max_payload_bytes: usize,
    /// Characters of one message's text (Telegram: 4096 UTF-16 units; WhatsApp: 4096).
    pub max_text_chars: usize,
    /// Whether a message already sent can be replaced (a page of a list in place).
    pub can_edit: bool,
    /// Whether the channel tells the user's language (Telegram: `language_code`; WhatsApp: no).
    pub knows_user_language: bool,
}

impl Capabilities {
    pub const TELEGRAM: Capabilities = Capabilities {
        max_choices: 100,
        max_label_chars: 64,
        max_payload_bytes: 64,
        max_text_chars: 4096,
        can_edit: true,
        knows_user_language: true,
    };

    pub const WHATSAPP: Capabilities = Capabilities {
        max_choices: 10,
        max_label_chars: 24,
        max_payload_bytes: 200,
        max_text_chars: 4096,
        can_edit: false,
        knows_user_language: false,
    };

    /// The demo numbers its buttons and prints whatever comes; it knows the language from
    /// `--lang` or the terminal.
    pub const TERMINAL: Capabilities = Capabilities {
        max_choices: 100,
        max_label_chars: 64,
        max_payload_bytes: 64,
        max_text_chars: 1 << 20,
        can_edit: false,
        knows_user_language: true,
    };

    /// The web chat shows buttons as real `<button>`s, wrapping their labels: more choices than
    /// WhatsApp and no 20-character cut. A payload comes back in a JSON body, but the core's
    /// signed payloads are 56 bytes at most anyway. The browser tells the language.
    pub const WEB: Capabilities = Capabilities {
        max_choices: 30,
        max_label_chars: 64,
        max_payload_bytes: 64,
        max_text_chars: 4096,
        can_edit: false,
        knows_user_language: true,
    };
}
