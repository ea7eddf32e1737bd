//! `faena serve`: binds, serves, and shuts down gracefully on SIGINT or
//! SIGTERM (in-flight requests finish, within the configured grace period).

use std::time::{Duration, Instant};

use anyhow::Context;
use faena_platform::Config;
use faena_platform::jobs::{self, worker::WorkerOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn run(config: Config, with_worker: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let open_files = open_files_limit();
    let limits = crate::net::Limits::from_config(&config, open_files);
    let bind = config.http.bind;
    let app = crate::app::build(config).await?;
    metrics::gauge!("faena_process_open_files_limit").set(open_files as f64);
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let address = listener.local_addr()?;
    let signal = shutdown_signal();
    tracing::info!(
        %address,
        url = %format!("http://{address}"),
        database = ?app.state.db_kind(),
        realtime = ?app.state.realtime().bus(),
        server_id = %app.state.config().server_id,
        open_files,
        max_connections = limits.max_connections,
        max_connections_per_address = limits.max_per_address,
        startup_ms = started.elapsed().as_millis() as u64,
        "listening"
    );
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!(
            "{}",
            banner(
                app.state.i18n(),
                faena_platform::i18n::terminal_locale(),
                address
            )
        );
    }

    faena_platform::audit::spawn_sealer(
        app.state.db().clone(),
        app.state.write_gate().clone(),
        Duration::from_secs(app.state.config().audit.seal_interval_secs.max(1)),
    );

    if let Err(e) = app.state.jobs().enqueue_start_jobs(app.state.db()).await {
        tracing::warn!(error = %e, "could not enqueue the start jobs");
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = with_worker.then(|| {
        let options = WorkerOptions::from_config(&app.state);
        jobs::worker::spawn(app.state.clone(), options, stop_rx.clone())
    });
    let state = app.state.clone();
    let stopping = async move {
        let signal = signal.await;
        tracing::info!(signal, "shutting down: finishing in-flight requests");
        let _ = stop_tx.send(true);
        // Live streams never finish on their own: end them so their
        // connections close and clients reconnect to another replica.
        state.realtime().shutdown();
    };
    crate::net::serve(listener, app.router, limits, stopping)
        .await
        .context("server failed")?;
    if let Some(worker) = worker {
        worker.await.ok();
    }
    // Every request has been answered: what they queued for the audit log
    // is written before the database closes.
    app.state.audit_writer().flush().await;
    app.state.db().clone().close().await.ok();
    tracing::info!("stopped");
    Ok(())
}

/// Raises the soft open-files limit to the hard one, logs the figure, and
/// returns it (1,024 where it cannot be read).
fn open_files_limit() -> u64 {
    match crate::net::raise_open_files_limit() {
        Ok((before, after)) => {
            if after > before {
                tracing::info!(before, after, "raised the open-files limit");
            }
            after
        }
        Err(error) => {
            tracing::warn!(%error, "cannot read the open-files limit; assuming 1024");
            1024
        }
    }
}

/// `faena worker`: runs jobs and schedules, no HTTP; stops on SIGINT or
/// SIGTERM after running jobs finish (within `jobs.shutdown_grace_secs`).
pub async fn run_worker(config: Config) -> anyhow::Result<()> {
    let signal = shutdown_signal();
    let app = crate::app::build(config).await?;
    faena_platform::audit::spawn_sealer(
        app.state.db().clone(),
        app.state.write_gate().clone(),
        Duration::from_secs(app.state.config().audit.seal_interval_secs.max(1)),
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let options = WorkerOptions::from_config(&app.state);
    let worker = jobs::worker::spawn(app.state.clone(), options, stop_rx);
    let signal = signal.await;
    tracing::info!(signal, "stopping the worker: letting running jobs finish");
    let _ = stop_tx.send(true);
    worker.await.ok();
    app.state.audit_writer().flush().await;
    app.state.db().clone().close().await.ok();
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM, naming it. The handlers are installed
/// when this is called, not when it is first polled: a signal that arrives
/// right after the "listening" line must stop the server, not kill it.
fn shutdown_signal() -> impl std::future::Future<Output = &'static str> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            let (Ok(mut interrupt), Ok(mut terminate)) = (interrupt, terminate) else {
                std::future::pending::<()>().await;
                unreachable!()
            };
            tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        "SIGINT"
    }
}

/// What a person who started `faena serve` on a terminal reads: where to
/// open it, and how to stop it.
pub fn banner(
    i18n: &faena_platform::i18n::I18n,
    locale: faena_platform::i18n::Locale,
    address: std::net::SocketAddr,
) -> String {
    let base = format!("http://{address}");
    let t = |key: &str| i18n.t(locale, key, &[("url", base.clone())]);
    format!(
        "\n  {}\n    {}\n    {}\n  {}\n",
        i18n.t(
            locale,
            "terminal.listening",
            &[
                ("version", faena_platform::VERSION.to_owned()),
                ("url", base.clone())
            ]
        ),
        t("terminal.sign_in"),
        t("terminal.api_docs"),
        t("terminal.stop"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use faena_platform::i18n::{I18n, Locale};

    #[test]
    fn the_banner_says_where_to_open_faena_in_the_terminal_language() {
        let mut i18n = I18n::default();
        for (locale, source) in faena_platform::TRANSLATIONS {
            i18n.add(*locale, source).unwrap();
        }
        let address = "127.0.0.1:8000".parse().unwrap();
        let es = banner(&i18n, Locale::Es, address);
        assert!(es.contains("está lista en http://127.0.0.1:8000"), "{es}");
        assert!(es.contains("http://127.0.0.1:8000/login"), "{es}");
        assert!(es.contains("Ctrl-C"), "{es}");
        assert!(!es.contains("terminal."), "every line translated: {es}");
        let en = banner(&i18n, Locale::En, address);
        assert!(en.contains("is ready at http://127.0.0.1:8000"), "{en}");
        assert!(es.lines().count() <= 6, "short: {es}");
    }
}
