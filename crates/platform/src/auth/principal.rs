//! Who is calling: resolved once per request by the `authorize` layer from
//! a JWT, an API key or a session cookie, and handed to handlers.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::error::AppError;

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    AccessToken,
    ApiKey,
    Session,
}

#[derive(Debug, Clone)]
pub enum Subject {
    User {
        id: Uuid,
        email: String,
        role: String,
    },
    ApiKey {
        id: Uuid,
        name: String,
    },
}

/// An authenticated caller and what it may do.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: Subject,
    pub method: AuthMethod,
    /// Permission patterns granted (the role's, or the API key's).
    pub patterns: Arc<Vec<String>>,
    /// The zone the user chose to read times in; `None`: the configured
    /// one (always for an API key).
    pub time_zone: Option<chrono_tz::Tz>,
}

impl Principal {
    pub fn can(&self, permission: impl AsRef<str>) -> bool {
        let permission = permission.as_ref();
        self.patterns
            .iter()
            .any(|p| super::permission::pattern_matches(p, permission))
    }

    pub fn user_id(&self) -> Option<Uuid> {
        match &self.subject {
            Subject::User { id, .. } => Some(*id),
            Subject::ApiKey { .. } => None,
        }
    }

    /// Stable id for the audit log: the user's or the key's.
    pub fn actor_id(&self) -> String {
        match &self.subject {
            Subject::User { id, .. } => id.to_string(),
            Subject::ApiKey { id, .. } => format!("api_key:{id}"),
        }
    }

    /// Human label for the audit log.
    pub fn label(&self) -> String {
        match &self.subject {
            Subject::User { email, .. } => email.clone(),
            Subject::ApiKey { name, .. } => format!("API key «{name}»"),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(AppError::Unauthorized)
    }
}

/// Who did something and from where: what every audit entry records.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub id: Option<String>,
    pub label: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

impl Actor {
    /// The process itself (CLI, scheduled work).
    pub fn system(label: &str) -> Self {
        Actor {
            id: None,
            label: label.to_owned(),
            ip: None,
            request_id: None,
        }
    }

    pub fn anonymous(ip: Option<IpAddr>, request_id: Option<String>) -> Self {
        Actor {
            id: None,
            label: "anonymous".into(),
            ip: ip.map(|i| i.to_string()),
            request_id,
        }
    }
}

/// The caller's address: the socket peer, or the first `X-Forwarded-For`
/// hop when the peer is a trusted proxy (see `http.trusted_proxies`).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or(ClientIp(None)))
    }
}

/// The socket peer's address itself (a proxy's, behind one), when known.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ClientIp>().and_then(|c| c.0);
        let request_id = parts
            .headers
            .get(crate::http::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(match parts.extensions.get::<Principal>() {
            Some(p) => Actor {
                id: Some(p.actor_id()),
                label: p.label(),
                ip: ip.map(|i| i.to_string()),
                request_id,
            },
            None => Actor::anonymous(ip, request_id),
        })
    }
}
