//! Printer commands, each one transaction with its audit entry: the
//! admin's list, create, change and delete; and printing an order's label,
//! which queues the sending job in the transaction of its audit entry.

use chrono::{DateTime, Utc};
use faena_platform::audit::{self, Entry};
use faena_platform::auth::Actor;
use faena_platform::http::etag::IfMatch;
use faena_platform::jobs::{self, Enqueue, JobState};
use faena_platform::{AppError, AppResult, AppState, FieldError, FieldErrors, Locale, Problem};
use sea_orm::{ActiveModelTrait, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::job::PrintLabel;
use super::store::{self, print, printer};
use super::{Address, parse_dpi};
use crate::orders::Caller;
use crate::orders::labels::{self, ServiceLabelKind};

/// A printer as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServicePrinterView {
    pub id: Uuid,
    pub name: String,
    /// `host:port`, as the printer is reached.
    pub address: String,
    pub host: String,
    pub port: u16,
    /// 203 or 300.
    pub dpi: u16,
    /// Whether labels may be sent to it.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// A printer as an admin writes it (`POST`, and `PUT` in full).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePrinterInput {
    /// How people call it: "Zebra mesón".
    pub name: String,
    /// `host:port` (port 9100 when left out), e.g. `192.168.1.50:9100`.
    pub address: String,
    /// 203 (default) or 300.
    #[serde(default = "default_dpi")]
    #[schema(minimum = 203, maximum = 300)]
    pub dpi: i64,
    #[serde(default = "yes")]
    pub active: bool,
}

fn default_dpi() -> i64 {
    203
}

fn yes() -> bool {
    true
}

/// Printing a label of an order.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePrintInput {
    pub printer_id: Uuid,
    pub kind: ServiceLabelKind,
}

/// A label sent (or being sent) to a printer: the platform job's state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServicePrintJobView {
    /// The platform job (`/api/jobs/{id}` for admins).
    pub job_id: Uuid,
    pub number: String,
    pub kind: ServiceLabelKind,
    pub printer_id: Uuid,
    pub printer_name: String,
    /// `queued` (waiting, or waiting to retry), `running`, `succeeded`,
    /// `dead` (out of attempts) or `cancelled`.
    pub state: JobState,
    pub attempts: i32,
    pub max_attempts: i32,
    /// Why the last attempt failed (the printer did not answer…).
    pub last_error: Option<String>,
    /// When it runs next, while queued.
    pub run_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

pub fn view(p: printer::Model) -> ServicePrinterView {
    let port = u16::try_from(p.port).unwrap_or(super::DEFAULT_PORT);
    let dpi = u16::try_from(p.dpi).unwrap_or(203);
    let address = Address {
        host: p.host.clone(),
        port,
    }
    .to_string();
    ServicePrinterView {
        id: p.id,
        name: p.name,
        address,
        host: p.host,
        port,
        dpi,
        active: p.active,
        created_at: p.created_at,
        updated_at: p.updated_at,
        version: p.version,
    }
}

/// The input, parsed; errors name each field.
fn parse(input: &ServicePrinterInput) -> AppResult<(String, Address, u16)> {
    let mut errors = FieldErrors::new();
    let name = errors.take(faena_platform::types::required_text(
        "name",
        &input.name,
        100,
    ));
    let address = errors.take(Address::parse(&input.address));
    let dpi = errors.take(parse_dpi(input.dpi));
    errors.finish()?;
    match (name, address, dpi) {
        (Some(n), Some(a), Some(d)) => Ok((n, a, d)),
        _ => Err(FieldError::new("name", "required").into()),
    }
}

#[tracing::instrument(skip_all)]
pub async fn list(state: &AppState) -> AppResult<Vec<ServicePrinterView>> {
    Ok(store::all(state.db())
        .await?
        .into_iter()
        .map(view)
        .collect())
}

#[tracing::instrument(skip_all, fields(printer = %id))]
pub async fn find(state: &AppState, id: Uuid) -> AppResult<ServicePrinterView> {
    store::find(state.db(), id)
        .await?
        .map(view)
        .ok_or(AppError::NotFound)
}

#[tracing::instrument(skip_all, fields(actor = %actor.label))]
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: ServicePrinterInput,
) -> AppResult<ServicePrinterView> {
    let (name, address, dpi) = parse(&input)?;
    let now = Utc::now();
    let txn = state.begin_write().await?;
    let saved = printer::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        host: Set(address.host),
        port: Set(i32::from(address.port)),
        dpi: Set(i32::from(dpi)),
        active: Set(input.active),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(&*txn)
    .await?;
    let v = view(saved);
    audit::record(
        &*txn,
        actor,
        Entry::new("create", "service_printer", v.id.to_string()).after(&v),
    )
    .await?;
    txn.commit().await?;
    Ok(v)
}

#[tracing::instrument(skip_all, fields(printer = %id, actor = %actor.label))]
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    if_match: IfMatch,
    input: ServicePrinterInput,
) -> AppResult<ServicePrinterView> {
    let (name, address, dpi) = parse(&input)?;
    let txn = state.begin_write().await?;
    let current = store::find(&*txn, id).await?.ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    let before = view(current.clone());
    let mut active: printer::ActiveModel = current.clone().into();
    active.name = Set(name);
    active.host = Set(address.host);
    active.port = Set(i32::from(address.port));
    active.dpi = Set(i32::from(dpi));
    active.active = Set(input.active);
    active.updated_at = Set(Utc::now());
    active.version = Set(current.version + 1);
    let v = view(active.update(&*txn).await?);
    audit::record(
        &*txn,
        actor,
        Entry::new("update", "service_printer", v.id.to_string())
            .before(&before)
            .after(&v),
    )
    .await?;
    txn.commit().await?;
    Ok(v)
}

#[tracing::instrument(skip_all, fields(printer = %id, actor = %actor.label))]
pub async fn delete(state: &AppState, actor: &Actor, id: Uuid, if_match: IfMatch) -> AppResult<()> {
    let txn = state.begin_write().await?;
    let current = store::find(&*txn, id).await?.ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    store::delete(&*txn, id).await?;
    audit::record(
        &*txn,
        actor,
        Entry::new("delete", "service_printer", id.to_string()).before(view(current)),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Queues label `input.kind` of order `number` for printer
/// `input.printer_id`: the ZPL for the printer's resolution, the job that
/// sends it and the audit entry, in one transaction. The desk and the
/// bench print; an order the caller may not see is not found.
#[tracing::instrument(skip_all, fields(order.number = %number, actor = %actor.label))]
pub async fn print(
    state: &AppState,
    actor: &Actor,
    who: &Caller,
    number: &str,
    input: ServicePrintInput,
    locale: Locale,
) -> AppResult<ServicePrintJobView> {
    let data = labels::data_of(state, who, number, locale).await?;
    if !(who.desk || who.bench) {
        return Err(AppError::Problem(Box::new(Problem::new(
            axum::http::StatusCode::FORBIDDEN,
            "service_print_forbidden",
        ))));
    }
    let printer = match store::find(state.db(), input.printer_id).await? {
        None => return Err(FieldError::new("printer_id", "unknown_printer").into()),
        Some(p) if !p.active => {
            return Err(FieldError::new("printer_id", "printer_inactive").into());
        }
        Some(p) => p,
    };
    let dpi = u16::try_from(printer.dpi).unwrap_or(203);
    let zpl = labels::zpl(&labels::layout(input.kind, &data), dpi);
    let order = crate::orders::store::find_by_number(state.db(), &data.number)
        .await?
        .ok_or(AppError::NotFound)?;
    let job = PrintLabel {
        printer_id: printer.id,
        number: data.number.clone(),
        kind: input.kind.as_str().to_owned(),
        zpl,
    };
    let now = Utc::now();
    let txn = state.begin_write().await?;
    let job_id = jobs::enqueue(&*txn, &job, Enqueue::default())
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("print job not queued")))?;
    let record = print::ActiveModel {
        id: Set(job_id),
        order_id: Set(order.id),
        printer_id: Set(printer.id),
        printer_name: Set(printer.name.clone()),
        kind: Set(input.kind.as_str().to_owned()),
        created_by: Set(actor.label.clone()),
        created_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    audit::record(
        &*txn,
        actor,
        Entry::new(
            "service_label.printed",
            "service_order",
            data.number.clone(),
        )
        .after(serde_json::json!({
            "number": data.number, "kind": input.kind.as_str(),
            "printer": printer.name, "job_id": job_id,
        })),
    )
    .await?;
    txn.commit().await?;
    state.jobs().wake();
    Ok(print_view(
        record,
        &data.number,
        None,
        jobs::max_attempts::<PrintLabel>(),
    ))
}

fn print_view(
    p: print::Model,
    number: &str,
    job: Option<faena_platform::jobs::entity::job::Model>,
    max_attempts: u32,
) -> ServicePrintJobView {
    let (state, attempts, max, last_error, run_at) = match job {
        Some(j) => (
            JobState::parse(&j.state).unwrap_or(JobState::Queued),
            j.attempts,
            j.max_attempts,
            j.last_error,
            (j.state == JobState::Queued.as_str()).then_some(j.run_at),
        ),
        None => (
            JobState::Queued,
            0,
            i32::try_from(max_attempts).unwrap_or(i32::MAX),
            None,
            Some(p.created_at),
        ),
    };
    ServicePrintJobView {
        job_id: p.id,
        number: number.to_owned(),
        kind: ServiceLabelKind::parse(&p.kind).unwrap_or(ServiceLabelKind::Intake),
        printer_id: p.printer_id,
        printer_name: p.printer_name,
        state,
        attempts,
        max_attempts: max,
        last_error,
        run_at,
        created_by: p.created_by,
        created_at: p.created_at,
    }
}

/// The order's latest labels sent, newest first, each with its job's
/// state as the platform keeps it.
pub async fn prints_of(
    state: &AppState,
    order_id: Uuid,
    number: &str,
) -> AppResult<Vec<ServicePrintJobView>> {
    let mut out = Vec::new();
    for p in store::prints_of(state.db(), order_id, 5).await? {
        let job = jobs::load(state, p.id).await?;
        out.push(print_view(
            p,
            number,
            job,
            jobs::max_attempts::<PrintLabel>(),
        ));
    }
    Ok(out)
}

/// The latest labels sent for order `number` (already checked visible).
pub async fn prints_for(state: &AppState, number: &str) -> AppResult<Vec<ServicePrintJobView>> {
    match crate::orders::store::find_by_number(state.db(), number).await? {
        Some(o) => prints_of(state, o.id, &o.number).await,
        None => Ok(Vec::new()),
    }
}
