//! The support chat's settings: where customers' requests go, in which language, and when agents
//! answer. The bot holds them from its start, before any step runs, so they live apart from the
//! support dialogue (`support`, which re-exports them under their public path): the bot's own
//! state needs no import of a dialogue step.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc, Weekday};

use crate::domain::{Channel, ChatKey};
use crate::i18n::Lang;

/// Where tickets go and when a person answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Support {
    /// The support chat: a Telegram group (`tg:-100…`) or a WhatsApp number (`wa:221…`).
    pub chat: ChatKey,
    /// The language tickets are written in for agents.
    pub lang: Lang,
    pub hours: SupportHours,
    /// Whether customers see the first name of the agent who answered.
    pub show_agent: bool,
    /// Who may answer, close and reply to tickets: user ids on the support chat's channel
    /// (Telegram user ids, WhatsApp `wa_id`s), `BILLBOT_SUPPORT_AGENTS`. Being in the support chat
    /// is not enough: anyone can be invited to a group, and a former employee may still be in it.
    pub agents: HashSet<String>,
}

impl Support {
    /// Whether the user `sender` (their id on the support chat's channel, as the network verified
    /// it) may act as support: a listed agent, or the one person whose own chat the support chat
    /// is (a WhatsApp number, a Telegram private chat), as nobody else can write in it. No sender
    /// known, no authority.
    pub fn is_agent(&self, sender: Option<&str>) -> bool {
        let Some(sender) = sender.map(str::trim).filter(|s| !s.is_empty()) else { return false };
        let one_person = match self.chat.channel() {
            Channel::WhatsApp => true,
            Channel::Telegram => self.chat.telegram_id().is_some_and(|id| id > 0),
            Channel::Terminal | Channel::Web => false,
        };
        self.agents.contains(sender) || (one_person && self.chat.id() == sender)
    }
}

/// When agents answer, Dakar time (UTC): from `open` to `close` on the days set (Monday first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportHours {
    pub open: NaiveTime,
    pub close: NaiveTime,
    pub days: [bool; 7],
}

impl Default for SupportHours {
    /// Monday to Saturday, 08:00 to 18:00.
    fn default() -> Self {
        let at = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default();
        SupportHours { open: at(8), close: at(18), days: [true, true, true, true, true, true, false] }
    }
}

impl SupportHours {
    /// `08:00-18:00` and `mon-sat` (or `mon,wed,fri`, `mon-sun`).
    pub fn parse(hours: &str, days: &str) -> Result<SupportHours, String> {
        let (open, close) = hours.split_once('-').ok_or_else(|| format!("{hours:?} is not HH:MM-HH:MM"))?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| format!("{t:?} is not a time (HH:MM)"))
        };
        let (open, close) = (time(open)?, time(close)?);
        if open >= close {
            return Err(format!("{hours:?}: support must open before it closes"));
        }
        let day = |d: &str| {
            d.trim()
                .parse::<Weekday>()
                .map(|w| w.num_days_from_monday() as usize)
                .map_err(|_| format!("{d:?} is not a day (mon, tue, …)"))
        };
        let mut set = [false; 7];
        for part in days.split(',') {
            match part.split_once('-') {
                Some((from, to)) => {
                    let (from, to) = (day(from)?, day(to)?);
                    let mut d = from;
                    loop {
                        set[d] = true;
                        if d == to {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                None => set[day(part)?] = true,
            }
        }
        Ok(SupportHours { open, close, days: set })
    }

    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let time = at.time();
        self.days[at.weekday().num_days_from_monday() as usize] && time >= self.open && time < self.close
    }

    /// The next time support opens after `at` (`at` itself when open).
    pub fn next_open(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_open(at) {
            return at;
        }
        (0..8)
            .map(|d| (at.date_naive() + Duration::days(d)).and_time(self.open).and_utc())
            .find(|t| *t > at && self.days[t.weekday().num_days_from_monday() as usize])
            .unwrap_or(at)
    }
}
