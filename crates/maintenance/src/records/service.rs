//! Record commands, each one transaction with its audit entry and webhook
//! deliveries; then a realtime event on the `maintenance` topic. A record
//! changes only until it is signed off.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use faena_platform::audit::{self, Entry};
use faena_platform::auth::{Actor, Principal};
use faena_platform::http::etag::IfMatch;
use faena_platform::http::pagination::{List, Page, PageQuery};
use faena_platform::ui::filter_instant;
use faena_platform::ui::list::{self, Column as ListColumn, ListRequest};
use faena_platform::{AppError, AppResult, AppState, FieldError, FieldErrors, text};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoSimpleExpr, Order, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::plans::ChecklistItem;

use super::store::{self, Column, Filter, Model};
use super::{Outcome, PartUsed, Record, RecordInput, RecordKind};
use crate::machines::service::{TOPIC, notify, status_of};
use crate::machines::{MachineStatus, store as machines};
use crate::perms;

/// Who reads a record's attachments, and who attaches them.
pub const FILE_KIND: &str = "maintenance.record";

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    pub id: Uuid,
    pub machine_code: String,
    pub machine_name: String,
    pub kind: RecordKind,
    pub performed_at: DateTime<Utc>,
    pub technician_id: Option<Uuid>,
    pub technician_name: String,
    pub description: String,
    pub duration_minutes: Option<i32>,
    /// Labour and other costs, pesos (CLP).
    pub cost_clp: i64,
    pub parts: Vec<PartUsed>,
    /// What the parts cost, pesos.
    pub parts_cost_clp: i64,
    /// `cost_clp` plus the parts.
    pub total_cost_clp: i64,
    pub measurements: BTreeMap<String, String>,
    /// Answers to the plan's checklist.
    #[schema(value_type = Object)]
    pub checklist: BTreeMap<String, serde_json::Value>,
    /// The checklist as it was asked when the work was recorded (a later
    /// change to the plan does not rewrite it), each with its answer.
    pub checklist_lines: Vec<ChecklistLine>,
    /// The plan's work order this work closed.
    pub work_order: Option<Uuid>,
    pub outcome: Outcome,
    pub next_due_on: Option<NaiveDate>,
    /// The record this one corrects.
    pub corrects: Option<Uuid>,
    /// The record that corrects this one, if any.
    pub corrected_by: Option<Uuid>,
    /// Once set, the record never changes.
    pub signed_off_at: Option<DateTime<Utc>>,
    pub signed_off_by: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChecklistLine {
    pub key: String,
    /// The question as the technician read it.
    pub label: String,
    pub unit: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// `true`/`false`, a number or a text; none when left blank.
    #[schema(value_type = Option<Object>)]
    pub answer: Option<serde_json::Value>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Details {
    #[serde(default)]
    measurements: BTreeMap<String, String>,
    #[serde(default)]
    checklist: BTreeMap<String, serde_json::Value>,
    /// The template's items when recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    questions: Vec<ChecklistItem>,
}

/// The answers in the order they were asked; answers to no known
/// question (none, normally) last, by their key.
fn checklist_lines(d: &Details) -> Vec<ChecklistLine> {
    let mut lines: Vec<ChecklistLine> = d
        .questions
        .iter()
        .map(|q| ChecklistLine {
            key: q.key.clone(),
            label: q.label.clone(),
            unit: q.unit.clone(),
            min: q.min,
            max: q.max,
            answer: d.checklist.get(&q.key).cloned(),
        })
        .collect();
    for (k, v) in &d.checklist {
        if !d.questions.iter().any(|q| &q.key == k) {
            lines.push(ChecklistLine {
                key: k.clone(),
                label: k.clone(),
                unit: None,
                min: None,
                max: None,
                answer: Some(v.clone()),
            });
        }
    }
    lines
}

fn view(m: Model, machine: Option<&(String, String)>, corrected_by: Option<Uuid>) -> RecordView {
    let parts: Vec<PartUsed> = serde_json::from_str(&m.parts).unwrap_or_default();
    let details: Details = serde_json::from_str(&m.details).unwrap_or_default();
    let parts_cost = Record::parts_cost(&parts);
    let (code, name) = machine.cloned().unwrap_or_default();
    RecordView {
        id: m.id,
        machine_code: code,
        machine_name: name,
        kind: RecordKind::parse(&m.kind).unwrap_or(RecordKind::Corrective),
        performed_at: m.performed_at,
        technician_id: m.technician_id,
        technician_name: m.technician_name,
        description: m.description,
        duration_minutes: m.duration_minutes,
        cost_clp: m.cost_clp,
        parts,
        parts_cost_clp: parts_cost,
        total_cost_clp: m.cost_clp.saturating_add(parts_cost),
        checklist_lines: checklist_lines(&details),
        measurements: details.measurements,
        checklist: details.checklist,
        work_order: m.work_order_id,
        outcome: Outcome::parse(&m.outcome).unwrap_or(Outcome::Ok),
        next_due_on: m.next_due_on,
        corrects: m.corrects_id,
        corrected_by,
        signed_off_at: m.signed_off_at,
        signed_off_by: m.signed_off_by,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    }
}

/// Views of `rows`: their machines and corrections read in two queries.
pub async fn views(
    db: &impl sea_orm::ConnectionTrait,
    rows: Vec<Model>,
) -> AppResult<Vec<RecordView>> {
    let machine_ids: Vec<Uuid> = rows.iter().map(|r| r.machine_id).collect();
    let names = machines::names(db, &machine_ids).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let corrected = store::corrections(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let by = corrected.get(&r.id).copied();
            let machine = names.get(&r.machine_id);
            view(r, machine, by)
        })
        .collect())
}

#[derive(Debug, Serialize)]
struct RecordEvent<'a> {
    id: Uuid,
    machine_code: &'a str,
    kind: RecordKind,
    signed: bool,
}

fn announce(state: &AppState, kind: &str, v: &RecordView) {
    let event = RecordEvent {
        id: v.id,
        machine_code: &v.machine_code,
        kind: v.kind,
        signed: v.signed_off_at.is_some(),
    };
    if let Err(e) = state.realtime().publish(TOPIC, kind, &event) {
        tracing::error!(error = %e, kind, record.id = %v.id, "record event not published");
    }
}

#[tracing::instrument(skip_all, fields(record.id = %id))]
pub async fn find(state: &AppState, id: Uuid) -> AppResult<RecordView> {
    let m = store::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(views(state.db(), vec![m]).await?.remove(0))
}

/// The technician: given (one who may record work), or the caller.
async fn technician(
    state: &AppState,
    principal: &Principal,
    given: Option<Uuid>,
    errors: &mut FieldErrors,
) -> AppResult<Option<(Uuid, String)>> {
    let wanted = given.or(principal.user_id());
    let Some(id) = wanted else {
        errors.push(FieldError::new("technician_id", "required"));
        return Ok(None);
    };
    match faena_platform::auth::users::holder(state, id, perms::RECORDS_WRITE).await? {
        Some(u) => Ok(Some((u.id, u.name))),
        None => {
            errors.push(FieldError::new("technician_id", "unknown_technician"));
            Ok(None)
        }
    }
}

fn details_json(
    r: &Record,
    checklist: &BTreeMap<String, serde_json::Value>,
    questions: &[ChecklistItem],
) -> String {
    serde_json::to_string(&Details {
        measurements: r.measurements.clone(),
        checklist: checklist.clone(),
        questions: questions.to_vec(),
    })
    .unwrap_or_else(|_| "{}".into())
}

fn parts_json(r: &Record) -> String {
    serde_json::to_string(&r.parts).unwrap_or_else(|_| "[]".into())
}

fn signed_off() -> AppError {
    AppError::Conflict {
        code: "record_signed_off",
        field: None,
        params: vec![],
    }
}

/// Records work on the machine `code`. A record that `corrects` another
/// must point to a signed-off record of the same machine not corrected yet.
#[tracing::instrument(skip_all, fields(machine.code = %code, actor = %actor.label))]
pub async fn create(
    state: &AppState,
    actor: &Actor,
    principal: &Principal,
    code: &str,
    input: &RecordInput,
) -> AppResult<RecordView> {
    let now = Utc::now();
    let mut errors = FieldErrors::new();
    let record = input.check(now, &mut errors);
    let tech = technician(state, principal, input.technician_id, &mut errors).await?;
    let txn = state.begin_write().await?;
    let machine = machines::find_by_code(&txn, code)
        .await?
        .ok_or(AppError::NotFound)?;
    if status_of(&machine) == MachineStatus::Retired {
        errors.push(FieldError::new("machine", "machine_retired"));
    }
    if let Some(target) = input.corrects {
        match store::Entity::find_by_id(target).one(&txn).await? {
            Some(t) if t.machine_id == machine.id && t.signed_off_at.is_some() => {
                if store::correction_of(&txn, t.id).await?.is_some() {
                    errors.push(FieldError::new("corrects", "record_already_corrected"));
                }
            }
            Some(t) if t.machine_id == machine.id => {
                errors.push(FieldError::new("corrects", "correct_a_draft"));
            }
            _ => errors.push(FieldError::new("corrects", "unknown_record")),
        }
    }
    let order = match input.work_order {
        Some(id) => {
            let found =
                crate::plans::service::order_for_record(&txn, id, machine.id, &mut errors).await?;
            if let Some((_, template)) = &found {
                crate::plans::check_answers(template, &input.checklist, &mut errors);
            }
            found
        }
        None => {
            if !input.checklist.is_empty() {
                errors.push(FieldError::new("checklist", "checklist_without_plan"));
            }
            None
        }
    };
    let (order, questions) = match order {
        Some((w, template)) => (Some(w), template),
        None => (None, Vec::new()),
    };
    errors.finish()?;
    let (Some(r), Some((tech_id, tech_name))) = (record, tech) else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "validated record missing"
        )));
    };
    let record_id = Uuid::now_v7();
    let model = store::record::ActiveModel {
        id: Set(record_id),
        machine_id: Set(machine.id),
        kind: Set(r.kind.as_str().to_owned()),
        performed_at: Set(r.performed_at),
        technician_id: Set(Some(tech_id)),
        technician_name: Set(tech_name),
        description: Set(r.description.clone()),
        duration_minutes: Set(r.duration_minutes),
        cost_clp: Set(r.cost_clp),
        total_cost_clp: Set(r.total_cost()),
        parts: Set(parts_json(&r)),
        details: Set(details_json(&r, &input.checklist, &questions)),
        outcome: Set(r.outcome.as_str().to_owned()),
        next_due_on: Set(r.next_due_on),
        corrects_id: Set(input.corrects),
        work_order_id: Set(order.as_ref().map(|w| w.id)),
        signed_off_at: Set(None),
        signed_off_by: Set(None),
        created_by: Set(actor.label.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&txn)
    .await?;
    if let Some(w) = &order {
        crate::plans::service::close_order(&txn, w, record_id, r.performed_at.date_naive()).await?;
    }
    let v = views(&txn, vec![model]).await?.remove(0);
    audit::record(
        &txn,
        actor,
        Entry::new("create", "maintenance_record", v.id.to_string()).after(&v),
    )
    .await?;
    let hooked = notify(&txn, "maintenance.recorded", &v).await?;
    txn.commit().await?;
    if hooked {
        state.jobs().wake();
    }
    announce(state, "record.created", &v);
    Ok(v)
}

/// Changes a record that is not signed off yet.
#[tracing::instrument(skip_all, fields(record.id = %id, actor = %actor.label))]
pub async fn update(
    state: &AppState,
    actor: &Actor,
    principal: &Principal,
    id: Uuid,
    if_match: IfMatch,
    input: &RecordInput,
) -> AppResult<RecordView> {
    let now = Utc::now();
    let mut errors = FieldErrors::new();
    let record = input.check(now, &mut errors);
    let tech = technician(state, principal, input.technician_id, &mut errors).await?;
    let txn = state.begin_write().await?;
    let current = store::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    if current.signed_off_at.is_some() {
        return Err(signed_off());
    }
    if input.corrects != current.corrects_id {
        errors.push(FieldError::new("corrects", "correction_fixed"));
    }
    if input.work_order.is_some() && input.work_order != current.work_order_id {
        errors.push(FieldError::new("work_order", "work_order_closed"));
    }
    let template = match current.work_order_id {
        Some(w) => crate::plans::service::checklist_of_order(&txn, w).await?,
        None => Vec::new(),
    };
    if current.work_order_id.is_some() {
        crate::plans::check_answers(&template, &input.checklist, &mut errors);
    } else if !input.checklist.is_empty() {
        errors.push(FieldError::new("checklist", "checklist_without_plan"));
    }
    errors.finish()?;
    let (Some(r), Some((tech_id, tech_name))) = (record, tech) else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "validated record missing"
        )));
    };
    let before = views(&txn, vec![current.clone()]).await?.remove(0);
    let mut active: store::record::ActiveModel = current.clone().into();
    active.kind = Set(r.kind.as_str().to_owned());
    active.performed_at = Set(r.performed_at);
    active.technician_id = Set(Some(tech_id));
    active.technician_name = Set(tech_name);
    active.description = Set(r.description.clone());
    active.duration_minutes = Set(r.duration_minutes);
    active.cost_clp = Set(r.cost_clp);
    active.total_cost_clp = Set(r.total_cost());
    active.parts = Set(parts_json(&r));
    active.details = Set(details_json(&r, &input.checklist, &template));
    active.outcome = Set(r.outcome.as_str().to_owned());
    active.next_due_on = Set(r.next_due_on);
    let v = write_draft(&txn, &current, active, now).await?;
    audit::record(
        &txn,
        actor,
        Entry::new("update", "maintenance_record", id.to_string())
            .before(&before)
            .after(&v),
    )
    .await?;
    txn.commit().await?;
    announce(state, "record.updated", &v);
    Ok(v)
}

/// Writes `active` over the draft `current`, its version moved on, unless
/// another change or a sign-off got there first (then 412); the record as
/// it is now.
async fn write_draft(
    txn: &impl sea_orm::ConnectionTrait,
    current: &Model,
    mut active: store::record::ActiveModel,
    now: DateTime<Utc>,
) -> AppResult<RecordView> {
    active.updated_at = Set(now);
    active.version = Set(current.version + 1);
    let updated = store::Entity::update_many()
        .set(active)
        .filter(Column::Id.eq(current.id))
        .filter(Column::Version.eq(current.version))
        .filter(Column::SignedOffAt.is_null())
        .exec_with_returning(txn)
        .await?
        .pop()
        .ok_or(AppError::PreconditionFailed)?;
    Ok(views(txn, vec![updated]).await?.remove(0))
}

/// Signs a record off: from now on it never changes.
#[tracing::instrument(skip_all, fields(record.id = %id, actor = %actor.label))]
pub async fn sign_off(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    if_match: IfMatch,
) -> AppResult<RecordView> {
    let txn = state.begin_write().await?;
    let current = store::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    if current.signed_off_at.is_some() {
        return Err(signed_off());
    }
    let mut active: store::record::ActiveModel = current.clone().into();
    let now = Utc::now();
    active.signed_off_at = Set(Some(now));
    active.signed_off_by = Set(Some(actor.label.clone()));
    let v = write_draft(&txn, &current, active, now).await?;
    audit::record(
        &txn,
        actor,
        Entry::new("sign_off", "maintenance_record", id.to_string()).after(&v),
    )
    .await?;
    let hooked = notify(&txn, "maintenance.signed_off", &v).await?;
    txn.commit().await?;
    if hooked {
        state.jobs().wake();
    }
    announce(state, "record.signed_off", &v);
    Ok(v)
}

/// A list's filters as the query string gives them.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
pub struct RecordFilter {
    /// A machine's code.
    pub machine: Option<String>,
    /// One kind or several, comma-separated (`preventive,calibration`).
    pub kind: Option<String>,
    pub outcome: Option<String>,
    pub technician_id: Option<Uuid>,
    /// The machines' lab, whatever the case and accents.
    pub lab: Option<String>,
    /// Performed from this day (`2026-11-01`) or instant, inclusive.
    pub from: Option<String>,
    /// Performed up to this day (inclusive) or instant (exclusive).
    pub to: Option<String>,
    /// `true`: only signed off; `false`: only those waiting to be.
    pub signed: Option<bool>,
}

impl RecordFilter {
    /// The parsed filter, or `None` when it names a machine that does not
    /// exist (nothing matches).
    pub async fn parse(&self, state: &AppState, zone: chrono_tz::Tz) -> AppResult<Option<Filter>> {
        let mut errors = FieldErrors::new();
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let mut kinds = Vec::new();
        if let Some(raw) = given(&self.kind) {
            for k in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match RecordKind::parse(k) {
                    Some(k) => kinds.push(k.as_str().to_owned()),
                    None => errors.push(
                        FieldError::new("kind", "one_of")
                            .with("allowed", RecordKind::ALL.map(|k| k.as_str()).join(", ")),
                    ),
                }
            }
        }
        let outcome = match given(&self.outcome) {
            Some(o) => match Outcome::parse(&o) {
                Some(o) => Some(o.as_str().to_owned()),
                None => {
                    errors.push(
                        FieldError::new("outcome", "one_of")
                            .with("allowed", Outcome::ALL.map(|o| o.as_str()).join(", ")),
                    );
                    None
                }
            },
            None => None,
        };
        let from =
            given(&self.from).and_then(|s| errors.take(filter_instant("from", &s, false, zone)));
        let to = given(&self.to).and_then(|s| errors.take(filter_instant("to", &s, true, zone)));
        errors.finish()?;
        let mut filter = Filter {
            kinds,
            outcome,
            technician_id: self.technician_id,
            from,
            to,
            signed: self.signed,
            ..Filter::default()
        };
        if let Some(code) = given(&self.machine) {
            match machines::find_by_code(state.db(), &code).await? {
                Some(m) => filter.machine_id = Some(m.id),
                None => return Ok(None),
            }
        }
        if let Some(lab) = given(&self.lab) {
            let ids: Vec<Uuid> = machines::Entity::find()
                .filter(machines::Column::LabKey.eq(text::fold(&lab)))
                .all(state.db())
                .await?
                .into_iter()
                .map(|m| m.id)
                .collect();
            filter.machine_ids = Some(ids);
        }
        Ok(Some(filter))
    }
}

/// Newest work first: the position is the last one's (performed at, id).
const RECORDS: List<(DateTime<Utc>, Uuid)> = List::new("maintenance.records");

#[tracing::instrument(skip_all)]
pub async fn search(
    state: &AppState,
    f: &RecordFilter,
    page: &PageQuery,
    zone: chrono_tz::Tz,
) -> AppResult<Page<RecordView>> {
    let mut errors = FieldErrors::new();
    let (limit, cursor) = RECORDS.read(page, &mut errors);
    errors.finish()?;
    let Some(filter) = f.parse(state, zone).await? else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
            next: None,
        });
    };
    let rows = store::list(state.db(), &filter, cursor, limit + 1).await?;
    let page = RECORDS.page(rows, limit, |r| (r.performed_at, r.id));
    Ok(Page {
        items: views(state.db(), page.items).await?,
        next_cursor: page.next_cursor,
        next: None,
    })
}

/// The columns of the records list page.
pub const LIST_COLUMNS: &[ListColumn] = &[
    ListColumn::new("performed_at", "records.performed_at").sortable(),
    ListColumn::new("machine", "records.machine"),
    ListColumn::new("kind", "records.kind").sortable(),
    ListColumn::new("technician", "records.technician").sortable(),
    ListColumn::new("outcome", "records.outcome").sortable(),
    ListColumn::new("cost", "records.total_cost").num(),
    ListColumn::new("signed", "records.signed"),
];

/// A numbered page of records in the request's order, with the total.
pub async fn list_page(
    state: &AppState,
    f: &RecordFilter,
    request: &mut ListRequest,
    zone: chrono_tz::Tz,
) -> AppResult<(Vec<RecordView>, u64)> {
    let Some(filter) = f.parse(state, zone).await? else {
        return Ok((Vec::new(), 0));
    };
    let dir = || request.order();
    let first = match request.sort {
        "kind" => Column::Kind,
        "technician" => Column::TechnicianName,
        "outcome" => Column::Outcome,
        _ => Column::PerformedAt,
    };
    let order = [
        (first.into_simple_expr(), dir()),
        (Column::PerformedAt.into_simple_expr(), Order::Desc),
        (Column::Id.into_simple_expr(), Order::Desc),
    ];
    let (rows, total) = list::fetch(state.db(), store::select(&filter), order, request).await?;
    Ok((views(state.db(), rows).await?, total))
}
