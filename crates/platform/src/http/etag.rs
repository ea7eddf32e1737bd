//! Optimistic locking over HTTP: `ETag: "<version>"` on reads, `If-Match`
//! on writes (412 when stale).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};

use crate::error::AppError;

pub fn etag(version: i32) -> (header::HeaderName, HeaderValue) {
    (
        header::ETAG,
        HeaderValue::from_str(&format!("\"{version}\""))
            .unwrap_or(HeaderValue::from_static("\"0\"")),
    )
}

/// The version a client says it is changing, from `If-Match`. `None` when
/// the header is absent (the write then applies to the current version).
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i32>);

impl IfMatch {
    /// Refuses the write when the client's version is not the current one.
    pub fn check(&self, current: i32) -> Result<(), AppError> {
        match self.0 {
            Some(v) if v != current => Err(AppError::PreconditionFailed),
            _ => Ok(()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = value.to_str().unwrap_or("").trim();
        if text == "*" {
            return Ok(IfMatch(None));
        }
        let text = text.trim_start_matches("W/").trim_matches('"');
        text.parse::<i32>()
            .map(|v| IfMatch(Some(v)))
            .map_err(|_| AppError::from(crate::error::FieldError::new("If-Match", "invalid")))
    }
}
