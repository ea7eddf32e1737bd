//! Route access: what each route requires (`Access`), where that is
//! declared (`AccessMap`, `Pages`), and the `authorize` layer that resolves
//! the caller and enforces it — plus CSRF protection for cookie-based
//! requests.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodFilter, on};
use http_body_util::BodyExt;
use utoipa::openapi::OpenApi;

use super::principal::{AuthMethod, ClientIp};
use super::session::{self, CSRF_FIELD, CSRF_HEADER};
use crate::error::{AppError, Problem};
use crate::http::problem::is_api_path;
use crate::state::AppState;

/// What a route requires of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user or API key.
    Authenticated,
    /// A caller whose role or key grants this permission.
    Permission(Cow<'static, str>),
}

impl Access {
    pub const fn perm(permission: super::Permission) -> Self {
        Access::Permission(Cow::Borrowed(permission.as_str()))
    }
}

/// A page that requires a permission names it: `.get("/orders",
/// perms::ORDERS_READ, list)`.
impl From<super::Permission> for Access {
    fn from(permission: super::Permission) -> Self {
        Access::perm(permission)
    }
}

/// API routes (from `routes!`) that require `permission`: the permission
/// is written once, at the mount, and lands in each operation's OpenAPI
/// `security`, which the `authorize` layer enforces.
pub fn secured<S>(
    permission: super::Permission,
    (schemas, mut paths, router): utoipa_axum::router::UtoipaMethodRouter<S>,
) -> utoipa_axum::router::UtoipaMethodRouter<S> {
    use utoipa::openapi::security::SecurityRequirement;
    for item in paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            op.security = Some(vec![SecurityRequirement::new(
                SECURITY_SCHEME,
                [permission.as_str()],
            )]);
        }
    }
    (schemas, paths, router)
}

/// The access of every route, by method and route template.
#[derive(Debug, Default, Clone)]
pub struct AccessMap {
    routes: HashMap<(Method, String), Access>,
}

/// The OpenAPI security scheme API routes name in `security(...)`.
pub const SECURITY_SCHEME: &str = "bearer";

impl AccessMap {
    pub fn insert(&mut self, method: Method, path: &str, access: Access) {
        self.routes.insert((method, path.to_owned()), access);
    }

    pub fn get(&self, method: &Method, path: &str) -> Option<&Access> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.routes.get(&(method.clone(), path.to_owned()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&(Method, String), &Access)> {
        self.routes.iter()
    }

    /// Reads each operation's `security` requirement: `security(())` is
    /// public, `security(("bearer" = []))` needs a signed-in caller, and
    /// `security(("bearer" = ["perm"]))` needs the permission. An operation
    /// that states none is an error: nothing is reachable by omission.
    pub fn add_openapi(&mut self, doc: &OpenApi) -> Result<(), String> {
        let mut missing = Vec::new();
        for (path, item) in &doc.paths.paths {
            let ops = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                let security = serde_json::to_value(&op.security).unwrap_or_default();
                match access_of(&security) {
                    Some(access) => self.insert(method, path, access),
                    None => missing.push(format!("{method} {path}")),
                }
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "routes without a declared access (add `security(...)`): {}",
                missing.join(", ")
            ))
        }
    }
}

fn access_of(security: &serde_json::Value) -> Option<Access> {
    let requirements = security.as_array()?;
    let first = requirements.first()?.as_object()?;
    if first.is_empty() {
        return Some(Access::Public);
    }
    let scopes = first.get(SECURITY_SCHEME)?.as_array()?;
    match scopes.first().and_then(|s| s.as_str()) {
        None => Some(Access::Authenticated),
        Some(perm) => Some(Access::Permission(Cow::Owned(perm.to_owned()))),
    }
}

/// HTML routes with their access, declared together so a page cannot exist
/// without one.
pub struct Pages {
    router: Router<AppState>,
    access: Vec<(Method, String, Access)>,
}

impl Default for Pages {
    fn default() -> Self {
        Self::new()
    }
}

impl Pages {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            access: Vec::new(),
        }
    }

    pub fn get<H, T>(self, path: &str, access: impl Into<Access>, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.on(Method::GET, path, access.into(), handler)
    }

    pub fn post<H, T>(self, path: &str, access: impl Into<Access>, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.on(Method::POST, path, access.into(), handler)
    }

    pub fn on<H, T>(mut self, method: Method, path: &str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        #[allow(clippy::expect_used)]
        let filter = MethodFilter::try_from(method.clone()).expect("a routable method");
        self.router = self.router.route(path, on(filter, handler));
        self.access.push((method, path.to_owned(), access));
        self
    }

    pub fn merge(mut self, other: Pages) -> Self {
        self.router = self.router.merge(other.router);
        self.access.extend(other.access);
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<(Method, String, Access)>) {
        (self.router, self.access)
    }
}

/// Resolves the caller, enforces the route's access and CSRF, and hands the
/// `Principal` to the handler. Installed with `route_layer`, so it knows the
/// matched route.
pub async fn authorize(
    State((state, map)): State<(AppState, Arc<AccessMap>)>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let is_api = is_api_path(req.uri().path());
    let Some(access) = map.get(req.method(), &path).cloned() else {
        tracing::error!(route = %path, method = %req.method(), "route declares no access; refused");
        return AppError::Forbidden.into_response();
    };

    let ip = client_ip(&req, &state.config().http.trusted_proxies);
    req.extensions_mut().insert(ClientIp(ip));

    let principal = match super::service::resolve(&state, req.headers()).await {
        Ok(p) => p,
        Err(e) if access == Access::Public => {
            tracing::debug!(error = ?e, "ignoring invalid credentials on a public route");
            None
        }
        Err(AppError::Unauthorized) => return bearer_challenge(),
        Err(e) => return e.into_response(),
    };

    // CSRF: every unsafe request that a browser could send on its own
    // (cookie-authenticated API calls and every page form).
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let cookie_auth = principal
        .as_ref()
        .is_some_and(|p| p.method == AuthMethod::Session);
    let mut new_presession = None;
    if !is_api {
        let seed = match session::csrf_seed(req.headers()) {
            Some(seed) => seed,
            None => {
                let seed = crate::secrets::random_token(32);
                new_presession = Some(seed.clone());
                seed
            }
        };
        req.extensions_mut()
            .insert(session::CsrfToken(state.auth().csrf_token(&seed)));
    }
    if unsafe_method && (!is_api || cookie_auth) {
        let (ok, rebuilt) = check_csrf(&state, req).await;
        req = rebuilt;
        if !ok {
            return Problem::new(StatusCode::FORBIDDEN, "csrf_invalid").into_response();
        }
    }

    match (&access, &principal) {
        (Access::Public, _) => {}
        (_, None) => {
            return if is_api {
                bearer_challenge()
            } else if req.method() == Method::GET && accepts_html(req.headers()) {
                let next_path = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                Redirect::to(&format!("/login?next={}", urlencode(next_path))).into_response()
            } else {
                AppError::Unauthorized.into_response()
            };
        }
        (Access::Authenticated, Some(_)) => {}
        (Access::Permission(perm), Some(p)) => {
            if !p.can(perm) {
                crate::audit::record_denial(state.audit_writer(), p, ip, req.method(), &path, perm)
                    .await;
                return AppError::Forbidden.into_response();
            }
        }
    }
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    let mut response = next.run(req).await;
    if let Some(seed) = new_presession
        && let Ok(v) = HeaderValue::from_str(&session::presession_cookie(state.config(), &seed))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// Compares the submitted CSRF token (header, or `_csrf` in a form body)
/// with the one derived from the caller's cookie. Returns the request,
/// rebuilt if its body had to be read.
async fn check_csrf(state: &AppState, req: Request) -> (bool, Request) {
    let Some(seed) = session::csrf_seed(req.headers()) else {
        return (false, req);
    };
    let expected = state.auth().csrf_token(&seed);
    if let Some(sent) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        let ok = super::token::constant_time_eq(sent.as_bytes(), expected.as_bytes());
        return (ok, req);
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    if is_multipart {
        return check_multipart_csrf(&expected, req).await;
    }
    if !is_form {
        return (false, req);
    }
    let limit = state.config().http.body_limit;
    let (parts, body) = req.into_parts();
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return (false, Request::from_parts(parts, Body::empty())),
    };
    let ok = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .is_some_and(|(_, v)| super::token::constant_time_eq(v.as_bytes(), expected.as_bytes()));
    (ok, Request::from_parts(parts, Body::from(bytes)))
}

/// The most of a multipart body read to find its `_csrf` field.
const MULTIPART_CSRF_PEEK: usize = 8 * 1024;

/// A multipart form (a file upload) carries `_csrf` as its *first* field:
/// forms put the hidden input first and browsers send fields in order.
/// Only that first part is read here; the body goes on to the handler
/// whole, so an upload is never buffered.
async fn check_multipart_csrf(expected: &str, req: Request) -> (bool, Request) {
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let Some(boundary) = boundary else {
        return (false, req);
    };
    let closing = format!("\r\n--{boundary}");
    let (parts, mut body) = req.into_parts();
    let mut head: Vec<u8> = Vec::new();
    while head.len() < MULTIPART_CSRF_PEEK && find(&head, closing.as_bytes()).is_none() {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    head.extend_from_slice(&data);
                }
            }
            Some(Err(_)) => return (false, Request::from_parts(parts, Body::empty())),
            None => break,
        }
    }
    let ok = first_part_value(&head, &boundary, "_csrf")
        .is_some_and(|v| super::token::constant_time_eq(v, expected.as_bytes()));
    let head = axum::body::Bytes::from(head);
    let rest = body.into_data_stream();
    let whole = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, axum::Error>(head) }),
        rest,
    );
    (ok, Request::from_parts(parts, Body::from_stream(whole)))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of the first part of a multipart body, if that part is the
/// field `name`.
fn first_part_value<'a>(buf: &'a [u8], boundary: &str, name: &str) -> Option<&'a [u8]> {
    let rest = buf.strip_prefix(format!("--{boundary}\r\n").as_bytes())?;
    let headers_end = find(rest, b"\r\n\r\n")?;
    let headers = std::str::from_utf8(&rest[..headers_end]).ok()?;
    let wanted = format!("name=\"{name}\"");
    let named = headers
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("content-disposition:") && l.contains(&wanted));
    if !named {
        return None;
    }
    let value = &rest[headers_end + 4..];
    let end = find(value, format!("\r\n--{boundary}").as_bytes())?;
    Some(&value[..end])
}

/// The socket peer, or the client named by `X-Forwarded-For` when the peer
/// is one of the configured trusted proxies.
fn client_ip(req: &Request, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match peer {
        Some(peer) if trusted.contains(&peer) => req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                // The right-most address not added by a trusted proxy.
                v.split(',')
                    .rev()
                    .filter_map(|s| s.trim().parse::<IpAddr>().ok())
                    .find(|ip| !trusted.contains(ip))
            })
            .or(Some(peer)),
        other => other,
    }
}

/// 401 with the challenge RFC 6750 asks for.
fn bearer_challenge() -> Response {
    let mut res = AppError::Unauthorized.into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"faena\""),
    );
    res
}

/// A browser navigating (it is sent to the sign-in page); anything else,
/// like a metrics scraper, gets a plain 401.
fn accepts_html(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn security_requirements_become_access() {
        assert_eq!(access_of(&json!([{}])), Some(Access::Public));
        assert_eq!(
            access_of(&json!([{"bearer": []}])),
            Some(Access::Authenticated)
        );
        assert_eq!(
            access_of(&json!([{"bearer": ["wms.orders.read"]}])),
            Some(Access::Permission("wms.orders.read".into()))
        );
        assert_eq!(access_of(&json!(null)), None);
        assert_eq!(access_of(&json!([])), None);
    }
}
