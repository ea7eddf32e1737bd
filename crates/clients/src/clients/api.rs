//! `/api/clients`: the JSON face of the customer directory (seed 004's
//! paths).

use faena_platform::csv::{CsvWriter, Delimiter};
use faena_platform::prelude::*;
use faena_platform::ui::list::{self, Column};
use sea_orm::{IntoSimpleExpr, Order};
use utoipa::IntoParams;

use super::service::{self, Change, ClientSummary, ClientView};
use super::{ClientInput, ClientPatch, TaxId, store};
use crate::perms;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(secured(perms::CLIENTS_READ, routes!(list_clients)))
        .routes(secured(perms::CLIENTS_READ, routes!(export_clients)))
        .routes(secured(perms::CLIENTS_WRITE, routes!(create_client)))
        .routes(secured(perms::CLIENTS_READ, routes!(find_client)))
        .routes(secured(perms::CLIENTS_WRITE, routes!(replace_client)))
        .routes(secured(perms::CLIENTS_WRITE, routes!(update_client)))
        .routes(secured(perms::CLIENTS_DELETE, routes!(delete_client)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ClientFilter {
    /// Searches name, email, comuna and city ignoring case and accents
    /// (every word must appear), and finds a client by RUT in any format
    /// or by phone (eight digits or more).
    pub q: Option<String>,
    /// Exact tax id (a RUT in any format), found through its blind index.
    pub tax_id: Option<String>,
    /// Country of `tax_id` (default `CL`).
    pub tax_country: Option<String>,
}

/// Clients in Spanish name order: the position is the last one's (sort
/// key, id).
const CLIENTS: List<(String, Uuid)> = List::new("clients.by_name");

pub async fn search(
    state: &AppState,
    f: &ClientFilter,
    page: &PageQuery,
) -> AppResult<Page<ClientSummary>> {
    let mut errors = FieldErrors::new();
    let (limit, cursor) = CLIENTS.read(page, &mut errors);
    let index = tax_index(state, f, &mut errors);
    errors.finish()?;
    let rows = store::list(
        state.db(),
        &service::search(state.keys(), f.q.as_deref()),
        index.as_deref(),
        cursor,
        limit + 1,
    )
    .await?;
    let page = CLIENTS.page(rows, limit, |m| (m.sort_key.clone(), m.id));
    Ok(Page {
        items: service::summaries(state, page.items).await?,
        next_cursor: page.next_cursor,
        next: None,
    })
}

/// The clients list page and its CSV export: the columns people sort by.
pub const LIST: ListSpec = ListSpec {
    path: "/clients",
    columns: &[
        Column::new("name", "field.name").sortable(),
        Column::new("email", "field.email").sortable(),
        Column::new("comuna", "clients.comuna").sortable(),
        Column::new("orders", "clients.orders").num(),
    ],
    default_sort: "name",
    default_desc: false,
    csv: Some("/api/clients/export.csv"),
};

/// A numbered page of clients in the request's order, with the total.
pub async fn list_page(
    state: &AppState,
    f: &ClientFilter,
    request: &mut ListRequest,
) -> AppResult<(Vec<ClientSummary>, u64)> {
    let mut errors = FieldErrors::new();
    let index = tax_index(state, f, &mut errors);
    errors.finish()?;
    let dir = || request.order();
    let first = match request.sort {
        "email" => store::Column::EmailKey,
        "comuna" => store::Column::ComunaKey,
        _ => store::Column::SortKey,
    };
    let order = [
        (first.into_simple_expr(), dir()),
        (store::Column::SortKey.into_simple_expr(), Order::Asc),
        (store::Column::Id.into_simple_expr(), Order::Asc),
    ];
    let select = store::select(
        &service::search(state.keys(), f.q.as_deref()),
        index.as_deref(),
    );
    let (rows, total) = list::fetch(state.db(), select, order, request).await?;
    Ok((service::summaries(state, rows).await?, total))
}

fn tax_index(state: &AppState, f: &ClientFilter, errors: &mut FieldErrors) -> Option<String> {
    match f.tax_id.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(raw) => errors
            .take(TaxId::parse(f.tax_country.as_deref(), raw))
            .map(|t| service::tax_index(state.keys(), &t)),
        None => None,
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// `semicolon` (default) or `comma`.
    pub delimiter: Option<String>,
    /// A column of the list (`name`, `email`); default `name`.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub dir: Option<String>,
}

/// The clients list as CSV (`;` by default, UTF-8 with BOM), with the
/// list's filters and order. Personal data (phone, address, tax id) stays
/// out: it is read one client at a time, audited.
#[utoipa::path(get, path = "/api/clients/export.csv", tag = "clients",
    params(ClientFilter, ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String)))]
async fn export_clients(
    State(state): State<AppState>,
    page: faena_platform::ui::PageContext,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<ClientFilter>,
    Query(q): Query<ExportQuery>,
) -> AppResult<axum::response::Response> {
    let request = ListRequest::parse(&LIST, uri.query())?;
    let t = |k: &str| state.i18n().t(page.locale, k, &[]);
    let zone = state.zone_for(page.principal.as_ref());
    let mut out = CsvWriter::new(Delimiter::from_query(q.delimiter.as_deref()));
    out.row(
        [
            "field.name",
            "field.email",
            "clients.comuna",
            "clients.city",
            "clients.orders",
            "clients.updated_at",
        ]
        .iter()
        .map(|h| t(h)),
    );
    let rows = list::all_rows(&request, |mut page| {
        let (state, f) = (&state, &f);
        async move { list_page(state, f, &mut page).await }
    })
    .await?;
    for c in rows {
        out.row([
            c.name,
            c.email,
            c.comuna.unwrap_or_default(),
            c.city.unwrap_or_default(),
            c.order_count.to_string(),
            faena_platform::ui::csv_time(c.updated_at, zone),
        ]);
    }
    Ok(out.into_download("clientes.csv"))
}

/// List clients by name, with their order counts.
#[utoipa::path(get, path = "/api/clients", tag = "clients",
    params(ClientFilter, PageQuery),
    responses((status = 200, body = Page<ClientSummary>)))]
async fn list_clients(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(f): Query<ClientFilter>,
    Query(page): Query<PageQuery>,
) -> AppResult<Json<Page<ClientSummary>>> {
    Ok(Json(search(&state, &f, &page).await?.linked(&uri)))
}

/// Create a client (`Idempotency-Key` honoured).
#[utoipa::path(post, path = "/api/clients", tag = "clients",
    request_body = ClientInput,
    responses((status = 201, body = ClientView), (status = 409, description = "Email taken"),
              (status = 422, description = "Invalid field")))]
async fn create_client(
    State(state): State<AppState>,
    actor: Actor,
    Json(input): Json<ClientInput>,
) -> AppResult<impl IntoResponse> {
    let v = service::create(&state, &actor, &input).await?;
    Ok(Created::versioned(
        format!("/api/clients/{}", v.id),
        v.version,
        v,
    ))
}

/// Show a client, personal data decrypted (the reading is audited).
#[utoipa::path(get, path = "/api/clients/{id}", tag = "clients",
    params(("id" = Uuid, Path, description = "Client id")),
    responses((status = 200, body = ClientView), (status = 404, description = "No such client")))]
async fn find_client(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<impl IntoResponse> {
    let v = service::find(&state, &actor, id).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Replace a client (`If-Match` honoured).
#[utoipa::path(put, path = "/api/clients/{id}", tag = "clients",
    params(("id" = Uuid, Path, description = "Client id")),
    request_body = ClientInput,
    responses((status = 200, body = ClientView),
              (status = 409, description = "Another client has this email", content_type = "application/problem+json"),
              (status = 412, description = "Stale version")))]
async fn replace_client(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(id): Path<Uuid>,
    Json(input): Json<ClientInput>,
) -> AppResult<impl IntoResponse> {
    let v = service::update(&state, &actor, id, if_match, Change::Replace(input)).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Change some fields of a client (`If-Match` honoured).
#[utoipa::path(patch, path = "/api/clients/{id}", tag = "clients",
    params(("id" = Uuid, Path, description = "Client id")),
    request_body = ClientPatch,
    responses((status = 200, body = ClientView),
              (status = 409, description = "Another client has this email", content_type = "application/problem+json"),
              (status = 412, description = "Stale version")))]
async fn update_client(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(id): Path<Uuid>,
    Json(patch): Json<ClientPatch>,
) -> AppResult<impl IntoResponse> {
    let v = service::update(&state, &actor, id, if_match, Change::Patch(patch)).await?;
    Ok(([etag(v.version)], Json(v)))
}

/// Delete a client with no orders.
#[utoipa::path(delete, path = "/api/clients/{id}", tag = "clients",
    params(("id" = Uuid, Path, description = "Client id")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "The client still has orders")))]
async fn delete_client(
    State(state): State<AppState>,
    actor: Actor,
    if_match: IfMatch,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    service::delete(&state, &actor, id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}
