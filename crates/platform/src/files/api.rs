//! The files API: upload to a record, list its files, download (current
//! version, any version, the thumbnail), replace, delete, and signed links.
//!
//! Every route needs a signed-in caller; what else it needs depends on the
//! record the file hangs on, so each handler checks the owner's read or
//! attach permission (403 without it). The signed-link download is public:
//! the link is the permission.

use axum::body::Body;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::jobs::thumbnail_type;
use super::service::{self, FileView, LinkView, Need, VersionView};
use super::{ThumbnailState, upload};
use crate::auth::Principal;
use crate::auth::principal::Actor;
use crate::error::{AppError, AppResult};
use crate::http::Created;
use crate::http::pagination::{Page, PageQuery};
use crate::http::{Json, Query};
use crate::state::AppState;

/// A `multipart/form-data` upload.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadRequest {
    /// The file. Its type is sniffed from the content and must agree with
    /// the name's extension.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// How long the link works, in minutes (default 15, capped by
    /// `files.link_max_minutes`).
    pub minutes: Option<u64>,
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_files, upload_file))
        .routes(routes!(find_file, delete_file))
        .routes(routes!(download_file))
        .routes(routes!(download_thumbnail))
        .routes(routes!(list_versions, replace_file))
        .routes(routes!(download_version))
        .routes(routes!(create_file_link))
        .routes(routes!(download_shared_file))
}

/// The files attached to a record, newest first.
#[utoipa::path(get, path = "/api/attachments/{owner_kind}/{owner_id}", tag = "files",
    security(("bearer" = [])),
    params(("owner_kind" = String, Path, description = "Kind of record, e.g. `wms.order`"),
        ("owner_id" = String, Path, description = "The record's id, e.g. an order number"),
        PageQuery),
    responses((status = 200, body = Page<FileView>),
        (status = 403, description = "No read permission on the record"),
        (status = 404, description = "No such record")))]
async fn list_files(
    State(state): State<AppState>,
    principal: Principal,
    Path((kind, owner_id)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<FileView>>> {
    let owner_id =
        service::authorize_owner(&state, &principal, &kind, &owner_id, Need::Read).await?;
    Ok(Json(
        service::list(&state, &kind, &owner_id, &page)
            .await?
            .linked(&uri),
    ))
}

/// Attaches a file to a record (`multipart/form-data`, field `file`).
/// The type is sniffed from the content: a type not allowed, or a name
/// whose extension disagrees with the content, is refused with 415; a
/// file over its size limit with 413. Nothing is stored then.
#[utoipa::path(post, path = "/api/attachments/{owner_kind}/{owner_id}", tag = "files",
    security(("bearer" = [])),
    params(("owner_kind" = String, Path, description = "Kind of record, e.g. `wms.order`"),
        ("owner_id" = String, Path, description = "The record's id")),
    request_body(content = UploadRequest, content_type = "multipart/form-data"),
    responses((status = 201, body = FileView),
        (status = 403, description = "No permission to attach to the record"),
        (status = 404, description = "No such record"),
        (status = 413, description = "Over the size limit of its type"),
        (status = 415, description = "Type not allowed, or the name lies about it"),
        (status = 422, description = "No file field")))]
async fn upload_file(
    State(state): State<AppState>,
    principal: Principal,
    actor: Actor,
    Path((kind, owner_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Created<FileView>> {
    let owner_id =
        service::authorize_owner(&state, &principal, &kind, &owner_id, Need::Attach).await?;
    let file_id = Uuid::now_v7();
    let (_, staged) = upload::read_form(state.files(), &headers, body, file_id).await;
    let view = service::create(&state, &actor, &kind, &owner_id, file_id, staged?).await?;
    Ok(Created::at(format!("/api/files/{}", view.id), view))
}

/// One file: its current version and thumbnail state.
#[utoipa::path(get, path = "/api/files/{id}", tag = "files",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "File id")),
    responses((status = 200, body = FileView),
        (status = 403, description = "No read permission on the record"),
        (status = 404, description = "No such file")))]
async fn find_file(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> AppResult<Json<FileView>> {
    let f = service::authorize_file(&state, &principal, id, Need::Read).await?;
    Ok(Json(service::view(&state, &f).await?))
}

/// Deletes a file with all its versions (the objects are purged by a job).
#[utoipa::path(delete, path = "/api/files/{id}", tag = "files",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "File id")),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "No permission to attach to the record"),
        (status = 404, description = "No such file")))]
async fn delete_file(
    State(state): State<AppState>,
    principal: Principal,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    service::authorize_file(&state, &principal, id, Need::Attach).await?;
    service::delete(&state, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Downloads the current version.
#[utoipa::path(get, path = "/api/files/{id}/content", tag = "files",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "File id")),
    responses((status = 200, description = "The bytes, with the sniffed content type",
            content_type = "application/octet-stream"),
        (status = 403, description = "No read permission on the record"),
        (status = 404, description = "No such file")))]
async fn download_file(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let f = service::authorize_file(&state, &principal, id, Need::Read).await?;
    let v = service::version_of(state.db(), f.id, f.current_version)
        .await?
        .ok_or(AppError::NotFound)?;
    send_version(&state, &v).await
}

/// Downloads the thumbnail of the current version (404 until it is made,
/// and for files that are not images).
#[utoipa::path(get, path = "/api/files/{id}/thumbnail", tag = "files",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "File id")),
    responses((status = 200, description = "A PNG or JPEG image", content_type = "image/png"),
        (status = 403, description = "No read permission on the record"),
        (status = 404, description = "No such file, or no thumbnail yet")))]
async fn download_thumbnail(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let f = service::authorize_file(&state, &principal, id, Need::Read).await?;
    let v = service::version_of(state.db(), f.id, f.current_version)
        .await?
        .ok_or(AppError::NotFound)?;
    let (ThumbnailState::Ready, Some(key)) = (
        ThumbnailState::parse(&v.thumbnail),
        v.thumbnail_key.as_deref(),
    ) else {
        return Err(AppError::NotFound);
    };
    let mut res = stream_object(&state, key).await?;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(thumbnail_type(&v.content_type)),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(res)
}

/// Every version of a file, newest first.
#[utoipa::path(get, path = "/api/files/{id}/versions", tag = "files",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "File id")),
    responses((status = 200, body = Vec<VersionView>),
        (status = 403, description = "No read permission on the record"),
        (status = 404, description = "No such file")))]
async fn list_versions(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> AppResult<Json<Vec<VersionView>>> {
    let f = service::authorize_file(&state, &principal, id, Need::Read).await?;
    Ok(Json(service::versions(&state, f.id).await?))
}

/// Replaces a file with new content (`multipart/form-data`, field `file`):
/// it becomes the next version; earlier versions stay downloadable.
#[utoipa::path(post, path = "/api/files/{id}/versions", tag = "files",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "File id")),
    request_body(content = UploadRequest, content_type = "multipart/form-data"),
    responses((status = 201, body = FileView),
        (status = 403, description = "No permission to attach to the record"),
        (status = 404, description = "No such file"),
        (status = 413, description = "Over the size limit of its type"),
        (status = 415, description = "Type not allowed, or the name lies about it")))]
async fn replace_file(
    State(state): State<AppState>,
    principal: Principal,
    actor: Actor,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Created<FileView>> {
    let f = service::authorize_file(&state, &principal, id, Need::Attach).await?;
    let (_, staged) = upload::read_form(state.files(), &headers, body, f.id).await;
    let view = service::replace(&state, &actor, f.id, staged?).await?;
    let location = format!("/api/files/{}/versions/{}/content", view.id, view.version);
    Ok(Created::at(location, view))
}

/// Downloads one version of a file.
#[utoipa::path(get, path = "/api/files/{id}/versions/{version}/content", tag = "files",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "File id"),
        ("version" = i32, Path, description = "Version number, from 1")),
    responses((status = 200, description = "The bytes of that version",
            content_type = "application/octet-stream"),
        (status = 403, description = "No read permission on the record"),
        (status = 404, description = "No such file or version")))]
async fn download_version(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, number)): Path<(Uuid, String)>,
) -> AppResult<Response> {
    let f = service::authorize_file(&state, &principal, id, Need::Read).await?;
    let number: i32 = number.parse().map_err(|_| AppError::NotFound)?;
    let v = service::version_of(state.db(), f.id, number)
        .await?
        .ok_or(AppError::NotFound)?;
    send_version(&state, &v).await
}

/// Creates a signed link to the current version that downloads without
/// signing in until it expires.
#[utoipa::path(post, path = "/api/files/{id}/links", tag = "files",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "File id")),
    request_body = LinkRequest,
    responses((status = 201, body = LinkView),
        (status = 403, description = "No permission to attach to the record"),
        (status = 404, description = "No such file"),
        (status = 422, description = "minutes out of range")))]
async fn create_file_link(
    State(state): State<AppState>,
    principal: Principal,
    actor: Actor,
    Path(id): Path<Uuid>,
    Json(req): Json<LinkRequest>,
) -> AppResult<Created<LinkView>> {
    let f = service::authorize_file(&state, &principal, id, Need::Attach).await?;
    let link = service::create_link(&state, &actor, &f, req.minutes).await?;
    Ok(Created::at(link.url.clone(), link))
}

/// Downloads through a signed link, without a session.
#[utoipa::path(get, path = "/api/file-links/{token}", tag = "files",
    security(()),
    params(("token" = String, Path, description = "The token of a signed link")),
    responses((status = 200, description = "The bytes of the linked version",
            content_type = "application/octet-stream"),
        (status = 403, description = "Not a valid link (tampered or not ours)"),
        (status = 404, description = "The file was deleted"),
        (status = 410, description = "The link expired")))]
async fn download_shared_file(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let v = service::resolve_link(&state, &token).await?;
    let mut res = send_version(&state, &v).await?;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn stream_object(state: &AppState, key: &str) -> AppResult<Response> {
    let got = match state.files().store().get(&ObjectPath::from(key)).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => {
            tracing::error!(key, "a file's object is missing from the store");
            return Err(AppError::NotFound);
        }
        Err(e) => {
            return Err(AppError::Internal(
                anyhow::Error::new(e).context("reading from the file store"),
            ));
        }
    };
    let size = got.meta.size;
    let mut res = Body::from_stream(got.into_stream()).into_response();
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(res)
}

/// The bytes of a version as an attachment, with its sniffed type, its
/// name and its checksum.
pub async fn send_version(
    state: &AppState,
    v: &super::entity::version::Model,
) -> AppResult<Response> {
    let mut res = stream_object(state, &v.storage_key).await?;
    let h = res.headers_mut();
    if let Ok(ct) = HeaderValue::from_str(&v.content_type) {
        h.insert(header::CONTENT_TYPE, ct);
    }
    if let Ok(cd) = HeaderValue::from_str(&content_disposition(&v.name)) {
        h.insert(header::CONTENT_DISPOSITION, cd);
    }
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", v.sha256)) {
        h.insert(header::ETAG, etag);
    }
    if let Ok(sum) = HeaderValue::from_str(&v.sha256) {
        h.insert("x-checksum-sha256", sum);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(res)
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 one
/// (RFC 6266 / RFC 8187).
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_travel_safely_in_the_header() {
        assert_eq!(
            content_disposition("guía \"final\".pdf"),
            "attachment; filename=\"gu_a _final_.pdf\"; filename*=UTF-8''gu%C3%ADa%20%22final%22.pdf"
        );
    }
}
