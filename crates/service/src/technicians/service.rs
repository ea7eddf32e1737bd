//! Technician commands: the list with each one's load, and the profile.
//!
//! A technician is an active user whose role grants `service.orders.work`
//! and works from their own queue (lacks `service.orders.all`: with the
//! built-in roles, the technicians), or anyone holding
//! `service.orders.work` whom a manager gave a profile (a manager who also
//! repairs).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use faena_platform::audit::{self, Entry};
use faena_platform::auth::{Actor, users};
use faena_platform::http::etag::IfMatch;
use faena_platform::{AppError, AppResult, AppState, FieldErrors};
use sea_orm::{ActiveModelTrait, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::parse_specialties;
use super::store::{self, profile};
use crate::orders::store as orders;
use crate::perms;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TechnicianView {
    /// The user's id.
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub specialties: Vec<String>,
    /// Whether orders may be assigned to them.
    pub active: bool,
    /// Open orders (not delivered or cancelled) assigned to them.
    pub open_orders: u64,
    /// The profile's version (0: no profile yet).
    pub version: i32,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The profile a manager keeps (`PUT`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TechnicianProfileInput {
    #[serde(default)]
    pub specialties: Vec<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// The technicians, in name order.
async fn technicians(state: &AppState) -> AppResult<Vec<users::UserChoice>> {
    let workers = users::holding(state, perms::ORDERS_WORK).await?;
    let everyone: HashSet<Uuid> = users::holding(state, perms::ORDERS_ALL)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect();
    let profiles = store::all(state.db()).await?;
    Ok(workers
        .into_iter()
        .filter(|u| !everyone.contains(&u.id) || profiles.contains_key(&u.id))
        .collect())
}

fn view(u: users::UserChoice, p: Option<&profile::Model>, open_orders: u64) -> TechnicianView {
    TechnicianView {
        id: u.id,
        name: u.name,
        email: u.email,
        specialties: p.map(store::specialties_of).unwrap_or_default(),
        active: p.is_none_or(|p| p.active),
        open_orders,
        version: p.map_or(0, |p| p.version),
        updated_at: p.map(|p| p.updated_at),
    }
}

#[tracing::instrument(skip_all)]
pub async fn list(state: &AppState) -> AppResult<Vec<TechnicianView>> {
    let techs = technicians(state).await?;
    let ids: Vec<Uuid> = techs.iter().map(|t| t.id).collect();
    let load = orders::open_load(state.db(), &ids).await?;
    let profiles = store::all(state.db()).await?;
    Ok(techs
        .into_iter()
        .map(|t| {
            let n = load.get(&t.id).copied().unwrap_or(0);
            let p = profiles.get(&t.id);
            view(t, p, n)
        })
        .collect())
}

#[tracing::instrument(skip_all, fields(technician = %id))]
pub async fn find(state: &AppState, id: Uuid) -> AppResult<TechnicianView> {
    let t = technicians(state)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(AppError::NotFound)?;
    let load = orders::open_load(state.db(), &[id]).await?;
    let p = store::find(state.db(), id).await?;
    Ok(view(t, p.as_ref(), load.get(&id).copied().unwrap_or(0)))
}

/// Writes the profile of `id`, a user holding `service.orders.work`.
#[tracing::instrument(skip_all, fields(technician = %id, actor = %actor.label))]
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    if_match: IfMatch,
    input: TechnicianProfileInput,
) -> AppResult<TechnicianView> {
    let mut errors = FieldErrors::new();
    let specialties = parse_specialties(&input.specialties, &mut errors);
    errors.finish()?;
    let user = users::holder(state, id, perms::ORDERS_WORK)
        .await?
        .ok_or(AppError::NotFound)?;
    let json = serde_json::to_string(&specialties).map_err(|e| AppError::Internal(e.into()))?;
    let txn = state.begin_write().await?;
    let current = store::find(&*txn, id).await?;
    if_match.check(current.as_ref().map_or(0, |p| p.version))?;
    let now = Utc::now();
    let saved = match &current {
        Some(p) => {
            let mut active: profile::ActiveModel = p.clone().into();
            active.specialties = Set(json);
            active.active = Set(input.active);
            active.updated_at = Set(now);
            active.version = Set(p.version + 1);
            active.update(&*txn).await?
        }
        None => {
            profile::ActiveModel {
                user_id: Set(id),
                specialties: Set(json),
                active: Set(input.active),
                updated_at: Set(now),
                version: Set(1),
            }
            .insert(&*txn)
            .await?
        }
    };
    let load = orders::open_load(&*txn, &[id]).await?;
    let before = current.as_ref().map(|p| view(user.clone(), Some(p), 0));
    let v = view(user, Some(&saved), load.get(&id).copied().unwrap_or(0));
    let mut entry = Entry::new("update", "technician", id.to_string()).after(&v);
    if let Some(b) = before {
        entry = entry.before(&b);
    }
    audit::record(&*txn, actor, entry).await?;
    txn.commit().await?;
    Ok(v)
}
