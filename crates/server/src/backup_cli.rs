//! `faena backup` and `faena restore`, with a progress bar on a terminal
//! and one line per stage elsewhere (logs, cron mail).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use faena_platform::Config;
use faena_platform::backup::{self, Progress};

pub async fn backup(
    config: Config,
    dir: Option<PathBuf>,
    rotate: bool,
    upload: bool,
    list: bool,
) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| config.backup.dir(&config.data_dir));
    if list {
        let backups = backup::list(&dir)?;
        if backups.is_empty() {
            println!("no backups in {}", dir.display());
        }
        for (path, at) in backups {
            let size: u64 = backup::read_manifest(&path)
                .map(|m| m.files.iter().map(|f| f.size).sum())
                .unwrap_or(0);
            println!(
                "{}  {}  {}",
                path.display(),
                at.format("%Y-%m-%d %H:%M:%S UTC"),
                human_bytes(size)
            );
        }
        if config.backup.upload {
            for (name, at) in backup::list_uploaded(&config).await? {
                println!(
                    "file store: {}/{name}  {}",
                    backup::STORE_PREFIX,
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
        }
        return Ok(());
    }
    let db = faena_platform::db::connect(&config.database).await?;
    let mut progress = Bar::new();
    let created = backup::create(&db, &config, &dir, &mut progress).await;
    db.close().await.ok();
    let created = created?;
    println!(
        "backup written to {} ({} tables, {} rows, {} files, {})",
        created.path.display(),
        created.manifest.tables.len(),
        created.rows(),
        created.manifest.files.len() - 1,
        human_bytes(created.bytes())
    );
    if rotate {
        let removed = backup::rotate(&dir, &config.backup)?;
        for path in removed {
            println!("removed {}", path.display());
        }
    }
    if upload || config.backup.upload {
        let name = backup::upload(&config, &created.path, &mut progress).await?;
        progress.finish();
        println!(
            "uploaded to the file store as {}/{name}",
            backup::STORE_PREFIX
        );
        if rotate {
            for name in backup::rotate_uploaded(&config).await? {
                println!(
                    "removed {}/{name} from the file store",
                    backup::STORE_PREFIX
                );
            }
        }
    }
    Ok(())
}

pub async fn restore(
    config: Config,
    path: &Path,
    from_store: bool,
    force: bool,
    check: bool,
) -> anyhow::Result<()> {
    let mut progress = Bar::new();
    if from_store {
        let name = path.to_string_lossy().into_owned();
        let scratch = std::env::temp_dir().join(format!("faena-restore-{}", std::process::id()));
        let downloaded = backup::download(&config, &name, &scratch, &mut progress).await;
        let result = match downloaded {
            Ok(local) => Box::pin(restore(config, &local, false, force, check)).await,
            Err(e) => Err(e),
        };
        std::fs::remove_dir_all(&scratch).ok();
        return result;
    }
    if check {
        let manifest = backup::verify(path, &mut progress)?;
        progress.finish();
        println!(
            "backup of {} is complete and intact: {} tables, {} rows, {} files",
            manifest.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            manifest.tables.len(),
            manifest.tables.values().sum::<u64>(),
            manifest.files.len() - 1
        );
        return Ok(());
    }
    let restored = backup::restore(&config, path, force, &mut progress).await?;
    println!(
        "restored the backup of {}: {} tables, {} rows, {} files into {}",
        restored.manifest.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        restored.manifest.tables.len(),
        restored.manifest.tables.values().sum::<u64>(),
        restored.files,
        config.data_dir.display()
    );
    Ok(())
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A progress bar on stderr when it is a terminal; otherwise a line when
/// each stage starts.
struct Bar {
    terminal: bool,
    stage: String,
    total: u64,
    drawn: Option<Instant>,
}

impl Bar {
    fn new() -> Self {
        Bar {
            terminal: std::io::stderr().is_terminal(),
            stage: String::new(),
            total: 0,
            drawn: None,
        }
    }

    fn draw(&mut self, done: u64, force: bool) {
        let now = Instant::now();
        if !force
            && self
                .drawn
                .is_some_and(|t| now - t < Duration::from_millis(100))
        {
            return;
        }
        self.drawn = Some(now);
        let total = self.total.max(1);
        let done = done.min(total);
        let width = 30;
        let filled = usize::try_from(done * width / total).unwrap_or(0);
        let width = usize::try_from(width).unwrap_or(30);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{:<9} [{}{}] {:>3}%",
            self.stage,
            "#".repeat(filled),
            " ".repeat(width - filled),
            done * 100 / total
        );
        let _ = err.flush();
    }
}

impl Progress for Bar {
    fn stage(&mut self, name: &str, total: u64) {
        if self.terminal {
            if !self.stage.is_empty() {
                eprintln!();
            }
            self.stage = name.to_owned();
            self.total = total;
            self.draw(0, true);
        } else {
            self.stage = name.to_owned();
            self.total = total;
            if total > 1 {
                eprintln!("{name}: {}", human_bytes(total));
            } else {
                eprintln!("{name}");
            }
        }
    }

    fn advance(&mut self, done: u64) {
        if self.terminal {
            self.draw(done, done >= self.total);
        }
    }

    fn finish(&mut self) {
        if self.terminal && !self.stage.is_empty() {
            eprintln!();
            self.stage.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_like_sizes() {
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
