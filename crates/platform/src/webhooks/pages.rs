//! Admin page of webhooks, `/admin/webhooks`: endpoints with their state
//! (activo / fallando / desactivado), recent deliveries with replay, recent
//! inbound events, and a form to register an endpoint (its secret is shown
//! once, in the answer, never in a URL).

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;
use uuid::Uuid;

use super::deliveries::{self, DeliveryFilter};
use super::endpoints::{self, EndpointInput, EndpointPatch};
use super::inbound::{self, InboundFilter};
use crate::auth::perms;
use crate::auth::principal::Actor;
use crate::auth::{Access, Pages};
use crate::error::AppResult;
use crate::http::Query;
use crate::http::etag::IfMatch;
use crate::http::pagination::PageQuery;
use crate::state::AppState;
use crate::ui::{PageContext, render_page};

const READ: Access = Access::perm(perms::WEBHOOKS_READ);
const MANAGE: Access = Access::perm(perms::WEBHOOKS_MANAGE);

pub fn pages() -> Pages {
    Pages::new()
        .get("/admin/webhooks", READ, webhooks_page)
        .post("/admin/webhooks", MANAGE, endpoint_create)
        .post("/admin/webhooks/{id}/enable", MANAGE, endpoint_enable)
        .post("/admin/webhooks/{id}/disable", MANAGE, endpoint_disable)
        .post(
            "/admin/webhooks/deliveries/{id}/replay",
            MANAGE,
            delivery_replay,
        )
}

#[derive(Debug, Default, Deserialize)]
struct ShownQuery {
    ok: Option<String>,
    endpoint: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct EndpointForm {
    url: String,
    event_types: String,
    #[serde(default)]
    description: String,
}

struct Shown {
    created: Option<String>,
    errors: Vec<serde_json::Value>,
    form: serde_json::Value,
    ok: Option<String>,
}

async fn render(
    state: &AppState,
    page: &PageContext,
    endpoint: Option<String>,
    shown: Shown,
) -> AppResult<Html<String>> {
    let endpoints = endpoints::list(state).await?;
    let recent = deliveries::list(
        state,
        &DeliveryFilter {
            endpoint_id: endpoint.clone(),
            ..DeliveryFilter::default()
        },
        &PageQuery::first(25),
    )
    .await?;
    let received = inbound::list(state, &InboundFilter::default(), &PageQuery::first(10)).await?;
    render_page(
        state,
        "admin/webhooks.html",
        page,
        context! {
            endpoints => endpoints,
            deliveries => recent.items,
            inbound => received.items,
            sources => state.webhooks().sources(),
            events => state.webhooks().events(),
            endpoint => endpoint,
            can_manage => page.can(perms::WEBHOOKS_MANAGE),
            created => shown.created,
            errors => shown.errors,
            form => shown.form,
            ok => shown.ok,
        },
    )
}

fn empty_form() -> serde_json::Value {
    serde_json::json!({"url": "", "event_types": "", "description": ""})
}

async fn webhooks_page(
    State(state): State<AppState>,
    page: PageContext,
    Query(q): Query<ShownQuery>,
) -> AppResult<Html<String>> {
    let endpoint = q.endpoint.filter(|e| Uuid::parse_str(e).is_ok());
    let shown = Shown {
        created: None,
        errors: Vec::new(),
        form: empty_form(),
        ok: q.ok,
    };
    render(&state, &page, endpoint, shown).await
}

async fn endpoint_create(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Form(form): Form<EndpointForm>,
) -> AppResult<Response> {
    let input = EndpointInput {
        url: form.url.clone(),
        event_types: form
            .event_types
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        description: Some(form.description.clone()),
        active: Some(true),
    };
    match endpoints::create(&state, &actor, &input).await {
        // The secret is shown in this answer only: no redirect, so it is
        // never in a URL or the history.
        Ok(created) => {
            let shown = Shown {
                created: created.secret,
                errors: Vec::new(),
                form: empty_form(),
                ok: None,
            };
            Ok(render(&state, &page, None, shown).await?.into_response())
        }
        Err(e) => {
            let errors = crate::ui::form_errors(&state, &page, e)?;
            let shown = Shown {
                created: None,
                errors,
                form: serde_json::json!({
                    "url": form.url, "event_types": form.event_types, "description": form.description,
                }),
                ok: None,
            };
            Ok(crate::ui::unprocessable(
                render(&state, &page, None, shown).await?,
            ))
        }
    }
}

async fn set_active(state: &AppState, actor: &Actor, id: Uuid, active: bool) -> AppResult<()> {
    let patch = EndpointPatch {
        active: Some(active),
        ..EndpointPatch::default()
    };
    endpoints::update(state, actor, id, IfMatch::ANY, &patch).await?;
    Ok(())
}

async fn endpoint_enable(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Redirect> {
    set_active(&state, &actor, id, true).await?;
    Ok(Redirect::to("/admin/webhooks?ok=webhook_enabled"))
}

async fn endpoint_disable(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Redirect> {
    set_active(&state, &actor, id, false).await?;
    Ok(Redirect::to("/admin/webhooks?ok=webhook_disabled"))
}

async fn delivery_replay(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Redirect> {
    deliveries::replay(&state, &actor, id).await?;
    Ok(Redirect::to("/admin/webhooks?ok=webhook_replayed"))
}
