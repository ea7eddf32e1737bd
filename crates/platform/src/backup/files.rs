//! The files of a backup: walking the data dir, copying with SHA-256, the
//! file store's objects, and the paths a manifest may name.

use object_store::ObjectStoreExt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::config::Config;

use super::*;

/// Copies every object of the file store into `objects/<key>`.
pub(super) async fn copy_objects(
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
pub(super) fn rel_of_object(path: &str) -> anyhow::Result<PathBuf> {
    Ok(PathBuf::from("objects").join(safe_rel(path, "objects/")?))
}

/// `objects/a/b` → the store key `a/b`.
pub(super) fn object_key(path: &str) -> anyhow::Result<object_store::path::Path> {
    rel_of_object(path)?;
    let key = path.strip_prefix("objects/").context("not an object")?;
    object_store::path::Path::parse(key).with_context(|| format!("invalid object key {key}"))
}

/// `data/a/b` → `a/b`, refusing anything that could leave the data dir.
pub(super) fn rel_of(path: &str) -> anyhow::Result<PathBuf> {
    safe_rel(path, "data/")
}

/// The part of manifest path `path` after `prefix`, as a relative path,
/// refusing anything that could climb out of where it is put.
pub(super) fn safe_rel(path: &str, prefix: &str) -> anyhow::Result<PathBuf> {
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
pub(super) fn walk(root: &Path, skip: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, u64)>> {
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

pub(super) fn slash_path(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Copies `from` to `to` (creating folders), syncing it to disk, and
/// returns its size and SHA-256.
pub(super) fn copy_hashed(
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

pub(super) fn create_dir_private(dir: &Path) -> std::io::Result<()> {
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
pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().ok();
    }
}
