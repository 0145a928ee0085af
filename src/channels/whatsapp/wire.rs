//! The webhook payloads Meta posts (`object: whatsapp_business_account`), as far as billbot reads
//! them. Every field is optional and unknown fields and message types are kept, not refused: Meta
//! adds types over time, and a payload that fails to parse would be retried for days.

use serde::Deserialize;
use serde_json::Value;

/// One webhook POST: entries of changes, each change one phone number's news.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Webhook {
    pub object: Option<String>,
    pub entry: Vec<Entry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Entry {
    pub id: Option<String>,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Change {
    pub field: Option<String>,
    pub value: ChangeValue,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ChangeValue {
    pub messaging_product: Option<String>,
    pub metadata: Metadata,
    pub contacts: Vec<Contact>,
    pub messages: Vec<Message>,
    pub statuses: Vec<Status>,
    pub errors: Vec<GraphErrorItem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    pub display_phone_number: Option<String>,
    pub phone_number_id: Option<String>,
}

/// Who wrote: the phone number (`wa_id`) when WhatsApp shares it, and the business-scoped user id
/// (`user_id`, `SN.1502…`) that Meta added in 2026 and that stands alone for users with a
/// username.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Contact {
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
    pub profile: Profile,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Profile {
    pub name: Option<String>,
}

/// One message from a user. `kind` is Meta's `type`; the body of each known kind is its field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Message {
    pub id: Option<String>,
    pub from: Option<String>,
    pub from_user_id: Option<String>,
    pub timestamp: Option<Value>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub text: Option<Text>,
    pub interactive: Option<Interactive>,
    pub button: Option<TemplateButton>,
    pub image: Option<Media>,
    pub video: Option<Media>,
    pub document: Option<Media>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Text {
    pub body: Option<String>,
}

/// A reply to an interactive message: a reply button or a list row.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Interactive {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub button_reply: Option<Choice>,
    pub list_reply: Option<Choice>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Choice {
    pub id: Option<String>,
    pub title: Option<String>,
}

/// A quick-reply button of a template.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TemplateButton {
    pub payload: Option<String>,
    pub text: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Media {
    pub caption: Option<String>,
}

/// What became of a message billbot sent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Status {
    pub id: Option<String>,
    pub status: Option<String>,
    pub recipient_id: Option<String>,
    pub errors: Vec<GraphErrorItem>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GraphErrorItem {
    pub code: Option<i64>,
    pub title: Option<String>,
    pub message: Option<String>,
}

impl Message {
    /// The Unix time the user sent it, when Meta says (as a string, or a number).
    pub fn sent_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let secs = match self.timestamp.as_ref()? {
            Value::String(s) => s.trim().parse::<i64>().ok()?,
            Value::Number(n) => n.as_i64()?,
            _ => return None,
        };
        chrono::DateTime::from_timestamp(secs, 0)
    }
}
