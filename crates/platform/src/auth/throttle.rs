//! Login throttling: failures are counted per account and per address in a
//! sliding window (in the database, so every replica sees them). Past the
//! limit the answer is 429 with a `Retry-After` that doubles with each
//! further failure, up to the window. Attempts made while locked count as
//! failures too, so hammering keeps the lock.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use uuid::Uuid;

use super::entities::login_failure;
use crate::config::AuthConfig;

const BASE_DELAY_SECS: i64 = 30;

/// `Some(seconds)` when this account or address must wait.
pub async fn locked_for(
    db: &impl ConnectionTrait,
    config: &AuthConfig,
    email_key: &str,
    ip: Option<&str>,
) -> Result<Option<u64>, sea_orm::DbErr> {
    let window = Duration::minutes(i64::try_from(config.login_window_minutes).unwrap_or(15));
    let since = Utc::now() - window;
    let by_email = login_failure::Entity::find()
        .filter(login_failure::Column::EmailKey.eq(email_key))
        .filter(login_failure::Column::At.gte(since));
    let mut worst = wait(db, by_email, config, window).await?;
    if let Some(ip) = ip {
        let by_ip = login_failure::Entity::find()
            .filter(login_failure::Column::Ip.eq(ip))
            .filter(login_failure::Column::At.gte(since));
        worst = worst.max(wait(db, by_ip, config, window).await?);
    }
    Ok((worst > 0).then_some(u64::try_from(worst).unwrap_or(1)))
}

async fn wait(
    db: &impl ConnectionTrait,
    query: sea_orm::Select<login_failure::Entity>,
    config: &AuthConfig,
    window: Duration,
) -> Result<i64, sea_orm::DbErr> {
    let failures = query.clone().count(db).await?;
    let max = u64::from(config.login_max_failures.max(1));
    if failures < max {
        return Ok(0);
    }
    let Some(last) = query
        .order_by_desc(login_failure::Column::At)
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    let doublings = u32::try_from(failures - max).unwrap_or(u32::MAX).min(16);
    let delay = (BASE_DELAY_SECS.saturating_mul(1 << doublings)).min(window.num_seconds());
    let until = last.at + Duration::seconds(delay);
    Ok((until - Utc::now()).num_seconds().max(1))
}

pub async fn record_failure(
    db: &impl ConnectionTrait,
    email_key: &str,
    ip: Option<&str>,
) -> Result<(), sea_orm::DbErr> {
    login_failure::ActiveModel {
        id: Set(Uuid::now_v7()),
        email_key: Set(email_key.chars().take(254).collect()),
        ip: Set(ip.map(str::to_owned)),
        at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// After a successful login the account starts afresh (the address keeps
/// its count: it may be guessing other accounts).
pub async fn clear(db: &impl ConnectionTrait, email_key: &str) -> Result<(), sea_orm::DbErr> {
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::EmailKey.eq(email_key))
        .exec(db)
        .await?;
    Ok(())
}

/// Drops failures older than a day (called by the periodic cleanup).
pub async fn prune(db: &impl ConnectionTrait) -> Result<u64, sea_orm::DbErr> {
    Ok(login_failure::Entity::delete_many()
        .filter(login_failure::Column::At.lt(Utc::now() - Duration::days(1)))
        .exec(db)
        .await?
        .rows_affected)
}
