//! The backup settings (`[backup]` in `faena.toml`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
