//! The payments callback: `POST /api/hooks/payments` (the platform's
//! inbound webhooks: Standard Webhooks signature with
//! `webhooks.inbound.payments.secret`, a retried `webhook-id` taken once)
//! hands each event to [`handle`], in a job.
//!
//! The body the payment provider (or the bridge in front of it) sends:
//!
//! ```json
//! {"type": "payment.succeeded",
//!  "data": {"order_number": "OS-2026-000001", "amount_clp": 11900,
//!           "reference": "TBK-7781-22"}}
//! ```
//!
//! Other `type`s are taken and ignored. The order is marked paid once per
//! reference: an event with the reference already recorded (the provider
//! sending it again under a new `webhook-id`) changes nothing; an amount
//! that differs from the order's total is recorded all the same and
//! flagged (`payment.matches_total = false`); a second payment with
//! another reference keeps the first and is audited as
//! `service_order.payment_ignored`. An unknown order, or a body not of
//! this shape, fails the event (kept with its error in the platform's
//! inbound list, retried by the job), never a 500 to the sender.

use anyhow::{Context, bail};
use chrono::Utc;
use faena_platform::AppState;
use faena_platform::audit::{self, Entry};
use faena_platform::auth::Actor;
use faena_platform::webhooks::InboundEvent;
use sea_orm::Set;
use serde::Deserialize;

use super::service::{announce, notify};
use super::store::{self, order};
use super::views::view;

/// The inbound source whose events this module handles.
pub const SOURCE: &str = "payments";

/// The outbound webhook event sent when an order is paid.
pub const PAID: &str = "service_order.paid";

#[derive(Debug, Deserialize)]
struct PaymentEvent {
    #[serde(rename = "type")]
    kind: String,
    data: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Payment {
    order_number: String,
    amount_clp: i64,
    reference: String,
}

/// Handles one event of the `payments` source (at least once).
pub async fn handle(state: AppState, event: InboundEvent) -> anyhow::Result<()> {
    let e: PaymentEvent = event
        .json()
        .context("the payment event is not {\"type\", \"data\"} JSON")?;
    if e.kind != "payment.succeeded" {
        tracing::info!(kind = %e.kind, "payment event ignored");
        return Ok(());
    }
    let p: Payment = serde_json::from_value(e.data.unwrap_or_default())
        .context("payment.succeeded needs data.order_number, data.amount_clp and data.reference")?;
    let reference = p.reference.trim().to_owned();
    if reference.is_empty() || reference.chars().count() > 120 {
        bail!("data.reference must be 1 to 120 characters");
    }
    if p.amount_clp < 0 {
        bail!("data.amount_clp must not be negative");
    }
    record(
        &state,
        &p.order_number,
        p.amount_clp,
        &reference,
        &event.message_id,
    )
    .await
}

async fn record(
    state: &AppState,
    number: &str,
    amount: i64,
    reference: &str,
    message_id: &str,
) -> anyhow::Result<()> {
    let actor = Actor::system("payments");
    let txn = state.begin_write().await?;
    let Some(current) = store::find_by_number(&*txn, number.trim()).await? else {
        bail!("no service order {number}");
    };
    if current.payment_reference.as_deref() == Some(reference) {
        tracing::info!(order.number = %current.number, reference, "payment already recorded");
        return Ok(());
    }
    if current.paid_at.is_some() {
        audit::record(
            &*txn,
            &actor,
            Entry::new(
                "service_order.payment_ignored",
                "service_order",
                current.number.clone(),
            )
            .after(serde_json::json!({
                "reference": reference, "amount_clp": amount, "webhook_id": message_id,
                "recorded_reference": current.payment_reference,
            })),
        )
        .await?;
        txn.commit().await?;
        tracing::warn!(order.number = %current.number, reference, "a second payment for a paid order: kept the first");
        return Ok(());
    }
    let lines = store::lines(&*txn, current.id).await?;
    let before = view(current.clone(), lines.clone(), None, None);
    let mut active: order::ActiveModel = current.clone().into();
    active.paid_at = Set(Some(Utc::now()));
    active.paid_amount_clp = Set(Some(amount));
    active.payment_reference = Set(Some(reference.to_owned()));
    active.updated_at = Set(Utc::now());
    active.version = Set(current.version + 1);
    let Some(updated) =
        store::update_at_version(&*txn, active, current.id, current.version).await?
    else {
        bail!("service order {number} changed meanwhile; retried");
    };
    let names = store::find_named(&*txn, &updated.number, super::views::name_of_client(state))
        .await?
        .map(|(_, n)| n)
        .unwrap_or_default();
    let v = view(updated, lines, names.client, names.technician);
    audit::record(
        &*txn,
        &actor,
        Entry::new("service_order.paid", "service_order", v.number.clone())
            .before(&before)
            .after(&v),
    )
    .await?;
    let hooked = notify(&*txn, PAID, &v).await?;
    txn.commit().await?;
    if hooked {
        state.jobs().wake();
    }
    if v.payment.as_ref().is_some_and(|p| !p.matches_total) {
        tracing::warn!(order.number = %v.number, amount, total = v.totals.total_clp, "payment differs from the order's total");
    }
    announce(state, PAID, &v, None);
    Ok(())
}
