//! The web chat over real HTTP, without a browser: the protocol (sessions, the events stream,
//! messages), its limits, and notices reaching an open page.

mod common;

use std::time::Duration;

use billbot::app::{self, Listeners};
use billbot::store::Store;
use common::webclient::Page;

struct Running {
    base: String,
    store: Store,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), app::AppError>>>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start() -> Running {
        Running::start_on(None).await
    }

    /// With at most `per_client` connections from one address.
    async fn start_capped(per_client: usize) -> Running {
        Running::start_with(None, per_client).await
    }

    /// The app on the PostgreSQL database at `database` (another instance may share it).
    async fn start_on(database: Option<String>) -> Running {
        Running::start_with(database, billbot::http::MAX_CONNECTIONS_PER_CLIENT).await
    }

    async fn start_with(database: Option<String>, per_client: usize) -> Running {
        let dir = tempfile::tempdir().unwrap();
        let (mut settings, listener) = common::web_app_settings(dir.path(), Vec::new()).await;
        let addr = listener.local_addr().unwrap();
        settings.database = database
            .map(|url| billbot::config::DatabaseSettings { url: url.into(), pool: Default::default() });
        settings.connections.per_client = per_client;
        // Loopback is a trusted proxy by default (held to the total only): here it is the client.
        settings.connections.trusted_proxies = Vec::new();
        let app = app::build(settings).await.unwrap();
        let store = app.store.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let listeners = Listeners { web: Some(listener), ..Default::default() };
        let task = tokio::spawn(app.run(listeners, async {
            let _ = stopped.await;
        }));
        Running { base: format!("http://{addr}"), store, stop: Some(stop), task: Some(task), _dir: dir }
    }

    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task).await.unwrap().unwrap().unwrap();
        }
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_bill_is_looked_up_by_buttons_and_typing_in_french_and_in_english() {
    let mut web = Running::start().await;
    for (lang, check, senelec, due) in
        [("fr-FR", "Consulter", "Senelec", "Montant"), ("en-GB", "Check a bill", "Senelec", "Amount")]
    {
        let mut page = Page::open(&web.base).await;
        assert_eq!(page.connect().await, 200);
        assert_eq!(page.say("/start", lang).await, 202);
        let said = page.next(WAIT).await.unwrap();
        assert_eq!((said.is_bot(), said.text()), (false, "/start".to_owned()), "the user's own line first");
        let menu = page.next(WAIT).await.unwrap();
        assert!(menu.is_bot());
        let bill = menu.payload(check).unwrap_or_else(|| panic!("{check} in {:?}", menu.line));
        assert_eq!(page.press(&bill, check, lang).await, 202);
        let pressed = page.next(WAIT).await.unwrap();
        assert_eq!(
            (pressed.is_bot(), pressed.text()),
            (false, check.to_owned()),
            "a press shows as its label"
        );
        let billers = page.next(WAIT).await.unwrap();
        let senelec_payload = billers.payload(senelec).unwrap_or_else(|| panic!("{:?}", billers.line));
        assert_eq!(page.press(&senelec_payload, senelec, lang).await, 202);
        page.until("").await;
        assert_eq!(page.say("1000000002", lang).await, 202);
        let answer = page.until(due).await;
        let shown = answer.iter().filter(|l| l.is_bot()).map(|l| l.text()).collect::<Vec<_>>().join("\n");
        assert!(shown.contains("1000000002") && shown.contains(due) && shown.contains("FCFA"), "{shown}");
    }
    web.stop().await;
}

#[tokio::test]
async fn a_reconnecting_page_gets_every_line_once_from_its_last_one() {
    let mut web = Running::start().await;
    let mut page = Page::open(&web.base).await;
    page.connect().await;
    page.say("/start", "en").await;
    let first = page.next(WAIT).await.unwrap();
    let menu = page.next(WAIT).await.unwrap();
    page.disconnect();
    // While disconnected, the user sends again (from another tab, say) and the bot answers.
    page.say("/help", "en").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    page.last = first.seq;
    assert_eq!(page.connect().await, 200);
    let again = page.next(WAIT).await.unwrap();
    assert_eq!(again.seq, menu.seq, "resumed right after the last line it had");
    let help_said = page.next(WAIT).await.unwrap();
    assert_eq!(help_said.text(), "/help");
    let help = page.next(WAIT).await.unwrap();
    assert!(help.is_bot() && help.seq > help_said.seq);
    assert!(page.next(Duration::from_millis(300)).await.is_none(), "nothing twice, nothing more");
    // A reload reads the whole conversation again: the same lines, in order.
    let mut reload = Page::open(&web.base).await;
    reload.token = page.token.clone();
    reload.connect().await;
    let mut seqs = Vec::new();
    while let Some(line) = reload.next(Duration::from_secs(2)).await {
        seqs.push(line.seq);
    }
    assert_eq!(seqs, vec![first.seq, menu.seq, help_said.seq, help.seq]);
    web.stop().await;
}

#[tokio::test]
async fn a_message_sent_again_with_its_id_shows_once_with_one_answer() {
    let mut web = Running::start().await;
    let mut page = Page::open(&web.base).await;
    page.connect().await;
    // The 202 was lost, say: the page sends the same message again, with the same id.
    for _ in 0..2 {
        let sent = page
            .http
            .post(format!("{}/api/send", web.base))
            .bearer_auth(&page.token)
            .json(&serde_json::json!({"id": "again1", "text": "/help", "lang": "en"}))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 202);
    }
    let said = page.next(WAIT).await.unwrap();
    assert_eq!((said.is_bot(), said.text()), (false, "/help".to_owned()));
    assert!(page.next(WAIT).await.unwrap().is_bot(), "the answer after the user's line");
    assert!(page.next(Duration::from_millis(500)).await.is_none(), "one line and one answer");
    web.stop().await;
}

#[tokio::test]
async fn messages_sent_too_fast_are_refused_with_429_and_only_the_first_is_kept_with_its_warning() {
    let mut web = Running::start().await;
    let mut page = Page::open(&web.base).await;
    // Flood control lets a burst of a third of a minute's 60 through, then drops.
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(page.say("/help", "en").await);
    }
    assert!(statuses[..20].iter().all(|s| *s == 202), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    // What the conversation kept: one user line per accepted message (each with its answer),
    // and the first dropped one with the bot's "slow down" (once a minute); none for the others.
    let accepted = statuses.iter().filter(|s| **s == 202).count();
    page.connect().await;
    let mut users = 0;
    while let Some(line) = page.next(Duration::from_secs(2)).await {
        users += usize::from(!line.is_bot());
    }
    assert_eq!(users, accepted + 1, "{statuses:?}");
    web.stop().await;
}

#[tokio::test]
async fn another_origin_an_oversized_message_and_a_bad_token_are_refused_and_change_nothing() {
    let mut web = Running::start().await;
    let mut page = Page::open(&web.base).await;
    let send = |origin: &str| {
        page.http
            .post(format!("{}/api/send", web.base))
            .bearer_auth(&page.token)
            .header("Origin", origin)
            .json(&serde_json::json!({"id": "x1", "text": "/start"}))
            .send()
    };
    assert_eq!(send("https://evil.example").await.unwrap().status(), 403);
    let own = web.base.clone();
    assert_eq!(send(&own).await.unwrap().status(), 202, "the page's own origin");
    let events = page
        .http
        .get(format!("{}/api/events", web.base))
        .bearer_auth(&page.token)
        .header("Origin", "https://evil.example");
    assert_eq!(events.send().await.unwrap().status(), 403);

    let long = "x".repeat(2001);
    assert_eq!(page.say(&long, "en").await, 413);
    assert_eq!(page.say(&"é".repeat(2000), "en").await, 202, "2,000 characters, whatever their bytes");

    // A forged token: no conversation read, no message taken.
    let real = page.token.clone();
    // The tag's last digit changed (whatever it was).
    let flipped = if real.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{flipped}", &real[..real.len() - 1]);
    page.token = forged.clone();
    assert_eq!(page.connect().await, 401);
    assert_eq!(page.say("/start", "en").await, 401);
    let renewed = page.session_for(&forged).await;
    assert_ne!(renewed["session"], page.session.as_str(), "a forged token starts a new session");
    let kept = page.session_for(&real).await;
    assert_eq!(kept["session"], page.session.as_str(), "a good token keeps its session");
    // What reached the conversation: the two accepted messages and their answers, nothing else.
    page.token = real;
    page.connect().await;
    let mut users = Vec::new();
    while let Some(line) = page.next(Duration::from_secs(2)).await {
        if !line.is_bot() {
            users.push(line.text().chars().count());
        }
    }
    assert_eq!(users, vec![6, 2000]);
    web.stop().await;
}

#[tokio::test]
async fn a_support_answer_reaches_an_open_page_at_once_and_waits_in_its_history() {
    let mut web = Running::start().await;
    let mut page = Page::open(&web.base).await;
    page.connect().await;
    let chat: billbot::domain::ChatKey = format!("web:{}", page.session).parse().unwrap();
    let answer = common::support_answer(&chat, "W3B7Q", "Your meter <b>is</b> fine & \"paid\"");
    web.store.commit(answer).await.unwrap();
    let line = page.next(WAIT).await.expect("the outbox delivers to the open page");
    assert!(line.is_bot());
    assert!(line.text().contains("Your meter <b>is</b> fine & \"paid\""), "as text: {}", line.text());
    // A page opened later finds it in the conversation.
    page.disconnect();
    page.last = 0;
    page.connect().await;
    assert_eq!(page.next(WAIT).await.unwrap().seq, line.seq);
    web.stop().await;
}

#[tokio::test]
async fn serve_runs_the_web_chat_alone_when_only_its_address_is_set() {
    use common::process::SpawnReaped;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let _bot = std::process::Command::new(env!("CARGO_BIN_EXE_billbot"))
        .arg("serve")
        .arg("--sandbox")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BILLBOT_DATA_DIR", dir.path())
        .env("BILLBOT_WEBCHAT_LISTEN", format!("127.0.0.1:{port}"))
        .env("BILLBOT_WEBCHAT_SECRET", common::WEB_SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .reaped();
    let base = format!("http://127.0.0.1:{port}");
    let mut page = None;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("{base}/")).await {
            page = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = page.expect("the page is served");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("role=\"log\"") && html.contains("aria-live=\"polite\""));
    assert!(
        html.contains("Nouvelle conversation") && html.contains("New conversation"),
        "both languages' words"
    );
    let mut chat = Page::open(&base).await;
    chat.connect().await;
    chat.say("/start", "fr").await;
    chat.until("billbot").await;
}

#[tokio::test]
async fn the_page_its_script_and_styles_are_compressed_cached_and_under_30_kb_together() {
    let mut web = Running::start().await;
    let http = reqwest::Client::builder().no_gzip().build().unwrap();
    let mut total = 0;
    for path in ["/", "/chat.js", "/chat.css"] {
        let response =
            http.get(format!("{}{path}", web.base)).header("Accept-Encoding", "gzip").send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-encoding"], "gzip", "{path}");
        assert!(response.headers().contains_key("cache-control"), "{path}");
        total += response.bytes().await.unwrap().len();
    }
    assert!(total < 30 * 1024, "{total} bytes compressed");
    let widget = http.get(format!("{}/widget.js", web.base)).send().await.unwrap();
    let script = widget.text().await.unwrap();
    assert!(
        script.contains("Discuter avec nous") && script.contains("Chat with us"),
        "its words from locales/"
    );
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_a_page_open_on_one_instance_sees_what_another_instance_wrote() {
    let Some(schema) = common::pg::schema("web two instances").await else { return };
    let mut a = Running::start_on(Some(schema.url())).await;
    let mut b = Running::start_on(Some(schema.url())).await;
    // The page listens on A; its messages go to B (a load balancer may do that).
    let mut on_a = Page::open(&a.base).await;
    assert_eq!(on_a.connect().await, 200);
    let mut via_b = Page::open(&b.base).await;
    via_b.token = on_a.token.clone();
    assert_eq!(via_b.say("/start", "en").await, 202);
    let said = on_a.next(WAIT).await.expect("B's line reaches the page open on A");
    assert_eq!(said.text(), "/start");
    let menu = on_a.next(WAIT).await.unwrap();
    assert!(menu.is_bot() && menu.payload("Check a bill").is_some());
    // The state is the store's: B continues what A's page started.
    let bill = menu.payload("Check a bill").unwrap();
    assert_eq!(via_b.press(&bill, "Check a bill", "en").await, 202);
    on_a.until("Which biller").await;
    // Reconnecting to B, the page resumes where it was: the same lines, nothing twice.
    let last = on_a.last;
    via_b.last = menu.seq;
    assert_eq!(via_b.connect().await, 200);
    let mut seqs = Vec::new();
    while seqs.last() != Some(&last) {
        seqs.push(via_b.next(WAIT).await.expect("every line up to the last the page had").seq);
    }
    assert!(via_b.next(Duration::from_millis(500)).await.is_none(), "nothing after it, nothing twice");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]) && seqs[0] > menu.seq);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn open_pages_count_against_the_per_client_cap_and_a_closed_one_frees_its_place() {
    // Three connections from one address: two open pages and one message being sent.
    let mut web = Running::start_capped(3).await;
    let mut first = Page::open(&web.base).await;
    assert_eq!(first.connect().await, 200);
    let mut second = Page::open(&web.base).await;
    assert_eq!(second.connect().await, 200);
    let mut third = Page::open(&web.base).await;
    assert_eq!(third.connect().await, 200);
    // Three streams held from this address: a fourth connection is closed at once.
    let fourth = reqwest::Client::new().post(format!("{}/api/session", web.base)).send().await;
    assert!(fourth.is_err(), "over the cap: {fourth:?}");
    // A page closes: its place is free for the others' messages.
    first.disconnect();
    third.disconnect();
    let mut sent = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sent = second.say("/start", "en").await;
        if sent == 202 {
            break;
        }
    }
    assert_eq!(sent, 202, "the closed pages' places are free again");
    assert!(second.next(WAIT).await.is_some(), "the page still open gets its answer");
    web.stop().await;
}

#[tokio::test]
async fn stopping_ends_the_open_streams_rather_than_waiting_out_the_drain_for_them() {
    let mut web = Running::start().await;
    let mut page = Page::open(&web.base).await;
    assert_eq!(page.connect().await, 200);
    let _ = web.stop.take().unwrap().send(());
    // The listeners give requests in hand 5 s at shutdown; an open page's stream is not one.
    let stopped = tokio::time::timeout(Duration::from_secs(4), web.task.take().unwrap()).await;
    assert!(stopped.is_ok(), "the app stopped without waiting for the open page");
    assert!(page.next(Duration::from_secs(1)).await.is_none(), "the stream has ended");
}
