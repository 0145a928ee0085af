//! Keyboards and the replies built around them.

use super::payload::Action;
use super::reply::{Button, Reply};
use super::session::Session;
use crate::domain::Role;
use crate::i18n::Lang;
use crate::t;

/// A button labelled with message `label_id` that performs `action`.
pub(crate) fn button(lang: Lang, label_id: &str, action: Action) -> Button {
    Button { label: t!(lang, label_id), payload: action.encode() }
}

/// A button with a label computed elsewhere.
pub(crate) fn labelled(label: String, action: Action) -> Button {
    Button { label, payload: action.encode() }
}

/// The row that leads back to the main menu.
pub(crate) fn menu_row(lang: Lang) -> Vec<Button> {
    vec![button(lang, "btn-menu", Action::Menu)]
}

/// The main menu's buttons. Agents also get the merchant history.
pub(crate) fn main_keyboard(lang: Lang, role: Role, support: bool) -> Vec<Vec<Button>> {
    let mut rows = vec![
        vec![button(lang, "btn-bill", Action::Bill), button(lang, "btn-status", Action::AskOrder)],
        vec![button(lang, "btn-orders", Action::Orders(0)), button(lang, "btn-lang", Action::Lang(None))],
    ];
    if role == Role::Agent {
        rows.push(vec![button(lang, "btn-history", Action::History(0))]);
    }
    let mut last = vec![button(lang, "btn-help", Action::Help)];
    if support {
        last.push(button(lang, "btn-support", Action::Support));
    }
    rows.push(last);
    rows
}

/// `text`, then the main menu's prompt and buttons.
pub(crate) fn main_menu(s: &Session<'_>, text: String) -> Reply {
    let text = format!("{text}\n\n{}", t!(s.lang, "menu-prompt"));
    Reply::text(text).with_keyboard(main_keyboard(s.lang, s.role, s.bot.support.is_some()))
}

/// The language buttons, each labelled in its own language.
pub(crate) fn lang_keyboard(lang: Lang) -> Vec<Vec<Button>> {
    vec![
        Lang::ALL.iter().map(|l| labelled(t!(*l, "lang-name"), Action::Lang(Some(*l)))).collect(),
        menu_row(lang),
    ]
}

/// What a customer can do about their open request `id`: close it, or go to the menu (under the
/// support dialogue's own replies and under agents' answers alike).
pub(crate) fn ticket_keyboard(lang: Lang, id: &str) -> Vec<Vec<Button>> {
    vec![vec![button(lang, "btn-close-my-ticket", Action::CloseTicket(id.to_owned()))], menu_row(lang)]
}

/// Buttons to move between pages, where there is somewhere to go.
pub(crate) fn pager(lang: Lang, page: usize, pages: usize, to: fn(usize) -> Action) -> Vec<Button> {
    let mut row = Vec::new();
    if page > 0 {
        row.push(button(lang, "btn-newer", to(page - 1)));
    }
    if page + 1 < pages {
        row.push(button(lang, "btn-older", to(page + 1)));
    }
    row
}

/// The page `page` (clamped) of `total` items, `per_page` a page: (page, page count, range).
pub(crate) fn page_of(total: usize, per_page: usize, page: usize) -> (usize, usize, std::ops::Range<usize>) {
    let pages = total.div_ceil(per_page).max(1);
    let page = page.min(pages - 1);
    let start = page * per_page;
    (page, pages, start..(start + per_page).min(total))
}
