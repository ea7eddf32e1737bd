//! Group commit for audit entries that have no business transaction to ride
//! in: reads of decrypted personal data, permission denials.
//!
//! One writer task takes everything that queued up while the previous
//! batch was committing and writes it in one transaction: under load one
//! commit (one fsync on SQLite) carries dozens of entries instead of one.
//! See docs/decisions/0011-sqlite-writes.md.
//!
//! Two ways in:
//! - `append` (reads of personal data): the request queues its entry and
//!   goes on; the entry is committed within one batch, milliseconds later.
//!   A clean stop (`flush` after the last request) writes every queued
//!   entry; a crash loses at most what was queued and not yet committed,
//!   which is bounded by `QUEUE` entries (a full queue makes requests wait)
//!   and in practice is the last commit's worth. A failed commit is tried
//!   again (`RETRIES`), so an outage of the database shorter than that
//!   loses nothing. See docs/decisions/0030-one-round-trip-reads.md.
//! - `record` (denials, the realtime streams' grants): returns once its
//!   entry is committed, or with the error.
//!
//! Readers of the log (`GET /api/audit`, verification, the audit pages)
//! `flush` first, so what this replica did is always in what they read.

use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::Entry;
use crate::auth::principal::Actor;
use crate::db::WriteGate;

/// Entries per transaction at most.
const BATCH: usize = 256;
/// Entries waiting at most; past it, `append` waits for room.
const QUEUE: usize = 4_096;
/// Delays before each new try of a batch whose commit failed.
const RETRIES: [Duration; 4] = [
    Duration::from_millis(100),
    Duration::from_millis(400),
    Duration::from_millis(1_600),
    Duration::from_millis(6_400),
];

type Reply = oneshot::Sender<Result<Uuid, String>>;

enum Job {
    /// An entry, with whom to tell once committed (`record`), or nobody
    /// (`append`).
    Entry(Box<Queued>),
    /// Answered once everything queued before it is committed.
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Job>,
}

impl AuditWriter {
    /// Starts the writer task; it ends when the last handle is dropped.
    pub fn spawn(db: DatabaseConnection, gate: WriteGate) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, gate, rx));
        AuditWriter { queue }
    }

    /// Appends an entry and returns once it is committed.
    pub async fn record(&self, actor: &Actor, entry: Entry) -> Result<Uuid, DbErr> {
        let (reply, done) = oneshot::channel();
        self.queue
            .send(Job::Entry(Box::new((actor.clone(), entry, Some(reply)))))
            .await
            .map_err(|_| stopped())?;
        match done.await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(e)) => Err(DbErr::Custom(e)),
            Err(_) => Err(stopped()),
        }
    }

    /// Queues an entry for the next batch and returns at once (waiting
    /// only while the queue is full).
    pub async fn append(&self, actor: &Actor, entry: Entry) -> Result<(), DbErr> {
        self.queue
            .send(Job::Entry(Box::new((actor.clone(), entry, None))))
            .await
            .map_err(|_| stopped())
    }

    /// Waits until every entry queued before this call is committed (or
    /// its writing was given up, which is logged).
    pub async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        if self.queue.send(Job::Flush(reply)).await.is_ok() {
            let _ = done.await;
        }
    }
}

fn stopped() -> DbErr {
    DbErr::Custom("the audit writer has stopped".into())
}

async fn run(db: DatabaseConnection, gate: WriteGate, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut jobs, BATCH).await > 0 {
        let mut entries = Vec::with_capacity(jobs.len());
        let mut flushes = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Entry(queued) => entries.push(*queued),
                Job::Flush(reply) => flushes.push(reply),
            }
        }
        if !entries.is_empty() {
            let written = write_with_retries(&db, &gate, &entries).await;
            for (i, (_, _, reply)) in entries.into_iter().enumerate() {
                let Some(reply) = reply else { continue };
                let answer = match &written {
                    Ok(ids) => Ok(ids[i]),
                    Err(e) => Err(e.to_string()),
                };
                // The request may have gone (client hung up): nothing to tell.
                let _ = reply.send(answer);
            }
        }
        for flush in flushes {
            let _ = flush.send(());
        }
    }
}

type Queued = (Actor, Entry, Option<Reply>);

async fn write_with_retries(
    db: &DatabaseConnection,
    gate: &WriteGate,
    batch: &[Queued],
) -> Result<Vec<Uuid>, DbErr> {
    let mut delays = RETRIES.iter();
    loop {
        match write(db, gate, batch).await {
            Ok(ids) => return Ok(ids),
            Err(e) => match delays.next() {
                Some(delay) => {
                    tracing::warn!(error = %e, entries = batch.len(), retry_in_ms = delay.as_millis() as u64,
                        "audit entries not committed; trying again");
                    tokio::time::sleep(*delay).await;
                }
                None => {
                    let unanswered = batch.iter().filter(|(_, _, r)| r.is_none()).count();
                    tracing::error!(error = %e, entries = batch.len(), lost = unanswered,
                        "audit entries could not be committed and were given up");
                    return Err(e);
                }
            },
        }
    }
}

async fn write(
    db: &DatabaseConnection,
    gate: &WriteGate,
    batch: &[Queued],
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
