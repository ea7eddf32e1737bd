//! The object store behind `files.backend`: a local folder, an S3 bucket
//! or an Azure Blob container, all through `object_store` so the rest of
//! the module never knows which.

use object_store::ObjectStoreExt;
use std::path::Path as FsPath;
use std::sync::Arc;

use anyhow::Context;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use secrecy::ExposeSecret;

use super::config::{Backend, FilesConfig};

/// Azurite's well-known development account and key (published by
/// Microsoft; they open nothing but a local emulator).
pub const EMULATOR_ACCOUNT: &str = "devstoreaccount1";
pub const EMULATOR_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Builds the configured store. Nothing is contacted yet: a wrong bucket
/// or key shows on the first upload (and in the logs), not at start.
pub fn build(config: &FilesConfig, data_dir: &FsPath) -> anyhow::Result<Arc<dyn ObjectStore>> {
    Ok(match config.backend {
        Backend::Local => {
            let dir = config.local_dir(data_dir);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the files folder {}", dir.display()))?;
            Arc::new(
                LocalFileSystem::new_with_prefix(&dir)
                    .with_context(|| format!("opening the files folder {}", dir.display()))?,
            )
        }
        Backend::S3 => {
            let s3 = &config.s3;
            anyhow::ensure!(!s3.bucket.is_empty(), "files.s3.bucket is required");
            let mut b = AmazonS3Builder::new()
                .with_http_connector(super::http::Connector)
                .with_bucket_name(&s3.bucket)
                .with_allow_http(s3.allow_http);
            if !s3.region.is_empty() {
                b = b.with_region(&s3.region);
            }
            if !s3.endpoint.is_empty() {
                b = b.with_endpoint(s3.endpoint.trim_end_matches('/'));
            }
            if !s3.access_key_id.is_empty() {
                b = b
                    .with_access_key_id(&s3.access_key_id)
                    .with_secret_access_key(s3.secret_access_key.expose_secret());
            }
            Arc::new(b.build().context("files.s3 settings")?)
        }
        Backend::Azure => {
            let az = &config.azure;
            anyhow::ensure!(
                !az.container.is_empty(),
                "files.azure.container is required"
            );
            let account = match (az.account.as_str(), az.use_emulator) {
                ("", true) => EMULATOR_ACCOUNT,
                (a, _) => a,
            };
            anyhow::ensure!(!account.is_empty(), "files.azure.account is required");
            let key = match (az.access_key.expose_secret(), az.use_emulator) {
                ("", true) => EMULATOR_KEY,
                (k, _) => k,
            };
            let endpoint = match (az.endpoint.as_str(), az.use_emulator) {
                ("", true) => format!("http://127.0.0.1:10000/{account}"),
                (e, _) => e.trim_end_matches('/').to_owned(),
            };
            let mut b = MicrosoftAzureBuilder::new()
                .with_http_connector(super::http::Connector)
                .with_account(account)
                .with_container_name(&az.container)
                .with_allow_http(az.allow_http || az.use_emulator);
            if !key.is_empty() {
                b = b.with_access_key(key);
            }
            if !endpoint.is_empty() {
                // Path-style (`<endpoint>/<container>/<blob>`), as Azurite
                // and custom domains serve it.
                b = b.with_endpoint(endpoint);
            }
            Arc::new(b.build().context("files.azure settings")?)
        }
    })
}

/// Deletes an object; one that is already gone counts as deleted (purges
/// and cleanups may run twice).
pub async fn delete_quietly(store: &dyn ObjectStore, key: &str) -> object_store::Result<()> {
    match store.delete(&Path::from(key)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
