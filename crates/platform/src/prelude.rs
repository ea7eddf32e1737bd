//! What a module's API and page handlers reach for, in one import:
//! `use faena_platform::prelude::*;`. Names here are the ones every
//! handler file of the reference module uses; anything rarer is imported
//! by its own path.

pub use axum::Form;
pub use axum::extract::{OriginalUri, Path, RawQuery, State};
pub use axum::http::StatusCode;
pub use axum::response::{Html, IntoResponse, Redirect, Response};
pub use minijinja::context;
pub use serde::{Deserialize, Serialize};
pub use utoipa_axum::router::OpenApiRouter;
pub use utoipa_axum::routes;
pub use uuid::Uuid;

pub use crate::auth::{Access, Actor, Pages, secured};
pub use crate::http::etag::{IfMatch, etag};
pub use crate::http::pagination::{List, Page, PageQuery};
pub use crate::http::{Created, Json, Query};
pub use crate::ui::list::{ListRequest, ListSpec};
pub use crate::ui::{
    ConfirmForm, Confirmation, DetailQuery, PageContext, Zone, confirm_page, form_errors,
    render_page, unprocessable,
};
pub use crate::{AppError, AppResult, AppState, FieldError, FieldErrors};
