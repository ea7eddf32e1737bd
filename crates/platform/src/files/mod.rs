//! Files attached to records: uploads sniffed from their content and
//! limited by type and size, stored through `object_store` (a local
//! folder, S3 or Azure Blob), versioned on replacement, thumbnailed by a
//! background job, shared through short-lived signed links, and deleted
//! by a purge job. See docs/decisions/0016-files.md.
//!
//! The platform owns the `faena_files*` tables and the objects; it owns no
//! record a file hangs on. A module declares its records as owners
//! ([`FileOwner`], from `Module::file_owners`), with the permission that
//! reads them and the one that attaches to them, and every file route
//! checks those against the caller.

pub mod api;
pub mod config;
pub mod entity;
pub mod http;
pub mod jobs;
pub mod links;
pub mod pages;
pub mod service;
pub mod sniff;
pub mod storage;
pub mod sweep;
pub mod upload;

use std::path::Path;
use std::sync::Arc;

use object_store::ObjectStore;
use sea_orm::{DatabaseConnection, DbErr};
use serde::{Deserialize, Serialize};

pub use config::FilesConfig;

/// A kind of record files can be attached to, declared by the module that
/// owns the record.
#[async_trait::async_trait]
pub trait FileOwner: Send + Sync {
    /// `module.entity`, e.g. `wms.order`; stored with every file.
    fn kind(&self) -> &'static str;
    /// Needed to list and download the record's files.
    fn read_permission(&self) -> crate::auth::Permission;
    /// Needed to upload, replace, delete and share them.
    fn attach_permission(&self) -> crate::auth::Permission;
    /// The record's id as it is stored (`p-000001` → `P-000001`), or
    /// `None` when no such record exists.
    async fn find(&self, db: &DatabaseConnection, id: &str) -> Result<Option<String>, DbErr>;
    /// Whether `principal`, who holds the permission, may see this record
    /// and so its files: for records only some readers see (a technician's
    /// own service orders). `id` is the stored id `find` gave. An owner
    /// that says no is answered 404, as the record itself would be. By
    /// default everyone with the permission.
    async fn visible_to(
        &self,
        _db: &DatabaseConnection,
        _id: &str,
        _principal: &crate::auth::Principal,
    ) -> Result<bool, DbErr> {
        Ok(true)
    }
}

/// Where a version's thumbnail is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThumbnailState {
    /// The job has not made it yet.
    Pending,
    Ready,
    /// Not an image: no thumbnail is made.
    None,
    /// The image could not be decoded.
    Failed,
}

impl ThumbnailState {
    pub fn as_str(self) -> &'static str {
        match self {
            ThumbnailState::Pending => "pending",
            ThumbnailState::Ready => "ready",
            ThumbnailState::None => "none",
            ThumbnailState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => ThumbnailState::Pending,
            "ready" => ThumbnailState::Ready,
            "failed" => ThumbnailState::Failed,
            _ => ThumbnailState::None,
        }
    }
}

/// The store, the settings, the link key and the declared owners.
#[derive(Clone)]
pub struct Files(Arc<Inner>);

struct Inner {
    store: Arc<dyn ObjectStore>,
    config: FilesConfig,
    link_key: [u8; 32],
    owners: Vec<Box<dyn FileOwner>>,
}

impl Files {
    /// Opens the configured store and loads (or creates) the link key
    /// `<data_dir>/keys/file-links.key`.
    pub fn new(
        config: &FilesConfig,
        data_dir: &Path,
        owners: Vec<Box<dyn FileOwner>>,
    ) -> anyhow::Result<Self> {
        let known = |t: &String| sniff::KNOWN.iter().any(|k| k.name == t);
        if let Some(t) = config
            .allowed_types
            .iter()
            .chain(config.max_size_mb_by_type.keys())
            .find(|t| !known(t))
        {
            let names: Vec<&str> = sniff::KNOWN.iter().map(|k| k.name).collect();
            anyhow::bail!(
                "files: unknown file type {t:?} (known: {})",
                names.join(", ")
            );
        }
        let store = storage::build(config, data_dir)?;
        let link_key = crate::secrets::load_or_create(data_dir, "file-links")?;
        Ok(Self(Arc::new(Inner {
            store,
            config: config.clone(),
            link_key,
            owners,
        })))
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.0.store
    }

    pub fn config(&self) -> &FilesConfig {
        &self.0.config
    }

    pub(crate) fn link_key(&self) -> &[u8; 32] {
        &self.0.link_key
    }

    pub fn owner(&self, kind: &str) -> Option<&dyn FileOwner> {
        self.0
            .owners
            .iter()
            .find(|o| o.kind() == kind)
            .map(|o| o.as_ref())
    }

    pub fn owner_kinds(&self) -> Vec<&'static str> {
        self.0.owners.iter().map(|o| o.kind()).collect()
    }
}
