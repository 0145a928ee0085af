//! What a user sends, whatever the channel: a command, free text, or a button press.

/// One user input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `/name arg…`: `name` lower-cased, without the `@botname` suffix Telegram adds in groups.
    Command { name: String, arg: Option<String> },
    /// Anything else typed.
    Text(String),
    /// The payload of a pressed button.
    Button(String),
}

impl Input {
    /// Reads a typed message: a leading `/` makes it a command.
    pub fn from_text(text: &str) -> Input {
        let trimmed = text.trim();
        let Some(rest) = trimmed.strip_prefix('/') else {
            return Input::Text(trimmed.to_owned());
        };
        let (word, arg) = match rest.split_once(char::is_whitespace) {
            Some((word, arg)) => (word, Some(arg.trim().to_owned()).filter(|a| !a.is_empty())),
            None => (rest, None),
        };
        let name = word.split('@').next().unwrap_or_default().to_lowercase();
        if name.is_empty() {
            return Input::Text(trimmed.to_owned());
        }
        Input::Command { name, arg }
    }
}
