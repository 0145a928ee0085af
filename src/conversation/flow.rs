//! One step of the dialogue: route an input to what it asks for.

use super::input::Input;
use super::payload::Action;
use super::reply::Reply;
use super::session::{Replies, Session};
use super::state::State;
use super::{bill, forget, lists, menus, order, reminders, saved, support};
use crate::domain::separators::without_separators;
use crate::domain::{Biller, OrderNo, Role};
use crate::i18n::Lang;
use crate::store::Op;
use crate::t;

/// The first message of a chat on a channel that tells no language (WhatsApp): a short greeting
/// in both languages with the choice of one. Whatever else the message asked is answered after
/// it, in the language the channel guessed; a plain hello only gets the greeting.
pub(crate) async fn first_contact(s: &mut Session<'_>, input: Input) -> Replies {
    let text = Lang::ALL.iter().map(|lang| t!(*lang, "first-contact")).collect::<Vec<_>>().join("\n\n");
    let greeting = Reply::text(text).with_keyboard(vec![
        Lang::ALL.iter().map(|l| menus::labelled(t!(*l, "lang-name"), Action::Lang(Some(*l)))).collect(),
    ]);
    let only_hello = match &input {
        Input::Command { name, .. } => matches!(name.as_str(), "start" | "menu"),
        Input::Text(text) => text.trim().is_empty(),
        Input::Button(_) => false,
    };
    if only_hello {
        s.state = State::ChoosingLanguage;
        return Ok(vec![greeting]);
    }
    let mut replies = vec![greeting];
    replies.extend(step(s, input).await?);
    Ok(replies)
}

pub(crate) async fn step(s: &mut Session<'_>, input: Input) -> Replies {
    match input {
        Input::Command { name, arg } => command(s, &name, arg.as_deref()).await,
        Input::Button(payload) => match Action::open(&payload, s.bot.payloads.get().await?, s.chat) {
            Some(action) => {
                // Paging through a list, or opening the language choice or help from a menu,
                // reads best in place; results and new steps come as new messages.
                let in_place = matches!(
                    action,
                    Action::Orders(_)
                        | Action::History(_)
                        | Action::Lang(None)
                        | Action::Help
                        | Action::Saved(_)
                );
                let mut replies = act(s, action).await?;
                if let Some(first) = replies.first_mut() {
                    first.edit_in_place = in_place && s.caps.can_edit;
                }
                Ok(replies)
            }
            None => {
                let payload = crate::domain::reference::mask_numbers(&payload);
                tracing::info!(chat = %s.chat, payload, "expired, unknown or forged button");
                Ok(vec![expired(s)])
            }
        },
        Input::Text(text) => text_input(s, &text).await,
    }
}

/// "This menu has expired" and a fresh menu: the answer to a button that does not decode, is
/// not this chat's, or asks what the chat can no longer have.
fn expired(s: &mut Session<'_>) -> Reply {
    s.state = State::Menu;
    menus::main_menu(s, t!(s.lang, "menu-expired"))
}

async fn command(s: &mut Session<'_>, name: &str, arg: Option<&str>) -> Replies {
    match (name, arg) {
        ("start", _) => {
            s.state = State::Menu;
            Ok(vec![menus::main_menu(s, t!(s.lang, "greeting"))])
        }
        ("menu", _) => act(s, Action::Menu).await,
        ("bill", _) => act(s, Action::Bill).await,
        ("status", Some(typed)) => order::check_typed(s, typed).await,
        ("status", None) => act(s, Action::AskOrder).await,
        ("orders", _) => act(s, Action::Orders(0)).await,
        ("lang", Some(code)) => match code.parse::<Lang>() {
            Ok(lang) => act(s, Action::Lang(Some(lang))).await,
            Err(_) => act(s, Action::Lang(None)).await,
        },
        ("lang", None) => act(s, Action::Lang(None)).await,
        ("history", _) => act(s, Action::History(0)).await,
        ("reminders", _) => act(s, Action::Reminders).await,
        ("support", _) => act(s, Action::Support).await,
        ("forget", _) => act(s, Action::Forget(false)).await,
        ("help", _) => act(s, Action::Help).await,
        ("cancel", _) => {
            s.state = State::Menu;
            Ok(vec![menus::main_menu(s, t!(s.lang, "cancel-done"))])
        }
        (other, _) => {
            s.state = State::Menu;
            let text = format!("{}\n\n{}", t!(s.lang, "unknown-command", name = other), help_text(s));
            Ok(vec![menus::main_menu(s, text)])
        }
    }
}

fn help_text(s: &Session<'_>) -> String {
    let mut text = t!(s.lang, "help");
    if s.bot.support.is_some() {
        text.push('\n');
        text.push_str(&t!(s.lang, "help-support"));
    }
    if s.role == Role::Agent {
        text.push('\n');
        text.push_str(&t!(s.lang, "help-agent"));
    }
    text
}

pub(crate) async fn act(s: &mut Session<'_>, action: Action) -> Replies {
    match action {
        Action::Menu => {
            s.state = State::Menu;
            Ok(vec![menus::main_menu(s, t!(s.lang, "menu-title"))])
        }
        Action::Bill => Ok(bill::choose_biller(s, None).await),
        Action::Biller(biller) => Ok(bill::ask_reference(s, biller)),
        Action::Inquire(reference) => bill::inquire(s, reference).await,
        Action::OtherBiller(reference) => Ok(vec![bill::other_biller(s, &reference)]),
        Action::Remind { reference, due_day, days } if reminders::may_set(s, &reference, due_day) => {
            reminders::set(s, reference, due_day, days).await
        }
        // A bill the chat never looked up, or a due day it was not shown: nothing is looked up
        // or written.
        Action::Remind { .. } => {
            tracing::info!(chat = %s.chat, "a reminder of a bill the chat was not shown");
            Ok(vec![expired(s)])
        }
        Action::Reminders => reminders::list(s, None, None).await,
        Action::Support => support::start(s, None).await,
        Action::SupportOrder(order_no) => support::start(s, Some(order_no.to_string())).await,
        Action::SupportReference(r) => {
            let about = format!("{} {}", crate::views::biller_name(s.lang, r.biller()), r.as_str());
            support::start(s, Some(about)).await
        }
        Action::CloseTicket(id) => support::close(s, &id).await,
        Action::CancelReminder(reference) => reminders::cancel(s, reference).await,
        Action::Save(reference) => saved::save(s, reference).await,
        Action::Saved(page) => saved::list(s, page, None).await,
        Action::Rename(reference) => Ok(saved::ask_name(s, reference)),
        Action::Delete(reference) => saved::delete(s, reference).await,
        Action::AskOrder => Ok(order::ask(s)),
        Action::Order(order_no) => order::check(s, order_no).await,
        Action::Watch(order_no) => order::watch(s, order_no).await,
        Action::Claim(order_no) => order::ask_proof(s, order_no).await,
        Action::Orders(page) => lists::orders(s, page).await,
        Action::History(page) => lists::history(s, page).await,
        Action::Lang(None) => {
            s.state = State::ChoosingLanguage;
            Ok(vec![Reply::text(t!(s.lang, "lang-choose")).with_keyboard(menus::lang_keyboard(s.lang))])
        }
        Action::Lang(Some(lang)) => {
            s.writes.push(Op::Lang { chat: s.chat.clone(), lang });
            s.prefs.lang = Some(lang);
            s.lang = lang;
            s.state = State::Menu;
            Ok(vec![menus::main_menu(s, t!(lang, "lang-set"))])
        }
        Action::Help => {
            s.state = State::Menu;
            Ok(vec![menus::main_menu(s, help_text(s))])
        }
        Action::Forget(false) => Ok(forget::ask(s)),
        // Only as the answer to the question: a "yes" pressed on an old message asks again.
        Action::Forget(true) if s.state == State::ConfirmingForget => Ok(forget::erase(s)),
        Action::Forget(true) => Ok(forget::ask(s)),
    }
}

async fn text_input(s: &mut Session<'_>, text: &str) -> Replies {
    // An open request to support takes what is typed, unless a step waits for a precise answer.
    let listening = matches!(
        s.state,
        State::Menu | State::AfterBill { .. } | State::ChoosingBiller | State::ChoosingLanguage
    );
    if listening && let Some(ticket) = support::open_ticket(s).await {
        return support::relay(s, ticket, text);
    }
    match s.state.clone() {
        State::AwaitingReference { biller } => bill::typed_reference(s, biller, text).await,
        State::AwaitingOrderNo => order::check_typed(s, text).await,
        State::AwaitingQuestion { about } => support::open(s, text, about).await,
        State::AfterBill { biller } => match bill::same_biller(biller, text) {
            Some(reference) => bill::inquire_assumed(s, reference).await,
            None => understand(s, text).await,
        },
        State::ChoosingBiller => match biller_named(text) {
            Some(biller) => Ok(bill::ask_reference(s, biller)),
            None if has_digits(text) => understand(s, text).await,
            None => Ok(bill::choose_biller(s, Some(t!(s.lang, "bill-choose-hint"))).await),
        },
        // Anything but a language is taken as it would be at the menu: someone who just types
        // gets an answer in the language they have, and may pick one later.
        State::ChoosingLanguage => match lang_named(text) {
            Some(lang) => act(s, Action::Lang(Some(lang))).await,
            None => understand(s, text).await,
        },
        State::NamingReference { reference } => saved::name(s, reference, text),
        State::AwaitingProof { order_no } => order::proof(s, order_no, text).await,
        // Anything but the "yes" button keeps everything.
        State::ConfirmingForget => {
            s.state = State::Menu;
            let kept = t!(s.lang, "forget-kept");
            match understand(s, text).await? {
                mut replies if !replies.is_empty() => {
                    replies[0].text = format!("{kept}\n\n{}", replies[0].text);
                    Ok(replies)
                }
                _ => Ok(vec![menus::main_menu(s, kept)]),
            }
        }
        State::Menu => understand(s, text).await,
    }
}

fn has_digits(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit())
}

/// A biller typed by name ("senelec", "Woyofal", "SENEAU_SN_BILL").
fn biller_named(text: &str) -> Option<Biller> {
    let word = text.trim().to_lowercase();
    Biller::ALL.into_iter().find(|b| word == b.key() || word == b.service_code().to_lowercase())
}

fn lang_named(text: &str) -> Option<Lang> {
    match text.trim().to_lowercase().as_str() {
        "fr" | "français" | "francais" | "french" => Some(Lang::Fr),
        "en" | "english" | "anglais" => Some(Lang::En),
        _ => None,
    }
}

/// Free text at the main menu: an order number, a reference, or something we did not get.
async fn understand(s: &mut Session<'_>, text: &str) -> Replies {
    if OrderNo::looks_like(text) {
        return order::check_typed(s, text).await;
    }
    let digits = without_separators(text);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        let longest_reference = Biller::ALL.iter().map(|b| b.reference_rule().max_digits).max().unwrap_or(0);
        if digits.len() > longest_reference {
            return order::check_typed(s, &digits).await;
        }
        if let Some(reply) = bill::which_biller(s, &digits) {
            return Ok(vec![reply]);
        }
    }
    s.state = State::Menu;
    Ok(vec![menus::main_menu(s, t!(s.lang, "not-understood"))])
}
