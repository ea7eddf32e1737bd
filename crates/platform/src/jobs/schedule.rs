//! Cron-like schedules. Each schedule has one row holding its next due
//! time; whichever worker first moves that time forward (a compare-and-set
//! on the old value) enqueues the job, with a deduplication key naming the
//! period, so a period fires once however many workers are running. A
//! period missed while every worker was down fires once, not once per
//! missed period.

use std::str::FromStr;
use std::sync::Arc;

use chrono::Utc;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, Set};
use serde_json::Value;

use super::entity::schedule;
use super::{Enqueue, Job, Schedule};
use crate::state::AppState;

/// A job enqueued on a cron pattern (`min hour dom month dow`, or with a
/// leading seconds field), in UTC.
impl Schedule {
    /// Panics on an invalid pattern: schedules are written in code, and a
    /// typo must stop the program at its first start, in every test.
    pub fn new<J: Job>(name: &'static str, pattern: &'static str, job: J) -> Self {
        let cron = parse(pattern).unwrap_or_else(|e| {
            panic!("schedule `{name}` has an invalid pattern `{pattern}`: {e}")
        });
        Schedule {
            name,
            kind: J::NAME,
            pattern,
            cron: Arc::new(cron),
            payload: serde_json::to_value(job).unwrap_or(Value::Null),
            max_attempts: super::max_attempts::<J>(),
        }
    }
}

pub fn parse(pattern: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(pattern)
        .or_else(|_| Cron::from_str(pattern))
        .map_err(|e| e.to_string())
}

/// Enqueues every schedule that is due. Cheap when nothing is: one read.
/// Fires what is due and returns when the next schedule is due (`None`
/// without schedules), so the worker looks again then rather than every
/// second. Rows only ever move forward, so that time is never late.
pub async fn tick(state: &AppState) -> Result<Option<chrono::DateTime<Utc>>, DbErr> {
    let schedules = state.jobs().schedules();
    if schedules.is_empty() {
        return Ok(None);
    }
    let mut earliest: Option<chrono::DateTime<Utc>> = None;
    let mut note = |at: chrono::DateTime<Utc>| {
        earliest = Some(earliest.map_or(at, |e| e.min(at)));
    };
    let now = Utc::now();
    let rows = schedule::Entity::find().all(state.db()).await?;
    for s in schedules {
        let Some(row) = rows.iter().find(|r| r.name == s.name) else {
            if let Some(next) = s.next_after(now) {
                note(next);
                schedule::Entity::insert(schedule::ActiveModel {
                    name: Set(s.name.to_owned()),
                    next_run_at: Set(next),
                    last_run_at: Set(None),
                })
                .on_conflict(
                    OnConflict::column(schedule::Column::Name)
                        .do_nothing()
                        .to_owned(),
                )
                .do_nothing()
                .exec_without_returning(state.db())
                .await?;
            }
            continue;
        };
        if row.next_run_at > now {
            note(row.next_run_at);
            continue;
        }
        let Some(next) = s.next_after(now) else {
            continue;
        };
        note(next);
        let txn = state.begin_write().await?;
        let moved = schedule::Entity::update_many()
            .col_expr(schedule::Column::NextRunAt, Expr::value(next))
            .col_expr(schedule::Column::LastRunAt, Expr::value(row.next_run_at))
            .filter(schedule::Column::Name.eq(s.name))
            .filter(schedule::Column::NextRunAt.eq(row.next_run_at))
            .exec(&txn)
            .await?;
        if moved.rows_affected == 1 {
            let period = row.next_run_at.format("%Y-%m-%dT%H:%M:%SZ");
            super::enqueue_raw(
                &txn,
                s.kind,
                s.payload.clone(),
                s.max_attempts,
                Enqueue {
                    dedup_key: Some(format!("schedule:{}@{period}", s.name)),
                    run_at: None,
                },
            )
            .await?;
            tracing::info!(schedule = s.name, %period, "schedule fired");
        }
        txn.commit().await?;
        state.jobs().wake();
    }
    Ok(earliest)
}
