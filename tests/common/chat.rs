//! A chat with the bot through the conversation core, against a sandbox over loopback.

use billbot::conversation::{Action, Bot, ChatKey, Incoming, Input, Reply, Role};
use billbot::sandbox::RunningSandbox;
use billbot::store::Store;

use super::{sandbox, sandbox_clients};

/// A bot on its own sandbox and its own temporary store.
pub struct Harness {
    pub bot: Bot,
    pub sandbox: RunningSandbox,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new() -> Harness {
        let sandbox = sandbox().await;
        let dir = tempfile::tempdir().unwrap();
        let (inquiry, status) = sandbox_clients(&sandbox);
        let bot = Bot::new(inquiry, status, Store::open(dir.path()).unwrap());
        Harness { bot, sandbox, dir }
    }

    pub fn chat(&self, id: &str, lang_code: &str, role: Role) -> Chat {
        Chat {
            bot: self.bot.clone(),
            key: ChatKey::terminal(id),
            lang_code: lang_code.to_owned(),
            role,
            last: vec![],
        }
    }
}

/// One user's chat.
pub struct Chat {
    pub bot: Bot,
    pub key: ChatKey,
    pub lang_code: String,
    pub role: Role,
    /// The replies to the last input.
    pub last: Vec<Reply>,
}

impl Chat {
    async fn send(&mut self, input: Input) -> String {
        let incoming = Incoming::new(self.key.clone(), input).lang_code(&self.lang_code).role(self.role);
        self.last = self.bot.handle(incoming).await;
        assert!(!self.last.is_empty(), "the bot never stays silent");
        self.text()
    }

    /// Types a message (commands included); returns the replies' text.
    pub async fn say(&mut self, text: &str) -> String {
        self.send(Input::from_text(text)).await
    }

    /// Presses the button whose label contains `label`; panics when there is none.
    pub async fn press(&mut self, label: &str) -> String {
        let payload = self
            .last
            .iter()
            .flat_map(|r| r.buttons())
            .find(|b| b.label.contains(label))
            .unwrap_or_else(|| panic!("no button {label:?} in {:#?}", self.last))
            .payload
            .clone();
        self.send(Input::Button(payload)).await
    }

    /// Sends a raw button payload.
    pub async fn press_payload(&mut self, payload: &str) -> String {
        self.send(Input::Button(payload.to_owned())).await
    }

    /// Presses a button of `action` as the bot would have made it for this chat (signed), shown
    /// or not.
    pub async fn press_action(&mut self, action: Action) -> String {
        let payload = self.bot.payload(&self.key, &action).await.unwrap();
        self.send(Input::Button(payload)).await
    }

    pub fn text(&self) -> String {
        self.last.iter().map(|r| r.text.as_str()).collect::<Vec<_>>().join("\n")
    }

    pub fn labels(&self) -> Vec<String> {
        self.last.iter().flat_map(|r| r.buttons()).map(|b| b.label.clone()).collect()
    }

    pub fn has_button(&self, label: &str) -> bool {
        self.labels().iter().any(|l| l.contains(label))
    }
}
