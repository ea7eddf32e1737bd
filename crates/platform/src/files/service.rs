//! File commands and queries: one transaction per command (rows, audit
//! entry and jobs together), objects written before the transaction and
//! removed again if it fails, so there is never a row without its object.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::entity::{file, version};
use super::jobs::{PurgeFile, Thumbnail};
use super::upload::Staged;
use super::{FileOwner, ThumbnailState, links};
use crate::audit::{self, Entry};
use crate::auth::Principal;
use crate::auth::principal::Actor;
use crate::error::{AppError, AppResult, FieldError, FieldErrors};
use crate::http::pagination::{List, Page, PageQuery};
use crate::jobs::{self, Enqueue};
use crate::state::AppState;

/// A file with its current version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileView {
    pub id: Uuid,
    /// The kind of record it is attached to (`wms.order`).
    pub owner_kind: String,
    pub owner_id: String,
    pub name: String,
    /// Sniffed from the content.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
    /// The current version's number (1 for a file never replaced).
    pub version: i32,
    /// `pending` until the thumbnail job has run, `none` for non-images.
    pub thumbnail: ThumbnailState,
    pub download_url: String,
    /// Present once the thumbnail is ready.
    pub thumbnail_url: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One version of a file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionView {
    pub version: i32,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub thumbnail: ThumbnailState,
    pub download_url: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A signed link.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkView {
    /// Path of the download, to put after the server's address.
    pub url: String,
    pub expires_at: DateTime<Utc>,
    /// The version the link downloads.
    pub version: i32,
}

fn file_view(f: &file::Model, v: &version::Model) -> FileView {
    let thumbnail = ThumbnailState::parse(&v.thumbnail);
    FileView {
        id: f.id,
        owner_kind: f.owner_kind.clone(),
        owner_id: f.owner_id.clone(),
        name: v.name.clone(),
        content_type: v.content_type.clone(),
        size: v.size,
        sha256: v.sha256.clone(),
        version: v.version,
        thumbnail,
        download_url: format!("/api/files/{}/content", f.id),
        thumbnail_url: (thumbnail == ThumbnailState::Ready)
            .then(|| format!("/api/files/{}/thumbnail", f.id)),
        created_by: f.created_by.clone(),
        created_at: f.created_at,
        updated_at: f.updated_at,
    }
}

fn version_view(v: &version::Model) -> VersionView {
    VersionView {
        version: v.version,
        name: v.name.clone(),
        content_type: v.content_type.clone(),
        size: v.size,
        sha256: v.sha256.clone(),
        thumbnail: ThumbnailState::parse(&v.thumbnail),
        download_url: format!("/api/files/{}/versions/{}/content", v.file_id, v.version),
        created_by: v.created_by.clone(),
        created_at: v.created_at,
    }
}

/// What the caller wants to do with an owner's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Attach,
}

fn owner_of<'a>(state: &'a AppState, kind: &str) -> AppResult<&'a dyn FileOwner> {
    state.files().owner(kind).ok_or(AppError::NotFound)
}

fn require(owner: &dyn FileOwner, principal: &Principal, need: Need) -> AppResult<()> {
    let perm = match need {
        Need::Read => owner.read_permission(),
        Need::Attach => owner.attach_permission(),
    };
    if principal.can(perm) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// The owner record, checked: unknown kind 404, missing permission 403
/// (before existence, which is not revealed), missing record 404.
/// Returns the owner's stored id.
pub async fn authorize_owner(
    state: &AppState,
    principal: &Principal,
    kind: &str,
    owner_id: &str,
    need: Need,
) -> AppResult<String> {
    let owner = owner_of(state, kind)?;
    require(owner, principal, need)?;
    let stored = owner
        .find(state.db(), owner_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !owner.visible_to(state.db(), &stored, principal).await? {
        return Err(AppError::NotFound);
    }
    Ok(stored)
}

/// A live file the caller may use as `need` asks.
pub async fn authorize_file(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    need: Need,
) -> AppResult<file::Model> {
    let f = find_live(state.db(), id).await?.ok_or(AppError::NotFound)?;
    let owner = owner_of(state, &f.owner_kind)?;
    require(owner, principal, need)?;
    if !owner.visible_to(state.db(), &f.owner_id, principal).await? {
        return Err(AppError::NotFound);
    }
    Ok(f)
}

async fn find_live(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<file::Model>, sea_orm::DbErr> {
    file::Entity::find_by_id(id)
        .filter(file::Column::DeletedAt.is_null())
        .one(db)
        .await
}

pub async fn version_of(
    db: &impl ConnectionTrait,
    file_id: Uuid,
    number: i32,
) -> Result<Option<version::Model>, sea_orm::DbErr> {
    version::Entity::find()
        .filter(version::Column::FileId.eq(file_id))
        .filter(version::Column::Version.eq(number))
        .one(db)
        .await
}

/// One file (its current version).
pub async fn view(state: &AppState, f: &file::Model) -> AppResult<FileView> {
    let v = version_of(state.db(), f.id, f.current_version)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(file_view(f, &v))
}

/// An owner's files, newest first: the position is the last file's id.
const FILES: List<Uuid> = List::new("platform.files");

/// The files of one owner, newest first.
pub async fn list(
    state: &AppState,
    kind: &str,
    owner_id: &str,
    page: &PageQuery,
) -> AppResult<Page<FileView>> {
    let mut errors = FieldErrors::new();
    let (limit, cursor) = FILES.read(page, &mut errors);
    errors.finish()?;
    let mut q = file::Entity::find()
        .filter(file::Column::OwnerKind.eq(kind))
        .filter(file::Column::OwnerId.eq(owner_id))
        .filter(file::Column::DeletedAt.is_null())
        .order_by_desc(file::Column::Id);
    if let Some(c) = cursor {
        q = q.filter(file::Column::Id.lt(c));
    }
    let rows = q.limit(limit + 1).all(state.db()).await?;
    let ids: Vec<Uuid> = rows.iter().map(|f| f.id).collect();
    let versions = if ids.is_empty() {
        Vec::new()
    } else {
        version::Entity::find()
            .filter(version::Column::FileId.is_in(ids))
            .all(state.db())
            .await?
    };
    let views: Vec<FileView> = rows
        .iter()
        .filter_map(|f| {
            versions
                .iter()
                .find(|v| v.file_id == f.id && v.version == f.current_version)
                .map(|v| file_view(f, v))
        })
        .collect();
    Ok(FILES.page(views, limit, |v| v.id))
}

/// Every version of a file, newest first.
pub async fn versions(state: &AppState, file_id: Uuid) -> AppResult<Vec<VersionView>> {
    Ok(version::Entity::find()
        .filter(version::Column::FileId.eq(file_id))
        .order_by_desc(version::Column::Version)
        .all(state.db())
        .await?
        .iter()
        .map(version_view)
        .collect())
}

fn version_row(file_id: Uuid, number: i32, staged: &Staged, actor: &Actor) -> version::ActiveModel {
    let thumbnail = if staged.kind.image {
        ThumbnailState::Pending
    } else {
        ThumbnailState::None
    };
    version::ActiveModel {
        id: Set(staged.version_id),
        file_id: Set(file_id),
        version: Set(number),
        name: Set(staged.name.clone()),
        content_type: Set(staged.kind.mime.to_owned()),
        size: Set(i64::try_from(staged.size).unwrap_or(i64::MAX)),
        sha256: Set(staged.sha256.clone()),
        storage_key: Set(staged.key.clone()),
        thumbnail: Set(thumbnail.as_str().to_owned()),
        thumbnail_key: Set(None),
        created_by: Set(actor.label.clone()),
        created_at: Set(Utc::now()),
    }
}

fn audit_value(staged: &Staged, number: i32) -> serde_json::Value {
    serde_json::json!({
        "name": staged.name, "content_type": staged.kind.mime, "size": staged.size,
        "sha256": staged.sha256, "version": number,
    })
}

async fn enqueue_thumbnail(
    db: &impl ConnectionTrait,
    staged: &Staged,
) -> Result<(), sea_orm::DbErr> {
    if staged.kind.image {
        jobs::enqueue(
            db,
            &Thumbnail {
                version_id: staged.version_id,
            },
            Enqueue {
                dedup_key: Some(format!("thumbnail:{}", staged.version_id)),
                run_at: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// The oldest live file attached to a record, if any (a certificate, the
/// first photo).
pub async fn first_of(
    db: &impl sea_orm::ConnectionTrait,
    kind: &str,
    owner_id: &str,
) -> Result<Option<Uuid>, sea_orm::DbErr> {
    Ok(file::Entity::find()
        .filter(file::Column::OwnerKind.eq(kind))
        .filter(file::Column::OwnerId.eq(owner_id))
        .filter(file::Column::DeletedAt.is_null())
        .order_by_asc(file::Column::Id)
        .one(db)
        .await?
        .map(|f| f.id))
}

/// Removes a staged object whose rows could not be written.
pub async fn discard(state: &AppState, staged: &Staged) {
    if let Err(e) =
        super::storage::delete_quietly(state.files().store().as_ref(), &staged.key).await
    {
        tracing::warn!(error = %e, key = %staged.key, "removing the object of a failed upload failed");
    }
}

/// Records a new file whose bytes are staged under `file_id`.
#[tracing::instrument(skip_all, fields(file.id = %file_id, owner.kind = kind))]
pub async fn create(
    state: &AppState,
    actor: &Actor,
    kind: &str,
    owner_id: &str,
    file_id: Uuid,
    staged: Staged,
) -> AppResult<FileView> {
    let result = async {
        let now = Utc::now();
        let txn = state.begin_write().await?;
        let f = file::ActiveModel {
            id: Set(file_id),
            owner_kind: Set(kind.to_owned()),
            owner_id: Set(owner_id.to_owned()),
            name: Set(staged.name.clone()),
            current_version: Set(1),
            created_by: Set(actor.label.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let v = version_row(file_id, 1, &staged, actor).insert(&txn).await?;
        let mut after = audit_value(&staged, 1);
        after["owner"] = serde_json::json!(format!("{kind}:{owner_id}"));
        audit::record(
            &txn,
            actor,
            Entry::new("file.uploaded", "file", file_id.to_string()).after(after),
        )
        .await?;
        enqueue_thumbnail(&txn, &staged).await?;
        txn.commit().await?;
        Ok::<_, AppError>(file_view(&f, &v))
    }
    .await;
    settle(state, &staged, result).await
}

/// After the transaction that made staged bytes a version: on success the
/// thumbnail job is woken and the upload counted; on failure the staged
/// object is removed, so nothing is left behind.
async fn settle(
    state: &AppState,
    staged: &Staged,
    result: AppResult<FileView>,
) -> AppResult<FileView> {
    match result {
        Ok(v) => {
            state.jobs().wake();
            metrics::counter!("faena_files_uploaded_total").increment(1);
            Ok(v)
        }
        Err(e) => {
            discard(state, staged).await;
            Err(e)
        }
    }
}

/// Makes the staged bytes the file's next version; earlier versions stay.
#[tracing::instrument(skip_all, fields(file.id = %file_id))]
pub async fn replace(
    state: &AppState,
    actor: &Actor,
    file_id: Uuid,
    staged: Staged,
) -> AppResult<FileView> {
    let result = async {
        let txn = state.begin_write().await?;
        let before = find_live(&txn, file_id).await?.ok_or(AppError::NotFound)?;
        let number = before.current_version + 1;
        let v = version_row(file_id, number, &staged, actor)
            .insert(&txn)
            .await?;
        let now = Utc::now();
        let updated = file::Entity::update_many()
            .col_expr(file::Column::CurrentVersion, Expr::value(number))
            .col_expr(file::Column::Name, Expr::value(staged.name.clone()))
            .col_expr(file::Column::UpdatedAt, Expr::value(now))
            .filter(file::Column::Id.eq(file_id))
            .filter(file::Column::CurrentVersion.eq(before.current_version))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(AppError::conflict("file_changed"));
        }
        audit::record(
            &txn,
            actor,
            Entry::new("file.replaced", "file", file_id.to_string())
                .before(serde_json::json!({"version": before.current_version, "name": before.name}))
                .after(audit_value(&staged, number)),
        )
        .await?;
        enqueue_thumbnail(&txn, &staged).await?;
        txn.commit().await?;
        let f = file::Model {
            current_version: number,
            name: staged.name.clone(),
            updated_at: now,
            ..before
        };
        Ok::<_, AppError>(file_view(&f, &v))
    }
    .await;
    settle(state, &staged, result).await
}

/// Deletes a file and every version: the rows disappear from every list
/// at once, and the purge job removes objects and rows.
#[tracing::instrument(skip_all, fields(file.id = %file_id))]
pub async fn delete(state: &AppState, actor: &Actor, file_id: Uuid) -> AppResult<()> {
    let txn = state.begin_write().await?;
    let before = find_live(&txn, file_id).await?.ok_or(AppError::NotFound)?;
    mark_deleted(&txn, actor, &before, "file.deleted").await?;
    txn.commit().await?;
    state.jobs().wake();
    Ok(())
}

/// Deletes every file of a record, inside the transaction that deletes the
/// record (so a rolled-back deletion keeps them). Returns how many; wake
/// the jobs after the commit when there were any.
#[tracing::instrument(skip_all, fields(actor = %actor.label))]
pub async fn delete_owner_files(
    db: &impl ConnectionTrait,
    actor: &Actor,
    kind: &str,
    owner_id: &str,
) -> Result<u64, sea_orm::DbErr> {
    let files = file::Entity::find()
        .filter(file::Column::OwnerKind.eq(kind))
        .filter(file::Column::OwnerId.eq(owner_id))
        .filter(file::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    for f in &files {
        mark_deleted(db, actor, f, "file.deleted_with_owner").await?;
    }
    Ok(files.len() as u64)
}

async fn mark_deleted(
    db: &impl ConnectionTrait,
    actor: &Actor,
    before: &file::Model,
    action: &str,
) -> Result<(), sea_orm::DbErr> {
    let current = version_of(db, before.id, before.current_version).await?;
    file::Entity::update_many()
        .col_expr(file::Column::DeletedAt, Expr::value(Utc::now()))
        .filter(file::Column::Id.eq(before.id))
        .exec(db)
        .await?;
    audit::record(
        db,
        actor,
        Entry::new(action, "file", before.id.to_string()).before(serde_json::json!({
            "owner": format!("{}:{}", before.owner_kind, before.owner_id),
            "name": before.name,
            "versions": before.current_version,
            "sha256": current.map(|v| v.sha256),
        })),
    )
    .await?;
    jobs::enqueue(
        db,
        &PurgeFile { file_id: before.id },
        Enqueue {
            dedup_key: Some(format!("purge:{}", before.id)),
            run_at: None,
        },
    )
    .await?;
    Ok(())
}

/// Signs a link to the file's current version, valid `minutes` (default
/// `files.link_default_minutes`, at most `files.link_max_minutes`).
#[tracing::instrument(skip_all, fields(actor = %actor.label))]
pub async fn create_link(
    state: &AppState,
    actor: &Actor,
    f: &file::Model,
    minutes: Option<u64>,
) -> AppResult<LinkView> {
    let config = state.files().config();
    let minutes = minutes.unwrap_or(config.link_default_minutes);
    let max = config.link_max_minutes.max(1);
    if minutes == 0 || minutes > max {
        return Err(FieldError::new("minutes", "out_of_range")
            .with("min", 1)
            .with("max", max)
            .into());
    }
    let expires_at = Utc::now() + chrono::Duration::minutes(i64::try_from(minutes).unwrap_or(1));
    let grant = links::Grant {
        file_id: f.id,
        version: f.current_version,
        expires: expires_at.timestamp(),
    };
    let token = links::sign(state.files().link_key(), &grant);
    let txn = state.begin_write().await?;
    audit::record(
        &txn,
        actor,
        Entry::new("file.link_created", "file", f.id.to_string()).after(serde_json::json!({
            "version": f.current_version, "minutes": minutes, "expires_at": expires_at,
        })),
    )
    .await?;
    txn.commit().await?;
    Ok(LinkView {
        url: format!("/api/file-links/{token}"),
        expires_at: chrono::DateTime::from_timestamp(grant.expires, 0).unwrap_or(expires_at),
        version: f.current_version,
    })
}

/// The version a link grants, if the link is good and the file is still
/// there.
pub async fn resolve_link(state: &AppState, token: &str) -> AppResult<version::Model> {
    let grant =
        links::verify(state.files().link_key(), token, Utc::now().timestamp()).map_err(
            |e| match e {
                links::LinkError::Invalid => AppError::Problem(Box::new(
                    crate::error::Problem::new(axum::http::StatusCode::FORBIDDEN, "link_invalid"),
                )),
                links::LinkError::Expired => AppError::Problem(Box::new(
                    crate::error::Problem::new(axum::http::StatusCode::GONE, "link_expired"),
                )),
            },
        )?;
    find_live(state.db(), grant.file_id)
        .await?
        .ok_or(AppError::NotFound)?;
    version_of(state.db(), grant.file_id, grant.version)
        .await?
        .ok_or(AppError::NotFound)
}
