//! The public failure-report page (`/r/{token}`, no account needed) and
//! the managers' review page.

use axum::body::Body;
use axum::http::HeaderMap;
use faena_platform::files::upload;
use faena_platform::prelude::*;

use super::service::{self, Rejection, Report, RequestFilter};
use crate::perms;

pub fn pages() -> Pages {
    Pages::new()
        .get("/r/{token}", Access::Public, report_form)
        .post("/r/{token}", Access::Public, report)
        .get("/maintenance/requests", perms::REQUESTS_READ, list)
        .post(
            "/maintenance/requests/{id}/accept",
            perms::REQUESTS_REVIEW,
            accept,
        )
        .post(
            "/maintenance/requests/{id}/reject",
            perms::REQUESTS_REVIEW,
            reject,
        )
}

async fn report_page(
    state: &AppState,
    page: &PageContext,
    token: &str,
    form: serde_json::Value,
    errors: Vec<serde_json::Value>,
    sent: bool,
) -> AppResult<Html<String>> {
    let machine = service::machine_of_token(state, token).await?;
    render_page(
        state,
        "requests/report.html",
        page,
        context! {
            code => machine.code, name => machine.name, lab => machine.lab, token => token,
            form => form, errors => errors, sent => sent,
        },
    )
}

#[derive(Debug, Deserialize)]
struct SentQuery {
    sent: Option<String>,
}

async fn report_form(
    State(state): State<AppState>,
    page: PageContext,
    Path(token): Path<String>,
    Query(q): Query<SentQuery>,
) -> AppResult<Html<String>> {
    report_page(
        &state,
        &page,
        &token,
        serde_json::json!({"description": "", "name": null, "contact": null}),
        Vec::new(),
        q.sent.is_some(),
    )
    .await
}

/// Whether an upload failed only because no file came (the photo is
/// optional).
fn no_file(e: &AppError) -> bool {
    matches!(e, AppError::Validation(errs)
        if errs.0.iter().all(|f| f.field == upload::FILE_FIELD && f.code == "required"))
}

async fn report(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let file_id = Uuid::now_v7();
    let (fields, staged) = upload::read_form(state.files(), &headers, body, file_id).await;
    let input = Report {
        description: fields.get("description").cloned().unwrap_or_default(),
        name: fields.get("name").cloned(),
        contact: fields.get("contact").cloned(),
    };
    let echo = serde_json::json!({"description": input.description, "name": input.name, "contact": input.contact});
    let result = match staged {
        Ok(photo) => service::report(&state, &actor, &token, &input, Some(photo)).await,
        Err(e) if no_file(&e) => service::report(&state, &actor, &token, &input, None).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/r/{token}?sent=1")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Problem(_)))
            if e.status().is_client_error() && e.status() != StatusCode::TOO_MANY_REQUESTS =>
        {
            let status = e.status();
            let errors = form_errors(&state, &page, e)?;
            let html = report_page(&state, &page, &token, echo, errors, false).await?;
            Ok((status, html).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    ok: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    page: PageContext,
    Query(q): Query<ListQuery>,
) -> AppResult<Html<String>> {
    let status = q
        .status
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| Some("pending".into()));
    let f = RequestFilter {
        status: status.clone().filter(|s| s != "all"),
    };
    let requests = service::list(&state, &f, &PageQuery::first(200)).await?;
    render_page(
        &state,
        "requests/list.html",
        &page,
        context! {
            requests => requests.items, status => status, ok => q.ok,
            can_review => page.can(perms::REQUESTS_REVIEW),
        },
    )
}

async fn accept(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    service::accept(&state, &actor, id).await?;
    Ok(Redirect::to("/maintenance/requests?ok=request_accepted").into_response())
}

#[derive(Debug, Deserialize)]
struct RejectForm {
    #[serde(default)]
    reason: String,
}

async fn reject(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Form(form): Form<RejectForm>,
) -> AppResult<Response> {
    service::reject(
        &state,
        &actor,
        id,
        &Rejection {
            reason: form.reason,
        },
    )
    .await?;
    Ok(Redirect::to("/maintenance/requests?ok=request_rejected").into_response())
}
