//! The web chat in a real browser: headless Chromium driven through WebDriver (chromedriver),
//! against the whole app on loopback. They run where a chromedriver is found
//! (`BILLBOT_TEST_CHROMEDRIVER`, else `/usr/bin/chromedriver`); `.ci/run` installs Debian's
//! `chromium` and `chromium-driver` and sets the variable, so in CI they must run. Elsewhere,
//! without one, they say so on standard error and pass, as the PostgreSQL tests do.
//! Screenshots of the main states go to `target/tmp/browser/` (not committed).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use billbot::app::{self, Listeners};
use billbot::store::Store;
use common::process::{Reaped, SpawnReaped};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// The chromedriver to use, or `None` (with a note) where the machine has none.
fn chromedriver() -> Option<String> {
    match std::env::var("BILLBOT_TEST_CHROMEDRIVER") {
        Ok(path) if !path.trim().is_empty() => Some(path),
        _ if std::path::Path::new("/usr/bin/chromedriver").exists() => Some("/usr/bin/chromedriver".into()),
        _ => {
            eprintln!(
                "no chromedriver (BILLBOT_TEST_CHROMEDRIVER, /usr/bin/chromedriver): browser test not run"
            );
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The app with the web chat, and a browser.
struct Browser {
    base: String,
    store: Store,
    client: Client,
    _driver: Reaped,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Browser {
    /// The app (allowing `origins` to frame the page) and a browser whose language is `lang`.
    async fn start(lang: &str, origins: Vec<String>) -> Option<Browser> {
        let driver_path = chromedriver()?;
        let dir = tempfile::tempdir().unwrap();
        let (settings, listener) = common::web_app_settings(dir.path(), origins).await;
        let addr = listener.local_addr().unwrap();
        let app = app::build(settings).await.unwrap();
        let store = app.store.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run(Listeners { web: Some(listener), ..Default::default() }, async {
            let _ = stopped.await;
        }));
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .reaped();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": std::env::var("BILLBOT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         format!("--lang={lang}"), "--window-size=420,800"],
                "prefs": { "intl.accept_languages": lang },
            }),
        );
        let mut client = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let client = client.expect("chromedriver starts and opens a headless Chromium");
        Some(Browser {
            base: format!("http://{addr}"),
            store,
            client,
            _driver: driver,
            stop: Some(stop),
            _dir: dir,
        })
    }

    async fn open(&self) {
        self.client.goto(&format!("{}/", self.base)).await.unwrap();
        self.client.wait().for_element(Locator::Css("#log")).await.unwrap();
    }

    /// Waits until the conversation's text contains `text`; returns the text.
    async fn until(&self, text: &str) -> String {
        let mut shown = String::new();
        for _ in 0..200 {
            shown = self.client.find(Locator::Css("#log")).await.unwrap().text().await.unwrap();
            if shown.contains(text) {
                return shown;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{text:?} never shown; the page shows:\n{shown}");
    }

    /// Clicks the last button whose label contains `label`.
    async fn press(&self, label: &str) {
        let buttons =
            self.client.find_all(Locator::Css("#log .choices button:not([disabled])")).await.unwrap();
        for button in buttons.into_iter().rev() {
            if button.text().await.unwrap().contains(label) {
                button.click().await.unwrap();
                return;
            }
        }
        panic!("no button {label:?}");
    }

    /// Types `text` in the box and presses Enter.
    async fn type_in(&self, text: &str) {
        let input = self.client.find(Locator::Css("#input")).await.unwrap();
        input.send_keys(&format!("{text}\u{E007}")).await.unwrap();
    }

    async fn js(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, Vec::new()).await.unwrap()
    }

    async fn screenshot(&self, name: &str) {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), self.client.screenshot().await.unwrap()).unwrap();
    }

    async fn stop(mut self) {
        let _ = self.client.clone().close().await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[tokio::test]
async fn a_bill_is_looked_up_by_buttons_and_typing_in_french_and_in_english() {
    for (lang, check, prompt, amount) in [
        ("fr-FR", "Consulter une facture", "Quel facturier", "Montant"),
        ("en-US", "Check a bill", "Which biller", "Amount"),
    ] {
        let Some(b) = Browser::start(lang, Vec::new()).await else { return };
        b.open().await;
        b.type_in("bonjour").await;
        b.until(check).await;
        b.screenshot(&format!("menu-{lang}")).await;
        b.press(check).await;
        b.until(prompt).await;
        b.press("Senelec").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.type_in("1000000002").await;
        let shown = b.until(amount).await;
        assert!(shown.contains("1000000002") && shown.contains("FCFA"), "{shown}");
        assert_eq!(b.js("return document.documentElement.lang").await, lang[..2]);
        b.screenshot(&format!("bill-{lang}")).await;
        b.stop().await;
    }
}

#[tokio::test]
async fn hostile_text_is_shown_as_text_and_a_reload_restores_the_conversation_and_its_state() {
    let Some(b) = Browser::start("en-US", Vec::new()).await else { return };
    b.open().await;
    let hostile = "<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script> & \"Diop\"";
    b.type_in(hostile).await;
    b.until("Diop").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let injected = b
        .js("return document.querySelectorAll('#log img, #log script').length + (window.pwned ? 100 : 0)")
        .await;
    assert_eq!(injected, 0, "no element made from the text, nothing run");
    let shown = b
        .js("return [...document.querySelectorAll('#log .msg.user')].map(m => m.childNodes[1].textContent)")
        .await;
    assert_eq!(shown[0], hostile, "the text as typed");
    b.type_in("/bill").await;
    b.until("Which biller").await;
    b.press("Woyofal").await;
    b.until("meter").await;
    b.client.refresh().await.unwrap();
    b.client.wait().for_element(Locator::Css("#log .msg.bot")).await.unwrap();
    let restored = b.until("meter").await;
    assert!(
        restored.contains("Diop") && restored.contains("Which biller"),
        "the conversation is back: {restored}"
    );
    // The dialogue state too: the meter number is understood without choosing the biller again.
    b.type_in("14000000001").await;
    b.until("14000000001").await;
    let shown = b.until("Woyofal").await;
    assert!(shown.matches("14000000001").count() >= 2, "{shown}");
    b.screenshot("reload").await;
    b.stop().await;
}

#[tokio::test]
async fn a_notice_appears_while_the_page_is_open() {
    let Some(b) = Browser::start("en-US", Vec::new()).await else { return };
    b.open().await;
    b.type_in("/start").await;
    b.until("Check a bill").await;
    let session = b.js("return localStorage.getItem('billbot.token').split('.')[0]").await;
    let chat: billbot::domain::ChatKey = format!("web:{}", session.as_str().unwrap()).parse().unwrap();
    b.store.commit(common::support_answer(&chat, "N0T1C", "Your refund was sent")).await.unwrap();
    b.until("Your refund was sent").await;
    b.screenshot("notice").await;
    b.stop().await;
}

#[tokio::test]
async fn the_page_works_with_the_keyboard_alone_and_at_320_pixels_without_sideways_scrolling() {
    let Some(b) = Browser::start("en-US", Vec::new()).await else { return };
    b.client.set_window_size(320, 640).await.unwrap();
    b.open().await;
    // Tab from the page's start to the text box, type, Enter.
    let body = b.client.find(Locator::Css("body")).await.unwrap();
    body.click().await.unwrap();
    let mut reached = false;
    for _ in 0..6 {
        b.client.active_element().await.unwrap().send_keys("\u{E004}").await.unwrap();
        if b.js("return document.activeElement.id").await == "input" {
            reached = true;
            break;
        }
    }
    assert!(reached, "the text box is reached with Tab");
    b.client.active_element().await.unwrap().send_keys("/start\u{E007}").await.unwrap();
    b.until("Check a bill").await;
    // Shift+Tab back into the conversation's buttons, Enter on one.
    let mut on_button = false;
    for _ in 0..12 {
        b.client.active_element().await.unwrap().send_keys("\u{E008}\u{E004}").await.unwrap();
        let label = b.js("return document.activeElement.tagName === 'BUTTON' ? document.activeElement.textContent : ''").await;
        if label.as_str().is_some_and(|l| l.contains("Check a bill")) {
            on_button = true;
            break;
        }
    }
    assert!(on_button, "a choice is reached with Shift+Tab");
    b.client.active_element().await.unwrap().send_keys("\u{E007}").await.unwrap();
    b.until("Which biller").await;
    let overflow =
        b.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth").await;
    assert!(overflow.as_i64().unwrap() <= 0, "no sideways scrolling at 320 px: {overflow}");
    let labelled = b.js("return document.querySelector('label[for=input]').textContent").await;
    assert_eq!(labelled, "Your message");
    b.screenshot("keyboard-320").await;
    b.stop().await;
}

#[tokio::test]
async fn the_widget_opens_the_chat_on_a_host_page_whose_styles_try_to_hide_it() {
    // The host site: its own origin, CSS that hides and restyles every button and frame.
    let host = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host_origin = format!("http://{}", host.local_addr().unwrap());
    let Some(b) = Browser::start("fr-FR", vec![host_origin.clone()]).await else { return };
    let page = format!(
        "<!doctype html><html><head><style>button{{display:none!important;background:red!important}}\
         iframe{{display:none!important}}*{{font-size:2px!important}}</style></head>\
         <body><h1>SenEau</h1><script src=\"{}/widget.js\" defer></script></body></html>",
        b.base
    );
    let app =
        axum::Router::new().route("/", axum::routing::get(move || async move { axum::response::Html(page) }));
    tokio::spawn(async move { axum::serve(host, app).await });
    b.client.goto(&format!("{host_origin}/")).await.unwrap();
    let mut visible = serde_json::Value::Null;
    for _ in 0..100 {
        visible = b
            .js("const r = document.getElementById('billbot-widget'); if (!r) return null; \
                 const s = getComputedStyle(r.shadowRoot.querySelector('button')); \
                 return [s.display, s.backgroundColor, r.shadowRoot.querySelector('button').textContent]")
            .await;
        if !visible.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(visible[0], "none", "the host's CSS does not hide the launcher: {visible}");
    assert_ne!(visible[1], "rgb(255, 0, 0)", "nor restyle it");
    assert_eq!(visible[2], "Discuter avec nous");
    // Opened by a click as a user would: WebDriver reaches into the shadow root.
    let shadow = b.client.find(Locator::Css("#billbot-widget")).await.unwrap().shadow_root().await.unwrap();
    shadow.find(Locator::Css("button")).await.unwrap().click().await.unwrap();
    let frame_display = b
        .js("return getComputedStyle(document.getElementById('billbot-widget').shadowRoot.querySelector('iframe')).display")
        .await;
    assert_ne!(frame_display, "none");
    b.screenshot("widget-open").await;
    shadow.find(Locator::Css("iframe")).await.unwrap().enter_frame().await.unwrap();
    b.client.wait().for_element(Locator::Css("#input")).await.unwrap();
    b.type_in("/start").await;
    b.until("Consulter une facture").await;
    b.screenshot("widget-chat").await;
    b.stop().await;
}

#[tokio::test]
async fn the_pages_own_words_follow_the_language_picked_with_the_button() {
    let Some(b) = Browser::start("en-US", Vec::new()).await else { return };
    b.open().await;
    assert_eq!(b.client.find(Locator::Css("#send")).await.unwrap().text().await.unwrap(), "Send");
    b.type_in("/start").await;
    b.until("Language").await;
    b.press("Language").await;
    b.until("Français").await;
    b.press("Français").await;
    let mut send = String::new();
    for _ in 0..200 {
        send = b.client.find(Locator::Css("#send")).await.unwrap().text().await.unwrap();
        if send == "Envoyer" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(send, "Envoyer", "the page speaks French once the bot does");
    assert_eq!(b.js("return document.documentElement.lang").await, "fr");
    b.stop().await;
}

#[tokio::test]
async fn a_message_sent_too_fast_is_struck_through_said_so_and_given_back() {
    let Some(b) = Browser::start("en-US", Vec::new()).await else { return };
    b.open().await;
    // Thirty messages at once: flood control lets the first twenty through.
    b.js("var f = document.getElementById('form'), i = document.getElementById('input'); \
          for (var n = 0; n < 30; n++) { i.value = '/help'; f.requestSubmit(); } return true")
        .await;
    let mut refused = 0;
    for _ in 0..200 {
        refused =
            b.js("return document.querySelectorAll('#log .msg.user.refused').length").await.as_u64().unwrap();
        if refused >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused >= 1, "the dropped messages are struck through");
    let said = b.js("return document.getElementById('status').textContent").await;
    assert!(said.as_str().unwrap().contains("too fast"), "{said}");
    assert_eq!(b.js("return document.getElementById('input').value").await, "/help", "given back");
    b.screenshot("too-fast").await;
    b.stop().await;
}
