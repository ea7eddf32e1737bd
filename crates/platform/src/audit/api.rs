//! `GET /api/audit`: the log, newest first, filtered by entity, actor and
//! time.

use axum::extract::{OriginalUri, State};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::entity::audit_log;
use crate::auth::perms;
use crate::auth::secured;
use crate::error::{AppResult, FieldErrors};
use crate::http::pagination::{List, Page, PageQuery};
use crate::http::{Json, Query};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryView {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// Position in the hash chain; absent until sealed (seconds).
    pub seq: Option<i64>,
}

impl From<audit_log::Model> for AuditEntryView {
    fn from(e: audit_log::Model) -> Self {
        let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        AuditEntryView {
            id: e.id,
            at: e.at,
            actor_id: e.actor_id,
            actor: e.actor,
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            ip: e.ip,
            request_id: e.request_id,
            before: parse(e.before),
            after: parse(e.after),
            seq: e.seq,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct AuditFilter {
    /// `user`, `role`, `client`, `order` …
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    /// Actor id (a user id, or `api_key:<id>`).
    pub actor: Option<String>,
    /// `login.failed`, `create` …
    pub action: Option<String>,
    /// From this instant (RFC 3339), inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Until this instant (RFC 3339), exclusive.
    pub to: Option<DateTime<Utc>>,
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(secured(perms::AUDIT_READ, routes!(list_audit_entries)))
}

/// Query the audit log, newest first.
#[utoipa::path(get, path = "/api/audit", tag = "audit",
    params(AuditFilter, PageQuery),
    responses((status = 200, body = Page<AuditEntryView>)))]
pub async fn list_audit_entries(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<AuditFilter>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<AuditEntryView>>> {
    Ok(Json(query(&state, &f, &page).await?.linked(&uri)))
}

/// Entries, newest first: the position is the last entry's id (UUIDv7).
const AUDIT: List<Uuid> = List::new("platform.audit");

pub async fn query(
    state: &AppState,
    f: &AuditFilter,
    page: &PageQuery,
) -> AppResult<Page<AuditEntryView>> {
    let mut errors = FieldErrors::new();
    let (limit, cursor) = AUDIT.read(page, &mut errors);
    errors.finish()?;
    // What this replica queued is part of what the reader asked for.
    state.audit_writer().flush().await;
    let mut q = select(f).order_by_desc(audit_log::Column::Id);
    if let Some(c) = cursor {
        q = q.filter(audit_log::Column::Id.lt(c));
    }
    let rows = q.limit(limit + 1).all(state.db()).await?;
    let rows: Vec<AuditEntryView> = rows.into_iter().map(AuditEntryView::from).collect();
    Ok(AUDIT.page(rows, limit, |e| e.id))
}

/// The entries `f` asks for, unordered.
pub fn select(f: &AuditFilter) -> sea_orm::Select<audit_log::Entity> {
    let mut q = audit_log::Entity::find();
    if let Some(v) = &f.entity {
        q = q.filter(audit_log::Column::Entity.eq(v.as_str()));
    }
    if let Some(v) = &f.entity_id {
        q = q.filter(audit_log::Column::EntityId.eq(v.as_str()));
    }
    if let Some(v) = &f.actor {
        q = q.filter(audit_log::Column::ActorId.eq(v.as_str()));
    }
    if let Some(v) = &f.action {
        q = q.filter(audit_log::Column::Action.eq(v.as_str()));
    }
    if let Some(v) = f.from {
        q = q.filter(audit_log::Column::At.gte(v));
    }
    if let Some(v) = f.to {
        q = q.filter(audit_log::Column::At.lt(v));
    }
    q
}
