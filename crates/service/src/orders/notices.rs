//! What the customer is told, and the links that go with it: the mails on
//! intake (with the tracking link), the estimate (with its approval link),
//! ready and delivered, each written to the platform's outbox inside the
//! transaction of the change that calls for it; the tracking token; the
//! approval links, of which only a hash is kept.
//!
//! Writes nothing of the order itself: the commands in `service.rs` and
//! `approval.rs` call in here within their transactions.

use chrono::{DateTime, Duration, Utc};
use faena_platform::auth::Actor;
use faena_platform::mail::{self, Mail};
use faena_platform::{AppResult, AppState, Locale};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use uuid::Uuid;

use super::store::{self, approval, order};
use super::views::ServiceOrderView;
use super::{ServiceStatus, clp};

/// Days an approval link stays good unless the desk says otherwise.
pub const APPROVAL_DAYS: i64 = 7;
/// The longest an approval link may be made to last.
pub const MAX_APPROVAL_DAYS: i64 = 30;

/// A mail the customer gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    Intake,
    Estimate,
    Ready,
    Delivered,
}

impl Notice {
    pub const ALL: [Notice; 4] = [
        Notice::Intake,
        Notice::Estimate,
        Notice::Ready,
        Notice::Delivered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Intake => "intake",
            Notice::Estimate => "estimate",
            Notice::Ready => "ready",
            Notice::Delivered => "delivered",
        }
    }

    pub fn parse(s: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// The outbox template (`mail/<name>.subject.txt`, `.txt`).
    pub fn template(self) -> &'static str {
        match self {
            Notice::Intake => "service_intake",
            Notice::Estimate => "service_estimate",
            Notice::Ready => "service_ready",
            Notice::Delivered => "service_delivered",
        }
    }

    /// The mail a move into `to` sends by itself.
    pub fn on_move(to: ServiceStatus) -> Option<Notice> {
        match to {
            ServiceStatus::AwaitingApproval => Some(Notice::Estimate),
            ServiceStatus::Ready => Some(Notice::Ready),
            ServiceStatus::Delivered => Some(Notice::Delivered),
            _ => None,
        }
    }

    /// Whether the order is where this mail makes sense (to resend it).
    pub fn fits(self, status: ServiceStatus) -> bool {
        match self {
            Notice::Intake => true,
            Notice::Estimate => status == ServiceStatus::AwaitingApproval,
            Notice::Ready => status == ServiceStatus::Ready,
            Notice::Delivered => status == ServiceStatus::Delivered,
        }
    }
}

/// A new tracking secret: 24 random bytes (192 bits), URL-safe.
pub fn tracking_token() -> String {
    faena_platform::secrets::random_token(24)
}

/// What is stored of an approval link's secret.
pub fn hash_of(token: &str) -> String {
    faena_platform::auth::token::sha256_hex(token.as_bytes())
}

pub fn tracking_link(state: &AppState, token: &str) -> String {
    format!("{}/service/track/{token}", state.config().public_base())
}

pub fn approval_link(state: &AppState, token: &str) -> String {
    format!("{}/service/approve/{token}", state.config().public_base())
}

/// The shop's contact as the customer sees it: the address mail comes
/// from (the platform keeps no company profile).
pub fn shop_contact(state: &AppState) -> String {
    state.config().mail.from.clone()
}

/// A line of the estimate as mails and public pages print it.
#[derive(Debug, Serialize)]
pub struct PrintedLine {
    pub kind: &'static str,
    pub description: String,
    pub quantity: i32,
    pub unit_price: String,
    pub discount_percent: i32,
    pub net: String,
}

/// The estimate's lines and totals in pesos as Chileans write them.
pub fn printed(v: &ServiceOrderView) -> (Vec<PrintedLine>, serde_json::Value) {
    let lines = v
        .lines
        .iter()
        .map(|l| PrintedLine {
            kind: l.kind.as_str(),
            description: l.description.clone(),
            quantity: l.quantity,
            unit_price: clp(l.unit_price_clp),
            discount_percent: l.discount_percent,
            net: clp(l.net_clp),
        })
        .collect();
    let totals = serde_json::json!({
        "net": clp(v.totals.net_clp),
        "vat": clp(v.totals.vat_clp),
        "total": clp(v.totals.total_clp),
    });
    (lines, totals)
}

/// Writes a new approval link for `order` (revoking earlier unused ones)
/// and returns its secret, which is not kept.
pub async fn issue_approval(
    db: &impl ConnectionTrait,
    actor: &Actor,
    order: &order::Model,
    days: i64,
) -> AppResult<(String, DateTime<Utc>)> {
    let token = faena_platform::secrets::random_token(32);
    let now = Utc::now();
    let expires_at = now + Duration::days(days);
    store::insert_approval(
        db,
        approval::Model {
            id: Uuid::now_v7(),
            order_id: order.id,
            token_hash: hash_of(&token),
            created_by: actor.label.clone(),
            created_at: now,
            expires_at,
            revoked_at: None,
            used_at: None,
            decision: None,
            signer_name: None,
            signer_ip: None,
        },
    )
    .await?;
    Ok((token, expires_at))
}

/// Queues `notice` about `order` to its contact address, in `db` (the
/// change's transaction). An estimate gets a new approval link valid for
/// `days`. `Ok(false)` when the order has no address: nothing is written.
pub async fn queue(
    db: &impl ConnectionTrait,
    state: &AppState,
    actor: &Actor,
    notice: Notice,
    order: &order::Model,
    v: &ServiceOrderView,
    days: i64,
) -> AppResult<bool> {
    let Some(to) = order.contact_email.clone() else {
        return Ok(false);
    };
    let locale = Locale::Es;
    let tracking = order
        .tracking_token
        .as_deref()
        .map(|t| tracking_link(state, t))
        .unwrap_or_default();
    let (approval, expires) = if notice == Notice::Estimate {
        let (token, expires_at) = issue_approval(db, actor, order, days).await?;
        let day = expires_at
            .with_timezone(&state.time_zone())
            .format("%d-%m-%Y")
            .to_string();
        (approval_link(state, &token), day)
    } else {
        (String::new(), String::new())
    };
    let (lines, totals) = printed(v);
    let rendered = mail::render(
        state,
        notice.template(),
        locale,
        minijinja::context! {
            number => v.number, device => format!("{} {} {}", v.device_type, v.brand, v.model),
            customer => v.client_name.clone().unwrap_or_default(),
            reported_fault => v.reported_fault, diagnosis => v.diagnosis,
            promised_date => v.promised_date.map(|d| d.format("%d-%m-%Y").to_string()),
            tracking => tracking, approval => approval, expires => expires,
            lines => lines, totals => totals, contact => shop_contact(state),
        },
    )
    .map_err(anyhow::Error::from)?;
    let mut m = Mail::from_template(to, notice.template(), locale, rendered);
    m.related = Some(("service_order".into(), v.number.clone()));
    mail::queue(db, m).await?;
    Ok(true)
}
