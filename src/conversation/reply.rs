//! What the bot answers, whatever the channel: text and an optional keyboard of buttons.

/// One message of the bot. The text is plain (channels escape it for their markup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// Rows of buttons; empty when the message has none.
    pub keyboard: Vec<Vec<Button>>,
    /// This reply may replace the message whose button was pressed (a page of a list, the
    /// language choice), rather than come as a new message. Channels that cannot edit ignore it.
    pub edit_in_place: bool,
}

/// A button: what it says, and the payload it sends back when pressed (see `payload`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub payload: String,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Reply {
        Reply { text: text.into(), keyboard: Vec::new(), edit_in_place: false }
    }

    pub fn with_keyboard(mut self, keyboard: Vec<Vec<Button>>) -> Reply {
        self.keyboard = keyboard;
        self
    }

    /// Every button, row by row.
    pub fn buttons(&self) -> impl Iterator<Item = &Button> {
        self.keyboard.iter().flatten()
    }
}

/// A message a step sends while it is still running, delivered by then: the note that a lookup
/// is waiting its turn.
pub type Note = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>;

/// How a step reaches its chat before its turn ends: given by the channel that runs the turn
/// (see [`Incoming::interim`](crate::conversation::Incoming::interim)); a turn without one sends
/// nothing early.
#[derive(Clone)]
pub struct Interim(std::sync::Arc<dyn Fn(crate::i18n::Lang, Reply) -> Note + Send + Sync>);

impl Interim {
    /// Sends each interim reply (in the turn's language) with `send`.
    pub fn new(send: impl Fn(crate::i18n::Lang, Reply) -> Note + Send + Sync + 'static) -> Interim {
        Interim(std::sync::Arc::new(send))
    }

    /// `reply`, to be delivered when awaited.
    pub fn send(&self, lang: crate::i18n::Lang, reply: Reply) -> Note {
        (self.0)(lang, reply)
    }
}

impl std::fmt::Debug for Interim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Interim")
    }
}
