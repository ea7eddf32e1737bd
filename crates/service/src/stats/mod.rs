//! The shop's statistics (seed 003's `/api/estadisticas/`): orders by
//! status now; over a period, the average time spent in each status, each
//! technician's load and throughput, and repeat repairs; and the revenue
//! of the last 12 months. Summed in the database, kept in the platform
//! cache under the topic `service` (decision 0029): any order's change
//! drops them on every replica.

pub mod api;
pub mod pages;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use faena_platform::ui::{day_start, today};
use faena_platform::{AppResult, AppState, FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::orders::ServiceStatus;
use crate::orders::service::TOPIC;

/// A repair taken in again for the same serial/IMEI within this many days
/// of the earlier intake counts as a repeat.
pub const REPEAT_DAYS: i64 = 90;

/// The period when none is asked for: the last 30 days, today included.
pub const DEFAULT_DAYS: i64 = 30;

/// The period (`from`, `to`: days in the reader's zone, both included).
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// First day, `2026-11-01` (default: 29 days before `to`).
    #[param(max_length = 10)]
    pub from: Option<String>,
    /// Last day, included (default: today).
    #[param(max_length = 10)]
    pub to: Option<String>,
    /// CSV only: `semicolon` (default) or `comma`.
    #[param(max_length = 10)]
    pub delimiter: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl StatsQuery {
    /// The period asked for; a day that is not `aaaa-mm-dd`, or `from`
    /// after `to`, is refused naming the field.
    pub fn period(&self, zone: chrono_tz::Tz) -> AppResult<Period> {
        let mut errors = FieldErrors::new();
        let day = |field: &'static str, raw: &Option<String>, errors: &mut FieldErrors| {
            let raw = raw.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
            errors.take(
                NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .ok()
                    .filter(|d| (1900..=9999).contains(&d.year()))
                    .ok_or_else(|| FieldError::new(field, "invalid_date")),
            )
        };
        let to = day("to", &self.to, &mut errors);
        let from = day("from", &self.from, &mut errors);
        if let Some(d) = self.delimiter.as_deref().map(str::trim)
            && !d.is_empty()
            && !matches!(d, "semicolon" | "comma")
        {
            errors.push(FieldError::new("delimiter", "one_of").with("allowed", "semicolon, comma"));
        }
        errors.finish()?;
        let to = to.unwrap_or_else(|| today(zone));
        let from = from.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
        if from > to {
            return Err(FieldError::new("from", "service_stats_from_after_to").into());
        }
        if (to - from).num_days() > 3660 {
            return Err(FieldError::new("from", "service_stats_period_too_long")
                .with("max", 3660)
                .into());
        }
        Ok(Period { from, to })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceStageTurnaround {
    pub status: String,
    /// Orders that left this status in the period.
    pub orders: u64,
    /// Their average time in it, in hours (one decimal).
    pub average_hours: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceTechnicianStats {
    /// The technician's user id.
    pub id: Uuid,
    pub name: String,
    /// Open orders assigned to them now.
    pub open_orders: u64,
    /// Orders of theirs delivered in the period.
    pub delivered: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceRevenueMonth {
    /// `2026-11`.
    pub month: String,
    /// Orders delivered in the month.
    pub orders: u64,
    /// Their totals (IVA included), CLP.
    pub total_clp: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceRepeats {
    /// Orders taken in during the period under the warranty of an
    /// earlier one.
    pub warranty: u64,
    /// Orders taken in during the period for a serial/IMEI taken in
    /// within the 90 days before.
    pub same_serial: u64,
    /// The latter's numbers, oldest first.
    pub same_serial_orders: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceStats {
    /// First day of the period (reader's zone).
    pub from: NaiveDate,
    /// Last day, included.
    pub to: NaiveDate,
    /// Orders in each status now (every status named, zeros included).
    pub by_status: BTreeMap<String, u64>,
    /// Open orders now (neither delivered nor cancelled).
    pub open: u64,
    /// Each status's average stay, for stays that ended in the period,
    /// in the order of the workflow (statuses never left are omitted).
    pub turnaround: Vec<ServiceStageTurnaround>,
    /// Technicians by name, plus `Sin asignar` when unassigned orders
    /// were delivered.
    pub technicians: Vec<ServiceTechnicianStats>,
    /// Delivered orders in the 12 months up to `to`, oldest first.
    pub revenue: Vec<ServiceRevenueMonth>,
    pub repeats: ServiceRepeats,
}

/// The figures, from the platform cache while no order changed.
pub async fn cached(
    state: &AppState,
    zone: chrono_tz::Tz,
    period: Period,
) -> AppResult<Arc<ServiceStats>> {
    let key = format!(
        "stats:{}:{}:{}:{}",
        zone.name(),
        period.from,
        period.to,
        today(zone)
    );
    state
        .cache()
        .get_or_compute(TOPIC, &key, || build(state, zone, period))
        .await
}

fn month_of(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub async fn build(state: &AppState, zone: chrono_tz::Tz, p: Period) -> AppResult<ServiceStats> {
    let db = state.db();
    let from = day_start(p.from, zone);
    let to = day_start(p.to.succ_opt().unwrap_or(p.to), zone);

    let counts = store::count_by_status(db).await?;
    let by_status: BTreeMap<String, u64> = ServiceStatus::ALL
        .iter()
        .map(|s| {
            (
                s.as_str().to_owned(),
                counts.get(s.as_str()).copied().unwrap_or(0),
            )
        })
        .collect();
    let open = ServiceStatus::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| by_status.get(s.as_str()).copied().unwrap_or(0))
        .sum();

    // Time in each status: each move out, less the latest move in.
    let mut spent: HashMap<String, (u64, i64)> = HashMap::new();
    for s in store::stays(db, from, to).await? {
        let Some(entered) = s.entered_at else {
            continue;
        };
        let seconds = (s.left_at - entered).num_seconds().max(0);
        let slot = spent.entry(s.status).or_default();
        slot.0 += 1;
        slot.1 += seconds;
    }
    let turnaround = ServiceStatus::ALL
        .iter()
        .filter_map(|s| {
            let (n, seconds) = spent.get(s.as_str()).copied()?;
            Some(ServiceStageTurnaround {
                status: s.as_str().to_owned(),
                orders: n,
                average_hours: (n > 0).then(|| round1(seconds as f64 / 3600.0 / n as f64)),
            })
        })
        .collect();

    let mut delivered = store::delivered_by_technician(db, from, to).await?;
    let mut technicians: Vec<ServiceTechnicianStats> = crate::technicians::service::list(state)
        .await?
        .into_iter()
        .map(|t| ServiceTechnicianStats {
            delivered: delivered.remove(&Some(t.id)).unwrap_or(0),
            id: t.id,
            name: t.name,
            open_orders: t.open_orders,
        })
        .collect();
    technicians.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let unassigned = delivered.remove(&None).unwrap_or(0);
    // Delivered by someone no longer a technician: named from the users.
    let others: Vec<Uuid> = delivered.keys().filter_map(|k| *k).collect();
    let names = faena_platform::auth::users::names(db, &others).await?;
    for (id, n) in delivered {
        let Some(id) = id else { continue };
        technicians.push(ServiceTechnicianStats {
            id,
            name: names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
            open_orders: 0,
            delivered: n,
        });
    }
    if unassigned > 0 {
        technicians.push(ServiceTechnicianStats {
            id: Uuid::nil(),
            name: state
                .i18n()
                .t(faena_platform::Locale::Es, "service.unassigned", &[]),
            open_orders: 0,
            delivered: unassigned,
        });
    }

    // The 12 months up to `to`'s, in the reader's zone.
    let last = p.to.with_day(1).unwrap_or(p.to);
    let starts: Vec<NaiveDate> = (0..12u32)
        .rev()
        .filter_map(|i| last.checked_sub_months(chrono::Months::new(i)))
        .collect();
    let bounds: Vec<DateTime<Utc>> = starts.iter().map(|d| day_start(*d, zone)).collect();
    let end = day_start(
        last.checked_add_months(chrono::Months::new(1))
            .unwrap_or(p.to),
        zone,
    );
    let revenue = starts
        .iter()
        .zip(store::revenue_by_period(db, &bounds, end).await?)
        .map(|(d, r)| ServiceRevenueMonth {
            month: month_of(*d),
            orders: u64::try_from(r.orders).unwrap_or(0),
            total_clp: r.total.unwrap_or(0),
        })
        .collect();

    let warranty = store::count_warranty(db, from, to).await?;
    let intakes = store::repeated_serials(db, from - Duration::days(REPEAT_DAYS), to).await?;
    let mut last_seen: HashMap<&str, DateTime<Utc>> = HashMap::new();
    let mut same_serial_orders = Vec::new();
    for i in &intakes {
        if let Some(before) = last_seen.get(i.serial.as_str())
            && i.created_at >= from
            && i.created_at - *before <= Duration::days(REPEAT_DAYS)
        {
            same_serial_orders.push(i.number.clone());
        }
        last_seen.insert(i.serial.as_str(), i.created_at);
    }
    Ok(ServiceStats {
        from: p.from,
        to: p.to,
        by_status,
        open,
        turnaround,
        technicians,
        revenue,
        repeats: ServiceRepeats {
            warranty,
            same_serial: same_serial_orders.len() as u64,
            same_serial_orders,
        },
    })
}
