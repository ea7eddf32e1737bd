//! The UI shell: templates (minijinja, autoescaped), the base layout, the
//! embedded static assets and the per-request page context.
//!
//! Modules add their own templates and extend `layout.html`; every text goes
//! through `t("key", name=value)`, so there is one translation mechanism.

pub mod list;

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State};
use serde::Serialize;

use crate::auth::perms;
use crate::i18n::{I18n, Locale};

/// A file served under `/assets/`.
pub struct Asset {
    pub bytes: &'static [u8],
    pub content_type: &'static str,
    /// Short content hash, appended as `?v=` so browsers may cache forever.
    pub version: String,
}

pub const PLATFORM_ASSETS: &[(&str, &[u8], &str)] = &[
    (
        "app.css",
        include_bytes!("../assets/app.css"),
        "text/css; charset=utf-8",
    ),
    (
        "app.js",
        include_bytes!("../assets/app.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "htmx.min.js",
        include_bytes!("../assets/vendor/htmx.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "rapidoc-min.js",
        include_bytes!("../assets/vendor/rapidoc-min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "favicon.svg",
        include_bytes!("../assets/favicon.svg"),
        "image/svg+xml",
    ),
];

pub const PLATFORM_TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("confirm.html", include_str!("../templates/confirm.html")),
    ("api_docs.html", include_str!("../templates/api_docs.html")),
    (
        "auth/login.html",
        include_str!("../templates/auth/login.html"),
    ),
    (
        "auth/profile.html",
        include_str!("../templates/auth/profile.html"),
    ),
    (
        "admin/users.html",
        include_str!("../templates/admin/users.html"),
    ),
    (
        "admin/user_form.html",
        include_str!("../templates/admin/user_form.html"),
    ),
    (
        "admin/roles.html",
        include_str!("../templates/admin/roles.html"),
    ),
    (
        "admin/role_form.html",
        include_str!("../templates/admin/role_form.html"),
    ),
    (
        "admin/api_keys.html",
        include_str!("../templates/admin/api_keys.html"),
    ),
    (
        "admin/audit.html",
        include_str!("../templates/admin/audit.html"),
    ),
    (
        "admin/jobs.html",
        include_str!("../templates/admin/jobs.html"),
    ),
    (
        "admin/job.html",
        include_str!("../templates/admin/job.html"),
    ),
    (
        "admin/backups.html",
        include_str!("../templates/admin/backups.html"),
    ),
    (
        "admin/mail.html",
        include_str!("../templates/admin/mail.html"),
    ),
    (
        "admin/mail_detail.html",
        include_str!("../templates/admin/mail_detail.html"),
    ),
    (
        "mail/test.subject.txt",
        include_str!("../templates/mail/test.subject.txt"),
    ),
    ("mail/test.txt", include_str!("../templates/mail/test.txt")),
    (
        "mail/test.html",
        include_str!("../templates/mail/test.html"),
    ),
    (
        "admin/webhooks.html",
        include_str!("../templates/admin/webhooks.html"),
    ),
    (
        "files/attachments.html",
        include_str!("../templates/files/attachments.html"),
    ),
    ("macros.html", include_str!("../templates/macros.html")),
];

/// An entry of the navigation and of the home page: one per enabled module.
#[derive(Debug, Clone, Serialize)]
pub struct NavEntry {
    pub module: &'static str,
    /// Catalog key of the title; the description is `<key>.description`.
    pub title_key: &'static str,
    pub href: &'static str,
}

/// A time as pages show it: in `zone`, formatted with `format`; text
/// that is not an RFC 3339 time is shown as it is.
fn local_time(value: &Value, zone: chrono_tz::Tz, format: &str) -> String {
    let Some(text) = value.as_str() else {
        return if value.is_none() || value.is_undefined() {
            String::new()
        } else {
            value.to_string()
        };
    };
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&zone).format(format).to_string(),
        Err(_) => text.to_owned(),
    }
}

/// An instant in `zone` as CSV exports write it: RFC 3339 with the zone's
/// offset, to the second (`2026-12-01T22:56:36-03:00`).
pub fn csv_time(t: chrono::DateTime<chrono::Utc>, zone: chrono_tz::Tz) -> String {
    t.with_timezone(&zone)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// When `day` begins in `zone`, as an instant. Where midnight does not
/// exist (Chile moves its clocks forward at 24:00), the day begins at the
/// first minute that does.
pub fn day_start(day: chrono::NaiveDate, zone: chrono_tz::Tz) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    (0..=180)
        .find_map(|minutes| {
            let t = day.and_hms_opt(0, 0, 0)? + chrono::Duration::minutes(minutes);
            zone.from_local_datetime(&t).earliest()
        })
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// A list filter's time: an instant (RFC 3339) as given, or a day
/// (`2026-12-07`) in `zone`: its start, or for the end of a range
/// (`end_of_day`) the next day's start, exclusive. Anything else is
/// refused naming `field`.
pub fn filter_instant(
    field: &str,
    raw: &str,
    end_of_day: bool,
    zone: chrono_tz::Tz,
) -> Result<chrono::DateTime<chrono::Utc>, crate::FieldError> {
    let raw = raw.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| crate::FieldError::new(field, "invalid_date"))?;
    let day = if end_of_day {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(day_start(day, zone))
}

/// Today's date in `zone`.
pub fn today(zone: chrono_tz::Tz) -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&zone).date_naive()
}

pub struct Ui {
    env: Environment<'static>,
    assets: HashMap<&'static str, Asset>,
}

impl Ui {
    pub fn new(
        i18n: Arc<I18n>,
        templates: &[(&'static str, &'static str)],
        assets: &[(&'static str, &'static [u8], &'static str)],
        nav: &[NavEntry],
        version: &'static str,
        time_zone: chrono_tz::Tz,
    ) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in templates {
            env.add_template(name, source)
                .map_err(|e| anyhow::anyhow!("template {name}: {e}"))?;
        }

        let assets: HashMap<&'static str, Asset> = assets
            .iter()
            .map(|(name, bytes, content_type)| {
                let mut h = DefaultHasher::new();
                bytes.hash(&mut h);
                let version = format!("{:08x}", h.finish() as u32);
                (
                    *name,
                    Asset {
                        bytes,
                        content_type,
                        version,
                    },
                )
            })
            .collect();
        let versions: HashMap<String, String> = assets
            .iter()
            .map(|(k, a)| ((*k).to_owned(), a.version.clone()))
            .collect();
        // The URL is built from our own names: safe to print unescaped.
        env.add_function(
            "asset",
            move |name: &str| -> Result<Value, minijinja::Error> {
                let v = versions.get(name).ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("unknown asset {name}"),
                    )
                })?;
                Ok(Value::from_safe_string(format!("/assets/{name}?v={v}")))
            },
        );
        fn locale_of(state: &State) -> Locale {
            state
                .lookup("locale")
                .and_then(|v| v.as_str().and_then(Locale::parse))
                .unwrap_or_default()
        }
        // `{{ role_label(u.role) }}`: a role's name in the page's language
        // (`role.<name>`), or the name itself for a role an admin made.
        let roles = i18n.clone();
        env.add_function("role_label", move |state: &State, name: &str| -> String {
            roles.t_or(locale_of(state), &format!("role.{name}"), name)
        });
        // `{{ label("job_kind." ~ j.kind, j.kind) }}`: the catalogue's
        // words for a key, or `fallback` where it has none.
        let labels = i18n.clone();
        env.add_function(
            "label",
            move |state: &State, key: &str, fallback: &str| -> String {
                labels.t_or(locale_of(state), key, fallback)
            },
        );
        // `{{ field_id("lines[1].quantity") }}` is `quantity_1`: the id of
        // the input an error names, for the summary's links.
        env.add_filter("field_id", |field: &str| -> String {
            match field.split_once('[') {
                Some((_, rest)) => {
                    let (index, tail) = rest.split_once(']').unwrap_or((rest, ""));
                    let name = tail.trim_start_matches('.');
                    if name.is_empty() {
                        field.to_owned()
                    } else {
                        format!("{name}_{index}")
                    }
                }
                None => field.to_owned(),
            }
        });
        env.add_function(
            "t",
            move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
                let locale = state
                    .lookup("locale")
                    .and_then(|v| v.as_str().and_then(Locale::parse))
                    .unwrap_or_default();
                let mut params: Vec<(&str, String)> = Vec::new();
                let keys: Vec<String> = kwargs.args().map(str::to_owned).collect();
                for k in &keys {
                    let v: Value = kwargs.get(k)?;
                    params.push((k.as_str(), v.to_string()));
                }
                kwargs.assert_all_used()?;
                Ok(i18n.t(locale, key, &params))
            },
        );
        // `{{ order.created_at | datetime }}`: an RFC 3339 time in the
        // configured zone, `dd-mm-aaaa HH:MM`; `| date` without the time.
        // Nothing (none, undefined, "") shows as nothing.
        env.add_filter("datetime", move |value: Value| {
            local_time(&value, time_zone, "%d-%m-%Y %H:%M")
        });
        env.add_filter("date", move |value: Value| {
            local_time(&value, time_zone, "%d-%m-%Y")
        });
        env.add_global("nav", Value::from_serialize(nav));
        env.add_global("app_version", version);
        env.add_global("time_zone", time_zone.name());
        Ok(Self { env, assets })
    }

    /// Renders a template with the page context and the handler's values.
    pub fn render(
        &self,
        template: &str,
        page: &PageContext,
        ctx: Value,
    ) -> Result<String, minijinja::Error> {
        let tmpl = self.env.get_template(template)?;
        tmpl.render(minijinja::context! {
            locale => page.locale.code(),
            lang_tag => page.locale.tag(),
            other_locale => match page.locale { Locale::Es => "en", Locale::En => "es" },
            path => &page.path,
            request_id => &page.request_id,
            user => &page.user,
            csrf => &page.csrf,
            show_admin => page.show_admin,
            ..ctx
        })
    }

    /// Renders the mail template `mail/<name>`: its subject (one line), its
    /// text body and, when `mail/<name>.html` exists, its HTML body.
    pub fn render_mail(
        &self,
        name: &str,
        locale: Locale,
        ctx: Value,
    ) -> Result<(String, String, Option<String>), minijinja::Error> {
        let ctx = minijinja::context! {
            locale => locale.code(),
            lang_tag => locale.tag(),
            ..ctx
        };
        let subject = self
            .env
            .get_template(&format!("mail/{name}.subject.txt"))?
            .render(&ctx)?;
        let text = self
            .env
            .get_template(&format!("mail/{name}.txt"))?
            .render(&ctx)?;
        let html = match self.env.get_template(&format!("mail/{name}.html")) {
            Ok(t) => Some(t.render(&ctx)?),
            Err(e) if e.kind() == minijinja::ErrorKind::TemplateNotFound => None,
            Err(e) => return Err(e),
        };
        Ok((crate::mail::one_line(&subject), text, html))
    }

    pub fn asset(&self, name: &str) -> Option<&Asset> {
        self.assets.get(name)
    }

    pub fn template_names(&self) -> Vec<String> {
        self.env.templates().map(|(n, _)| n.to_owned()).collect()
    }
}

/// What every page needs to know about its request.
#[derive(Debug, Clone, Default)]
pub struct PageContext {
    pub locale: Locale,
    pub path: String,
    pub request_id: Option<String>,
    /// The signed-in user's email, for the header.
    pub user: Option<String>,
    /// The CSRF token every form must send as `_csrf`.
    pub csrf: String,
    /// Whether to show the administration link.
    pub show_admin: bool,
    pub principal: Option<crate::auth::Principal>,
}

impl PageContext {
    pub fn new(locale: Locale, path: String, request_id: Option<String>) -> Self {
        Self {
            locale,
            path,
            request_id,
            ..Self::default()
        }
    }

    /// Fills in the caller from the request's headers (for pages drawn
    /// outside the access layer, such as error pages); a caller that
    /// cannot be resolved stays anonymous.
    pub async fn identify(
        &mut self,
        state: &crate::state::AppState,
        headers: &axum::http::HeaderMap,
    ) {
        if let Ok(Some(p)) = crate::auth::service::resolve(state, headers).await {
            self.signed_in_as(p);
        }
        if let Some(seed) = crate::auth::session::csrf_seed(headers) {
            self.csrf = state.auth().csrf_token(&seed);
        }
    }

    /// The header's user and what it may show, from the caller.
    fn signed_in_as(&mut self, p: crate::auth::Principal) {
        self.user = Some(p.label());
        self.show_admin = p.can(perms::USERS_READ);
        self.principal = Some(p);
    }

    pub fn can(&self, permission: crate::auth::Permission) -> bool {
        self.principal.as_ref().is_some_and(|p| p.can(permission))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut page = PageContext {
            locale: Locale::from_headers(&parts.headers),
            path: parts.uri.path().to_owned(),
            request_id: parts
                .headers
                .get(crate::http::REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            csrf: parts
                .extensions
                .get::<crate::auth::session::CsrfToken>()
                .map(|t| t.0.clone())
                .unwrap_or_default(),
            ..PageContext::default()
        };
        if let Some(p) = parts.extensions.get::<crate::auth::Principal>().cloned() {
            page.signed_in_as(p);
        }
        Ok(page)
    }
}

/// A refused form's field errors, worded for the page (`[{field,
/// message}]`, what `field_error` in `macros.html` shows), or the error
/// itself when it is not about fields (a 404, a 500), for the error page.
pub fn form_errors(
    state: &crate::state::AppState,
    page: &PageContext,
    err: crate::error::AppError,
) -> Result<Vec<serde_json::Value>, crate::error::AppError> {
    let problem = err.to_problem();
    if problem.errors.is_empty() {
        return Err(err);
    }
    let doc = crate::http::problem::problem_json(state, &problem, page.locale, &page.path, None);
    Ok(doc["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| serde_json::json!({"field": e["field"], "message": e["message"]}))
                .collect()
        })
        .unwrap_or_default())
}

/// A form page shown again with its errors: 422.
pub fn unprocessable(html: axum::response::Html<String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (axum::http::StatusCode::UNPROCESSABLE_ENTITY, html).into_response()
}

/// Renders a page, turning a template failure into a logged 500.
pub fn render_page(
    state: &crate::state::AppState,
    template: &str,
    page: &PageContext,
    ctx: minijinja::Value,
) -> crate::error::AppResult<axum::response::Html<String>> {
    state
        .ui()
        .render(template, page, ctx)
        .map(axum::response::Html)
        .map_err(|e| {
            crate::error::AppError::Internal(anyhow::anyhow!("rendering {template}: {e:#}"))
        })
}

/// The form field a confirmed destructive action carries (`confirm=yes`).
pub const CONFIRM_FIELD: &str = "confirm";

/// The form of a destructive action: `confirm=yes` once asked, and where
/// to go back to.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub confirm: Option<String>,
    #[serde(default)]
    pub next: Option<String>,
}

impl ConfirmForm {
    /// Whether the action was confirmed.
    pub fn confirmed(&self) -> bool {
        self.confirm.as_deref() == Some("yes")
    }
}

/// A destructive action, asked before it is done: every module's delete,
/// revoke and cancel goes through here. The page marks the action's form
/// with `data-confirm="question"` (the `danger_form` macro does), so that
/// with JavaScript the browser asks in place and posts `confirm=yes`;
/// without it, the first post answers this page, whose button posts the
/// same form again with `confirm=yes`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Confirmation {
    /// The question, naming the record: "¿Eliminar la orden ORD-000123?".
    pub question: String,
    /// What follows from it: "Esta acción no se puede deshacer.".
    pub detail: Option<String>,
    /// The button's words: "Eliminar orden".
    pub button: String,
    /// Where the form posts (the action's own address).
    pub action: String,
    /// Other fields to post again (a `next` address and the like).
    pub fields: Vec<(String, String)>,
    /// Where "Cancelar" leads.
    pub cancel: String,
    /// Why a confirmed action was refused (it is asked again, with this).
    pub error: Option<String>,
}

/// The confirmation page of `what`: 200, or 409 when it carries the
/// reason a confirmed action was refused.
pub fn confirm_page(
    state: &crate::state::AppState,
    page: &PageContext,
    what: &Confirmation,
) -> crate::error::AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let html = render_page(
        state,
        "confirm.html",
        page,
        minijinja::context! { confirmation => what, confirm_field => CONFIRM_FIELD },
    )?;
    let status = if what.error.is_some() {
        axum::http::StatusCode::CONFLICT
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, html).into_response())
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn times_show_in_the_configured_zone() {
        let zone: chrono_tz::Tz = "America/Santiago".parse().unwrap();
        // Entered at 22:56 in Santiago (summer, UTC−3): stored as 01:56 UTC
        // the next day.
        let stored = Value::from("2026-12-02T01:56:36.580299110Z");
        assert_eq!(
            local_time(&stored, zone, "%d-%m-%Y %H:%M"),
            "01-12-2026 22:56"
        );
        // Winter: UTC−4.
        let winter = Value::from("2026-07-01T12:00:00Z");
        assert_eq!(
            local_time(&winter, zone, "%d-%m-%Y %H:%M"),
            "01-07-2026 08:00"
        );
        assert_eq!(local_time(&Value::from(()), zone, "%d-%m-%Y"), "");
        assert_eq!(local_time(&Value::from("—"), zone, "%d-%m-%Y"), "—");
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-02T01:56:36.58Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(csv_time(t, zone), "2026-12-01T22:56:36-03:00");
    }

    #[test]
    fn a_day_begins_at_local_midnight_or_the_first_minute_after() {
        let zone: chrono_tz::Tz = "America/Santiago".parse().unwrap();
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            day_start(day("2026-12-07"), zone).to_rfc3339(),
            "2026-12-07T03:00:00+00:00"
        );
        // 2026-09-06: clocks jump from 00:00 to 01:00 (UTC−4 to UTC−3).
        assert_eq!(
            day_start(day("2026-09-06"), zone).to_rfc3339(),
            "2026-09-06T04:00:00+00:00"
        );
    }
}
