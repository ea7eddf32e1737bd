//! The daily schedule (`service.reminders`, 12:00 UTC, the morning in
//! Chile): the customer of an order ready but not collected for
//! [`REMIND_AFTER_DAYS`] is mailed a reminder, at most once every that many
//! days (`service_orders.reminded_at`); the managers and the admin get one
//! digest a day of the open orders whose promised date has passed.
//!
//! Safe on several workers at once, as maintenance's schedule is: each
//! reminder is claimed by a conditional update of `reminded_at` in the
//! transaction that queues its mail, and the day's digest by inserting
//! that day's `service_digests` row; whoever loses the claim sends nothing.
//!
//! There is no per-module configuration in the platform, so the number of
//! days is a constant.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use faena_platform::auth::entities::user;
use faena_platform::jobs::{Job, JobContext};
use faena_platform::mail::{self, Mail};
use faena_platform::{AppResult, AppState, Locale};
use sea_orm::sea_query::{Expr, Func, OnConflict, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};

use super::notices::{shop_contact, tracking_link};
use super::store::{digest, history, order};
use super::{ServiceStatus, clp};

/// Days a ready device waits before its customer is reminded, and between
/// two reminders.
pub const REMIND_AFTER_DAYS: i64 = 7;

/// Roles whose users get the overdue digest.
pub const DIGEST_ROLES: [&str; 2] = ["admin", "manager"];

pub const REMINDER_TEMPLATE: &str = "service_reminder";
pub const DIGEST_TEMPLATE: &str = "service_overdue";

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ServiceReminders {}

#[async_trait::async_trait]
impl Job for ServiceReminders {
    const NAME: &'static str = "service.reminders";

    async fn run(self, ctx: &JobContext) -> anyhow::Result<()> {
        let run = run(&ctx.state, Utc::now()).await?;
        tracing::info!(
            reminders = run.reminders,
            digests = run.digests,
            "service reminders sent"
        );
        Ok(())
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Customers reminded.
    pub reminders: u64,
    /// Digest mails queued (one per recipient).
    pub digests: u64,
}

/// One pass of the schedule at `now`.
pub async fn run(state: &AppState, now: DateTime<Utc>) -> AppResult<Run> {
    let mut run = Run::default();
    let cutoff = now - Duration::days(REMIND_AFTER_DAYS);
    for o in waiting(state, cutoff).await? {
        let txn = state.begin_write().await?;
        let claimed = order::Entity::update_many()
            .col_expr(order::Column::RemindedAt, Expr::value(now))
            .filter(order::Column::Id.eq(o.id))
            .filter(order::Column::Status.eq(ServiceStatus::Ready.as_str()))
            .filter(
                Condition::any()
                    .add(order::Column::RemindedAt.is_null())
                    .add(order::Column::RemindedAt.lte(cutoff)),
            )
            .exec(&*txn)
            .await?
            .rows_affected;
        if claimed == 0 {
            continue;
        }
        let Some(to) = o.contact_email.clone() else {
            continue;
        };
        let tracking = o
            .tracking_token
            .as_deref()
            .map(|t| tracking_link(state, t))
            .unwrap_or_default();
        let rendered = mail::render(
            state,
            REMINDER_TEMPLATE,
            Locale::Es,
            minijinja::context! {
                number => o.number, device => format!("{} {} {}", o.device_type, o.brand, o.model),
                total => clp(o.total_clp), tracking => tracking, contact => shop_contact(state),
                days => REMIND_AFTER_DAYS,
            },
        )
        .map_err(anyhow::Error::from)?;
        let mut m = Mail::from_template(to, REMINDER_TEMPLATE, Locale::Es, rendered);
        m.related = Some(("service_order".into(), o.number.clone()));
        mail::queue(&*txn, m).await?;
        txn.commit().await?;
        run.reminders += 1;
    }
    let today = now.with_timezone(&state.time_zone()).date_naive();
    run.digests = digest(state, today, now).await?;
    if run.reminders + run.digests > 0 {
        state.jobs().wake();
    }
    Ok(run)
}

/// Ready orders with an address, ready since before `cutoff` and not
/// reminded since.
async fn waiting(state: &AppState, cutoff: DateTime<Utc>) -> AppResult<Vec<order::Model>> {
    let ready_since = Query::select()
        .column(history::Column::OrderId)
        .from(history::Entity)
        .and_where(Expr::col(history::Column::ToStatus).eq(ServiceStatus::Ready.as_str()))
        .group_by_col(history::Column::OrderId)
        .and_having(Expr::expr(Func::max(Expr::col(history::Column::At))).lte(cutoff))
        .to_owned();
    Ok(order::Entity::find()
        .filter(order::Column::Status.eq(ServiceStatus::Ready.as_str()))
        .filter(order::Column::ContactEmail.is_not_null())
        .filter(order::Column::Id.in_subquery(ready_since))
        .filter(
            Condition::any()
                .add(order::Column::RemindedAt.is_null())
                .add(order::Column::RemindedAt.lte(cutoff)),
        )
        .order_by_asc(order::Column::CreatedAt)
        .all(state.db())
        .await?)
}

#[derive(Debug, Serialize)]
struct Late {
    number: String,
    device: String,
    promised_date: String,
    status: String,
    link: String,
}

/// Today's digest of open orders past their promised date, once a day;
/// the number of mails queued.
async fn digest(state: &AppState, today: NaiveDate, now: DateTime<Utc>) -> AppResult<u64> {
    let late = order::Entity::find()
        .filter(order::Column::PromisedDate.lt(today))
        .filter(order::Column::Status.is_not_in([
            ServiceStatus::Delivered.as_str(),
            ServiceStatus::Cancelled.as_str(),
        ]))
        .order_by_asc(order::Column::PromisedDate)
        .order_by_asc(order::Column::Number)
        .all(state.db())
        .await?;
    if late.is_empty() {
        return Ok(0);
    }
    let recipients = user::Entity::find()
        .filter(user::Column::Active.eq(true))
        .filter(user::Column::Role.is_in(DIGEST_ROLES))
        .order_by_asc(user::Column::Email)
        .all(state.db())
        .await?;
    if recipients.is_empty() {
        return Ok(0);
    }
    let txn = state.begin_write().await?;
    let claimed = digest::Entity::insert(digest::ActiveModel {
        day: Set(today),
        sent_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(digest::Column::Day)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&*txn)
    .await?;
    if claimed == 0 {
        return Ok(0);
    }
    let base = state.config().public_base();
    let orders: Vec<Late> = late
        .iter()
        .map(|o| Late {
            number: o.number.clone(),
            device: format!("{} {} {}", o.device_type, o.brand, o.model),
            promised_date: o
                .promised_date
                .map(|d| d.format("%d-%m-%Y").to_string())
                .unwrap_or_default(),
            status: state
                .i18n()
                .t(Locale::Es, &format!("service.status.{}", o.status), &[]),
            link: format!("{base}/service-orders/{}", o.number),
        })
        .collect();
    let mut sent = 0;
    for u in recipients {
        let locale = Locale::parse(&u.locale).unwrap_or(Locale::Es);
        let rendered = mail::render(
            state,
            DIGEST_TEMPLATE,
            locale,
            minijinja::context! {
                name => u.name, count => orders.len(), orders => orders,
                day => today.format("%d-%m-%Y").to_string(),
            },
        )
        .map_err(anyhow::Error::from)?;
        mail::queue(
            &*txn,
            Mail::from_template(u.email, DIGEST_TEMPLATE, locale, rendered),
        )
        .await?;
        sent += 1;
    }
    txn.commit().await?;
    Ok(sent)
}
