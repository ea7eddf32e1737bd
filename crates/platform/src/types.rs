//! Parsed input types shared by every module: a value of one of these can
//! only hold valid data (parse, don't validate).

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// An email address, trimmed; compared case-insensitively through `key()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldError::new(field, "required"));
        }
        let valid = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && match s.rsplit_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !local.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                        && domain
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
                }
                None => false,
            };
        if valid {
            Ok(Email(s.to_owned()))
        } else {
            Err(FieldError::new(field, "invalid_email"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The unique key: lower case.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A required, trimmed text of bounded length.
pub fn required_text(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let s = raw.trim();
    if s.is_empty() {
        Err(FieldError::new(field, "required"))
    } else if s.chars().count() > max {
        Err(FieldError::new(field, "too_long").with("max", max))
    } else {
        Ok(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("email", " Ana@Example.CL ").unwrap().key(),
            "ana@example.cl"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.cl",
            "ana@x",
            "a b@x.cl",
            "ana@x..cl",
            "ana@.x.cl",
        ] {
            assert!(Email::parse("email", bad).is_err(), "{bad}");
        }
    }
}
