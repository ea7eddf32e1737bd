//! Maintenance record pages: every record with filters, a record with its
//! sign-off, the form to record work on a machine (or to correct a
//! signed-off record), and the form to change a draft.

use std::collections::BTreeMap;

use chrono::TimeZone;
use faena_platform::prelude::*;

use crate::given;

use super::service::{self, LIST_COLUMNS, RecordFilter, RecordView};
use super::{Outcome, PartUsed, RecordInput, RecordKind};
use crate::machines::service as machines;
use crate::perms;
use crate::plans::{ChecklistItem, ItemKind};

pub fn pages() -> Pages {
    Pages::new()
        .get("/maintenance", perms::RECORDS_READ, list)
        .get(
            "/machines/{code}/maintenance/new",
            perms::RECORDS_WRITE,
            new_form,
        )
        .post("/machines/{code}/maintenance", perms::RECORDS_WRITE, create)
        .get("/maintenance/{id}", perms::RECORDS_READ, detail)
        .get("/maintenance/{id}/edit", perms::RECORDS_WRITE, edit_form)
        .post("/maintenance/{id}", perms::RECORDS_WRITE, update)
        .post(
            "/maintenance/{id}/sign-off",
            perms::RECORDS_APPROVE,
            sign_off,
        )
}

pub const LIST: ListSpec = ListSpec {
    path: "/maintenance",
    columns: LIST_COLUMNS,
    default_sort: "performed_at",
    default_desc: true,
    csv: Some("/api/maintenance/export.csv"),
};

fn kinds() -> Vec<&'static str> {
    RecordKind::ALL.iter().map(|k| k.as_str()).collect()
}

fn outcomes() -> Vec<&'static str> {
    Outcome::ALL.iter().map(|o| o.as_str()).collect()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    machine: Option<String>,
    kind: Option<String>,
    outcome: Option<String>,
    lab: Option<String>,
    from: Option<String>,
    to: Option<String>,
    signed: Option<String>,
    ok: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    page: PageContext,
    RawQuery(raw): RawQuery,
    Query(q): Query<ListQuery>,
    Zone(zone): Zone,
) -> AppResult<Html<String>> {
    let mut request = ListRequest::parse(&LIST, raw.as_deref())?;
    let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let filter = RecordFilter {
        machine: given(&q.machine),
        kind: given(&q.kind),
        outcome: given(&q.outcome),
        lab: given(&q.lab),
        from: given(&q.from),
        to: given(&q.to),
        signed: match q.signed.as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        },
        technician_id: None,
    };
    let (records, total) = service::list_page(&state, &filter, &mut request, zone).await?;
    render_page(
        &state,
        "records/list.html",
        &page,
        context! {
            records => records, list => request.view(total), kinds => kinds(), outcomes => outcomes(),
            machine => q.machine.unwrap_or_default(), kind => q.kind.unwrap_or_default(),
            outcome => q.outcome.unwrap_or_default(), lab => q.lab.unwrap_or_default(),
            from => q.from.unwrap_or_default(), to => q.to.unwrap_or_default(),
            signed => q.signed.unwrap_or_default(), ok => q.ok,
        },
    )
}

/// Blank rows of parts and measurements the form always offers.
const BLANK_ROWS: usize = 3;

/// The record form as posted: parts as `part_name_0`, `part_quantity_0`,
/// `part_cost_0`…, measurements as `measure_key_0`, `measure_value_0`…;
/// blank rows are ignored. `performed_at` is a local time in the
/// reader's zone (`2026-12-07T10:30`).
#[derive(Debug, Default, Deserialize)]
struct RecordForm {
    kind: Option<String>,
    performed_at: Option<String>,
    technician_id: Option<String>,
    #[serde(default)]
    description: String,
    duration_minutes: Option<String>,
    cost_clp: Option<String>,
    outcome: Option<String>,
    next_due_on: Option<String>,
    corrects: Option<String>,
    work_order: Option<String>,
    version: Option<String>,
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

type PartRow = (String, String, String);

impl RecordForm {
    fn cell(&self, name: &str, i: usize) -> Option<String> {
        self.rest.get(&format!("{name}_{i}")).cloned()
    }

    fn part_rows(&self) -> Vec<PartRow> {
        (0..super::MAX_PARTS)
            .filter_map(|i| {
                let row = (
                    self.cell("part_name", i)?,
                    self.cell("part_quantity", i).unwrap_or_default(),
                    self.cell("part_cost", i).unwrap_or_default(),
                );
                (!(row.0.trim().is_empty() && row.1.trim().is_empty() && row.2.trim().is_empty()))
                    .then_some(row)
            })
            .collect()
    }

    fn measure_rows(&self) -> Vec<(String, String)> {
        (0..super::MAX_MEASUREMENTS)
            .filter_map(|i| {
                let row = (
                    self.cell("measure_key", i)?,
                    self.cell("measure_value", i).unwrap_or_default(),
                );
                (!(row.0.trim().is_empty() && row.1.trim().is_empty())).then_some(row)
            })
            .collect()
    }

    fn version(&self) -> Option<i32> {
        self.version.as_deref().and_then(|v| v.trim().parse().ok())
    }

    /// The input, or an error naming each field a form sends as text that
    /// does not read as what it must be.
    /// The checklist answers as posted (`check_<key>`), read as each item
    /// of `template` asks: a ticked box is `true`, an unticked one `false`,
    /// a number with `,` or `.` as the decimal mark.
    fn answers(&self, template: &[ChecklistItem]) -> BTreeMap<String, serde_json::Value> {
        let mut out = BTreeMap::new();
        for item in template {
            let raw = self
                .rest
                .get(&format!("check_{}", item.key))
                .map(|s| s.trim().to_owned());
            let value = match item.kind {
                ItemKind::Check => serde_json::Value::Bool(raw.is_some_and(|v| !v.is_empty())),
                ItemKind::Number => match raw.filter(|v| !v.is_empty()) {
                    None => serde_json::Value::Null,
                    Some(v) => v
                        .replace(',', ".")
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(serde_json::Value::Number)
                        .unwrap_or(serde_json::Value::String(v)),
                },
                ItemKind::Text => match raw.filter(|v| !v.is_empty()) {
                    None => serde_json::Value::Null,
                    Some(v) => serde_json::Value::String(v),
                },
            };
            if !value.is_null() {
                out.insert(item.key.clone(), value);
            }
        }
        out
    }

    fn work_order(&self) -> Option<Uuid> {
        given(&self.work_order).and_then(|s| Uuid::parse_str(s).ok())
    }

    fn input(
        &self,
        zone: chrono_tz::Tz,
        template: &[ChecklistItem],
    ) -> Result<RecordInput, AppError> {
        let mut errors = FieldErrors::new();
        let number = |field: &str, raw: &str, errors: &mut FieldErrors| -> Option<i64> {
            let digits: String = raw
                .chars()
                .filter(|c| !matches!(c, '.' | ' ' | '$'))
                .collect();
            errors.take(
                digits
                    .parse::<i64>()
                    .map_err(|_| FieldError::new(field, "not_a_number")),
            )
        };
        let kind = given(&self.kind).and_then(|k| {
            errors.take(RecordKind::parse(k).ok_or_else(|| FieldError::new("kind", "invalid")))
        });
        let outcome = given(&self.outcome).and_then(|o| {
            errors.take(Outcome::parse(o).ok_or_else(|| FieldError::new("outcome", "invalid")))
        });
        let performed_at = given(&self.performed_at).and_then(|s| {
            let local = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"));
            errors.take(
                local
                    .ok()
                    .and_then(|l| zone.from_local_datetime(&l).earliest())
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .ok_or_else(|| FieldError::new("performed_at", "invalid_date")),
            )
        });
        let next_due_on = given(&self.next_due_on).and_then(|s| {
            errors.take(
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|_| FieldError::new("next_due_on", "invalid_date")),
            )
        });
        let technician_id = given(&self.technician_id).and_then(|s| {
            errors.take(Uuid::parse_str(s).map_err(|_| FieldError::new("technician_id", "invalid")))
        });
        let corrects = given(&self.corrects).and_then(|s| {
            errors.take(Uuid::parse_str(s).map_err(|_| FieldError::new("corrects", "invalid")))
        });
        let duration_minutes =
            given(&self.duration_minutes).and_then(|s| number("duration_minutes", s, &mut errors));
        let cost_clp = given(&self.cost_clp).and_then(|s| number("cost_clp", s, &mut errors));
        let mut parts = Vec::new();
        for (i, (name, quantity, cost)) in self.part_rows().into_iter().enumerate() {
            let q = if quantity.trim().is_empty() {
                Some(1)
            } else {
                number(
                    &format!("parts[{i}].quantity"),
                    quantity.trim(),
                    &mut errors,
                )
            };
            let c = (!cost.trim().is_empty())
                .then(|| {
                    number(
                        &format!("parts[{i}].unit_cost_clp"),
                        cost.trim(),
                        &mut errors,
                    )
                })
                .flatten();
            parts.push(PartUsed {
                name,
                quantity: q.unwrap_or(0),
                unit_cost_clp: c,
            });
        }
        let measurements: BTreeMap<String, String> = self.measure_rows().into_iter().collect();
        errors.finish()?;
        Ok(RecordInput {
            kind,
            performed_at,
            technician_id,
            description: self.description.clone(),
            duration_minutes,
            cost_clp,
            parts,
            measurements,
            outcome,
            next_due_on,
            corrects,
            work_order: self.work_order(),
            checklist: self.answers(template),
        })
    }

    fn echo(&self) -> serde_json::Value {
        let mut parts: Vec<serde_json::Value> = self
            .part_rows()
            .into_iter()
            .map(|(n, q, c)| serde_json::json!({"name": n, "quantity": q, "cost": c}))
            .collect();
        let mut measures: Vec<serde_json::Value> = self
            .measure_rows()
            .into_iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
            .collect();
        pad(&mut parts, &mut measures);
        serde_json::json!({
            "kind": self.kind, "performed_at": self.performed_at, "technician_id": self.technician_id,
            "description": self.description, "duration_minutes": self.duration_minutes,
            "cost_clp": self.cost_clp, "outcome": self.outcome.clone().unwrap_or_else(|| "ok".into()),
            "next_due_on": self.next_due_on, "corrects": self.corrects, "version": self.version,
            "parts": parts, "measurements": measures, "work_order": self.work_order,
            "answers": self.rest.iter().filter_map(|(k, v)| k.strip_prefix("check_").map(|k| (k.to_owned(), v.clone()))).collect::<BTreeMap<_, _>>(),
        })
    }
}

fn pad(parts: &mut Vec<serde_json::Value>, measures: &mut Vec<serde_json::Value>) {
    for _ in 0..BLANK_ROWS {
        parts.push(serde_json::json!({"name": "", "quantity": "", "cost": ""}));
        measures.push(serde_json::json!({"key": "", "value": ""}));
    }
}

/// A record as the form shows it, times in `zone`.
fn echo_of(v: &RecordView, zone: chrono_tz::Tz) -> serde_json::Value {
    let mut parts: Vec<serde_json::Value> = v
        .parts
        .iter()
        .map(|p| serde_json::json!({"name": p.name, "quantity": p.quantity.to_string(), "cost": p.unit_cost_clp.map(|c| c.to_string())}))
        .collect();
    let mut measures: Vec<serde_json::Value> = v
        .measurements
        .iter()
        .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
        .collect();
    pad(&mut parts, &mut measures);
    serde_json::json!({
        "kind": v.kind.as_str(),
        "performed_at": v.performed_at.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string(),
        "technician_id": v.technician_id.map(|t| t.to_string()),
        "description": v.description, "duration_minutes": v.duration_minutes.map(|d| d.to_string()),
        "cost_clp": v.cost_clp.to_string(), "outcome": v.outcome.as_str(),
        "next_due_on": v.next_due_on.map(|d| d.to_string()), "corrects": v.corrects.map(|c| c.to_string()),
        "version": v.version, "parts": parts, "measurements": measures,
        "work_order": v.work_order.map(|w| w.to_string()),
        "answers": v.checklist.iter().map(|(k, a)| (k.clone(), match a { serde_json::Value::String(s) => s.clone(), serde_json::Value::Bool(b) => if *b { "yes".into() } else { String::new() }, other => other.to_string() })).collect::<BTreeMap<_, _>>(),
    })
}

async fn form_page(
    state: &AppState,
    page: &PageContext,
    machine: &machines::MachineView,
    form: serde_json::Value,
    errors: Vec<serde_json::Value>,
    record_id: Option<Uuid>,
) -> AppResult<Html<String>> {
    let technicians = faena_platform::auth::users::holding(state, perms::RECORDS_WRITE).await?;
    let checklist = match form["work_order"]
        .as_str()
        .and_then(|w| Uuid::parse_str(w).ok())
    {
        Some(w) => crate::plans::service::checklist_of_order(state.db(), w).await?,
        None => Vec::new(),
    };
    // Every item's answer as the form shows it ("" when none yet).
    let answers: BTreeMap<String, String> = checklist
        .iter()
        .map(|it| {
            let given = form["answers"][&it.key]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (it.key.clone(), given)
        })
        .collect();
    render_page(
        state,
        "records/form.html",
        page,
        context! {
            machine => machine, form => form, errors => errors, record_id => record_id,
            kinds => kinds(), outcomes => outcomes(), technicians => technicians, checklist => checklist, answers => answers,
            me => page.principal.as_ref().and_then(|p| p.user_id()),
        },
    )
}

#[derive(Debug, Deserialize)]
struct NewQuery {
    corrects: Option<Uuid>,
    kind: Option<String>,
    work_order: Option<Uuid>,
}

async fn new_form(
    State(state): State<AppState>,
    page: PageContext,
    Path(code): Path<String>,
    Query(q): Query<NewQuery>,
    Zone(zone): Zone,
) -> AppResult<Html<String>> {
    let machine = machines::find(&state, &code).await?;
    let mut form = match q.corrects {
        // A correction starts as a copy of what it corrects.
        Some(id) => {
            let original = service::find(&state, id).await?;
            let mut f = echo_of(&original, zone);
            f["corrects"] = id.to_string().into();
            f["version"] = serde_json::Value::Null;
            f
        }
        None => RecordForm::default().echo(),
    };
    if let Some(w) = q.work_order {
        let order = crate::plans::service::open_work(
            &state,
            Some(&machine.code),
            faena_platform::ui::today(zone),
        )
        .await?
        .into_iter()
        .find(|o| o.id == w)
        .ok_or(AppError::NotFound)?;
        form["work_order"] = w.to_string().into();
        form["kind"] = order.kind.as_str().into();
        form["description"] = order.title.into();
    }
    if q.corrects.is_none() {
        if form["kind"].is_null() {
            form["kind"] = q.kind.unwrap_or_else(|| "preventive".into()).into();
        }
        form["performed_at"] = chrono::Utc::now()
            .with_timezone(&zone)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
            .into();
    }
    form_page(&state, &page, &machine, form, Vec::new(), None).await
}

async fn create(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    principal: faena_platform::auth::Principal,
    Path(code): Path<String>,
    Zone(zone): Zone,
    Form(form): Form<RecordForm>,
) -> AppResult<Response> {
    let machine = machines::find(&state, &code).await?;
    let template = match form.work_order() {
        Some(w) => crate::plans::service::checklist_of_order(state.db(), w).await?,
        None => Vec::new(),
    };
    let result = match form.input(zone, &template) {
        Ok(input) => service::create(&state, &actor, &principal, &code, &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(v) => {
            Ok(Redirect::to(&format!("/maintenance/{}?ok=record_created", v.id)).into_response())
        }
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            Ok(unprocessable(
                form_page(&state, &page, &machine, form.echo(), errors, None).await?,
            ))
        }
    }
}

async fn detail(
    State(state): State<AppState>,
    page: PageContext,
    Path(id): Path<Uuid>,
    Query(q): Query<DetailQuery>,
) -> AppResult<Html<String>> {
    let record = service::find(&state, id).await?;
    let files = faena_platform::files::pages::panel(
        &state,
        &page,
        service::FILE_KIND,
        &record.id.to_string(),
        q.files_error,
    )
    .await?;
    let signed = record.signed_off_at.is_some();
    render_page(
        &state,
        "records/detail.html",
        &page,
        context! {
            record => record, ok => q.ok,
            can_edit => !signed && page.can(perms::RECORDS_WRITE),
            can_sign => !signed && page.can(perms::RECORDS_APPROVE),
            can_correct => signed && page.can(perms::RECORDS_WRITE),
            ..files
        },
    )
}

async fn edit_form(
    State(state): State<AppState>,
    page: PageContext,
    Path(id): Path<Uuid>,
    Zone(zone): Zone,
) -> AppResult<Response> {
    let record = service::find(&state, id).await?;
    if record.signed_off_at.is_some() {
        return Ok(Redirect::to(&format!("/maintenance/{id}")).into_response());
    }
    let machine = machines::find(&state, &record.machine_code).await?;
    Ok(form_page(
        &state,
        &page,
        &machine,
        echo_of(&record, zone),
        Vec::new(),
        Some(id),
    )
    .await?
    .into_response())
}

async fn update(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    principal: faena_platform::auth::Principal,
    Path(id): Path<Uuid>,
    Zone(zone): Zone,
    Form(form): Form<RecordForm>,
) -> AppResult<Response> {
    let record = service::find(&state, id).await?;
    let template = match record.work_order {
        Some(w) => crate::plans::service::checklist_of_order(state.db(), w).await?,
        None => Vec::new(),
    };
    let result = match form.input(zone, &template) {
        Ok(input) => {
            service::update(
                &state,
                &actor,
                &principal,
                id,
                IfMatch::version(form.version()),
                &input,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(v) => {
            Ok(Redirect::to(&format!("/maintenance/{}?ok=record_saved", v.id)).into_response())
        }
        Err(e) => {
            let machine = machines::find(&state, &record.machine_code).await?;
            let errors = form_errors(&state, &page, e)?;
            Ok(unprocessable(
                form_page(&state, &page, &machine, form.echo(), errors, Some(id)).await?,
            ))
        }
    }
}

fn sign_question(
    state: &AppState,
    page: &PageContext,
    r: &RecordView,
    error: Option<String>,
) -> Confirmation {
    let t = |key: &str, params: &[(&str, String)]| state.i18n().t(page.locale, key, params);
    Confirmation {
        question: t("records.sign_confirm", &[("code", r.machine_code.clone())]),
        detail: Some(t("records.sign_detail", &[])),
        button: t("records.sign", &[]),
        action: format!("/maintenance/{}/sign-off", r.id),
        fields: vec![("version".into(), r.version.to_string())],
        cancel: format!("/maintenance/{}", r.id),
        error,
    }
}

#[derive(Debug, Deserialize)]
struct SignForm {
    confirm: Option<String>,
    version: Option<i32>,
}

async fn sign_off(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(id): Path<Uuid>,
    Form(form): Form<SignForm>,
) -> AppResult<Response> {
    let record = service::find(&state, id).await?;
    if form.confirm.as_deref() != Some("yes") {
        return confirm_page(&state, &page, &sign_question(&state, &page, &record, None));
    }
    match service::sign_off(&state, &actor, id, IfMatch::version(form.version)).await {
        Ok(_) => Ok(Redirect::to(&format!("/maintenance/{id}?ok=record_signed")).into_response()),
        Err(e @ (AppError::Conflict { .. } | AppError::PreconditionFailed)) => {
            let problem = e.to_problem();
            let message = state.i18n().t(
                page.locale,
                &format!("error.{}", problem.code),
                &problem.params,
            );
            let record = service::find(&state, id).await?;
            confirm_page(
                &state,
                &page,
                &sign_question(&state, &page, &record, Some(message)),
            )
        }
        Err(e) => Err(e),
    }
}
