//! The warehouse's panel on the home page: orders by status, late ones,
//! today's, returns of the week with their reasons, orders per day over
//! 30 days, and the latest status changes. Each figure links to the list
//! that shows what it counts.

use chrono::{Duration, NaiveDate};
use faena_platform::auth::Permission;
use faena_platform::dashboard::{Chart, Figure, Item, Panel, Tile};
use faena_platform::ui::{PageContext, day_start, today};
use faena_platform::{AppResult, AppState};

use super::Status;
use super::store;
use crate::perms;

/// An open order is late once it has waited this many whole days.
pub const LATE_AFTER_DAYS: i64 = 2;
/// Days the chart covers, today included.
pub const CHART_DAYS: i64 = 30;

pub struct OrdersTile;

fn tone(s: Status) -> &'static str {
    match s {
        Status::Received => "new",
        Status::Picking | Status::Packing | Status::Shipped => "progress",
        Status::Delivered => "done",
        Status::Returned => "problem",
        Status::Cancelled => "closed",
    }
}

fn href(path: &str, params: &[(&str, String)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    format!("{path}?{}", q.finish())
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

#[async_trait::async_trait]
impl Tile<AppState> for OrdersTile {
    fn permission(&self) -> Permission {
        perms::ORDERS_READ
    }

    async fn panel(&self, state: &AppState, page: &PageContext) -> AppResult<Panel> {
        let db = state.db();
        let zone = state.zone_for(page.principal.as_ref());
        let t = |key: &str, params: &[(&str, String)]| state.i18n().t(page.locale, key, params);
        let today = today(zone);
        let counts = store::count_by_status(db).await?;
        let count = |s: Status| counts.get(s.as_str()).copied().unwrap_or(0);

        let mut figures: Vec<Figure> = [
            Status::Received,
            Status::Picking,
            Status::Packing,
            Status::Shipped,
        ]
        .into_iter()
        .map(|s| Figure {
            label: t(&format!("status.{}", s.as_str()), &[]),
            value: count(s),
            href: href("/orders", &[("status", s.as_str().to_owned())]),
            tone: Some(tone(s)),
        })
        .collect();

        // Late: still in the warehouse, created before the start of the day
        // `LATE_AFTER_DAYS` ago.
        let last_on_time = today - Duration::days(LATE_AFTER_DAYS);
        let late = store::count_open_before(db, day_start(last_on_time, zone)).await?;
        let open: Vec<&str> = store::OPEN.iter().map(|s| s.as_str()).collect();
        figures.push(Figure {
            label: t("dashboard.late", &[("days", LATE_AFTER_DAYS.to_string())]),
            value: late,
            href: href(
                "/orders",
                &[
                    ("status", open.join(",")),
                    ("to", ymd(last_on_time - Duration::days(1))),
                ],
            ),
            tone: Some("problem"),
        });

        // Orders per day, in local days, oldest first.
        let first_day = today - Duration::days(CHART_DAYS - 1);
        let mut per_day = vec![0u64; usize::try_from(CHART_DAYS).unwrap_or(30)];
        for at in store::created_since(db, day_start(first_day, zone)).await? {
            let day = at.with_timezone(&zone).date_naive();
            if let Some(slot) = usize::try_from((day - first_day).num_days())
                .ok()
                .and_then(|i| per_day.get_mut(i))
            {
                *slot += 1;
            }
        }
        let created_today = per_day.last().copied().unwrap_or(0);
        figures.push(Figure {
            label: t("dashboard.created_today", &[]),
            value: created_today,
            href: href("/orders", &[("from", ymd(today)), ("to", ymd(today))]),
            tone: None,
        });
        let points = per_day
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let day = first_day + Duration::days(i64::try_from(i).unwrap_or(0));
                (
                    day.format("%d-%m").to_string(),
                    *n,
                    href("/orders", &[("from", ymd(day)), ("to", ymd(day))]),
                )
            })
            .collect();
        let chart = Chart::bars(
            t("dashboard.per_day", &[("days", CHART_DAYS.to_string())]),
            points,
        );

        // Returns of the last seven days, by reason.
        let week_start = day_start(today - Duration::days(6), zone);
        let mut reasons = store::returns_by_code(db, week_start).await?;
        reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
        let returned: u64 = reasons.iter().map(|r| r.1).sum();
        figures.push(Figure {
            label: t("dashboard.returns_week", &[]),
            value: returned,
            href: "/orders/returns".to_owned(),
            tone: Some("problem"),
        });
        let mut items: Vec<Item> = reasons
            .into_iter()
            .map(|(code, n)| Item {
                text: format!(
                    "{}: {n}",
                    t(
                        &format!("return_code.{}", code.as_deref().unwrap_or("other")),
                        &[]
                    )
                ),
                href: "/orders/returns".to_owned(),
                note: None,
            })
            .collect();

        // The latest moves.
        for (h, number) in store::recent_history(db, 6).await? {
            let to = Status::parse(&h.to_status).unwrap_or(Status::Received);
            let key = if h.from_status.is_none() {
                "dashboard.created"
            } else {
                "dashboard.moved"
            };
            items.push(Item {
                text: t(
                    key,
                    &[
                        ("number", number.clone()),
                        ("status", t(&format!("status.{}", to.as_str()), &[])),
                    ],
                ),
                href: format!("/orders/{number}"),
                note: Some(format!(
                    "{} · {}",
                    h.at.with_timezone(&zone).format("%d-%m %H:%M"),
                    h.actor
                )),
            });
        }

        Ok(Panel {
            title: t("dashboard.warehouse", &[]),
            figures,
            chart: Some(chart),
            list_title: Some(t("dashboard.activity", &[])),
            items,
            more: Some(Item {
                text: t("dashboard.all_orders", &[]),
                href: "/orders".to_owned(),
                note: None,
            }),
        })
    }
}
