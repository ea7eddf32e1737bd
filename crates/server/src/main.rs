use std::process::ExitCode;

use clap::Parser;
use faena_platform::{Config, telemetry};
use faena_server::cli::{Cli, Command};
use faena_server::{app, modules, serve};
use sea_orm_migration::MigratorTrait;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fatal");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let overrides = cli.overrides();
    let command = cli.command.unwrap_or(Command::Serve {
        bind: None,
        no_worker: false,
    });
    match command {
        Command::Version => {
            println!("faena {}", faena_platform::VERSION);
            Ok(())
        }
        Command::Openapi => {
            let config = Config::load_with(cli.config.as_deref(), &overrides)?;
            let doc = app::openapi(&modules::enabled(&config));
            println!("{}", doc.to_pretty_json()?);
            Ok(())
        }
        Command::Config => {
            let config = Config::load_with(cli.config.as_deref(), &overrides)?;
            print!("{}", config.to_redacted_toml()?);
            Ok(())
        }
        Command::Migrate => {
            let config = Config::load_with(cli.config.as_deref(), &overrides)?;
            telemetry::init_tracing(&config.log);
            let db = faena_platform::db::connect(&config.database).await?;
            let pending = faena_server::migrator::Migrator::get_pending_migrations(&db).await?;
            app::migrate(&db).await?;
            tracing::info!(applied = pending.len(), "migrations up to date");
            println!("{} migration(s) applied", pending.len());
            db.close().await.ok();
            Ok(())
        }
        Command::User(command) => {
            let config = Config::load_with(cli.config.as_deref(), &overrides)?;
            telemetry::init_tracing(&quiet(&config));
            faena_server::admin_cli::user(config, command).await
        }
        Command::Audit(command) => {
            let config = Config::load_with(cli.config.as_deref(), &overrides)?;
            telemetry::init_tracing(&quiet(&config));
            faena_server::admin_cli::audit(config, command).await
        }
        Command::Keys(command) => {
            let config = Config::load_with(cli.config.as_deref(), &overrides)?;
            telemetry::init_tracing(&quiet(&config));
            faena_server::admin_cli::keys(config, command).await
        }
        Command::Demo {
            clients,
            orders,
            machines,
            maintenance_records,
            service_orders,
            seed,
        } => {
            let config = Config::load_with(cli.config.as_deref(), &overrides)?;
            telemetry::init_tracing(&quiet(&config));
            let sizes = faena_server::admin_cli::DemoSizes {
                clients,
                orders,
                machines,
                maintenance_records,
                service_orders,
            };
            faena_server::admin_cli::demo(config, sizes, seed).await
        }
        Command::Backup {
            dir,
            rotate,
            upload,
            list,
        } => {
            let config = Config::load_with(cli.config.as_deref(), &overrides)?;
            telemetry::init_tracing(&quiet(&config));
            faena_server::backup_cli::backup(config, dir, rotate, upload, list).await
        }
        Command::Restore {
            path,
            from_store,
            force,
            check,
        } => {
            let config = Config::load_with(cli.config.as_deref(), &overrides)?;
            telemetry::init_tracing(&quiet(&config));
            faena_server::backup_cli::restore(config, &path, from_store, force, check).await
        }
        Command::Serve { no_worker, .. } => {
            let config = Config::load_with(cli.config.as_deref(), &overrides)?;
            telemetry::init_tracing(&config.log);
            serve::run(config, !no_worker).await
        }
        Command::Worker => {
            let config = Config::load_with(cli.config.as_deref(), &overrides)?;
            telemetry::init_tracing(&config.log);
            serve::run_worker(config).await
        }
    }
}

/// Commands that print results keep the log to warnings.
fn quiet(config: &Config) -> faena_platform::config::LogConfig {
    let mut log = config.log.clone();
    if std::env::var_os("RUST_LOG").is_none() && log.filter == "info" {
        log.filter = "warn".into();
    }
    log
}
