//! The platform's own routes: health, readiness, system info, metrics, the
//! home page, the language switch, the API docs page and static assets.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::perms;
use crate::auth::secured;
use crate::auth::{Access, Pages};
use crate::db::{self, DbKind};
use crate::error::{AppError, AppResult};
use crate::http::{CSP_DOCS, Json, Query};
use crate::i18n::Locale;
use crate::state::AppState;
use crate::ui::{PageContext, render_page as render};

/// JSON routes of the platform, documented.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(readiness))
        .routes(secured(perms::SYSTEM_READ, routes!(system_info)))
        .merge(crate::auth::api::api())
        .merge(crate::backup::api::api())
        .merge(crate::audit::api::api())
        .merge(crate::jobs::api::api())
        .merge(crate::files::api::api())
        .merge(crate::mail::api::api())
        .merge(crate::realtime::api::api())
        .merge(crate::webhooks::api::api())
}

/// Pages, assets and the metrics endpoint, with their access.
pub fn pages() -> Pages {
    Pages::new()
        .get("/", Access::Authenticated, home)
        .get("/lang/{code}", Access::Public, switch_language)
        .get("/api/docs", Access::Public, api_docs)
        .get("/assets/{name}", Access::Public, asset)
        .get("/metrics", Access::perm(perms::METRICS_READ), metrics)
        .merge(crate::auth::pages::pages())
        .merge(crate::auth::admin_pages::pages())
        .merge(crate::audit::pages::pages())
        .merge(crate::backup::pages::pages())
        .merge(crate::jobs::pages::pages())
        .merge(crate::files::pages::pages())
        .merge(crate::mail::pages::pages())
        .merge(crate::webhooks::pages::pages())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` when the process answers.
    pub status: String,
}

/// Liveness: the process is up and answering.
#[utoipa::path(get, path = "/api/health", tag = "system", security(()),
    responses((status = 200, description = "The process is alive", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// `ready` when every dependency answers.
    pub status: String,
    pub database: String,
}

/// Readiness: the database answers. 503 otherwise, so a load balancer stops
/// sending traffic here.
#[utoipa::path(get, path = "/api/health/ready", tag = "system", security(()),
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "A dependency is down", content_type = "application/problem+json"),
    ))]
async fn readiness(State(state): State<AppState>) -> Response {
    let health = state.db_health();
    // During a known outage the probe has the answer: no waiting.
    if !health.is_down() && crate::db_health::ping(state.db()).await {
        return Json(Readiness {
            status: "ready".into(),
            database: "ok".into(),
        })
        .into_response();
    }
    health.mark_down(state.db());
    crate::db_health::unavailable()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SystemInfo {
    pub version: String,
    /// `FAENA_SERVER_ID`: which replica answered.
    pub server_id: String,
    /// Enabled business modules.
    pub modules: Vec<String>,
    pub database: DbKind,
    pub uptime_seconds: u64,
}

/// Which build, replica, modules and database answer.
#[utoipa::path(get, path = "/api/system/info", tag = "system",
    responses((status = 200, description = "This replica", body = SystemInfo)))]
async fn system_info(State(state): State<AppState>) -> Json<SystemInfo> {
    Json(SystemInfo {
        version: crate::VERSION.into(),
        server_id: state.config().server_id.clone(),
        modules: state.modules().iter().map(|m| (*m).to_owned()).collect(),
        database: state.db_kind(),
        uptime_seconds: state.uptime().as_secs(),
    })
}

async fn metrics(State(state): State<AppState>) -> Response {
    let Some(handle) = state.metrics() else {
        return AppError::NotFound.into_response();
    };
    if let Some(stats) = db::pool_stats(state.db()) {
        metrics::gauge!("db_pool_connections", "state" => "open").set(f64::from(stats.size));
        metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(stats.idle));
        metrics::gauge!("db_pool_max_connections").set(f64::from(stats.max));
    }
    metrics::gauge!("process_uptime_seconds").set(state.uptime().as_secs_f64());
    if let Some(open) = crate::telemetry::open_files() {
        metrics::gauge!("faena_process_open_files").set(open as f64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

async fn home(State(state): State<AppState>, page: PageContext) -> AppResult<Html<String>> {
    // The panels the user may see, in the modules' order.
    let mut panels = Vec::new();
    for tile in state.dashboard() {
        if page.can(tile.permission()) {
            panels.push(tile.panel(&state, &page).await?);
        }
    }
    render(
        &state,
        "home.html",
        &page,
        minijinja::context! { panels => panels },
    )
}

#[derive(Debug, Deserialize)]
struct SwitchLanguage {
    next: Option<String>,
}

/// Remembers the chosen language in a cookie and goes back where the user
/// was.
async fn switch_language(
    Path(code): Path<String>,
    Query(q): Query<SwitchLanguage>,
) -> AppResult<Response> {
    let locale = Locale::parse(&code).ok_or(AppError::NotFound)?;
    // Only local paths: never an open redirect.
    let next = q
        .next
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/".into());
    let cookie = format!(
        "lang={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
        locale.code()
    );
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| AppError::Internal(e.into()))?,
    );
    Ok(response)
}

async fn api_docs(State(state): State<AppState>, page: PageContext) -> AppResult<Response> {
    let html = render(&state, "api_docs.html", &page, minijinja::context! {})?;
    let mut response = html.into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP_DOCS),
    );
    Ok(response)
}

async fn asset(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(asset) = state.ui().asset(&name) else {
        return AppError::NotFound.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        asset.bytes,
    )
        .into_response()
}
