//! Technicians: the users who work at the bench (their role grants
//! `service.orders.work`), with a profile the manager keeps (specialties,
//! active) and their current load. The users themselves are the
//! platform's; this module owns only the profile.

pub mod api;
pub mod pages;
pub mod service;
pub mod store;

use faena_platform::{FieldError, FieldErrors};

pub const MAX_SPECIALTIES: usize = 20;

/// Specialties as given: trimmed, blank ones left out, each once (ignoring
/// case), each up to 60 characters.
pub fn parse_specialties(raw: &[String], errors: &mut FieldErrors) -> Vec<String> {
    if raw.len() > MAX_SPECIALTIES {
        errors.push(FieldError::new("specialties", "too_many").with("max", MAX_SPECIALTIES));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let s = s.trim();
        if s.is_empty() {
            continue;
        }
        if s.chars().count() > 60 {
            errors.push(FieldError::new(format!("specialties[{i}]"), "too_long").with("max", 60));
            continue;
        }
        if !out.iter().any(|o| o.to_lowercase() == s.to_lowercase()) {
            out.push(s.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specialties_are_trimmed_and_unique() {
        let mut errors = FieldErrors::new();
        let got = parse_specialties(
            &[
                " Notebooks ".into(),
                "".into(),
                "notebooks".into(),
                "Celulares".into(),
                "x".repeat(61),
            ],
            &mut errors,
        );
        assert_eq!(got, ["Notebooks", "Celulares"]);
        assert_eq!(errors.0[0].field, "specialties[4]");
    }
}
