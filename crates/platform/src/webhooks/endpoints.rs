//! Endpoints: parsing what an admin sends, and the commands over them,
//! each one transaction with its audit entry. The secret is generated
//! here, stored encrypted, returned once on creation and afterwards only
//! on an explicit, audited request.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::entity::{delivery, endpoint};
use super::{EndpointState, is_event_pattern, signature, target};
use crate::audit::{self, Entry};
use crate::auth::Actor;
use crate::error::{AppError, AppResult, FieldError, FieldErrors};
use crate::http::etag::IfMatch;
use crate::state::AppState;

/// Longest description.
pub const MAX_DESCRIPTION: usize = 500;
/// Most subscriptions of one endpoint.
pub const MAX_EVENT_TYPES: usize = 50;

/// What an admin sends to register an endpoint.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    /// `https://…` (or `http://…`) where deliveries are POSTed.
    pub url: String,
    /// Event types to receive: exact (`order.created`), a prefix
    /// (`order.*`) or `*` for all.
    pub event_types: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Receives deliveries (default true).
    #[serde(default)]
    pub active: Option<bool>,
}

/// A partial change: absent fields stay; `active: true` re-enables a
/// failing or disabled endpoint, `false` disables it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub active: Option<bool>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// An endpoint as admins see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EndpointView {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub state: EndpointState,
    /// Since when deliveries are stopped (state `failing`).
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    /// The signing secret (`whsec_…`): only in the answer that creates the
    /// endpoint, and from `GET …/secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// An endpoint's signing secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EndpointSecret {
    /// `whsec_<base64>`; verify deliveries with any Standard Webhooks
    /// library.
    pub secret: String,
}

pub(crate) fn parse_patterns(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

impl From<endpoint::Model> for EndpointView {
    fn from(m: endpoint::Model) -> Self {
        EndpointView {
            event_types: parse_patterns(&m.event_types),
            state: EndpointState::parse(&m.state).unwrap_or(EndpointState::Disabled),
            id: m.id,
            url: m.url,
            description: m.description,
            failing_since: m.failing_since,
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: m.version,
            secret: None,
        }
    }
}

/// A valid endpoint.
struct EndpointData {
    url: String,
    event_types: Vec<String>,
    description: Option<String>,
}

/// The patterns subscribed to, each valid and (when the modules declare
/// what they send) matching at least one event that is sent: an endpoint
/// for `client.created`, which nothing sends, would wait forever.
fn parse_event_types(types: &[String], known: &[&str], errors: &mut FieldErrors) -> Vec<String> {
    if types.is_empty() {
        errors.push(FieldError::new("event_types", "required"));
    }
    if types.len() > MAX_EVENT_TYPES {
        errors.push(FieldError::new("event_types", "too_many").with("max", MAX_EVENT_TYPES));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, t) in types.iter().enumerate() {
        let t = t.trim();
        if is_event_pattern(t)
            && !known.is_empty()
            && !known.iter().any(|k| super::pattern_matches(t, k))
        {
            errors.push(
                FieldError::new(format!("event_types[{i}]"), "event_type_unknown")
                    .with("value", t)
                    .with("allowed", known.join(", ")),
            );
        } else if is_event_pattern(t) {
            if !out.iter().any(|o| o == t) {
                out.push(t.to_owned());
            }
        } else {
            errors
                .push(FieldError::new(format!("event_types[{i}]"), "event_type").with("value", t));
        }
    }
    out
}

fn parse_description(d: Option<&str>, errors: &mut FieldErrors) -> Option<String> {
    let d = d.map(str::trim).filter(|d| !d.is_empty())?;
    if d.chars().count() > MAX_DESCRIPTION {
        errors.push(FieldError::new("description", "too_long").with("max", MAX_DESCRIPTION));
        return None;
    }
    Some(d.to_owned())
}

fn parse(
    url: &str,
    event_types: &[String],
    description: Option<&str>,
    allow_private: bool,
    known: &[&str],
) -> AppResult<EndpointData> {
    let mut errors = FieldErrors::new();
    let url = errors.take(target::parse_url(url, allow_private));
    let event_types = parse_event_types(event_types, known, &mut errors);
    let description = parse_description(description, &mut errors);
    errors.finish()?;
    Ok(EndpointData {
        url: url.map(String::from).unwrap_or_default(),
        event_types,
        description,
    })
}

fn picture(v: &EndpointView) -> serde_json::Value {
    serde_json::json!({
        "url": v.url, "event_types": v.event_types, "description": v.description,
        "state": v.state, "version": v.version,
    })
}

#[tracing::instrument(skip_all, fields(actor = %actor.label))]
pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: &EndpointInput,
) -> AppResult<EndpointView> {
    let data = parse(
        &input.url,
        &input.event_types,
        input.description.as_deref(),
        state.webhooks().allow_private_targets(),
        state.webhooks().events(),
    )?;
    let id = Uuid::now_v7();
    let now = Utc::now();
    let secret = signature::new_secret();
    let initial = if input.active.unwrap_or(true) {
        EndpointState::Active
    } else {
        EndpointState::Disabled
    };
    let txn = state.begin_write().await?;
    endpoint::Entity::insert(endpoint::ActiveModel {
        id: Set(id),
        url: Set(data.url),
        description: Set(data.description),
        event_types: Set(serde_json::to_string(&data.event_types).unwrap_or_default()),
        secret: Set(state.keys().encrypt(&secret, &super::secret_aad(id))),
        state: Set(initial.as_str().to_owned()),
        failing_since: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    })
    .exec_without_returning(&txn)
    .await?;
    let model = endpoint::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut view = EndpointView::from(model);
    audit::record(
        &txn,
        actor,
        Entry::new("create", "webhook_endpoint", id.to_string()).after(picture(&view)),
    )
    .await?;
    txn.commit().await?;
    view.secret = Some(secret);
    Ok(view)
}

pub async fn find(state: &AppState, id: Uuid) -> AppResult<EndpointView> {
    endpoint::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .map(EndpointView::from)
        .ok_or(AppError::NotFound)
}

/// Every endpoint, newest first (there are a handful, not thousands).
pub async fn list(state: &AppState) -> AppResult<Vec<EndpointView>> {
    Ok(endpoint::Entity::find()
        .order_by_desc(endpoint::Column::Id)
        .limit(500)
        .all(state.db())
        .await?
        .into_iter()
        .map(EndpointView::from)
        .collect())
}

/// Changes an endpoint (`If-Match` honoured).
#[tracing::instrument(skip_all, fields(id = %id, actor = %actor.label))]
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    if_match: IfMatch,
    patch: &EndpointPatch,
) -> AppResult<EndpointView> {
    use endpoint::Column as C;
    let txn = state.begin_write().await?;
    let current = endpoint::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    let before = EndpointView::from(current.clone());
    let data = parse(
        patch.url.as_deref().unwrap_or(&before.url),
        patch.event_types.as_deref().unwrap_or(&before.event_types),
        match &patch.description {
            Some(d) => d.as_deref(),
            None => before.description.as_deref(),
        },
        state.webhooks().allow_private_targets(),
        state.webhooks().events(),
    )?;
    let (new_state, failing_since) = match patch.active {
        Some(true) => (EndpointState::Active, None),
        Some(false) => (EndpointState::Disabled, None),
        None => (before.state, before.failing_since),
    };
    let now = Utc::now();
    let changed = endpoint::Entity::update_many()
        .col_expr(C::Url, Expr::value(data.url))
        .col_expr(
            C::EventTypes,
            Expr::value(serde_json::to_string(&data.event_types).unwrap_or_default()),
        )
        .col_expr(C::Description, Expr::value(data.description))
        .col_expr(C::State, Expr::value(new_state.as_str()))
        .col_expr(C::FailingSince, Expr::value(failing_since))
        .col_expr(C::UpdatedAt, Expr::value(now))
        .col_expr(C::Version, Expr::value(current.version + 1))
        .filter(C::Id.eq(id))
        .filter(C::Version.eq(current.version))
        .exec(&txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(AppError::PreconditionFailed);
    }
    let after = EndpointView::from(
        endpoint::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(AppError::NotFound)?,
    );
    let action = if before.state != EndpointState::Active && after.state == EndpointState::Active {
        "webhook.endpoint_enabled"
    } else {
        "update"
    };
    audit::record(
        &txn,
        actor,
        Entry::new(action, "webhook_endpoint", id.to_string())
            .before(picture(&before))
            .after(picture(&after)),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// Deletes an endpoint with its deliveries and their log.
#[tracing::instrument(skip_all, fields(id = %id, actor = %actor.label))]
pub async fn delete(state: &AppState, actor: &Actor, id: Uuid, if_match: IfMatch) -> AppResult<()> {
    let txn = state.begin_write().await?;
    let current = endpoint::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if_match.check(current.version)?;
    let before = EndpointView::from(current);
    // Deliveries and attempts go by the foreign keys' cascade; say it here
    // too, so it does not depend on the database enforcing them.
    let ids: Vec<Uuid> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .filter(delivery::Column::EndpointId.eq(id))
        .into_tuple()
        .all(&txn)
        .await?;
    for chunk in ids.chunks(500) {
        super::entity::attempt::Entity::delete_many()
            .filter(super::entity::attempt::Column::DeliveryId.is_in(chunk.to_vec()))
            .exec(&txn)
            .await?;
    }
    delivery::Entity::delete_many()
        .filter(delivery::Column::EndpointId.eq(id))
        .exec(&txn)
        .await?;
    endpoint::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        Entry::new("delete", "webhook_endpoint", id.to_string()).before(picture(&before)),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The endpoint's secret, decrypted; the reading is audited.
#[tracing::instrument(skip_all, fields(id = %id, actor = %actor.label))]
pub async fn reveal_secret(state: &AppState, actor: &Actor, id: Uuid) -> AppResult<EndpointSecret> {
    let m = endpoint::Entity::find_by_id(id)
        .one(state.db())
        .await?
        .ok_or(AppError::NotFound)?;
    let secret = state
        .keys()
        .decrypt(&m.secret, &super::secret_aad(id))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("webhook endpoint {id} secret: {e}")))?;
    state
        .audit_writer()
        .record(
            actor,
            Entry::new("webhook.secret_read", "webhook_endpoint", id.to_string()),
        )
        .await?;
    Ok(EndpointSecret { secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(r: AppResult<EndpointData>) -> Vec<(String, String)> {
        match r {
            Err(AppError::Validation(e)) => {
                e.0.into_iter()
                    .map(|e| (e.field, e.code.to_string()))
                    .collect()
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => Vec::new(),
        }
    }

    #[test]
    fn a_pattern_that_no_module_sends_is_refused() {
        let known = ["order.created", "order.deleted"];
        let types = vec![
            "order.*".to_owned(),
            "client.created".to_owned(),
            "*".to_owned(),
        ];
        assert_eq!(
            fields(parse(
                "https://hooks.example.com/",
                &types,
                None,
                false,
                &known
            )),
            vec![("event_types[1]".to_owned(), "event_type_unknown".to_owned())]
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let types = vec!["order.created".to_owned(), "Order!".to_owned()];
        let long = "x".repeat(MAX_DESCRIPTION + 1);
        assert_eq!(
            fields(parse("gopher://x", &types, Some(&long), false, &[])),
            vec![
                ("url".to_owned(), "url_scheme".to_owned()),
                ("event_types[1]".to_owned(), "event_type".to_owned()),
                ("description".to_owned(), "too_long".to_owned()),
            ]
        );
        assert_eq!(
            fields(parse("https://hooks.example.com/", &[], None, false, &[])),
            vec![("event_types".to_owned(), "required".to_owned())]
        );
        let ok = parse(
            " https://hooks.example.com/in ",
            &["order.*".into(), "order.*".into(), " * ".into()],
            Some("  "),
            false,
            &["order.created"],
        )
        .ok()
        .unwrap();
        assert_eq!(ok.url, "https://hooks.example.com/in");
        assert_eq!(ok.event_types, vec!["order.*", "*"]);
        assert_eq!(ok.description, None);
    }
}
