//! What a transport sends and how it fails: the leaf the transports share,
//! so neither imports the other nor the outbox.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entity::mail;

/// A file sent with a mail.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

/// The mail a transport sends: the outbox row, read back.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub id: Uuid,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<&mail::Model> for Outgoing {
    type Error = String;

    fn try_from(m: &mail::Model) -> Result<Self, String> {
        let list = |s: &str| serde_json::from_str::<Vec<String>>(s).map_err(|e| e.to_string());
        Ok(Outgoing {
            id: m.id,
            to: list(&m.to_addrs)?,
            cc: list(&m.cc_addrs)?,
            reply_to: m.reply_to.clone(),
            subject: m.subject.clone(),
            text: m.text_body.clone(),
            html: m.html_body.clone(),
            attachments: match &m.attachments {
                Some(a) => serde_json::from_str(a).map_err(|e| e.to_string())?,
                None => Vec::new(),
            },
            created_at: m.created_at,
        })
    }
}

/// Why a mail did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth another try later (server down, timeout, 4xx SMTP reply).
    #[error("{0}")]
    Transient(String),
    /// No retry can fix it (address refused, message rejected).
    #[error("{0}")]
    Permanent(String),
}
