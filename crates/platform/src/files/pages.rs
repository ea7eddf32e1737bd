//! Page forms for attachments, shown by the owner's page (which includes
//! `files/attachments.html`): upload (`multipart/form-data`, its `_csrf`
//! field first) and delete. Both go back to the owner's page, with a
//! message on success and the reason on refusal.

use axum::Form;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::service::{self, Need};
use super::upload;
use crate::auth::principal::Actor;
use crate::auth::{Access, Pages, Principal};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub fn pages() -> Pages {
    Pages::new()
        .post(
            "/files/upload/{owner_kind}/{owner_id}",
            Access::Authenticated,
            upload_page,
        )
        .post("/files/{id}/delete", Access::Authenticated, delete_page)
}

/// What `files/attachments.html` needs to show one record's files: merge
/// it into the owner page's context (`context! { order => .., ..panel }`).
/// `refused` is the page's `files_error` query value: the reason the last
/// upload was refused, shown only when it is a plain code.
pub async fn panel(
    state: &AppState,
    page: &crate::ui::PageContext,
    kind: &str,
    owner_id: &str,
    refused: Option<String>,
) -> AppResult<minijinja::Value> {
    let owner = state.files().owner(kind).ok_or(AppError::NotFound)?;
    let files = service::list(
        state,
        kind,
        owner_id,
        &crate::http::pagination::PageQuery::first(100),
    )
    .await?
    .items;
    let refused = refused.filter(|c| {
        !c.is_empty() && c.len() < 40 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    });
    Ok(minijinja::context! {
        files => files,
        files_owner_kind => kind,
        files_owner_id => owner_id,
        can_attach => page.can(owner.attach_permission()),
        files_error => refused,
        files_max_mb => state.config().files.max_size_mb,
    })
}

/// Only local paths: never an open redirect.
fn local(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/")
        .to_owned()
}

fn back(next: &str, key: &str, value: &str) -> Response {
    let path = next.split(['?', '#']).next().unwrap_or("/");
    Redirect::to(&format!("{path}?{key}={value}")).into_response()
}

/// What the page can say about a refused upload (`files.error.<code>`).
fn refusal(e: &AppError) -> Option<String> {
    let p = e.to_problem();
    match p.status.as_u16() {
        400 | 413 | 415 | 422 => Some(
            p.errors
                .first()
                .map(|f| f.code.to_string())
                .unwrap_or_else(|| p.code.to_string()),
        ),
        _ => None,
    }
}

async fn upload_page(
    State(state): State<AppState>,
    principal: Principal,
    actor: Actor,
    Path((kind, owner_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let owner_id =
        service::authorize_owner(&state, &principal, &kind, &owner_id, Need::Attach).await?;
    let file_id = Uuid::now_v7();
    let (fields, staged) = upload::read_form(state.files(), &headers, body, file_id).await;
    let next = match fields.get("next") {
        Some(n) => local(Some(n)),
        None => referer(&headers),
    };
    let result = match staged {
        Ok(staged) => service::create(&state, &actor, &kind, &owner_id, file_id, staged).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(back(&next, "ok", "file_uploaded")),
        Err(e) => match refusal(&e) {
            Some(code) => Ok(back(&next, "files_error", &code)),
            None => Err(e),
        },
    }
}

/// Where the form was, when it did not say (the path of a same-site
/// referer).
fn referer(headers: &HeaderMap) -> String {
    let r = headers
        .get(axum::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/");
    // Keep the path of a same-site referer only.
    let path = match r.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => r,
    };
    local(Some(path))
}

async fn delete_page(
    State(state): State<AppState>,
    page: crate::ui::PageContext,
    principal: Principal,
    actor: Actor,
    Path(id): Path<Uuid>,
    Form(form): Form<crate::ui::ConfirmForm>,
) -> AppResult<Response> {
    let file = service::authorize_file(&state, &principal, id, Need::Attach).await?;
    let next = local(form.next.as_deref());
    if !form.confirmed() {
        let t = |key: &str, params: &[(&str, String)]| state.i18n().t(page.locale, key, params);
        return crate::ui::confirm_page(
            &state,
            &page,
            &crate::ui::Confirmation {
                question: t("files.delete_confirm", &[("name", file.name.clone())]),
                detail: Some(t("confirm.irreversible", &[])),
                button: t("files.delete", &[]),
                action: format!("/files/{id}/delete"),
                fields: vec![("next".into(), next.clone())],
                cancel: next,
                error: None,
            },
        );
    }
    service::delete(&state, &actor, id).await?;
    Ok(back(&next, "ok", "file_deleted"))
}
