//! Saved references: kept per chat after an inquiry, with an optional nickname, listed first by
//! /bill for a one-tap re-check, renamed and deleted from their own list. Shown masked (last four
//! digits) in button labels, which anyone looking at the screen can read.

use super::menus::{self, button, labelled, page_of, pager};
use super::payload::Action;
use super::reply::{Button, Reply};
use super::session::{Replies, Session};
use super::state::State;
use crate::domain::CustomerReference;
use crate::store::{Op, SavedReference};
use crate::t;
use crate::views;

/// The longest nickname kept, in characters.
pub const MAX_NICKNAME_CHARS: usize = 32;
/// The most saved references a chat keeps.
pub const MAX_SAVED: usize = 10;

fn label(s: &Session<'_>, saved: &SavedReference, reference: &CustomerReference) -> String {
    let biller = views::biller_name(s.lang, saved.biller);
    match &saved.nickname {
        Some(name) => t!(
            s.lang,
            "saved-label-named",
            name = name.as_str(),
            biller = biller,
            reference = reference.masked()
        ),
        None => t!(s.lang, "saved-label", biller = biller, reference = reference.masked()),
    }
}

/// The button that re-checks a saved reference (none if the rules changed and it no longer parses).
pub(crate) fn recheck_button(s: &Session<'_>, saved: &SavedReference) -> Option<Button> {
    let reference = CustomerReference::parse(saved.biller, &saved.reference).ok()?;
    Some(labelled(format!("⭐ {}", label(s, saved, &reference)), Action::Inquire(reference)))
}

/// Saves the reference, then offers to name it.
pub(crate) async fn save(s: &mut Session<'_>, reference: CustomerReference) -> Replies {
    let existing = s.bot.store.saved_references(s.chat).await?;
    let known = existing.iter().find(|e| e.biller == reference.biller() && e.reference == reference.as_str());
    if known.is_none() && existing.len() >= MAX_SAVED {
        let keyboard = vec![
            vec![button(s.lang, "btn-manage-saved", Action::Saved(0))],
            vec![button(s.lang, "btn-menu", Action::Menu)],
        ];
        let text = t!(s.lang, "saved-full", max = MAX_SAVED.to_string());
        return Ok(vec![Reply::text(text).with_keyboard(keyboard)]);
    }
    let nickname = known.and_then(|e| e.nickname.clone());
    let save = Op::SaveReference { chat: s.chat.clone(), reference: reference.clone(), nickname, at: s.now };
    s.writes.push(save);
    let text = format!("{}\n{}", t!(s.lang, "saved-done"), t!(s.lang, "saved-ask-name"));
    s.state = State::NamingReference { reference };
    Ok(vec![Reply::text(text).with_keyboard(vec![vec![button(s.lang, "btn-skip", Action::Menu)]])])
}

/// Asks for a new nickname.
pub(crate) fn ask_name(s: &mut Session<'_>, reference: CustomerReference) -> Vec<Reply> {
    s.state = State::NamingReference { reference };
    vec![Reply::text(t!(s.lang, "saved-ask-name")).with_keyboard(vec![vec![button(
        s.lang,
        "btn-skip",
        Action::Menu,
    )]])]
}

/// The nickname typed for a saved reference.
pub(crate) fn name(s: &mut Session<'_>, reference: CustomerReference, text: &str) -> Replies {
    let name: String = text.trim().chars().take(MAX_NICKNAME_CHARS).collect();
    if name.is_empty() {
        return Ok(ask_name(s, reference));
    }
    let nickname = Some(name.clone());
    s.writes.push(Op::SaveReference { chat: s.chat.clone(), reference, nickname, at: s.now });
    s.state = State::Menu;
    Ok(vec![menus::main_menu(s, t!(s.lang, "saved-named", name = name))])
}

/// Saved references a page of the list shows: two buttons each, and room for the four of the
/// page's own (bill, menu, newer, older) within what the channel can offer.
fn per_page(s: &Session<'_>) -> usize {
    (s.caps.max_choices.saturating_sub(4) / 2).clamp(1, 10)
}

/// A page of the chat's saved references, each with rename and delete buttons (`deleted` is
/// left out: the step that deletes it shows the list before its writes are committed).
pub(crate) async fn list(s: &mut Session<'_>, page: usize, deleted: Option<&CustomerReference>) -> Replies {
    s.state = State::Menu;
    let mut saved = s.bot.store.saved_references(s.chat).await?;
    if let Some(gone) = deleted {
        saved.retain(|item| !(item.biller == gone.biller() && item.reference == gone.as_str()));
    }
    if saved.is_empty() {
        return Ok(vec![menus::main_menu(s, t!(s.lang, "saved-empty"))]);
    }
    let (page, pages, range) = page_of(saved.len(), per_page(s), page);
    let mut lines = vec![t!(s.lang, "saved-title")];
    let mut rows = Vec::new();
    for (n, item) in saved.iter().enumerate().skip(range.start).take(range.len()) {
        let Ok(reference) = CustomerReference::parse(item.biller, &item.reference) else { continue };
        let n = (n + 1) as u64;
        lines.push(format!("{n}. {}", label(s, item, &reference)));
        rows.push(vec![
            labelled(t!(s.lang, "btn-rename", n = n), Action::Rename(reference.clone())),
            labelled(t!(s.lang, "btn-delete", n = n), Action::Delete(reference)),
        ]);
    }
    rows.push(pager(s.lang, page, pages, Action::Saved));
    rows.push(vec![button(s.lang, "btn-bill", Action::Bill), button(s.lang, "btn-menu", Action::Menu)]);
    rows.retain(|row| !row.is_empty());
    Ok(vec![Reply::text(lines.join("\n")).with_keyboard(rows)])
}

/// Forgets a saved reference and shows what is left.
pub(crate) async fn delete(s: &mut Session<'_>, reference: CustomerReference) -> Replies {
    s.writes.push(Op::DeleteReference { chat: s.chat.clone(), reference: reference.clone() });
    let mut replies = list(s, 0, Some(&reference)).await?;
    if let Some(first) = replies.first_mut() {
        first.text =
            format!("{}\n\n{}", t!(s.lang, "saved-deleted", reference = reference.masked()), first.text);
    }
    Ok(replies)
}
