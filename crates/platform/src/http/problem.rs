//! The problem layer: the one place where errors become words.
//!
//! Every error response passes through here. One carrying a `Problem` (from
//! an `AppError`) is written in the request's language; any other 4xx/5xx
//! without a body of ours (the framework's unknown route, wrong method,
//! body too large, timeout, a panic) is turned into the generic problem for
//! its status, so no plain-text rejection ever leaks out. Under `/api` the
//! answer is RFC 9457 `application/problem+json`, elsewhere an HTML page.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use crate::error::Problem;
use crate::i18n::Locale;
use crate::state::AppState;
use crate::ui::page::PageContext;

pub const PROBLEM_JSON: &str = "application/problem+json";

pub async fn render_problems(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_api = is_api_path(req.uri().path());
    let locale = Locale::from_headers(req.headers());
    let path = req.uri().path().to_owned();
    let is_head = req.method() == Method::HEAD;
    // An error page keeps the signed-in header: who the caller is, read
    // again (only if the answer is an error) from what identifies them.
    let headers = (!is_api).then(|| {
        let mut kept = axum::http::HeaderMap::new();
        for name in [header::COOKIE, header::AUTHORIZATION] {
            for value in req.headers().get_all(&name) {
                kept.append(name.clone(), value.clone());
            }
        }
        kept
    });
    let request_id = req
        .headers()
        .get(super::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let mut response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let problem = match response.extensions_mut().remove::<Problem>() {
        Some(problem) => problem,
        None if is_framework_response(&response) => Problem::from_status(status),
        None => return response,
    };

    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(locale.tag()),
    );
    if let Some(secs) = problem.retry_after {
        parts.headers.insert(header::RETRY_AFTER, secs.into());
    }
    let body = if is_api {
        parts
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        problem_json(&state, &problem, locale, &path, request_id.as_deref()).to_string()
    } else {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        let mut page = PageContext::new(locale, path, request_id);
        if let Some(headers) = &headers {
            page.identify(&state, headers).await;
        }
        error_page(&state, &problem, &page)
    };
    let body = if is_head {
        Body::empty()
    } else {
        Body::from(body)
    };
    Response::from_parts(parts, body)
}

pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// A response that carries no body of ours: no content type, or plain text.
fn is_framework_response(response: &Response) -> bool {
    match response.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(ct) => ct.as_bytes().starts_with(b"text/plain"),
    }
}

/// The RFC 9457 document for a problem.
pub fn problem_json(
    state: &AppState,
    problem: &Problem,
    locale: Locale,
    instance: &str,
    request_id: Option<&str>,
) -> Value {
    let i18n = state.i18n();
    let title = i18n.t(locale, &format!("error.{}", problem.code), &problem.params);
    let mut doc = json!({
        "type": format!("urn:faena:problem:{}", problem.code),
        "title": title,
        "status": problem.status.as_u16(),
        "code": problem.code,
        "instance": instance,
    });
    let detail_key = format!("error.{}.detail", problem.code);
    if i18n.has(Locale::Es, &detail_key) {
        doc["detail"] = i18n.t(locale, &detail_key, &problem.params).into();
    }
    if let Some(id) = request_id {
        doc["request_id"] = id.into();
    }
    if !problem.errors.is_empty() {
        let errors: Vec<Value> = problem
            .errors
            .iter()
            .map(|e| {
                // The field as the form labels it, where the catalogue
                // has a label (`field.<name>`); else its name.
                let label = i18n.t_or(locale, &format!("field.{}", e.field), &e.field);
                let mut params = e.params.clone();
                params.push(("field", label));
                json!({
                    "field": e.field,
                    "code": e.code,
                    "message": i18n.t(locale, &field_message_key(i18n, problem, e), &params),
                })
            })
            .collect();
        doc["errors"] = errors.into();
    }
    if let Value::Object(map) = &mut doc {
        for (k, v) in &problem.extensions {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    doc
}

/// A field error's message: `validation.<code>`, except that a conflict
/// over a taken value says what the conflict's own message says ("Ya
/// existe un cliente con ese correo") when the catalogue has one.
fn field_message_key(i18n: &crate::i18n::I18n, problem: &Problem, e: &crate::FieldError) -> String {
    let conflict = format!("error.{}", problem.code);
    if e.code == "taken" && problem.code != "duplicate" && i18n.has(Locale::Es, &conflict) {
        conflict
    } else {
        format!("validation.{}", e.code)
    }
}

fn error_page(state: &AppState, problem: &Problem, page: &PageContext) -> String {
    let doc = problem_json(
        state,
        problem,
        page.locale,
        &page.path,
        page.request_id.as_deref(),
    );
    state
        .ui()
        .render(
            "error.html",
            page,
            minijinja::context! { problem => doc, status => problem.status.as_u16() },
        )
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "error page failed to render");
            format!(
                "<!doctype html><title>{0}</title><h1>{0}</h1>",
                problem.status.as_u16()
            )
        })
}
