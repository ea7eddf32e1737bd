//! Maintenance plans: the domain. A plan repeats a kind of work on a
//! machine every so many days, weeks or months, or every so many units of
//! a meter (operating hours, cycles), with a checklist that the record of
//! the work answers. A daily schedule turns what falls due into work
//! orders; an open work order past its day is overdue.

pub mod api;
pub mod jobs;
pub mod pages;
pub mod service;
pub mod store;

use std::collections::BTreeMap;

use chrono::{Months, NaiveDate};
use faena_platform::types::required_text;
use faena_platform::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::machines::optional_text;
use crate::records::RecordKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntervalUnit {
    Days,
    Weeks,
    Months,
}

impl IntervalUnit {
    pub const ALL: [IntervalUnit; 3] = [
        IntervalUnit::Days,
        IntervalUnit::Weeks,
        IntervalUnit::Months,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IntervalUnit::Days => "days",
            IntervalUnit::Weeks => "weeks",
            IntervalUnit::Months => "months",
        }
    }

    pub fn parse(s: &str) -> Option<IntervalUnit> {
        IntervalUnit::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

/// `count` units after `day` (the 31st plus a month is the month's last
/// day).
pub fn after(day: NaiveDate, count: u32, unit: IntervalUnit) -> NaiveDate {
    match unit {
        IntervalUnit::Days => day + chrono::Duration::days(i64::from(count)),
        IntervalUnit::Weeks => day + chrono::Duration::weeks(i64::from(count)),
        IntervalUnit::Months => day.checked_add_months(Months::new(count)).unwrap_or(day),
    }
}

/// What a checklist item asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// Done or not (`true` / `false`).
    Check,
    /// A number, within `min` and `max` when given.
    Number,
    /// A short text.
    Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    /// The answer's name (`presion`); letters, digits and `_`.
    pub key: String,
    /// What the technician reads (`Presión de la cámara`).
    pub label: String,
    pub kind: ItemKind,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// Default true.
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

pub const MAX_ITEMS: usize = 40;

/// Checks a checklist template; each broken rule is named.
pub fn check_template(items: &[ChecklistItem], errors: &mut FieldErrors) {
    if items.len() > MAX_ITEMS {
        errors.push(FieldError::new("checklist", "too_many").with("max", MAX_ITEMS));
    }
    let mut seen = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key_ok = !item.key.is_empty()
            && item.key.len() <= 40
            && item
                .key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            errors.push(FieldError::new(
                format!("checklist[{i}].key"),
                "invalid_item_key",
            ));
        } else if seen.contains(&item.key) {
            errors.push(
                FieldError::new(format!("checklist[{i}].key"), "duplicate_item_key")
                    .with("value", item.key.clone()),
            );
        }
        seen.push(item.key.clone());
        if item.label.trim().is_empty() {
            errors.push(FieldError::new(format!("checklist[{i}].label"), "required"));
        }
        if let (Some(lo), Some(hi)) = (item.min, item.max)
            && lo > hi
        {
            errors.push(FieldError::new(
                format!("checklist[{i}].max"),
                "max_below_min",
            ));
        }
    }
}

/// Checks a record's answers against its plan's checklist: every required
/// item answered, each answer of its kind and within its range, nothing
/// the checklist does not ask. Errors name `checklist.<key>`.
pub fn check_answers(
    template: &[ChecklistItem],
    answers: &BTreeMap<String, serde_json::Value>,
    errors: &mut FieldErrors,
) {
    for key in answers.keys() {
        if !template.iter().any(|i| &i.key == key) {
            errors.push(FieldError::new(format!("checklist.{key}"), "unknown_item"));
        }
    }
    for item in template {
        let field = format!("checklist.{}", item.key);
        let Some(answer) = answers.get(&item.key).filter(|v| !v.is_null()) else {
            if item.required {
                errors.push(
                    FieldError::new(field, "answer_required").with("item", item.label.clone()),
                );
            }
            continue;
        };
        match item.kind {
            ItemKind::Check => {
                if !answer.is_boolean() {
                    errors.push(
                        FieldError::new(field, "answer_check").with("item", item.label.clone()),
                    );
                }
            }
            ItemKind::Number => match answer.as_f64() {
                None => errors
                    .push(FieldError::new(field, "answer_number").with("item", item.label.clone())),
                Some(n) => {
                    let below = item.min.is_some_and(|lo| n < lo);
                    let above = item.max.is_some_and(|hi| n > hi);
                    if below || above {
                        errors.push(
                            FieldError::new(field, "answer_out_of_range")
                                .with("item", item.label.clone())
                                .with(
                                    "min",
                                    item.min
                                        .map(|v| v.to_string())
                                        .unwrap_or_else(|| "—".into()),
                                )
                                .with(
                                    "max",
                                    item.max
                                        .map(|v| v.to_string())
                                        .unwrap_or_else(|| "—".into()),
                                ),
                        );
                    }
                }
            },
            ItemKind::Text => match answer.as_str() {
                Some(s) if s.chars().count() <= 500 => {}
                _ => errors
                    .push(FieldError::new(field, "answer_text").with("item", item.label.clone())),
            },
        }
    }
}

/// A plan as a caller gives it: a calendar interval or a meter, not both.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub title: String,
    /// `preventive`, `calibration` or `inspection`.
    pub kind: Option<RecordKind>,
    /// Every `interval_count` `interval_unit`s…
    #[serde(default)]
    pub interval_count: Option<i64>,
    #[serde(default)]
    pub interval_unit: Option<IntervalUnit>,
    /// …or every `meter_every` units of the meter `meter` (`horas`).
    #[serde(default)]
    pub meter: Option<String>,
    #[serde(default)]
    pub meter_every: Option<i64>,
    /// Days before the due day that the work order is made and the
    /// responsible person is reminded (default 7).
    #[serde(default)]
    pub lead_days: Option<i64>,
    /// The first due day of a calendar plan (default: one interval from
    /// today).
    #[serde(default)]
    pub first_due_on: Option<NaiveDate>,
    #[serde(default)]
    pub checklist: Vec<ChecklistItem>,
    /// Default true.
    #[serde(default)]
    pub active: Option<bool>,
}

/// When a plan falls due.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    Calendar { count: u32, unit: IntervalUnit },
    Meter { meter: String, every: i64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub title: String,
    pub kind: RecordKind,
    pub trigger: Trigger,
    pub lead_days: i32,
    pub checklist: Vec<ChecklistItem>,
    pub active: bool,
}

impl PlanInput {
    pub fn check(&self, errors: &mut FieldErrors) -> Option<Plan> {
        let title = errors.take(required_text("title", &self.title, 200));
        let kind = match self.kind {
            Some(RecordKind::Corrective) => {
                errors.push(FieldError::new("kind", "plan_kind"));
                None
            }
            Some(k) => Some(k),
            None => {
                errors.push(FieldError::new("kind", "required"));
                None
            }
        };
        let meter = optional_text("meter", self.meter.as_deref(), 40, errors);
        let trigger = match (
            self.interval_count,
            self.interval_unit,
            meter,
            self.meter_every,
        ) {
            (Some(n), Some(unit), None, None) => {
                if (1..=3650).contains(&n) {
                    u32::try_from(n)
                        .ok()
                        .map(|count| Trigger::Calendar { count, unit })
                } else {
                    errors.push(
                        FieldError::new("interval_count", "out_of_range")
                            .with("min", 1)
                            .with("max", 3650),
                    );
                    None
                }
            }
            (None, None, Some(meter), Some(every)) => {
                if (1..=10_000_000).contains(&every) {
                    Some(Trigger::Meter { meter, every })
                } else {
                    errors.push(
                        FieldError::new("meter_every", "out_of_range")
                            .with("min", 1)
                            .with("max", 10_000_000),
                    );
                    None
                }
            }
            (Some(_), None, None, None) => {
                errors.push(FieldError::new("interval_unit", "required"));
                None
            }
            (None, Some(_), None, None) => {
                errors.push(FieldError::new("interval_count", "required"));
                None
            }
            (None, None, Some(_), None) => {
                errors.push(FieldError::new("meter_every", "required"));
                None
            }
            (None, None, None, Some(_)) => {
                errors.push(FieldError::new("meter", "required"));
                None
            }
            (None, None, None, None) => {
                errors.push(FieldError::new("interval_count", "plan_needs_trigger"));
                None
            }
            _ => {
                errors.push(FieldError::new("meter", "plan_one_trigger"));
                None
            }
        };
        let lead = self.lead_days.unwrap_or(7);
        if !(0..=365).contains(&lead) {
            errors.push(
                FieldError::new("lead_days", "out_of_range")
                    .with("min", 0)
                    .with("max", 365),
            );
        }
        check_template(&self.checklist, errors);
        Some(Plan {
            title: title?,
            kind: kind?,
            trigger: trigger?,
            lead_days: i32::try_from(lead).ok()?,
            checklist: self.checklist.clone(),
            active: self.active.unwrap_or(true),
        })
    }
}

/// Whether a machine has work waiting, and how urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueState {
    /// Open work past its day.
    Overdue,
    /// Open work not yet past its day.
    DueSoon,
    /// Nothing open.
    Ok,
}

impl DueState {
    pub fn as_str(self) -> &'static str {
        match self {
            DueState::Overdue => "overdue",
            DueState::DueSoon => "due_soon",
            DueState::Ok => "ok",
        }
    }

    pub fn of(open_due_days: impl IntoIterator<Item = NaiveDate>, today: NaiveDate) -> DueState {
        let mut state = DueState::Ok;
        for day in open_due_days {
            if day < today {
                return DueState::Overdue;
            }
            state = DueState::DueSoon;
        }
        state
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn intervals_land_on_calendar_days() {
        assert_eq!(
            after(day("2026-01-31"), 1, IntervalUnit::Months),
            day("2026-02-28")
        );
        assert_eq!(
            after(day("2026-12-07"), 2, IntervalUnit::Weeks),
            day("2026-12-21")
        );
        assert_eq!(
            after(day("2026-12-07"), 30, IntervalUnit::Days),
            day("2027-01-06")
        );
    }

    #[test]
    fn a_plan_needs_exactly_one_trigger() {
        let mut p = PlanInput {
            title: "Mantención trimestral".into(),
            kind: Some(RecordKind::Preventive),
            interval_count: Some(0),
            interval_unit: Some(IntervalUnit::Months),
            ..PlanInput::default()
        };
        let mut errors = FieldErrors::new();
        assert!(p.check(&mut errors).is_none());
        assert_eq!(errors.0[0].field, "interval_count");
        assert_eq!(errors.0[0].code, "out_of_range");
        p.interval_count = Some(3);
        p.meter = Some("horas".into());
        p.meter_every = Some(500);
        let mut errors = FieldErrors::new();
        assert!(p.check(&mut errors).is_none());
        assert_eq!(errors.0[0].code, "plan_one_trigger");
        p.interval_count = None;
        p.interval_unit = None;
        let plan = p.check(&mut FieldErrors::new()).unwrap();
        assert_eq!(
            plan.trigger,
            Trigger::Meter {
                meter: "horas".into(),
                every: 500
            }
        );
    }

    #[test]
    fn answers_follow_the_template() {
        let template = vec![
            ChecklistItem {
                key: "sellos".into(),
                label: "Sellos en buen estado".into(),
                kind: ItemKind::Check,
                unit: None,
                min: None,
                max: None,
                required: true,
            },
            ChecklistItem {
                key: "presion".into(),
                label: "Presión".into(),
                kind: ItemKind::Number,
                unit: Some("bar".into()),
                min: Some(1.0),
                max: Some(3.0),
                required: true,
            },
            ChecklistItem {
                key: "nota".into(),
                label: "Nota".into(),
                kind: ItemKind::Text,
                unit: None,
                min: None,
                max: None,
                required: false,
            },
        ];
        let ok: BTreeMap<String, serde_json::Value> =
            serde_json::from_value(serde_json::json!({"sellos": true, "presion": 2.1})).unwrap();
        let mut errors = FieldErrors::new();
        check_answers(&template, &ok, &mut errors);
        assert!(errors.0.is_empty(), "{errors:?}");
        let bad: BTreeMap<String, serde_json::Value> =
            serde_json::from_value(serde_json::json!({"sellos": "sí", "presion": 9, "otro": 1}))
                .unwrap();
        let mut errors = FieldErrors::new();
        check_answers(&template, &bad, &mut errors);
        let got: Vec<(&str, &str)> = errors
            .0
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_ref()))
            .collect();
        assert_eq!(
            got,
            [
                ("checklist.otro", "unknown_item"),
                ("checklist.sellos", "answer_check"),
                ("checklist.presion", "answer_out_of_range")
            ]
        );
        let mut errors = FieldErrors::new();
        check_answers(&template, &BTreeMap::new(), &mut errors);
        assert_eq!(errors.0.len(), 2, "the two required items");
    }

    #[test]
    fn due_state_is_the_most_urgent() {
        let today = day("2026-12-07");
        assert_eq!(DueState::of([], today), DueState::Ok);
        assert_eq!(DueState::of([day("2026-12-10")], today), DueState::DueSoon);
        assert_eq!(
            DueState::of([day("2026-12-10"), day("2026-12-06")], today),
            DueState::Overdue
        );
        assert_eq!(
            DueState::of([today], today),
            DueState::DueSoon,
            "due today is not late yet"
        );
    }
}
