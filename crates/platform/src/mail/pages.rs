//! Admin pages of the outbox: `/admin/mail` (counts by state, search, a
//! test mail to check the transport) and `/admin/mail/{id}` (recipients,
//! bodies, last error, resend).

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;
use uuid::Uuid;

use super::api::{LIST, MailFilter, counts, find, list_page as fetch_page, resend, send_test};
use crate::auth::perms;
use crate::auth::principal::Actor;
use crate::auth::{Access, Pages};
use crate::error::AppResult;
use crate::http::Query;
use crate::state::AppState;
use crate::ui::list::ListRequest;
use crate::ui::{PageContext, render_page};
use crate::ui::{form_errors, unprocessable};

pub fn pages() -> Pages {
    Pages::new()
        .get("/admin/mail", Access::perm(perms::MAIL_READ), mail_list)
        .get(
            "/admin/mail/export.csv",
            Access::perm(perms::MAIL_READ),
            mail_export,
        )
        .post(
            "/admin/mail/test",
            Access::perm(perms::MAIL_MANAGE),
            mail_test,
        )
        .get(
            "/admin/mail/{id}",
            Access::perm(perms::MAIL_READ),
            mail_detail,
        )
        .post(
            "/admin/mail/{id}/resend",
            Access::perm(perms::MAIL_MANAGE),
            mail_resend,
        )
}

async fn list_page(
    state: &AppState,
    page: &PageContext,
    filter: &MailFilter,
    request: &mut ListRequest,
    test_to: &str,
    errors: Vec<serde_json::Value>,
    ok: Option<String>,
) -> AppResult<Html<String>> {
    let (mails, total) = fetch_page(state, filter, request).await?;
    let counts: Vec<_> = counts(state.db())
        .await?
        .into_iter()
        .map(|(s, n)| context! { state => s.as_str(), count => n })
        .collect();
    render_page(
        state,
        "admin/mail.html",
        page,
        context! {
            mails => mails,
            list => request.view(total),
            counts => counts,
            transport => state.mailer().transport_name(),
            can_manage => page.can(perms::MAIL_MANAGE),
            filter => context! { state => filter.state, q => filter.q },
            test_to => test_to,
            errors => errors,
            ok => ok,
        },
    )
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
    q: Option<String>,
    ok: Option<String>,
}

/// The outbox as CSV, with the page's filters and order.
async fn mail_export(
    State(state): State<AppState>,
    page: PageContext,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    use crate::csv::{CsvWriter, Delimiter};
    let request = ListRequest::parse(&LIST, raw.as_deref())?;
    let filter = MailFilter {
        state: q.state,
        q: q.q,
        ..MailFilter::default()
    };
    let mails = crate::ui::list::all_rows(&request, |mut p| {
        let (state, filter) = (&state, &filter);
        async move { fetch_page(state, filter, &mut p).await }
    })
    .await?;
    let t = |k: &str| state.i18n().t(page.locale, k, &[]);
    let zone = state.zone_for(page.principal.as_ref());
    let at = |d: chrono::DateTime<chrono::Utc>| crate::ui::csv_time(d, zone);
    let mut out = CsvWriter::new(Delimiter::Semicolon);
    out.row(
        [
            "mail.subject",
            "mail.to",
            "mail.state",
            "mail.attempts",
            "mail.created_at",
            "mail.sent_at",
            "mail.last_error",
        ]
        .iter()
        .map(|k| t(k)),
    );
    for m in mails {
        out.row([
            m.subject,
            m.to.join(", "),
            t(&format!("mail_state.{}", m.state.as_str())),
            m.attempts.to_string(),
            at(m.created_at),
            m.sent_at.map(at).unwrap_or_default(),
            m.last_error.unwrap_or_default(),
        ]);
    }
    Ok(out.into_download("correos.csv"))
}

async fn mail_list(
    State(state): State<AppState>,
    page: PageContext,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    Query(q): Query<ListQuery>,
) -> AppResult<Html<String>> {
    let mut request = ListRequest::parse(&LIST, raw.as_deref())?;
    let filter = MailFilter {
        state: q.state,
        q: q.q,
        ..MailFilter::default()
    };
    let me = page.user.clone().unwrap_or_default();
    list_page(&state, &page, &filter, &mut request, &me, Vec::new(), q.ok).await
}

#[derive(Debug, Deserialize)]
struct TestForm {
    to: String,
}

async fn mail_test(
    State(state): State<AppState>,
    page: PageContext,
    actor: Actor,
    Form(form): Form<TestForm>,
) -> AppResult<Response> {
    match send_test(&state, &actor, &form.to, page.locale).await {
        Ok(mail) => Ok(
            Redirect::to(&format!("/admin/mail/{}?ok=mail_test_queued", mail.id)).into_response(),
        ),
        Err(e) => {
            let errors = form_errors(&state, &page, e)?;
            let html = list_page(
                &state,
                &page,
                &MailFilter::default(),
                &mut ListRequest::parse(&LIST, None)?,
                &form.to,
                errors,
                None,
            )
            .await?;
            Ok(unprocessable(html))
        }
    }
}

#[derive(Debug, Deserialize)]
struct DetailQuery {
    ok: Option<String>,
}

async fn mail_detail(
    State(state): State<AppState>,
    page: PageContext,
    Path(id): Path<Uuid>,
    Query(q): Query<DetailQuery>,
) -> AppResult<Html<String>> {
    let mail = find(&state, id).await?;
    let can_manage = page.can(perms::MAIL_MANAGE);
    render_page(
        &state,
        "admin/mail_detail.html",
        &page,
        context! { mail => mail, can_manage => can_manage, ok => q.ok },
    )
}

async fn mail_resend(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> AppResult<Redirect> {
    let mail = resend(&state, &actor, id).await?;
    Ok(Redirect::to(&format!(
        "/admin/mail/{}?ok=mail_resent",
        mail.id
    )))
}
