//! Plan commands and the schedule's work: plans are created and changed
//! with their audit entries; meter readings only go up; `run_due` turns
//! what falls due into work orders (once, however many workers run it),
//! reminds the machine's responsible person, and tells them again when the
//! work is overdue. Every mail goes through the outbox in the transaction
//! of the change that causes it.

use chrono::{DateTime, NaiveDate, Utc};
use faena_platform::audit::{self, Entry};
use faena_platform::auth::Actor;
use faena_platform::auth::entities::user;
use faena_platform::http::etag::IfMatch;
use faena_platform::mail::{self, Mail};
use faena_platform::{AppError, AppResult, AppState, FieldError, FieldErrors, Locale};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{self, plan, reading, work_order};
use super::{ChecklistItem, IntervalUnit, Plan, PlanInput, Trigger, after};
use crate::machines::service::{TOPIC, find_model};
use crate::machines::store as machines;
use crate::records::RecordKind;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanView {
    pub id: Uuid,
    pub machine_code: String,
    pub title: String,
    pub kind: RecordKind,
    pub interval_count: Option<i32>,
    pub interval_unit: Option<IntervalUnit>,
    pub meter: Option<String>,
    pub meter_every: Option<i64>,
    pub lead_days: i32,
    pub checklist: Vec<ChecklistItem>,
    /// Calendar plans: the next due day.
    pub next_due_on: Option<NaiveDate>,
    /// Meter plans: the reading at which it falls due.
    pub next_due_reading: Option<i64>,
    pub active: bool,
    pub version: i32,
}

pub fn plan_view(m: plan::Model, machine_code: String) -> PlanView {
    PlanView {
        id: m.id,
        machine_code,
        title: m.title,
        kind: RecordKind::parse(&m.kind).unwrap_or(RecordKind::Preventive),
        interval_count: m.interval_count,
        interval_unit: m.interval_unit.as_deref().and_then(IntervalUnit::parse),
        meter: m.meter,
        meter_every: m.meter_every,
        lead_days: m.lead_days,
        checklist: serde_json::from_str(&m.checklist).unwrap_or_default(),
        next_due_on: m.next_due_on,
        next_due_reading: m.next_due_reading,
        active: m.active,
        version: m.version,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkOrderView {
    pub id: Uuid,
    pub machine_code: String,
    pub machine_name: String,
    pub plan_id: Option<Uuid>,
    pub title: String,
    pub kind: RecordKind,
    pub due_on: NaiveDate,
    /// `open`, `done` or `cancelled`.
    pub status: String,
    /// Open and past its day (in the reader's zone).
    pub overdue: bool,
    pub record_id: Option<Uuid>,
}

pub async fn order_views(
    db: &impl ConnectionTrait,
    rows: Vec<work_order::Model>,
    today: NaiveDate,
) -> AppResult<Vec<WorkOrderView>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.machine_id).collect();
    let names = machines::names(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|w| {
            let (code, name) = names.get(&w.machine_id).cloned().unwrap_or_default();
            WorkOrderView {
                id: w.id,
                machine_code: code,
                machine_name: name,
                plan_id: w.plan_id,
                title: w.title,
                kind: RecordKind::parse(&w.kind).unwrap_or(RecordKind::Preventive),
                due_on: w.due_on,
                overdue: w.status == store::OPEN && w.due_on < today,
                status: w.status,
                record_id: w.record_id,
            }
        })
        .collect())
}

fn publish(state: &AppState, kind: &str, w: &work_order::Model, code: &str) {
    #[derive(Serialize)]
    struct Event<'a> {
        id: Uuid,
        machine_code: &'a str,
        due_on: NaiveDate,
    }
    let event = Event {
        id: w.id,
        machine_code: code,
        due_on: w.due_on,
    };
    if let Err(e) = state.realtime().publish(TOPIC, kind, &event) {
        tracing::error!(error = %e, kind, "work order event not published");
    }
}

fn checklist_json(p: &Plan) -> String {
    serde_json::to_string(&p.checklist).unwrap_or_else(|_| "[]".into())
}

fn trigger_columns(p: &Plan) -> (Option<i32>, Option<String>, Option<String>, Option<i64>) {
    match &p.trigger {
        Trigger::Calendar { count, unit } => (
            i32::try_from(*count).ok(),
            Some(unit.as_str().to_owned()),
            None,
            None,
        ),
        Trigger::Meter { meter, every } => (None, None, Some(meter.clone()), Some(*every)),
    }
}

/// Adds a plan to the machine `code`.
#[tracing::instrument(skip_all, fields(machine.code = %code, actor = %actor.label))]
pub async fn create_plan(
    state: &AppState,
    actor: &Actor,
    code: &str,
    input: &PlanInput,
    today: NaiveDate,
) -> AppResult<PlanView> {
    let mut errors = FieldErrors::new();
    let checked = input.check(&mut errors);
    if let Some(first) = input.first_due_on
        && first < today
    {
        errors.push(FieldError::new("first_due_on", "date_in_past"));
    }
    let machine = find_model(state, code).await?;
    errors.finish()?;
    let Some(p) = checked else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "validated plan missing"
        )));
    };
    let txn = state.begin_write().await?;
    let (count, unit, meter, every) = trigger_columns(&p);
    let (next_due_on, next_due_reading) = match &p.trigger {
        Trigger::Calendar { count, unit } => (
            Some(
                input
                    .first_due_on
                    .unwrap_or_else(|| after(today, *count, *unit)),
            ),
            None,
        ),
        Trigger::Meter { meter, every } => {
            let last = store::last_readings(&txn, machine.id)
                .await?
                .get(meter)
                .copied()
                .unwrap_or(0);
            (None, Some(last + every))
        }
    };
    let now = Utc::now();
    let model = plan::ActiveModel {
        id: Set(Uuid::now_v7()),
        machine_id: Set(machine.id),
        title: Set(p.title.clone()),
        kind: Set(p.kind.as_str().to_owned()),
        interval_count: Set(count),
        interval_unit: Set(unit),
        meter: Set(meter),
        meter_every: Set(every),
        lead_days: Set(p.lead_days),
        checklist: Set(checklist_json(&p)),
        next_due_on: Set(next_due_on),
        next_due_reading: Set(next_due_reading),
        active: Set(p.active),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&txn)
    .await?;
    // Due within its lead time already: its work opens now, not at the
    // schedule's next hour.
    let opened = if model.active && opens_by(&model, today) {
        open_order(&txn, state, &machine, &model, today).await?
    } else {
        None
    };
    let v = plan_view(model, machine.code.clone());
    audit::record(
        &txn,
        actor,
        Entry::new("create", "maintenance_plan", v.id.to_string()).after(&v),
    )
    .await?;
    txn.commit().await?;
    if let Some(w) = opened {
        state.jobs().wake();
        publish(state, "work_order.created", &w, &machine.code);
    }
    Ok(v)
}

/// Changes a plan (`PUT`): its trigger, checklist, lead time or whether it
/// is active. The next due day stays unless `first_due_on` moves it.
#[tracing::instrument(skip_all, fields(plan.id = %id, actor = %actor.label))]
pub async fn update_plan(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    if_match: IfMatch,
    input: &PlanInput,
) -> AppResult<PlanView> {
    let mut errors = FieldErrors::new();
    let checked = input.check(&mut errors);
    errors.finish()?;
    let Some(p) = checked else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "validated plan missing"
        )));
    };
    let txn = state.begin_write().await?;
    let current = plan::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    let machine = machines::Entity::find_by_id(current.machine_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let before = plan_view(current.clone(), machine.code.clone());
    let (count, unit, meter, every) = trigger_columns(&p);
    let mut active: plan::ActiveModel = current.clone().into();
    let (next_due_on, next_due_reading) = match &p.trigger {
        Trigger::Calendar { count, unit } => (
            input
                .first_due_on
                .or(current.next_due_on)
                .or_else(|| Some(after(Utc::now().date_naive(), *count, *unit))),
            None,
        ),
        Trigger::Meter { meter, every } => {
            let last = store::last_readings(&txn, machine.id)
                .await?
                .get(meter)
                .copied()
                .unwrap_or(0);
            (
                None,
                current
                    .next_due_reading
                    .filter(|_| current.meter.as_deref() == Some(meter))
                    .or(Some(last + every)),
            )
        }
    };
    active.title = Set(p.title.clone());
    active.kind = Set(p.kind.as_str().to_owned());
    active.interval_count = Set(count);
    active.interval_unit = Set(unit);
    active.meter = Set(meter);
    active.meter_every = Set(every);
    active.lead_days = Set(p.lead_days);
    active.checklist = Set(checklist_json(&p));
    active.next_due_on = Set(next_due_on);
    active.next_due_reading = Set(next_due_reading);
    active.active = Set(p.active);
    active.updated_at = Set(Utc::now());
    active.version = Set(current.version + 1);
    let updated = plan::Entity::update_many()
        .set(active)
        .filter(plan::Column::Id.eq(id))
        .filter(plan::Column::Version.eq(current.version))
        .exec_with_returning(&txn)
        .await?
        .pop()
        .ok_or(AppError::PreconditionFailed)?;
    let v = plan_view(updated, machine.code);
    audit::record(
        &txn,
        actor,
        Entry::new("update", "maintenance_plan", id.to_string())
            .before(&before)
            .after(&v),
    )
    .await?;
    txn.commit().await?;
    Ok(v)
}

pub async fn find_plan(state: &AppState, id: Uuid) -> AppResult<PlanView> {
    let m = plan::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .ok_or(AppError::NotFound)?;
    let code = machines::Entity::find_by_id(m.machine_id)
        .one(state.db())
        .await?
        .map(|x| x.code)
        .unwrap_or_default();
    Ok(plan_view(m, code))
}

/// Plans of one machine, or of all.
pub async fn plans(state: &AppState, machine: Option<&str>) -> AppResult<Vec<PlanView>> {
    let db = state.db();
    let rows = match machine {
        // A machine that does not exist has no plans.
        Some(code) => match machines::find_by_code(db, code).await? {
            Some(m) => store::plans_of(db, m.id).await?,
            None => Vec::new(),
        },
        None => plan::Entity::find().all(db).await?,
    };
    let ids: Vec<Uuid> = rows.iter().map(|p| p.machine_id).collect();
    let names = machines::names(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|p| {
            let code = names
                .get(&p.machine_id)
                .map(|n| n.0.clone())
                .unwrap_or_default();
            plan_view(p, code)
        })
        .collect())
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReadingView {
    pub meter: String,
    pub value: i64,
    pub read_at: DateTime<Utc>,
    pub recorded_by: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadingInput {
    /// The meter's name (`horas`, `ciclos`).
    pub meter: String,
    /// What it reads now: never less than the last reading.
    pub value: i64,
    /// Default now.
    #[serde(default)]
    pub read_at: Option<DateTime<Utc>>,
}

/// Records a meter reading; a meter plan it reaches gets its work order,
/// due today, in the same transaction.
#[tracing::instrument(skip_all, fields(machine.code = %code, actor = %actor.label))]
pub async fn add_reading(
    state: &AppState,
    actor: &Actor,
    code: &str,
    input: &ReadingInput,
    today: NaiveDate,
) -> AppResult<ReadingView> {
    let mut errors = FieldErrors::new();
    let meter = crate::machines::optional_text("meter", Some(&input.meter), 40, &mut errors);
    if input.meter.trim().is_empty() {
        errors.push(FieldError::new("meter", "required"));
    }
    if input.value < 0 {
        errors.push(
            FieldError::new("value", "out_of_range")
                .with("min", 0)
                .with("max", i64::MAX),
        );
    }
    let read_at = input.read_at.unwrap_or_else(Utc::now);
    if read_at > Utc::now() + chrono::Duration::minutes(5) {
        errors.push(FieldError::new("read_at", "date_in_future"));
    }
    let txn = state.begin_write().await?;
    let machine = machines::find_by_code(&txn, code)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(m) = &meter
        && let Some(last) = store::last_readings(&txn, machine.id)
            .await?
            .get(m)
            .copied()
        && input.value < last
    {
        errors.push(FieldError::new("value", "reading_went_down").with("last", last));
    }
    errors.finish()?;
    let Some(meter) = meter else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "validated meter missing"
        )));
    };
    let row = reading::ActiveModel {
        id: Set(Uuid::now_v7()),
        machine_id: Set(machine.id),
        meter: Set(meter.clone()),
        value: Set(input.value),
        read_at: Set(read_at),
        recorded_by: Set(actor.label.clone()),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        Entry::new("meter_reading", "machine", machine.code.clone())
            .after(serde_json::json!({"meter": meter, "value": input.value})),
    )
    .await?;
    let mut made = Vec::new();
    for p in store::plans_of(&txn, machine.id).await? {
        let due = p.active
            && p.meter.as_deref() == Some(meter.as_str())
            && p.next_due_reading.is_some_and(|at| input.value >= at);
        if due
            && store::open_order_of(&txn, p.id).await?.is_none()
            && let Some(w) = open_order(&txn, state, &machine, &p, today).await?
        {
            made.push(w);
        }
    }
    txn.commit().await?;
    if !made.is_empty() {
        state.jobs().wake();
    }
    for w in &made {
        publish(state, "work_order.created", w, &machine.code);
    }
    Ok(ReadingView {
        meter: row.meter,
        value: row.value,
        read_at: row.read_at,
        recorded_by: row.recorded_by,
    })
}

pub async fn readings(state: &AppState, code: &str) -> AppResult<Vec<ReadingView>> {
    let machine = find_model(state, code).await?;
    Ok(store::readings(state.db(), machine.id, 200)
        .await?
        .into_iter()
        .map(|r| ReadingView {
            meter: r.meter,
            value: r.value,
            read_at: r.read_at,
            recorded_by: r.recorded_by,
        })
        .collect())
}

/// The responsible person of a machine, as a mail recipient.
async fn responsible(
    db: &impl ConnectionTrait,
    m: &machines::Model,
) -> AppResult<Option<(String, Locale)>> {
    let Some(id) = m.responsible_id else {
        return Ok(None);
    };
    Ok(user::Entity::find_by_id(id)
        .filter(user::Column::Active.eq(true))
        .one(db)
        .await?
        .map(|u| (u.email, Locale::parse(&u.locale).unwrap_or_default())))
}

async fn mail_about(
    db: &impl ConnectionTrait,
    state: &AppState,
    template: &str,
    machine: &machines::Model,
    w: &work_order::Model,
) -> AppResult<bool> {
    let Some((to, locale)) = responsible(db, machine).await? else {
        return Ok(false);
    };
    let base = state.config().public_base();
    let rendered = mail::render(
        state,
        template,
        locale,
        minijinja::context! {
            code => machine.code, name => machine.name, title => w.title,
            due_on => w.due_on.format("%d-%m-%Y").to_string(),
            link => format!("{base}/machines/{}", machine.code),
        },
    )
    .map_err(anyhow::Error::from)?;
    let mut m = Mail::from_template(to, template, locale, rendered);
    m.related = Some(("machine".into(), machine.code.clone()));
    mail::queue(db, m).await?;
    Ok(true)
}

/// Whether a calendar plan's work is open by `today`: its due day less its
/// lead time has come.
fn opens_by(p: &plan::Model, today: NaiveDate) -> bool {
    p.next_due_on
        .is_some_and(|next| next - chrono::Duration::days(i64::from(p.lead_days)) <= today)
}

/// Opens the plan's work order due on its due day (today for a meter
/// plan), unless another worker did; reminds the responsible person.
async fn open_order(
    db: &impl ConnectionTrait,
    state: &AppState,
    machine: &machines::Model,
    p: &plan::Model,
    today: NaiveDate,
) -> AppResult<Option<work_order::Model>> {
    let due_on = p.next_due_on.unwrap_or(today);
    let now = Utc::now();
    let w = work_order::Model {
        id: Uuid::now_v7(),
        machine_id: machine.id,
        plan_id: Some(p.id),
        kind: p.kind.clone(),
        title: p.title.clone(),
        due_on,
        status: store::OPEN.to_owned(),
        record_id: None,
        reminded_at: Some(now),
        overdue_notified_at: None,
        created_at: now,
        closed_at: None,
    };
    let active: work_order::ActiveModel = w.clone().into();
    if !store::insert_order(db, active).await? {
        return Ok(None);
    }
    mail_about(db, state, "maintenance_due", machine, &w).await?;
    Ok(Some(w))
}

/// What one run of the schedule did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DueRun {
    pub opened: u64,
    pub overdue_notices: u64,
}

/// The schedule's work for `today`: opens the work orders of calendar
/// plans due within their lead time, and sends one overdue notice per
/// order past its day. Safe to run often and on several workers at once.
#[tracing::instrument(skip_all, fields(today = %today))]
pub async fn run_due(state: &AppState, today: NaiveDate) -> AppResult<DueRun> {
    let mut run = DueRun::default();
    let mut events = Vec::new();
    for p in store::active_plans(state.db()).await? {
        if !opens_by(&p, today) {
            continue;
        }
        let txn = state.begin_write().await?;
        if store::open_order_of(&txn, p.id).await?.is_some() {
            continue;
        }
        let Some(machine) = machines::Entity::find_by_id(p.machine_id).one(&txn).await? else {
            continue;
        };
        if machine.status == crate::machines::MachineStatus::Retired.as_str() {
            continue;
        }
        if let Some(w) = open_order(&txn, state, &machine, &p, today).await? {
            txn.commit().await?;
            run.opened += 1;
            events.push(("work_order.created", w, machine.code));
        }
    }
    for w in store::overdue_unnotified(state.db(), today).await? {
        let txn = state.begin_write().await?;
        // Claimed by this update: another worker's claim makes it 0.
        let claimed = work_order::Entity::update_many()
            .col_expr(
                work_order::Column::OverdueNotifiedAt,
                sea_orm::sea_query::Expr::value(Utc::now()),
            )
            .filter(work_order::Column::Id.eq(w.id))
            .filter(work_order::Column::OverdueNotifiedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        if claimed == 0 {
            continue;
        }
        let Some(machine) = machines::Entity::find_by_id(w.machine_id).one(&txn).await? else {
            continue;
        };
        mail_about(&txn, state, "maintenance_overdue", &machine, &w).await?;
        txn.commit().await?;
        run.overdue_notices += 1;
        events.push(("work_order.overdue", w, machine.code));
    }
    if !events.is_empty() {
        state.jobs().wake();
    }
    for (kind, w, code) in &events {
        publish(state, kind, w, code);
    }
    Ok(run)
}

/// Open work orders (of one machine, or all), soonest first.
pub async fn open_work(
    state: &AppState,
    machine: Option<&str>,
    today: NaiveDate,
) -> AppResult<Vec<WorkOrderView>> {
    let ids = match machine {
        // A machine that does not exist has no work.
        Some(code) => match machines::find_by_code(state.db(), code).await? {
            Some(m) => Some(vec![m.id]),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    let rows = store::open_orders(state.db(), ids.as_deref()).await?;
    order_views(state.db(), rows, today).await
}

/// Open work in two lists, overdue and coming up, each the soonest
/// `limit`, with how many there are of each.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkSummary {
    pub overdue: Vec<WorkOrderView>,
    pub overdue_count: u64,
    pub due_soon: Vec<WorkOrderView>,
    pub due_soon_count: u64,
}

pub async fn work_summary(
    state: &AppState,
    today: NaiveDate,
    limit: u64,
) -> AppResult<WorkSummary> {
    let db = state.db();
    let (overdue, overdue_count) = store::open_orders_by_state(db, true, today, limit).await?;
    let (due_soon, due_soon_count) = store::open_orders_by_state(db, false, today, limit).await?;
    Ok(WorkSummary {
        overdue: order_views(db, overdue, today).await?,
        overdue_count,
        due_soon: order_views(db, due_soon, today).await?,
        due_soon_count,
    })
}

/// What recording work against `order_id` requires and does: the order
/// must be open and of the machine; the answers must follow its plan's
/// checklist. Returns the checklist to check against.
pub async fn order_for_record(
    db: &impl ConnectionTrait,
    order_id: Uuid,
    machine_id: Uuid,
    errors: &mut FieldErrors,
) -> AppResult<Option<(work_order::Model, Vec<ChecklistItem>)>> {
    let Some(w) = work_order::Entity::find_by_id(order_id).one(db).await? else {
        errors.push(FieldError::new("work_order", "unknown_work_order"));
        return Ok(None);
    };
    if w.machine_id != machine_id || w.status != store::OPEN {
        errors.push(FieldError::new("work_order", "work_order_closed"));
        return Ok(None);
    }
    let checklist = match w.plan_id {
        Some(p) => plan::Entity::find_by_id(p)
            .one(db)
            .await?
            .map(|p| serde_json::from_str(&p.checklist).unwrap_or_default())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Ok(Some((w, checklist)))
}

/// Closes the order with its record and moves its plan to the next due
/// day (or reading), in the record's transaction.
pub async fn close_order(
    db: &impl ConnectionTrait,
    w: &work_order::Model,
    record_id: Uuid,
    performed_on: NaiveDate,
) -> AppResult<()> {
    let now = Utc::now();
    let closed = work_order::Entity::update_many()
        .col_expr(
            work_order::Column::Status,
            sea_orm::sea_query::Expr::value(store::DONE),
        )
        .col_expr(
            work_order::Column::RecordId,
            sea_orm::sea_query::Expr::value(record_id),
        )
        .col_expr(
            work_order::Column::ClosedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(work_order::Column::Id.eq(w.id))
        .filter(work_order::Column::Status.eq(store::OPEN))
        .exec(db)
        .await?
        .rows_affected;
    if closed == 0 {
        return Err(FieldError::new("work_order", "work_order_closed").into());
    }
    let Some(plan_id) = w.plan_id else {
        return Ok(());
    };
    let Some(p) = plan::Entity::find_by_id(plan_id).one(db).await? else {
        return Ok(());
    };
    let mut active: plan::ActiveModel = p.clone().into();
    match (
        p.interval_count,
        p.interval_unit.as_deref().and_then(IntervalUnit::parse),
        &p.meter,
        p.meter_every,
    ) {
        (Some(count), Some(unit), _, _) => {
            active.next_due_on = Set(Some(after(
                performed_on,
                u32::try_from(count).unwrap_or(1),
                unit,
            )));
        }
        (_, _, Some(meter), Some(every)) => {
            let last = store::last_readings(db, p.machine_id)
                .await?
                .get(meter)
                .copied()
                .unwrap_or(0);
            active.next_due_reading = Set(Some(last + every));
        }
        _ => {}
    }
    active.updated_at = Set(now);
    active.update(db).await?;
    Ok(())
}

/// The checklist of the plan behind work order `id` (empty without one).
pub async fn checklist_of_order(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> AppResult<Vec<ChecklistItem>> {
    let Some(w) = work_order::Entity::find_by_id(id).one(db).await? else {
        return Ok(Vec::new());
    };
    let Some(plan_id) = w.plan_id else {
        return Ok(Vec::new());
    };
    Ok(plan::Entity::find_by_id(plan_id)
        .one(db)
        .await?
        .map(|p| serde_json::from_str(&p.checklist).unwrap_or_default())
        .unwrap_or_default())
}
