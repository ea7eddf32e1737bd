//! The calibration register: every instrument (a machine with a
//! calibration plan or a calibration record) with its last calibration,
//! result, tolerance, certificate and next due date, coloured by state:
//! overdue, due within 30 days, or fine. As JSON, a page and a PDF.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use faena_platform::{AppResult, AppState, Locale};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::machines::store as machines;
use crate::plans::store::plan;
use crate::records::store as records;
use crate::records::{Outcome, RecordKind};

/// Days ahead that a calibration counts as due soon.
pub const DUE_SOON_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationState {
    Overdue,
    DueSoon,
    Fine,
    /// Never calibrated, or no next date known.
    Unknown,
}

impl CalibrationState {
    pub fn of(next: Option<NaiveDate>, today: NaiveDate) -> Self {
        match next {
            None => CalibrationState::Unknown,
            Some(d) if d < today => CalibrationState::Overdue,
            Some(d) if d <= today + chrono::Duration::days(DUE_SOON_DAYS) => {
                CalibrationState::DueSoon
            }
            Some(_) => CalibrationState::Fine,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CalibrationState::Overdue => "overdue",
            CalibrationState::DueSoon => "due_soon",
            CalibrationState::Fine => "fine",
            CalibrationState::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalibrationRow {
    pub machine_code: String,
    pub machine_name: String,
    pub lab: Option<String>,
    pub last_calibrated_at: Option<DateTime<Utc>>,
    pub last_record: Option<Uuid>,
    pub result: Option<Outcome>,
    /// The tolerance the last calibration recorded (its `Tolerancia`
    /// measurement).
    pub tolerance: Option<String>,
    /// The certificate: the first file attached to the last calibration.
    pub certificate_url: Option<String>,
    pub next_due_on: Option<NaiveDate>,
    pub state: CalibrationState,
}

/// The register, most urgent first (overdue, due soon, unknown, fine),
/// then by code.
pub async fn register(state: &AppState, today: NaiveDate) -> AppResult<Vec<CalibrationRow>> {
    let db = state.db();
    let plans = plan::Entity::find()
        .filter(plan::Column::Kind.eq(RecordKind::Calibration.as_str()))
        .filter(plan::Column::Active.eq(true))
        .all(db)
        .await?;
    let calibrations = records::latest_of_kind(db, RecordKind::Calibration.as_str()).await?;
    // The latest calibration of each machine (corrected ones give way to
    // their corrections, which come later).
    let mut last: HashMap<Uuid, records::Model> = HashMap::new();
    for r in calibrations {
        last.insert(r.machine_id, r);
    }
    let mut plan_due: HashMap<Uuid, NaiveDate> = HashMap::new();
    for p in &plans {
        if let Some(d) = p.next_due_on {
            plan_due
                .entry(p.machine_id)
                .and_modify(|e| *e = (*e).min(d))
                .or_insert(d);
        }
    }
    let mut ids: Vec<Uuid> = last.keys().copied().collect();
    ids.extend(plan_due.keys().copied());
    ids.sort_unstable();
    ids.dedup();
    let rows = machines::Entity::find()
        .filter(machines::Column::Id.is_in(ids))
        .filter(machines::Column::Status.ne(crate::machines::MachineStatus::Retired.as_str()))
        .all(db)
        .await?;
    let mut out = Vec::new();
    for m in rows {
        let rec = last.get(&m.id);
        let next = match (
            plan_due.get(&m.id).copied(),
            rec.and_then(|r| r.next_due_on),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let certificate_url = match rec {
            Some(r) => faena_platform::files::service::first_of(
                db,
                crate::records::service::FILE_KIND,
                &r.id.to_string(),
            )
            .await?
            .map(|f| format!("/api/files/{f}/content")),
            None => None,
        };
        let tolerance = rec.and_then(|r| {
            let details: serde_json::Value = serde_json::from_str(&r.details).ok()?;
            details["measurements"]
                .as_object()?
                .iter()
                .find(|(k, _)| faena_platform::text::fold(k) == "tolerancia")
                .and_then(|(_, v)| v.as_str().map(str::to_owned))
        });
        out.push(CalibrationRow {
            machine_code: m.code,
            machine_name: m.name,
            lab: m.lab,
            last_calibrated_at: rec.map(|r| r.performed_at),
            last_record: rec.map(|r| r.id),
            result: rec.and_then(|r| Outcome::parse(&r.outcome)),
            tolerance,
            certificate_url,
            next_due_on: next,
            state: CalibrationState::of(next, today),
        });
    }
    let rank = |s: CalibrationState| match s {
        CalibrationState::Overdue => 0,
        CalibrationState::DueSoon => 1,
        CalibrationState::Unknown => 2,
        CalibrationState::Fine => 3,
    };
    out.sort_by(|a, b| {
        rank(a.state)
            .cmp(&rank(b.state))
            .then(a.machine_code.cmp(&b.machine_code))
    });
    Ok(out)
}

/// The register as a printable A4 landscape PDF, the state cells coloured.
pub fn pdf(
    state: &AppState,
    locale: Locale,
    zone: chrono_tz::Tz,
    rows: &[CalibrationRow],
) -> Vec<u8> {
    use faena_pdf::{Cell, Column, Document, Flow, Footer, Margins, PageSize, Rgb, Table};
    let t = |k: &str| state.i18n().t(locale, k, &[]);
    let title = t("calibrations.title");
    let mut doc = Document::new();
    doc.set_title(&title)
        .set_creation_date(&Utc::now().with_timezone(&zone));
    {
        let mut flow = Flow::new(&mut doc, PageSize::A4.rotated(), Margins::default());
        flow.title(&title, 16.0);
        flow.paragraph(
            &state.i18n().t(
                locale,
                "calibrations.printed",
                &[(
                    "at",
                    Utc::now()
                        .with_timezone(&zone)
                        .format("%d-%m-%Y %H:%M")
                        .to_string(),
                )],
            ),
            faena_pdf::Font::Helvetica,
            9.0,
        );
        let mut table = Table::new(vec![
            Column::new(&t("machines.code"), 70.0),
            Column::new(&t("field.name"), 170.0),
            Column::new(&t("machines.lab"), 130.0),
            Column::new(&t("calibrations.last"), 80.0),
            Column::new(&t("records.outcome"), 90.0),
            Column::new(&t("calibrations.tolerance"), 80.0),
            Column::new(&t("calibrations.next"), 80.0),
            Column::new(&t("calibrations.state"), 80.0),
        ]);
        for r in rows {
            let fill = match r.state {
                CalibrationState::Overdue => Rgb::hex(0xF8D7DA),
                CalibrationState::DueSoon => Rgb::hex(0xFFF3CD),
                CalibrationState::Fine => Rgb::hex(0xD1E7DD),
                CalibrationState::Unknown => Rgb::hex(0xE9ECEF),
            };
            table.push_row([
                Cell::new(&r.machine_code),
                Cell::new(&r.machine_name),
                Cell::new(r.lab.as_deref().unwrap_or("—")),
                Cell::new(
                    &r.last_calibrated_at
                        .map(|d| d.with_timezone(&zone).format("%d-%m-%Y").to_string())
                        .unwrap_or_else(|| "—".into()),
                ),
                Cell::new(
                    &r.result
                        .map(|o| t(&format!("outcome.{}", o.as_str())))
                        .unwrap_or_else(|| "—".into()),
                ),
                Cell::new(r.tolerance.as_deref().unwrap_or("—")),
                Cell::new(
                    &r.next_due_on
                        .map(|d| d.format("%d-%m-%Y").to_string())
                        .unwrap_or_else(|| "—".into()),
                ),
                Cell::new(&t(&format!("calibration_state.{}", r.state.as_str()))).fill(fill),
            ]);
        }
        flow.table(&table);
    }
    doc.number_pages(&Footer::new(&state.i18n().t(
        locale,
        "pdf.page_of",
        &[("page", "{page}".into()), ("pages", "{pages}".into())],
    )));
    doc.to_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn states_follow_the_next_date() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let d = |n: i64| Some(today + chrono::Duration::days(n));
        assert_eq!(
            CalibrationState::of(d(-1), today),
            CalibrationState::Overdue
        );
        assert_eq!(CalibrationState::of(d(0), today), CalibrationState::DueSoon);
        assert_eq!(
            CalibrationState::of(d(30), today),
            CalibrationState::DueSoon
        );
        assert_eq!(CalibrationState::of(d(31), today), CalibrationState::Fine);
        assert_eq!(CalibrationState::of(None, today), CalibrationState::Unknown);
    }
}
