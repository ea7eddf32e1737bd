//! What the service-order API shows and takes: the order as read, the
//! inputs of each command, and the names an order shows (its client's,
//! through the directory; its technician's, from the platform's users).

use chrono::{DateTime, NaiveDate, Utc};
use faena_platform::auth::Principal;
use faena_platform::{AppResult, AppState};
use sea_orm::sea_query::{Expr, SimpleExpr};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{history, line, order};
use super::{
    Caller, EstimateLine, EstimateLineInput, EstimateTotals, LineKind, ServicePriority,
    ServiceStatus,
};
use crate::perms;

/// A service order as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceOrderView {
    /// `OS-2026-000123`.
    pub number: String,
    pub client_id: Uuid,
    /// The client's name at the time of reading.
    pub client_name: Option<String>,
    /// Where the customer's notices (intake, estimate, ready, delivered)
    /// are mailed.
    pub contact_email: Option<String>,
    pub status: ServiceStatus,
    /// Where the order may go next.
    pub allowed_next: Vec<ServiceStatus>,
    pub priority: ServicePriority,
    pub device_type: String,
    pub brand: String,
    pub model: String,
    /// Serial number or IMEI.
    pub serial: Option<String>,
    /// What came with the device (charger, case, SIM tray…).
    pub accessories: Option<String>,
    /// The device's state at intake (scratches, a cracked screen…).
    pub condition_notes: Option<String>,
    pub reported_fault: String,
    pub diagnosis: Option<String>,
    pub promised_date: Option<NaiveDate>,
    /// The assigned technician (a user), if any.
    pub technician_id: Option<Uuid>,
    pub technician_name: Option<String>,
    /// The earlier, delivered order this repair is a warranty claim of.
    pub warranty_of: Option<String>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// The estimate.
    pub lines: Vec<EstimateLine>,
    pub totals: EstimateTotals,
    /// Always `CLP`: amounts are whole pesos.
    pub currency: String,
    /// Every status change, oldest first (on the order's own read only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<ServiceHistoryEntry>>,
    /// The payment the payments callback recorded, if any.
    pub payment: Option<ServicePaymentView>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceHistoryEntry {
    pub from_status: Option<ServiceStatus>,
    pub to_status: ServiceStatus,
    pub note: Option<String>,
    /// The user (or key) that made the move.
    pub actor_id: Option<String>,
    /// How the move was signed when it was made (a user's email, a key's
    /// name, a customer's typed name).
    pub actor: String,
    /// The user's name today, when a user made the move.
    pub actor_name: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<history::Model> for ServiceHistoryEntry {
    fn from(h: history::Model) -> Self {
        ServiceHistoryEntry {
            from_status: h.from_status.as_deref().and_then(ServiceStatus::parse),
            to_status: ServiceStatus::parse(&h.to_status).unwrap_or(ServiceStatus::Received),
            note: h.note,
            actor_id: h.actor_id,
            actor: h.actor,
            actor_name: None,
            at: h.at,
        }
    }
}

/// What the caller may do, from the permissions of their role or key.
pub fn caller(p: &Principal) -> Caller {
    Caller {
        user_id: p.user_id(),
        all: p.can(perms::ORDERS_ALL),
        desk: p.can(perms::ORDERS_WRITE),
        bench: p.can(perms::ORDERS_WORK),
        quote: p.can(perms::ORDERS_QUOTE),
    }
}

pub fn status_of(m: &order::Model) -> ServiceStatus {
    ServiceStatus::parse(&m.status).unwrap_or(ServiceStatus::Received)
}

fn line_of(l: line::Model) -> EstimateLine {
    EstimateLine {
        kind: LineKind::parse(&l.kind).unwrap_or(LineKind::Part),
        description: l.description,
        quantity: l.quantity,
        unit_price_clp: l.unit_price_clp,
        discount_percent: l.discount_percent,
        net_clp: l.net_clp,
    }
}

/// A payment recorded by the payments callback (`POST /api/hooks/payments`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServicePaymentView {
    pub paid_at: DateTime<Utc>,
    /// What the provider says was paid, CLP.
    pub amount_clp: i64,
    /// The provider's reference.
    pub reference: String,
    /// False when the amount paid differs from the order's total (the
    /// payment is recorded all the same, and flagged).
    pub matches_total: bool,
}

pub fn view(
    m: order::Model,
    lines: Vec<line::Model>,
    client_name: Option<String>,
    technician_name: Option<String>,
) -> ServiceOrderView {
    let status = status_of(&m);
    ServiceOrderView {
        number: m.number,
        client_id: m.client_id,
        client_name,
        contact_email: m.contact_email,
        status,
        allowed_next: status.next().to_vec(),
        priority: ServicePriority::parse(&m.priority).unwrap_or_default(),
        device_type: m.device_type,
        brand: m.brand,
        model: m.model,
        serial: m.serial,
        accessories: m.accessories,
        condition_notes: m.condition_notes,
        reported_fault: m.reported_fault,
        diagnosis: m.diagnosis,
        promised_date: m.promised_date,
        technician_id: m.technician_id,
        technician_name,
        warranty_of: m.warranty_of,
        cancel_reason: m.cancel_reason,
        lines: lines.into_iter().map(line_of).collect(),
        totals: EstimateTotals {
            net_clp: m.net_clp,
            vat_clp: m.vat_clp,
            total_clp: m.total_clp,
        },
        currency: "CLP".into(),
        history: None,
        payment: m.paid_at.map(|paid_at| {
            let amount = m.paid_amount_clp.unwrap_or(0);
            ServicePaymentView {
                paid_at,
                amount_clp: amount,
                reference: m.payment_reference.clone().unwrap_or_default(),
                matches_total: amount == m.total_clp,
            }
        }),
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    }
}

pub async fn client_name(state: &AppState, id: Uuid) -> AppResult<Option<String>> {
    let Some(dir) = state.directory("client") else {
        return Ok(None);
    };
    Ok(dir.names(state.db(), &[id]).await?.remove(&id))
}

pub fn name_of_client(state: &AppState) -> Option<SimpleExpr> {
    state
        .directory("client")
        .and_then(|d| d.name_of(Expr::col((order::Entity, order::Column::ClientId)).into()))
}

/// A device taken in.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceOrder {
    /// The customer: a client of the clients directory.
    pub client_id: Uuid,
    /// Where the customer's notices go. Left out: the client's own email
    /// from the clients directory; an empty string: no mail is sent.
    #[serde(default)]
    pub contact_email: Option<String>,
    /// Notebook, phone, printer…
    pub device_type: String,
    pub brand: String,
    pub model: String,
    /// Serial number or IMEI.
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub accessories: Option<String>,
    #[serde(default)]
    pub condition_notes: Option<String>,
    pub reported_fault: String,
    /// Default `normal`.
    #[serde(default)]
    pub priority: Option<ServicePriority>,
    #[serde(default)]
    pub promised_date: Option<NaiveDate>,
    /// A user who holds `service.orders.work`.
    #[serde(default)]
    pub technician_id: Option<Uuid>,
    /// An earlier, delivered order this repair is a warranty claim of.
    #[serde(default)]
    pub warranty_of: Option<String>,
    /// The estimate's lines, if already known.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub lines: Vec<EstimateLineInput>,
}

/// A change to an order's data (`PUT`); absent fields stay, an empty text
/// clears an optional one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceOrderUpdate {
    pub client_id: Option<Uuid>,
    /// An empty text removes the address.
    pub contact_email: Option<String>,
    pub device_type: Option<String>,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub accessories: Option<String>,
    pub condition_notes: Option<String>,
    pub reported_fault: Option<String>,
    pub diagnosis: Option<String>,
    pub priority: Option<ServicePriority>,
    pub promised_date: Option<NaiveDate>,
    pub warranty_of: Option<String>,
}

/// The technician's finding.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceDiagnosisInput {
    pub diagnosis: String,
}

/// The whole estimate, replacing the previous one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EstimateLinesInput {
    #[schema(max_items = 200)]
    pub lines: Vec<EstimateLineInput>,
}

/// A move to another status.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceTransitionInput {
    pub to: ServiceStatus,
    /// Why; required to cancel.
    #[serde(default)]
    pub note: Option<String>,
}

/// Who works on the order; `null` leaves it unassigned.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAssignInput {
    pub technician_id: Option<Uuid>,
}

/// Mailing the estimate with a new approval link (earlier unused links
/// stop working).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceEstimateSendInput {
    /// Days the link stays good (1–30, default 7).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 30)]
    pub valid_days: Option<i64>,
}
