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

/// A Chilean RUT (Rol Único Tributario) with a valid check digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rut {
    number: u32,
    check: char,
}

impl Rut {
    /// Accepts `76.086.428-5`, `76086428-5` or `760864285`, any case of `k`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let cleaned: String = raw
            .chars()
            .filter(|c| !matches!(c, '.' | '-' | ' '))
            .collect::<String>()
            .to_ascii_uppercase();
        // Digits and a check digit only: anything else (`IØ`) is refused
        // before the string is split at its last byte.
        if cleaned.len() < 2 || cleaned.len() > 9 || !cleaned.is_ascii() {
            return Err(FieldError::new(field, "invalid_rut"));
        }
        let (digits, check) = cleaned.split_at(cleaned.len() - 1);
        let number: u32 = digits
            .parse()
            .map_err(|_| FieldError::new(field, "invalid_rut"))?;
        let check = check.chars().next().unwrap_or(' ');
        if Self::check_digit(number) != check {
            return Err(FieldError::new(field, "invalid_rut_check_digit"));
        }
        Ok(Rut { number, check })
    }

    /// Modulo 11 with weights 2..7 repeating; 11 → 0, 10 → K.
    pub fn check_digit(mut number: u32) -> char {
        let mut sum = 0;
        let mut weight = 2;
        while number > 0 {
            sum += (number % 10) * weight;
            number /= 10;
            weight = if weight == 7 { 2 } else { weight + 1 };
        }
        match 11 - (sum % 11) {
            11 => '0',
            10 => 'K',
            d => char::from_digit(d, 10).unwrap_or('0'),
        }
    }

    pub fn from_number(number: u32) -> Self {
        Rut {
            number,
            check: Self::check_digit(number),
        }
    }

    /// `76086428-5`: the form stored and compared.
    pub fn normalised(&self) -> String {
        format!("{}-{}", self.number, self.check)
    }

    /// `76.086.428-5`: the form people read.
    pub fn formatted(&self) -> String {
        let digits = self.number.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push('.');
            }
            out.push(c);
        }
        format!("{out}-{}", self.check)
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
    fn ruts() {
        let r = Rut::parse("tax_id", "76.086.428-5").unwrap();
        assert_eq!(r.normalised(), "76086428-5");
        assert_eq!(r.formatted(), "76.086.428-5");
        assert_eq!(Rut::parse("t", "760864285").unwrap(), r);
        assert_eq!(
            Rut::parse("t", "12.345.678-5").unwrap().formatted(),
            "12.345.678-5"
        );
        assert_eq!(
            Rut::parse("t", "10.000.013-k").unwrap().normalised(),
            "10000013-K"
        );
        assert_eq!(
            Rut::parse("t", "76.086.428-4").unwrap_err().code,
            "invalid_rut_check_digit"
        );
        assert_eq!(Rut::parse("t", "abc").unwrap_err().code, "invalid_rut");
        // A multi-byte last character (found by schemathesis: a panic).
        for raw in ["IØ", "\u{8b}iØ", "1234567ñ", "7-€"] {
            assert_eq!(
                Rut::parse("t", raw).unwrap_err().code,
                "invalid_rut",
                "{raw}"
            );
        }
        assert_eq!(Rut::check_digit(11_111_111), '1');
        for n in [1_000_000, 5_126_663, 22_222_222] {
            assert_eq!(
                Rut::parse("t", &Rut::from_number(n).formatted())
                    .unwrap()
                    .normalised(),
                Rut::from_number(n).normalised()
            );
        }
    }

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
