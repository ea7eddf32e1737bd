//! Sending a label to a Zebra printer: a platform job that opens a raw
//! TCP connection to the printer (port 9100 by default) and writes the
//! label's ZPL, with a time limit on connecting and on writing. A printer
//! that is off or unplugged fails the attempt with an error naming it, and
//! the platform retries with backoff (decision 0012), where the order page
//! and `/api/jobs/{id}` show it.
//!
//! At least once: a retry after a write the printer did take prints the
//! label twice, which beats a label that never comes out.

use std::time::Duration;

use anyhow::Context;
use faena_platform::jobs::{Job, JobContext, Permanent, RetryPolicy};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::store;

/// How long connecting, and then writing, may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrintLabel {
    pub printer_id: Uuid,
    /// The order and the label, for people reading the job.
    pub number: String,
    pub kind: String,
    /// What the printer is sent, rendered for its resolution when queued.
    pub zpl: String,
}

#[async_trait::async_trait]
impl Job for PrintLabel {
    const NAME: &'static str = "service.print_label";

    /// Ten attempts over about 20 minutes (5 s, 10 s … capped at 5 min):
    /// long enough to switch a printer on or load labels.
    fn retry() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            base: Duration::from_secs(5),
            max_delay: Duration::from_secs(300),
        }
    }

    fn timeout() -> Duration {
        Duration::from_secs(30)
    }

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        // The address is read at each attempt: an admin who corrects it
        // while the job waits fixes the job too.
        let printer = store::find(ctx.state.db(), self.printer_id)
            .await?
            .ok_or_else(|| Permanent("the printer was deleted".into()))?;
        if !printer.active {
            return Err(Permanent(format!("the printer {} is not active", printer.name)).into());
        }
        let port = u16::try_from(printer.port).context("stored port out of range")?;
        send(&printer.host, port, self.zpl.as_bytes(), TIMEOUT)
            .await
            .with_context(|| format!("printer {} ({}:{port})", printer.name, printer.host))?;
        tracing::info!(order.number = %self.number, kind = %self.kind, printer = %printer.name, "label printed");
        Ok(())
    }
}

/// Connects to `host:port` and writes `bytes`, each step within `limit`,
/// then closes the connection (which is how a Zebra knows the job ended).
pub async fn send(host: &str, port: u16, bytes: &[u8], limit: Duration) -> anyhow::Result<()> {
    let secs = limit.as_secs();
    let mut stream = tokio::time::timeout(limit, tokio::net::TcpStream::connect((host, port)))
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {secs} s (is it on and connected?)"))?
        .context("cannot connect (is it on and connected?)")?;
    tokio::time::timeout(limit, stream.write_all(bytes))
        .await
        .map_err(|_| anyhow::anyhow!("did not take the label within {secs} s"))?
        .context("the connection broke while sending the label")?;
    tokio::time::timeout(limit, stream.shutdown())
        .await
        .map_err(|_| anyhow::anyhow!("did not close within {secs} s"))?
        .context("closing the connection")?;
    Ok(())
}
