//! The `faena` binary's library half: the composition root (`app`), the
//! list of modules, the migrator, the server loop and the CLI. Integration
//! tests and the testkit build the very same application through `app`.

pub mod admin_cli;
pub mod app;
pub mod backup_cli;
pub mod cli;
pub mod migrator;
pub mod modules;
pub mod net;
pub mod serve;
