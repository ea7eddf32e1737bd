//! Background work on files: thumbnails of uploaded images, and the purge
//! of deleted files' objects and rows. Both are idempotent.

use object_store::ObjectStoreExt;
use std::io::Cursor;
use std::time::Duration;

use image::{ImageFormat, ImageReader, Limits};
use object_store::path::Path;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ThumbnailState;
use super::entity::{file, version};
use super::storage::delete_quietly;
use crate::jobs::{Job, JobContext, JobType, Permanent};

/// The platform's file job types.
pub fn job_types() -> Vec<JobType> {
    vec![
        JobType::of::<Thumbnail>(),
        JobType::of::<PurgeFile>(),
        JobType::of::<super::sweep::SweepOrphans>(),
    ]
}

/// Makes the thumbnail of one version and stores it beside the original
/// (`<key>.thumb`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Thumbnail {
    pub version_id: Uuid,
}

/// The largest image (in pixels per side) a thumbnail is made of, and the
/// most memory decoding may take: a small file must not decode into
/// gigabytes (a "decompression bomb").
const MAX_SIDE: u32 = 16_384;
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// Decodes `bytes` and scales the image down to fit `px` × `px`; JPEG stays
/// JPEG, everything else becomes PNG (transparency kept). Answers the
/// encoded thumbnail and its content type.
pub fn make_thumbnail(bytes: &[u8], px: u32) -> Result<(Vec<u8>, &'static str), String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let source = reader.format();
    let image = reader.decode().map_err(|e| e.to_string())?;
    // Never enlarged: a small image is its own thumbnail.
    let thumb = if image.width() <= px && image.height() <= px {
        image
    } else {
        image.thumbnail(px, px)
    };
    let mut out = Cursor::new(Vec::new());
    let content_type = if source == Some(ImageFormat::Jpeg) {
        image::DynamicImage::ImageRgb8(thumb.to_rgb8())
            .write_to(&mut out, ImageFormat::Jpeg)
            .map_err(|e| e.to_string())?;
        "image/jpeg"
    } else {
        thumb
            .write_to(&mut out, ImageFormat::Png)
            .map_err(|e| e.to_string())?;
        "image/png"
    };
    Ok((out.into_inner(), content_type))
}

/// The thumbnail's content type, from the original's.
pub fn thumbnail_type(original: &str) -> &'static str {
    if original == "image/jpeg" {
        "image/jpeg"
    } else {
        "image/png"
    }
}

async fn set_thumbnail(
    ctx: &JobContext,
    id: Uuid,
    to: ThumbnailState,
    key: Option<String>,
) -> Result<u64, sea_orm::DbErr> {
    let r = version::Entity::update_many()
        .col_expr(version::Column::Thumbnail, Expr::value(to.as_str()))
        .col_expr(version::Column::ThumbnailKey, Expr::value(key))
        .filter(version::Column::Id.eq(id))
        .filter(version::Column::Thumbnail.eq(ThumbnailState::Pending.as_str()))
        .exec(ctx.state.db())
        .await?;
    Ok(r.rows_affected)
}

#[async_trait::async_trait]
impl Job for Thumbnail {
    const NAME: &'static str = "platform.files.thumbnail";

    fn timeout() -> Duration {
        Duration::from_secs(120)
    }

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        let state = &ctx.state;
        let Some(v) = version::Entity::find_by_id(self.version_id)
            .one(state.db())
            .await?
        else {
            // Purged before its thumbnail was made.
            return Ok(());
        };
        if v.thumbnail != ThumbnailState::Pending.as_str() {
            return Ok(());
        }
        let store = state.files().store().clone();
        let bytes = store
            .get(&Path::from(v.storage_key.as_str()))
            .await?
            .bytes()
            .await?;
        let px = state.files().config().thumbnail_px.clamp(16, 2048);
        let made = tokio::task::spawn_blocking(move || make_thumbnail(&bytes, px)).await?;
        let (thumb, _) = match made {
            Ok(t) => t,
            Err(e) => {
                // The file itself is fine: its JSON says `failed`, and no
                // retry would decode it better.
                set_thumbnail(ctx, v.id, ThumbnailState::Failed, None).await?;
                tracing::warn!(version = %v.id, error = %e, "the image could not be thumbnailed");
                return Ok(());
            }
        };
        let key = format!("{}.thumb", v.storage_key);
        store.put(&Path::from(key.as_str()), thumb.into()).await?;
        let updated = set_thumbnail(ctx, v.id, ThumbnailState::Ready, Some(key.clone())).await?;
        let live = file::Entity::find_by_id(v.file_id)
            .filter(file::Column::DeletedAt.is_null())
            .one(state.db())
            .await?
            .is_some();
        if updated == 0 || !live {
            // The file was deleted meanwhile: leave no object behind.
            delete_quietly(store.as_ref(), &key).await?;
        }
        Ok(())
    }
}

/// Removes a deleted file's objects (every version and thumbnail), then
/// its rows.
#[derive(Debug, Serialize, Deserialize)]
pub struct PurgeFile {
    pub file_id: Uuid,
}

#[async_trait::async_trait]
impl Job for PurgeFile {
    const NAME: &'static str = "platform.files.purge";

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        let state = &ctx.state;
        let Some(f) = file::Entity::find_by_id(self.file_id)
            .one(state.db())
            .await?
        else {
            return Ok(());
        };
        if f.deleted_at.is_none() {
            return Err(Permanent(format!("file {} is not deleted", f.id)).into());
        }
        let versions = version::Entity::find()
            .filter(version::Column::FileId.eq(f.id))
            .all(state.db())
            .await?;
        let store = state.files().store().clone();
        for v in &versions {
            delete_quietly(store.as_ref(), &v.storage_key).await?;
            // Whether or not the job got to it, a thumbnail may exist.
            delete_quietly(store.as_ref(), &format!("{}.thumb", v.storage_key)).await?;
        }
        let txn = state.begin_write().await?;
        version::Entity::delete_many()
            .filter(version::Column::FileId.eq(f.id))
            .exec(&txn)
            .await?;
        file::Entity::delete_by_id(f.id).exec(&txn).await?;
        txn.commit().await?;
        tracing::info!(file = %f.id, versions = versions.len(), "file purged");
        Ok(())
    }
}
