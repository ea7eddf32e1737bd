//! Sign-in, sign-out and profile pages, and the admin pages for users,
//! roles, API keys and the audit log. Every form carries the CSRF token;
//! the `authorize` layer checks it before any handler runs.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use sea_orm::EntityTrait;
use serde::Deserialize;

use super::entities::user;
use super::principal::{Actor, Principal};
use super::session::{self, SESSION_COOKIE};
use super::users::UserView;
use super::{Access, Pages};
use crate::error::{AppError, AppResult};
use crate::http::Query;
use crate::state::AppState;
use crate::ui::{PageContext, render_page};

pub fn pages() -> Pages {
    Pages::new()
        .get("/login", Access::Public, login_form)
        .post("/login", Access::Public, login)
        .post("/logout", Access::Public, logout)
        .get("/profile", Access::Authenticated, profile)
        .post("/profile/password", Access::Authenticated, change_password)
        .post(
            "/profile/preferences",
            Access::Authenticated,
            save_preferences,
        )
}

/// The zones the profile offers: where Faena's users work. The API takes
/// any IANA zone; one set there that is not listed is offered too.
const ZONES: &[&str] = &[
    "America/Santiago",
    "America/Punta_Arenas",
    "Pacific/Easter",
    "America/Argentina/Buenos_Aires",
    "America/Asuncion",
    "America/Bogota",
    "America/Caracas",
    "America/Guayaquil",
    "America/La_Paz",
    "America/Lima",
    "America/Mexico_City",
    "America/Montevideo",
    "America/Panama",
    "America/Sao_Paulo",
    "Europe/Madrid",
    "UTC",
];

/// The profile page with `errors` (none on a plain visit).
fn profile_page(
    state: &AppState,
    page: &PageContext,
    me: UserView,
    errors: Vec<serde_json::Value>,
    ok: Option<String>,
) -> AppResult<Html<String>> {
    let mut zones: Vec<&str> = ZONES.to_vec();
    if let Some(own) = me.time_zone.as_deref()
        && !zones.contains(&own)
    {
        zones.push(own);
    }
    render_page(
        state,
        "auth/profile.html",
        page,
        context! {
            me => me, errors => errors, ok => ok,
            zones => zones, default_zone => state.time_zone().name(),
        },
    )
}

#[derive(Debug, Deserialize)]
struct PreferencesForm {
    time_zone: String,
}

async fn save_preferences(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    principal: Principal,
    Form(form): Form<PreferencesForm>,
) -> AppResult<Response> {
    let prefs = super::api::Preferences {
        time_zone: Some(form.time_zone),
        ..Default::default()
    };
    match super::api::set_own_preferences(&state, &actor, &principal, prefs).await {
        Ok(_) => Ok(Redirect::to("/profile?ok=saved").into_response()),
        Err(e) => profile_again(&state, &page, &principal, e).await,
    }
}

/// The profile page again, with what `err` says is wrong (422).
async fn profile_again(
    state: &AppState,
    page: &PageContext,
    principal: &Principal,
    err: AppError,
) -> AppResult<Response> {
    let errors = form_errors(state, page, err)?;
    let me = UserView::from(current_user(state, principal).await?);
    Ok(unprocessable(profile_page(state, page, me, errors, None)?))
}

use crate::ui::{form_errors, unprocessable};

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
    ok: Option<String>,
}

/// A local path to go back to, never another site.
fn local_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/")
        .to_owned()
}

async fn login_form(
    State(state): State<AppState>,
    page: PageContext,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    if page.user.is_some() {
        return Ok(Redirect::to(&local_next(q.next.as_deref())).into_response());
    }
    let html = render_page(
        &state,
        "auth/login.html",
        &page,
        context! { next => local_next(q.next.as_deref()), email => "", error => () },
    )?;
    Ok(html.into_response())
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let next = local_next(form.next.as_deref());
    match super::service::authenticate(&state, &actor, &form.email, &form.password).await {
        Ok(user) => {
            // A new session at every sign-in; the old one (if any) ends.
            if let Some(old) = session::cookie(&headers, SESSION_COOKIE) {
                end_session(&state, old).await?;
            }
            let ua = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let token =
                session::create(state.db(), state.config(), user.id, actor.ip.clone(), ua).await?;
            let mut response = Redirect::to(&next).into_response();
            let cookie = HeaderValue::from_str(&session::session_cookie(state.config(), &token))
                .map_err(|e| AppError::Internal(e.into()))?;
            response.headers_mut().append(header::SET_COOKIE, cookie);
            Ok(response)
        }
        Err(e @ (AppError::Unauthorized | AppError::TooManyRequests { .. })) => {
            let (status, error) = match &e {
                AppError::TooManyRequests { retry_after_secs } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    state.i18n().t(
                        page.locale,
                        "login.throttled",
                        &[("seconds", retry_after_secs.to_string())],
                    ),
                ),
                _ => (
                    StatusCode::UNAUTHORIZED,
                    state.i18n().t(page.locale, "login.failed", &[]),
                ),
            };
            let html = render_page(
                &state,
                "auth/login.html",
                &page,
                context! { next => next, email => form.email, error => error },
            )?;
            let mut response = (status, html).into_response();
            if let AppError::TooManyRequests { retry_after_secs } = e {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_secs.into());
            }
            Ok(response)
        }
        Err(other) => Err(other),
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    actor: Actor,
) -> AppResult<Response> {
    if let Some(token) = session::cookie(&headers, SESSION_COOKIE) {
        end_session(&state, token).await?;
        crate::audit::record(
            state.db(),
            &actor,
            crate::audit::Entry::new("logout", "user", actor.id.clone()),
        )
        .await?;
    }
    let mut response = Redirect::to("/login").into_response();
    let cookie = HeaderValue::from_str(&session::clear_session_cookie(state.config()))
        .map_err(|e| AppError::Internal(e.into()))?;
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

async fn current_user(state: &AppState, principal: &Principal) -> AppResult<user::Model> {
    let id = principal.user_id().ok_or(AppError::Forbidden)?;
    user::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .ok_or(AppError::Unauthorized)
}

async fn profile(
    State(state): State<AppState>,
    page: PageContext,
    principal: Principal,
    Query(q): Query<NextQuery>,
) -> AppResult<Html<String>> {
    let me = UserView::from(current_user(&state, &principal).await?);
    profile_page(&state, &page, me, Vec::new(), q.ok)
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    principal: Principal,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    match super::api::change_own_password(
        &state,
        &actor,
        &principal,
        &form.current_password,
        &form.new_password,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to("/login?next=/profile").into_response()),
        Err(e) => profile_again(&state, &page, &principal, e).await,
    }
}

/// Ends a browser's session and announces it, so that streams opened with
/// its cookie end too.
async fn end_session(state: &AppState, token: &str) -> Result<(), sea_orm::DbErr> {
    if let Some(user) = session::end(state.db(), token).await? {
        state.access_changed(crate::realtime::AccessChange::User(user));
    }
    Ok(())
}
