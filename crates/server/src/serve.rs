//! `faena serve`: binds, serves, and shuts down gracefully on SIGINT or
//! SIGTERM (in-flight requests finish, within the configured grace period).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use faena_platform::Config;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn run(config: Config) -> anyhow::Result<()> {
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
        server_id = %app.state.config().server_id,
        startup_ms = started.elapsed().as_millis() as u64,
        "listening"
    );

    faena_platform::audit::spawn_sealer(
        app.state.db().clone(),
        Duration::from_secs(app.state.config().audit.seal_interval_secs.max(1)),
    );
    spawn_housekeeping(app.state.clone());

    let (stop_tx, mut stop_rx) = watch::channel(false);
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

/// Daily chores: audit retention (archive, never silent deletion) and
/// pruning of old login failures.
fn spawn_housekeeping(state: faena_platform::AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(24 * 3600));
        loop {
            tick.tick().await;
            let days = state.config().audit.retention_days;
            if days > 0 {
                match faena_platform::audit::retention::archive(
                    state.db(),
                    &state.config().data_dir,
                    days,
                )
                .await
                {
                    Ok(Some((file, n))) => {
                        tracing::info!(file = %file.display(), entries = n, "audit entries archived")
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = format!("{e:#}"), "audit archiving failed"),
                }
            }
            if let Err(e) = faena_platform::auth::throttle::prune(state.db()).await {
                tracing::warn!(error = %e, "pruning login failures failed");
            }
            if let Err(e) = faena_platform::idempotency::prune(state.db()).await {
                tracing::warn!(error = %e, "pruning idempotency keys failed");
            }
        }
    });
}
