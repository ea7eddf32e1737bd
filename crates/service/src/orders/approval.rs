//! The customer's side, without an account: the estimate's approval link
//! (approve or reject with a typed-name signature, recorded with the time
//! and the address it came from, audited, and the order moved on through
//! the one transition function) and the tracking page (status and dates,
//! nothing personal).
//!
//! A link is found by the SHA-256 of its secret; an unknown one is "not
//! found", a used, replaced or expired one is "gone", and neither changes
//! anything.

use chrono::{DateTime, NaiveDate, Utc};
use faena_platform::audit::{self, Entry};
use faena_platform::auth::Actor;
use faena_platform::{AppResult, AppState, FieldError, FieldErrors};
use sea_orm::Set;
use serde::Serialize;

use super::notices::{self, PrintedLine};
use super::service::{Change, apply};
use super::store::{self, approval, order};
use super::views::{ServiceOrderView, status_of, view};
use super::{ServiceStatus, transition};

/// The longest secret either link has; anything longer is not one.
const MAX_TOKEN: usize = 64;

/// Why a link does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// No such link (mistyped, tampered with).
    Unknown,
    /// Past its date.
    Expired,
    /// Answered already, replaced by a newer estimate, or the shop has
    /// recorded the answer.
    Used,
}

/// The estimate as the customer sees it.
#[derive(Debug, Serialize)]
pub struct PublicEstimate {
    pub number: String,
    pub device: String,
    pub reported_fault: String,
    pub diagnosis: Option<String>,
    pub lines: Vec<PrintedLine>,
    pub totals: serde_json::Value,
    pub expires_at: DateTime<Utc>,
    pub contact: String,
}

async fn link_of(state: &AppState, token: &str) -> AppResult<Result<approval::Model, Refusal>> {
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Ok(Err(Refusal::Unknown));
    }
    let Some(link) = store::approval_by_hash(state.db(), &notices::hash_of(token)).await? else {
        return Ok(Err(Refusal::Unknown));
    };
    Ok(refusal_of(&link, Utc::now()).map_or(Ok(link), Err))
}

fn refusal_of(link: &approval::Model, now: DateTime<Utc>) -> Option<Refusal> {
    if link.used_at.is_some() || link.revoked_at.is_some() {
        Some(Refusal::Used)
    } else if link.expires_at <= now {
        Some(Refusal::Expired)
    } else {
        None
    }
}

/// The order without any name: the public page shows none.
async fn order_view(state: &AppState, m: &order::Model) -> AppResult<ServiceOrderView> {
    let lines = store::lines(state.db(), m.id).await?;
    Ok(view(m.clone(), lines, None, None))
}

/// What the link `token` shows, or why it does not open.
#[tracing::instrument(skip_all)]
pub async fn estimate(state: &AppState, token: &str) -> AppResult<Result<PublicEstimate, Refusal>> {
    let link = match link_of(state, token).await? {
        Ok(l) => l,
        Err(r) => return Ok(Err(r)),
    };
    let Some(m) = store::find_by_id(state.db(), link.order_id).await? else {
        return Ok(Err(Refusal::Unknown));
    };
    if status_of(&m) != ServiceStatus::AwaitingApproval {
        return Ok(Err(Refusal::Used));
    }
    let v = order_view(state, &m).await?;
    let (lines, totals) = notices::printed(&v);
    Ok(Ok(PublicEstimate {
        number: v.number,
        device: format!("{} {} {}", v.device_type, v.brand, v.model),
        reported_fault: v.reported_fault,
        diagnosis: v.diagnosis,
        lines,
        totals,
        expires_at: link.expires_at,
        contact: notices::shop_contact(state),
    }))
}

/// The customer's answer to the estimate of `token`: approved or not,
/// signed with their typed name. The link is used up, the signature (name,
/// time, address) kept with it and audited, and the order moves to
/// approved or rejected. A bad name is a 422 naming `signer_name`.
#[tracing::instrument(skip_all)]
pub async fn answer(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    request_id: Option<String>,
    token: &str,
    approve: bool,
    signer_name: &str,
) -> AppResult<Result<ServiceOrderView, Refusal>> {
    let link = match link_of(state, token).await? {
        Ok(l) => l,
        Err(r) => return Ok(Err(r)),
    };
    let mut errors = FieldErrors::new();
    let name = errors.take(faena_platform::types::required_text(
        "signer_name",
        signer_name,
        200,
    ));
    if name.as_ref().is_some_and(|n| n.chars().count() < 2) {
        errors.push(FieldError::new("signer_name", "signature_too_short").with("min", 2));
    }
    errors.finish()?;
    let name = name.unwrap_or_default();
    let to = if approve {
        ServiceStatus::Approved
    } else {
        ServiceStatus::Rejected
    };
    let actor = Actor {
        id: None,
        label: name.clone(),
        ip: ip.map(|i| i.to_string()),
        request_id,
    };
    let now = Utc::now();
    let txn = state.begin_write().await?;
    let Some(current) = store::find_by_id(&*txn, link.order_id).await? else {
        return Ok(Err(Refusal::Unknown));
    };
    let Ok(t) = transition(status_of(&current), to, None) else {
        return Ok(Err(Refusal::Used));
    };
    if !store::use_approval(&*txn, link.id, to.as_str(), &name, actor.ip.clone(), now).await? {
        return Ok(Err(Refusal::Used));
    }
    audit::record(
        &*txn,
        &actor,
        Entry::new(
            "service_estimate.answered",
            "service_order",
            current.number.clone(),
        )
        .after(serde_json::json!({
            "number": current.number, "decision": to.as_str(), "signer_name": name,
            "signed_at": now, "ip": actor.ip, "total_clp": current.total_clp,
        })),
    )
    .await?;
    let mut active: order::ActiveModel = current.clone().into();
    active.status = Set(t.to.as_str().to_owned());
    let change = Change {
        action: if approve {
            "estimate_approved"
        } else {
            "estimate_rejected"
        },
        active,
        lines: None,
        moved: Some(t),
    };
    apply(state, &actor, txn, current, change).await.map(Ok)
}

/// The customer's answer as the order's page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Signature {
    pub decision: String,
    pub signer_name: String,
    pub signed_at: DateTime<Utc>,
    pub ip: Option<String>,
}

/// The latest answer given through a link, and the latest link still
/// waiting (its expiry), for the order's page.
pub async fn links_of(
    state: &AppState,
    order_id: uuid::Uuid,
) -> AppResult<(Option<Signature>, Option<DateTime<Utc>>)> {
    let links = store::approvals_of(state.db(), order_id).await?;
    let now = Utc::now();
    let signed = links.iter().find_map(|l| {
        Some(Signature {
            decision: l.decision.clone()?,
            signer_name: l.signer_name.clone()?,
            signed_at: l.used_at?,
            ip: l.signer_ip.clone(),
        })
    });
    let waiting = links
        .iter()
        .find(|l| refusal_of(l, now).is_none())
        .map(|l| l.expires_at);
    Ok((signed, waiting))
}

/// What the public tracking page shows: no name, no device serial.
#[derive(Debug, Serialize)]
pub struct Tracking {
    pub number: String,
    pub status: ServiceStatus,
    pub received_at: DateTime<Utc>,
    /// `dd-mm-aaaa`.
    pub promised_date: Option<String>,
    pub ready_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub contact: String,
}

#[tracing::instrument(skip_all)]
pub async fn track(state: &AppState, token: &str) -> AppResult<Option<Tracking>> {
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Ok(None);
    }
    let Some(m) = store::find_by_tracking(state.db(), token).await? else {
        return Ok(None);
    };
    let history = store::history(state.db(), m.id).await?;
    // The last time it reached each state (a repair may be redone).
    let last = |s: ServiceStatus| {
        history
            .iter()
            .rev()
            .find(|h| h.to_status == s.as_str())
            .map(|h| h.at)
    };
    Ok(Some(Tracking {
        status: status_of(&m),
        ready_at: last(ServiceStatus::Ready),
        delivered_at: last(ServiceStatus::Delivered),
        number: m.number,
        received_at: m.created_at,
        promised_date: m
            .promised_date
            .map(|d: NaiveDate| d.format("%d-%m-%Y").to_string()),
        contact: notices::shop_contact(state),
    }))
}
