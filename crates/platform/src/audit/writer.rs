//! Group commit for audit entries that have no business transaction to ride
//! in: reads of decrypted personal data, permission denials.
//!
//! A request hands its entry to one writer task and waits until the entry
//! is committed, so nothing is answered before its trace is durable. The
//! writer takes everything that queued up while the previous batch was
//! committing and writes it in one transaction: under load one commit (one
//! fsync on SQLite) carries dozens of entries instead of one. See
//! docs/decisions/0011-sqlite-writes.md.

use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::Entry;
use crate::auth::principal::Actor;
use crate::db::WriteGate;

/// Entries per transaction at most.
const BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Uuid, String>>;

#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::UnboundedSender<(Actor, Entry, Reply)>,
}

impl AuditWriter {
    /// Starts the writer task; it ends when the last handle is dropped.
    pub fn spawn(db: DatabaseConnection, gate: WriteGate) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, gate, rx));
        AuditWriter { queue }
    }

    /// Appends an entry and returns once it is committed.
    pub async fn record(&self, actor: &Actor, entry: Entry) -> Result<Uuid, DbErr> {
        let (reply, done) = oneshot::channel();
        self.queue
            .send((actor.clone(), entry, reply))
            .map_err(|_| DbErr::Custom("the audit writer has stopped".into()))?;
        match done.await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(e)) => Err(DbErr::Custom(e)),
            Err(_) => Err(DbErr::Custom("the audit writer has stopped".into())),
        }
    }
}

async fn run(
    db: DatabaseConnection,
    gate: WriteGate,
    mut rx: mpsc::UnboundedReceiver<(Actor, Entry, Reply)>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let written = write(&db, &gate, &batch).await;
        for (i, (_, _, reply)) in batch.drain(..).enumerate() {
            let answer = match &written {
                Ok(ids) => Ok(ids[i]),
                Err(e) => Err(e.to_string()),
            };
            // The request may have gone (client hung up): nothing to tell.
            let _ = reply.send(answer);
        }
    }
}

async fn write(
    db: &DatabaseConnection,
    gate: &WriteGate,
    batch: &[(Actor, Entry, Reply)],
) -> Result<Vec<Uuid>, DbErr> {
    let txn = crate::db::begin_write(db, gate).await?;
    let mut ids = Vec::with_capacity(batch.len());
    for (actor, entry, _) in batch {
        ids.push(super::record(&txn, actor, entry.clone()).await?);
    }
    txn.commit().await?;
    if batch.len() > 1 {
        tracing::debug!(entries = batch.len(), "audit entries committed together");
    }
    Ok(ids)
}
