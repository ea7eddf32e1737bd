//! Client commands, each one transaction with its audit entry, and the
//! views that decrypt (and audit the reading of) personal data.

use chrono::{DateTime, Utc};
use faena_platform::audit::{self, Entry};
use faena_platform::auth::Actor;
use faena_platform::crypto::KeyRing;
use faena_platform::http::etag::IfMatch;
use faena_platform::{AppError, AppResult, AppState};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{self, Column, Entity, Model, client};
use super::{ClientData, ClientInput, ClientPatch, TaxId};

/// A client as the API and pages show it, personal data decrypted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClientView {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub comuna: Option<String>,
    pub city: Option<String>,
    pub tax_country: Option<String>,
    /// Formatted (`76.086.428-5` for a RUT).
    pub tax_id: Option<String>,
    pub notes: Option<String>,
    /// Orders of every module that refer to this client (warehouse and
    /// repair-shop orders).
    pub order_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// A client in a list: no personal data, so a list decrypts nothing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClientSummary {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub comuna: Option<String>,
    pub city: Option<String>,
    pub order_count: u64,
    pub updated_at: DateTime<Utc>,
}

fn aad(column: &str, id: Uuid) -> String {
    format!("clients.{column}:{id}")
}

pub const TAX_INDEX: &str = "clients.tax_id";
pub const PHONE_INDEX: &str = "clients.phone";

pub fn phone_index(keys: &KeyRing, phone: &str) -> String {
    keys.blind_index(PHONE_INDEX, &super::phone_index_input(phone))
}

/// What a search box's text can mean: words of a name, email, comuna or
/// city; a RUT in any format; a phone (eight digits or more, no letters).
pub fn search(keys: &KeyRing, q: Option<&str>) -> store::Search {
    let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) else {
        return store::Search::default();
    };
    let tax_id_index = faena_platform::types::Rut::parse("q", q)
        .ok()
        .map(|rut| tax_index(keys, &TaxId::Rut(rut)));
    let digits = faena_platform::text::digits(q);
    let phone_like = digits.len() >= 8
        && q.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.'));
    store::Search {
        terms: faena_platform::text::terms(q),
        tax_id_index,
        phone_index: phone_like.then(|| phone_index(keys, q)),
    }
}

pub fn tax_index(keys: &KeyRing, tax_id: &TaxId) -> String {
    keys.blind_index(TAX_INDEX, &tax_id.index_input())
}

fn decrypt(
    keys: &KeyRing,
    stored: &Option<String>,
    column: &str,
    id: Uuid,
) -> AppResult<Option<String>> {
    stored
        .as_deref()
        .map(|v| keys.decrypt(v, &aad(column, id)))
        .transpose()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("clients.{column} of {id}: {e}")))
}

fn view(keys: &KeyRing, m: Model, order_count: u64) -> AppResult<ClientView> {
    Ok(ClientView {
        phone: decrypt(keys, &m.phone, "phone", m.id)?,
        address: decrypt(keys, &m.address, "address", m.id)?,
        tax_id: decrypt(keys, &m.tax_id, "tax_id", m.id)?,
        id: m.id,
        name: m.name,
        email: m.email,
        comuna: m.comuna,
        city: m.city,
        tax_country: m.tax_country,
        notes: m.notes,
        order_count,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

/// The audit entry's picture of a client: personal data by presence only.
fn audit_picture(v: &ClientView) -> serde_json::Value {
    serde_json::json!({
        "name": v.name, "email": v.email, "comuna": v.comuna, "city": v.city,
        "tax_country": v.tax_country, "notes": v.notes, "version": v.version,
        "phone": v.phone.as_ref().map(|_| "[encrypted]"),
        "address": v.address.as_ref().map(|_| "[encrypted]"),
        "tax_id": v.tax_id.as_ref().map(|_| "[encrypted]"),
    })
}

async fn order_count(state: &AppState, id: Uuid) -> AppResult<u64> {
    Ok(state
        .references()
        .of(state.db(), "client", id)
        .await?
        .iter()
        .map(|r| r.count)
        .sum())
}

/// One client, decrypted; the reading is audited.
#[tracing::instrument(skip_all, fields(client.id = %id, actor = %actor.label))]
pub async fn find(state: &AppState, actor: &Actor, id: Uuid) -> AppResult<ClientView> {
    let counted = state
        .references()
        .total_of("client", Expr::col((Entity, Column::Id)).into());
    let (m, count) = store::find_counted(state.db(), id, counted)
        .await?
        .ok_or(AppError::NotFound)?;
    let count = match count {
        Some(n) => n,
        None => order_count(state, id).await?,
    };
    let has_personal = m.phone.is_some() || m.address.is_some() || m.tax_id.is_some();
    let v = view(state.keys(), m, count)?;
    if has_personal {
        state
            .audit_writer()
            .append(actor, Entry::new("read", "client", id.to_string()))
            .await?;
    }
    Ok(v)
}

pub async fn summaries(state: &AppState, rows: Vec<Model>) -> AppResult<Vec<ClientSummary>> {
    let ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    let counts = state.references().count(state.db(), "client", &ids).await?;
    Ok(rows
        .into_iter()
        .map(|m| ClientSummary {
            order_count: counts.get(&m.id).map(|c| c.values().sum()).unwrap_or(0),
            id: m.id,
            name: m.name,
            email: m.email,
            comuna: m.comuna,
            city: m.city,
            updated_at: m.updated_at,
        })
        .collect())
}

/// Sets every stored column of `data`: ciphertexts, blind indexes and
/// search columns.
pub(crate) fn encrypt_fields(
    keys: &KeyRing,
    id: Uuid,
    data: &ClientData,
    active: &mut client::ActiveModel,
) {
    let enc =
        |v: &Option<String>, column: &str| v.as_ref().map(|p| keys.encrypt(p, &aad(column, id)));
    active.phone = Set(enc(&data.phone, "phone"));
    active.address = Set(enc(&data.address, "address"));
    active.tax_id = Set(data
        .tax_id
        .as_ref()
        .map(|t| keys.encrypt(&t.display(), &aad("tax_id", id))));
    active.tax_id_index = Set(data.tax_id.as_ref().map(|t| tax_index(keys, t)));
    active.tax_country = Set(data.tax_id.as_ref().map(|t| t.country().to_owned()));
    active.phone_index = Set(data.phone.as_deref().map(|p| phone_index(keys, p)));
    active.search_text = Set(super::search_text(
        &data.name,
        data.email.as_str(),
        data.comuna.as_deref(),
        data.city.as_deref(),
    ));
    active.sort_key = Set(faena_platform::text::sort_key(&data.name));
    active.comuna_key = Set(super::comuna_key(data.comuna.as_deref()));
    active.name = Set(data.name.clone());
    active.email = Set(data.email.as_str().to_owned());
    active.email_key = Set(data.email.key());
    active.comuna = Set(data.comuna.clone());
    active.city = Set(data.city.clone());
    active.notes = Set(data.notes.clone());
}

fn duplicate_email() -> AppError {
    AppError::Conflict {
        code: "duplicate_email",
        field: Some("email".into()),
        params: vec![],
    }
}

#[tracing::instrument(skip_all, fields(actor = %actor.label))]
pub async fn create(state: &AppState, actor: &Actor, input: &ClientInput) -> AppResult<ClientView> {
    let data = ClientData::parse(input).map_err(AppError::Validation)?;
    let txn = state.begin_write().await?;
    if store::email_taken(&txn, &data.email.key(), None).await? {
        return Err(duplicate_email());
    }
    let id = Uuid::now_v7();
    let now = Utc::now();
    let mut active = client::ActiveModel {
        id: Set(id),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
        ..Default::default()
    };
    encrypt_fields(state.keys(), id, &data, &mut active);
    let model = active
        .insert(&txn)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict { .. } => duplicate_email(),
            other => other,
        })?;
    let v = view(state.keys(), model, 0)?;
    audit::record(
        &txn,
        actor,
        Entry::new("create", "client", id.to_string()).after(audit_picture(&v)),
    )
    .await?;
    txn.commit().await?;
    Ok(v)
}

/// Replaces (`PUT`) or patches (`PATCH`) a client, honouring `If-Match`.
#[tracing::instrument(skip_all, fields(client.id = %id, actor = %actor.label))]
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    if_match: IfMatch,
    change: Change,
) -> AppResult<ClientView> {
    let txn = state.begin_write().await?;
    let current = store::find(&txn, id).await?.ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    let before = view(state.keys(), current.clone(), 0)?;
    let input = match change {
        Change::Replace(input) => input,
        Change::Patch(patch) => {
            let base = ClientInput {
                name: before.name.clone(),
                email: before.email.clone(),
                phone: before.phone.clone(),
                address: before.address.clone(),
                comuna: before.comuna.clone(),
                city: before.city.clone(),
                tax_country: before.tax_country.clone(),
                tax_id: before.tax_id.clone(),
                notes: before.notes.clone(),
            };
            patch.apply(base)
        }
    };
    let data = ClientData::parse(&input).map_err(AppError::Validation)?;
    if store::email_taken(&txn, &data.email.key(), Some(id)).await? {
        return Err(duplicate_email());
    }
    let mut active: client::ActiveModel = current.clone().into();
    encrypt_fields(state.keys(), id, &data, &mut active);
    active.updated_at = Set(Utc::now());
    active.version = Set(current.version + 1);
    let updated = Entity::update_many()
        .set(active)
        .filter(Column::Id.eq(id))
        .filter(Column::Version.eq(current.version))
        .exec_with_returning(&txn)
        .await?
        .pop()
        .ok_or(AppError::PreconditionFailed)?;
    let v = view(state.keys(), updated, 0)?;
    audit::record(
        &txn,
        actor,
        Entry::new("update", "client", id.to_string())
            .before(audit_picture(&before))
            .after(audit_picture(&v)),
    )
    .await?;
    txn.commit().await?;
    Ok(ClientView {
        order_count: order_count(state, id).await?,
        ..v
    })
}

pub enum Change {
    Replace(ClientInput),
    Patch(ClientPatch),
}

/// Deletes a client nobody refers to; otherwise a 409 that says who does.
#[tracing::instrument(skip_all, fields(client.id = %id, actor = %actor.label))]
pub async fn delete(state: &AppState, actor: &Actor, id: Uuid, if_match: IfMatch) -> AppResult<()> {
    let refs = state.references().of(state.db(), "client", id).await?;
    if let Some(r) = refs.iter().find(|r| r.count > 0) {
        return Err(AppError::Conflict {
            code: r.conflict_code,
            field: None,
            params: vec![("count", r.count.to_string())],
        });
    }
    let txn = state.begin_write().await?;
    let current = store::find(&txn, id).await?.ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    let before = view(state.keys(), current, 0)?;
    // A reference created meanwhile is caught by the foreign key (409).
    Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        Entry::new("delete", "client", id.to_string()).before(audit_picture(&before)),
    )
    .await?;
    // Its attachments go with it (purged by a job).
    let files = faena_platform::files::service::delete_owner_files(
        &txn,
        actor,
        crate::CLIENT_FILES,
        &id.to_string(),
    )
    .await?;
    txn.commit().await?;
    if files > 0 {
        state.jobs().wake();
    }
    Ok(())
}

/// Fills the phone index of clients written before it existed (the
/// migration that added it could not, not holding the key ring). Runs at
/// every start; a no-op once done.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct IndexPhones {}

#[async_trait::async_trait]
impl faena_platform::jobs::Job for IndexPhones {
    const NAME: &'static str = "clients.index_phones";

    async fn run(self, ctx: &faena_platform::jobs::JobContext) -> anyhow::Result<()> {
        let state = &ctx.state;
        loop {
            let rows = store::missing_phone_index(state.db(), 200).await?;
            if rows.is_empty() {
                return Ok(());
            }
            for m in rows {
                let Some(phone) = decrypt(state.keys(), &m.phone, "phone", m.id)? else {
                    continue;
                };
                Entity::update_many()
                    .col_expr(
                        Column::PhoneIndex,
                        sea_orm::sea_query::Expr::value(phone_index(state.keys(), &phone)),
                    )
                    .filter(Column::Id.eq(m.id))
                    .exec(state.db())
                    .await?;
            }
        }
    }
}
