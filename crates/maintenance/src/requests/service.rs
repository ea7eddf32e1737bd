//! Failure report commands: the public report (rate-limited per address
//! and per machine, the photo checked by its content), and the review that
//! turns a report into corrective work or rejects it with a reason.

use chrono::{DateTime, Duration, Utc};
use faena_platform::audit::{self, Entry};
use faena_platform::auth::Actor;
use faena_platform::files::upload::Staged;
use faena_platform::http::pagination::{List, Page, PageQuery};
use faena_platform::mail::{self, Mail};
use faena_platform::{AppError, AppResult, AppState, FieldError, FieldErrors, Locale, Problem};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{self, Column, Model};
use super::{PER_ADDRESS_PER_HOUR, PER_MACHINE_PER_HOUR, RequestStatus};
use crate::machines::service::{TOPIC, company_today};
use crate::machines::{MachineStatus, optional_text, store as machines};
use crate::plans::store::work_order;
use crate::records::RecordKind;

/// Who reads a report's photo.
pub const FILE_KIND: &str = "maintenance.request";

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestView {
    pub id: Uuid,
    pub machine_code: String,
    pub machine_name: String,
    pub description: String,
    pub reporter_name: Option<String>,
    pub reporter_contact: Option<String>,
    /// The photo's download address (signed-in callers who may read
    /// reports).
    pub photo_url: Option<String>,
    pub status: RequestStatus,
    pub reject_reason: Option<String>,
    /// The corrective work it became.
    pub work_order: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub version: i32,
}

async fn views(
    db: &impl sea_orm::ConnectionTrait,
    rows: Vec<Model>,
) -> AppResult<Vec<RequestView>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.machine_id).collect();
    let names = machines::names(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (code, name) = names.get(&r.machine_id).cloned().unwrap_or_default();
            RequestView {
                id: r.id,
                machine_code: code,
                machine_name: name,
                description: r.description,
                reporter_name: r.reporter_name,
                reporter_contact: r.reporter_contact,
                photo_url: r.photo_file_id.map(|f| format!("/api/files/{f}/content")),
                status: RequestStatus::parse(&r.status).unwrap_or(RequestStatus::Pending),
                reject_reason: r.reject_reason,
                work_order: r.work_order_id,
                created_at: r.created_at,
                reviewed_by: r.reviewed_by,
                reviewed_at: r.reviewed_at,
                version: r.version,
            }
        })
        .collect())
}

/// The machine behind a label's token; a retired one takes no reports.
pub async fn machine_of_token(state: &AppState, token: &str) -> AppResult<machines::Model> {
    let token = token.trim();
    if token.len() < 32 {
        return Err(AppError::NotFound);
    }
    machines::Entity::find()
        .filter(machines::Column::ReportToken.eq(token))
        .one(state.db())
        .await?
        .filter(|m| m.status != MachineStatus::Retired.as_str())
        .ok_or(AppError::NotFound)
}

/// What someone on the floor says.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Report {
    pub description: String,
    pub name: Option<String>,
    pub contact: Option<String>,
}

fn too_many(retry_secs: i64) -> AppError {
    let mut p = Problem::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "too_many_reports",
    );
    p.params
        .push(("minutes", (retry_secs / 60).max(1).to_string()));
    p.retry_after = Some(u64::try_from(retry_secs).unwrap_or(3600));
    AppError::Problem(Box::new(p))
}

/// Records a failure report on the machine of `token`, with its photo
/// when one came (an image, by its content), and mails the machine's
/// responsible person. Refused with 429 past the hourly limits.
#[tracing::instrument(skip_all)]
pub async fn report(
    state: &AppState,
    actor: &Actor,
    token: &str,
    input: &Report,
    photo: Option<Staged>,
) -> AppResult<RequestView> {
    let machine = machine_of_token(state, token).await?;
    let discard = |staged: Option<Staged>| async {
        if let Some(s) = staged {
            faena_platform::files::service::discard(state, &s).await;
        }
    };
    let since = Utc::now() - Duration::hours(1);
    // Reports whose address is unknown share one budget.
    let ip = actor.ip.clone().unwrap_or_else(|| "unknown".to_owned());
    if store::count_from(state.db(), &ip, since).await? >= PER_ADDRESS_PER_HOUR
        || store::count_for(state.db(), machine.id, since).await? >= PER_MACHINE_PER_HOUR
    {
        discard(photo).await;
        return Err(too_many(3600));
    }
    let mut errors = FieldErrors::new();
    let description = optional_text("description", Some(&input.description), 2000, &mut errors);
    if input.description.trim().is_empty() {
        errors.push(FieldError::new("description", "required"));
    }
    let name = optional_text("name", input.name.as_deref(), 200, &mut errors);
    let contact = optional_text("contact", input.contact.as_deref(), 200, &mut errors);
    if let Some(p) = &photo
        && !p.kind.image
    {
        errors.push(FieldError::new("file", "photo_not_image").with("detected", p.kind.name));
    }
    if let Err(e) = errors.finish() {
        discard(photo).await;
        return Err(e);
    }
    let id = Uuid::now_v7();
    let photo_id = match photo {
        Some(staged) => {
            let file_id = Uuid::now_v7();
            faena_platform::files::service::create(
                state,
                actor,
                FILE_KIND,
                &id.to_string(),
                file_id,
                staged,
            )
            .await?;
            Some(file_id)
        }
        None => None,
    };
    let txn = state.begin_write().await?;
    let model = store::request::ActiveModel {
        id: Set(id),
        machine_id: Set(machine.id),
        description: Set(description.unwrap_or_default()),
        reporter_name: Set(name),
        reporter_contact: Set(contact),
        photo_file_id: Set(photo_id),
        status: Set(RequestStatus::Pending.as_str().to_owned()),
        reject_reason: Set(None),
        work_order_id: Set(None),
        ip: Set(Some(ip)),
        created_at: Set(Utc::now()),
        reviewed_by: Set(None),
        reviewed_at: Set(None),
        version: Set(1),
    }
    .insert(&txn)
    .await?;
    let v = views(&txn, vec![model]).await?.remove(0);
    audit::record(
        &txn,
        actor,
        Entry::new("report", "maintenance_request", id.to_string()).after(&v),
    )
    .await?;
    let mailed = mail_responsible(&txn, state, &machine, &v).await?;
    txn.commit().await?;
    if mailed {
        state.jobs().wake();
    }
    publish(state, "request.created", &v);
    Ok(v)
}

async fn mail_responsible(
    db: &impl sea_orm::ConnectionTrait,
    state: &AppState,
    machine: &machines::Model,
    v: &RequestView,
) -> AppResult<bool> {
    use faena_platform::auth::entities::user;
    let Some(id) = machine.responsible_id else {
        return Ok(false);
    };
    let Some(u) = user::Entity::find_by_id(id)
        .filter(user::Column::Active.eq(true))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    let locale = Locale::parse(&u.locale).unwrap_or_default();
    let rendered = mail::render(
        state,
        "maintenance_failure",
        locale,
        minijinja::context! {
            code => machine.code, name => machine.name, description => v.description,
            reporter => v.reporter_name.clone().unwrap_or_default(),
            link => format!("{}/maintenance/requests", state.config().public_base()),
        },
    )
    .map_err(anyhow::Error::from)?;
    let mut m = Mail::from_template(u.email, "maintenance_failure", locale, rendered);
    m.related = Some(("machine".into(), machine.code.clone()));
    mail::queue(db, m).await?;
    Ok(true)
}

fn publish(state: &AppState, kind: &str, v: &RequestView) {
    #[derive(Serialize)]
    struct Event<'a> {
        id: Uuid,
        machine_code: &'a str,
        status: RequestStatus,
    }
    let e = Event {
        id: v.id,
        machine_code: &v.machine_code,
        status: v.status,
    };
    if let Err(err) = state.realtime().publish(TOPIC, kind, &e) {
        tracing::error!(error = %err, kind, "request event not published");
    }
}

fn reviewed() -> AppError {
    AppError::Conflict {
        code: "request_reviewed",
        field: None,
        params: vec![],
    }
}

/// The report `id`, if it still waits for review.
async fn pending(txn: &impl sea_orm::ConnectionTrait, id: Uuid) -> AppResult<Model> {
    let current = store::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if current.status != RequestStatus::Pending.as_str() {
        return Err(reviewed());
    }
    Ok(current)
}

/// Closes the review of `current` as `status`, setting `extra` too (the
/// work order, or the reason), with its audit entry; commits and announces.
async fn conclude(
    state: &AppState,
    txn: faena_platform::db::WriteTxn,
    actor: &Actor,
    current: Model,
    status: RequestStatus,
    extra: (Column, sea_orm::Value),
) -> AppResult<RequestView> {
    use sea_orm::sea_query::Expr;
    let updated = store::Entity::update_many()
        .col_expr(Column::Status, Expr::value(status.as_str()))
        .col_expr(extra.0, Expr::value(extra.1))
        .col_expr(Column::ReviewedBy, Expr::value(actor.label.clone()))
        .col_expr(Column::ReviewedAt, Expr::value(Utc::now()))
        .col_expr(Column::Version, Expr::value(current.version + 1))
        .filter(Column::Id.eq(current.id))
        .filter(Column::Status.eq(RequestStatus::Pending.as_str()))
        .exec_with_returning(&txn)
        .await?
        .pop()
        .ok_or_else(reviewed)?;
    let v = views(&txn, vec![updated]).await?.remove(0);
    let action = match status {
        RequestStatus::Accepted => "accept",
        _ => "reject",
    };
    audit::record(
        &txn,
        actor,
        Entry::new(action, "maintenance_request", v.id.to_string()).after(&v),
    )
    .await?;
    txn.commit().await?;
    publish(state, &format!("request.{}", status.as_str()), &v);
    Ok(v)
}

/// Turns a pending report into corrective work, due today.
#[tracing::instrument(skip_all, fields(request.id = %id, actor = %actor.label))]
pub async fn accept(state: &AppState, actor: &Actor, id: Uuid) -> AppResult<RequestView> {
    let txn = state.begin_write().await?;
    let current = pending(&txn, id).await?;
    let short: String = current.description.chars().take(80).collect();
    let order = work_order::ActiveModel {
        id: Set(Uuid::now_v7()),
        machine_id: Set(current.machine_id),
        plan_id: Set(None),
        kind: Set(RecordKind::Corrective.as_str().to_owned()),
        title: Set(short),
        due_on: Set(company_today(state)),
        status: Set("open".to_owned()),
        record_id: Set(None),
        reminded_at: Set(None),
        overdue_notified_at: Set(None),
        created_at: Set(Utc::now()),
        closed_at: Set(None),
    }
    .insert(&txn)
    .await?;
    conclude(
        state,
        txn,
        actor,
        current,
        RequestStatus::Accepted,
        (Column::WorkOrderId, order.id.into()),
    )
    .await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// Why: the reporter's colleagues read it.
    pub reason: String,
}

/// Rejects a pending report, saying why.
#[tracing::instrument(skip_all, fields(request.id = %id, actor = %actor.label))]
pub async fn reject(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    input: &Rejection,
) -> AppResult<RequestView> {
    let mut errors = FieldErrors::new();
    let reason = optional_text("reason", Some(&input.reason), 1000, &mut errors);
    if input.reason.trim().is_empty() {
        errors.push(FieldError::new("reason", "required"));
    }
    errors.finish()?;
    let txn = state.begin_write().await?;
    let current = pending(&txn, id).await?;
    conclude(
        state,
        txn,
        actor,
        current,
        RequestStatus::Rejected,
        (Column::RejectReason, reason.into()),
    )
    .await
}

const REQUESTS: List<(DateTime<Utc>, Uuid)> = List::new("maintenance.requests");

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct RequestFilter {
    /// `pending`, `accepted` or `rejected`.
    pub status: Option<String>,
}

pub async fn list(
    state: &AppState,
    f: &RequestFilter,
    page: &PageQuery,
) -> AppResult<Page<RequestView>> {
    let mut errors = FieldErrors::new();
    let (limit, cursor) = REQUESTS.read(page, &mut errors);
    let status = match f.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => match RequestStatus::parse(s) {
            Some(s) => Some(s.as_str()),
            None => {
                errors.push(
                    FieldError::new("status", "one_of")
                        .with("allowed", "pending, accepted, rejected"),
                );
                None
            }
        },
        None => None,
    };
    errors.finish()?;
    let rows = store::list(state.db(), status, cursor, limit + 1).await?;
    let page = REQUESTS.page(rows, limit, |r| (r.created_at, r.id));
    Ok(Page {
        items: views(state.db(), page.items).await?,
        next_cursor: page.next_cursor,
        next: None,
    })
}
