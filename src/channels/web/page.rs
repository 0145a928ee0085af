//! The page, its script and styles, and the widget script: compiled in, served with a
//! Content-Security-Policy that allows only the page's own origin (and, for framing the page,
//! the embedding sites of `BILLBOT_WEBCHAT_ORIGINS`), cache headers and the strings of both
//! languages from `locales/` (`web-*` messages) in a JSON block the script reads.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::i18n::Lang;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/chat.js");
const STYLE: &str = include_str!("assets/chat.css");
const WIDGET: &str = include_str!("assets/widget.js");

/// The page's words, by their `locales/` ids (`web-<name>`).
pub const STRINGS: &[&str] = &[
    "title",
    "log",
    "input",
    "placeholder",
    "send",
    "new",
    "typing",
    "lost",
    "restored",
    "too-long",
    "too-fast",
    "failed",
    "you",
    "bot",
    "open",
    "close",
];

pub fn router(origins: Vec<String>) -> Router {
    let frame_ancestors = std::iter::once("'self'".to_owned()).chain(origins).collect::<Vec<_>>().join(" ");
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; \
         form-action 'self'; base-uri 'none'; frame-ancestors {frame_ancestors}"
    );
    let page = index();
    Router::new()
        .route(
            "/",
            get(move || {
                let (page, csp) = (page.clone(), csp.clone());
                async move {
                    let mut response = Html(page).into_response();
                    let headers = response.headers_mut();
                    headers.insert(header::CONTENT_SECURITY_POLICY, value(&csp));
                    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
                    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
                    response
                }
            }),
        )
        .route("/chat.js", get(|| async { asset(SCRIPT.to_owned(), "text/javascript; charset=utf-8") }))
        .route("/chat.css", get(|| async { asset(STYLE.to_owned(), "text/css; charset=utf-8") }))
        .route("/widget.js", {
            let widget = widget();
            get(move || {
                let widget = widget.clone();
                async move { asset(widget, "text/javascript; charset=utf-8") }
            })
        })
        // gzip for browsers that take it (the page, script and styles shrink to about a third).
        .layer(tower_http::compression::CompressionLayer::new())
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

fn asset(body: String, kind: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // An hour: a new version reaches every page within it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

/// The page, with the strings of both languages in its JSON block.
pub fn index() -> String {
    INDEX.replace("{{STRINGS}}", &strings(STRINGS))
}

/// The widget's script, with its two strings in both languages.
pub fn widget() -> String {
    WIDGET.replace("{{STRINGS}}", &strings(&["open", "close"]))
}

/// `{"fr": {name: text, …}, "en": {…}}` of the `web-<name>` messages, safe inside a script
/// element (no `<` in it).
fn strings(names: &[&str]) -> String {
    let mut strings = serde_json::Map::new();
    for lang in [Lang::Fr, Lang::En] {
        let words: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .map(|name| (name.to_string(), crate::i18n::message(lang, &format!("web-{name}"), &[]).into()))
            .collect();
        strings.insert(lang.code().to_owned(), words.into());
    }
    serde_json::Value::Object(strings).to_string().replace('<', "\\u003c")
}
