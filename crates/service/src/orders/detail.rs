//! The service order's page: the order with its estimate, timeline and
//! signature, and the actions the caller may take on it (moves, take,
//! assign, diagnosis, estimate lines, contact address, mails, labels and
//! printing, documents), each a form
//! posted to the same service functions as the API; a refused one shows
//! the page again with what is wrong (422).

use faena_platform::prelude::*;

use super::labels::{LabelQuery, ServiceLabelKind};
use super::notices::{self, Notice};
use super::search;
use super::service;
use super::views::{
    EstimateLinesInput, ServiceAssignInput, ServiceDiagnosisInput, ServiceEstimateSendInput,
    ServiceOrderUpdate, ServiceOrderView, ServiceTransitionInput, caller,
};
use super::{Caller, EstimateLineInput, LineKind, ServiceStatus, approval};
use crate::printers::service::ServicePrintInput;

/// What the caller may do, from the page's principal.
pub(super) fn who(page: &PageContext) -> Caller {
    match &page.principal {
        Some(p) => caller(p),
        None => Caller {
            user_id: None,
            all: false,
            desk: false,
            bench: false,
            quote: false,
        },
    }
}

pub(super) fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The people orders can be given to, for filters and the assign form.
pub(super) async fn technician_choices(state: &AppState) -> AppResult<Vec<serde_json::Value>> {
    Ok(crate::technicians::service::list(state)
        .await?
        .into_iter()
        .map(|t| serde_json::json!({"id": t.id, "name": t.name, "active": t.active}))
        .collect())
}

/// Rows of the estimate editor: the order's lines, then blank ones.
pub(super) fn editor_rows(
    v: &ServiceOrderView,
    posted: Option<&[serde_json::Value]>,
) -> Vec<serde_json::Value> {
    let mut rows: Vec<serde_json::Value> = match posted {
        Some(p) => p.to_vec(),
        None => v
            .lines
            .iter()
            .map(|l| {
                serde_json::json!({"kind": l.kind.as_str(), "description": l.description, "quantity": l.quantity.to_string(),
                    "unit_price_clp": l.unit_price_clp.to_string(), "discount_percent": l.discount_percent.to_string()})
            })
            .collect(),
    };
    for _ in 0..2 {
        rows.push(serde_json::json!({"kind": "part", "description": "", "quantity": "", "unit_price_clp": "", "discount_percent": ""}));
    }
    rows
}

/// What the detail page needs besides the order: which actions to offer.
pub(super) struct Extra {
    errors: Vec<serde_json::Value>,
    ok: Option<String>,
    rows: Option<Vec<serde_json::Value>>,
    /// Why the last upload was refused (`files_error=`).
    files_error: Option<String>,
}

pub(super) async fn detail_page(
    state: &AppState,
    page: &PageContext,
    number: &str,
    extra: Extra,
) -> AppResult<Html<String>> {
    let who = who(page);
    let order = search::find(state, &who, number).await?;
    let status = order.status;
    let mine = who.acts_on(order.technician_id).is_ok();
    let open = status.is_open();
    let moves: Vec<&str> = order
        .allowed_next
        .iter()
        .filter(|s| mine && who.may_move_to(**s))
        .map(|s| s.as_str())
        .collect();
    let can_take = who.bench && open && order.technician_id.is_none() && who.user_id.is_some();
    let can_assign = who.desk && mine && open;
    let can_diagnose = who.bench && mine && open;
    let can_quote = who.quote && mine && status.lines_editable();
    let mails: Vec<&str> = if who.desk && mine && order.contact_email.is_some() {
        Notice::ALL
            .into_iter()
            .filter(|n| n.fits(status))
            .map(Notice::as_str)
            .collect()
    } else {
        Vec::new()
    };
    let id = crate::orders::store::find_by_number(state.db(), &order.number)
        .await?
        .ok_or(AppError::NotFound)?;
    let (signature, waiting) = approval::links_of(state, id.id).await?;
    let tracking = id
        .tracking_token
        .as_deref()
        .map(|t| notices::tracking_link(state, t));
    let (printed, totals) = notices::printed(&order);
    let technicians = if can_assign {
        technician_choices(state).await?
    } else {
        Vec::new()
    };
    let rows = editor_rows(&order, extra.rows.as_deref());
    let can_print = who.desk || who.bench;
    let printers: Vec<_> = if can_print {
        crate::printers::service::list(state)
            .await?
            .into_iter()
            .filter(|p| p.active)
            .collect()
    } else {
        Vec::new()
    };
    let prints = crate::printers::service::prints_of(state, id.id, &order.number).await?;
    let files = faena_platform::files::pages::panel(
        state,
        page,
        crate::ORDER_FILES,
        &order.number,
        extra.files_error.clone(),
    )
    .await?;
    render_page(
        state,
        "service/detail.html",
        page,
        context! {
            order => order, lines => printed, totals => totals, rows => rows,
            moves => moves, can_take => can_take, can_assign => can_assign, can_diagnose => can_diagnose,
            can_quote => can_quote, can_edit => who.desk && mine && open, mails => mails,
            technicians => technicians, signature => signature, waiting => waiting, tracking => tracking,
            errors => extra.errors, ok => extra.ok, kinds => ["part", "labour"],
            can_print => can_print, printers => printers, prints => prints,
            label_kinds => ["intake", "tag"], documents => ["intake", "estimate", "delivery"],
            ..files
        },
    )
}

pub(super) async fn detail(
    State(state): State<AppState>,
    page: PageContext,
    Path(number): Path<String>,
    Query(q): Query<DetailQuery>,
) -> AppResult<Html<String>> {
    let extra = Extra {
        errors: Vec::new(),
        ok: q.ok,
        rows: None,
        files_error: q.files_error,
    };
    detail_page(&state, &page, &number, extra).await
}

/// A refused command's words for the form: the field errors, or one
/// message under `field` naming what is wrong (a refused move, a stale
/// version). Not found and internal errors are passed on.
pub(super) fn refusal(
    state: &AppState,
    page: &PageContext,
    field: &str,
    e: AppError,
) -> AppResult<Vec<serde_json::Value>> {
    let problem = e.to_problem();
    if !problem.errors.is_empty() {
        return Ok(form_errors(state, page, e)?
            .into_iter()
            .map(|err| line_worded(state, page, err))
            .collect());
    }
    if matches!(e, AppError::NotFound | AppError::Internal(_)) {
        return Err(e);
    }
    let t = |key: &str| state.i18n().t(page.locale, key, &[]);
    // States are named as the page names them, not by their codes.
    let params: Vec<(&str, String)> = problem
        .params
        .iter()
        .map(|(k, v)| {
            let v = match *k {
                "from" | "to" | "status" => t(&format!("service.status.{v}")),
                "allowed" if v != "—" => v
                    .split(", ")
                    .map(|s| t(&format!("service.status.{s}")))
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => v.clone(),
            };
            (*k, v)
        })
        .collect();
    let key = format!("error.{}", problem.code);
    let mut message = if state.i18n().has(page.locale, &key) {
        state.i18n().t(page.locale, &key, &params)
    } else {
        problem.code.to_string()
    };
    let detail = format!("error.{}.detail", problem.code);
    if state.i18n().has(page.locale, &detail) {
        message = format!(
            "{message}. {}",
            state.i18n().t(page.locale, &detail, &params)
        );
    }
    Ok(vec![
        serde_json::json!({"field": field, "message": message}),
    ])
}

/// An estimate line's error names its column as the editor heads it
/// ("Cantidad"), not by the API's path (`lines[2].quantity`); the row is
/// said by the editor itself.
pub(super) fn line_worded(
    state: &AppState,
    page: &PageContext,
    mut err: serde_json::Value,
) -> serde_json::Value {
    let field = err["field"].as_str().unwrap_or("").to_owned();
    let column = field
        .strip_prefix("lines[")
        .and_then(|rest| rest.split_once("]."))
        .map(|(_, column)| column.to_owned());
    let label = match column.as_deref() {
        Some("description") => "service.description",
        Some("quantity") => "service.quantity",
        Some("unit_price_clp") => "service.unit_price",
        Some("discount_percent") => "service.discount",
        _ => return err,
    };
    let label = state.i18n().t(page.locale, label, &[]).to_lowercase();
    if let Some(message) = err["message"].as_str() {
        err["message"] = message.replace(&field, &label).into();
    }
    err
}

/// Answers a detail-page action: back to the order with `ok`, or the page
/// again with what was refused (422).
pub(super) async fn after(
    state: &AppState,
    page: &PageContext,
    number: &str,
    field: &str,
    result: AppResult<ServiceOrderView>,
    ok: &str,
    rows: Option<Vec<serde_json::Value>>,
) -> AppResult<Response> {
    match result {
        Ok(v) => Ok(Redirect::to(&format!("/service-orders/{}?ok={ok}", v.number)).into_response()),
        Err(e) => {
            let errors = refusal(state, page, field, e)?;
            let extra = Extra {
                errors,
                ok: None,
                rows,
                files_error: None,
            };
            Ok(unprocessable(
                detail_page(state, page, number, extra).await?,
            ))
        }
    }
}

pub(super) fn version_of(raw: &Option<String>) -> IfMatch {
    IfMatch::version(raw.as_deref().and_then(|v| v.trim().parse().ok()))
}

#[derive(Debug, Deserialize)]
pub(super) struct MoveForm {
    to: Option<String>,
    note: Option<String>,
    version: Option<String>,
}

pub(super) async fn move_order(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(number): Path<String>,
    Form(form): Form<MoveForm>,
) -> AppResult<Response> {
    let who = who(&page);
    let result = match form.to.as_deref().and_then(ServiceStatus::parse) {
        None => Err(FieldError::new("to", "unknown_service_status")
            .with("value", form.to.clone().unwrap_or_default())
            .into()),
        Some(to) => {
            let input = ServiceTransitionInput {
                to,
                note: form.note.clone(),
            };
            service::move_to(
                &state,
                &actor,
                &who,
                &number,
                version_of(&form.version),
                input,
            )
            .await
        }
    };
    after(
        &state,
        &page,
        &number,
        "to",
        result,
        "service_order_moved",
        None,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct VersionForm {
    version: Option<String>,
}

pub(super) async fn take(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(number): Path<String>,
    Form(form): Form<VersionForm>,
) -> AppResult<Response> {
    let who = who(&page);
    let result = service::take(&state, &actor, &who, &number, version_of(&form.version)).await;
    after(
        &state,
        &page,
        &number,
        "take",
        result,
        "service_order_taken",
        None,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct AssignForm {
    technician_id: Option<String>,
    version: Option<String>,
}

pub(super) async fn assign(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(number): Path<String>,
    Form(form): Form<AssignForm>,
) -> AppResult<Response> {
    let who = who(&page);
    let result = match given(&form.technician_id).map(|t| Uuid::parse_str(&t)) {
        Some(Err(_)) => Err(FieldError::new("technician_id", "not_a_technician").into()),
        chosen => {
            let input = ServiceAssignInput {
                technician_id: chosen.and_then(Result::ok),
            };
            service::assign(
                &state,
                &actor,
                &who,
                &number,
                version_of(&form.version),
                input,
            )
            .await
        }
    };
    after(
        &state,
        &page,
        &number,
        "technician_id",
        result,
        "service_order_assigned",
        None,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct DiagnosisForm {
    diagnosis: Option<String>,
    version: Option<String>,
}

pub(super) async fn diagnose(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(number): Path<String>,
    Form(form): Form<DiagnosisForm>,
) -> AppResult<Response> {
    let who = who(&page);
    let input = ServiceDiagnosisInput {
        diagnosis: form.diagnosis.clone().unwrap_or_default(),
    };
    let result = service::diagnose(
        &state,
        &actor,
        &who,
        &number,
        version_of(&form.version),
        input,
    )
    .await;
    after(
        &state,
        &page,
        &number,
        "diagnosis",
        result,
        "service_order_saved",
        None,
    )
    .await
}

/// The estimate editor as posted: `kind_0`, `description_0`,
/// `quantity_0`, `unit_price_clp_0`, `discount_percent_0`, …; rows
/// without a description are left out.
#[derive(Debug, Deserialize)]
pub(super) struct LinesForm {
    version: Option<String>,
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

impl LinesForm {
    fn rows(&self) -> Vec<serde_json::Value> {
        (0..super::MAX_LINES)
            .map_while(|i| {
                let description = self.rest.get(&format!("description_{i}"))?;
                let get = |k: &str| self.rest.get(&format!("{k}_{i}")).cloned().unwrap_or_default();
                Some(serde_json::json!({
                    "kind": get("kind"), "description": description, "quantity": get("quantity"),
                    "unit_price_clp": get("unit_price_clp"), "discount_percent": get("discount_percent"),
                }))
            })
            .filter(|r| !r["description"].as_str().unwrap_or("").trim().is_empty())
            .collect()
    }

    /// The lines, or an error naming each figure that is not a number
    /// (the rules on the parsed lines are the domain's).
    fn lines(&self, rows: &[serde_json::Value]) -> AppResult<Vec<EstimateLineInput>> {
        let mut errors = FieldErrors::new();
        let mut out = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let text = |k: &str| r[k].as_str().unwrap_or("").trim().to_owned();
            let mut number =
                |k: &str, default: Option<i64>| -> Option<i64> {
                    let raw = text(k).replace('.', "");
                    if raw.is_empty() && default.is_some() {
                        return default;
                    }
                    errors.take(raw.parse::<i64>().map_err(|_| {
                        FieldError::new(format!("lines[{i}].{k}"), "amount_not_a_number")
                    }))
                };
            let quantity = number("quantity", None);
            let price = number("unit_price_clp", None);
            let discount = number("discount_percent", Some(0));
            if let (Some(quantity), Some(unit_price_clp), Some(discount_percent)) =
                (quantity, price, discount)
            {
                out.push(EstimateLineInput {
                    kind: LineKind::parse(&text("kind")).unwrap_or(LineKind::Part),
                    description: text("description"),
                    quantity,
                    unit_price_clp,
                    discount_percent,
                });
            }
        }
        errors.finish()?;
        Ok(out)
    }
}

pub(super) async fn lines(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(number): Path<String>,
    Form(form): Form<LinesForm>,
) -> AppResult<Response> {
    let who = who(&page);
    let rows = form.rows();
    let result = match form.lines(&rows) {
        Ok(lines) => {
            service::set_lines(
                &state,
                &actor,
                &who,
                &number,
                version_of(&form.version),
                EstimateLinesInput { lines },
            )
            .await
        }
        Err(e) => Err(e),
    };
    after(
        &state,
        &page,
        &number,
        "lines",
        result,
        "service_order_saved",
        Some(rows),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct ContactForm {
    contact_email: Option<String>,
    version: Option<String>,
}

pub(super) async fn contact(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(number): Path<String>,
    Form(form): Form<ContactForm>,
) -> AppResult<Response> {
    let who = who(&page);
    let change = ServiceOrderUpdate {
        contact_email: Some(form.contact_email.clone().unwrap_or_default()),
        ..ServiceOrderUpdate::default()
    };
    let result = service::update(
        &state,
        &actor,
        &who,
        &number,
        version_of(&form.version),
        change,
    )
    .await;
    after(
        &state,
        &page,
        &number,
        "contact_email",
        result,
        "service_order_saved",
        None,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct MailForm {
    valid_days: Option<String>,
}

pub(super) async fn send_mail(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path((number, notice)): Path<(String, String)>,
    Form(form): Form<MailForm>,
) -> AppResult<Response> {
    let who = who(&page);
    let Some(notice) = Notice::parse(&notice) else {
        return Err(AppError::NotFound);
    };
    let result = match given(&form.valid_days).map(|d| d.parse::<i64>()) {
        Some(Err(_)) => Err(FieldError::new("valid_days", "amount_not_a_number").into()),
        days => {
            let input = ServiceEstimateSendInput {
                valid_days: days.and_then(Result::ok),
            };
            service::send_notice(&state, &actor, &who, &number, notice, input).await
        }
    };
    after(
        &state,
        &page,
        &number,
        "mail",
        result,
        "service_mail_queued",
        None,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct PrintForm {
    printer_id: Option<String>,
    kind: Option<String>,
}

/// Sends a label to a printer (as a job) and comes back to the order.
pub(super) async fn print(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(number): Path<String>,
    Form(form): Form<PrintForm>,
) -> AppResult<Response> {
    let who = who(&page);
    let printer = given(&form.printer_id).and_then(|p| Uuid::parse_str(&p).ok());
    let kind = form.kind.as_deref().and_then(ServiceLabelKind::parse);
    let result = match (printer, kind) {
        (None, _) => Err(FieldError::new("printer_id", "unknown_printer").into()),
        (_, None) => Err(FieldError::new("kind", "required").into()),
        (Some(printer_id), Some(kind)) => {
            let input = ServicePrintInput { printer_id, kind };
            crate::printers::service::print(&state, &actor, &who, &number, input, page.locale).await
        }
    };
    match result {
        Ok(v) => Ok(Redirect::to(&format!(
            "/service-orders/{}?ok=service_print_queued",
            v.number
        ))
        .into_response()),
        Err(e) => {
            let errors = refusal(&state, &page, "print", e)?;
            let extra = Extra {
                errors,
                ok: None,
                rows: None,
                files_error: None,
            };
            Ok(unprocessable(
                detail_page(&state, &page, &number, extra).await?,
            ))
        }
    }
}

/// A label as a download, from the order's page.
pub(super) async fn label(
    State(state): State<AppState>,
    page: PageContext,
    Path(number): Path<String>,
    Query(q): Query<LabelQuery>,
) -> AppResult<Response> {
    super::labels::download(&state, &who(&page), &number, &q, page.locale).await
}

/// A document as a PDF, from the order's page.
pub(super) async fn document(
    State(state): State<AppState>,
    page: PageContext,
    Zone(zone): Zone,
    Path((number, document)): Path<(String, String)>,
) -> AppResult<Response> {
    super::documents::download(&state, &who(&page), &number, &document, page.locale, zone).await
}
