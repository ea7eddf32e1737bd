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
pub mod database;
pub mod pages;
pub mod rotation;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::StreamExt;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::db::DbKind;
use crate::jobs::{Job, JobContext, JobType, RetryPolicy, Schedule};

pub const MANIFEST: &str = "manifest.json";
const BACKUP_PREFIX: &str = "faena-";
const PARTIAL_SUFFIX: &str = ".partial";
const NAME_FORMAT: &str = "%Y%m%dT%H%M%SZ";
const FORMAT_VERSION: u32 = 1;
/// Where uploaded backups live in the file store; never part of a backup's
/// own objects.
pub const STORE_PREFIX: &str = "faena-backups";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Where backups go; empty means `<data_dir>/backups`. Point it at
    /// another disk (or a mounted share): a backup on the same disk as the
    /// data does not survive the disk.
    pub dir: PathBuf,
    /// When the nightly backup runs (cron, UTC, optional seconds); empty
    /// turns it off.
    pub schedule: String,
    /// Also upload every backup to the file store (`files.backend`) under
    /// `faena-backups/<name>/`: with S3 or Azure Blob, a copy off this
    /// machine. The same rotation applies there.
    pub upload: bool,
    /// The nightly job keeps the newest backup of each of the last
    /// `keep_daily` days and of each of the last `keep_weekly` ISO weeks.
    pub keep_daily: u32,
    pub keep_weekly: u32,
    /// The PostgreSQL client programs (same major version as the server).
    pub pg_dump: String,
    pub pg_restore: String,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            schedule: "30 3 * * *".into(),
            upload: false,
            keep_daily: 7,
            keep_weekly: 4,
            pg_dump: "pg_dump".into(),
            pg_restore: "pg_restore".into(),
        }
    }
}

impl BackupConfig {
    /// The folder backups go to.
    pub fn dir(&self, data_dir: &Path) -> PathBuf {
        if self.dir.as_os_str().is_empty() {
            data_dir.join("backups")
        } else {
            self.dir.clone()
        }
    }
}

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
        if let Some(at) = parse_name(&name) {
            if entry.path().join(MANIFEST).is_file() {
                out.push((entry.path(), at));
            }
        }
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    Ok(out)
}

fn is_uploaded_backup(key: &object_store::path::Path) -> bool {
    key.parts()
        .next()
        .is_some_and(|p| p.as_ref() == STORE_PREFIX)
}

/// Uploads the backup folder at `path` to the file store under
/// `faena-backups/<name>/`, the manifest last (a backup without its
/// manifest there is incomplete and ignored). Returns its name.
pub async fn upload(
    config: &Config,
    path: &Path,
    progress: &mut dyn Progress,
) -> anyhow::Result<String> {
    let manifest = read_manifest(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("a backup folder has a name")?;
    let store = crate::files::storage::build(&config.files, &config.data_dir)?;
    progress.stage("upload", manifest.files.iter().map(|f| f.size).sum());
    let mut done = 0;
    let paths = manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .chain([MANIFEST]);
    for rel in paths {
        let key = object_store::path::Path::parse(format!("{STORE_PREFIX}/{name}/{rel}"))
            .with_context(|| format!("invalid object key for {rel}"))?;
        let bytes = tokio::fs::read(path.join(rel)).await?;
        done += bytes.len() as u64;
        store
            .put(&key, object_store::PutPayload::from(bytes))
            .await
            .with_context(|| format!("cannot upload {key}"))?;
        progress.advance(done);
    }
    Ok(name)
}

/// The backups uploaded to the file store (those whose manifest arrived),
/// newest first.
pub async fn list_uploaded(config: &Config) -> anyhow::Result<Vec<(String, DateTime<Utc>)>> {
    let store = crate::files::storage::build(&config.files, &config.data_dir)?;
    let prefix = object_store::path::Path::from(STORE_PREFIX);
    let mut listing = store.list(Some(&prefix));
    let mut out = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = meta.context("cannot list the uploaded backups")?;
        let parts: Vec<_> = meta.location.parts().collect();
        if parts.len() == 3 && parts[2].as_ref() == MANIFEST {
            let name = parts[1].as_ref().to_owned();
            if let Some(at) = parse_name(&name) {
                out.push((name, at));
            }
        }
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    Ok(out)
}

/// Applies the configured rotation to the uploaded backups; returns the
/// names it deleted.
pub async fn rotate_uploaded(config: &Config) -> anyhow::Result<Vec<String>> {
    let uploaded = list_uploaded(config).await?;
    let taken: Vec<_> = uploaded.iter().map(|(_, at)| *at).collect();
    let kept = rotation::keep(&taken, config.backup.keep_daily, config.backup.keep_weekly);
    let store = crate::files::storage::build(&config.files, &config.data_dir)?;
    let mut removed = Vec::new();
    for (i, (name, _)) in uploaded.into_iter().enumerate() {
        if kept.contains(&i) {
            continue;
        }
        let prefix = object_store::path::Path::from(format!("{STORE_PREFIX}/{name}"));
        // The manifest first: a half-deleted backup is an incomplete one.
        store.delete(&prefix.child(MANIFEST)).await.ok();
        let mut listing = store.list(Some(&prefix));
        let mut keys = Vec::new();
        while let Some(meta) = listing.next().await {
            keys.push(meta.context("cannot list an uploaded backup")?.location);
        }
        drop(listing);
        for key in keys {
            crate::files::storage::delete_quietly(store.as_ref(), key.as_ref()).await?;
        }
        removed.push(name);
    }
    Ok(removed)
}

/// Downloads the uploaded backup `name` into a new folder under `into`;
/// returns its path (then `verify` and `restore` it like any other).
pub async fn download(
    config: &Config,
    name: &str,
    into: &Path,
    progress: &mut dyn Progress,
) -> anyhow::Result<PathBuf> {
    use tokio::io::AsyncWriteExt;
    if parse_name(name).is_none() || name.contains('/') {
        bail!("`{name}` is not a backup name (faena-YYYYMMDDTHHMMSSZ)");
    }
    let store = crate::files::storage::build(&config.files, &config.data_dir)?;
    let prefix = object_store::path::Path::from(format!("{STORE_PREFIX}/{name}"));
    let manifest_key = prefix.child(MANIFEST);
    let raw = match store.get(&manifest_key).await {
        Ok(found) => found.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => {
            bail!("no complete backup `{name}` in the file store")
        }
        Err(e) => return Err(e).context("cannot read the uploaded manifest"),
    };
    let manifest: Manifest = serde_json::from_slice(&raw).context("unreadable manifest")?;
    let target = into.join(name);
    create_dir_private(&target)?;
    progress.stage("download", manifest.files.iter().map(|f| f.size).sum());
    let mut done = 0;
    for file in &manifest.files {
        let rel = if file.path.starts_with("objects/") {
            rel_of_object(&file.path)?
        } else if file.path.starts_with("data/") {
            PathBuf::from("data").join(rel_of(&file.path)?)
        } else if !file.path.contains('/') && file.path != ".." && file.path != "." {
            PathBuf::from(&file.path)
        } else {
            bail!("the manifest names an unsafe path: {}", file.path);
        };
        let to = target.join(rel);
        if let Some(parent) = to.parent() {
            create_dir_private(parent)?;
        }
        let key = object_store::path::Path::parse(format!("{STORE_PREFIX}/{name}/{}", file.path))?;
        let mut stream = store
            .get(&key)
            .await
            .with_context(|| format!("the uploaded backup is missing {}", file.path))?
            .into_stream();
        let mut out = tokio::fs::File::create(&to).await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            out.write_all(&chunk).await?;
            done += chunk.len() as u64;
            progress.advance(done);
        }
        out.sync_all().await?;
    }
    tokio::fs::write(target.join(MANIFEST), &raw).await?;
    Ok(target)
}

/// Copies every object of the file store into `objects/<key>`.
async fn copy_objects(
    config: &Config,
    partial: &Path,
    progress: &mut dyn Progress,
) -> anyhow::Result<Vec<FileEntry>> {
    use tokio::io::AsyncWriteExt;
    let store = crate::files::storage::build(&config.files, &config.data_dir)?;
    let mut listed = Vec::new();
    let mut listing = store.list(None);
    while let Some(meta) = listing.next().await {
        let meta = meta.context("cannot list the file store")?;
        if !is_uploaded_backup(&meta.location) {
            listed.push(meta);
        }
    }
    drop(listing);
    listed.sort_by(|a, b| a.location.cmp(&b.location));
    progress.stage("objects", listed.iter().map(|m| m.size).sum());
    let mut out = Vec::with_capacity(listed.len());
    let mut done = 0;
    for meta in listed {
        let rel = format!("objects/{}", meta.location);
        let target = partial.join(rel_of_object(&rel)?);
        if let Some(parent) = target.parent() {
            create_dir_private(parent)?;
        }
        let mut stream = match store.get(&meta.location).await {
            Ok(found) => found.into_stream(),
            // Deleted since the listing (a purge job): no longer data.
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", meta.location)),
        };
        let mut file = tokio::fs::File::create(&target).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("cannot read {}", meta.location))?;
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
            size += chunk.len() as u64;
            done += chunk.len() as u64;
            progress.advance(done);
        }
        file.sync_all().await?;
        out.push(FileEntry {
            path: rel,
            size,
            sha256: crate::auth::token::hex(hasher.finalize().to_vec()),
        });
    }
    Ok(out)
}

/// `objects/a/b` → the relative path it is kept at in a backup.
fn rel_of_object(path: &str) -> anyhow::Result<PathBuf> {
    Ok(PathBuf::from("objects").join(safe_rel(path, "objects/")?))
}

/// `objects/a/b` → the store key `a/b`.
fn object_key(path: &str) -> anyhow::Result<object_store::path::Path> {
    rel_of_object(path)?;
    let key = path.strip_prefix("objects/").context("not an object")?;
    object_store::path::Path::parse(key).with_context(|| format!("invalid object key {key}"))
}

/// `data/a/b` → `a/b`, refusing anything that could leave the data dir.
fn rel_of(path: &str) -> anyhow::Result<PathBuf> {
    safe_rel(path, "data/")
}

/// The part of manifest path `path` after `prefix`, as a relative path,
/// refusing anything that could climb out of where it is put.
fn safe_rel(path: &str, prefix: &str) -> anyhow::Result<PathBuf> {
    let rel = path
        .strip_prefix(prefix)
        .with_context(|| format!("{path} is not under {prefix}"))?;
    let mut out = PathBuf::new();
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
            bail!("the manifest names an unsafe path: {path}");
        }
        out.push(part);
    }
    Ok(out)
}

/// Regular files under `root` (relative paths and sizes), skipping the
/// paths in `skip` and temporary names.
fn walk(root: &Path, skip: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, u64)>> {
    let skip: Vec<PathBuf> = skip
        .iter()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
        .collect();
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let lossy = name.to_string_lossy();
            if lossy.ends_with(PARTIAL_SUFFIX)
                || lossy.ends_with(".restoring")
                || lossy.ends_with(".tmp")
            {
                continue;
            }
            let path = entry.path();
            let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if skip.contains(&canonical) {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(rel.join(&name));
            } else if kind.is_file() {
                out.push((rel.join(&name), entry.metadata()?.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn slash_path(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Copies `from` to `to` (creating folders), syncing it to disk, and
/// returns its size and SHA-256.
fn copy_hashed(
    from: &Path,
    to: &Path,
    on_bytes: &mut dyn FnMut(u64),
) -> std::io::Result<(u64, String)> {
    if let Some(parent) = to.parent() {
        create_dir_private(parent)?;
    }
    let mut input = std::fs::File::open(from)?;
    let mut output = std::fs::File::create(to)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n])?;
        size += n as u64;
        on_bytes(n as u64);
    }
    output.sync_all()?;
    Ok((size, crate::auth::token::hex(hasher.finalize().to_vec())))
}

/// Size and SHA-256 of a file.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut input = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, crate::auth::token::hex(hasher.finalize().to_vec())))
}

fn create_dir_private(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes a rename in `dir` durable (best effort: not every file system
/// lets a folder be opened for syncing).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().ok();
    }
}

/// The nightly backup: a backup into `backup.dir`, then the rotation.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NightlyBackup {}

/// Reports a job's progress as percent of each stage, at most once per
/// percent step.
struct JobProgress {
    stage: String,
    total: u64,
    last: u64,
    updates: tokio::sync::mpsc::UnboundedSender<(u64, u64, String)>,
}

impl Progress for JobProgress {
    fn stage(&mut self, name: &str, total: u64) {
        self.stage = name.to_owned();
        self.total = total.max(1);
        self.last = u64::MAX;
        self.advance(0);
    }
    fn advance(&mut self, done: u64) {
        let percent = done.min(self.total) * 100 / self.total;
        if percent != self.last {
            self.last = percent;
            self.updates.send((percent, 100, self.stage.clone())).ok();
        }
    }
}

#[async_trait::async_trait]
impl Job for NightlyBackup {
    const NAME: &'static str = "platform.backup";

    /// Three attempts, an hour apart at most: a backup that fails at 03:30
    /// should still exist in the morning, or be visibly dead.
    fn retry() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base: std::time::Duration::from_secs(300),
            max_delay: std::time::Duration::from_secs(3600),
        }
    }

    fn timeout() -> std::time::Duration {
        std::time::Duration::from_secs(6 * 3600)
    }

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        let state = &ctx.state;
        let config = state.config();
        let dir = config.backup.dir(&config.data_dir);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut progress = JobProgress {
            stage: String::new(),
            total: 1,
            last: u64::MAX,
            updates: tx,
        };
        let work = create(state.db(), config, &dir, &mut progress);
        tokio::pin!(work);
        let created = loop {
            tokio::select! {
                result = &mut work => break result?,
                Some((done, total, stage)) = rx.recv() => {
                    ctx.progress(done, total, &stage).await?;
                }
            }
        };
        let removed = rotate(&dir, &config.backup)?;
        if config.backup.upload {
            upload(config, &created.path, &mut Silent).await?;
            let gone = rotate_uploaded(config).await?;
            tracing::info!(removed = gone.len(), "backup uploaded to the file store");
        }
        ctx.progress(100, 100, "done").await?;
        tracing::info!(
            backup = %created.path.display(),
            bytes = created.bytes(),
            rows = created.rows(),
            removed = removed.len(),
            "backup done"
        );
        Ok(())
    }
}

pub fn job_types() -> Vec<JobType> {
    vec![JobType::of::<NightlyBackup>()]
}

/// The nightly backup's schedule, unless `backup.schedule` is empty.
pub fn schedules(config: &BackupConfig) -> anyhow::Result<Vec<Schedule>> {
    let pattern = config.schedule.trim();
    if pattern.is_empty() {
        return Ok(Vec::new());
    }
    crate::jobs::schedule::parse(pattern)
        .map_err(|e| anyhow::anyhow!("invalid backup.schedule `{pattern}`: {e}"))?;
    // Read once at start; the schedule lives as long as the program.
    let pattern: &'static str = Box::leak(pattern.to_owned().into_boxed_str());
    Ok(vec![Schedule::new(
        "platform.backup.nightly",
        pattern,
        NightlyBackup {},
    )])
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
