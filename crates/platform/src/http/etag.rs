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

/// What a write is conditioned on, from `If-Match` (RFC 9110 §13.1.1):
/// absent or `*`, any current version; otherwise a list of entity tags, of
/// which one must equal the current version's by strong comparison. A weak
/// tag (`W/"3"`) or a tag that is not one of our versions (`"stale-0"`)
/// never matches, so a write conditioned only on such tags is a 412, as is
/// a header that is not a list of entity tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfMatch(Condition);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Any,
    /// The versions named by strong tags (possibly none).
    Versions(Vec<i32>),
}

impl IfMatch {
    /// No condition: the write applies to the current version.
    pub const ANY: IfMatch = IfMatch(Condition::Any);

    /// The version a form was read at (`None`: no condition).
    pub fn version(version: Option<i32>) -> Self {
        match version {
            Some(v) => IfMatch(Condition::Versions(vec![v])),
            None => Self::ANY,
        }
    }

    /// Parses the header's value.
    pub fn parse(value: &str) -> Self {
        let value = value.trim();
        if value == "*" {
            return Self::ANY;
        }
        let mut versions = Vec::new();
        let mut rest = value;
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                break;
            }
            let weak = rest.starts_with("W/");
            let tag = if weak { &rest[2..] } else { rest };
            let Some(inner) = tag.strip_prefix('"') else {
                // Not an entity tag: the list is malformed, nothing matches.
                return IfMatch(Condition::Versions(Vec::new()));
            };
            let Some(end) = inner.find('"') else {
                return IfMatch(Condition::Versions(Vec::new()));
            };
            if !weak && let Ok(v) = inner[..end].parse::<i32>() {
                versions.push(v);
            }
            rest = &inner[end + 1..];
        }
        IfMatch(Condition::Versions(versions))
    }

    /// Refuses the write (412) unless the condition holds for `current`.
    pub fn check(&self, current: i32) -> Result<(), AppError> {
        match &self.0 {
            Condition::Any => Ok(()),
            Condition::Versions(v) if v.contains(&current) => Ok(()),
            Condition::Versions(_) => Err(AppError::PreconditionFailed),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let values: Vec<&str> = parts
            .headers
            .get_all(header::IF_MATCH)
            .iter()
            .map(|v| v.to_str().unwrap_or("\u{0}"))
            .collect();
        if values.is_empty() {
            return Ok(Self::ANY);
        }
        // Several header lines are one comma-separated list.
        Ok(Self::parse(&values.join(",")))
    }
}

#[cfg(test)]
mod if_match_tests {
    use super::*;

    fn ok(header: &str, current: i32) -> bool {
        IfMatch::parse(header).check(current).is_ok()
    }

    #[test]
    fn if_match_follows_rfc_9110() {
        assert!(ok("*", 7));
        assert!(ok("\"7\"", 7));
        assert!(ok("\"3\", \"7\"", 7), "one tag of a list matches");
        assert!(!ok("\"3\", \"4\"", 7));
        assert!(!ok("W/\"7\"", 7), "a weak tag never matches");
        assert!(
            !ok("\"stale-0\"", 7),
            "not one of our versions: false, not invalid"
        );
        assert!(!ok("7", 7), "not an entity tag");
        assert!(!ok("\"7", 7), "unterminated");
        assert!(IfMatch::ANY.check(1).is_ok());
        assert!(IfMatch::version(Some(2)).check(3).is_err());
    }
}
