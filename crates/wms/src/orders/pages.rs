//! Order pages: list with status filter and client names, create with a
//! client selector, detail with history and the status form (choosing
//! "Devuelta" reveals the reason, which the server requires anyway),
//! edit, delete, and the returns page.

use faena_platform::prelude::*;

use super::service::{self, NewOrder, OrderUpdate};
use super::store::OrderFilter;
use super::{LineInput, ReturnCode, ReturnLine, Status};
use crate::perms;

pub fn pages() -> Pages {
    Pages::new()
        .get("/orders", perms::ORDERS_READ, list)
        .get("/orders/returns", perms::ORDERS_READ, returns)
        .get("/orders/new", perms::ORDERS_WRITE, new_form)
        .get(
            "/orders/client-choices",
            perms::ORDERS_WRITE,
            client_choices,
        )
        .post("/orders", perms::ORDERS_WRITE, create)
        .get("/orders/{number}", perms::ORDERS_READ, detail)
        .post(
            "/orders/{number}/status",
            perms::ORDERS_WRITE,
            change_status,
        )
        .get("/orders/{number}/edit", perms::ORDERS_WRITE, edit_form)
        .post("/orders/{number}", perms::ORDERS_WRITE, update)
        .post("/orders/{number}/delete", perms::ORDERS_DELETE, delete)
}

fn statuses() -> Vec<&'static str> {
    Status::ALL.iter().map(|s| s.as_str()).collect()
}

fn return_codes() -> Vec<&'static str> {
    ReturnCode::ALL.iter().map(|c| c.as_str()).collect()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    client_id: Option<Uuid>,
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    ok: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> OrderFilter {
        let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        OrderFilter {
            status: given(&self.status),
            client_id: self.client_id,
            q: given(&self.q),
            from: given(&self.from),
            to: given(&self.to),
        }
    }
}

const ORDERS_LIST: ListSpec = ListSpec {
    path: "/orders",
    columns: service::LIST_COLUMNS,
    default_sort: "created_at",
    default_desc: true,
    csv: Some("/api/orders/export.csv"),
};

const RETURNS_LIST: ListSpec = ListSpec {
    path: "/orders/returns",
    columns: service::LIST_COLUMNS,
    default_sort: "created_at",
    default_desc: true,
    csv: Some("/api/orders/export.csv?status=returned"),
};

async fn list(
    State(state): State<AppState>,
    page: PageContext,
    RawQuery(raw): RawQuery,
    Query(q): Query<ListQuery>,
    Zone(zone): Zone,
) -> AppResult<Html<String>> {
    let mut request = ListRequest::parse(&ORDERS_LIST, raw.as_deref())?;
    let (orders, total) = service::list_page(&state, &q.filter(), &mut request, None, zone).await?;
    let client_name = match (q.client_id, state.directory("client")) {
        (Some(id), Some(dir)) => dir.names(state.db(), &[id]).await?.remove(&id),
        _ => None,
    };
    render_page(
        &state,
        "orders/list.html",
        &page,
        context! {
            orders => orders, list => request.view(total), statuses => statuses(),
            status => q.status.unwrap_or_default(), q => q.q.unwrap_or_default(), client_id => q.client_id,
            from => q.from.unwrap_or_default(), to => q.to.unwrap_or_default(),
            client_name => client_name, ok => q.ok, can_write => page.can(perms::ORDERS_WRITE),
        },
    )
}

async fn returns(
    State(state): State<AppState>,
    page: PageContext,
    RawQuery(raw): RawQuery,
    Zone(zone): Zone,
) -> AppResult<Html<String>> {
    let mut request = ListRequest::parse(&RETURNS_LIST, raw.as_deref())?;
    let (orders, total) = service::list_page(
        &state,
        &OrderFilter::default(),
        &mut request,
        Some(Status::Returned),
        zone,
    )
    .await?;
    render_page(
        &state,
        "orders/returns.html",
        &page,
        context! { orders => orders, list => request.view(total) },
    )
}

/// Whether there is any client to choose (else the form says how to add
/// one).
async fn any_client(state: &AppState) -> AppResult<bool> {
    Ok(match state.directory("client") {
        Some(dir) => !dir.choices(state.db(), None, 1).await?.is_empty(),
        None => false,
    })
}

#[derive(Debug, Deserialize)]
struct ChoicesQuery {
    q: Option<String>,
}

/// Clients whose name, RUT, comuna or email match what is typed, for the
/// form's picker: at most 20, in name order (it scales with the directory,
/// not with a select of every client).
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

/// Rows the new-order form starts with.
const NEW_FORM_LINES: usize = 3;

/// The rows to show: those given, and blank ones up to `min`, at least one.
fn with_blank(mut lines: Vec<serde_json::Value>, min: usize) -> Vec<serde_json::Value> {
    let blank = || serde_json::json!({"sku": "", "description": "", "quantity": ""});
    lines.push(blank());
    while lines.len() < min {
        lines.push(blank());
    }
    lines.truncate(crate::orders::MAX_LINES);
    lines
}

async fn form_page(
    state: &AppState,
    page: &PageContext,
    form: serde_json::Value,
    errors: Vec<serde_json::Value>,
    number: Option<String>,
) -> AppResult<Html<String>> {
    render_page(
        state,
        "orders/form.html",
        page,
        context! {
            form => form, errors => errors, number => number, any_client => any_client(state).await?,
            max_lines => crate::orders::MAX_LINES,
        },
    )
}

async fn new_form(
    State(state): State<AppState>,
    page: PageContext,
    Query(q): Query<ListQuery>,
) -> AppResult<Html<String>> {
    let client_name = match (q.client_id, state.directory("client")) {
        (Some(id), Some(dir)) => dir.names(state.db(), &[id]).await?.remove(&id),
        _ => None,
    };
    let form = serde_json::json!({"number": "", "client_id": q.client_id, "client_name": client_name, "notes": "", "lines": with_blank(Vec::new(), NEW_FORM_LINES), "version": 0});
    form_page(&state, &page, form, Vec::new(), None).await
}

/// The order form as posted: lines arrive as `sku_0`, `description_0`,
/// `quantity_0`, … and blank rows are ignored. `add_line` or
/// `remove_line=<row>` only edit the rows (the form without JavaScript).
#[derive(Debug, Deserialize)]
struct OrderForm {
    number: Option<String>,
    client_id: Option<String>,
    /// What was typed in the client picker.
    client_name: Option<String>,
    notes: Option<String>,
    // Text: with `flatten`, serde reads every value as a string.
    version: Option<String>,
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

/// What a post of the order form asks for.
enum Intent {
    Save,
    AddLine,
    RemoveLine(usize),
}

type Row = (String, String, String);

fn is_blank((sku, d, q): &Row) -> bool {
    sku.trim().is_empty() && d.trim().is_empty() && q.trim().is_empty()
}

fn row_json((sku, description, quantity): Row) -> serde_json::Value {
    serde_json::json!({"sku": sku, "description": description, "quantity": quantity})
}

impl OrderForm {
    fn version(&self) -> Option<i32> {
        self.version.as_deref().and_then(|v| v.trim().parse().ok())
    }

    fn intent(&self) -> Intent {
        if self.rest.contains_key("add_line") {
            Intent::AddLine
        } else if let Some(row) = self
            .rest
            .get("remove_line")
            .and_then(|v| v.trim().parse().ok())
        {
            Intent::RemoveLine(row)
        } else {
            Intent::Save
        }
    }

    /// Every row as posted, blank ones included: (sku, description, quantity).
    fn raw_rows(&self) -> Vec<Row> {
        (0..crate::orders::MAX_LINES)
            .map_while(|i| {
                let sku = self.rest.get(&format!("sku_{i}"))?;
                let text = |k: &str| self.rest.get(&format!("{k}_{i}")).cloned();
                Some((
                    sku.clone(),
                    text("description").unwrap_or_default(),
                    text("quantity").unwrap_or_default(),
                ))
            })
            .collect()
    }

    /// The rows that are not blank, as typed.
    fn rows(&self) -> Vec<Row> {
        self.raw_rows()
            .into_iter()
            .filter(|r| !is_blank(r))
            .collect()
    }

    /// The lines, or an error naming each quantity that is not a number
    /// (the rules on the parsed lines are the domain's).
    fn lines(&self) -> Result<Vec<LineInput>, AppError> {
        let mut errors = FieldErrors::new();
        let lines = self
            .rows()
            .into_iter()
            .enumerate()
            .filter_map(|(i, (sku, description, q))| {
                let quantity = errors.take(q.trim().parse::<i64>().map_err(|_| {
                    FieldError::new(format!("lines[{i}].quantity"), "quantity_not_a_number")
                }))?;
                Some(LineInput {
                    sku,
                    description,
                    quantity,
                })
            })
            .collect();
        errors.finish()?;
        Ok(lines)
    }

    fn echo_with(
        &self,
        lines: Vec<serde_json::Value>,
        candidates: Vec<serde_json::Value>,
    ) -> serde_json::Value {
        serde_json::json!({
            "number": self.number, "client_id": self.client_id, "client_name": self.client_name,
            "candidates": candidates, "notes": self.notes, "lines": lines, "version": self.version,
        })
    }

    /// The form as the user typed it, to show again with its errors.
    fn echo(&self, candidates: Vec<serde_json::Value>) -> serde_json::Value {
        let lines = self.rows().into_iter().map(row_json).collect();
        self.echo_with(with_blank(lines, 1), candidates)
    }

    /// The form with its rows edited (a row added or removed), unsaved.
    fn edited(&self) -> Option<serde_json::Value> {
        let mut rows = self.raw_rows();
        match self.intent() {
            Intent::Save => return None,
            Intent::AddLine => {}
            Intent::RemoveLine(i) if i < rows.len() => {
                rows.remove(i);
            }
            Intent::RemoveLine(_) => {}
        }
        rows.retain(|r| !is_blank(r));
        let lines = rows.into_iter().map(row_json).collect();
        Some(self.echo_with(with_blank(lines, 1), Vec::new()))
    }
}

/// The client the form names: the one chosen in the picker, or the only
/// one whose name matches what was typed. Several matches are offered to
/// choose from (the form without JavaScript).
async fn client_field(
    state: &AppState,
    form: &OrderForm,
) -> AppResult<(Result<Uuid, AppError>, Vec<serde_json::Value>)> {
    if let Some(id) = form
        .client_id
        .as_deref()
        .and_then(|c| Uuid::parse_str(c.trim()).ok())
    {
        return Ok((Ok(id), Vec::new()));
    }
    let typed = form.client_name.as_deref().unwrap_or("").trim();
    let refuse = |code: &'static str| -> AppError { FieldError::new("client_id", code).into() };
    if typed.is_empty() {
        return Ok((Err(refuse("required")), Vec::new()));
    }
    let Some(dir) = state.directory("client") else {
        return Ok((Err(refuse("unknown_client")), Vec::new()));
    };
    let found = dir.choices(state.db(), Some(typed), 10).await?;
    let exact: Vec<&(Uuid, String)> = found
        .iter()
        .filter(|(_, name)| faena_platform::text::fold(name) == faena_platform::text::fold(typed))
        .collect();
    Ok(match (found.len(), exact.as_slice()) {
        (0, _) => (Err(refuse("unknown_client")), Vec::new()),
        (1, _) => (Ok(found[0].0), Vec::new()),
        (_, [(id, _)]) => (Ok(*id), Vec::new()),
        _ => (
            Err(refuse("ambiguous_client")),
            found
                .into_iter()
                .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
                .collect(),
        ),
    })
}

/// The field errors of the client and the lines together, so the form
/// names every field that is wrong at once.
fn both(client: Result<Uuid, AppError>, lines: Result<Vec<LineInput>, AppError>) -> AppError {
    let mut errors = FieldErrors::new();
    for e in [client.err(), lines.err()].into_iter().flatten() {
        match e {
            AppError::Validation(list) => list.0.into_iter().for_each(|f| errors.push(f)),
            other => return other,
        }
    }
    match errors.finish() {
        Err(e) => e,
        Ok(()) => AppError::Internal(anyhow::anyhow!("no field error to report")),
    }
}

async fn create(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Form(form): Form<OrderForm>,
) -> AppResult<Response> {
    if let Some(edited) = form.edited() {
        return Ok(form_page(&state, &page, edited, Vec::new(), None)
            .await?
            .into_response());
    }
    let (client, candidates) = client_field(&state, &form).await?;
    let result = match (client, form.lines()) {
        (Ok(client_id), Ok(lines)) => {
            let input = NewOrder {
                number: form.number.clone(),
                client_id,
                lines,
                notes: form.notes.clone(),
            };
            service::create(&state, &actor, input).await
        }
        (client, lines) => Err(both(client, lines)),
    };
    match result {
        Ok(v) => {
            Ok(Redirect::to(&format!("/orders/{}?ok=order_created", v.number)).into_response())
        }
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            Ok(unprocessable(
                form_page(&state, &page, form.echo(candidates), errors, None).await?,
            ))
        }
    }
}

async fn detail_page(
    state: &AppState,
    page: &PageContext,
    number: &str,
    errors: Vec<serde_json::Value>,
    ok: Option<String>,
    chosen: Option<String>,
    files_error: Option<String>,
) -> AppResult<Html<String>> {
    let order = service::find(state, number).await?;
    let history = service::history_of(state, number).await?;
    let files = faena_platform::files::pages::panel(
        state,
        page,
        crate::ORDER_FILES,
        &order.number,
        files_error,
    )
    .await?;
    render_page(
        state,
        "orders/detail.html",
        page,
        context! {
            order => order, history => history, return_codes => return_codes(), errors => errors, ok => ok,
            chosen => chosen, can_write => page.can(perms::ORDERS_WRITE), can_delete => page.can(perms::ORDERS_DELETE),
            ..files
        },
    )
}

async fn detail(
    State(state): State<AppState>,
    page: PageContext,
    Path(number): Path<String>,
    Query(q): Query<DetailQuery>,
) -> AppResult<Html<String>> {
    detail_page(
        &state,
        &page,
        &number,
        Vec::new(),
        q.ok,
        None,
        q.files_error,
    )
    .await
}

/// The status form. A return's lines arrive as `return_sku_0`,
/// `return_qty_0`, … (a quantity of 0 leaves the line out).
#[derive(Debug, Deserialize)]
struct StatusForm {
    status: String,
    return_reason: Option<String>,
    return_code: Option<String>,
    // Text: with `flatten`, serde reads every value as a string.
    version: Option<String>,
    /// `yes` once a cancellation was confirmed.
    confirm: Option<String>,
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

impl StatusForm {
    fn version(&self) -> Option<i32> {
        self.version.as_deref().and_then(|v| v.trim().parse().ok())
    }

    /// The lines of a return, when the form lists them; a quantity that
    /// is not a number is named.
    fn return_lines(&self) -> Result<Option<Vec<ReturnLine>>, AppError> {
        let mut errors = FieldErrors::new();
        let mut out = Vec::new();
        let mut listed = false;
        for i in 0..crate::orders::MAX_LINES {
            let Some(sku) = self.rest.get(&format!("return_sku_{i}")) else {
                break;
            };
            listed = true;
            let raw = self
                .rest
                .get(&format!("return_qty_{i}"))
                .map(|q| q.trim())
                .unwrap_or("");
            match raw.parse::<i64>() {
                Ok(0) => {}
                Ok(quantity) => out.push(ReturnLine {
                    sku: sku.clone(),
                    quantity,
                }),
                Err(_) if raw.is_empty() => {}
                Err(_) => errors.push(FieldError::new(
                    format!("return_lines[{i}].quantity"),
                    "quantity_not_a_number",
                )),
            }
        }
        errors.finish()?;
        Ok(listed.then_some(out))
    }
}

/// A refused move's words, with the states named as the page names them
/// (the API's parameters are their codes).
fn status_message(
    state: &AppState,
    page: &PageContext,
    problem: &faena_platform::Problem,
) -> String {
    let t = |key: &str| state.i18n().t(page.locale, key, &[]);
    let name = |code: &str| t(&format!("status.{code}"));
    let params: Vec<(&str, String)> = problem
        .params
        .iter()
        .map(|(k, v)| {
            let v = match *k {
                "from" | "to" => name(v),
                "allowed" if Status::parse(v.split(", ").next().unwrap_or("")).is_some() => {
                    v.split(", ").map(name).collect::<Vec<_>>().join(", ")
                }
                _ => v.clone(),
            };
            (*k, v)
        })
        .collect();
    let mut message = state
        .i18n()
        .t(page.locale, &format!("error.{}", problem.code), &params);
    let detail = format!("error.{}.detail", problem.code);
    if state.i18n().has(page.locale, &detail) {
        message = format!(
            "{message}. {}",
            state.i18n().t(page.locale, &detail, &params)
        );
    }
    message
}

async fn change_status(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(number): Path<String>,
    Form(form): Form<StatusForm>,
) -> AppResult<Response> {
    let Some(to) = Status::parse(&form.status) else {
        return Err(faena_platform::FieldError::new("status", "unknown_status")
            .with("value", &form.status)
            .into());
    };
    let return_lines = if to == Status::Returned {
        form.return_lines()?
    } else {
        None
    };
    if to == Status::Cancelled && form.confirm.as_deref() != Some("yes") {
        let order = service::find(&state, &number).await?;
        let t = |key: &str, params: &[(&str, String)]| state.i18n().t(page.locale, key, params);
        return confirm_page(
            &state,
            &page,
            &Confirmation {
                question: t("orders.cancel_confirm", &[("number", order.number.clone())]),
                detail: Some(t("orders.cancel_detail", &[])),
                button: t("orders.to.cancelled", &[]),
                action: format!("/orders/{}/status", order.number),
                fields: vec![
                    ("status".into(), "cancelled".into()),
                    ("version".into(), order.version.to_string()),
                ],
                cancel: format!("/orders/{}", order.number),
                error: None,
            },
        );
    }
    let change = OrderUpdate {
        status: Some(to),
        return_reason: form.return_reason.clone(),
        return_code: form.return_code.as_deref().and_then(ReturnCode::parse),
        return_lines,
        ..OrderUpdate::default()
    };
    match service::update(
        &state,
        &actor,
        &number,
        IfMatch::version(form.version()),
        change,
    )
    .await
    {
        Ok(v) => {
            Ok(Redirect::to(&format!("/orders/{}?ok=status_changed", v.number)).into_response())
        }
        Err(e) => {
            let problem = e.to_problem();
            let errors = if problem.errors.is_empty() {
                match e {
                    AppError::NotFound | AppError::Internal(_) => return Err(e),
                    _ => vec![serde_json::json!({
                        "field": "status",
                        "message": status_message(&state, &page, &problem),
                    })],
                }
            } else {
                form_errors(&state, &page, e)?
            };
            let html = detail_page(
                &state,
                &page,
                &number,
                errors,
                None,
                Some(form.status),
                None,
            )
            .await?;
            Ok(unprocessable(html))
        }
    }
}

async fn edit_form(
    State(state): State<AppState>,
    page: PageContext,
    Path(number): Path<String>,
) -> AppResult<Html<String>> {
    let v = service::find(&state, &number).await?;
    let lines: Vec<serde_json::Value> = v.lines.iter().map(|l| serde_json::json!({"sku": l.sku, "description": l.description, "quantity": l.quantity})).collect();
    let form = serde_json::json!({"number": v.number, "client_id": v.client_id, "client_name": v.client_name, "notes": v.notes, "lines": with_blank(lines, 1), "version": v.version});
    form_page(&state, &page, form, Vec::new(), Some(v.number)).await
}

async fn update(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(number): Path<String>,
    Form(form): Form<OrderForm>,
) -> AppResult<Response> {
    if let Some(edited) = form.edited() {
        return Ok(form_page(&state, &page, edited, Vec::new(), Some(number))
            .await?
            .into_response());
    }
    let (client, candidates) = client_field(&state, &form).await?;
    let result = match (client, form.lines()) {
        (Ok(client_id), Ok(lines)) => {
            let change = OrderUpdate {
                client_id: Some(client_id),
                lines: Some(lines),
                notes: Some(form.notes.clone().unwrap_or_default()),
                ..OrderUpdate::default()
            };
            service::update(
                &state,
                &actor,
                &number,
                IfMatch::version(form.version()),
                change,
            )
            .await
        }
        (client, lines) => Err(both(client, lines)),
    };
    match result {
        Ok(v) => Ok(Redirect::to(&format!("/orders/{}?ok=order_saved", v.number)).into_response()),
        Err(e) => {
            let problem = e.to_problem();
            let errors = if problem.errors.is_empty()
                && !matches!(e, AppError::NotFound | AppError::Internal(_))
            {
                vec![
                    serde_json::json!({"field": "form", "message": state.i18n().t(page.locale, &format!("error.{}", problem.code), &problem.params)}),
                ]
            } else {
                form_errors(&state, &page, e)?
            };
            Ok(unprocessable(
                form_page(&state, &page, form.echo(candidates), errors, Some(number)).await?,
            ))
        }
    }
}

async fn delete(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(number): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> AppResult<Response> {
    if !form.confirmed() {
        let order = service::find(&state, &number).await?;
        let t = |key: &str, params: &[(&str, String)]| state.i18n().t(page.locale, key, params);
        return confirm_page(
            &state,
            &page,
            &Confirmation {
                question: t("orders.delete_confirm", &[("number", order.number.clone())]),
                detail: Some(t("confirm.irreversible", &[])),
                button: t("orders.delete", &[]),
                action: format!("/orders/{}/delete", order.number),
                fields: Vec::new(),
                cancel: format!("/orders/{}", order.number),
                error: None,
            },
        );
    }
    match service::delete(&state, &actor, &number, IfMatch::ANY).await {
        Ok(()) => Ok(Redirect::to("/orders?ok=order_deleted").into_response()),
        Err(e @ AppError::Conflict { .. }) => {
            let problem = e.to_problem();
            let errors = vec![
                serde_json::json!({"field": "delete", "message": state.i18n().t(page.locale, &format!("error.{}", problem.code), &problem.params)}),
            ];
            Ok((
                axum::http::StatusCode::CONFLICT,
                detail_page(&state, &page, &number, errors, None, None, None).await?,
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}
