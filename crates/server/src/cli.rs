//! The command line: `faena [serve|migrate|config|version|openapi]`.

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
    /// Run the HTTP server (the default command).
    Serve {
        /// Address to listen on, e.g. 0.0.0.0:8000.
        #[arg(long)]
        bind: Option<SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Print the version.
    Version,
    /// Print the OpenAPI document.
    Openapi,
}

impl Cli {
    /// Settings given on the command line, which win over file and
    /// environment.
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(dir) = &self.data_dir {
            out.push(("data_dir", dir.display().to_string()));
        }
        if let Some(Command::Serve { bind: Some(bind) }) = &self.command {
            out.push(("http.bind", bind.to_string()));
        }
        out
    }
}
