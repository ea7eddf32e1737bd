//! The technicians' page: who works at the bench and their load; those
//! who may (`service.technicians.write`) edit a profile in place.

use faena_platform::prelude::*;

use super::service::{self, TechnicianProfileInput};
use crate::perms;

pub fn pages() -> Pages {
    Pages::new()
        .get("/technicians", perms::TECHNICIANS_READ, list)
        .post("/technicians/{id}", perms::TECHNICIANS_WRITE, update)
}

async fn list_page(
    state: &AppState,
    page: &PageContext,
    errors: Vec<serde_json::Value>,
    ok: Option<String>,
    failed: Option<Uuid>,
) -> AppResult<Html<String>> {
    let technicians = service::list(state).await?;
    render_page(
        state,
        "service/technicians.html",
        page,
        context! {
            technicians => technicians, errors => errors, ok => ok, failed => failed,
            can_write => page.can(perms::TECHNICIANS_WRITE),
        },
    )
}

async fn list(
    State(state): State<AppState>,
    page: PageContext,
    Query(q): Query<DetailQuery>,
) -> AppResult<Html<String>> {
    list_page(&state, &page, Vec::new(), q.ok, None).await
}

#[derive(Debug, Deserialize)]
struct ProfileForm {
    /// One per line or comma-separated.
    specialties: Option<String>,
    /// Present when the box is ticked.
    active: Option<String>,
    version: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(id): Path<Uuid>,
    Form(form): Form<ProfileForm>,
) -> AppResult<Response> {
    let specialties = form
        .specialties
        .as_deref()
        .unwrap_or("")
        .split([',', '\n'])
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let input = TechnicianProfileInput {
        specialties,
        active: form.active.is_some(),
    };
    let version = IfMatch::version(form.version.as_deref().and_then(|v| v.trim().parse().ok()));
    match service::update(&state, &actor, id, version, input).await {
        Ok(_) => Ok(Redirect::to("/technicians?ok=technician_saved").into_response()),
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            Ok(unprocessable(
                list_page(&state, &page, errors, None, Some(id)).await?,
            ))
        }
    }
}
