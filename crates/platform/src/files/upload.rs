//! Streams one uploaded file into the object store with bounded memory:
//! the head is read and sniffed *before* anything is written, so a refused
//! type stores nothing; the rest is hashed and counted on its way through
//! an `object_store` buffered writer, and an upload that grows past its
//! limit is aborted before it completes, so no object is left behind.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use multer::{Constraints, Field, Multipart, SizeLimit};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::Files;
use super::sniff::{self, Kind, Sniffed};
use crate::error::{AppError, AppResult, FieldError, Problem};

/// A version whose bytes are stored and whose row is not written yet.
#[derive(Debug, Clone)]
pub struct Staged {
    pub version_id: Uuid,
    pub key: String,
    pub name: String,
    pub kind: Kind,
    pub size: u64,
    pub sha256: String,
}

/// Objects are written in parts of this size once they outgrow one part
/// (S3's minimum part size).
const PART_BYTES: usize = 5 * 1024 * 1024;

/// The field that carries the file in every upload form.
pub const FILE_FIELD: &str = "file";

fn too_large(max: u64) -> AppError {
    let mut p = Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large");
    let mb = max / (1024 * 1024);
    p.params.push(("max", format!("{mb} MB")));
    p.errors
        .push(FieldError::new(FILE_FIELD, "file_too_large").with("max", format!("{mb} MB")));
    AppError::Problem(Box::new(p))
}

fn refused(code: &'static str, params: Vec<(&'static str, String)>) -> AppError {
    let mut p = Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, code);
    let mut e = FieldError::new(FILE_FIELD, code);
    for (k, v) in &params {
        e = e.with(k, v);
    }
    p.params = params;
    p.errors.push(e);
    AppError::Problem(Box::new(p))
}

fn unreadable() -> AppError {
    AppError::BadRequest {
        code: "unreadable_body",
        params: Vec::new(),
    }
}

/// Decides whether `head` (and the name) may be stored, and as what.
pub fn check_type(files: &Files, head: &[u8], name: &str) -> AppResult<Kind> {
    let allowed = || files.config().allowed_types.join(", ");
    let kind = match sniff::sniff(head, name) {
        Sniffed::Known(k) => k,
        Sniffed::Other(mime) => {
            return Err(refused(
                "file_type_not_allowed",
                vec![("detected", mime), ("allowed", allowed())],
            ));
        }
        Sniffed::Unknown => {
            return Err(refused(
                "file_type_not_allowed",
                vec![("detected", "?".into()), ("allowed", allowed())],
            ));
        }
    };
    if !files.config().allowed_types.iter().any(|t| t == kind.name) {
        return Err(refused(
            "file_type_not_allowed",
            vec![("detected", kind.name.into()), ("allowed", allowed())],
        ));
    }
    if !sniff::extension_agrees(name, &kind) {
        return Err(refused(
            "file_type_mismatch",
            vec![
                ("detected", kind.name.into()),
                ("extension", sniff::extension(name).unwrap_or_default()),
            ],
        ));
    }
    Ok(kind)
}

/// Reads the file field to its end into a new object under `file_id`.
pub async fn stage(files: &Files, mut field: Field<'static>, file_id: Uuid) -> AppResult<Staged> {
    let name = sniff::sanitise_name(field.file_name().unwrap_or(""));
    let ceiling = files.config().max_bytes();

    let mut head: Vec<u8> = Vec::new();
    let mut finished = false;
    while head.len() < sniff::HEAD_BYTES {
        match field.chunk().await.map_err(|e| read_error(&e, ceiling))? {
            Some(chunk) => {
                head.extend_from_slice(&chunk);
                if head.len() as u64 > ceiling {
                    return Err(too_large(ceiling));
                }
            }
            None => {
                finished = true;
                break;
            }
        }
    }
    let kind = check_type(files, &head[..head.len().min(sniff::HEAD_BYTES)], &name)?;
    let limit = files.config().max_bytes_for(kind.name);
    if head.len() as u64 > limit {
        return Err(too_large(limit));
    }

    let version_id = Uuid::now_v7();
    let key = format!("{}/{}", file_id.simple(), version_id.simple());
    let mut upload = Unfinished {
        writer: Some(BufWriter::with_capacity(
            files.store().clone(),
            Path::from(key.as_str()),
            PART_BYTES,
        )),
        store: files.store().clone(),
        key: key.clone(),
        finishing: false,
        finished: false,
    };
    let mut hasher = Sha256::new();
    let mut size = head.len() as u64;
    hasher.update(&head);
    let written: AppResult<()> = async {
        upload.write(&head).await?;
        drop(std::mem::take(&mut head));
        if !finished {
            while let Some(chunk) = field.chunk().await.map_err(|e| read_error(&e, limit))? {
                size += chunk.len() as u64;
                if size > limit {
                    return Err(too_large(limit));
                }
                hasher.update(&chunk);
                upload.write(&chunk).await?;
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = written {
        upload.abort().await;
        return Err(e);
    }
    upload.finish().await?;
    Ok(Staged {
        version_id,
        key,
        name,
        kind,
        size,
        sha256: hex(&hasher.finalize()),
    })
}

/// An object being written. Refused or failed uploads are aborted (a
/// single-part write has not started; a multipart one is cancelled with
/// its parts); one whose request is dropped midway (a timeout, a client
/// gone) is cleaned up by a task spawned from `Drop`.
struct Unfinished {
    writer: Option<BufWriter>,
    store: std::sync::Arc<dyn object_store::ObjectStore>,
    key: String,
    /// `shutdown` started: the object may land.
    finishing: bool,
    /// The object landed (or its failure was handled).
    finished: bool,
}

impl Unfinished {
    async fn write(&mut self, bytes: &[u8]) -> AppResult<()> {
        match self.writer.as_mut() {
            Some(w) => w.write_all(bytes).await.map_err(storage_error),
            None => Err(AppError::Internal(anyhow::anyhow!("write after the end"))),
        }
    }

    async fn abort(&mut self) {
        if let Some(mut w) = self.writer.take()
            && let Err(e) = w.abort().await
        {
            tracing::warn!(error = %e, key = %self.key, "aborting a refused upload failed");
        }
    }

    async fn finish(&mut self) -> AppResult<()> {
        let Some(mut w) = self.writer.take() else {
            return Err(AppError::Internal(anyhow::anyhow!("finished twice")));
        };
        self.finishing = true;
        let result = w.shutdown().await;
        self.finished = true;
        if let Err(e) = result {
            // The object may or may not have landed: make sure it has not.
            if let Err(d) = super::storage::delete_quietly(self.store.as_ref(), &self.key).await {
                tracing::warn!(error = %d, key = %self.key, "removing a failed upload failed");
            }
            return Err(storage_error(e));
        }
        Ok(())
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if let Some(mut w) = self.writer.take() {
            // Dropped mid-stream: never shut down, so abort is allowed.
            runtime.spawn(async move {
                let _ = w.abort().await;
            });
        } else if self.finishing && !self.finished {
            // Dropped while completing: the object may have landed.
            let store = self.store.clone();
            let key = std::mem::take(&mut self.key);
            runtime.spawn(async move {
                let _ = super::storage::delete_quietly(store.as_ref(), &key).await;
            });
        }
    }
}

fn read_error(e: &multer::Error, limit: u64) -> AppError {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large(limit)
        }
        _ => unreadable(),
    }
}

/// The longest text field read next to the file (`next`, `_csrf`).
const TEXT_FIELD_BYTES: u64 = 4096;

/// The small text fields of an upload form that came before its file
/// (`next`, `_csrf`).
pub type FormFields = HashMap<String, String>;

/// Reads a `multipart/form-data` body whose file is in the field `file`
/// and stages the file under `file_id`. Text fields before it are kept
/// (4 KiB each at most), and returned even when the file is refused, so a
/// page can still go back where the form said; whatever follows the file
/// is not read.
pub async fn read_form(
    files: &Files,
    headers: &HeaderMap,
    body: Body,
    file_id: Uuid,
) -> (FormFields, AppResult<Staged>) {
    let mut fields = HashMap::new();
    let result = read_fields(files, headers, body, file_id, &mut fields).await;
    (fields, result)
}

async fn read_fields(
    files: &Files,
    headers: &HeaderMap,
    body: Body,
    file_id: Uuid,
    fields: &mut FormFields,
) -> AppResult<Staged> {
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| {
            AppError::Problem(Box::new(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "multipart_required",
            )))
        })?;
    let ceiling = files.config().max_bytes();
    let constraints = Constraints::new().size_limit(
        SizeLimit::new()
            // The file plus the form around it.
            .whole_stream(ceiling.saturating_add(64 * 1024))
            .for_field("next", TEXT_FIELD_BYTES)
            .for_field("_csrf", TEXT_FIELD_BYTES),
    );
    let mut form = Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| read_error(&e, ceiling))?;
        let Some(mut field) = field else {
            return Err(FieldError::new(FILE_FIELD, "required").into());
        };
        let name = field.name().unwrap_or("").to_owned();
        if name == FILE_FIELD {
            // A form whose file input was left empty sends the part with
            // no file name: that is no file, as when the part is absent.
            if field.file_name().is_none_or(str::is_empty) {
                return Err(FieldError::new(FILE_FIELD, "required").into());
            }
            return stage(files, field, file_id).await;
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| read_error(&e, ceiling))? {
            if (value.len() + chunk.len()) as u64 > TEXT_FIELD_BYTES {
                return Err(FieldError::new(name, "too_long")
                    .with("max", TEXT_FIELD_BYTES)
                    .into());
            }
            value.extend_from_slice(&chunk);
        }
        if fields.len() < 16 {
            fields.insert(name, String::from_utf8_lossy(&value).into_owned());
        }
    }
}

fn storage_error(e: std::io::Error) -> AppError {
    AppError::Internal(anyhow::Error::new(e).context("writing to the file store"))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
