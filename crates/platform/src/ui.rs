//! The UI shell: templates (minijinja, autoescaped), the base layout, the
//! embedded static assets and the per-request page context.
//!
//! Modules add their own templates and extend `layout.html`; every text goes
//! through `t("key", name=value)`, so there is one translation mechanism.

pub mod list;
pub mod page;
pub mod shell;

pub use page::PageContext;
pub use shell::{Asset, NavEntry, PLATFORM_ASSETS, PLATFORM_TEMPLATES, Ui};

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

/// The zone the caller reads times in (`AppState::zone_for`), for
/// handlers that show, filter or export times: `Zone(zone): Zone`.
#[derive(Debug, Clone, Copy)]
pub struct Zone(pub chrono_tz::Tz);

impl axum::extract::FromRequestParts<crate::state::AppState> for Zone {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Zone(state.zone_for(
            parts.extensions.get::<crate::auth::Principal>(),
        )))
    }
}

/// Today's date in `zone`.
pub fn today(zone: chrono_tz::Tz) -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&zone).date_naive()
}

impl PageContext {
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

/// What a detail page's address may carry after an action: the message of
/// the action that led here (`?ok=saved`) and why an attachment was
/// refused (`files_error=<code>`, see `files::pages::panel`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct DetailQuery {
    pub ok: Option<String>,
    pub files_error: Option<String>,
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
    use minijinja::value::Value;

    use super::shell::local_time;
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
