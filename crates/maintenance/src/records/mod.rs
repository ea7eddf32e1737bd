//! Maintenance records: the domain. A record says what was done to a
//! machine, by whom, when, at what cost and with what result. Once signed
//! off it never changes; a mistake is corrected by a new record that points
//! to it, so the trail a quality system needs stays whole.

pub mod api;
pub mod csv;
pub mod pages;
pub mod service;
pub mod store;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use faena_platform::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::machines::optional_text;

/// What kind of work it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Preventive,
    Corrective,
    Calibration,
    Inspection,
}

impl RecordKind {
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Preventive,
        RecordKind::Corrective,
        RecordKind::Calibration,
        RecordKind::Inspection,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Preventive => "preventive",
            RecordKind::Corrective => "corrective",
            RecordKind::Calibration => "calibration",
            RecordKind::Inspection => "inspection",
        }
    }

    pub fn parse(s: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How the machine came out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Fit for use.
    Ok,
    /// Fit for use, with observations to follow.
    Observations,
    /// Not fit for use.
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Observations, Outcome::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Observations => "observations",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// A part used in the work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartUsed {
    pub name: String,
    /// Units used (at least 1).
    pub quantity: i64,
    /// Price of one unit in pesos (CLP, no decimals); absent when the part
    /// came from stock without a price.
    #[serde(default)]
    pub unit_cost_clp: Option<i64>,
}

pub const MAX_PARTS: usize = 50;
pub const MAX_MEASUREMENTS: usize = 50;
/// A peso amount above this is a typing mistake (a trillion pesos).
pub const MAX_CLP: i64 = 1_000_000_000_000;

/// A record as a caller gives it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    pub kind: Option<RecordKind>,
    /// When the work was done; default now. Not in the future.
    #[serde(default)]
    pub performed_at: Option<DateTime<Utc>>,
    /// Who did it (a user who may record work); default the caller.
    #[serde(default)]
    pub technician_id: Option<Uuid>,
    pub description: String,
    /// How long it took, in minutes.
    #[serde(default)]
    pub duration_minutes: Option<i64>,
    /// Labour and other costs in pesos (CLP); the parts add theirs.
    #[serde(default)]
    pub cost_clp: Option<i64>,
    #[serde(default)]
    pub parts: Vec<PartUsed>,
    /// Readings taken (`temperatura`: `4,1 °C`), up to 50.
    #[serde(default)]
    pub measurements: BTreeMap<String, String>,
    /// Default `ok`.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// When the next such work is due.
    #[serde(default)]
    pub next_due_on: Option<NaiveDate>,
    /// The signed-off record this one corrects (same machine).
    #[serde(default)]
    pub corrects: Option<Uuid>,
    /// The open work order (of a plan) this work closes.
    #[serde(default)]
    pub work_order: Option<Uuid>,
    /// Answers to the plan's checklist, by item key: `true`/`false`, a
    /// number or a text, as each item asks.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub checklist: BTreeMap<String, serde_json::Value>,
}

/// A record's fields, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: RecordKind,
    pub performed_at: DateTime<Utc>,
    pub description: String,
    pub duration_minutes: Option<i32>,
    pub cost_clp: i64,
    pub parts: Vec<PartUsed>,
    pub measurements: BTreeMap<String, String>,
    pub outcome: Outcome,
    pub next_due_on: Option<NaiveDate>,
}

impl Record {
    /// What the parts cost, in pesos.
    pub fn parts_cost(parts: &[PartUsed]) -> i64 {
        parts
            .iter()
            .map(|p| p.quantity.saturating_mul(p.unit_cost_clp.unwrap_or(0)))
            .fold(0i64, i64::saturating_add)
    }

    /// Labour and other costs plus the parts, in pesos.
    pub fn total_cost(&self) -> i64 {
        self.cost_clp.saturating_add(Self::parts_cost(&self.parts))
    }
}

fn amount(field: &str, v: Option<i64>, errors: &mut FieldErrors) -> Option<i64> {
    match v {
        Some(n) if !(0..=MAX_CLP).contains(&n) => {
            errors.push(
                FieldError::new(field, "out_of_range")
                    .with("min", 0)
                    .with("max", MAX_CLP),
            );
            None
        }
        other => other,
    }
}

impl RecordInput {
    /// Every rule on the fields alone; each broken one is named.
    pub fn check(&self, now: DateTime<Utc>, errors: &mut FieldErrors) -> Option<Record> {
        let kind = match self.kind {
            Some(k) => Some(k),
            None => {
                errors.push(FieldError::new("kind", "required"));
                None
            }
        };
        let performed_at = self.performed_at.unwrap_or(now);
        if performed_at > now + chrono::Duration::minutes(5) {
            errors.push(FieldError::new("performed_at", "date_in_future"));
        }
        let description = optional_text("description", Some(&self.description), 4000, errors);
        if self.description.trim().is_empty() {
            errors.push(FieldError::new("description", "required"));
        }
        let duration = match self.duration_minutes {
            Some(d) if !(0..=100_000).contains(&d) => {
                errors.push(
                    FieldError::new("duration_minutes", "out_of_range")
                        .with("min", 0)
                        .with("max", 100_000),
                );
                None
            }
            Some(d) => i32::try_from(d).ok(),
            None => None,
        };
        let cost = amount("cost_clp", self.cost_clp, errors).unwrap_or(0);
        if self.parts.len() > MAX_PARTS {
            errors.push(FieldError::new("parts", "too_many").with("max", MAX_PARTS));
        }
        let mut parts = Vec::new();
        for (i, p) in self.parts.iter().enumerate() {
            let name = optional_text(&format!("parts[{i}].name"), Some(&p.name), 200, errors);
            if p.name.trim().is_empty() {
                errors.push(FieldError::new(format!("parts[{i}].name"), "required"));
            }
            if !(1..=1_000_000).contains(&p.quantity) {
                errors.push(
                    FieldError::new(format!("parts[{i}].quantity"), "out_of_range")
                        .with("min", 1)
                        .with("max", 1_000_000),
                );
            }
            let unit = amount(
                &format!("parts[{i}].unit_cost_clp"),
                p.unit_cost_clp,
                errors,
            );
            if let Some(name) = name {
                parts.push(PartUsed {
                    name,
                    quantity: p.quantity,
                    unit_cost_clp: unit,
                });
            }
        }
        if self.measurements.len() > MAX_MEASUREMENTS {
            errors.push(FieldError::new("measurements", "too_many").with("max", MAX_MEASUREMENTS));
        }
        let mut measurements = BTreeMap::new();
        for (k, v) in &self.measurements {
            let key = k.trim();
            if key.is_empty() || key.chars().count() > 60 {
                errors.push(FieldError::new(
                    format!("measurements.{k}"),
                    "invalid_attribute_name",
                ));
            } else if v.chars().count() > 500 {
                errors.push(
                    FieldError::new(format!("measurements.{key}"), "too_long").with("max", 500),
                );
            } else {
                measurements.insert(key.to_owned(), v.trim().to_owned());
            }
        }
        if let Some(due) = self.next_due_on
            && due < performed_at.date_naive()
        {
            errors.push(FieldError::new("next_due_on", "due_before_work"));
        }
        Some(Record {
            kind: kind?,
            performed_at,
            description: description?,
            duration_minutes: duration,
            cost_clp: cost,
            parts,
            measurements,
            outcome: self.outcome.unwrap_or(Outcome::Ok),
            next_due_on: self.next_due_on,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn input() -> RecordInput {
        RecordInput {
            kind: Some(RecordKind::Preventive),
            description: "Cambio de filtros".into(),
            ..RecordInput::default()
        }
    }

    #[test]
    fn a_plain_record_defaults_to_now_and_ok() {
        let now = Utc::now();
        let r = input().check(now, &mut FieldErrors::new()).unwrap();
        assert_eq!(r.performed_at, now);
        assert_eq!(r.outcome, Outcome::Ok);
        assert_eq!(r.cost_clp, 0);
    }

    #[test]
    fn every_bad_field_is_named() {
        let now = Utc::now();
        let bad = RecordInput {
            kind: None,
            description: " ".into(),
            performed_at: Some(now + chrono::Duration::days(1)),
            duration_minutes: Some(-5),
            cost_clp: Some(-1),
            parts: vec![PartUsed {
                name: "".into(),
                quantity: 0,
                unit_cost_clp: Some(-3),
            }],
            next_due_on: Some(now.date_naive() - chrono::Duration::days(1)),
            ..RecordInput::default()
        };
        let mut errors = FieldErrors::new();
        assert!(bad.check(now, &mut errors).is_none());
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "kind",
                "performed_at",
                "description",
                "duration_minutes",
                "cost_clp",
                "parts[0].name",
                "parts[0].quantity",
                "parts[0].unit_cost_clp",
                "next_due_on",
            ]
        );
    }

    #[test]
    fn parts_add_their_cost() {
        let parts = [
            PartUsed {
                name: "Filtro".into(),
                quantity: 2,
                unit_cost_clp: Some(12_500),
            },
            PartUsed {
                name: "Junta".into(),
                quantity: 1,
                unit_cost_clp: None,
            },
        ];
        assert_eq!(Record::parts_cost(&parts), 25_000);
    }
}
