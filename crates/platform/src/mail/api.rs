//! Admin API over the outbox: list and search, see one mail (bodies
//! included), resend, and send a test mail to check the transport. Every
//! admin action is audited.

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::entity::mail;
use super::{Attachment, Mail, MailState};
use crate::audit::{self, Entry};
use crate::auth::perms;
use crate::auth::principal::Actor;
use crate::auth::secured;
use crate::error::{AppError, AppResult, FieldError, FieldErrors};
use crate::http::pagination::{List, Page, PageQuery};
use crate::http::{Json, Query};
use crate::i18n::Locale;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MailView {
    pub id: Uuid,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub state: MailState,
    /// Delivery attempts made so far.
    pub attempts: i32,
    pub last_error: Option<String>,
    /// The transport that delivered it (`file`, `smtp`, `graph`).
    pub transport: Option<String>,
    pub template: Option<String>,
    pub locale: String,
    pub related_entity: Option<String>,
    pub related_id: Option<String>,
    pub attachments: Vec<AttachmentInfo>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttachmentInfo {
    pub name: String,
    pub content_type: String,
    /// Bytes.
    pub size: u64,
}

/// One mail with its bodies.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MailDetail {
    #[serde(flatten)]
    pub mail: MailView,
    pub text: String,
    pub html: Option<String>,
}

fn list_of(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

impl From<mail::Model> for MailDetail {
    fn from(m: mail::Model) -> Self {
        let attachments: Vec<Attachment> = m
            .attachments
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default();
        MailDetail {
            mail: MailView {
                id: m.id,
                to: list_of(&m.to_addrs),
                cc: list_of(&m.cc_addrs),
                reply_to: m.reply_to,
                subject: m.subject,
                state: MailState::parse(&m.state).unwrap_or(MailState::Queued),
                attempts: m.attempts,
                last_error: m.last_error,
                transport: m.transport,
                template: m.template,
                locale: m.locale,
                related_entity: m.related_entity,
                related_id: m.related_id,
                attachments: attachments
                    .into_iter()
                    .map(|a| AttachmentInfo {
                        size: a.data.len() as u64,
                        name: a.name,
                        content_type: a.content_type,
                    })
                    .collect(),
                created_at: m.created_at,
                sent_at: m.sent_at,
            },
            text: m.text_body,
            html: m.html_body,
        }
    }
}

impl From<mail::Model> for MailView {
    fn from(m: mail::Model) -> Self {
        MailDetail::from(m).mail
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct MailFilter {
    /// `queued`, `sent` or `failed`.
    pub state: Option<String>,
    /// Part of a recipient's address or of the subject.
    pub q: Option<String>,
    /// With `related_id`: the mail about one record.
    pub related_entity: Option<String>,
    pub related_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MailCounts {
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMailRequest {
    /// Who receives the test mail.
    pub to: String,
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::MAIL_READ, routes!(list_mail)))
        .routes(secured(perms::MAIL_READ, routes!(count_mail)))
        .routes(secured(perms::MAIL_MANAGE, routes!(send_test_mail)))
        .routes(secured(perms::MAIL_READ, routes!(get_mail)))
        .routes(secured(perms::MAIL_MANAGE, routes!(resend_mail)))
}

/// The outbox, newest first, by state, text and record.
#[utoipa::path(get, path = "/api/mail", tag = "mail",
    params(MailFilter, PageQuery),
    responses((status = 200, body = Page<MailView>), (status = 422, description = "Invalid filter")))]
async fn list_mail(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<MailFilter>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<MailView>>> {
    Ok(Json(list(&state, &f, &page).await?.linked(&uri)))
}

/// Mail, newest first: the position is the last mail's id (UUIDv7).
const MAIL: List<Uuid> = List::new("platform.mail");

pub async fn list(state: &AppState, f: &MailFilter, page: &PageQuery) -> AppResult<Page<MailView>> {
    let mut errors = FieldErrors::new();
    let (limit, cursor) = MAIL.read(page, &mut errors);
    let query = select(f, errors)?;
    let mut query = query.order_by_desc(mail::Column::Id);
    if let Some(c) = cursor {
        query = query.filter(mail::Column::Id.lt(c));
    }
    let rows = query.limit(limit + 1).all(state.db()).await?;
    let rows: Vec<MailView> = rows.into_iter().map(MailView::from).collect();
    Ok(MAIL.page(rows, limit, |m| m.id))
}

/// The mails `f` asks for, unordered; bad filters are named (with those
/// already in `errors`).
pub fn select(f: &MailFilter, mut errors: FieldErrors) -> AppResult<sea_orm::Select<mail::Entity>> {
    let wanted = f.state.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
        errors.take(MailState::parse(s).ok_or_else(|| {
            FieldError::new("state", "one_of")
                .with("allowed", MailState::ALL.map(MailState::as_str).join(", "))
        }))
    });
    let q = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > 200) {
        errors.push(FieldError::new("q", "too_long").with("max", 200));
    }
    errors.finish()?;
    let mut query = mail::Entity::find();
    if let Some(s) = wanted {
        query = query.filter(mail::Column::State.eq(s.as_str()));
    }
    if let Some(q) = q {
        let pattern = format!("%{}%", like_escape(&q.to_lowercase()));
        let lower = |c: mail::Column| Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(c)));
        query = query.filter(
            Condition::any()
                .add(lower(mail::Column::ToAddrs).like(like(&pattern)))
                .add(lower(mail::Column::CcAddrs).like(like(&pattern)))
                .add(lower(mail::Column::Subject).like(like(&pattern))),
        );
    }
    if let Some(e) = f.related_entity.as_deref().filter(|s| !s.is_empty()) {
        query = query.filter(mail::Column::RelatedEntity.eq(e));
    }
    if let Some(r) = f.related_id.as_deref().filter(|s| !s.is_empty()) {
        query = query.filter(mail::Column::RelatedId.eq(r));
    }
    Ok(query)
}

/// The outbox page's columns.
pub const LIST: crate::ui::list::ListSpec = crate::ui::list::ListSpec {
    path: "/admin/mail",
    columns: &[
        crate::ui::list::Column::new("subject", "mail.subject"),
        crate::ui::list::Column::new("to", "mail.to"),
        crate::ui::list::Column::new("state", "mail.state"),
        crate::ui::list::Column::new("attempts", "mail.attempts").num(),
        crate::ui::list::Column::new("created_at", "mail.created_at").sortable(),
        crate::ui::list::Column::new("last_error", "mail.last_error"),
    ],
    default_sort: "created_at",
    default_desc: true,
    csv: Some("/admin/mail/export.csv"),
};

/// A numbered page of the outbox, newest first (or oldest), with the total.
pub async fn list_page(
    state: &AppState,
    f: &MailFilter,
    request: &mut crate::ui::list::ListRequest,
) -> AppResult<(Vec<MailView>, u64)> {
    use sea_orm::IntoSimpleExpr;
    let query = select(f, FieldErrors::new())?;
    let order = [(mail::Column::Id.into_simple_expr(), request.order())];
    let (rows, total) = crate::ui::list::fetch(state.db(), query, order, request).await?;
    Ok((rows.into_iter().map(MailView::from).collect(), total))
}

fn like(pattern: &str) -> sea_orm::sea_query::LikeExpr {
    sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// How many mails are in each state.
#[utoipa::path(get, path = "/api/mail/counts", tag = "mail",
    responses((status = 200, body = MailCounts)))]
async fn count_mail(State(state): State<AppState>) -> AppResult<Json<MailCounts>> {
    let c = counts(state.db()).await?;
    let n = |s: MailState| c.iter().find(|(k, _)| *k == s).map_or(0, |(_, n)| *n);
    Ok(Json(MailCounts {
        queued: n(MailState::Queued),
        sent: n(MailState::Sent),
        failed: n(MailState::Failed),
    }))
}

/// Mails per state (every state, zeros included).
pub async fn counts(db: &impl ConnectionTrait) -> Result<Vec<(MailState, u64)>, sea_orm::DbErr> {
    let rows: Vec<(String, i64)> = mail::Entity::find()
        .select_only()
        .column(mail::Column::State)
        .column_as(mail::Column::Id.count(), "n")
        .group_by(mail::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    Ok(MailState::ALL
        .into_iter()
        .map(|s| {
            let n = rows
                .iter()
                .find(|(k, _)| k == s.as_str())
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
            (s, n)
        })
        .collect())
}

/// One mail, with its bodies.
#[utoipa::path(get, path = "/api/mail/{id}", tag = "mail",
    params(("id" = Uuid, Path, description = "Mail id")),
    responses((status = 200, body = MailDetail), (status = 404, description = "No such mail")))]
async fn get_mail(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> AppResult<Json<MailDetail>> {
    Ok(Json(find(&state, id).await?))
}

pub async fn find(state: &AppState, id: Uuid) -> AppResult<MailDetail> {
    mail::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .map(MailDetail::from)
        .ok_or(AppError::NotFound)
}

/// Sends a mail again: a failed one goes back to the queue with fresh
/// attempts; a sent one is copied into a new mail (its own Message-ID, so
/// the recipient sees a new message). Answers the mail that will be sent.
#[utoipa::path(post, path = "/api/mail/{id}/resend", tag = "mail",
    params(("id" = Uuid, Path, description = "Mail id")),
    responses((status = 202, body = MailView), (status = 404, description = "No such mail"),
        (status = 409, description = "The mail is still waiting to be sent")))]
async fn resend_mail(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<(StatusCode, Json<MailView>)> {
    let view = resend(&state, &actor, id).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

#[tracing::instrument(skip_all, fields(id = %id, actor = %actor.label))]
pub async fn resend(state: &AppState, actor: &Actor, id: Uuid) -> AppResult<MailView> {
    use mail::Column as C;
    let txn = state.begin_write().await?;
    let before = mail::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let target = match MailState::parse(&before.state) {
        Some(MailState::Failed) => {
            mail::Entity::update_many()
                .col_expr(C::State, Expr::value(MailState::Queued.as_str()))
                .col_expr(C::Attempts, Expr::value(0))
                .col_expr(C::UpdatedAt, Expr::value(Utc::now()))
                .filter(C::Id.eq(id))
                .exec(&txn)
                .await?;
            super::enqueue_send(&txn, id).await?;
            id
        }
        Some(MailState::Sent) => {
            let now = Utc::now();
            let copy = Uuid::now_v7();
            mail::ActiveModel {
                id: Set(copy),
                state: Set(MailState::Queued.as_str().to_owned()),
                attempts: Set(0),
                last_error: Set(None),
                transport: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                sent_at: Set(None),
                to_addrs: Set(before.to_addrs.clone()),
                cc_addrs: Set(before.cc_addrs.clone()),
                reply_to: Set(before.reply_to.clone()),
                subject: Set(before.subject.clone()),
                text_body: Set(before.text_body.clone()),
                html_body: Set(before.html_body.clone()),
                attachments: Set(before.attachments.clone()),
                template: Set(before.template.clone()),
                locale: Set(before.locale.clone()),
                related_entity: Set(before.related_entity.clone()),
                related_id: Set(before.related_id.clone()),
            }
            .insert(&txn)
            .await?;
            super::enqueue_send(&txn, copy).await?;
            copy
        }
        _ => {
            return Err(AppError::Conflict {
                code: "mail_not_resendable",
                field: None,
                params: vec![("state", before.state)],
            });
        }
    };
    audit::record(
        &txn,
        actor,
        Entry::new("mail.resent", "mail", id.to_string())
            .before(serde_json::json!({"state": before.state, "attempts": before.attempts}))
            .after(serde_json::json!({"mail": target})),
    )
    .await?;
    txn.commit().await?;
    state.jobs().wake();
    Ok(find(state, target).await?.mail)
}

/// Queues a test mail (template `mail/test`) to check the transport.
#[utoipa::path(post, path = "/api/mail/test", tag = "mail",
    request_body = TestMailRequest,
    responses((status = 202, body = MailView), (status = 422, description = "Invalid address")))]
async fn send_test_mail(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Json(req): Json<TestMailRequest>,
) -> AppResult<(StatusCode, Json<MailView>)> {
    let locale = Locale::from_headers(&headers);
    let view = send_test(&state, &actor, &req.to, locale).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

#[tracing::instrument(skip_all, fields(actor = %actor.label))]
pub async fn send_test(
    state: &AppState,
    actor: &Actor,
    to: &str,
    locale: Locale,
) -> AppResult<MailView> {
    super::parse_address("to", to)?;
    let rendered = super::render(
        state,
        "test",
        locale,
        minijinja::context! {
            requested_by => &actor.label,
            transport => state.mailer().transport_name(),
            server_id => &state.config().server_id,
        },
    )
    .map_err(|e| AppError::Internal(anyhow::anyhow!("mail template test: {e}")))?;
    let txn = state.begin_write().await?;
    let id = super::queue(
        &txn,
        Mail::from_template(to.trim(), "test", locale, rendered),
    )
    .await?;
    audit::record(
        &txn,
        actor,
        Entry::new("mail.test_queued", "mail", id.to_string())
            .after(serde_json::json!({"to": to.trim()})),
    )
    .await?;
    txn.commit().await?;
    state.jobs().wake();
    Ok(find(state, id).await?.mail)
}
