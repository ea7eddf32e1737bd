//! Client pages: list with search and order counts, create, detail, edit
//! and delete with confirmation. They call the same service as the API.

use faena_platform::prelude::*;

use super::ClientInput;
use super::api::{ClientFilter, LIST, list_page};
use super::service::{self, Change};
use crate::perms;

pub fn pages() -> Pages {
    Pages::new()
        .get("/clients", perms::CLIENTS_READ, list)
        .get("/clients/new", perms::CLIENTS_WRITE, new_form)
        .post("/clients", perms::CLIENTS_WRITE, create)
        .get("/clients/{id}", perms::CLIENTS_READ, detail)
        .get("/clients/{id}/edit", perms::CLIENTS_WRITE, edit_form)
        .post("/clients/{id}", perms::CLIENTS_WRITE, update)
        .get("/clients/{id}/delete", perms::CLIENTS_DELETE, delete_form)
        .post("/clients/{id}/delete", perms::CLIENTS_DELETE, delete)
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    q: Option<String>,
    ok: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    page: PageContext,
    RawQuery(raw): RawQuery,
    Query(q): Query<ListQuery>,
) -> AppResult<Html<String>> {
    let mut request = ListRequest::parse(&LIST, raw.as_deref())?;
    let filter = ClientFilter {
        q: q.q.clone(),
        ..ClientFilter::default()
    };
    let (clients, total) = list_page(&state, &filter, &mut request).await?;
    render_page(
        &state,
        "clients/list.html",
        &page,
        context! {
            clients => clients, list => request.view(total), q => q.q.unwrap_or_default(), ok => q.ok,
            can_write => page.can(perms::CLIENTS_WRITE),
        },
    )
}

fn form_page(
    state: &AppState,
    page: &PageContext,
    form: &ClientInput,
    errors: Vec<serde_json::Value>,
    id: Option<(Uuid, i32)>,
) -> AppResult<Html<String>> {
    let form = serde_json::json!({
        "name": form.name, "email": form.email, "phone": form.phone, "address": form.address,
        "comuna": form.comuna, "city": form.city, "tax_country": form.tax_country.clone().unwrap_or_else(|| "CL".into()),
        "tax_id": form.tax_id, "notes": form.notes,
    });
    render_page(
        state,
        "clients/form.html",
        page,
        context! {
            form => form, errors => errors, client_id => id.map(|i| i.0), version => id.map(|i| i.1),
        },
    )
}

async fn new_form(State(state): State<AppState>, page: PageContext) -> AppResult<Html<String>> {
    form_page(&state, &page, &ClientInput::default(), Vec::new(), None)
}

#[derive(Debug, Deserialize)]
struct ClientForm {
    name: String,
    email: String,
    phone: Option<String>,
    address: Option<String>,
    comuna: Option<String>,
    city: Option<String>,
    tax_country: Option<String>,
    tax_id: Option<String>,
    notes: Option<String>,
    version: Option<i32>,
}

impl ClientForm {
    fn input(&self) -> ClientInput {
        ClientInput {
            name: self.name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
            comuna: self.comuna.clone(),
            city: self.city.clone(),
            tax_country: self.tax_country.clone(),
            tax_id: self.tax_id.clone(),
            notes: self.notes.clone(),
        }
    }
}

async fn create(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Form(form): Form<ClientForm>,
) -> AppResult<Response> {
    match service::create(&state, &actor, &form.input()).await {
        Ok(v) => Ok(Redirect::to(&format!("/clients/{}?ok=client_created", v.id)).into_response()),
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            Ok(unprocessable(form_page(
                &state,
                &page,
                &form.input(),
                errors,
                None,
            )?))
        }
    }
}

async fn detail(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(id): Path<Uuid>,
    Query(q): Query<DetailQuery>,
) -> AppResult<Html<String>> {
    let client = service::find(&state, &actor, id).await?;
    // Each kind of record that refers to the client, linked for those who
    // may read it.
    let references: Vec<serde_json::Value> = state
        .references()
        .of(state.db(), "client", id)
        .await?
        .into_iter()
        .map(|r| {
            let link = page.can(r.permission).then_some(r.link);
            serde_json::json!({"label": r.label, "count": r.count, "link": link})
        })
        .collect();
    let files = faena_platform::files::pages::panel(
        &state,
        &page,
        crate::CLIENT_FILES,
        &id.to_string(),
        q.files_error,
    )
    .await?;
    render_page(
        &state,
        "clients/detail.html",
        &page,
        context! {
            client => client, ok => q.ok,
            can_write => page.can(perms::CLIENTS_WRITE), can_delete => page.can(perms::CLIENTS_DELETE),
            references => references,
            ..files
        },
    )
}

async fn edit_form(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Html<String>> {
    let v = service::find(&state, &actor, id).await?;
    let input = ClientInput {
        name: v.name,
        email: v.email,
        phone: v.phone,
        address: v.address,
        comuna: v.comuna,
        city: v.city,
        tax_country: v.tax_country,
        tax_id: v.tax_id,
        notes: v.notes,
    };
    form_page(&state, &page, &input, Vec::new(), Some((id, v.version)))
}

async fn update(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(id): Path<Uuid>,
    Form(form): Form<ClientForm>,
) -> AppResult<Response> {
    match service::update(
        &state,
        &actor,
        id,
        IfMatch::version(form.version),
        Change::Replace(form.input()),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/clients/{id}?ok=client_saved")).into_response()),
        Err(AppError::PreconditionFailed) => {
            let errors = vec![
                serde_json::json!({"field": "version", "message": state.i18n().t(page.locale, "error.precondition_failed", &[])}),
            ];
            Ok(unprocessable(form_page(
                &state,
                &page,
                &form.input(),
                errors,
                Some((id, form.version.unwrap_or(0))),
            )?))
        }
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            Ok(unprocessable(form_page(
                &state,
                &page,
                &form.input(),
                errors,
                Some((id, form.version.unwrap_or(0))),
            )?))
        }
    }
}

/// The question before a client is deleted (also what the delete button
/// leads to without JavaScript).
fn delete_question(
    state: &AppState,
    page: &PageContext,
    client: &super::service::ClientView,
    error: Option<String>,
) -> Confirmation {
    let t = |key: &str, params: &[(&str, String)]| state.i18n().t(page.locale, key, params);
    Confirmation {
        question: t("clients.delete_confirm", &[("name", client.name.clone())]),
        detail: None,
        button: t("clients.delete", &[]),
        action: format!("/clients/{}/delete", client.id),
        fields: Vec::new(),
        cancel: format!("/clients/{}", client.id),
        error,
    }
}

async fn delete_form(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let client = service::find(&state, &actor, id).await?;
    confirm_page(
        &state,
        &page,
        &delete_question(&state, &page, &client, None),
    )
}

async fn delete(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Path(id): Path<Uuid>,
    Form(form): Form<ConfirmForm>,
) -> AppResult<Response> {
    if !form.confirmed() {
        let client = service::find(&state, &actor, id).await?;
        return confirm_page(
            &state,
            &page,
            &delete_question(&state, &page, &client, None),
        );
    }
    match service::delete(&state, &actor, id, IfMatch::ANY).await {
        Ok(()) => Ok(Redirect::to("/clients?ok=client_deleted").into_response()),
        Err(e @ AppError::Conflict { .. }) => {
            let problem = e.to_problem();
            let message = state.i18n().t(
                page.locale,
                &format!("error.{}", problem.code),
                &problem.params,
            );
            let client = service::find(&state, &actor, id).await?;
            confirm_page(
                &state,
                &page,
                &delete_question(&state, &page, &client, Some(message)),
            )
        }
        Err(e) => Err(e),
    }
}
