//! The printers' admin page (`/service/printers`): the list, and for those
//! who may (`service.printers.write`) adding, changing and removing a
//! printer, each a form posted to the same service functions as the API.

use faena_platform::prelude::*;

use super::service::{self, ServicePrinterInput};
use crate::perms;

pub fn pages() -> Pages {
    Pages::new()
        .get("/service/printers", perms::PRINTERS_READ, list)
        .post("/service/printers", perms::PRINTERS_WRITE, create)
        .post("/service/printers/{id}", perms::PRINTERS_WRITE, update)
        .post(
            "/service/printers/{id}/delete",
            perms::PRINTERS_WRITE,
            delete,
        )
}

async fn list_page(
    state: &AppState,
    page: &PageContext,
    errors: Vec<serde_json::Value>,
    ok: Option<String>,
    form: serde_json::Value,
    failed: Option<Uuid>,
) -> AppResult<Html<String>> {
    let printers = service::list(state).await?;
    render_page(
        state,
        "service/printers.html",
        page,
        context! {
            printers => printers, errors => errors, ok => ok, form => form, failed => failed,
            can_write => page.can(perms::PRINTERS_WRITE), dpis => super::DPIS,
        },
    )
}

async fn list(
    State(state): State<AppState>,
    page: PageContext,
    Query(q): Query<DetailQuery>,
) -> AppResult<Html<String>> {
    let form = serde_json::json!({"name": "", "address": "", "dpi": "203"});
    list_page(&state, &page, Vec::new(), q.ok, form, None).await
}

#[derive(Debug, Deserialize)]
struct PrinterForm {
    name: Option<String>,
    address: Option<String>,
    dpi: Option<String>,
    /// Present when the box is ticked.
    active: Option<String>,
    version: Option<String>,
}

impl PrinterForm {
    fn input(&self) -> ServicePrinterInput {
        ServicePrinterInput {
            name: self.name.clone().unwrap_or_default(),
            address: self.address.clone().unwrap_or_default(),
            dpi: self
                .dpi
                .as_deref()
                .and_then(|d| d.trim().parse().ok())
                .unwrap_or(0),
            active: self.active.is_some(),
        }
    }

    fn echo(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name.clone().unwrap_or_default(),
            "address": self.address.clone().unwrap_or_default(),
            "dpi": self.dpi.clone().unwrap_or_default(),
        })
    }
}

async fn refused(
    state: &AppState,
    page: &PageContext,
    e: AppError,
    form: serde_json::Value,
    failed: Option<Uuid>,
) -> AppResult<Response> {
    if matches!(e, AppError::NotFound | AppError::Internal(_)) {
        return Err(e);
    }
    let errors = form_errors(state, page, e)?;
    Ok(unprocessable(
        list_page(state, page, errors, None, form, failed).await?,
    ))
}

async fn create(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Form(form): Form<PrinterForm>,
) -> AppResult<Response> {
    match service::create(&state, &actor, form.input()).await {
        Ok(_) => Ok(Redirect::to("/service/printers?ok=printer_saved").into_response()),
        Err(e) => refused(&state, &page, e, form.echo(), None).await,
    }
}

async fn update(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(id): Path<Uuid>,
    Form(form): Form<PrinterForm>,
) -> AppResult<Response> {
    let version = IfMatch::version(form.version.as_deref().and_then(|v| v.trim().parse().ok()));
    match service::update(&state, &actor, id, version, form.input()).await {
        Ok(_) => Ok(Redirect::to("/service/printers?ok=printer_saved").into_response()),
        Err(e) => {
            let empty = serde_json::json!({"name": "", "address": "", "dpi": "203"});
            refused(&state, &page, e, empty, Some(id)).await
        }
    }
}

async fn delete(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(id): Path<Uuid>,
    Form(form): Form<ConfirmForm>,
) -> AppResult<Response> {
    let printer = service::find(&state, id).await?;
    if !form.confirmed() {
        let t = |key: &str, params: &[(&str, String)]| state.i18n().t(page.locale, key, params);
        return confirm_page(
            &state,
            &page,
            &Confirmation {
                question: t(
                    "service.printer_delete_confirm",
                    &[("name", printer.name.clone())],
                ),
                detail: Some(t("service.printer_delete_detail", &[])),
                button: t("service.printer_delete", &[]),
                action: format!("/service/printers/{id}/delete"),
                fields: Vec::new(),
                cancel: "/service/printers".into(),
                error: None,
            },
        );
    }
    service::delete(&state, &actor, id, IfMatch::ANY).await?;
    Ok(Redirect::to("/service/printers?ok=printer_deleted").into_response())
}
