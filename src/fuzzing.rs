//! The fuzz targets' bodies: one function per target of `fuzz/` (cargo-fuzz), each feeding raw
//! bytes to the real parsing code and asserting what must hold of any answer, not only that
//! nothing panics. `tests/fuzz_corpus.rs` runs the committed corpus and the regressions through
//! the same functions on stable, in every `cargo test`.
//!
//! A failed assertion here is a bug of billbot (or of an invariant written here): the input that
//! found it goes to `fuzz/regressions/<target>/` and a named test.
//!
//! Compiled only with the `fuzzing` feature (the fuzz crate and the crate's own tests turn it
//! on), so that what the targets reach into stays private to the bot.

use std::collections::HashSet;
use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use secrecy::SecretString;
use sha2::Sha256;

use crate::channels::intake::Inbound;
use crate::channels::telegram::{self, Agents};
use crate::channels::text::units;
use crate::channels::whatsapp::render::{self as wa, Outgoing};
use crate::channels::whatsapp::wire::Webhook;
use crate::channels::whatsapp::{guess_lang, webhook};
use crate::conversation::payload::{self, MAX_PAYLOAD_BYTES};
use crate::conversation::{Action, Button, Input, PayloadKey, Reply};
use crate::domain::order::{ORDER_NO_MAX_DIGITS, ORDER_NO_MIN_DIGITS};
use crate::domain::privacy::{locality, recognizable_name};
use crate::domain::reference::{mask_tail, mask_words};
use crate::domain::{
    Biller, Capabilities, ChatKey, Currency, CustomerReference, InquiryResult, Money, Order, OrderNo,
    OrderNoError, OrderStatus, ReferenceError,
};
use crate::i18n::Lang;
use crate::tracking::callback::CallbackBody;
use crate::upstream::{StatusClient, UpstreamError, inquiry};

/// The bytes as text, as a channel would hand them over (invalid UTF-8 replaced).
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// What any [`Input`] must be, whatever was typed: commands named, trimmed, and a JSON round trip.
fn check_input(input: &Input) {
    match input {
        Input::Command { name, arg } => {
            assert!(!name.is_empty(), "a command without a name: {input:?}");
            assert!(!name.contains('@') && !name.contains(char::is_whitespace), "command name {name:?}");
            if let Some(arg) = arg {
                assert!(!arg.is_empty() && arg.trim() == arg, "command argument {arg:?}");
            }
        }
        Input::Text(t) => assert_eq!(t.trim(), t, "text input not trimmed"),
        Input::Button(_) => {}
    }
    let json = serde_json::to_string(input).expect("an input serializes");
    let back: Input = serde_json::from_str(&json).expect("an input deserializes");
    assert_eq!(&back, input, "input JSON round trip");
}

/// Customer references: [`CustomerReference::parse`] for every biller, the masks, and what a
/// typed message becomes ([`Input::from_text`]).
/// Reads an inquiry answer as the client does (for the regression tests of `provider_answers`).
pub fn decode_answer(
    status: StatusCode,
    body: &[u8],
    reference: &CustomerReference,
    key: &SecretString,
) -> Result<InquiryResult, UpstreamError> {
    inquiry::decode_answer(status, body, reference, key)
}

/// Reads a status answer as `client` does (for the regression tests of `provider_answers`).
pub fn decode_status(client: &StatusClient, status: StatusCode, body: &[u8]) -> Result<Order, UpstreamError> {
    client.decode_status(status, body)
}

pub fn references(data: &[u8]) {
    let input = text(data);
    for biller in Biller::ALL {
        match CustomerReference::parse(biller, &input) {
            Ok(reference) => {
                let digits = reference.as_str();
                let rule = biller.reference_rule();
                assert!(digits.bytes().all(|b| b.is_ascii_digit()), "non-digit in {digits:?}");
                assert!((rule.min_digits..=rule.max_digits).contains(&digits.len()), "length of {digits:?}");
                assert_eq!(reference.biller(), biller);
                assert_eq!(reference.to_string(), digits);
                // Only separators were dropped: the digits typed are the digits kept.
                let typed: String = input.chars().filter(char::is_ascii_digit).collect();
                assert_eq!(typed, digits);
                assert_eq!(CustomerReference::parse(biller, digits).as_ref(), Ok(&reference), "re-parse");
                let masked = reference.masked();
                assert_eq!(masked.chars().count(), digits.len());
                assert!(masked.ends_with(&digits[digits.len().saturating_sub(4)..]), "{masked:?}");
                assert!(masked.chars().take(digits.len().saturating_sub(4)).all(|c| c == '•'), "{masked:?}");
                let json = serde_json::to_string(&reference).expect("a reference serializes");
                let back: CustomerReference = serde_json::from_str(&json).expect("a reference deserializes");
                assert_eq!(back, reference);
                // A payload made of it fits every channel and decodes to the same reference.
                for action in [
                    Action::Inquire(reference.clone()),
                    Action::Save(reference.clone()),
                    Action::Rename(reference.clone()),
                    Action::Delete(reference.clone()),
                ] {
                    let payload = action.sealed(payload_key(), &payload_chat());
                    assert!(payload.len() <= MAX_PAYLOAD_BYTES, "{payload:?} is too long");
                    assert_eq!(Action::open(&payload, payload_key(), &payload_chat()), Some(action));
                }
            }
            Err(ReferenceError::Empty) => {
                assert!(!input.chars().any(|c| c.is_ascii_digit()), "digits in an empty reference");
            }
            Err(ReferenceError::InvalidCharacter { found }) => {
                assert!(!found.is_ascii_digit() && input.contains(found), "invalid {found:?}");
            }
            Err(ReferenceError::TooShort { min, actual }) => assert!(actual < min && actual > 0),
            Err(ReferenceError::TooLong { max, actual }) => assert!(actual > max),
        }
    }
    let words = mask_words(&input);
    assert_eq!(words.split_whitespace().count(), input.split_whitespace().count(), "{words:?}");
    for (masked, word) in words.split_whitespace().zip(input.split_whitespace()) {
        let first = word.chars().next().expect("a word has a character");
        if word.chars().count() == 1 {
            assert_eq!(masked, word);
        } else {
            assert_eq!(masked, format!("{first}•••"), "mask of {word:?}");
        }
    }
    let tail = mask_tail(&input, 4);
    assert_eq!(tail.chars().count(), input.chars().count());
    recognizable(&input);
    check_input(&Input::from_text(&input));
}

/// What a stranger sees of a name and an address made of `input`: the first word at most 24
/// characters, at most 4 initials after it, and a locality that is one of the address's parts.
fn recognizable(input: &str) {
    let name = recognizable_name(input);
    let words: Vec<&str> = name.split_whitespace().collect();
    assert!(words.len() <= 5, "{name:?}");
    if let Some((first, initials)) = words.split_first() {
        assert!(first.chars().count() <= 24, "{first:?}");
        for initial in initials {
            assert!(initial.ends_with('.') && initial.chars().count() == 2, "{initial:?} in {name:?}");
        }
    }
    if let Some(place) = locality(input) {
        assert!(input.split(',').map(str::trim).any(|part| part == place), "{place:?} is a part");
        assert!(!place.chars().any(char::is_numeric) && place.chars().count() <= 32, "{place:?}");
    }
}

/// Order numbers: [`OrderNo::parse`], its canonical form, serde, and the provider's status words.
pub fn order_numbers(data: &[u8]) {
    let input = text(data);
    match OrderNo::parse(&input) {
        Ok(order) => {
            let digits = order.digits();
            assert!(digits.bytes().all(|b| b.is_ascii_digit()), "non-digit in {digits:?}");
            assert!((ORDER_NO_MIN_DIGITS..=ORDER_NO_MAX_DIGITS).contains(&digits.len()));
            let shown = order.to_string();
            assert_eq!(shown, format!("GB - {digits}"));
            assert_eq!(OrderNo::parse(&shown).as_ref(), Ok(&order), "canonical form re-parses");
            assert_eq!(OrderNo::parse(digits).as_ref(), Ok(&order), "digits re-parse");
            assert_eq!(shown.parse::<OrderNo>().as_ref(), Ok(&order));
            let json = serde_json::to_string(&order).expect("an order number serializes");
            assert_eq!(json, format!("\"{shown}\""));
            let back: OrderNo = serde_json::from_str(&json).expect("an order number deserializes");
            assert_eq!(back, order);
            for action in
                [Action::Order(order.clone()), Action::Watch(order.clone()), Action::Claim(order.clone())]
            {
                let payload = action.sealed(payload_key(), &payload_chat());
                assert!(payload.len() <= MAX_PAYLOAD_BYTES, "{payload:?} is too long");
                assert_eq!(Action::open(&payload, payload_key(), &payload_chat()), Some(action));
            }
        }
        Err(OrderNoError::Empty) => assert!(input.chars().all(crate::domain::separators::is_separator)),
        Err(OrderNoError::InvalidCharacter { found }) => {
            assert!(!found.is_ascii_digit() && input.contains(found), "invalid {found:?}");
        }
        Err(OrderNoError::WrongLength { actual }) => {
            assert!(!(ORDER_NO_MIN_DIGITS..=ORDER_NO_MAX_DIGITS).contains(&actual));
        }
    }
    // JSON: a string that is no order number is refused, never accepted half-read.
    if let Ok(json) = serde_json::to_string(&*input) {
        let parsed: Result<OrderNo, _> = serde_json::from_str(&json);
        assert_eq!(parsed.ok(), OrderNo::parse(&input).ok());
    }
    for refunded in [false, true] {
        let status = OrderStatus::from_provider(&input, refunded);
        if refunded {
            assert_eq!(status, OrderStatus::Refunded);
        }
        assert_eq!(status.is_final(), status != OrderStatus::Pending && status != OrderStatus::Unknown);
    }
    // The recipient's last digits, which a customer types to claim an order.
    let order = Order {
        order_no: None,
        trx: None,
        reference: None,
        status: OrderStatus::Unknown,
        provider_status: String::new(),
        message: None,
        service_type: None,
        provider: None,
        recipient: Some(input.to_string()),
        amount: None,
        fee: None,
        purchased_code: None,
        units: None,
        refunded: false,
        created_at: None,
        updated_at: None,
        merchant: Default::default(),
    };
    if let Some(last) = order.recipient_last_digits() {
        assert_eq!(last.len(), 4);
        assert!(last.bytes().all(|b| b.is_ascii_digit()));
    }
}

/// The key the payload targets sign with (a fixed one: the corpus holds payloads it signed).
pub fn payload_key() -> &'static PayloadKey {
    static KEY: OnceLock<PayloadKey> = OnceLock::new();
    KEY.get_or_init(|| PayloadKey::new(b"fuzz payload key"))
}

/// The chat the payload targets' buttons are sent to.
pub fn payload_chat() -> ChatKey {
    ChatKey::telegram(4242)
}

/// Another chat, where that chat's signed buttons must be refused.
fn other_chat() -> ChatKey {
    ChatKey::whatsapp("221770004242")
}

/// Button payloads, as pressed and as made:
///
/// - whatever [`Action::open`] accepts is exactly the text [`Action::sealed`] makes of its action
///   for that chat (nothing else is read), signed if and only if the action carries data, and
///   such a payload is refused in another chat;
/// - what the bytes say as a payload a step made (`v1:…` or `v2:…` before its tag, either version
///   over the same body: the corpus holds payloads of before signing), sealed for the chat, fits
///   every channel and opens to the same action there; a signed one is refused unsigned, in
///   another chat, cut short, or with any one byte changed.
pub fn payloads(data: &[u8]) {
    let payload = text(data);
    let (key, chat) = (payload_key(), payload_chat());
    if let Some(action) = Action::open(&payload, key, &chat) {
        assert_eq!(action.sealed(key, &chat), payload, "only the encoder's own text is accepted");
        assert_eq!(payload.starts_with("v2:"), action.carries_data(), "{payload:?} signed or not");
        let elsewhere = Action::open(&payload, key, &other_chat());
        assert_eq!(elsewhere.is_some(), !action.carries_data(), "{payload:?} in another chat");
    }
    if let Some((_, body)) = payload.split_once(':') {
        for version in ["v1", "v2"] {
            if let Some(action) = Action::decode_unsealed(&format!("{version}:{body}")) {
                check_sealed(&action, key, &chat);
            }
        }
    }
    check_input(&Input::Button(payload.to_string()));
}

/// What must hold of `action`'s button sent to `chat` (see [`payloads`]).
fn check_sealed(action: &Action, key: &PayloadKey, chat: &ChatKey) {
    let sealed = action.sealed(key, chat);
    assert!(sealed.len() <= MAX_PAYLOAD_BYTES, "{sealed:?} is over {MAX_PAYLOAD_BYTES} bytes");
    assert!(sealed.len() <= Capabilities::TELEGRAM.max_payload_bytes);
    assert!(sealed.len() <= Capabilities::WHATSAPP.max_payload_bytes);
    assert_eq!(Action::open(&sealed, key, chat).as_ref(), Some(action), "{sealed:?} does not round-trip");
    assert_eq!(payload::seal(&action.encode(), key, chat), sealed, "a step's button, sealed");
    assert_eq!(payload::seal(&sealed, key, chat), sealed, "sealed twice");
    if !action.carries_data() {
        return;
    }
    assert_eq!(Action::open(&action.encode(), key, chat), None, "unsigned {action:?} accepted");
    assert_eq!(Action::open(&sealed, key, &other_chat()), None, "{sealed:?} accepted in another chat");
    for end in 0..sealed.len() {
        assert_eq!(Action::open(&sealed[..end], key, chat), None, "{sealed:?} cut at {end} accepted");
    }
    let mut bytes = sealed.clone().into_bytes();
    for i in 0..bytes.len() {
        let original = bytes[i];
        for changed in [original ^ 0x01, original ^ 0x20, b':', b'0'] {
            bytes[i] = changed;
            if let (false, Ok(altered)) = (changed == original, std::str::from_utf8(&bytes)) {
                assert_eq!(Action::open(altered, key, chat), None, "{altered:?} (from {sealed:?}) accepted");
            }
        }
        bytes[i] = original;
    }
}

/// The API key the provider targets scrub from messages.
const KEY: &str = "fuzz-provider-key";

fn key() -> &'static SecretString {
    static KEY_SECRET: OnceLock<SecretString> = OnceLock::new();
    KEY_SECRET.get_or_init(|| SecretString::from(KEY))
}

/// One status client per currency, built once (no request is ever sent).
fn status_client(currency: Currency) -> &'static StatusClient {
    static XOF: OnceLock<StatusClient> = OnceLock::new();
    static NGN: OnceLock<StatusClient> = OnceLock::new();
    let cell = match currency {
        Currency::Xof => &XOF,
        Currency::Ngn => &NGN,
    };
    cell.get_or_init(|| {
        let base = reqwest::Url::parse("https://provider.invalid/api/").expect("a valid URL");
        StatusClient::new(base, key().clone(), "fuzz-merchant", currency, Default::default())
            .expect("a status client")
    })
}

/// What any typed error must be: a provider message on one short line, without the key.
fn check_error(e: &UpstreamError) {
    let shown = e.to_string();
    assert!(!shown.contains(KEY), "the key leaked: {shown:?}");
    if let UpstreamError::NotFound { message: Some(m) } = e {
        assert!(!m.is_empty() && !m.contains('\n'), "provider message {m:?}");
        assert!(m.chars().count() <= 301, "provider message of {} characters", m.chars().count());
        assert!(!m.contains(KEY), "the key leaked: {m:?}");
    }
}

/// A decoded amount: a decimal in the configured currency, whose text reads back the same.
fn check_money(money: &Money, currency: Currency) {
    assert_eq!(money.currency(), currency);
    let back: Decimal = money.amount().to_string().parse().expect("an amount's text is a decimal");
    assert_eq!(back, money.amount());
}

fn check_order(order: &Order, currency: Currency) {
    if let Some(no) = &order.order_no {
        assert_eq!(OrderNo::parse(&no.to_string()).as_ref(), Ok(no));
    }
    if order.refunded {
        assert_eq!(order.status, OrderStatus::Refunded);
    }
    assert_eq!(order.status, OrderStatus::from_provider(&order.provider_status, order.refunded));
    let m = &order.merchant;
    for money in [&order.amount, &order.fee, &m.paid, &m.discount, &m.voucher, &m.init_bal, &m.new_bal]
        .into_iter()
        .chain([&m.cg, &m.init_cg, &m.new_cg])
        .flatten()
    {
        check_money(money, currency);
    }
    if let Some(last) = order.recipient_last_digits() {
        assert!(last.len() == 4 && last.bytes().all(|b| b.is_ascii_digit()));
    }
}

/// Provider answers, inquiry and status alike: the bytes as the body of a 200, 400 and 404
/// answer of the Bill Inquiry (for each biller), the status and the history endpoints.
pub fn provider_answers(data: &[u8]) {
    for status in [StatusCode::OK, StatusCode::BAD_REQUEST, StatusCode::NOT_FOUND] {
        for biller in Biller::ALL {
            let digits = if biller == Biller::Woyofal { "14000000001" } else { "1000000001" };
            let reference = CustomerReference::parse(biller, digits).expect("a valid reference");
            match inquiry::decode_answer(status, data, &reference, key()) {
                Ok(result) => {
                    assert!(status.is_success(), "{status} decoded as a result");
                    assert_eq!(result.reference(), &reference);
                    match result {
                        InquiryResult::Bills { bills, .. } => {
                            assert_ne!(biller, Biller::Woyofal, "a meter's answer read as bills");
                            assert!(!bills.is_empty(), "a result with no bill");
                            for bill in &bills {
                                for money in [&bill.amount, &bill.fee, &bill.total] {
                                    check_money(money, Currency::Xof);
                                    assert!(
                                        !money.amount().is_sign_negative() || money.is_zero(),
                                        "a negative amount to pay: {money}"
                                    );
                                }
                            }
                        }
                        InquiryResult::Meter { .. } => assert_eq!(biller, Biller::Woyofal),
                    }
                }
                Err(e) => check_error(&e),
            }
        }
        for currency in [Currency::Xof, Currency::Ngn] {
            let client = status_client(currency);
            match client.decode_status(status, data) {
                Ok(order) => {
                    assert!(status.is_success(), "{status} decoded as an order");
                    check_order(&order, currency);
                }
                Err(e) => check_error(&e),
            }
            match client.decode_history(status, data) {
                Ok(history) => {
                    assert!(status.is_success(), "{status} decoded as a history");
                    for order in &history.orders {
                        check_order(order, currency);
                    }
                }
                Err(e) => check_error(&e),
            }
        }
    }
}

/// The provider's status callback body, read as the callback route reads it: a [`CallbackBody`],
/// then the order number from `trx`, else `reference`.
pub fn callback(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<CallbackBody>(data) else { return };
    for field in [&body.event, &body.status, &body.provider, &body.recipient, &body.trx, &body.reference]
        .into_iter()
        .chain([&body.error_msg])
        .flatten()
    {
        assert!(!field.trim().is_empty(), "a blank field kept: {field:?}");
    }
    let order_no = [&body.trx, &body.reference].into_iter().flatten().find_map(|c| OrderNo::parse(c).ok());
    if let Some(order_no) = order_no {
        assert_eq!(OrderNo::parse(&order_no.to_string()).as_ref(), Ok(&order_no));
    }
    // Status words are read in any case.
    let word = body.status.as_deref().unwrap_or_default();
    let status = OrderStatus::from_provider(word, false);
    assert_eq!(status, OrderStatus::from_provider(&word.to_ascii_uppercase(), false), "{word:?}");
}

/// Telegram updates: any JSON deserializes into an [`Update`](teloxide::types::Update) or fails
/// cleanly; an update that makes an inbound gives one that goes through the store's JSON intact.
pub fn telegram_update(data: &[u8]) {
    let Ok(update) = serde_json::from_slice::<teloxide::types::Update>(data) else { return };
    let agents = Agents(HashSet::from([42]));
    let telegram::Read::Message(inbound) = telegram::read(&agents, Some(123_456), &update) else { return };
    assert_eq!(inbound.order, i64::from(update.id.0));
    assert_eq!(inbound.id, format!("{}{}", telegram::INBOX_PREFIX, update.id.0));
    check_input(&inbound.input);
    let json = serde_json::to_value(&inbound).expect("an inbound serializes");
    let back: Inbound = serde_json::from_value(json.clone()).expect("an inbound deserializes");
    assert_eq!(serde_json::to_value(&back).expect("an inbound serializes"), json, "inbound round trip");
    assert_eq!(back.input, inbound.input);
    if inbound.agent {
        assert_eq!(update.from().map(|u| u.id.0), Some(42), "an agent who is not one");
    }
    if inbound.sender_id.is_some() {
        assert_eq!(inbound.sender_id, update.from().map(|u| u.id.0.to_string()), "the sender is who sent it");
    }
}

/// A reply made of the bytes: text, then buttons separated by NUL (`label` SOH `payload`), a
/// button starting with STX opening a new row.
fn reply_of(data: &[u8]) -> Reply {
    let all = text(data);
    let mut parts = all.split('\0');
    let text = parts.next().unwrap_or_default().to_owned();
    let mut keyboard: Vec<Vec<Button>> = Vec::new();
    for part in parts {
        let (new_row, part) = match part.strip_prefix('\u{2}') {
            Some(rest) => (true, rest),
            None => (false, part),
        };
        let (label, payload) = part.split_once('\u{1}').unwrap_or((part, part));
        let button = Button { label: label.to_owned(), payload: payload.to_owned() };
        match keyboard.last_mut() {
            Some(row) if !new_row => row.push(button),
            _ => keyboard.push(vec![button]),
        }
    }
    Reply { text, keyboard, edit_in_place: false }
}

/// The text of Telegram HTML made by `render::to_html`: only `<b>`, `</b>` and the three entities.
fn unescape_telegram(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&', '>']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let known = ["<b>", "</b>", "&lt;", "&gt;", "&amp;"]
            .into_iter()
            .find(|t| rest.starts_with(t))
            .unwrap_or_else(|| panic!("unescaped markup at {:?}", &rest[..rest.len().min(20)]));
        out.push_str(match known {
            "&lt;" => "<",
            "&gt;" => ">",
            "&amp;" => "&",
            _ => "",
        });
        rest = &rest[known.len()..];
    }
    out + rest
}

fn non_blank(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Replies as Telegram and WhatsApp messages: within every length limit, escaped, nothing lost.
pub fn render(data: &[u8]) {
    let reply = reply_of(data);
    // Telegram: HTML within 4096 units once parsed, only the bold heading as markup.
    let messages = telegram::render::messages(&reply);
    assert!(!messages.is_empty());
    let mut shown = String::new();
    for (i, html) in messages.iter().enumerate() {
        assert_eq!(html.starts_with("<b>"), i == 0, "bold heading of message {i}");
        assert_eq!(html.matches("</b>").count(), usize::from(i == 0));
        let plain = unescape_telegram(html);
        assert!(units(&plain) <= telegram::render::MAX_MESSAGE_UNITS, "a message of {} units", units(&plain));
        assert!(!plain.trim().is_empty(), "an empty message");
        shown.push_str(&plain);
    }
    if reply.text.trim().is_empty() {
        assert_eq!(non_blank(&shown), "…");
    } else {
        assert_eq!(non_blank(&shown), non_blank(&reply.text), "text lost or added in the split");
    }
    if let Some(markup) = telegram::render::keyboard(&reply) {
        for button in markup.inline_keyboard.iter().flatten() {
            if let teloxide::types::InlineKeyboardButtonKind::CallbackData(d) = &button.kind {
                assert!(d.len() <= Capabilities::TELEGRAM.max_payload_bytes);
            }
        }
    }
    // WhatsApp: every limit of the Cloud API, and no formatting character but the heading's.
    for lang in [Lang::Fr, Lang::En] {
        let out = wa::messages(&reply, lang);
        assert!(!out.is_empty());
        for (i, message) in out.iter().enumerate() {
            let body = match message {
                Outgoing::Text(body) => {
                    assert!(units(body) <= wa::MAX_TEXT, "a text of {} units", units(body));
                    body
                }
                Outgoing::Buttons { body, buttons } => {
                    assert!(units(body) <= wa::MAX_INTERACTIVE_BODY, "a body of {} units", units(body));
                    assert!(!buttons.is_empty() && buttons.len() <= wa::MAX_BUTTONS);
                    let titles: HashSet<_> = buttons.iter().map(|(_, t)| t).collect();
                    assert_eq!(titles.len(), buttons.len(), "two buttons with one title");
                    for (id, title) in buttons {
                        // Ids are the core's payloads (never empty: `v1:…`); only their length is
                        // the renderer's to keep.
                        assert!(id.len() <= wa::MAX_BUTTON_ID, "button id of {} bytes", id.len());
                        assert!(
                            !title.trim().is_empty() && units(title) <= wa::MAX_BUTTON_TITLE,
                            "{title:?}"
                        );
                    }
                    body
                }
                Outgoing::List { body, button, rows } => {
                    assert!(units(body) <= wa::MAX_INTERACTIVE_BODY, "a body of {} units", units(body));
                    assert!(units(button) <= wa::MAX_LIST_BUTTON);
                    assert!(!rows.is_empty() && rows.len() <= wa::MAX_ROWS);
                    for row in rows {
                        assert!(row.id.len() <= wa::MAX_ROW_ID, "row id of {} bytes", row.id.len());
                        assert!(units(&row.title) <= wa::MAX_ROW_TITLE, "row title {:?}", row.title);
                        if let Some(d) = &row.description {
                            assert!(units(d) <= wa::MAX_ROW_DESCRIPTION, "row description {d:?}");
                        }
                    }
                    body
                }
                Outgoing::Template { .. } => panic!("a reply rendered as a template"),
            };
            assert!(!body.trim().is_empty(), "an empty message body");
            let markers = body.chars().filter(|c| matches!(c, '*' | '_' | '~' | '`')).count();
            let heading = i == 0 && body.starts_with('*');
            assert_eq!(markers, if heading { 2 } else { 0 }, "formatting characters in {body:?}");
        }
    }
}

/// The app secret the WhatsApp target signs with.
const APP_SECRET: &str = "fuzz-app-secret";

/// WhatsApp webhook bodies: only the body's own HMAC passes [`webhook::signed`], and any body
/// deserializes into a [`Webhook`] or fails cleanly; what a message says becomes a valid input.
pub fn whatsapp_webhook(data: &[u8]) {
    let secret = SecretString::from(APP_SECRET);
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).expect("any key length");
    mac.update(data);
    let digest = hex::encode(mac.finalize().into_bytes());
    let good = format!("sha256={digest}");
    assert!(webhook::signed(&secret, Some(&good), data), "the right signature refused");
    assert!(!webhook::signed(&secret, None, data), "no signature accepted");
    assert!(!webhook::signed(&SecretString::from("another secret"), Some(&good), data), "wrong secret");
    let flip = usize::from(data.first().copied().unwrap_or(0)) % digest.len();
    let mut wrong = digest.clone().into_bytes();
    wrong[flip] = if wrong[flip] == b'0' { b'1' } else { b'0' };
    let wrong = format!("sha256={}", String::from_utf8(wrong).expect("hex is ASCII"));
    assert!(!webhook::signed(&secret, Some(&wrong), data), "a wrong signature accepted");
    assert!(!webhook::signed(&secret, Some(&digest), data), "a signature without sha256= accepted");
    // The body's first line as the signature header: it passes only if it is the real one.
    let claimed = text(data.split(|b| *b == b'\n').next().unwrap_or_default()).into_owned();
    if webhook::signed(&secret, Some(&claimed), data) {
        assert_eq!(claimed.trim().strip_prefix("sha256=").map(str::to_ascii_lowercase), Some(digest));
    }

    let Ok(hook) = serde_json::from_slice::<Webhook>(data) else { return };
    for value in hook.entry.iter().flat_map(|e| &e.changes).map(|c| &c.value) {
        for message in &value.messages {
            let _ = message.sent_at();
            let lang = guess_lang(message.from.as_deref(), message.from_user_id.as_deref());
            assert!(lang.is_none() || lang == Some("fr"));
            let typed = [
                message.text.as_ref().and_then(|t| t.body.as_deref()),
                message.button.as_ref().and_then(|b| b.text.as_deref()),
            ];
            let choices = message.interactive.iter().flat_map(|i| [&i.button_reply, &i.list_reply]).flatten();
            for text in typed.into_iter().chain(choices.map(|c| c.title.as_deref())).flatten() {
                check_input(&Input::from_text(text));
            }
        }
        for contact in &value.contacts {
            let lang = guess_lang(contact.wa_id.as_deref(), contact.user_id.as_deref());
            assert!(lang.is_none() || lang == Some("fr"));
        }
    }
}
