//! What a page knows of its request: language, path, request id, the
//! signed-in caller and the CSRF token its forms send.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::auth::perms;
use crate::i18n::Locale;

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

    /// The header's user and what it may show, from the caller.
    pub(crate) fn signed_in_as(&mut self, p: crate::auth::Principal) {
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
