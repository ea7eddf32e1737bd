//! Admin API of webhooks: endpoints (register, change, re-enable, delete,
//! read the secret), the delivery log with replay, and the inbound events.
//! Every change is audited. The inbound route itself is public and lives
//! in `inbound`.

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::deliveries::{self, DeliveryDetail, DeliveryFilter, DeliveryView};
use super::endpoints::{self, EndpointInput, EndpointPatch, EndpointSecret, EndpointView};
use super::inbound::{self, InboundFilter, InboundView};
use crate::auth::Actor;
use crate::auth::perms;
use crate::auth::secured;
use crate::error::AppResult;
use crate::http::Created;
use crate::http::etag::{IfMatch, etag};
use crate::http::pagination::{Page, PageQuery};
use crate::http::{Json, Query};
use crate::state::AppState;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(
            perms::WEBHOOKS_READ,
            routes!(list_webhook_endpoints),
        ))
        .routes(secured(
            perms::WEBHOOKS_MANAGE,
            routes!(create_webhook_endpoint),
        ))
        .routes(secured(
            perms::WEBHOOKS_READ,
            routes!(find_webhook_endpoint),
        ))
        .routes(secured(
            perms::WEBHOOKS_MANAGE,
            routes!(update_webhook_endpoint),
        ))
        .routes(secured(
            perms::WEBHOOKS_MANAGE,
            routes!(delete_webhook_endpoint),
        ))
        .routes(secured(
            perms::WEBHOOKS_MANAGE,
            routes!(find_webhook_endpoint_secret),
        ))
        .routes(secured(
            perms::WEBHOOKS_READ,
            routes!(list_webhook_deliveries),
        ))
        .routes(secured(
            perms::WEBHOOKS_READ,
            routes!(find_webhook_delivery),
        ))
        .routes(secured(
            perms::WEBHOOKS_MANAGE,
            routes!(replay_webhook_delivery),
        ))
        .routes(secured(
            perms::WEBHOOKS_READ,
            routes!(list_inbound_webhooks),
        ))
        .routes(secured(perms::WEBHOOKS_READ, routes!(find_inbound_webhook)))
        .routes(routes!(inbound::receive_hook))
}

/// Webhook endpoints, newest first.
#[utoipa::path(get, path = "/api/webhooks/endpoints", tag = "webhooks",
    responses((status = 200, body = Page<EndpointView>)))]
async fn list_webhook_endpoints(
    State(state): State<AppState>,
) -> AppResult<Json<Page<EndpointView>>> {
    Ok(Json(Page {
        items: endpoints::list(&state).await?,
        next_cursor: None,
        next: None,
    }))
}

/// Register an endpoint; the answer carries its signing secret.
#[utoipa::path(post, path = "/api/webhooks/endpoints", tag = "webhooks",
    request_body = EndpointInput,
    responses((status = 201, body = EndpointView),
              (status = 422, description = "Invalid field (an internal address is refused in `url`)")))]
async fn create_webhook_endpoint(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<EndpointInput>,
) -> AppResult<impl IntoResponse> {
    let v = endpoints::create(&state, &actor, &input).await?;
    Ok(Created::versioned(
        format!("/api/webhooks/endpoints/{}", v.id),
        v.version,
        v,
    ))
}

/// One endpoint and its state.
#[utoipa::path(get, path = "/api/webhooks/endpoints/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, body = EndpointView), (status = 404, description = "No such endpoint")))]
async fn find_webhook_endpoint(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> AppResult<impl IntoResponse> {
    let v = endpoints::find(&state, id).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Change an endpoint; `active: true` re-enables a failing one (`If-Match`
/// honoured).
#[utoipa::path(patch, path = "/api/webhooks/endpoints/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    request_body = EndpointPatch,
    responses((status = 200, body = EndpointView), (status = 412, description = "Stale version"),
              (status = 422, description = "Invalid field")))]
async fn update_webhook_endpoint(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(id): Path<Uuid>,
    Json(patch): Json<EndpointPatch>,
) -> AppResult<impl IntoResponse> {
    let v = endpoints::update(&state, &actor, id, if_match, &patch).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Delete an endpoint with its delivery log.
#[utoipa::path(delete, path = "/api/webhooks/endpoints/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such endpoint")))]
async fn delete_webhook_endpoint(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    endpoints::delete(&state, &actor, id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An endpoint's signing secret (the reading is audited).
#[utoipa::path(get, path = "/api/webhooks/endpoints/{id}/secret", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, body = EndpointSecret), (status = 404, description = "No such endpoint")))]
async fn find_webhook_endpoint_secret(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Json<EndpointSecret>> {
    Ok(Json(endpoints::reveal_secret(&state, &actor, id).await?))
}

/// The delivery log: one row per message and endpoint, newest first.
#[utoipa::path(get, path = "/api/webhooks/deliveries", tag = "webhooks",
    params(DeliveryFilter, PageQuery),
    responses((status = 200, body = Page<DeliveryView>), (status = 422, description = "Invalid filter")))]
async fn list_webhook_deliveries(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<DeliveryFilter>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<DeliveryView>>> {
    Ok(Json(
        deliveries::list(&state, &f, &page).await?.linked(&uri),
    ))
}

/// One delivery: what was sent and every attempt.
#[utoipa::path(get, path = "/api/webhooks/deliveries/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Delivery id")),
    responses((status = 200, body = DeliveryDetail), (status = 404, description = "No such delivery")))]
async fn find_webhook_delivery(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> AppResult<Json<DeliveryDetail>> {
    Ok(Json(deliveries::find(&state, id).await?))
}

/// Send a delivery's message to its endpoint again (same id and body, a
/// fresh set of attempts).
#[utoipa::path(post, path = "/api/webhooks/deliveries/{id}/replay", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Delivery id")),
    responses((status = 200, body = DeliveryView), (status = 404, description = "No such delivery"),
        (status = 409, description = "The endpoint is not active, or the delivery is still being attempted")))]
async fn replay_webhook_delivery(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Json<DeliveryView>> {
    Ok(Json(deliveries::replay(&state, &actor, id).await?))
}

/// Received webhooks, newest first.
#[utoipa::path(get, path = "/api/webhooks/inbound", tag = "webhooks",
    params(InboundFilter, PageQuery),
    responses((status = 200, body = Page<InboundView>), (status = 422, description = "Invalid filter")))]
async fn list_inbound_webhooks(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<InboundFilter>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<InboundView>>> {
    Ok(Json(inbound::list(&state, &f, &page).await?.linked(&uri)))
}

/// One received webhook, with its body.
#[utoipa::path(get, path = "/api/webhooks/inbound/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Inbound event id")),
    responses((status = 200, body = InboundView), (status = 404, description = "No such event")))]
async fn find_inbound_webhook(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> AppResult<Json<InboundView>> {
    Ok(Json(inbound::find(&state, id).await?))
}
