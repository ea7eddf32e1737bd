//! The one way a create answers: `201 Created`, `Location` naming where the
//! new resource is read, `ETag` when it is versioned, and the resource.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::Json;
use super::etag::etag;
use crate::error::AppError;

#[derive(Debug)]
pub struct Created<T> {
    location: String,
    version: Option<i32>,
    body: T,
}

impl<T: Serialize> Created<T> {
    /// `location` is an absolute path built from the resource's own key
    /// (`/api/orders/ORD-000001`); every create route's `Location` is
    /// followed by a test and must answer 200.
    pub fn at(location: impl Into<String>, body: T) -> Self {
        Self {
            location: location.into(),
            version: None,
            body,
        }
    }

    /// A versioned resource: also its `ETag`, for a later `If-Match`.
    pub fn versioned(location: impl Into<String>, version: i32, body: T) -> Self {
        Self {
            location: location.into(),
            version: Some(version),
            body,
        }
    }
}

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        // The key was validated when the resource was made; a value that
        // still cannot be a header is a bug, reported as one.
        let Ok(location) = HeaderValue::try_from(self.location.as_str()) else {
            return AppError::Internal(anyhow::anyhow!(
                "the location {:?} is not a valid header value",
                self.location
            ))
            .into_response();
        };
        let mut response = (StatusCode::CREATED, Json(self.body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, location);
        if let Some(v) = self.version {
            let (name, value) = etag(v);
            headers.insert(name, value);
        }
        response
    }
}
