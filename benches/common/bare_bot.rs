//! The yardstick of the load benchmark: a bare teloxide bot that takes the same six steps with
//! the same buttons, calls the same sandbox for the same three of them, and keeps nothing. What
//! billbot costs beyond it is what its store, dialogue, limits and rendering cost.
//!
//! It runs as a process of its own, like billbot: the benchmark starts its own binary again with
//! `--as-bare-bot`, and the settings in the environment (`TELOXIDE_TOKEN`, `TELOXIDE_API_URL`,
//! `BILLBOT_INQUIRY_URL`, `BILLBOT_INQUIRY_API_KEY`, `BILLBOT_STATUS_URL`,
//! `BILLBOT_STATUS_API_KEY`, `BILLBOT_MERCHANT_ID`).

use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use crate::bare_provider::Provider;

fn keyboard(label: &str, data: &str) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(label, data)]])
}

async fn on_message(bot: Bot, provider: Provider, message: Message) -> ResponseResult<()> {
    let text = message.text().unwrap_or_default();
    let chat = message.chat.id;
    if text == "/start" {
        bot.send_message(chat, "Welcome").reply_markup(keyboard("Check a bill", "bill")).await?;
    } else if let Some(order) = text.strip_prefix("/status ") {
        let answer = provider.status(order.trim()).await;
        bot.send_message(chat, answer).reply_markup(keyboard("Refresh", order.trim())).await?;
    } else {
        let answer = provider.inquire(text.trim()).await;
        bot.send_message(chat, answer).await?;
    }
    Ok(())
}

async fn on_callback(bot: Bot, provider: Provider, query: CallbackQuery) -> ResponseResult<()> {
    bot.answer_callback_query(query.id.clone()).await?;
    let Some(chat) = query.message.as_ref().map(|m| m.chat().id) else { return Ok(()) };
    match query.data.as_deref().unwrap_or_default() {
        "bill" => {
            bot.send_message(chat, "Which biller?").reply_markup(keyboard("Senelec", "senelec")).await?
        }
        "senelec" => bot.send_message(chat, "Your customer number?").await?,
        order => {
            let answer = provider.status(order).await;
            bot.send_message(chat, answer).reply_markup(keyboard("Refresh", order)).await?
        }
    };
    Ok(())
}

/// Runs the bare bot until the process is killed.
pub fn run() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let bot = Bot::from_env().set_api_url(
            std::env::var("TELOXIDE_API_URL").expect("TELOXIDE_API_URL").parse().expect("a URL"),
        );
        let handler = dptree::entry()
            .branch(Update::filter_message().endpoint(on_message))
            .branch(Update::filter_callback_query().endpoint(on_callback));
        Dispatcher::builder(bot, handler)
            .dependencies(dptree::deps![Provider::from_env()])
            .build()
            .dispatch()
            .await;
    });
}
