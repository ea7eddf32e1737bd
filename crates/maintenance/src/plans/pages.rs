//! Plan pages: add a plan to a machine, the open work of every machine
//! (overdue first), and the meter reading form on a machine's page.

use faena_platform::prelude::*;

use crate::given;

use super::service::{self, ReadingInput};
use super::{ChecklistItem, IntervalUnit, ItemKind, PlanInput};
use crate::machines::service as machines;
use crate::perms;
use crate::records::RecordKind;

pub fn pages() -> Pages {
    Pages::new()
        .get("/maintenance/work", perms::RECORDS_READ, work)
        .get("/machines/{code}/plans/new", perms::PLANS_WRITE, new_form)
        .post("/machines/{code}/plans", perms::PLANS_WRITE, create)
        .post(
            "/machines/{code}/meter-readings",
            perms::RECORDS_WRITE,
            add_reading,
        )
}

async fn work(
    State(state): State<AppState>,
    page: PageContext,
    Zone(zone): Zone,
) -> AppResult<Html<String>> {
    let mut orders = service::open_work(&state, None, faena_platform::ui::today(zone)).await?;
    // Overdue first, then by day.
    orders.sort_by_key(|w| (!w.overdue, w.due_on));
    render_page(
        &state,
        "plans/work.html",
        &page,
        context! { orders => orders, can_record => page.can(perms::RECORDS_WRITE) },
    )
}

const CHECKLIST_ROWS: usize = 6;

fn kinds() -> Vec<&'static str> {
    [
        RecordKind::Preventive,
        RecordKind::Calibration,
        RecordKind::Inspection,
    ]
    .iter()
    .map(|k| k.as_str())
    .collect()
}

/// The plan form as posted: checklist rows as `item_label_0`,
/// `item_kind_0`, `item_unit_0`, `item_min_0`, `item_max_0`,
/// `item_optional_0`; blank rows are ignored. `trigger` is `calendar` or
/// `meter`.
#[derive(Debug, Default, Deserialize)]
struct PlanForm {
    #[serde(default)]
    title: String,
    kind: Option<String>,
    trigger: Option<String>,
    interval_count: Option<String>,
    interval_unit: Option<String>,
    meter: Option<String>,
    meter_every: Option<String>,
    lead_days: Option<String>,
    first_due_on: Option<String>,
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

/// A checklist key from its label: `Presión de la cámara` → `presion_de_la_camara`.
fn key_of(label: &str) -> String {
    let folded = faena_platform::text::fold(label);
    let mut key = String::new();
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c);
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    key.trim_end_matches('_').chars().take(40).collect()
}

impl PlanForm {
    fn cell(&self, name: &str, i: usize) -> Option<String> {
        self.rest
            .get(&format!("{name}_{i}"))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    fn input(&self) -> Result<PlanInput, AppError> {
        let mut errors = FieldErrors::new();
        let int = |field: &str, v: Option<&str>, errors: &mut FieldErrors| -> Option<i64> {
            v.and_then(|s| {
                errors.take(
                    s.parse::<i64>()
                        .map_err(|_| FieldError::new(field, "not_a_number")),
                )
            })
        };
        let num = |field: String, v: Option<String>, errors: &mut FieldErrors| -> Option<f64> {
            v.and_then(|s| {
                errors.take(
                    s.replace(',', ".")
                        .parse::<f64>()
                        .map_err(|_| FieldError::new(field, "not_a_number")),
                )
            })
        };
        let kind = given(&self.kind).and_then(|k| {
            errors.take(RecordKind::parse(k).ok_or_else(|| FieldError::new("kind", "invalid")))
        });
        let meter_plan = given(&self.trigger) == Some("meter");
        let (interval_count, interval_unit, meter, meter_every) = if meter_plan {
            (
                None,
                None,
                self.meter.clone(),
                int("meter_every", given(&self.meter_every), &mut errors),
            )
        } else {
            (
                int("interval_count", given(&self.interval_count), &mut errors),
                given(&self.interval_unit).and_then(|u| {
                    errors.take(
                        IntervalUnit::parse(u)
                            .ok_or_else(|| FieldError::new("interval_unit", "invalid")),
                    )
                }),
                None,
                None,
            )
        };
        let lead_days = int("lead_days", given(&self.lead_days), &mut errors);
        let first_due_on = given(&self.first_due_on).and_then(|s| {
            errors.take(
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|_| FieldError::new("first_due_on", "invalid_date")),
            )
        });
        let mut checklist = Vec::new();
        for i in 0..super::MAX_ITEMS {
            let Some(label) = self.cell("item_label", i) else {
                continue;
            };
            let kind = match self.cell("item_kind", i).as_deref() {
                Some("number") => ItemKind::Number,
                Some("text") => ItemKind::Text,
                _ => ItemKind::Check,
            };
            checklist.push(ChecklistItem {
                key: key_of(&label),
                label,
                kind,
                unit: self.cell("item_unit", i),
                min: num(
                    format!("checklist[{i}].min"),
                    self.cell("item_min", i),
                    &mut errors,
                ),
                max: num(
                    format!("checklist[{i}].max"),
                    self.cell("item_max", i),
                    &mut errors,
                ),
                required: self.cell("item_optional", i).is_none(),
            });
        }
        errors.finish()?;
        Ok(PlanInput {
            title: self.title.clone(),
            kind,
            interval_count,
            interval_unit,
            meter: meter.filter(|m| !m.trim().is_empty()),
            meter_every,
            lead_days,
            first_due_on,
            checklist,
            active: Some(true),
        })
    }

    fn echo(&self) -> serde_json::Value {
        let items: Vec<serde_json::Value> = (0..CHECKLIST_ROWS.max(self.rest.keys().filter(|k| k.starts_with("item_label_")).count()))
            .map(|i| {
                serde_json::json!({
                    "label": self.cell("item_label", i), "kind": self.cell("item_kind", i).unwrap_or_else(|| "check".into()),
                    "unit": self.cell("item_unit", i), "min": self.cell("item_min", i), "max": self.cell("item_max", i),
                    "optional": self.cell("item_optional", i).is_some(),
                })
            })
            .collect();
        serde_json::json!({
            "title": self.title, "kind": self.kind.clone().unwrap_or_else(|| "preventive".into()),
            "trigger": self.trigger.clone().unwrap_or_else(|| "calendar".into()),
            "interval_count": self.interval_count, "interval_unit": self.interval_unit.clone().unwrap_or_else(|| "months".into()),
            "meter": self.meter, "meter_every": self.meter_every, "lead_days": self.lead_days.clone().unwrap_or_else(|| "7".into()),
            "first_due_on": self.first_due_on, "items": items,
        })
    }
}

async fn form_page(
    state: &AppState,
    page: &PageContext,
    machine: &machines::MachineView,
    form: serde_json::Value,
    errors: Vec<serde_json::Value>,
) -> AppResult<Html<String>> {
    render_page(
        state,
        "plans/form.html",
        page,
        context! { machine => machine, form => form, errors => errors, kinds => kinds() },
    )
}

async fn new_form(
    State(state): State<AppState>,
    page: PageContext,
    Path(code): Path<String>,
) -> AppResult<Html<String>> {
    let machine = machines::find(&state, &code).await?;
    form_page(
        &state,
        &page,
        &machine,
        PlanForm::default().echo(),
        Vec::new(),
    )
    .await
}

async fn create(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(code): Path<String>,
    Zone(zone): Zone,
    Form(form): Form<PlanForm>,
) -> AppResult<Response> {
    let machine = machines::find(&state, &code).await?;
    let today = faena_platform::ui::today(zone);
    let result = match form.input() {
        Ok(input) => service::create_plan(&state, &actor, &code, &input, today).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(
            Redirect::to(&format!("/machines/{}?ok=plan_created", machine.code)).into_response(),
        ),
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            Ok(unprocessable(
                form_page(&state, &page, &machine, form.echo(), errors).await?,
            ))
        }
    }
}

#[derive(Debug, Deserialize)]
struct ReadingForm {
    #[serde(default)]
    meter: String,
    value: Option<String>,
}

async fn add_reading(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(code): Path<String>,
    Zone(zone): Zone,
    Form(form): Form<ReadingForm>,
) -> AppResult<Response> {
    let machine = machines::find(&state, &code).await?;
    let value = given(&form.value).map(|v| v.replace('.', "").parse::<i64>());
    let result = match value {
        Some(Ok(value)) => {
            let input = ReadingInput {
                meter: form.meter.clone(),
                value,
                read_at: None,
            };
            service::add_reading(
                &state,
                &actor,
                &code,
                &input,
                faena_platform::ui::today(zone),
            )
            .await
            .map(|_| ())
        }
        Some(Err(_)) => Err(FieldError::new("value", "not_a_number").into()),
        None => Err(FieldError::new("value", "required").into()),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!(
            "/machines/{}?ok=reading_saved#meters",
            machine.code
        ))
        .into_response()),
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            let html = crate::machines::pages::render_detail(
                &state,
                &page,
                &code,
                zone,
                DetailQuery::default(),
                errors,
            )
            .await?;
            Ok(unprocessable(html))
        }
    }
}
