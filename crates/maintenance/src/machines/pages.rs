//! Machine pages: the register with search and filters, a machine's page
//! with its maintenance timeline, photos and documents, the form, and
//! delete with confirmation. They call the same service as the API.

use std::collections::BTreeMap;

use faena_platform::prelude::*;

use crate::given;

use super::service::{self, LIST_COLUMNS, MachineFilter, MachineView};
use super::{Criticality, MachineInput, MachineStatus, store};
use crate::perms;
use crate::records::service::{self as records, RecordFilter};

pub fn pages() -> Pages {
    Pages::new()
        .get("/machines", perms::MACHINES_READ, list)
        .get("/machines/new", perms::MACHINES_WRITE, new_form)
        .get("/machines/import", perms::MACHINES_WRITE, import_form)
        .post("/machines/import", perms::MACHINES_WRITE, import)
        .post("/machines", perms::MACHINES_WRITE, create)
        .get("/machines/{code}", perms::MACHINES_READ, detail)
        .get("/machines/{code}/edit", perms::MACHINES_WRITE, edit_form)
        .post("/machines/{code}", perms::MACHINES_WRITE, update)
        .get(
            "/machines/{code}/delete",
            perms::MACHINES_DELETE,
            delete_form,
        )
        .post("/machines/{code}/delete", perms::MACHINES_DELETE, delete)
}

pub const LIST: ListSpec = ListSpec {
    path: "/machines",
    columns: LIST_COLUMNS,
    default_sort: "name",
    default_desc: false,
    csv: Some("/api/machines/export.csv"),
};

#[derive(Debug, Deserialize)]
struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    kind: Option<String>,
    lab: Option<String>,
    due: Option<String>,
    ok: Option<String>,
}

fn statuses() -> Vec<&'static str> {
    MachineStatus::ALL.iter().map(|s| s.as_str()).collect()
}

fn criticalities() -> Vec<&'static str> {
    Criticality::ALL.iter().map(|c| c.as_str()).collect()
}

async fn list(
    State(state): State<AppState>,
    page: PageContext,
    RawQuery(raw): RawQuery,
    Query(q): Query<ListQuery>,
) -> AppResult<Html<String>> {
    let mut request = ListRequest::parse(&LIST, raw.as_deref())?;
    let filter = MachineFilter {
        q: q.q.clone(),
        status: q.status.clone(),
        kind: q.kind.clone(),
        lab: q.lab.clone(),
        due: q.due.clone(),
    };
    let (machines, total) = service::list_page(&state, &filter, &mut request).await?;
    let (labs, kinds) = store::labs_and_kinds(state.db()).await?;
    render_page(
        &state,
        "machines/list.html",
        &page,
        context! {
            machines => machines, list => request.view(total), statuses => statuses(),
            labs => labs, kinds => kinds,
            q => q.q.unwrap_or_default(), status => q.status.unwrap_or_default(),
            lab => q.lab.unwrap_or_default(), kind => q.kind.unwrap_or_default(),
            due => q.due.unwrap_or_default(),
            ok => q.ok, can_write => page.can(perms::MACHINES_WRITE),
        },
    )
}

/// The machine form as posted. Custom attributes arrive as `attr_key_0`,
/// `attr_value_0`, …; blank rows are ignored.
#[derive(Debug, Default, Deserialize)]
struct MachineForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    kind: Option<String>,
    lab: Option<String>,
    brand: Option<String>,
    model: Option<String>,
    serial: Option<String>,
    status: Option<String>,
    acquired_on: Option<String>,
    responsible_id: Option<String>,
    criticality: Option<String>,
    notes: Option<String>,
    version: Option<String>,
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

/// Rows of custom attributes the form always offers blank.
const BLANK_ATTRIBUTES: usize = 3;

impl MachineForm {
    fn attributes(&self) -> Vec<(String, String)> {
        (0..crate::machines::MAX_ATTRIBUTES)
            .filter_map(|i| {
                let k = self.rest.get(&format!("attr_key_{i}"))?;
                let v = self
                    .rest
                    .get(&format!("attr_value_{i}"))
                    .cloned()
                    .unwrap_or_default();
                (!k.trim().is_empty() || !v.trim().is_empty()).then(|| (k.clone(), v))
            })
            .collect()
    }

    /// The input, or the errors of the fields a form sends as text.
    fn input(&self) -> Result<MachineInput, AppError> {
        let mut errors = FieldErrors::new();
        let status = given(&self.status).and_then(|s| {
            errors.take(MachineStatus::parse(s).ok_or_else(|| FieldError::new("status", "invalid")))
        });
        let criticality = given(&self.criticality).and_then(|s| {
            errors.take(
                Criticality::parse(s).ok_or_else(|| FieldError::new("criticality", "invalid")),
            )
        });
        let acquired_on = given(&self.acquired_on).and_then(|s| {
            errors.take(
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|_| FieldError::new("acquired_on", "invalid_date")),
            )
        });
        let responsible_id = given(&self.responsible_id).and_then(|s| {
            errors
                .take(Uuid::parse_str(s).map_err(|_| FieldError::new("responsible_id", "invalid")))
        });
        let mut attributes = BTreeMap::new();
        for (k, v) in self.attributes() {
            if k.trim().is_empty() {
                errors.push(FieldError::new("attributes", "invalid_attribute_name"));
            } else {
                attributes.insert(k, v);
            }
        }
        errors.finish()?;
        Ok(MachineInput {
            code: self.code.clone(),
            name: self.name.clone(),
            kind: self.kind.clone(),
            lab: self.lab.clone(),
            brand: self.brand.clone(),
            model: self.model.clone(),
            serial: self.serial.clone(),
            status,
            acquired_on,
            responsible_id,
            criticality,
            attributes,
            notes: self.notes.clone(),
        })
    }

    fn version(&self) -> Option<i32> {
        self.version.as_deref().and_then(|v| v.trim().parse().ok())
    }

    /// The form as typed, to show again with its errors.
    fn echo(&self) -> serde_json::Value {
        let mut attributes: Vec<serde_json::Value> = self
            .attributes()
            .into_iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
            .collect();
        for _ in 0..BLANK_ATTRIBUTES {
            attributes.push(serde_json::json!({"key": "", "value": ""}));
        }
        serde_json::json!({
            "code": self.code, "name": self.name, "kind": self.kind, "lab": self.lab,
            "brand": self.brand, "model": self.model, "serial": self.serial,
            "status": self.status.clone().unwrap_or_else(|| "operational".into()),
            "acquired_on": self.acquired_on, "responsible_id": self.responsible_id,
            "criticality": self.criticality.clone().unwrap_or_else(|| "medium".into()),
            "notes": self.notes, "attributes": attributes, "version": self.version,
        })
    }
}

fn echo_of(v: &MachineView) -> serde_json::Value {
    let mut attributes: Vec<serde_json::Value> = v
        .attributes
        .iter()
        .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
        .collect();
    for _ in 0..BLANK_ATTRIBUTES {
        attributes.push(serde_json::json!({"key": "", "value": ""}));
    }
    serde_json::json!({
        "code": v.code, "name": v.name, "kind": v.kind, "lab": v.lab, "brand": v.brand,
        "model": v.model, "serial": v.serial, "status": v.status.as_str(),
        "acquired_on": v.acquired_on.map(|d| d.to_string()),
        "responsible_id": v.responsible_id.map(|id| id.to_string()),
        "criticality": v.criticality.as_str(), "notes": v.notes, "attributes": attributes,
        "version": v.version,
    })
}

async fn form_page(
    state: &AppState,
    page: &PageContext,
    form: serde_json::Value,
    errors: Vec<serde_json::Value>,
    code: Option<&str>,
) -> AppResult<Html<String>> {
    let people = faena_platform::auth::users::holding(state, perms::MACHINES_READ).await?;
    let (labs, kinds) = store::labs_and_kinds(state.db()).await?;
    render_page(
        state,
        "machines/form.html",
        page,
        context! {
            form => form, errors => errors, code => code, statuses => statuses(),
            criticalities => criticalities(), people => people, labs => labs, kinds => kinds,
        },
    )
}

async fn new_form(State(state): State<AppState>, page: PageContext) -> AppResult<Html<String>> {
    form_page(
        &state,
        &page,
        MachineForm::default().echo(),
        Vec::new(),
        None,
    )
    .await
}

async fn create(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Form(form): Form<MachineForm>,
) -> AppResult<Response> {
    let result = match form.input() {
        Ok(input) => service::create(&state, &actor, &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(v) => {
            Ok(Redirect::to(&format!("/machines/{}?ok=machine_created", v.code)).into_response())
        }
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            Ok(unprocessable(
                form_page(&state, &page, form.echo(), errors, None).await?,
            ))
        }
    }
}

async fn detail(
    State(state): State<AppState>,
    page: PageContext,
    Path(code): Path<String>,
    Query(q): Query<DetailQuery>,
    Zone(zone): Zone,
) -> AppResult<Html<String>> {
    render_detail(&state, &page, &code, zone, q, Vec::new()).await
}

/// A machine's page: its facts, open work, plans, meters, history and
/// files; `errors` are those of the meter reading form.
pub(crate) async fn render_detail(
    state: &AppState,
    page: &PageContext,
    code: &str,
    zone: chrono_tz::Tz,
    q: DetailQuery,
    errors: Vec<serde_json::Value>,
) -> AppResult<Html<String>> {
    let machine = service::find(state, code).await?;
    let history = if page.can(perms::RECORDS_READ) {
        let f = RecordFilter {
            machine: Some(machine.code.clone()),
            ..RecordFilter::default()
        };
        records::search(state, &f, &PageQuery::first(50), zone)
            .await?
            .items
    } else {
        Vec::new()
    };
    let today = faena_platform::ui::today(zone);
    let work = if page.can(perms::RECORDS_READ) {
        crate::plans::service::open_work(state, Some(&machine.code), today).await?
    } else {
        Vec::new()
    };
    let plans = if page.can(perms::PLANS_READ) {
        crate::plans::service::plans(state, Some(&machine.code)).await?
    } else {
        Vec::new()
    };
    let readings = crate::plans::service::readings(state, &machine.code).await?;
    let files = faena_platform::files::pages::panel(
        state,
        page,
        service::FILE_KIND,
        &machine.code,
        q.files_error,
    )
    .await?;
    render_page(
        state,
        "machines/detail.html",
        page,
        context! {
            machine => machine, history => history, ok => q.ok, work => work, plans => plans,
            readings => readings.into_iter().take(10).collect::<Vec<_>>(), errors => errors,
            can_write => page.can(perms::MACHINES_WRITE), can_delete => page.can(perms::MACHINES_DELETE),
            can_record => page.can(perms::RECORDS_WRITE), can_plan => page.can(perms::PLANS_WRITE),
            ..files
        },
    )
}

async fn edit_form(
    State(state): State<AppState>,
    page: PageContext,
    Path(code): Path<String>,
) -> AppResult<Html<String>> {
    let v = service::find(&state, &code).await?;
    form_page(&state, &page, echo_of(&v), Vec::new(), Some(&v.code)).await
}

async fn update(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(code): Path<String>,
    Form(form): Form<MachineForm>,
) -> AppResult<Response> {
    let result = match form.input() {
        Ok(input) => {
            service::update(
                &state,
                &actor,
                &code,
                IfMatch::version(form.version()),
                &input,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(v) => {
            Ok(Redirect::to(&format!("/machines/{}?ok=machine_saved", v.code)).into_response())
        }
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            Ok(unprocessable(
                form_page(&state, &page, form.echo(), errors, Some(&code)).await?,
            ))
        }
    }
}

fn delete_question(
    state: &AppState,
    page: &PageContext,
    machine: &MachineView,
    error: Option<String>,
) -> Confirmation {
    let t = |key: &str, params: &[(&str, String)]| state.i18n().t(page.locale, key, params);
    Confirmation {
        question: t(
            "machines.delete_confirm",
            &[
                ("code", machine.code.clone()),
                ("name", machine.name.clone()),
            ],
        ),
        detail: Some(t("confirm.irreversible", &[])),
        button: t("machines.delete", &[]),
        action: format!("/machines/{}/delete", machine.code),
        fields: Vec::new(),
        cancel: format!("/machines/{}", machine.code),
        error,
    }
}

async fn delete_form(
    State(state): State<AppState>,
    page: PageContext,
    Path(code): Path<String>,
) -> AppResult<Response> {
    let machine = service::find(&state, &code).await?;
    confirm_page(
        &state,
        &page,
        &delete_question(&state, &page, &machine, None),
    )
}

async fn delete(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(code): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> AppResult<Response> {
    let machine = service::find(&state, &code).await?;
    if !form.confirmed() {
        return confirm_page(
            &state,
            &page,
            &delete_question(&state, &page, &machine, None),
        );
    }
    match service::delete(&state, &actor, &code, IfMatch::ANY).await {
        Ok(()) => Ok(Redirect::to("/machines?ok=machine_deleted").into_response()),
        Err(e @ AppError::Conflict { .. }) => {
            let problem = e.to_problem();
            let message = state.i18n().t(
                page.locale,
                &format!("error.{}", problem.code),
                &problem.params,
            );
            confirm_page(
                &state,
                &page,
                &delete_question(&state, &page, &machine, Some(message)),
            )
        }
        Err(e) => Err(e),
    }
}

async fn import_form(State(state): State<AppState>, page: PageContext) -> AppResult<Html<String>> {
    render_page(
        &state,
        "machines/import.html",
        &page,
        context! { result => (), errors => Vec::<()>::new() },
    )
}

/// The import form as posted: the CSV file, and `mode` (`check` or
/// `import`).
async fn import(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> AppResult<Response> {
    let boundary = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| AppError::from(FieldError::new("file", "required")))?;
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    let (mut file, mut mode) = (None, String::from("check"));
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| AppError::from(FieldError::new("file", "invalid")))?
    {
        match field.name() {
            Some("file") => {
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|_| AppError::from(FieldError::new("file", "invalid")))?;
                if bytes.len() > 5 * 1024 * 1024 {
                    return Err(FieldError::new("file", "too_large")
                        .with("max", "5 MB")
                        .into());
                }
                file = Some(bytes);
            }
            Some("mode") => mode = field.text().await.unwrap_or_default(),
            _ => {}
        }
    }
    // The form again, with what is wrong with the file.
    let refused = |e: FieldError| -> AppResult<Response> {
        let errors = form_errors(&state, &page, e.into())?;
        Ok(unprocessable(render_page(
            &state,
            "machines/import.html",
            &page,
            context! { result => (), errors => errors },
        )?))
    };
    let Some(file) = file.filter(|f| !f.trim_ascii().is_empty()) else {
        return refused(FieldError::new("file", "required"));
    };
    let rows = match super::import::read(&file) {
        Ok(rows) => rows,
        Err(e) => return refused(e),
    };
    let result = super::import::import(&state, &actor, rows, mode != "import").await?;
    if result.imported > 0 {
        return Ok(Redirect::to(&format!(
            "/machines?ok=machines_imported&n={}",
            result.imported
        ))
        .into_response());
    }
    let html = render_page(
        &state,
        "machines/import.html",
        &page,
        context! { result => result, errors => Vec::<()>::new() },
    )?;
    Ok(if result.errors.is_empty() {
        html.into_response()
    } else {
        unprocessable(html)
    })
}
