//! `AppError`, the one error type of handlers, and `Problem`, its
//! language-neutral description.
//!
//! An `AppError` never writes text itself: it attaches a `Problem` (a stable
//! code, parameters, field errors) to the response, and the problem layer in
//! `http::problem` writes it in the request's language, as RFC 9457
//! problem+json under `/api` and as an error page elsewhere.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;

pub type AppResult<T> = Result<T, AppError>;

/// The code of a 503 answered while the database cannot be reached.
pub const DATABASE_UNAVAILABLE: &str = "database_unavailable";

/// One invalid input field.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field in the request (`lines[2].quantity`).
    pub field: String,
    /// Stable machine code (`required`, `invalid`, `too_long`, `taken` …);
    /// the message is `validation.<code>` in the catalogs.
    pub code: Cow<'static, str>,
    #[serde(skip)]
    pub params: Vec<(&'static str, String)>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            params: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.params.push((name, value.to_string()));
        self
    }
}

/// Collects field errors while a request is parsed, so that every invalid
/// field is reported at once.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Records the error of a parse and yields its value.
    pub fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(e);
                None
            }
        }
    }

    /// `Ok(())` when nothing was recorded.
    pub fn finish(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self))
        }
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        AppError::Validation(FieldErrors(vec![e]))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("authentication required")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("invalid input")]
    Validation(FieldErrors),
    /// The request is well-formed but contradicts the current state.
    #[error("conflict: {code}")]
    Conflict {
        code: &'static str,
        field: Option<String>,
        params: Vec<(&'static str, String)>,
    },
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// The request cannot be read at all (malformed JSON, bad encoding).
    #[error("bad request: {code}")]
    BadRequest {
        code: &'static str,
        params: Vec<(&'static str, String)>,
    },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge,
    /// A fully described problem (extension members and all).
    #[error("{}", .0.code)]
    Problem(Box<Problem>),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn conflict(code: &'static str) -> Self {
        AppError::Conflict {
            code,
            field: None,
            params: Vec::new(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Problem(p) => p.status,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The language-neutral description the problem layer renders.
    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        match self {
            AppError::Validation(errors) => {
                let mut p = Problem::new(status, "validation_failed");
                p.errors = errors.0.clone();
                p
            }
            AppError::Conflict {
                code,
                field,
                params,
            } => {
                let mut p = Problem::new(status, *code);
                p.params = params.clone();
                if let Some(field) = field {
                    p.errors
                        .push(FieldError::new(field.clone(), "taken").with("field", field));
                }
                p
            }
            AppError::BadRequest { code, params } => {
                let mut p = Problem::new(status, *code);
                p.params = params.clone();
                p
            }
            AppError::Problem(p) => (**p).clone(),
            AppError::TooManyRequests { retry_after_secs } => {
                let mut p = Problem::new(status, "too_many_requests");
                p.retry_after = Some(*retry_after_secs);
                p.params.push(("seconds", retry_after_secs.to_string()));
                p
            }
            other => Problem::from_status(other.status()),
        }
    }
}

/// What went wrong, before it is put into words.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    /// Stable code clients can act on; the title is `error.<code>`.
    pub code: Cow<'static, str>,
    pub params: Vec<(&'static str, String)>,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
    /// Extra members for the problem document (e.g. `allowed` states).
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code: code.into(),
            params: Vec::new(),
            errors: Vec::new(),
            retry_after: None,
            extensions: serde_json::Map::new(),
        }
    }

    /// The generic problem for a status that carries no detail (a framework
    /// rejection, an unknown route).
    pub fn from_status(status: StatusCode) -> Self {
        let code = match status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::NOT_ACCEPTABLE => "not_acceptable",
            StatusCode::REQUEST_TIMEOUT => "request_timeout",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PRECONDITION_FAILED => "precondition_failed",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
            StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
            StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
            StatusCode::GATEWAY_TIMEOUT => "request_timeout",
            s if s.is_server_error() => "internal",
            _ => "bad_request",
        };
        Problem::new(status, code)
    }

    pub fn with_extension(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extensions.insert(key.to_owned(), value);
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(error) = &self {
            // The cause stays in the log (with the request id of the span);
            // the client gets a bare 500.
            tracing::error!(error = format!("{error:#}"), "internal error");
        }
        self.to_problem().into_response()
    }
}

/// Database facts mapped to client facts, once, for every module.
impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => AppError::Conflict {
                code: "duplicate",
                field: unique_violation_field(&detail),
                params: Vec::new(),
            },
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => AppError::Conflict {
                code: "referenced",
                field: None,
                params: Vec::new(),
            },
            _ => match err {
                e if crate::db::is_busy(&e) => {
                    tracing::warn!(error = %e, "database busy; answered 503");
                    let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "database_busy");
                    p.retry_after = Some(1);
                    AppError::Problem(Box::new(p))
                }
                DbErr::RecordNotFound(_) => AppError::NotFound,
                DbErr::RecordNotUpdated => AppError::PreconditionFailed,
                e if crate::db::is_unreachable(&e) => {
                    tracing::warn!(error = %e, "database unavailable; answered 503");
                    let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE);
                    p.retry_after = Some(2);
                    AppError::Problem(Box::new(p))
                }
                other => AppError::Internal(anyhow::Error::new(other)),
            },
        }
    }
}

/// Best effort: the column named by a unique-violation message, from
/// SQLite's `UNIQUE constraint failed: table.column` or PostgreSQL's
/// `Key (column)=(value) already exists` / constraint `table_column_key`.
fn unique_violation_field(detail: &str) -> Option<String> {
    if let Some(rest) = detail.split("UNIQUE constraint failed: ").nth(1) {
        let first = rest.split([',', ' ']).next()?;
        return first.rsplit('.').next().map(str::to_owned);
    }
    if let Some(rest) = detail.split("Key (").nth(1) {
        let column = rest.split(')').next()?;
        let column = column.trim_start_matches("lower(").trim_end_matches(')');
        return Some(column.split(',').next()?.trim().to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violation_names_the_column() {
        assert_eq!(
            unique_violation_field("UNIQUE constraint failed: clients.email").as_deref(),
            Some("email")
        );
        assert_eq!(
            unique_violation_field(
                "duplicate key value violates unique constraint \"x\" Key (email)=(a@b.cl) already exists."
            )
            .as_deref(),
            Some("email")
        );
        assert_eq!(unique_violation_field("something else"), None);
    }

    #[test]
    fn statuses_match_the_kind() {
        assert_eq!(AppError::NotFound.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            AppError::from(FieldError::new("name", "required")).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            AppError::TooManyRequests {
                retry_after_secs: 3
            }
            .to_problem()
            .retry_after,
            Some(3)
        );
    }
}
