//! Login throttling (decision 0023). Failures are kept in the database, so
//! every replica sees them, and counted in a sliding window for two keys:
//! - an account *from one address*: past `login_max_failures`, that address
//!   waits before its next try on that account, 30 s doubling with each
//!   further failure, never past the window. The same account from an
//!   address that has not been failing is not held back, so nobody can lock
//!   a colleague out by typing wrong passwords in their name;
//! - an address, across accounts: past twice that many failures, the
//!   address waits the same way (one machine guessing many accounts).
//!
//! A try refused while waiting is not a failure: it neither counts nor
//! extends the wait, and `Retry-After` is the time actually left.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use uuid::Uuid;

use super::entities::login_failure;
use crate::config::AuthConfig;

const BASE_DELAY_SECS: i64 = 30;

/// How many more failures an address may make across accounts than on one.
const ADDRESS_FACTOR: u64 = 2;

/// `Some(seconds)` when this address must wait before trying this account.
pub async fn locked_for(
    db: &impl ConnectionTrait,
    config: &AuthConfig,
    email_key: &str,
    ip: Option<&str>,
) -> Result<Option<u64>, sea_orm::DbErr> {
    let window = Duration::minutes(i64::try_from(config.login_window_minutes).unwrap_or(15));
    let since = Utc::now() - window;
    let max = u64::from(config.login_max_failures.max(1));
    let pair = login_failure::Entity::find()
        .filter(login_failure::Column::EmailKey.eq(email_key))
        .filter(login_failure::Column::At.gte(since));
    let pair = match ip {
        Some(ip) => pair.filter(login_failure::Column::Ip.eq(ip)),
        None => pair.filter(login_failure::Column::Ip.is_null()),
    };
    let mut worst = wait(db, pair, max, window).await?;
    if let Some(ip) = ip {
        let by_ip = login_failure::Entity::find()
            .filter(login_failure::Column::Ip.eq(ip))
            .filter(login_failure::Column::At.gte(since));
        worst = worst.max(wait(db, by_ip, max * ADDRESS_FACTOR, window).await?);
    }
    Ok((worst > 0).then_some(u64::try_from(worst).unwrap_or(1)))
}

/// Seconds left to wait (0: none) after `failures` with the last at `last`.
pub fn delay_left(
    failures: u64,
    max: u64,
    last: DateTime<Utc>,
    window: Duration,
    now: DateTime<Utc>,
) -> i64 {
    if failures < max {
        return 0;
    }
    let doublings = u32::try_from(failures - max).unwrap_or(u32::MAX).min(16);
    let delay = BASE_DELAY_SECS
        .saturating_mul(1 << doublings)
        .min(window.num_seconds());
    let left_ms = (last + Duration::seconds(delay) - now).num_milliseconds();
    // Rounded up: a client that waits what it is told is let in.
    if left_ms <= 0 {
        0
    } else {
        (left_ms + 999) / 1000
    }
}

async fn wait(
    db: &impl ConnectionTrait,
    query: sea_orm::Select<login_failure::Entity>,
    max: u64,
    window: Duration,
) -> Result<i64, sea_orm::DbErr> {
    let failures = query.clone().count(db).await?;
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
    Ok(delay_left(failures, max, last.at, window, Utc::now()))
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

/// After a successful login from an address, that address starts afresh
/// on that account (its failures on other accounts stay: it may be
/// guessing them; other addresses' failures stay: they may be guessing
/// this one).
pub async fn clear(
    db: &impl ConnectionTrait,
    email_key: &str,
    ip: Option<&str>,
) -> Result<(), sea_orm::DbErr> {
    let q =
        login_failure::Entity::delete_many().filter(login_failure::Column::EmailKey.eq(email_key));
    let q = match ip {
        Some(ip) => q.filter(login_failure::Column::Ip.eq(ip)),
        None => q.filter(login_failure::Column::Ip.is_null()),
    };
    q.exec(db).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_is_capped_and_counts_down() {
        let window = Duration::minutes(15);
        let last = Utc::now();
        assert_eq!(delay_left(4, 5, last, window, last), 0);
        assert_eq!(delay_left(5, 5, last, window, last), 30);
        assert_eq!(delay_left(6, 5, last, window, last), 60);
        assert_eq!(delay_left(9, 5, last, window, last), 480);
        assert_eq!(
            delay_left(30, 5, last, window, last),
            900,
            "never past the window"
        );
        let later = last + Duration::seconds(12);
        assert_eq!(
            delay_left(5, 5, last, window, later),
            18,
            "the time actually left"
        );
        assert_eq!(
            delay_left(5, 5, last, window, last + Duration::seconds(31)),
            0
        );
    }
}
