//! Lists: `limit` (default 50, at most 500) and an opaque `cursor`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 500;

/// The paging half of a list's query string.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageQuery {
    /// How many items (1–500, default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<u64, FieldError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(FieldError::new("limit", "out_of_range")
                .with("min", 1)
                .with("max", MAX_LIMIT)),
        }
    }

    /// The cursor's decoded text.
    pub fn cursor(&self) -> Result<Option<String>, FieldError> {
        use base64::Engine;
        match &self.cursor {
            None => Ok(None),
            Some(c) if c.is_empty() => Ok(None),
            Some(c) => base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .map(Some)
                .ok_or_else(|| FieldError::new("cursor", "invalid")),
        }
    }
}

pub fn encode_cursor(value: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value)
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says
    /// that there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: u64, key: impl Fn(&T) -> String) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(&key(r)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}
