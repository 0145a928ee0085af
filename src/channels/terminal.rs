//! The terminal channel (`billbot demo`): one user message per input line, the bot's replies
//! printed, buttons numbered (`[1] SenEau`); typing a button's number presses it. Works with
//! piped input; ends on end of input or `/quit`.
//!
//! The demo does not go through the intake: it has one user who waits for each answer before
//! typing again, on one machine, with nothing to redeliver, admit or take over, so it calls the
//! core's turn directly. Its notices do come through the outbox.

use std::io::IsTerminal;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use crate::conversation::{Bot, Button, ChatKey, Incoming, Input, Reply, Role, State, notices};
use crate::i18n::Lang;
use crate::outbox::{Delivery, Notice, Notifier, Sending};
use crate::t;

/// The demo's one chat.
pub fn chat() -> ChatKey {
    ChatKey::terminal("demo")
}

/// Runs the conversation until `/quit` or the end of `input`.
pub async fn run<R, W>(bot: &Bot, lang: Lang, role: Role, input: R, mut output: W) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let interactive = std::io::stdin().is_terminal();
    let chat = chat();
    let send = |input: Input| Incoming::new(chat.clone(), input).lang_code(lang.code()).role(role);
    // A new chat starts with /start; one found in the store (BILLBOT_DATA_DIR) resumes where it
    // was, in the language it chose.
    let resumed = matches!(bot.store().dialogue::<State>(&chat).await, Ok(Some(_)));
    let shown_lang = bot.store().prefs(&chat).await.ok().and_then(|p| p.lang).unwrap_or(lang);
    output.write_all(format!("{}\n\n", t!(shown_lang, "demo-intro")).as_bytes()).await?;
    let mut buttons = if resumed {
        output.write_all(format!("{}\n\n", t!(shown_lang, "demo-resumed")).as_bytes()).await?;
        Vec::new()
    } else {
        show(&mut output, &bot.handle(send(Input::from_text("/start"))).await).await?
    };
    let mut lines = input.lines();
    loop {
        if interactive {
            output.write_all(b"> ").await?;
            output.flush().await?;
        }
        let Some(line) = lines.next_line().await? else {
            break;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if !interactive {
            // A terminal echoes what was typed; piped input is echoed so transcripts read well.
            output.write_all(format!("> {line}\n").as_bytes()).await?;
        }
        if line.eq_ignore_ascii_case("/quit") {
            break;
        }
        let incoming =
            match line.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| buttons.get(i)) {
                Some(button) => {
                    output.write_all(format!("({})\n", button.label).as_bytes()).await?;
                    Input::Button(button.payload.clone())
                }
                None => Input::from_text(line),
            };
        let replies = bot.handle(send(incoming)).await;
        let shown = show(&mut output, &replies).await?;
        if !shown.is_empty() {
            buttons = shown;
        }
    }
    output.flush().await
}

/// Prints replies; returns their buttons in the order they were numbered.
async fn show<W: AsyncWrite + Unpin>(output: &mut W, replies: &[Reply]) -> std::io::Result<Vec<Button>> {
    let mut numbered = Vec::new();
    let mut text = String::new();
    for reply in replies {
        text.push('\n');
        text.push_str(&reply.text);
        text.push('\n');
        for row in &reply.keyboard {
            let cells: Vec<String> = row
                .iter()
                .map(|b| {
                    numbered.push(b.clone());
                    format!("[{}] {}", numbered.len(), b.label)
                })
                .collect();
            text.push_str("   ");
            text.push_str(&cells.join("   "));
            text.push('\n');
        }
    }
    text.push('\n');
    output.write_all(text.as_bytes()).await?;
    output.flush().await?;
    Ok(numbered)
}

/// Prints the tracker's notifications for the demo chat as they come, between prompts.
pub struct TerminalNotifier;

impl Notifier for TerminalNotifier {
    fn notify<'a>(&'a self, _chat: &'a ChatKey, lang: Lang, notice: &'a Notice) -> Sending<'a, Delivery> {
        Box::pin(async move {
            let text = notices::reply(lang, notice).text;
            let mut out = tokio::io::stdout();
            out.write_all(format!("\n{text}\n\n").as_bytes()).await?;
            out.flush().await?;
            Ok(Delivery::Sent)
        })
    }
}
