//! `faena serve`: binds, serves, and shuts down gracefully on SIGINT or
//! SIGTERM (in-flight requests finish, within the configured grace period).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use faena_platform::Config;
use faena_platform::jobs::{self, worker::WorkerOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn run(config: Config, with_worker: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let grace = Duration::from_secs(config.http.shutdown_grace_secs);
    let bind = config.http.bind;
    let app = crate::app::build(config).await?;
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let address = listener.local_addr()?;
    tracing::info!(
        %address,
        url = %format!("http://{address}"),
        database = ?app.state.db_kind(),
        realtime = ?app.state.realtime().bus(),
        server_id = %app.state.config().server_id,
        startup_ms = started.elapsed().as_millis() as u64,
        "listening"
    );

    faena_platform::audit::spawn_sealer(
        app.state.db().clone(),
        app.state.write_gate().clone(),
        Duration::from_secs(app.state.config().audit.seal_interval_secs.max(1)),
    );

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let worker = with_worker.then(|| {
        let options = WorkerOptions::from_config(&app.state);
        jobs::worker::spawn(app.state.clone(), options, stop_rx.clone())
    });
    let server = axum::serve(
        listener,
        app.router
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    });
    let mut server = tokio::spawn(async move { server.await });

    tokio::select! {
        result = &mut server => {
            result.context("server task failed")?.context("server failed")?;
            return Ok(());
        }
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down: finishing in-flight requests");
        }
    }
    let _ = stop_tx.send(true);
    // Live streams never finish on their own: end them so their
    // connections close and clients reconnect to another replica.
    app.state.realtime().shutdown();
    match tokio::time::timeout(grace, &mut server).await {
        Ok(result) => {
            result
                .context("server task failed")?
                .context("server failed")?;
        }
        Err(_) => {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "connections still open after the grace period; closing them"
            );
            server.abort();
        }
    }
    if let Some(worker) = worker {
        worker.await.ok();
    }
    app.state.db().clone().close().await.ok();
    tracing::info!("stopped");
    Ok(())
}

/// `faena worker`: runs jobs and schedules, no HTTP; stops on SIGINT or
/// SIGTERM after running jobs finish (within `jobs.shutdown_grace_secs`).
pub async fn run_worker(config: Config) -> anyhow::Result<()> {
    let app = crate::app::build(config).await?;
    faena_platform::audit::spawn_sealer(
        app.state.db().clone(),
        app.state.write_gate().clone(),
        Duration::from_secs(app.state.config().audit.seal_interval_secs.max(1)),
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let options = WorkerOptions::from_config(&app.state);
    let worker = jobs::worker::spawn(app.state.clone(), options, stop_rx);
    let signal = shutdown_signal().await;
    tracing::info!(signal, "stopping the worker: letting running jobs finish");
    let _ = stop_tx.send(true);
    worker.await.ok();
    app.state.db().clone().close().await.ok();
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => "SIGINT",
        _ = terminate => "SIGTERM",
    }
}
