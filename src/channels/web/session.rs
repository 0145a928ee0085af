//! Web chat sessions: anonymous, started by the server, and named by a token the browser keeps.
//!
//! A token is `<session id>.<issued at>.<tag>`: the id is 16 random bytes in hex (the chat key is
//! `web:<id>`), the time is in seconds since the epoch, and the tag is an HMAC-SHA256 over both
//! under `BILLBOT_WEBCHAT_SECRET`, cut to 16 bytes. Every instance that shares the secret accepts
//! the tokens of the others, and nothing about a session is kept until it writes. A token older
//! than the session lifetime is refused (its session has expired with the retention rules); a
//! connected session gets a fresh one, so a page in use never expires.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{Channel, ChatKey};

/// The fewest bytes `BILLBOT_WEBCHAT_SECRET` may have.
pub const MIN_SECRET_BYTES: usize = 32;

/// Bytes of the tag kept in a token: 128 bits, beyond guessing.
const TAG_BYTES: usize = 16;

/// Bytes of randomness in a session id.
const ID_BYTES: usize = 16;

/// Why a token was refused. The browser is told only that its session is over and a new one
/// starts; the reason goes to the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a session token")]
    Malformed,
    #[error("a session token that this server did not sign")]
    Forged,
    #[error("a session token older than the session lifetime")]
    Expired,
}

/// Signs and checks session tokens under one secret.
#[derive(Clone)]
pub struct SessionKeys {
    mac: Hmac<Sha256>,
    /// How long a token stays good without the session being seen.
    lifetime: chrono::Duration,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys").field("lifetime", &self.lifetime).finish_non_exhaustive()
    }
}

/// A session as the server knows it from a good token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    id: String,
}

impl Session {
    /// The session's chat: `web:<id>`.
    pub fn chat(&self) -> ChatKey {
        ChatKey::new(Channel::Web, &self.id)
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl SessionKeys {
    /// Keys for `secret`, which [`crate::config`] has checked is at least [`MIN_SECRET_BYTES`].
    pub fn new(secret: &[u8], lifetime: chrono::Duration) -> SessionKeys {
        // HMAC takes a key of any length: this cannot fail.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts any key length");
        SessionKeys { mac, lifetime }
    }

    /// A new session and its first token.
    pub fn start(&self, now: DateTime<Utc>) -> Result<(Session, String), getrandom::Error> {
        let mut bytes = [0u8; ID_BYTES];
        getrandom::fill(&mut bytes)?;
        let session = Session { id: hex::encode(bytes) };
        let token = self.token(&session, now);
        Ok((session, token))
    }

    /// A token for `session`, issued `now`.
    pub fn token(&self, session: &Session, now: DateTime<Utc>) -> String {
        let issued = now.timestamp();
        format!("{}.{issued}.{}", session.id, hex::encode(self.tag(&session.id, issued)))
    }

    /// The session a token names, if this server signed it and it has not expired.
    pub fn open(&self, token: &str, now: DateTime<Utc>) -> Result<Session, TokenError> {
        let mut parts = token.trim().split('.');
        let (Some(id), Some(issued), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let well_formed_id = id.len() == 2 * ID_BYTES && id.bytes().all(|b| b.is_ascii_hexdigit());
        let issued: i64 = issued.parse().map_err(|_| TokenError::Malformed)?;
        let tag = hex::decode(tag).map_err(|_| TokenError::Malformed)?;
        if !well_formed_id || tag.len() != TAG_BYTES {
            return Err(TokenError::Malformed);
        }
        let mut mac = self.mac.clone();
        mac.update(&signed_text(id, issued));
        mac.verify_truncated_left(&tag).map_err(|_| TokenError::Forged)?;
        let age = now.timestamp() - issued;
        // A token from the future (beyond a minute of clock skew between instances) is not trusted.
        if age > self.lifetime.num_seconds() || age < -60 {
            return Err(TokenError::Expired);
        }
        Ok(Session { id: id.to_owned() })
    }

    fn tag(&self, id: &str, issued: i64) -> [u8; TAG_BYTES] {
        let mut mac = self.mac.clone();
        mac.update(&signed_text(id, issued));
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }
}

/// What a tag covers: a purpose, so that a tag made under this secret for anything else never
/// passes for a session's, then the id and the time.
fn signed_text(id: &str, issued: i64) -> Vec<u8> {
    format!("billbot-webchat-session/1\n{id}\n{issued}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::new(b"0123456789abcdef0123456789abcdef", chrono::Duration::days(30))
    }

    #[test]
    fn a_started_session_opens_with_its_token_and_is_a_web_chat() {
        let now = Utc::now();
        let (session, token) = keys().start(now).unwrap();
        assert_eq!(keys().open(&token, now).unwrap(), session);
        assert_eq!(session.chat().channel(), Channel::Web);
        assert_eq!(session.chat().to_string(), format!("web:{}", session.id()));
        let (other, _) = keys().start(now).unwrap();
        assert_ne!(other, session, "each session its own id");
    }

    #[test]
    fn a_token_changed_anywhere_or_signed_with_another_secret_is_refused() {
        let now = Utc::now();
        let (session, token) = keys().start(now).unwrap();
        let other = SessionKeys::new(b"another secret of thirty-two bytes!", chrono::Duration::days(30));
        assert_eq!(other.open(&token, now), Err(TokenError::Forged));
        // Another session's id under this token's tag.
        let (stranger, _) = keys().start(now).unwrap();
        let swapped = token.replacen(session.id(), stranger.id(), 1);
        assert_eq!(keys().open(&swapped, now), Err(TokenError::Forged));
        // Made younger.
        let (_, issued_tag) = token.split_once('.').unwrap();
        let (issued, tag) = issued_tag.split_once('.').unwrap();
        let younger = format!("{}.{}.{tag}", session.id(), issued.parse::<i64>().unwrap() + 1);
        assert_eq!(keys().open(&younger, now), Err(TokenError::Forged));
        for garbage in ["", "abc", "a.b.c", "..", &format!("{token}.x"), &token.replace('.', "-")] {
            assert_eq!(keys().open(garbage, now), Err(TokenError::Malformed), "{garbage:?}");
        }
    }

    #[test]
    fn a_token_past_the_lifetime_is_expired_and_a_renewed_one_is_good() {
        let then = Utc::now() - chrono::Duration::days(31);
        let (session, old) = keys().start(then).unwrap();
        let now = Utc::now();
        assert_eq!(keys().open(&old, now), Err(TokenError::Expired));
        let renewed = keys().token(&session, now);
        assert_eq!(keys().open(&renewed, now).unwrap(), session);
        let from_the_future = keys().token(&session, now + chrono::Duration::hours(1));
        assert_eq!(keys().open(&from_the_future, now), Err(TokenError::Expired));
    }
}
