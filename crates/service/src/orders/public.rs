//! The customer's pages, without an account: the estimate's approval link
//! (`/service/approve/{token}`) and the tracking page
//! (`/service/track/{token}`). A link that does not open is a page saying
//! why, answered 404 (unknown) or 410 (expired, used).

use faena_platform::auth::principal::ClientIp;
use faena_platform::prelude::*;

use super::approval::{self, Refusal};

pub fn pages() -> Pages {
    Pages::new()
        .get("/service/approve/{token}", Access::Public, approve_form)
        .post("/service/approve/{token}", Access::Public, answer)
        .get("/service/track/{token}", Access::Public, track)
}

/// The page a link that does not open shows.
fn refused(state: &AppState, page: &PageContext, why: Refusal) -> AppResult<Response> {
    let status = match why {
        Refusal::Unknown => StatusCode::NOT_FOUND,
        Refusal::Expired | Refusal::Used => StatusCode::GONE,
    };
    let html = render_page(
        state,
        "service/link_refused.html",
        page,
        context! { why => why, contact => super::notices::shop_contact(state) },
    )?;
    Ok((status, html).into_response())
}

async fn approve_page(
    state: &AppState,
    page: &PageContext,
    token: &str,
    form: serde_json::Value,
    errors: Vec<serde_json::Value>,
) -> AppResult<Response> {
    match approval::estimate(state, token).await? {
        Err(why) => refused(state, page, why),
        Ok(estimate) => Ok(render_page(
            state,
            "service/approve.html",
            page,
            context! { estimate => estimate, token => token, form => form, errors => errors },
        )?
        .into_response()),
    }
}

async fn approve_form(
    State(state): State<AppState>,
    page: PageContext,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let form = serde_json::json!({"signer_name": ""});
    approve_page(&state, &page, &token, form, Vec::new()).await
}

#[derive(Debug, Deserialize)]
struct AnswerForm {
    /// `approve` or `reject` (the button pressed).
    decision: Option<String>,
    signer_name: Option<String>,
}

async fn answer(
    State(state): State<AppState>,
    page: PageContext,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    Form(form): Form<AnswerForm>,
) -> AppResult<Response> {
    let name = form.signer_name.clone().unwrap_or_default();
    let echo = serde_json::json!({"signer_name": name});
    let approve = match form.decision.as_deref() {
        Some("approve") => true,
        Some("reject") => false,
        _ => {
            let e = FieldError::new("decision", "one_of").with("allowed", "approve, reject");
            let errors = form_errors(&state, &page, e.into())?;
            let res = approve_page(&state, &page, &token, echo, errors).await?;
            return Ok(with_status(res, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    match approval::answer(&state, ip, page.request_id.clone(), &token, approve, &name).await {
        Ok(Ok(v)) => {
            let decided = if approve { "approved" } else { "rejected" };
            Ok(render_page(
                &state,
                "service/answered.html",
                &page,
                context! { number => v.number, decided => decided, contact => super::notices::shop_contact(&state) },
            )?
            .into_response())
        }
        Ok(Err(why)) => refused(&state, &page, why),
        Err(e @ AppError::Validation(_)) => {
            let errors = form_errors(&state, &page, e)?;
            let res = approve_page(&state, &page, &token, echo, errors).await?;
            Ok(with_status(res, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(e) => Err(e),
    }
}

/// `res` with `status`, unless it already says the link does not open.
fn with_status(mut res: Response, status: StatusCode) -> Response {
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

async fn track(
    State(state): State<AppState>,
    page: PageContext,
    Path(token): Path<String>,
) -> AppResult<Response> {
    match approval::track(&state, &token).await? {
        None => refused(&state, &page, Refusal::Unknown),
        Some(t) => Ok(render_page(
            &state,
            "service/track.html",
            &page,
            context! { tracking => t },
        )?
        .into_response()),
    }
}
