//! The maintenance panel on the home page: machines by status, work
//! waiting to be signed off, work done this month and the latest records.
//! Each figure links to the list that shows what it counts.

use chrono::Datelike;
use faena_platform::auth::Permission;
use faena_platform::dashboard::{Figure, Item, Panel, Tile};
use faena_platform::http::pagination::PageQuery;
use faena_platform::ui::{PageContext, day_start, today};
use faena_platform::{AppResult, AppState};

use crate::machines::{MachineStatus, store as machines};
use crate::perms;
use crate::records::service::{self as records, RecordFilter};
use crate::records::store;

pub struct MaintenanceTile;

pub fn machine_tone(s: MachineStatus) -> &'static str {
    match s {
        MachineStatus::Operational => "done",
        MachineStatus::InMaintenance => "progress",
        MachineStatus::OutOfService => "problem",
        MachineStatus::Retired => "closed",
    }
}

#[async_trait::async_trait]
impl Tile<AppState> for MaintenanceTile {
    fn permission(&self) -> Permission {
        perms::MACHINES_READ
    }

    async fn panel(&self, state: &AppState, page: &PageContext) -> AppResult<Panel> {
        let db = state.db();
        let zone = state.zone_for(page.principal.as_ref());
        let t = |key: &str, params: &[(&str, String)]| state.i18n().t(page.locale, key, params);
        let counts = machines::count_by_status(db).await?;
        let mut figures: Vec<Figure> = [
            MachineStatus::Operational,
            MachineStatus::InMaintenance,
            MachineStatus::OutOfService,
        ]
        .into_iter()
        .map(|s| Figure {
            label: t(&format!("machine_status.{}", s.as_str()), &[]),
            value: counts.get(s.as_str()).copied().unwrap_or(0),
            href: format!("/machines?status={}", s.as_str()),
            tone: Some(machine_tone(s)),
        })
        .collect();
        let can_records = page.can(perms::RECORDS_READ);
        let mut items = Vec::new();
        if can_records {
            let work = crate::plans::service::work_summary(state, today(zone), 0).await?;
            figures.push(Figure {
                label: t("dashboard.maintenance_overdue", &[]),
                value: work.overdue_count,
                href: "/machines?due=overdue".to_owned(),
                tone: Some("problem"),
            });
            figures.push(Figure {
                label: t("dashboard.maintenance_open", &[]),
                value: work.overdue_count + work.due_soon_count,
                href: "/maintenance/work".to_owned(),
                tone: Some("progress"),
            });
            if page.can(perms::REQUESTS_READ) {
                figures.push(Figure {
                    label: t("dashboard.maintenance_requests", &[]),
                    value: crate::requests::store::count_pending(db).await?,
                    href: "/maintenance/requests".to_owned(),
                    tone: Some("new"),
                });
            }
            let day = today(zone);
            let first = day.with_day(1).unwrap_or(day);
            figures.push(Figure {
                label: t("dashboard.maintenance_this_month", &[]),
                value: store::count_since(db, day_start(first, zone)).await?,
                href: format!("/maintenance?from={}", first.format("%Y-%m-%d")),
                tone: None,
            });
            figures.push(Figure {
                label: t("dashboard.maintenance_unsigned", &[]),
                value: store::count_unsigned(db).await?,
                href: "/maintenance?signed=false".to_owned(),
                tone: Some("new"),
            });
            let latest =
                records::search(state, &RecordFilter::default(), &PageQuery::first(5), zone)
                    .await?;
            for r in latest.items {
                items.push(Item {
                    text: t(
                        "dashboard.maintenance_item",
                        &[
                            ("kind", t(&format!("record_kind.{}", r.kind.as_str()), &[])),
                            ("code", r.machine_code.clone()),
                        ],
                    ),
                    href: format!("/maintenance/{}", r.id),
                    note: Some(format!(
                        "{} · {}",
                        r.performed_at.with_timezone(&zone).format("%d-%m %H:%M"),
                        r.technician_name
                    )),
                });
            }
        }
        Ok(Panel {
            title: t("dashboard.maintenance", &[]),
            figures,
            chart: None,
            list_title: can_records.then(|| t("dashboard.maintenance_latest", &[])),
            items,
            more: Some(Item {
                text: t("dashboard.all_machines", &[]),
                href: "/machines".to_owned(),
                note: None,
            }),
        })
    }
}
