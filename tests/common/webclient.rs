//! A web chat page's side of the protocol, over real HTTP (reqwest): a session, its events
//! stream read as Server-Sent Events, and its messages.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{Value, json};

/// One line of the conversation as the stream gave it: its number and the line.
#[derive(Debug, Clone)]
pub struct Seen {
    pub seq: i64,
    pub line: Value,
}

impl Seen {
    pub fn is_bot(&self) -> bool {
        self.line["from"] == "bot"
    }

    /// The bubble's whole text (title, then body), or what the user sent.
    pub fn text(&self) -> String {
        match self.is_bot() {
            true => format!(
                "{}\n{}",
                self.line["title"].as_str().unwrap_or(""),
                self.line["body"].as_str().unwrap_or("")
            ),
            false => self.line["text"].as_str().unwrap_or("").to_owned(),
        }
    }

    /// The payload of the button whose label contains `label`.
    pub fn payload(&self, label: &str) -> Option<String> {
        self.line["buttons"]
            .as_array()?
            .iter()
            .flat_map(|row| row.as_array().cloned().unwrap_or_default())
            .find_map(|b| {
                b["label"]
                    .as_str()
                    .filter(|l| l.contains(label))
                    .map(|_| b["payload"].as_str().unwrap_or("").to_owned())
            })
    }
}

/// A page: its session token and the lines it has seen.
pub struct Page {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    pub session: String,
    pub last: i64,
    stream: Option<reqwest::Response>,
    buffer: String,
    pending: VecDeque<Seen>,
    sent: u64,
}

impl Page {
    /// A new session on the web chat at `base` (`http://127.0.0.1:port`).
    pub async fn open(base: &str) -> Page {
        let http = reqwest::Client::new();
        let started: Value =
            http.post(format!("{base}/api/session")).send().await.unwrap().json().await.unwrap();
        Page {
            base: base.to_owned(),
            http,
            token: started["token"].as_str().unwrap().to_owned(),
            session: started["session"].as_str().unwrap().to_owned(),
            last: 0,
            stream: None,
            buffer: String::new(),
            pending: VecDeque::new(),
            sent: 0,
        }
    }

    /// What `/api/session` answers for `token`: `{"token", "session"}`.
    pub async fn session_for(&self, token: &str) -> Value {
        let asked = self.http.post(format!("{}/api/session", self.base)).json(&json!({ "token": token }));
        asked.send().await.unwrap().json().await.unwrap()
    }

    /// Opens the events stream from the page's last line (`Last-Event-ID`); returns its status.
    pub async fn connect(&mut self) -> u16 {
        let response = self
            .http
            .get(format!("{}/api/events", self.base))
            .bearer_auth(&self.token)
            .header("Last-Event-ID", self.last.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        self.buffer.clear();
        self.pending.clear();
        self.stream = (status == 200).then_some(response);
        status
    }

    /// Drops the stream (a lost connection).
    pub fn disconnect(&mut self) {
        self.stream = None;
    }

    /// The next line, within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Seen> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(seen) = self.pending.pop_front() {
                self.last = seen.seq;
                return Some(seen);
            }
            let stream = self.stream.as_mut()?;
            let chunk = tokio::time::timeout_at(deadline, stream.chunk()).await.ok()?.ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut data) = (None, String::new());
                for line in event.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if let (Some(seq), false) = (id, data.is_empty()) {
                    let event: Value = serde_json::from_str(&data).unwrap();
                    self.pending.push_back(Seen { seq, line: event["line"].clone() });
                }
            }
        }
    }

    /// Lines until one of the bot's whose text contains `text` (within 10 s), all returned.
    pub async fn until(&mut self, text: &str) -> Vec<Seen> {
        let mut seen = Vec::new();
        while let Some(line) = self.next(Duration::from_secs(10)).await {
            let found = line.is_bot() && line.text().contains(text);
            seen.push(line);
            if found {
                return seen;
            }
        }
        panic!("no line with {text:?}; seen: {seen:#?}");
    }

    /// Sends `body` (`text` or `payload`) with a fresh id; returns the status.
    pub async fn post(&mut self, mut body: Value, lang: &str) -> u16 {
        self.sent += 1;
        body["id"] = json!(format!("m{}", self.sent));
        body["lang"] = json!(lang);
        let response = self
            .http
            .post(format!("{}/api/send", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await;
        // A connection refused or cut (a cap) reads as no answer: 0.
        response.map_or(0, |r| r.status().as_u16())
    }

    pub async fn say(&mut self, text: &str, lang: &str) -> u16 {
        self.post(json!({ "text": text }), lang).await
    }

    pub async fn press(&mut self, payload: &str, label: &str, lang: &str) -> u16 {
        self.post(json!({ "payload": payload, "label": label }), lang).await
    }
}
