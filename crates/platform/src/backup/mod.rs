//! Backups: a consistent snapshot of the database plus every file of the
//! data dir (stored files, keys, audit archives), checked by SHA-256 and
//! described by a manifest; the way back (`restore`); and the nightly job
//! with its rotation.
//!
//! A backup is a folder `faena-YYYYMMDDTHHMMSSZ` in `backup.dir`:
//!
//! ```text
//! manifest.json        version, database kind, rows per table, files with SHA-256
//! database.sqlite      (SQLite: VACUUM INTO) or database.pgdump (pg_dump -Fc)
//! data/…               the data dir, without the live database, the backups
//!                      and the local file store
//! objects/…            every object of the file store (local, S3 or Azure
//!                      Blob), read through the store, by key
//! ```
//!
//! It is written under a hidden `.….partial` name and renamed when complete,
//! so a folder with the backup name is always a whole backup. It holds the
//! encryption keys: whoever reads it reads the data. Folders are created
//! owner-only (0700).

pub mod api;
pub mod config;
pub mod database;
mod files;
mod job;
mod offsite;
pub mod pages;
pub mod rotation;

pub use config::BackupConfig;
pub use files::hash_file;
use files::*;
pub use job::{NightlyBackup, job_types, schedules};
use object_store::ObjectStoreExt;
use offsite::*;
pub use offsite::{download, list_uploaded, rotate_uploaded, upload};

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::StreamExt;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::db::DbKind;

pub const MANIFEST: &str = "manifest.json";
const BACKUP_PREFIX: &str = "faena-";
const PARTIAL_SUFFIX: &str = ".partial";
const NAME_FORMAT: &str = "%Y%m%dT%H%M%SZ";
const FORMAT_VERSION: u32 = 1;
/// Where uploaded backups live in the file store; never part of a backup's
/// own objects.
pub const STORE_PREFIX: &str = "faena-backups";

/// What a backup holds, written last.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub faena_version: String,
    pub created_at: DateTime<Utc>,
    pub database: DbKind,
    /// Rows per table in the snapshot.
    pub tables: BTreeMap<String, u64>,
    /// Every file of the backup but the manifest, `/`-separated paths.
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl Manifest {
    /// Files of the data dir (under `data/`), with their checksums.
    pub fn data_files(&self) -> impl Iterator<Item = &FileEntry> {
        self.files.iter().filter(|f| f.path.starts_with("data/"))
    }

    /// Objects of the file store (under `objects/`, by key).
    pub fn objects(&self) -> impl Iterator<Item = &FileEntry> {
        self.files.iter().filter(|f| f.path.starts_with("objects/"))
    }
}

/// Where long work reports how far it is. Stages run one after another;
/// `advance` counts units (bytes) of the current stage.
pub trait Progress: Send {
    fn stage(&mut self, name: &str, total: u64);
    fn advance(&mut self, done: u64);
    fn finish(&mut self) {}
}

/// Progress nobody watches.
pub struct Silent;

impl Progress for Silent {
    fn stage(&mut self, _: &str, _: u64) {}
    fn advance(&mut self, _: u64) {}
}

/// A finished backup.
#[derive(Debug, Clone)]
pub struct Created {
    pub path: PathBuf,
    pub manifest: Manifest,
}

impl Created {
    pub fn bytes(&self) -> u64 {
        self.manifest.files.iter().map(|f| f.size).sum()
    }
    pub fn rows(&self) -> u64 {
        self.manifest.tables.values().sum()
    }
}

/// The name of a backup taken at `at`.
fn name_of(at: DateTime<Utc>) -> String {
    format!("{BACKUP_PREFIX}{}", at.format(NAME_FORMAT))
}

/// When the backup called `name` was taken (a `-N` suffix, added when two
/// start in the same second, is ignored).
fn parse_name(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(BACKUP_PREFIX)?;
    let stamp = stamp.get(..16)?;
    NaiveDateTime::parse_from_str(stamp, NAME_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

/// Takes a backup of `db` and the data dir into `dest`.
#[tracing::instrument(skip_all)]
pub async fn create(
    db: &DatabaseConnection,
    config: &Config,
    dest: &Path,
    progress: &mut dyn Progress,
) -> anyhow::Result<Created> {
    let now = Utc::now();
    create_dir_private(dest)?;
    let mut name = name_of(now);
    let mut n = 1;
    while dest.join(&name).exists() || dest.join(format!(".{name}{PARTIAL_SUFFIX}")).exists() {
        n += 1;
        name = format!("{}-{n}", name_of(now));
    }
    let partial = dest.join(format!(".{name}{PARTIAL_SUFFIX}"));
    create_dir_private(&partial)?;
    let result = fill(db, config, dest, &partial, now, progress).await;
    let manifest = match result {
        Ok(manifest) => manifest,
        Err(e) => {
            std::fs::remove_dir_all(&partial).ok();
            return Err(e);
        }
    };
    let path = dest.join(&name);
    std::fs::rename(&partial, &path)
        .with_context(|| format!("cannot move the backup into {}", path.display()))?;
    sync_dir(dest);
    progress.finish();
    Ok(Created { path, manifest })
}

async fn fill(
    db: &DatabaseConnection,
    config: &Config,
    dest: &Path,
    partial: &Path,
    now: DateTime<Utc>,
    progress: &mut dyn Progress,
) -> anyhow::Result<Manifest> {
    let kind = DbKind::of(db);
    progress.stage("database", 1);
    let db_file = partial.join(database::file_name(kind));
    let tables = database::snapshot(db, &config.backup, &config.database, &db_file).await?;
    progress.advance(1);

    // The data dir, without the live database, the backups, and anything
    // being written right now under a temporary name.
    let mut skip = vec![dest.to_path_buf()];
    if kind == DbKind::Sqlite {
        let live =
            database::sqlite_path(secrecy::ExposeSecret::expose_secret(&config.database.url))?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = live.clone().into_os_string();
            p.push(suffix);
            skip.push(PathBuf::from(p));
        }
    }
    if config.files.backend == crate::files::config::Backend::Local {
        // Its objects are copied through the store below, like S3's.
        skip.push(config.files.local_dir(&config.data_dir));
    }
    let sources = walk(&config.data_dir, &skip)?;
    let total: u64 = sources.iter().map(|(_, size)| size).sum();
    progress.stage("files", total);
    let mut files = Vec::with_capacity(sources.len() + 1);
    let mut done = 0;
    for (rel, _) in &sources {
        let from = config.data_dir.join(rel);
        let to = partial.join("data").join(rel);
        let entry = match copy_hashed(&from, &to, &mut |n| {
            done += n;
            progress.advance(done);
        }) {
            Ok((size, sha256)) => FileEntry {
                path: format!("data/{}", slash_path(rel)),
                size,
                sha256,
            },
            // Deleted between the listing and the copy: it was not part of
            // the data any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot copy {}", from.display())),
        };
        files.push(entry);
    }
    files.extend(copy_objects(config, partial, progress).await?);
    let (size, sha256) = hash_file(&db_file)?;
    files.insert(
        0,
        FileEntry {
            path: database::file_name(kind).to_owned(),
            size,
            sha256,
        },
    );
    let manifest = Manifest {
        format: FORMAT_VERSION,
        faena_version: crate::VERSION.to_owned(),
        created_at: now,
        database: kind,
        tables,
        files,
    };
    let mut out = std::fs::File::create(partial.join(MANIFEST))?;
    out.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
    out.sync_all()?;
    sync_dir(partial);
    Ok(manifest)
}

/// Reads the manifest of the backup at `path` and checks every file
/// against it: present, same size, same SHA-256, nothing unlisted.
pub fn verify(path: &Path, progress: &mut dyn Progress) -> anyhow::Result<Manifest> {
    let manifest = read_manifest(path)?;
    let total = manifest.files.iter().map(|f| f.size).sum();
    progress.stage("verify", total);
    let mut done = 0;
    for file in &manifest.files {
        let (size, sha256) = hash_file(&path.join(&file.path))
            .with_context(|| format!("the backup is missing {}", file.path))?;
        if size != file.size || sha256 != file.sha256 {
            bail!(
                "the backup is damaged: {} does not match its checksum",
                file.path
            );
        }
        done += size;
        progress.advance(done);
    }
    let listed: std::collections::BTreeSet<_> =
        manifest.files.iter().map(|f| f.path.as_str()).collect();
    for (rel, _) in walk(path, &[])? {
        let rel = slash_path(&rel);
        if rel != MANIFEST && !listed.contains(rel.as_str()) {
            bail!("the backup holds a file its manifest does not list: {rel}");
        }
    }
    Ok(manifest)
}

/// The manifest of the backup at `path`, unchecked.
pub fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let raw = std::fs::read(path.join(MANIFEST)).with_context(|| {
        format!(
            "{} is not a complete backup (no {MANIFEST})",
            path.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&raw)
        .with_context(|| format!("{} has an unreadable {MANIFEST}", path.display()))?;
    if manifest.format != FORMAT_VERSION {
        bail!(
            "backup format {} is not supported by this version (format {FORMAT_VERSION})",
            manifest.format
        );
    }
    Ok(manifest)
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    pub files: usize,
}

/// Restores the backup at `path` into the configured database and data
/// dir. Refuses, changing nothing, when the backup is damaged, was taken
/// of the other kind of database, or the target already holds data
/// (unless `replace`). Stop every Faena process of this installation first.
#[tracing::instrument(skip_all)]
pub async fn restore(
    config: &Config,
    path: &Path,
    replace: bool,
    progress: &mut dyn Progress,
) -> anyhow::Result<Restored> {
    let manifest = verify(path, progress)?;
    let url = secrecy::ExposeSecret::expose_secret(&config.database.url).to_owned();
    let kind = DbKind::from_url(&url)?;
    if kind != manifest.database {
        bail!(
            "this backup is of a {:?} database and the configured database is {:?}",
            manifest.database,
            kind
        );
    }

    // Everything that could stop the restore is checked before anything
    // changes.
    if !replace {
        let tables = match kind {
            DbKind::Sqlite => {
                let live = database::sqlite_path(&url)?;
                if live.exists() {
                    let db = database::open_sqlite_read_only(&live).await?;
                    let n = database::table_count(&db).await?;
                    db.close().await.ok();
                    n
                } else {
                    0
                }
            }
            DbKind::Postgres => {
                let db = crate::db::connect(&config.database).await?;
                let n = database::table_count(&db).await?;
                db.close().await.ok();
                n
            }
        };
        if tables > 0 {
            bail!(
                "the target database already has {tables} tables; restore into an empty \
                 database, or add --force to replace it"
            );
        }
        for file in manifest.data_files() {
            let target = config.data_dir.join(rel_of(&file.path)?);
            if target.exists() && hash_file(&target)?.1 != file.sha256 {
                bail!(
                    "{} already exists with other contents; restore into an empty data dir, \
                     or add --force to replace it",
                    target.display()
                );
            }
        }
    }

    let store = crate::files::storage::build(&config.files, &config.data_dir)?;
    if !replace {
        let mut listing = store.list(None);
        while let Some(first) = listing.next().await {
            let first = first.context("cannot list the file store")?;
            if is_uploaded_backup(&first.location) {
                continue;
            }
            bail!(
                "the file store already holds objects (such as {}); restore into an empty \
                 store, or add --force to replace them",
                first.location
            );
        }
    }

    progress.stage("database", 1);
    database::restore(
        &path.join(database::file_name(kind)),
        kind,
        &config.backup,
        &config.database,
        replace,
    )
    .await?;
    progress.advance(1);

    let total = manifest.data_files().map(|f| f.size).sum();
    progress.stage("files", total);
    let mut done = 0;
    let mut files = 0;
    for file in manifest.data_files() {
        let rel = rel_of(&file.path)?;
        let target = config.data_dir.join(rel);
        let staging = target.with_file_name(format!(
            ".{}.restoring",
            target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        copy_hashed(&path.join(&file.path), &staging, &mut |n| {
            done += n;
            progress.advance(done);
        })?;
        std::fs::rename(&staging, &target)?;
        files += 1;
    }

    let total = manifest.objects().map(|f| f.size).sum();
    progress.stage("objects", total);
    let mut done = 0;
    for object in manifest.objects() {
        let key = object_key(&object.path)?;
        let bytes = tokio::fs::read(path.join(&object.path)).await?;
        done += bytes.len() as u64;
        store
            .put(&key, object_store::PutPayload::from(bytes))
            .await
            .with_context(|| format!("cannot store {key}"))?;
        progress.advance(done);
        files += 1;
    }

    // The restored database must say what the manifest says.
    let db = crate::db::connect(&config.database).await?;
    let counts = database::table_counts(&db).await?;
    db.close().await.ok();
    for (table, expected) in &manifest.tables {
        let found = counts.get(table).copied();
        if found != Some(*expected) {
            bail!(
                "after the restore, table {table} has {} rows where the backup has {expected}",
                found.map_or_else(|| "no".to_owned(), |n| n.to_string())
            );
        }
    }
    progress.finish();
    Ok(Restored { manifest, files })
}

/// Applies the configured rotation to the backups in `dir` now; returns
/// what it deleted.
pub fn rotate(dir: &Path, config: &BackupConfig) -> anyhow::Result<Vec<PathBuf>> {
    rotation::apply(dir, config.keep_daily, config.keep_weekly, Utc::now())
}

/// The complete backups in `dir`, newest first.
pub fn list(dir: &Path) -> anyhow::Result<Vec<(PathBuf, DateTime<Utc>)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(at) = parse_name(&name)
            && entry.path().join(MANIFEST).is_file()
        {
            out.push((entry.path(), at));
        }
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_time_they_were_taken() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T03:30:05Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(name_of(at), "faena-20261123T033005Z");
        assert_eq!(parse_name("faena-20261123T033005Z"), Some(at));
        assert_eq!(parse_name("faena-20261123T033005Z-2"), Some(at));
        assert_eq!(parse_name("faena-2026"), None);
        assert_eq!(parse_name("other"), None);
    }

    #[test]
    fn manifest_paths_cannot_leave_the_data_dir() {
        assert_eq!(
            rel_of("data/keys/jwt").ok(),
            Some(PathBuf::from("keys").join("jwt"))
        );
        assert!(rel_of("data/../etc/passwd").is_err());
        assert!(rel_of("data//x").is_err());
        assert!(rel_of("database.sqlite").is_err());
    }
}
