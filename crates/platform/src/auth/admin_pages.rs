//! Administration pages of identity and access: users, roles and API keys.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use sea_orm::{EntityTrait, QueryOrder};
use serde::Deserialize;
use uuid::Uuid;

use super::entities::{role, user};
use super::principal::{Actor, Principal};
use super::users::{NewUser, UserUpdate, UserView};
use super::{Access, Pages};
use crate::auth::perms;
use crate::error::{AppError, AppResult};
use crate::http::Query;
use crate::http::etag::IfMatch;
use crate::state::AppState;
use crate::ui::{PageContext, render_page};

pub fn pages() -> Pages {
    Pages::new()
        .get("/admin/users", Access::perm(perms::USERS_READ), users_list)
        .get(
            "/admin/users/export.csv",
            Access::perm(perms::USERS_READ),
            users_export,
        )
        .get(
            "/admin/users/new",
            Access::perm(perms::USERS_MANAGE),
            user_new,
        )
        .post(
            "/admin/users",
            Access::perm(perms::USERS_MANAGE),
            user_create,
        )
        .get(
            "/admin/users/{id}",
            Access::perm(perms::USERS_READ),
            user_edit,
        )
        .post(
            "/admin/users/{id}",
            Access::perm(perms::USERS_MANAGE),
            user_update,
        )
        .get(
            "/admin/roles",
            Access::perm(perms::ROLES_MANAGE),
            roles_list,
        )
        .post(
            "/admin/roles",
            Access::perm(perms::ROLES_MANAGE),
            role_create,
        )
        .get(
            "/admin/roles/{name}",
            Access::perm(perms::ROLES_MANAGE),
            role_edit,
        )
        .post(
            "/admin/roles/{name}",
            Access::perm(perms::ROLES_MANAGE),
            role_update,
        )
        .get(
            "/admin/api-keys",
            Access::perm(perms::API_KEYS_MANAGE),
            api_keys_list,
        )
        .post(
            "/admin/api-keys",
            Access::perm(perms::API_KEYS_MANAGE),
            api_key_create,
        )
        .post(
            "/admin/api-keys/{id}/revoke",
            Access::perm(perms::API_KEYS_MANAGE),
            api_key_revoke,
        )
}

use crate::ui::{form_errors, unprocessable};

/// The message of the action that led here (`?ok=user_saved`).
#[derive(Debug, Deserialize)]
struct OkQuery {
    ok: Option<String>,
}
#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
    role: Option<String>,
    /// `yes` or `no`; anything else shows everyone.
    active: Option<String>,
    ok: Option<String>,
}

impl SearchQuery {
    fn filter(&self) -> super::users::UserFilter {
        super::users::UserFilter {
            q: self.q.clone(),
            role: self.role.clone().filter(|r| !r.is_empty()),
            active: match self.active.as_deref() {
                Some("yes") => Some(true),
                Some("no") => Some(false),
                _ => None,
            },
        }
    }
}

/// The users list as CSV, with the page's filters and order.
async fn users_export(
    State(state): State<AppState>,
    page: PageContext,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    Query(q): Query<SearchQuery>,
) -> AppResult<axum::response::Response> {
    use crate::csv::{CsvWriter, Delimiter};
    let request = crate::ui::list::ListRequest::parse(&super::users::LIST, raw.as_deref())?;
    let filter = q.filter();
    let users = crate::ui::list::all_rows(&request, |mut p| {
        let (state, filter) = (&state, &filter);
        async move { super::users::list_page(state, filter, &mut p).await }
    })
    .await?;
    let t = |k: &str| state.i18n().t(page.locale, k, &[]);
    let role = |name: &str| {
        state
            .i18n()
            .t_or(page.locale, &format!("role.{name}"), name)
    };
    let zone = state.zone_for(page.principal.as_ref());
    let mut out = CsvWriter::new(Delimiter::Semicolon);
    out.row(
        [
            "field.name",
            "field.email",
            "field.role",
            "field.active",
            "field.locale",
            "field.last_seen_at",
        ]
        .iter()
        .map(|k| t(k)),
    );
    for u in users {
        out.row([
            u.name,
            u.email,
            role(&u.role),
            t(if u.active { "common.yes" } else { "common.no" }),
            u.locale,
            u.last_seen_at
                .map(|at| crate::ui::csv_time(at, zone))
                .unwrap_or_default(),
        ]);
    }
    Ok(out.into_download("usuarios.csv"))
}

async fn users_list(
    State(state): State<AppState>,
    page: PageContext,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    Query(q): Query<SearchQuery>,
) -> AppResult<Html<String>> {
    let mut request = crate::ui::list::ListRequest::parse(&super::users::LIST, raw.as_deref())?;
    let filter = q.filter();
    let (users, total) = super::users::list_page(&state, &filter, &mut request).await?;
    render_page(
        &state,
        "admin/users.html",
        &page,
        context! {
            users => users, list => request.view(total), q => q.q.unwrap_or_default(),
            role => q.role.unwrap_or_default(), active => q.active.unwrap_or_default(),
            roles => role_names(&state).await?, ok => q.ok, can_manage => page.can(perms::USERS_MANAGE),
        },
    )
}

async fn role_names(state: &AppState) -> AppResult<Vec<String>> {
    Ok(role::Entity::find()
        .order_by_asc(role::Column::Name)
        .all(state.db())
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect())
}

async fn user_new(State(state): State<AppState>, page: PageContext) -> AppResult<Html<String>> {
    let form = serde_json::json!({"name": "", "email": "", "role": "viewer", "locale": "es", "active": true});
    render_page(
        &state,
        "admin/user_form.html",
        &page,
        context! {
            form => form, roles => role_names(&state).await?, errors => Vec::<()>::new(), user_id => (), ok => (),
        },
    )
}

#[derive(Debug, Deserialize)]
struct UserForm {
    name: String,
    email: Option<String>,
    role: String,
    locale: Option<String>,
    active: Option<String>,
    password: Option<String>,
    version: Option<i32>,
}

async fn user_create(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Form(form): Form<UserForm>,
) -> AppResult<Response> {
    let input = NewUser {
        email: form.email.clone().unwrap_or_default(),
        name: form.name.clone(),
        role: Some(form.role.clone()),
        password: form.password.clone().unwrap_or_default(),
        locale: form.locale.clone(),
        time_zone: None,
    };
    let txn = state.begin_write().await?;
    match super::users::create(&txn, &actor, input).await {
        Ok(created) => {
            txn.commit().await?;
            Ok(Redirect::to(&format!("/admin/users/{}?ok=saved", created.id)).into_response())
        }
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            let shown = serde_json::json!({"name": form.name, "email": form.email, "role": form.role, "locale": form.locale, "active": true});
            Ok(unprocessable(render_page(
                &state,
                "admin/user_form.html",
                &page,
                context! {
                    form => shown, roles => role_names(&state).await?, errors => errors, user_id => (), ok => (),
                },
            )?))
        }
    }
}

async fn user_edit(
    State(state): State<AppState>,
    page: PageContext,
    Path(id): Path<Uuid>,
    Query(q): Query<OkQuery>,
) -> AppResult<Html<String>> {
    let model = user::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .ok_or(AppError::NotFound)?;
    render_page(
        &state,
        "admin/user_form.html",
        &page,
        context! {
            form => UserView::from(model), roles => role_names(&state).await?, errors => Vec::<()>::new(), user_id => id, ok => q.ok,
        },
    )
}

async fn user_update(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(id): Path<Uuid>,
    Form(form): Form<UserForm>,
) -> AppResult<Response> {
    let update = UserUpdate {
        name: Some(form.name.clone()),
        role: Some(form.role.clone()),
        active: Some(form.active.is_some()),
        locale: form.locale.clone(),
        time_zone: None,
        password: form.password.clone().filter(|p| !p.is_empty()),
    };
    let txn = state.begin_write().await?;
    match super::users::update(&txn, &actor, id, IfMatch::version(form.version), update).await {
        Ok(_) => {
            txn.commit().await?;
            state.access_changed(crate::realtime::AccessChange::User(id));
            Ok(Redirect::to(&format!("/admin/users/{id}?ok=saved")).into_response())
        }
        Err(e) => {
            drop(txn);
            let errors = form_errors(&state, &page, e)?;
            let model = user::Entity::find_by_id(id)
                .one(state.db())
                .await?
                .ok_or(AppError::NotFound)?;
            Ok(unprocessable(render_page(
                &state,
                "admin/user_form.html",
                &page,
                context! {
                    form => UserView::from(model), roles => role_names(&state).await?, errors => errors, user_id => id, ok => (),
                },
            )?))
        }
    }
}

fn split_permissions(text: &str) -> Vec<String> {
    text.split([',', '\n', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn roles_view(state: &AppState) -> AppResult<Vec<super::roles::RoleView>> {
    Ok(role::Entity::find()
        .order_by_asc(role::Column::Name)
        .all(state.db())
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

async fn roles_list(
    State(state): State<AppState>,
    page: PageContext,
    Query(q): Query<OkQuery>,
) -> AppResult<Html<String>> {
    let form = serde_json::json!({"name": "", "description": "", "permissions": ""});
    render_page(
        &state,
        "admin/roles.html",
        &page,
        context! { roles => roles_view(&state).await?, form => form, errors => Vec::<()>::new(), ok => q.ok },
    )
}

#[derive(Debug, Deserialize)]
struct RoleForm {
    name: Option<String>,
    description: Option<String>,
    permissions: String,
    version: Option<i32>,
}

/// Calls the JSON command of the same name through the API layer's own
/// functions, so pages and API share every rule.
async fn role_create(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Form(form): Form<RoleForm>,
) -> AppResult<Response> {
    let input = super::roles::RoleInput {
        name: form.name.clone().unwrap_or_default(),
        description: form.description.clone().unwrap_or_default(),
        permissions: split_permissions(&form.permissions),
    };
    match super::roles::create(&state, &actor, input).await {
        Ok(view) => {
            Ok(Redirect::to(&format!("/admin/roles/{}?ok=saved", view.name)).into_response())
        }
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            let shown = serde_json::json!({"name": form.name, "description": form.description, "permissions": form.permissions});
            Ok(unprocessable(render_page(
                &state,
                "admin/roles.html",
                &page,
                context! { roles => roles_view(&state).await?, form => shown, errors => errors, ok => () },
            )?))
        }
    }
}

async fn role_edit_page(
    state: &AppState,
    page: &PageContext,
    name: &str,
    errors: Vec<serde_json::Value>,
    ok: Option<String>,
) -> AppResult<Html<String>> {
    let model = role::Entity::find_by_id(name.to_owned())
        .one(state.db())
        .await?
        .ok_or(AppError::NotFound)?;
    let view = super::roles::RoleView::from(model);
    let text = view.permissions.join("\n");
    render_page(
        state,
        "admin/role_form.html",
        page,
        context! {
            role => view, permissions_text => text, available => state.permissions(), errors => errors, ok => ok,
        },
    )
}

async fn role_edit(
    State(state): State<AppState>,
    page: PageContext,
    Path(name): Path<String>,
    Query(q): Query<OkQuery>,
) -> AppResult<Html<String>> {
    role_edit_page(&state, &page, &name, Vec::new(), q.ok).await
}

async fn role_update(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(name): Path<String>,
    Form(form): Form<RoleForm>,
) -> AppResult<Response> {
    let input = super::roles::RoleUpdate {
        description: form.description.clone(),
        permissions: Some(split_permissions(&form.permissions)),
    };
    match super::roles::update(&state, &actor, IfMatch::version(form.version), &name, input).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/roles/{name}?ok=saved")).into_response()),
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            Ok(unprocessable(
                role_edit_page(&state, &page, &name, errors, None).await?,
            ))
        }
    }
}

async fn api_keys_page(
    state: &AppState,
    page: &PageContext,
    created: Option<String>,
    errors: Vec<serde_json::Value>,
    form: serde_json::Value,
    ok: Option<String>,
) -> AppResult<Html<String>> {
    use super::entities::api_key;
    let keys: Vec<super::api_keys::ApiKeyView> = api_key::Entity::find()
        .order_by_desc(api_key::Column::CreatedAt)
        .all(state.db())
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    render_page(
        state,
        "admin/api_keys.html",
        page,
        context! { keys => keys, created => created, errors => errors, form => form, ok => ok },
    )
}

async fn api_keys_list(
    State(state): State<AppState>,
    page: PageContext,
    Query(q): Query<OkQuery>,
) -> AppResult<Html<String>> {
    api_keys_page(
        &state,
        &page,
        None,
        Vec::new(),
        serde_json::json!({"name": "", "permissions": ""}),
        q.ok,
    )
    .await
}

#[derive(Debug, Deserialize)]
struct ApiKeyForm {
    name: String,
    permissions: String,
}

async fn api_key_create(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    principal: Principal,
    Form(form): Form<ApiKeyForm>,
) -> AppResult<Response> {
    let input = super::api_keys::NewApiKey {
        name: form.name.clone(),
        permissions: split_permissions(&form.permissions),
    };
    match super::api_keys::create(&state, &actor, &principal, input).await {
        // The secret is shown in this response only; no redirect, so it is
        // never in a URL or the history.
        Ok(created) => Ok(api_keys_page(
            &state,
            &page,
            Some(created.key),
            Vec::new(),
            serde_json::json!({"name": "", "permissions": ""}),
            None,
        )
        .await?
        .into_response()),
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            let shown = serde_json::json!({"name": form.name, "permissions": form.permissions});
            Ok(unprocessable(
                api_keys_page(&state, &page, None, errors, shown, None).await?,
            ))
        }
    }
}

async fn api_key_revoke(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(id): Path<Uuid>,
    Form(form): Form<crate::ui::ConfirmForm>,
) -> AppResult<Response> {
    if !form.confirmed() {
        let key = super::entities::api_key::Entity::find_by_id(id)
            .one(state.db())
            .await?
            .ok_or(AppError::NotFound)?;
        let t = |k: &str, params: &[(&str, String)]| state.i18n().t(page.locale, k, params);
        return crate::ui::confirm_page(
            &state,
            &page,
            &crate::ui::Confirmation {
                question: t("api_keys.revoke_confirm", &[("name", key.name)]),
                detail: Some(t("confirm.irreversible", &[])),
                button: t("api_keys.revoke", &[]),
                action: format!("/admin/api-keys/{id}/revoke"),
                fields: Vec::new(),
                cancel: "/admin/api-keys".into(),
                error: None,
            },
        );
    }
    super::api_keys::revoke(&state, &actor, id).await?;
    Ok(Redirect::to("/admin/api-keys?ok=revoked").into_response())
}
