//! The command line: `faena [serve|worker|migrate|config|version|openapi|…]`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "faena",
    version,
    about = "Faena: operations backend in one binary"
)]
pub struct Cli {
    /// Configuration file (default: ./faena.toml when present).
    #[arg(long, global = true, env = "FAENA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder for the SQLite database, files and keys.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server and a job worker (the default command).
    Serve {
        /// Address to listen on, e.g. 0.0.0.0:8000.
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// Serve HTTP only; jobs run in separate `faena worker` processes.
        #[arg(long)]
        no_worker: bool,
    },
    /// Run only a job worker (no HTTP): for replicas dedicated to
    /// background work.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Print the version.
    Version,
    /// Print the OpenAPI document.
    Openapi,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Check or maintain the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage the field-encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Back up the database and the data dir (stored files, keys, audit
    /// archives) into a new folder of `backup.dir`.
    Backup {
        /// Folder to write the backup into (default: `backup.dir`, or
        /// `<data_dir>/backups`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Afterwards, delete older backups in the folder following
        /// `backup.keep_daily` and `backup.keep_weekly`.
        #[arg(long)]
        rotate: bool,
        /// Also upload it to the file store under `faena-backups/` (as
        /// `backup.upload` does for every backup), rotating there too.
        #[arg(long)]
        upload: bool,
        /// List the backups in the folder (and in the file store) instead
        /// of taking one.
        #[arg(long, conflicts_with_all = ["rotate", "upload"])]
        list: bool,
    },
    /// Restore a backup into the configured database and data dir. Stop
    /// every Faena process of this installation first.
    Restore {
        /// The backup folder (`…/faena-YYYYMMDDTHHMMSSZ`), or with
        /// `--from-store` the name of a backup uploaded to the file store.
        path: PathBuf,
        /// Download the backup from the file store first.
        #[arg(long)]
        from_store: bool,
        /// Replace a database or data dir that already holds data.
        #[arg(long)]
        force: bool,
        /// Only check the backup against its checksums; change nothing.
        #[arg(long, conflicts_with = "force")]
        check: bool,
    },
    /// Fill the database with realistic demo data (Chilean clients with
    /// valid RUTs, warehouse orders in every status).
    Demo {
        #[arg(long, default_value_t = 100)]
        clients: u64,
        #[arg(long, default_value_t = 1000)]
        orders: u64,
        /// Machines of the maintenance module, each with a year of history.
        #[arg(long, default_value_t = 40)]
        machines: u64,
        /// Maintenance records in all, spread over the machines and as many
        /// years back as it takes (by default a year of each machine's).
        #[arg(long)]
        maintenance_records: Option<u64>,
        /// Repair-shop service orders, in every status.
        #[arg(long, default_value_t = 60)]
        service_orders: u64,
        /// The same seed gives the same data.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new key the active one and re-encrypt every encrypted field
    /// with it (keys in the data dir; with keys in the configuration, add
    /// the new key there and run `faena keys reencrypt`).
    Rotate,
    /// Re-encrypt every encrypted field with the active key.
    Reencrypt,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password, one is generated and printed.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "viewer")]
        role: String,
        #[arg(long)]
        name: Option<String>,
        /// Also read from FAENA_USER_PASSWORD, to keep it out of the shell history.
        #[arg(long, env = "FAENA_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Set a new password (generated and printed unless given); signs the
    /// user out everywhere.
    ResetPassword {
        #[arg(long)]
        email: String,
        #[arg(long, env = "FAENA_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Seal pending entries, then walk the whole chain; exits non-zero and
    /// names the first altered, missing or reordered entry.
    Verify,
    /// Move entries older than N days to an archive file now.
    Archive {
        #[arg(long)]
        days: u32,
    },
}

impl Cli {
    /// Settings given on the command line, which win over file and
    /// environment.
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(dir) = &self.data_dir {
            out.push(("data_dir", dir.display().to_string()));
        }
        if let Some(Command::Serve {
            bind: Some(bind), ..
        }) = &self.command
        {
            out.push(("http.bind", bind.to_string()));
        }
        out
    }
}
