//! Failing fast while the database is down. The first request that finds
//! the database unreachable waits the pool's acquire timeout and answers
//! 503; from then on, until a probe reaches the database again, requests
//! that need it answer 503 at once with `Retry-After`, and readiness says
//! so without waiting, so a load balancer with a short timeout sees the
//! truth instead of timeouts. A probe every half second ends the outage as
//! soon as the database answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sea_orm::DatabaseConnection;

use crate::error::Problem;

/// How long a readiness or probe ping may take.
pub const PING_TIMEOUT: Duration = Duration::from_secs(1);
const PROBE_EVERY: Duration = Duration::from_millis(500);
/// What clients are told to wait during an outage.
const RETRY_AFTER_SECS: u64 = 2;
pub use crate::error::DATABASE_UNAVAILABLE as CODE;

#[derive(Clone, Default)]
pub struct DbHealth(Arc<Inner>);

#[derive(Default)]
struct Inner {
    down: AtomicBool,
    probing: AtomicBool,
}

impl DbHealth {
    pub fn is_down(&self) -> bool {
        self.0.down.load(Ordering::Acquire)
    }

    /// Marks the database down and starts probing it until it answers.
    pub fn mark_down(&self, db: &DatabaseConnection) {
        if !self.0.down.swap(true, Ordering::AcqRel) {
            metrics::counter!("faena_database_outages_total").increment(1);
            tracing::warn!("the database is unreachable; answering 503 until it is back");
        }
        if self.0.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let health = self.clone();
        let db = db.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                if ping(&db).await {
                    health.0.down.store(false, Ordering::Release);
                    health.0.probing.store(false, Ordering::Release);
                    tracing::info!("the database answers again");
                    return;
                }
            }
        });
    }
}

/// A `SELECT 1` bounded by `PING_TIMEOUT`.
pub async fn ping(db: &DatabaseConnection) -> bool {
    tokio::time::timeout(PING_TIMEOUT, crate::db::ping(db))
        .await
        .unwrap_or(false)
}

/// The 503 of an outage.
pub fn unavailable() -> Response {
    let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, CODE);
    p.retry_after = Some(RETRY_AFTER_SECS);
    p.into_response()
}

/// Routes whose own work needs no database: liveness, readiness (which
/// answers from the probe), static assets and the metrics (a scraper's
/// credentials are still checked against the database, so during an
/// outage they too answer 503, from the authorization layer).
fn needs_database(path: &str) -> bool {
    !(path == "/api/health"
        || path == "/api/health/ready"
        || path == "/metrics"
        || path.starts_with("/assets/")
        || path == "/favicon.ico")
}

/// The layer: answers 503 at once while the database is known to be down,
/// and learns of an outage from the answers it passes on.
pub async fn guard(State(state): State<crate::AppState>, req: Request, next: Next) -> Response {
    let health = state.db_health();
    if health.is_down() && needs_database(req.uri().path()) {
        return unavailable();
    }
    let response = next.run(req).await;
    let outage = response
        .extensions()
        .get::<Problem>()
        .is_some_and(|p| p.code == CODE);
    if outage {
        health.mark_down(state.db());
    }
    response
}
