//! The composition root: connects the database, runs migrations, builds
//! `AppState`, mounts the platform's and every enabled module's routes, and
//! wraps them in the middleware stack.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use faena_platform::auth::access::{Access, AccessMap, authorize};
use faena_platform::auth::service::AuthState;
use faena_platform::http::{
    REQUEST_ID, RequestIdMaker, capture_route, overload, problem::render_problems,
    sanitise_request_id, scope_request_id, security_headers, track_metrics,
};
use faena_platform::idempotency::idempotency;
use faena_platform::state::AppStateParts;
use faena_platform::ui::{PLATFORM_ASSETS, PLATFORM_TEMPLATES, Ui};
use faena_platform::{AppError, AppState, Config, I18n, Module, Problem, telemetry};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa_axum::router::OpenApiRouter;

use crate::migrator::Migrator;
use crate::modules;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Faena API",
        description = "Operations backend: customers, warehouse, repair shop, transport, \
                       maintenance and document exports. Errors are RFC 9457 problem documents.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "system", description = "Health, readiness and build information"),
        (name = "auth", description = "Sign in, tokens, the current user"),
        (name = "access", description = "Users, roles, permissions and API keys"),
        (name = "audit", description = "The tamper-evident audit log"),
        (name = "jobs", description = "Background jobs: queue, retries, dead letters and progress"),
        (name = "files", description = "Files attached to records: uploads sniffed by content, versions, thumbnails and signed links"),
        (name = "mail", description = "Outgoing mail: the outbox, resending and a test mail"),
        (name = "webhooks", description = "Outbound webhooks (Standard Webhooks): endpoints, delivery log, replay; and the inbound endpoint for configured senders"),
        (name = "realtime", description = "Live events over Server-Sent Events and WebSocket, filtered by permission"),
    )
)]
struct ApiDoc;

/// Declares the `bearer` scheme every protected operation names: a JWT
/// access token from `/api/auth/login`, or an API key (`faena_…`).
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            faena_platform::auth::access::SECURITY_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An access token from POST /api/auth/login, or an API key (faena_…). \
                         Scopes name the permission the operation requires.",
                    ))
                    .build(),
            ),
        );
    }
}

/// A ready-to-serve application.
pub struct App {
    pub router: Router,
    pub state: AppState,
    pub openapi: OpenApiDoc,
}

/// Connects, migrates and assembles the application for `config`.
pub async fn build(config: Config) -> anyhow::Result<App> {
    let modules = modules::enabled(&config);
    build_with(config, modules).await
}

/// Like `build`, with an explicit module list (tests mount extra modules).
pub async fn build_with(config: Config, modules: Vec<Box<dyn Module>>) -> anyhow::Result<App> {
    let db = faena_platform::db::connect(&config.database).await?;
    migrate(&db).await?;
    ensure_roles(&db, &modules).await?;
    let app = assemble(config, db, modules)?;
    faena_platform::auth::users::ensure_admin(&app.state).await?;
    Ok(app)
}

/// The built-in roles, with each module's default grants given once.
pub async fn ensure_roles(
    db: &DatabaseConnection,
    modules: &[Box<dyn Module>],
) -> anyhow::Result<()> {
    let grants: Vec<_> = modules.iter().map(|m| (m.name(), m.grants())).collect();
    faena_platform::auth::check_grants(&grants).map_err(anyhow::Error::msg)?;
    faena_platform::auth::roles::ensure_builtin(db, &grants)
        .await
        .context("creating the built-in roles")
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("applying database migrations")
}

/// Builds state and router over an already migrated database.
pub fn assemble(
    config: Config,
    db: DatabaseConnection,
    modules: Vec<Box<dyn Module>>,
) -> anyhow::Result<App> {
    let mut i18n = I18n::default();
    let catalogs = faena_platform::TRANSLATIONS
        .iter()
        .chain(modules.iter().flat_map(|m| m.translations().iter()));
    for (locale, source) in catalogs {
        i18n.add(*locale, source)
            .map_err(|e| anyhow::anyhow!("translation catalog ({}): {e}", locale.code()))?;
    }
    let i18n = Arc::new(i18n);

    let templates: Vec<_> = PLATFORM_TEMPLATES
        .iter()
        .chain(modules.iter().flat_map(|m| m.templates().iter()))
        .copied()
        .collect();
    let assets: Vec<_> = PLATFORM_ASSETS
        .iter()
        .chain(modules.iter().flat_map(|m| m.assets().iter()))
        .copied()
        .collect();
    let nav: Vec<_> = modules.iter().filter_map(|m| m.nav()).collect();
    let time_zone: chrono_tz::Tz = config.time_zone.parse().map_err(|_| {
        anyhow::anyhow!(
            "time_zone: `{}` is not an IANA time zone (e.g. America/Santiago)",
            config.time_zone
        )
    })?;
    let ui = Ui::new(
        i18n.clone(),
        &templates,
        &assets,
        &nav,
        faena_platform::VERSION,
        time_zone,
    )?;

    let permissions: Vec<&'static str> = faena_platform::auth::perms::ALL
        .iter()
        .chain(modules.iter().flat_map(|m| m.permissions().iter()))
        .map(|p| p.as_str())
        .collect();
    let auth = AuthState::new(&config.data_dir)?;
    let keys = faena_platform::crypto::KeyRing::load(&config.crypto, &config.data_dir)?;
    let references = faena_platform::references::References::new(
        modules.iter().flat_map(|m| m.references()).collect(),
    );
    let directories = faena_platform::directory::Directories::new(
        modules.iter().flat_map(|m| m.directories()).collect(),
    );
    let mut job_types = faena_platform::housekeeping::job_types();
    job_types.extend(faena_platform::mail::job_types());
    job_types.extend(faena_platform::webhooks::job_types());
    job_types.extend(faena_platform::backup::job_types());
    job_types.extend(faena_platform::files::jobs::job_types());
    job_types.extend(modules.iter().flat_map(|m| m.jobs()));
    let mut schedules = faena_platform::housekeeping::schedules();
    schedules.extend(faena_platform::backup::schedules(&config.backup)?);
    schedules.extend(modules.iter().flat_map(|m| m.schedules()));
    // What a previous process that died mid-upload left in the file store
    // goes at start (once its grace period has passed), not at night.
    let mut start_jobs = vec![faena_platform::jobs::StartJob::of(
        &faena_platform::files::sweep::SweepOrphans::default(),
    )];
    start_jobs.extend(modules.iter().flat_map(|m| m.start_jobs()));
    let mut jobs =
        faena_platform::jobs::Registry::new(job_types, schedules)?.with_start_jobs(start_jobs)?;
    if config.jobs.storage == faena_platform::config::JobStorage::Redis {
        let url = config.redis.url().ok_or_else(|| {
            anyhow::anyhow!("jobs.storage is redis but redis.url (FAENA_REDIS_URL) is not set")
        })?;
        let store =
            faena_platform::jobs::redis_store::RedisStore::new(url, &config.jobs.redis_prefix)?;
        jobs = jobs.with_redis(store);
    }
    let topics: Vec<_> = [faena_platform::jobs::TOPIC, faena_platform::webhooks::TOPIC]
        .into_iter()
        .chain(modules.iter().flat_map(|m| m.topics().iter().copied()))
        .map(|(topic, permission)| (topic, permission.as_str()))
        .collect();
    let realtime = faena_platform::realtime::Realtime::start(&config, &db, &topics, &permissions)?;
    let webhooks = faena_platform::webhooks::Webhooks::new(
        &config.webhooks,
        modules.iter().flat_map(|m| m.inbound_webhooks()).collect(),
        modules
            .iter()
            .flat_map(|m| m.webhook_events().iter().copied())
            .collect(),
    )?;
    let files = faena_platform::files::Files::new(
        &config.files,
        &config.data_dir,
        modules.iter().flat_map(|m| m.file_owners()).collect(),
    )?;
    let state = AppState::new(AppStateParts {
        config,
        db,
        i18n,
        ui,
        modules: modules.iter().map(|m| m.name()).collect(),
        permissions,
        auth,
        keys,
        references,
        directories,
        dashboard: modules.iter().flat_map(|m| m.dashboard()).collect(),
        record_links: modules
            .iter()
            .flat_map(|m| m.record_links().iter().copied())
            .collect(),
        jobs,
        realtime,
        webhooks,
        files,
        metrics: telemetry::metrics_handle(),
    });
    let (router, openapi) = router(state.clone(), &modules)?;
    let declared = state.permissions();
    let undeclared: Vec<String> = openapi_access(&openapi)?
        .into_iter()
        .chain(page_routes(&modules))
        .filter_map(|(method, path, access)| match access {
            Access::Permission(p) if !declared.iter().any(|d| *d == p) => {
                Some(format!("{method} {path} requires {p}"))
            }
            _ => None,
        })
        .collect();
    if !undeclared.is_empty() {
        anyhow::bail!(
            "routes require permissions that no module declares: {}",
            undeclared.join("; ")
        );
    }
    Ok(App {
        router,
        state,
        openapi,
    })
}

/// The OpenAPI document of the platform and the given modules.
pub fn openapi(modules: &[Box<dyn Module>]) -> OpenApiDoc {
    let mut doc = api_router(modules).into_openapi();
    faena_platform::http::problem_doc::document_errors(&mut doc);
    doc
}

fn api_router(modules: &[Box<dyn Module>]) -> OpenApiRouter<AppState> {
    let mut doc = ApiDoc::openapi();
    let tags = doc.tags.get_or_insert_with(Vec::new);
    for (name, description) in modules.iter().flat_map(|m| m.openapi_tags().iter()) {
        tags.push(
            utoipa::openapi::tag::TagBuilder::new()
                .name(*name)
                .description(Some(*description))
                .build(),
        );
    }
    let mut api = OpenApiRouter::with_openapi(doc).merge(faena_platform::routes::api());
    for module in modules {
        api = api.merge(module.api());
    }
    api
}

/// Every page route of the platform and the given modules, with its
/// access (for the access test and the start-up check).
pub fn page_routes(modules: &[Box<dyn Module>]) -> Vec<(Method, String, Access)> {
    let mut pages = faena_platform::routes::pages();
    for module in modules {
        pages = pages.merge(module.pages());
    }
    pages.into_parts().1
}

/// OpenAPI schema names that two parts (the platform, a module) give
/// different schemas. utoipa merges components by name, so the second
/// would silently replace the first in the document: clients would be
/// told one module's shape for another's data.
pub fn schema_clashes(modules: &[Box<dyn Module>]) -> Vec<String> {
    let parts = std::iter::once(("platform", faena_platform::routes::api()))
        .chain(modules.iter().map(|m| (m.name(), m.api())));
    let mut seen: std::collections::BTreeMap<String, (&'static str, serde_json::Value)> =
        Default::default();
    let mut clashes = Vec::new();
    for (owner, router) in parts {
        let schemas = router
            .into_openapi()
            .components
            .map(|c| c.schemas)
            .unwrap_or_default();
        for (name, schema) in schemas {
            let schema = serde_json::to_value(&schema).unwrap_or_default();
            match seen.get(&name) {
                Some((first, known)) if *known != schema => clashes.push(format!(
                    "the OpenAPI schema `{name}` of {owner} is another one of {first}'s"
                )),
                Some(_) => {}
                None => {
                    seen.insert(name, (owner, schema));
                }
            }
        }
    }
    clashes
}

fn router(state: AppState, modules: &[Box<dyn Module>]) -> anyhow::Result<(Router, OpenApiDoc)> {
    let clashes = schema_clashes(modules);
    if !clashes.is_empty() {
        anyhow::bail!(
            "two parts give one OpenAPI schema name different shapes (rename one, e.g. with #[schema(as = ...)]): {}",
            clashes.join("; ")
        );
    }
    let (api, mut openapi) = api_router(modules).split_for_parts();
    faena_platform::http::problem_doc::document_errors(&mut openapi);
    let openapi_json = Bytes::from(openapi.to_json().unwrap_or_else(|_| "{}".into()));

    let mut pages = faena_platform::routes::pages();
    for module in modules {
        pages = pages.merge(module.pages());
    }
    let (pages, page_access) = pages.into_parts();
    let mut access = AccessMap::default();
    access.add_openapi(&openapi).map_err(anyhow::Error::msg)?;
    for (method, path, a) in page_access {
        access.insert(method, &path, a);
    }
    access.insert(Method::GET, "/api/openapi.json", Access::Public);
    let access = Arc::new(access);

    let config = state.config().clone();
    let routes = api
        .merge(pages)
        .route(
            "/api/openapi.json",
            get(
                move || async move { ([(header::CONTENT_TYPE, "application/json")], openapi_json) },
            ),
        )
        .route_layer(from_fn_with_state(state.clone(), idempotency))
        .route_layer(from_fn_with_state((state.clone(), access), authorize))
        .route_layer(from_fn(capture_route))
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async {
            Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
        })
        .with_state(state.clone());

    let stack = ServiceBuilder::new()
        .layer(from_fn(sanitise_request_id))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIdMaker))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        request_id = %id,
                        method = %req.method(),
                        path = %req.uri().path(),
                    )
                })
                .on_request(())
                // One line per request only when asked for
                // (`FAENA_LOG__FILTER=info,tower_http=debug`): at info, a
                // terminal would scroll the first-start password away.
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::DEBUG)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                )
                .on_failure(DefaultOnFailure::new().level(Level::ERROR)),
        )
        .layer(from_fn(scope_request_id))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(cors(&config.http.cors_origins))
        .layer(from_fn_with_state(config.http.hsts, security_headers))
        .layer(CompressionLayer::new())
        .layer(from_fn(track_metrics))
        .layer(from_fn_with_state(state.clone(), render_problems))
        .layer(from_fn_with_state(
            Arc::new(overload::Shedder::new(&config.http)),
            overload::shed,
        ))
        .layer(from_fn_with_state(state, faena_platform::db_health::guard))
        .layer(from_fn_with_state(
            config.http.body_limit,
            faena_platform::http::input::refuse_control_characters,
        ))
        .layer(CatchPanicLayer::new())
        .layer(from_fn_with_state(
            overload::Deadlines::new(&config.http),
            overload::deadlines,
        ))
        .layer(DefaultBodyLimit::max(config.http.body_limit));

    Ok((routes.layer(stack), openapi))
}

fn openapi_access(doc: &OpenApiDoc) -> anyhow::Result<Vec<(Method, String, Access)>> {
    let mut access = AccessMap::default();
    access.add_openapi(doc).map_err(anyhow::Error::msg)?;
    Ok(access
        .iter()
        .map(|((m, p), a)| (m.clone(), p.clone(), a.clone()))
        .collect())
}

fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::ACCEPT_LANGUAGE,
            axum::http::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::ETAG, REQUEST_ID, header::RETRY_AFTER])
        .max_age(Duration::from_secs(3600))
}
