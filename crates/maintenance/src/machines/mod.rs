//! Machines (equipment): the domain. A machine is known by its code
//! (`MAQ-001`, unique whatever the case); its status says whether it can
//! be worked on, and a retired machine stays retired.

pub mod api;
pub mod csv;
pub mod import;
pub mod pages;
pub mod service;
pub mod store;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use faena_platform::types::required_text;
use faena_platform::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Whether a machine can be used, and worked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MachineStatus {
    Operational,
    InMaintenance,
    OutOfService,
    Retired,
}

impl MachineStatus {
    pub const ALL: [MachineStatus; 4] = [
        MachineStatus::Operational,
        MachineStatus::InMaintenance,
        MachineStatus::OutOfService,
        MachineStatus::Retired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MachineStatus::Operational => "operational",
            MachineStatus::InMaintenance => "in_maintenance",
            MachineStatus::OutOfService => "out_of_service",
            MachineStatus::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<MachineStatus> {
        MachineStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// A retired machine is out of the register's working life: its
    /// history stays, nothing new is recorded on it, and it does not come
    /// back (a machine put back to use is registered again).
    pub fn can_become(self, to: MachineStatus) -> bool {
        self != MachineStatus::Retired || to == MachineStatus::Retired
    }
}

/// How much the lab suffers when the machine stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Low,
    Medium,
    High,
    Critical,
}

impl Criticality {
    pub const ALL: [Criticality; 4] = [
        Criticality::Low,
        Criticality::Medium,
        Criticality::High,
        Criticality::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Criticality::Low => "low",
            Criticality::Medium => "medium",
            Criticality::High => "high",
            Criticality::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Criticality> {
        Criticality::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A machine's code: letters, digits, `-`, `_` and `.`, up to 40, kept in
/// upper case (`maq-001` is `MAQ-001`, and the same machine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineCode(String);

impl MachineCode {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim().to_uppercase();
        if s.is_empty() {
            return Err(FieldError::new("code", "required"));
        }
        let ok = s.chars().count() <= 40
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(MachineCode(s))
        } else {
            Err(FieldError::new("code", "invalid_machine_code"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The unique, case-insensitive key.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A machine as a caller gives it (create, or replace on `PUT`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MachineInput {
    /// `MAQ-001` style; unique whatever the case.
    pub code: String,
    pub name: String,
    /// What kind of equipment (`Centrífuga`, `Balanza analítica`).
    #[serde(default)]
    pub kind: Option<String>,
    /// The lab or place where it stands.
    #[serde(default)]
    pub lab: Option<String>,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub serial: Option<String>,
    /// Default `operational`.
    #[serde(default)]
    pub status: Option<MachineStatus>,
    /// `AAAA-MM-DD`.
    #[serde(default)]
    pub acquired_on: Option<NaiveDate>,
    /// The user who answers for it (mailed about due work and failures).
    #[serde(default)]
    pub responsible_id: Option<Uuid>,
    /// Default `medium`.
    #[serde(default)]
    pub criticality: Option<Criticality>,
    /// Anything else the lab records (`voltaje`: `220 V`), up to 30.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// A machine's fields, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub code: MachineCode,
    pub name: String,
    pub kind: Option<String>,
    pub lab: Option<String>,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub status: MachineStatus,
    pub acquired_on: Option<NaiveDate>,
    pub responsible_id: Option<Uuid>,
    pub criticality: Criticality,
    pub attributes: BTreeMap<String, String>,
    pub notes: Option<String>,
}

pub const MAX_ATTRIBUTES: usize = 30;

/// An optional text: trimmed, empty is none, at most `max` characters.
pub fn optional_text(
    field: &str,
    raw: Option<&str>,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<String> {
    let s = raw.map(str::trim).filter(|s| !s.is_empty())?;
    if s.chars().count() > max {
        errors.push(FieldError::new(field, "too_long").with("max", max));
        return None;
    }
    Some(s.to_owned())
}

impl MachineInput {
    /// Every rule on the fields alone; each broken one is named. Whether
    /// the code is free and the responsible user exists is the service's.
    pub fn check(&self, errors: &mut FieldErrors) -> Option<Machine> {
        let code = errors.take(MachineCode::parse(&self.code));
        let name = errors.take(required_text("name", &self.name, 200));
        let text = |field: &str, v: &Option<String>, max: usize, errors: &mut FieldErrors| {
            optional_text(field, v.as_deref(), max, errors)
        };
        let kind = text("kind", &self.kind, 100, errors);
        let lab = text("lab", &self.lab, 100, errors);
        let brand = text("brand", &self.brand, 100, errors);
        let model = text("model", &self.model, 100, errors);
        let serial = text("serial", &self.serial, 100, errors);
        let notes = text("notes", &self.notes, 4000, errors);
        if self.attributes.len() > MAX_ATTRIBUTES {
            errors.push(FieldError::new("attributes", "too_many").with("max", MAX_ATTRIBUTES));
        }
        let mut attributes = BTreeMap::new();
        for (k, v) in &self.attributes {
            let key = k.trim();
            if key.is_empty() || key.chars().count() > 60 {
                errors.push(FieldError::new(
                    format!("attributes.{k}"),
                    "invalid_attribute_name",
                ));
                continue;
            }
            if v.chars().count() > 500 {
                errors.push(
                    FieldError::new(format!("attributes.{key}"), "too_long").with("max", 500),
                );
                continue;
            }
            attributes.insert(key.to_owned(), v.trim().to_owned());
        }
        if let Some(day) = self.acquired_on
            && day > chrono::Utc::now().date_naive()
        {
            errors.push(FieldError::new("acquired_on", "date_in_future"));
        }
        Some(Machine {
            code: code?,
            name: name?,
            kind,
            lab,
            brand,
            model,
            serial,
            status: self.status.unwrap_or(MachineStatus::Operational),
            acquired_on: self.acquired_on,
            responsible_id: self.responsible_id,
            criticality: self.criticality.unwrap_or(Criticality::Medium),
            attributes,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_are_upper_case_and_checked() {
        assert_eq!(MachineCode::parse(" maq-001 ").unwrap().as_str(), "MAQ-001");
        assert_eq!(MachineCode::parse("maq-001").unwrap().key(), "maq-001");
        assert_eq!(MachineCode::parse("").unwrap_err().code, "required");
        assert_eq!(
            MachineCode::parse("MAQ 001").unwrap_err().code,
            "invalid_machine_code"
        );
        assert_eq!(
            MachineCode::parse(&"A".repeat(41)).unwrap_err().code,
            "invalid_machine_code"
        );
    }

    #[test]
    fn a_retired_machine_stays_retired() {
        use MachineStatus::*;
        assert!(Operational.can_become(OutOfService));
        assert!(OutOfService.can_become(Operational));
        assert!(Operational.can_become(Retired));
        assert!(!Retired.can_become(Operational));
        assert!(Retired.can_become(Retired));
    }

    #[test]
    fn every_bad_field_is_named() {
        let input = MachineInput {
            code: "MAQ 1".into(),
            name: " ".into(),
            serial: Some("x".repeat(101)),
            acquired_on: Some(chrono::Utc::now().date_naive() + chrono::Duration::days(3)),
            attributes: BTreeMap::from([(" ".into(), "v".into())]),
            ..MachineInput::default()
        };
        let mut errors = FieldErrors::new();
        assert!(input.check(&mut errors).is_none());
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["code", "name", "serial", "attributes. ", "acquired_on"]
        );
    }
}
