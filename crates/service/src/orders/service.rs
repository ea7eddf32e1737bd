//! Service-order commands, each one transaction: the change, its status
//! history, its audit entry, its webhook outbox rows and the customer's
//! mail it calls for (`notices`), committed together; then a realtime
//! event on the `service` topic.
//!
//! Every command first finds the order as the caller may see it (an order
//! of another technician is "not found"), then checks that the caller may
//! act on it (`Caller::acts_on`) and do this kind of work.

use chrono::{Datelike, Utc};
use faena_platform::audit::{self, Entry};
use faena_platform::auth::{Actor, users};
use faena_platform::http::etag::IfMatch;
use faena_platform::{AppError, AppResult, AppState, FieldError, FieldErrors, Problem, text};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde::Serialize;
use uuid::Uuid;

use super::notices::{self, Notice};
use super::store::{self, order};
use super::views::{
    EstimateLinesInput, NewServiceOrder, ServiceAssignInput, ServiceDiagnosisInput,
    ServiceEstimateSendInput, ServiceOrderUpdate, ServiceOrderView, ServiceTransitionInput,
    name_of_client, status_of, view,
};
use super::{
    Caller, EstimateLine, EstimateTotals, OrderNumber, Refusal, ServiceStatus, Transition,
    TransitionError, parse_lines, transition,
};
use crate::perms;

/// The realtime topic of service-order changes; reading it needs
/// `service.orders.read`.
pub const TOPIC: &str = "service";

/// What a `service` event carries: which order and where it stands, no
/// customer data (subscribers re-read through the checked API).
#[derive(Debug, Serialize)]
struct OrderEvent<'a> {
    number: &'a str,
    status: ServiceStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_status: Option<ServiceStatus>,
    technician_id: Option<Uuid>,
    version: i32,
}

/// Announces a committed change; a failure to announce is logged, never
/// undoes the change.
pub(super) fn announce(
    state: &AppState,
    kind: &str,
    v: &ServiceOrderView,
    from: Option<ServiceStatus>,
) {
    let event = OrderEvent {
        number: &v.number,
        status: v.status,
        from_status: from,
        technician_id: v.technician_id,
        version: v.version,
    };
    if let Err(e) = state.realtime().publish(TOPIC, kind, &event) {
        tracing::error!(error = %e, kind, order.number = %v.number, "service order event not published");
    }
}

/// Queues the change's webhook deliveries in its transaction. True when
/// some endpoint wants it (wake the worker after the commit).
pub(super) async fn notify(
    txn: &impl ConnectionTrait,
    kind: &str,
    v: &ServiceOrderView,
) -> Result<bool, sea_orm::DbErr> {
    let data = serde_json::to_value(v).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
    Ok(faena_platform::webhooks::emit(txn, kind, data)
        .await?
        .is_some())
}

const MAX_TEXT: usize = 4000;

fn optional_text(
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

/// The customer's address for notices: empty is none; otherwise one the
/// mail transports will read.
fn contact_email(raw: Option<&str>, errors: &mut FieldErrors) -> Option<String> {
    let s = raw.map(str::trim).filter(|s| !s.is_empty())?;
    if s.chars().count() > 254 {
        errors.push(FieldError::new("contact_email", "too_long").with("max", 254));
        return None;
    }
    errors.take(faena_platform::mail::parse_address("contact_email", s))?;
    Some(s.to_owned())
}

fn required(field: &str, raw: &str, max: usize, errors: &mut FieldErrors) -> Option<String> {
    errors.take(faena_platform::types::required_text(field, raw, max))
}

/// The client's name, or a field error when the directory does not know
/// it. Asked before a command's transaction opens: the directory reads
/// through the pool, and a transaction waiting on the pool while holding a
/// connection (and the counter's lock) would starve the others.
async fn check_client(
    state: &AppState,
    id: Uuid,
    errors: &mut FieldErrors,
) -> AppResult<Option<String>> {
    let name = match state.directory("client") {
        Some(dir) => dir.names(state.db(), &[id]).await?.remove(&id),
        None => None,
    };
    if name.is_none() {
        errors.push(FieldError::new("client_id", "unknown_customer"));
    }
    Ok(name)
}

/// The warranty's earlier order: it must exist and have been delivered.
async fn check_warranty(
    db: &impl ConnectionTrait,
    raw: &str,
    errors: &mut FieldErrors,
) -> AppResult<Option<String>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let found = match OrderNumber::parse(raw) {
        Some(n) => store::find_by_number(db, n.as_str()).await?,
        None => None,
    };
    match found {
        None => {
            errors.push(FieldError::new("warranty_of", "unknown_service_order").with("value", raw));
            Ok(None)
        }
        Some(o) if status_of(&o) != ServiceStatus::Delivered => {
            errors.push(
                FieldError::new("warranty_of", "warranty_order_not_delivered")
                    .with("value", &o.number),
            );
            Ok(None)
        }
        Some(o) => Ok(Some(o.number)),
    }
}

/// The technician given must be an active user holding
/// `service.orders.work`, whose profile (if any) is active.
async fn check_technician(state: &AppState, id: Uuid, errors: &mut FieldErrors) -> AppResult<()> {
    if users::holder(state, id, perms::ORDERS_WORK)
        .await?
        .is_none()
    {
        errors.push(FieldError::new("technician_id", "not_a_technician"));
    } else if !crate::technicians::store::is_active(state.db(), id).await? {
        errors.push(FieldError::new("technician_id", "technician_inactive"));
    }
    Ok(())
}

fn search_text(m: &order::Model) -> String {
    text::search_text([
        m.number.as_str(),
        m.serial.as_deref().unwrap_or(""),
        m.device_type.as_str(),
        m.brand.as_str(),
        m.model.as_str(),
    ])
}

fn set_totals(active: &mut order::ActiveModel, lines: &[EstimateLine]) {
    let t = EstimateTotals::of(lines);
    active.net_clp = Set(t.net_clp);
    active.vat_clp = Set(t.vat_clp);
    active.total_clp = Set(t.total_clp);
}

#[tracing::instrument(skip_all, fields(actor = %actor.label))]
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: NewServiceOrder,
) -> AppResult<ServiceOrderView> {
    let mut errors = FieldErrors::new();
    let device_type = required("device_type", &input.device_type, 60, &mut errors);
    let brand = required("brand", &input.brand, 60, &mut errors);
    let model = required("model", &input.model, 80, &mut errors);
    let serial = optional_text("serial", input.serial.as_deref(), 60, &mut errors);
    let accessories = optional_text(
        "accessories",
        input.accessories.as_deref(),
        MAX_TEXT,
        &mut errors,
    );
    let condition_notes = optional_text(
        "condition_notes",
        input.condition_notes.as_deref(),
        MAX_TEXT,
        &mut errors,
    );
    let reported_fault = required(
        "reported_fault",
        &input.reported_fault,
        MAX_TEXT,
        &mut errors,
    );
    let email = contact_email(input.contact_email.as_deref(), &mut errors);
    let lines = parse_lines(&input.lines, &mut errors);
    let client = check_client(state, input.client_id, &mut errors).await?;
    // No address typed at the desk: the customer's own, from the clients
    // directory (kept on the order, where the desk may change it).
    let email = match (email, &client, state.directory("client")) {
        (None, Some(_), Some(dir)) if input.contact_email.is_none() => {
            dir.email_of(state.db(), input.client_id).await?
        }
        (email, _, _) => email,
    };
    if let Some(t) = input.technician_id {
        check_technician(state, t, &mut errors).await?;
    }
    let warranty_of = match input.warranty_of.as_deref() {
        Some(w) => check_warranty(state.db(), w, &mut errors).await?,
        None => None,
    };
    errors.finish()?;
    // Every required text is there once `finish` passed.
    let (device_type, brand, model, reported_fault) = (
        device_type.unwrap_or_default(),
        brand.unwrap_or_default(),
        model.unwrap_or_default(),
        reported_fault.unwrap_or_default(),
    );

    let now = Utc::now();
    let year = now.with_timezone(&state.time_zone()).year();
    let txn = state.begin_write().await?;
    let seq = store::take_numbers(&txn, year, 1).await?;
    let number = OrderNumber::new(year, seq);
    let id = Uuid::now_v7();
    let totals = EstimateTotals::of(&lines);
    let mut model = order::Model {
        id,
        number: number.as_str().to_owned(),
        year,
        client_id: input.client_id,
        status: ServiceStatus::Received.as_str().to_owned(),
        priority: input.priority.unwrap_or_default().as_str().to_owned(),
        device_type,
        brand,
        model,
        serial,
        accessories,
        condition_notes,
        reported_fault,
        diagnosis: None,
        promised_date: input.promised_date,
        technician_id: input.technician_id,
        warranty_of,
        cancel_reason: None,
        net_clp: totals.net_clp,
        vat_clp: totals.vat_clp,
        total_clp: totals.total_clp,
        search_text: String::new(),
        contact_email: email,
        tracking_token: Some(notices::tracking_token()),
        paid_at: None,
        paid_amount_clp: None,
        payment_reference: None,
        reminded_at: None,
        created_by: actor.label.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    model.search_text = search_text(&model);
    let active: order::ActiveModel = model.into();
    let model = active.reset_all().insert(&txn).await?;
    store::replace_lines(&txn, id, &lines).await?;
    store::record_history(&txn, actor, id, None, ServiceStatus::Received, None).await?;
    let lines_now = store::lines(&txn, id).await?;
    let tech = store::find_named(&*txn, &model.number, None)
        .await?
        .and_then(|(_, n)| n.technician);
    let v = view(model.clone(), lines_now, client, tech);
    audit::record(
        &txn,
        actor,
        Entry::new("create", "service_order", v.number.clone()).after(&v),
    )
    .await?;
    let hooked = notify(&txn, "service_order.created", &v).await?;
    let mailed = notices::queue(
        &txn,
        state,
        actor,
        Notice::Intake,
        &model,
        &v,
        notices::APPROVAL_DAYS,
    )
    .await?;
    txn.commit().await?;
    if hooked || mailed {
        state.jobs().wake();
    }
    announce(state, "service_order.created", &v, None);
    Ok(v)
}

fn refused(r: Refusal) -> AppError {
    match r {
        Refusal::Hidden => AppError::NotFound,
        Refusal::NotAssigned => AppError::Problem(Box::new(Problem::new(
            axum::http::StatusCode::FORBIDDEN,
            "service_order_not_assigned",
        ))),
    }
}

fn closed_problem(status: ServiceStatus) -> AppError {
    AppError::Conflict {
        code: "service_order_closed",
        field: None,
        params: vec![("status", status.as_str().to_owned())],
    }
}

/// The order as the caller may change it: hidden ones are not found; the
/// version must match; the caller must be allowed to act on it.
async fn load(
    txn: &impl ConnectionTrait,
    who: &Caller,
    number: &str,
    if_match: &IfMatch,
) -> AppResult<order::Model> {
    let current = store::find_by_number(txn, number)
        .await?
        .filter(|m| who.sees(m.technician_id))
        .ok_or(AppError::NotFound)?;
    who.acts_on(current.technician_id).map_err(refused)?;
    if_match.check(current.version)?;
    Ok(current)
}

/// A change to write: the row, possibly new lines, possibly a move.
pub(super) struct Change {
    pub action: &'static str,
    pub active: order::ActiveModel,
    pub lines: Option<Vec<EstimateLine>>,
    pub moved: Option<Transition>,
}

/// Writes `change` over `current` in `txn`, with its history, audit entry,
/// webhook rows and the customer's mail a move calls for (the estimate
/// with its approval link, ready, delivered); commits; announces.
pub(super) async fn apply(
    state: &AppState,
    actor: &Actor,
    txn: faena_platform::db::WriteTxn,
    current: order::Model,
    change: Change,
) -> AppResult<ServiceOrderView> {
    let Change {
        action,
        mut active,
        lines,
        moved,
    } = change;
    let before = view(
        current.clone(),
        store::lines(&*txn, current.id).await?,
        None,
        None,
    );
    if let Some(lines) = &lines {
        set_totals(&mut active, lines);
    }
    active.updated_at = Set(Utc::now());
    active.version = Set(current.version + 1);
    let mut updated = store::update_at_version(&*txn, active, current.id, current.version)
        .await?
        .ok_or(AppError::PreconditionFailed)?;
    let text = search_text(&updated);
    if text != updated.search_text {
        let mut fix: order::ActiveModel = updated.clone().into();
        fix.search_text = Set(text);
        updated = fix.update(&*txn).await?;
    }
    if let Some(lines) = &lines {
        store::replace_lines(&*txn, current.id, lines).await?;
    }
    if let Some(t) = &moved {
        store::record_history(&*txn, actor, current.id, Some(t.from), t.to, t.note.clone()).await?;
    }
    let lines_now = store::lines(&*txn, current.id).await?;
    // The names in the transaction's own statement (the directory's
    // subquery), never through the pool while holding it.
    let names = store::find_named(&*txn, &updated.number, name_of_client(state))
        .await?
        .map(|(_, n)| n)
        .unwrap_or_default();
    let v = view(updated.clone(), lines_now, names.client, names.technician);
    audit::record(
        &*txn,
        actor,
        Entry::new(action, "service_order", v.number.clone())
            .before(&before)
            .after(&v),
    )
    .await?;
    let kind = if moved.is_some() {
        "service_order.status_changed"
    } else {
        "service_order.updated"
    };
    let hooked = notify(&*txn, kind, &v).await?;
    let mailed = match moved.as_ref().and_then(|t| Notice::on_move(t.to)) {
        Some(notice) => {
            notices::queue(
                &*txn,
                state,
                actor,
                notice,
                &updated,
                &v,
                notices::APPROVAL_DAYS,
            )
            .await?
        }
        None => false,
    };
    txn.commit().await?;
    if hooked || mailed {
        state.jobs().wake();
    }
    announce(state, kind, &v, moved.as_ref().map(|t| t.from));
    Ok(v)
}

/// Changes the order's data (the front desk).
#[tracing::instrument(skip_all, fields(order.number = %number, actor = %actor.label))]
pub async fn update(
    state: &AppState,
    actor: &Actor,
    who: &Caller,
    number: &str,
    if_match: IfMatch,
    change: ServiceOrderUpdate,
) -> AppResult<ServiceOrderView> {
    let mut errors = FieldErrors::new();
    if let Some(c) = change.client_id {
        check_client(state, c, &mut errors).await?;
    }
    let txn = state.begin_write().await?;
    let current = load(&*txn, who, number, &if_match).await?;
    let status = status_of(&current);
    if !status.is_open() {
        return Err(closed_problem(status));
    }
    let mut active: order::ActiveModel = current.clone().into();
    if let Some(c) = change.client_id {
        active.client_id = Set(c);
    }
    if let Some(raw) = &change.contact_email {
        active.contact_email = Set(contact_email(Some(raw), &mut errors));
    }
    for (field, raw, max) in [
        ("device_type", &change.device_type, 60),
        ("brand", &change.brand, 60),
        ("model", &change.model, 80),
        ("reported_fault", &change.reported_fault, MAX_TEXT),
    ] {
        let Some(raw) = raw else { continue };
        let Some(v) = required(field, raw, max, &mut errors) else {
            continue;
        };
        match field {
            "device_type" => active.device_type = Set(v),
            "brand" => active.brand = Set(v),
            "model" => active.model = Set(v),
            _ => active.reported_fault = Set(v),
        }
    }
    for (field, raw, max) in [
        ("serial", &change.serial, 60),
        ("accessories", &change.accessories, MAX_TEXT),
        ("condition_notes", &change.condition_notes, MAX_TEXT),
        ("diagnosis", &change.diagnosis, MAX_TEXT),
    ] {
        let Some(raw) = raw else { continue };
        let v = optional_text(field, Some(raw), max, &mut errors);
        match field {
            "serial" => active.serial = Set(v),
            "accessories" => active.accessories = Set(v),
            "condition_notes" => active.condition_notes = Set(v),
            _ => active.diagnosis = Set(v),
        }
    }
    if let Some(p) = change.priority {
        active.priority = Set(p.as_str().to_owned());
    }
    if let Some(d) = change.promised_date {
        active.promised_date = Set(Some(d));
    }
    if let Some(w) = &change.warranty_of {
        if OrderNumber::parse(w).is_some_and(|n| n.as_str() == current.number) {
            errors.push(FieldError::new("warranty_of", "warranty_of_itself"));
        } else {
            active.warranty_of = Set(check_warranty(&*txn, w, &mut errors).await?);
        }
    }
    errors.finish()?;
    let change = Change {
        action: "update",
        active,
        lines: None,
        moved: None,
    };
    apply(state, actor, txn, current, change).await
}

/// Writes the technician's diagnosis (the bench).
#[tracing::instrument(skip_all, fields(order.number = %number, actor = %actor.label))]
pub async fn diagnose(
    state: &AppState,
    actor: &Actor,
    who: &Caller,
    number: &str,
    if_match: IfMatch,
    input: ServiceDiagnosisInput,
) -> AppResult<ServiceOrderView> {
    let mut errors = FieldErrors::new();
    let diagnosis = required("diagnosis", &input.diagnosis, MAX_TEXT, &mut errors);
    errors.finish()?;
    let txn = state.begin_write().await?;
    let current = load(&*txn, who, number, &if_match).await?;
    let status = status_of(&current);
    if !status.is_open() {
        return Err(closed_problem(status));
    }
    let mut active: order::ActiveModel = current.clone().into();
    active.diagnosis = Set(diagnosis);
    let change = Change {
        action: "diagnose",
        active,
        lines: None,
        moved: None,
    };
    apply(state, actor, txn, current, change).await
}

/// Replaces the estimate's lines, while the customer has not answered it.
#[tracing::instrument(skip_all, fields(order.number = %number, actor = %actor.label))]
pub async fn set_lines(
    state: &AppState,
    actor: &Actor,
    who: &Caller,
    number: &str,
    if_match: IfMatch,
    input: EstimateLinesInput,
) -> AppResult<ServiceOrderView> {
    let mut errors = FieldErrors::new();
    let lines = parse_lines(&input.lines, &mut errors);
    errors.finish()?;
    let txn = state.begin_write().await?;
    let current = load(&*txn, who, number, &if_match).await?;
    let status = status_of(&current);
    if !status.lines_editable() {
        return Err(AppError::Conflict {
            code: "service_order_lines_locked",
            field: Some("lines".into()),
            params: vec![("status", status.as_str().to_owned())],
        });
    }
    let change = Change {
        action: "quote",
        active: current.clone().into(),
        lines: Some(lines),
        moved: None,
    };
    apply(state, actor, txn, current, change).await
}

fn transition_problem(err: TransitionError) -> AppError {
    match err {
        TransitionError::ReasonRequired => FieldError::new("note", "cancel_reason_required").into(),
        TransitionError::NoteTooLong => FieldError::new("note", "too_long")
            .with("max", super::MAX_NOTE)
            .into(),
        TransitionError::NotAllowed { from, to, allowed } => {
            let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
            let mut p = Problem::new(
                axum::http::StatusCode::CONFLICT,
                "service_order_invalid_transition",
            )
            .with_extension("from", from.as_str().into())
            .with_extension("to", to.as_str().into())
            .with_extension("allowed", names.clone().into());
            p.params = vec![
                ("from", from.as_str().to_owned()),
                ("to", to.as_str().to_owned()),
                (
                    "allowed",
                    if names.is_empty() {
                        "—".to_owned()
                    } else {
                        names.join(", ")
                    },
                ),
            ];
            AppError::Problem(Box::new(p))
        }
    }
}

/// Moves the order to `input.to`, if the rules allow the move and the
/// caller's station makes it (desk or bench).
#[tracing::instrument(skip_all, fields(order.number = %number, actor = %actor.label))]
pub async fn move_to(
    state: &AppState,
    actor: &Actor,
    who: &Caller,
    number: &str,
    if_match: IfMatch,
    input: ServiceTransitionInput,
) -> AppResult<ServiceOrderView> {
    let txn = state.begin_write().await?;
    let current = store::find_by_number(&*txn, number)
        .await?
        .filter(|m| who.sees(m.technician_id))
        .ok_or(AppError::NotFound)?;
    if !who.may_move_to(input.to) {
        let mut p = Problem::new(
            axum::http::StatusCode::FORBIDDEN,
            "service_order_move_forbidden",
        )
        .with_extension("to", input.to.as_str().into());
        p.params = vec![("to", input.to.as_str().to_owned())];
        return Err(AppError::Problem(Box::new(p)));
    }
    who.acts_on(current.technician_id).map_err(refused)?;
    if_match.check(current.version)?;
    let t = transition(status_of(&current), input.to, input.note.as_deref())
        .map_err(transition_problem)?;
    let mut active: order::ActiveModel = current.clone().into();
    active.status = Set(t.to.as_str().to_owned());
    if t.to == ServiceStatus::Cancelled {
        active.cancel_reason = Set(t.note.clone());
    }
    let change = Change {
        action: "transition",
        active,
        lines: None,
        moved: Some(t),
    };
    apply(state, actor, txn, current, change).await
}

/// The caller takes an unassigned open order (the bench).
#[tracing::instrument(skip_all, fields(order.number = %number, actor = %actor.label))]
pub async fn take(
    state: &AppState,
    actor: &Actor,
    who: &Caller,
    number: &str,
    if_match: IfMatch,
) -> AppResult<ServiceOrderView> {
    let me = who.user_id.ok_or(AppError::Forbidden)?;
    let txn = state.begin_write().await?;
    let current = store::find_by_number(&*txn, number)
        .await?
        .filter(|m| who.sees(m.technician_id))
        .ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    let status = status_of(&current);
    if !status.is_open() {
        return Err(closed_problem(status));
    }
    match current.technician_id {
        Some(t) if t == me => {
            drop(txn);
            return super::search::find(state, who, number).await;
        }
        Some(_) => {
            return Err(AppError::Conflict {
                code: "service_order_already_assigned",
                field: None,
                params: vec![],
            });
        }
        None => {}
    }
    if !crate::technicians::store::is_active(&*txn, me).await? {
        return Err(AppError::Problem(Box::new(Problem::new(
            axum::http::StatusCode::FORBIDDEN,
            "technician_inactive",
        ))));
    }
    let mut active: order::ActiveModel = current.clone().into();
    active.technician_id = Set(Some(me));
    let change = Change {
        action: "take",
        active,
        lines: None,
        moved: None,
    };
    apply(state, actor, txn, current, change).await
}

/// Assigns the order to a technician, or unassigns it (the front desk).
#[tracing::instrument(skip_all, fields(order.number = %number, actor = %actor.label))]
pub async fn assign(
    state: &AppState,
    actor: &Actor,
    who: &Caller,
    number: &str,
    if_match: IfMatch,
    input: ServiceAssignInput,
) -> AppResult<ServiceOrderView> {
    let mut errors = FieldErrors::new();
    if let Some(t) = input.technician_id {
        check_technician(state, t, &mut errors).await?;
    }
    errors.finish()?;
    let txn = state.begin_write().await?;
    let current = load(&*txn, who, number, &if_match).await?;
    let status = status_of(&current);
    if !status.is_open() {
        return Err(closed_problem(status));
    }
    let mut active: order::ActiveModel = current.clone().into();
    active.technician_id = Set(input.technician_id);
    let change = Change {
        action: "assign",
        active,
        lines: None,
        moved: None,
    };
    apply(state, actor, txn, current, change).await
}

/// Mails `notice` about the order again (the desk): the same template with
/// the order as it is now; an estimate goes with a new approval link, valid
/// for `input.valid_days`, and the earlier unused links stop working.
/// Audited; the order itself does not change.
#[tracing::instrument(skip_all, fields(order.number = %number, actor = %actor.label))]
pub async fn send_notice(
    state: &AppState,
    actor: &Actor,
    who: &Caller,
    number: &str,
    notice: Notice,
    input: ServiceEstimateSendInput,
) -> AppResult<ServiceOrderView> {
    let days = input.valid_days.unwrap_or(notices::APPROVAL_DAYS);
    if !(1..=notices::MAX_APPROVAL_DAYS).contains(&days) {
        return Err(FieldError::new("valid_days", "out_of_range")
            .with("min", 1)
            .with("max", notices::MAX_APPROVAL_DAYS)
            .into());
    }
    let txn = state.begin_write().await?;
    let current = load(&*txn, who, number, &IfMatch::ANY).await?;
    let status = status_of(&current);
    if !notice.fits(status) {
        return Err(AppError::Conflict {
            code: "service_notice_not_now",
            field: None,
            params: vec![
                ("notice", notice.as_str().to_owned()),
                ("status", status.as_str().to_owned()),
            ],
        });
    }
    if current.contact_email.is_none() {
        return Err(FieldError::new("contact_email", "contact_email_missing").into());
    }
    let names = store::find_named(&*txn, &current.number, name_of_client(state))
        .await?
        .map(|(_, n)| n)
        .unwrap_or_default();
    let lines = store::lines(&*txn, current.id).await?;
    let v = view(current.clone(), lines, names.client, names.technician);
    notices::queue(&*txn, state, actor, notice, &current, &v, days).await?;
    audit::record(
        &*txn,
        actor,
        Entry::new("service_notice.sent", "service_order", v.number.clone())
            .after(serde_json::json!({"number": v.number, "notice": notice.as_str()})),
    )
    .await?;
    txn.commit().await?;
    state.jobs().wake();
    Ok(v)
}
