//! Reading service orders: one by its number, a page of a list, every
//! match for the CSV; always only what the caller may see.

use chrono::{DateTime, Utc};
use faena_platform::http::pagination::{List, Page, PageQuery};
use faena_platform::{AppError, AppResult, AppState, FieldError, FieldErrors, text};
use uuid::Uuid;

use super::store::{self, order};
use super::views::{ServiceHistoryEntry, ServiceOrderView, client_name, name_of_client, view};
use super::{Caller, ServicePriority, ServiceStatus};

/// One order with its lines, totals and history, if the caller may see it.
#[tracing::instrument(skip_all, fields(order.number = %number))]
pub async fn find(state: &AppState, who: &Caller, number: &str) -> AppResult<ServiceOrderView> {
    let name_of = name_of_client(state);
    let asked = name_of.is_some();
    let (m, lines, mut names) = store::find_with_lines(state.db(), number, name_of)
        .await?
        .filter(|(m, _, _)| who.sees(m.technician_id))
        .ok_or(AppError::NotFound)?;
    if !asked {
        names.client = client_name(state, m.client_id).await?;
    }
    let history = store::history(state.db(), m.id).await?;
    let people = store::user_names(
        state.db(),
        history.iter().filter_map(|h| h.actor_id.as_deref()),
    )
    .await?;
    let mut v = view(m, lines, names.client, names.technician);
    v.history = Some(
        history
            .into_iter()
            .map(|h| {
                let name = h.actor_id.as_deref().and_then(|id| people.get(id).cloned());
                ServiceHistoryEntry {
                    actor_name: name,
                    ..ServiceHistoryEntry::from(h)
                }
            })
            .collect(),
    );
    Ok(v)
}

/// A list's filters as the query string gives them.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    /// One status or several, comma-separated (`diagnosing,in_repair`).
    pub status: Option<String>,
    /// One priority or several, comma-separated (`high,urgent`).
    pub priority: Option<String>,
    pub client_id: Option<Uuid>,
    pub technician_id: Option<Uuid>,
    /// `true`: only orders nobody has taken.
    pub unassigned: Option<bool>,
    /// `true`: not yet delivered or cancelled; `false`: delivered or
    /// cancelled.
    pub open: Option<bool>,
    /// Searches the number, the serial/IMEI, the device's type, brand and
    /// model, and the customer's name (ignoring case and accents).
    #[param(max_length = 200)]
    pub q: Option<String>,
}

impl OrderFilter {
    fn search(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }
}

/// Service orders, newest first: the position is the last one's
/// (created_at, id).
const ORDERS: List<(DateTime<Utc>, Uuid)> = List::new("service.orders");

async fn parse_filter(
    state: &AppState,
    who: &Caller,
    f: &OrderFilter,
    mut errors: FieldErrors,
) -> AppResult<store::Filter> {
    let mut filter = store::Filter::default();
    for s in f.status.as_deref().unwrap_or("").split(',').map(str::trim) {
        if s.is_empty() {
            continue;
        }
        match ServiceStatus::parse(s) {
            Some(st) => filter.statuses.push(st.as_str().to_owned()),
            None => errors.push(FieldError::new("status", "unknown_status").with("value", s)),
        }
    }
    for p in f
        .priority
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
    {
        if p.is_empty() {
            continue;
        }
        match ServicePriority::parse(p) {
            Some(pr) => filter.priorities.push(pr.as_str().to_owned()),
            None => errors.push(FieldError::new("priority", "unknown_priority").with("value", p)),
        }
    }
    if f.q.as_deref().is_some_and(|q| q.chars().count() > 200) {
        errors.push(FieldError::new("q", "too_long").with("max", 200));
    }
    errors.finish()?;
    filter.client_id = f.client_id;
    filter.technician_id = f.technician_id;
    filter.unassigned = f.unassigned.unwrap_or(false);
    filter.open = f.open;
    if !who.all {
        filter.visible_to = Some(who.user_id);
    }
    if let Some(q) = f.search() {
        filter.number = Some(q.to_uppercase());
        filter.terms = text::terms(q);
        if let Some(dir) = state.directory("client") {
            filter.client_ids = dir.search(state.db(), q, 1000).await?;
        }
    }
    Ok(filter)
}

/// Orders as lists show them: with their lines, their clients' and
/// technicians' names.
async fn views(
    state: &AppState,
    rows: Vec<(order::Model, store::Names)>,
    named: bool,
) -> AppResult<Vec<ServiceOrderView>> {
    let ids: Vec<Uuid> = rows.iter().map(|(m, _)| m.id).collect();
    let mut lines = store::lines_of(state.db(), &ids).await?;
    let clients = match state.directory("client") {
        Some(dir) if !named => {
            let client_ids: Vec<Uuid> = rows.iter().map(|(m, _)| m.client_id).collect();
            dir.names(state.db(), &client_ids).await?
        }
        _ => Default::default(),
    };
    Ok(rows
        .into_iter()
        .map(|(m, names)| {
            let l = lines.remove(&m.id).unwrap_or_default();
            let client = names.client.or_else(|| clients.get(&m.client_id).cloned());
            view(m, l, client, names.technician)
        })
        .collect())
}

/// A page of the orders the caller may see.
#[tracing::instrument(skip_all)]
pub async fn search(
    state: &AppState,
    who: &Caller,
    f: &OrderFilter,
    page: &PageQuery,
) -> AppResult<Page<ServiceOrderView>> {
    let mut errors = FieldErrors::new();
    let (limit, before) = ORDERS.read(page, &mut errors);
    let mut filter = parse_filter(state, who, f, errors).await?;
    filter.before = before;
    filter.limit = limit + 1;
    let name_of = name_of_client(state);
    let named = name_of.is_some();
    let rows = store::list(state.db(), &filter, name_of).await?;
    let Page {
        items, next_cursor, ..
    } = ORDERS.page(rows, limit, |(m, _)| (m.created_at, m.id));
    Ok(Page {
        items: views(state, items, named).await?,
        next_cursor,
        next: None,
    })
}

/// Every order matching `f` the caller may see, newest first, read in
/// pages of 500 (the CSV export).
pub async fn all_matching(
    state: &AppState,
    who: &Caller,
    f: &OrderFilter,
) -> AppResult<Vec<ServiceOrderView>> {
    let mut filter = parse_filter(state, who, f, FieldErrors::new()).await?;
    filter.limit = 500;
    let mut out = Vec::new();
    loop {
        let name_of = name_of_client(state);
        let named = name_of.is_some();
        let rows = store::list(state.db(), &filter, name_of).await?;
        let done = rows.len() < 500;
        filter.before = rows.last().map(|(m, _)| (m.created_at, m.id));
        out.extend(views(state, rows, named).await?);
        if done {
            return Ok(out);
        }
    }
}
