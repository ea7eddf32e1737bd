//! Service-order pages: the list (a scanned number opens its order), the
//! intake form, the technician's queue, and the routes of the order's own
//! page (`detail.rs`). Every post goes through the same service functions
//! as the API; a refused one shows the form again with 422.

use faena_platform::prelude::*;

use super::detail::{
    assign, contact, detail, diagnose, document, given, label, lines, move_order, print, send_mail,
    take, technician_choices, who,
};
use super::search::{self, OrderFilter};
use super::service;
use super::views::{NewServiceOrder, ServiceOrderView};
use super::{OrderNumber, ServicePriority, ServiceStatus};
use crate::perms;

pub fn pages() -> Pages {
    Pages::new()
        .get("/service-orders", perms::ORDERS_READ, list)
        .get("/service-orders/new", perms::ORDERS_WRITE, new_form)
        .get(
            "/service-orders/client-choices",
            perms::ORDERS_WRITE,
            client_choices,
        )
        .post("/service-orders", perms::ORDERS_WRITE, create)
        .get("/service-orders/{number}", perms::ORDERS_READ, detail)
        .post(
            "/service-orders/{number}/transition",
            perms::ORDERS_READ,
            move_order,
        )
        .post("/service-orders/{number}/take", perms::ORDERS_WORK, take)
        .post(
            "/service-orders/{number}/assign",
            perms::ORDERS_WRITE,
            assign,
        )
        .post(
            "/service-orders/{number}/diagnosis",
            perms::ORDERS_WORK,
            diagnose,
        )
        .post("/service-orders/{number}/lines", perms::ORDERS_QUOTE, lines)
        .post(
            "/service-orders/{number}/contact",
            perms::ORDERS_WRITE,
            contact,
        )
        .post(
            "/service-orders/{number}/mail/{notice}",
            perms::ORDERS_WRITE,
            send_mail,
        )
        .get("/service-orders/{number}/label", perms::ORDERS_READ, label)
        .post("/service-orders/{number}/print", perms::ORDERS_READ, print)
        .get(
            "/service-orders/{number}/documents/{document}",
            perms::ORDERS_READ,
            document,
        )
        .get("/service/queue", perms::ORDERS_READ, queue)
}

fn statuses() -> Vec<&'static str> {
    ServiceStatus::ALL.iter().map(|s| s.as_str()).collect()
}

fn priorities() -> Vec<&'static str> {
    ServicePriority::ALL.iter().map(|p| p.as_str()).collect()
}

/// The list's filters as the form sends them (empty means "any").
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    status: Option<String>,
    priority: Option<String>,
    technician: Option<String>,
    /// `yes`, `no` or empty.
    open: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
    ok: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> OrderFilter {
        let technician = given(&self.technician);
        OrderFilter {
            status: given(&self.status),
            priority: given(&self.priority),
            client_id: None,
            technician_id: technician.as_deref().and_then(|t| Uuid::parse_str(t).ok()),
            unassigned: (technician.as_deref() == Some("none")).then_some(true),
            open: match given(&self.open).as_deref() {
                Some("yes") => Some(true),
                Some("no") => Some(false),
                _ => None,
            },
            q: given(&self.q),
        }
    }

    /// The filters as a query string (for the next page and the CSV).
    fn query(&self, f: &OrderFilter) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", &f.status),
            ("priority", &f.priority),
            ("q", &f.q),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        if let Some(t) = &self.technician.as_deref().filter(|t| !t.is_empty()) {
            q.append_pair("technician", t);
        }
        if let Some(o) = &self.open.as_deref().filter(|o| !o.is_empty()) {
            q.append_pair("open", o);
        }
        q.finish()
    }

    fn csv(&self, f: &OrderFilter) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", &f.status),
            ("priority", &f.priority),
            ("q", &f.q),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        if let Some(t) = f.technician_id {
            q.append_pair("technician_id", &t.to_string());
        }
        if f.unassigned == Some(true) {
            q.append_pair("unassigned", "true");
        }
        if let Some(o) = f.open {
            q.append_pair("open", if o { "true" } else { "false" });
        }
        let q = q.finish();
        if q.is_empty() {
            "/api/service-orders/export.csv".to_owned()
        } else {
            format!("/api/service-orders/export.csv?{q}")
        }
    }
}

/// An order as a row of a list: its figures already in pesos.
fn row(v: &ServiceOrderView) -> serde_json::Value {
    serde_json::json!({
        "number": v.number, "client_name": v.client_name, "status": v.status,
        "priority": v.priority, "device": format!("{} {} {}", v.device_type, v.brand, v.model),
        "technician_name": v.technician_name, "technician_id": v.technician_id,
        "promised_date": v.promised_date.map(|d| d.format("%d-%m-%Y").to_string()),
        "total": super::clp(v.totals.total_clp), "created_at": v.created_at,
    })
}

async fn list(
    State(state): State<AppState>,
    page: PageContext,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let who = who(&page);
    let filter = q.filter();
    // A barcode scanner types the number and Enter: open that order.
    if let Some(n) = filter.q.as_deref().and_then(OrderNumber::parse) {
        match search::find(&state, &who, n.as_str()).await {
            Ok(v) => {
                return Ok(Redirect::to(&format!("/service-orders/{}", v.number)).into_response());
            }
            Err(AppError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    let paging = PageQuery {
        limit: Some(25),
        cursor: given(&q.cursor),
    };
    let found = search::search(&state, &who, &filter, &paging).await?;
    let query = q.query(&filter);
    let next = found.next_cursor.as_ref().map(|c| {
        let mut s = form_urlencoded::Serializer::new(query.clone());
        s.append_pair("cursor", c);
        format!("/service-orders?{}", s.finish())
    });
    let filtered = !query.is_empty();
    Ok(render_page(
        &state,
        "service/list.html",
        &page,
        context! {
            orders => found.items.iter().map(row).collect::<Vec<_>>(), next => next,
            first => q.cursor.is_some().then(|| if query.is_empty() { "/service-orders".to_owned() } else { format!("/service-orders?{query}") }),
            csv => q.csv(&filter), filtered => filtered,
            statuses => statuses(), priorities => priorities(), technicians => technician_choices(&state).await?,
            status => filter.status.unwrap_or_default(), priority => filter.priority.unwrap_or_default(),
            technician => q.technician.clone().unwrap_or_default(), open => q.open.clone().unwrap_or_default(),
            q => filter.q.unwrap_or_default(), ok => q.ok, can_write => who.desk,
            can_printers => page.can(perms::PRINTERS_READ),
            can_stats => page.can(perms::ORDERS_ALL),
        },
    )?
    .into_response())
}

#[derive(Debug, Deserialize)]
struct ChoicesQuery {
    q: Option<String>,
}

/// Clients matching what is typed, for the intake's picker (at most 20).
async fn client_choices(
    State(state): State<AppState>,
    Query(q): Query<ChoicesQuery>,
) -> AppResult<axum::Json<Vec<serde_json::Value>>> {
    let typed = q.q.unwrap_or_default();
    let Some(dir) = state
        .directory("client")
        .filter(|_| !typed.trim().is_empty())
    else {
        return Ok(axum::Json(Vec::new()));
    };
    Ok(axum::Json(
        dir.choices(state.db(), Some(&typed), 20)
            .await?
            .into_iter()
            .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
            .collect(),
    ))
}

/// The intake form as posted.
#[derive(Debug, Default, Deserialize)]
struct IntakeForm {
    client_id: Option<String>,
    client_name: Option<String>,
    contact_email: Option<String>,
    device_type: Option<String>,
    brand: Option<String>,
    model: Option<String>,
    serial: Option<String>,
    accessories: Option<String>,
    condition_notes: Option<String>,
    reported_fault: Option<String>,
    priority: Option<String>,
    promised_date: Option<String>,
}

impl IntakeForm {
    fn echo(&self, candidates: Vec<serde_json::Value>) -> serde_json::Value {
        serde_json::json!({
            "client_id": self.client_id, "client_name": self.client_name, "candidates": candidates,
            "contact_email": self.contact_email, "device_type": self.device_type, "brand": self.brand,
            "model": self.model, "serial": self.serial, "accessories": self.accessories,
            "condition_notes": self.condition_notes, "reported_fault": self.reported_fault,
            "priority": self.priority.clone().unwrap_or_else(|| "normal".into()),
            "promised_date": self.promised_date,
        })
    }
}

async fn intake_page(
    state: &AppState,
    page: &PageContext,
    form: serde_json::Value,
    errors: Vec<serde_json::Value>,
) -> AppResult<Html<String>> {
    render_page(
        state,
        "service/intake.html",
        page,
        context! { form => form, errors => errors, priorities => priorities() },
    )
}

async fn new_form(State(state): State<AppState>, page: PageContext) -> AppResult<Html<String>> {
    intake_page(
        &state,
        &page,
        IntakeForm::default().echo(Vec::new()),
        Vec::new(),
    )
    .await
}

/// The client the form names: the one chosen in the picker, or the only
/// one matching what was typed; several matches are offered to choose.
async fn client_field(
    state: &AppState,
    form: &IntakeForm,
) -> AppResult<(Result<Uuid, FieldError>, Vec<serde_json::Value>)> {
    if let Some(id) = form
        .client_id
        .as_deref()
        .and_then(|c| Uuid::parse_str(c.trim()).ok())
    {
        return Ok((Ok(id), Vec::new()));
    }
    let typed = form.client_name.as_deref().unwrap_or("").trim();
    let refuse = |code: &'static str| FieldError::new("client_id", code);
    if typed.is_empty() {
        return Ok((Err(refuse("required")), Vec::new()));
    }
    let Some(dir) = state.directory("client") else {
        return Ok((Err(refuse("unknown_customer")), Vec::new()));
    };
    let found = dir.choices(state.db(), Some(typed), 10).await?;
    let fold = faena_platform::text::fold;
    let exact: Vec<&(Uuid, String)> = found
        .iter()
        .filter(|(_, name)| fold(name) == fold(typed))
        .collect();
    Ok(match (found.len(), exact.as_slice()) {
        (0, _) => (Err(refuse("unknown_customer")), Vec::new()),
        (1, _) => (Ok(found[0].0), Vec::new()),
        (_, [(id, _)]) => (Ok(*id), Vec::new()),
        _ => (
            Err(refuse("ambiguous_customer")),
            found
                .into_iter()
                .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
                .collect(),
        ),
    })
}

async fn create(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Form(form): Form<IntakeForm>,
) -> AppResult<Response> {
    let (client, candidates) = client_field(&state, &form).await?;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut errors = FieldErrors::new();
    let promised_date = match given(&form.promised_date) {
        None => None,
        Some(d) => errors.take(
            chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map_err(|_| FieldError::new("promised_date", "invalid_date")),
        ),
    };
    let priority = given(&form.priority).and_then(|p| ServicePriority::parse(&p));
    let result = match (client, errors.finish()) {
        (Ok(client_id), Ok(())) => {
            let input = NewServiceOrder {
                client_id,
                contact_email: given(&form.contact_email),
                device_type: text(&form.device_type),
                brand: text(&form.brand),
                model: text(&form.model),
                serial: given(&form.serial),
                accessories: given(&form.accessories),
                condition_notes: given(&form.condition_notes),
                reported_fault: text(&form.reported_fault),
                priority,
                promised_date,
                technician_id: None,
                warranty_of: None,
                lines: Vec::new(),
            };
            service::create(&state, &actor, input).await
        }
        (Err(c), Err(AppError::Validation(mut list))) => {
            list.0.insert(0, c);
            Err(AppError::Validation(list))
        }
        (Err(c), _) => Err(c.into()),
        (_, Err(e)) => Err(e),
    };
    match result {
        Ok(v) => Ok(Redirect::to(&format!(
            "/service-orders/{}?ok=service_order_created",
            v.number
        ))
        .into_response()),
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            Ok(unprocessable(
                intake_page(&state, &page, form.echo(candidates), errors).await?,
            ))
        }
    }
}

/// The technician's queue: their open orders, then the unassigned ones to
/// take; refreshed live by the `service` topic.
async fn queue(State(state): State<AppState>, page: PageContext) -> AppResult<Html<String>> {
    let who = who(&page);
    let open = |technician_id, unassigned| OrderFilter {
        open: Some(true),
        technician_id,
        unassigned,
        ..OrderFilter::default()
    };
    let first = PageQuery::first(200);
    let mine = match who.user_id {
        Some(me) => {
            search::search(&state, &who, &open(Some(me), None), &first)
                .await?
                .items
        }
        None => Vec::new(),
    };
    let free = search::search(&state, &who, &open(None, Some(true)), &first)
        .await?
        .items;
    render_page(
        &state,
        "service/queue.html",
        &page,
        context! {
            mine => mine.iter().map(row).collect::<Vec<_>>(),
            free => free.iter().map(row).collect::<Vec<_>>(),
            can_take => who.bench && who.user_id.is_some(),
        },
    )
}
