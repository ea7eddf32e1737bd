//! Machine commands, each one transaction: the change, its audit entry and
//! its webhook deliveries, committed together; then a realtime event on
//! the `maintenance` topic tells open pages what changed.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use faena_platform::audit::{self, Entry};
use faena_platform::auth::Actor;
use faena_platform::http::etag::IfMatch;
use faena_platform::http::pagination::{List, Page, PageQuery};
use faena_platform::ui::list::{self, Column as ListColumn, ListRequest};
use faena_platform::{AppError, AppResult, AppState, FieldError, FieldErrors, text};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoSimpleExpr, Order, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::store::{self, Column, Filter, Model};
use super::{Criticality, Machine, MachineInput, MachineStatus};
use crate::perms;
use crate::plans::DueState;

/// The realtime topic of the module's changes; reading it needs
/// `maintenance.machines.read`.
pub const TOPIC: &str = "maintenance";

/// Who reads a machine's files, and who attaches them.
pub const FILE_KIND: &str = "maintenance.machine";

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MachineView {
    pub code: String,
    pub name: String,
    pub kind: Option<String>,
    pub lab: Option<String>,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub status: MachineStatus,
    pub acquired_on: Option<NaiveDate>,
    pub responsible_id: Option<Uuid>,
    /// The responsible user's name at the time of reading.
    pub responsible_name: Option<String>,
    pub criticality: Criticality,
    pub attributes: BTreeMap<String, String>,
    pub notes: Option<String>,
    /// Whether it has open work past its day (`overdue`), open work
    /// (`due_soon`) or none (`ok`), in the company's days.
    pub due_state: DueState,
    /// The day its soonest open work is due.
    pub next_due_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

pub fn status_of(m: &Model) -> MachineStatus {
    MachineStatus::parse(&m.status).unwrap_or(MachineStatus::Operational)
}

pub fn view(
    m: Model,
    responsible_name: Option<String>,
    due: Option<(DueState, NaiveDate)>,
) -> MachineView {
    MachineView {
        due_state: due.map(|d| d.0).unwrap_or(DueState::Ok),
        next_due_on: due.map(|d| d.1),
        status: status_of(&m),
        criticality: Criticality::parse(&m.criticality).unwrap_or(Criticality::Medium),
        attributes: serde_json::from_str(&m.attributes).unwrap_or_default(),
        code: m.code,
        name: m.name,
        kind: m.kind,
        lab: m.lab,
        brand: m.brand,
        model: m.model,
        serial: m.serial,
        acquired_on: m.acquired_on,
        responsible_id: m.responsible_id,
        responsible_name,
        notes: m.notes,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    }
}

/// Views of `rows`, with the responsible users' names read in one query.
pub async fn views(state: &AppState, rows: Vec<Model>) -> AppResult<Vec<MachineView>> {
    let ids: Vec<Uuid> = rows.iter().filter_map(|m| m.responsible_id).collect();
    let names = faena_platform::auth::users::names(state.db(), &ids).await?;
    let machine_ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    let due =
        crate::plans::store::due_states(state.db(), &machine_ids, company_today(state)).await?;
    Ok(rows
        .into_iter()
        .map(|m| {
            let name = m.responsible_id.and_then(|id| names.get(&id).cloned());
            let d = due.get(&m.id).copied();
            view(m, name, d)
        })
        .collect())
}

/// Today in the company's zone: the lab's day, for what is due.
pub fn company_today(state: &AppState) -> NaiveDate {
    faena_platform::ui::today(state.time_zone())
}

/// What a machine event carries: which machine and where it stands, for
/// subscribers to decide whether to re-read it.
#[derive(Debug, Serialize)]
struct MachineEvent<'a> {
    code: &'a str,
    status: MachineStatus,
    version: i32,
}

fn announce(state: &AppState, kind: &str, v: &MachineView) {
    let event = MachineEvent {
        code: &v.code,
        status: v.status,
        version: v.version,
    };
    if let Err(e) = state.realtime().publish(TOPIC, kind, &event) {
        tracing::error!(error = %e, kind, machine.code = %v.code, "machine event not published");
    }
}

/// Queues the change's webhook deliveries in its transaction; true when
/// some endpoint wants it.
pub(crate) async fn notify(
    txn: &impl sea_orm::ConnectionTrait,
    kind: &str,
    data: &impl Serialize,
) -> Result<bool, sea_orm::DbErr> {
    let data = serde_json::to_value(data).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
    Ok(faena_platform::webhooks::emit(txn, kind, data)
        .await?
        .is_some())
}

pub async fn find_model(state: &AppState, code: &str) -> AppResult<Model> {
    store::find_by_code(state.db(), code)
        .await?
        .ok_or(AppError::NotFound)
}

#[tracing::instrument(skip_all, fields(machine.code = %code))]
pub async fn find(state: &AppState, code: &str) -> AppResult<MachineView> {
    let m = find_model(state, code).await?;
    Ok(views(state, vec![m]).await?.remove(0))
}

/// The responsible user must exist, be active and be allowed to read the
/// machines (they are mailed about it).
async fn check_responsible(
    state: &AppState,
    id: Option<Uuid>,
    errors: &mut FieldErrors,
) -> AppResult<()> {
    let Some(id) = id else { return Ok(()) };
    let holder = faena_platform::auth::users::holder(state, id, perms::MACHINES_READ).await?;
    if holder.is_none() {
        errors.push(FieldError::new("responsible_id", "unknown_responsible"));
    }
    Ok(())
}

fn searchable(m: &Machine) -> String {
    text::search_text(
        [
            Some(m.code.as_str()),
            Some(m.name.as_str()),
            m.serial.as_deref(),
            m.lab.as_deref(),
            m.kind.as_deref(),
            m.brand.as_deref(),
            m.model.as_deref(),
        ]
        .into_iter()
        .flatten(),
    )
}

fn folded(s: &Option<String>) -> Option<String> {
    s.as_deref().map(text::fold).filter(|s| !s.is_empty())
}

fn attributes_json(m: &Machine) -> String {
    serde_json::to_string(&m.attributes).unwrap_or_else(|_| "{}".into())
}

/// A new secret for the machine's failure-report link: 32 random bytes.
fn report_token() -> String {
    faena_platform::secrets::random_token(32)
}

#[tracing::instrument(skip_all, fields(actor = %actor.label))]
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: &MachineInput,
) -> AppResult<MachineView> {
    let mut errors = FieldErrors::new();
    let machine = input.check(&mut errors);
    check_responsible(state, input.responsible_id, &mut errors).await?;
    errors.finish()?;
    let Some(m) = machine else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "validated machine missing"
        )));
    };
    let txn = state.begin_write().await?;
    let model = insert(&txn, &m).await?;
    let v = views(state, vec![model]).await?.remove(0);
    audit::record(
        &txn,
        actor,
        Entry::new("create", "machine", v.code.clone()).after(&v),
    )
    .await?;
    let hooked = notify(&txn, "machine.created", &v).await?;
    txn.commit().await?;
    if hooked {
        state.jobs().wake();
    }
    announce(state, "machine.created", &v);
    Ok(v)
}

/// Inserts a checked machine in the caller's transaction; a taken code is
/// a conflict naming the field.
pub async fn insert(db: &impl sea_orm::ConnectionTrait, m: &Machine) -> AppResult<Model> {
    if store::find_by_code(db, m.code.as_str()).await?.is_some() {
        return Err(duplicate_code());
    }
    let now = Utc::now();
    let model = store::machine::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(m.code.as_str().to_owned()),
        code_key: Set(m.code.key()),
        name: Set(m.name.clone()),
        kind: Set(m.kind.clone()),
        kind_key: Set(folded(&m.kind)),
        lab: Set(m.lab.clone()),
        lab_key: Set(folded(&m.lab)),
        brand: Set(m.brand.clone()),
        model: Set(m.model.clone()),
        serial: Set(m.serial.clone()),
        status: Set(m.status.as_str().to_owned()),
        acquired_on: Set(m.acquired_on),
        responsible_id: Set(m.responsible_id),
        criticality: Set(m.criticality.as_str().to_owned()),
        attributes: Set(attributes_json(m)),
        notes: Set(m.notes.clone()),
        report_token: Set(report_token()),
        search_text: Set(searchable(m)),
        sort_key: Set(text::sort_key(&m.name)),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(db)
    .await?;
    Ok(model)
}

fn duplicate_code() -> AppError {
    AppError::Conflict {
        code: "duplicate_machine_code",
        field: Some("code".into()),
        params: vec![],
    }
}

/// Replaces a machine's fields (`PUT`). The code is its name in every
/// link and on its label: it does not change.
#[tracing::instrument(skip_all, fields(machine.code = %code, actor = %actor.label))]
pub async fn update(
    state: &AppState,
    actor: &Actor,
    code: &str,
    if_match: IfMatch,
    input: &MachineInput,
) -> AppResult<MachineView> {
    let mut errors = FieldErrors::new();
    let machine = input.check(&mut errors);
    check_responsible(state, input.responsible_id, &mut errors).await?;
    let txn = state.begin_write().await?;
    let current = store::find_by_code(&txn, code)
        .await?
        .ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    if let Some(m) = &machine {
        if m.code.key() != current.code_key {
            errors.push(
                FieldError::new("code", "machine_code_fixed").with("value", current.code.clone()),
            );
        }
        let from = status_of(&current);
        if !from.can_become(m.status) {
            errors.push(FieldError::new("status", "machine_retired"));
        }
    }
    errors.finish()?;
    let Some(m) = machine else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "validated machine missing"
        )));
    };
    let before = views(state, vec![current.clone()]).await?.remove(0);
    let mut active: store::machine::ActiveModel = current.clone().into();
    active.name = Set(m.name.clone());
    active.kind = Set(m.kind.clone());
    active.kind_key = Set(folded(&m.kind));
    active.lab = Set(m.lab.clone());
    active.lab_key = Set(folded(&m.lab));
    active.brand = Set(m.brand.clone());
    active.model = Set(m.model.clone());
    active.serial = Set(m.serial.clone());
    active.status = Set(m.status.as_str().to_owned());
    active.acquired_on = Set(m.acquired_on);
    active.responsible_id = Set(m.responsible_id);
    active.criticality = Set(m.criticality.as_str().to_owned());
    active.attributes = Set(attributes_json(&m));
    active.notes = Set(m.notes.clone());
    active.search_text = Set(searchable(&m));
    active.sort_key = Set(text::sort_key(&m.name));
    active.updated_at = Set(Utc::now());
    active.version = Set(current.version + 1);
    let updated = store::Entity::update_many()
        .set(active)
        .filter(Column::Id.eq(current.id))
        .filter(Column::Version.eq(current.version))
        .exec_with_returning(&txn)
        .await?
        .pop()
        .ok_or(AppError::PreconditionFailed)?;
    let v = views(state, vec![updated]).await?.remove(0);
    audit::record(
        &txn,
        actor,
        Entry::new("update", "machine", v.code.clone())
            .before(&before)
            .after(&v),
    )
    .await?;
    let hooked = notify(&txn, "machine.updated", &v).await?;
    txn.commit().await?;
    if hooked {
        state.jobs().wake();
    }
    announce(state, "machine.updated", &v);
    Ok(v)
}

/// Deletes a machine that has no maintenance history (one that has is
/// retired instead: its history is the lab's record).
#[tracing::instrument(skip_all, fields(machine.code = %code, actor = %actor.label))]
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    code: &str,
    if_match: IfMatch,
) -> AppResult<()> {
    let txn = state.begin_write().await?;
    let current = store::find_by_code(&txn, code)
        .await?
        .ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    let records = crate::records::store::count_for_machine(&txn, current.id).await?;
    if records > 0 {
        return Err(AppError::Conflict {
            code: "machine_has_records",
            field: None,
            params: vec![("count", records.to_string())],
        });
    }
    let before = views(state, vec![current.clone()]).await?.remove(0);
    store::Entity::delete_by_id(current.id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        Entry::new("delete", "machine", current.code.clone()).before(&before),
    )
    .await?;
    let hooked = notify(&txn, "machine.deleted", &before).await?;
    let files =
        faena_platform::files::service::delete_owner_files(&txn, actor, FILE_KIND, &current.code)
            .await?;
    txn.commit().await?;
    if hooked || files > 0 {
        state.jobs().wake();
    }
    announce(state, "machine.deleted", &before);
    Ok(())
}

/// A list's filters as the query string gives them (`/api/machines?…`,
/// the list page, the CSV export).
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
pub struct MachineFilter {
    /// Searches code, name, serial, lab, kind, brand and model, ignoring
    /// case and accents (every word must appear).
    pub q: Option<String>,
    /// One status or several, comma-separated (`operational,in_maintenance`).
    pub status: Option<String>,
    /// The kind, whatever the case and accents.
    pub kind: Option<String>,
    /// The lab, whatever the case and accents.
    pub lab: Option<String>,
    /// `overdue`, `due_soon` or `ok`: by the state of its open work.
    pub due: Option<String>,
}

impl MachineFilter {
    /// The parsed filter, with the machines in the asked due state read
    /// from their open work.
    pub async fn resolve(&self, state: &AppState, errors: &mut FieldErrors) -> AppResult<Filter> {
        let mut filter = self.parse(errors);
        let due = self.due.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let wanted = match due {
            None => None,
            Some("overdue") => Some(DueState::Overdue),
            Some("due_soon") => Some(DueState::DueSoon),
            Some("ok") => Some(DueState::Ok),
            Some(_) => {
                errors.push(
                    FieldError::new("due", "one_of").with("allowed", "overdue, due_soon, ok"),
                );
                None
            }
        };
        if let Some(wanted) = wanted {
            let states =
                crate::plans::store::all_due_states(state.db(), company_today(state)).await?;
            if wanted == DueState::Ok {
                // Ok is having no open work: every machine not listed.
                filter.exclude = Some(states.into_keys().collect());
            } else {
                filter.only = Some(
                    states
                        .into_iter()
                        .filter(|(_, (s, _))| *s == wanted)
                        .map(|(id, _)| id)
                        .collect(),
                );
            }
        }
        Ok(filter)
    }

    pub fn parse(&self, errors: &mut FieldErrors) -> Filter {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let mut statuses = Vec::new();
        if let Some(raw) = given(&self.status) {
            for s in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match MachineStatus::parse(s) {
                    Some(st) => statuses.push(st.as_str().to_owned()),
                    None => errors.push(
                        FieldError::new("status", "one_of")
                            .with("allowed", MachineStatus::ALL.map(|s| s.as_str()).join(", ")),
                    ),
                }
            }
        }
        Filter {
            terms: self.q.as_deref().map(text::terms).unwrap_or_default(),
            statuses,
            kind_key: given(&self.kind).map(|k| text::fold(&k)),
            lab_key: given(&self.lab).map(|l| text::fold(&l)),
            ..Filter::default()
        }
    }
}

/// Machines in Spanish name order: the position is the last one's (sort
/// key, id).
const MACHINES: List<(String, Uuid)> = List::new("maintenance.machines");

#[tracing::instrument(skip_all)]
pub async fn search(
    state: &AppState,
    f: &MachineFilter,
    page: &PageQuery,
) -> AppResult<Page<MachineView>> {
    let mut errors = FieldErrors::new();
    let (limit, cursor) = MACHINES.read(page, &mut errors);
    let filter = f.resolve(state, &mut errors).await?;
    errors.finish()?;
    let rows = store::list(state.db(), &filter, cursor, limit + 1).await?;
    let page = MACHINES.page(rows, limit, |m| (m.sort_key.clone(), m.id));
    Ok(Page {
        items: views(state, page.items).await?,
        next_cursor: page.next_cursor,
        next: None,
    })
}

/// The columns of the machines list page; `list_page` sorts by these.
pub const LIST_COLUMNS: &[ListColumn] = &[
    ListColumn::new("code", "machines.code").sortable(),
    ListColumn::new("name", "field.name").sortable(),
    ListColumn::new("lab", "machines.lab").sortable(),
    ListColumn::new("kind", "machines.kind").sortable(),
    ListColumn::new("status", "machines.status").sortable(),
];

/// A numbered page of machines in the request's order, with the total.
pub async fn list_page(
    state: &AppState,
    f: &MachineFilter,
    request: &mut ListRequest,
) -> AppResult<(Vec<MachineView>, u64)> {
    let mut errors = FieldErrors::new();
    let filter = f.resolve(state, &mut errors).await?;
    errors.finish()?;
    let dir = || request.order();
    let first = match request.sort {
        "code" => Column::CodeKey,
        "lab" => Column::LabKey,
        "kind" => Column::KindKey,
        "status" => Column::Status,
        _ => Column::SortKey,
    };
    let order = [
        (first.into_simple_expr(), dir()),
        (Column::SortKey.into_simple_expr(), Order::Asc),
        (Column::Id.into_simple_expr(), Order::Asc),
    ];
    let (rows, total) = list::fetch(state.db(), store::select(&filter), order, request).await?;
    Ok((views(state, rows).await?, total))
}
