//! `/service/stats`: the statistics as a page, charts drawn on the server
//! as SVG (the platform's bar charts, as maintenance's dashboard does).

use faena_platform::dashboard::Chart;
use faena_platform::prelude::*;

use super::{StatsQuery, cached};
use crate::perms;

pub fn pages() -> Pages {
    Pages::new().get("/service/stats", perms::ORDERS_ALL, page)
}

async fn page(
    State(state): State<AppState>,
    page: PageContext,
    Zone(zone): Zone,
    Query(q): Query<StatsQuery>,
) -> AppResult<Response> {
    let period = match q.period(zone) {
        Ok(p) => p,
        Err(err) => {
            let errors = form_errors(&state, &page, err)?;
            let html = render_page(
                &state,
                "service/stats.html",
                &page,
                context! { d => (), errors => errors, from => q.from, to => q.to, charts => Vec::<Chart>::new(), csv => () },
            )?;
            return Ok(unprocessable(html));
        }
    };
    let d = cached(&state, zone, period).await?;
    let t = |k: &str| state.i18n().t(page.locale, k, &[]);
    let by_status = Chart::bars(
        t("service.stats.by_status"),
        d.by_status
            .iter()
            .map(|(s, n)| {
                (
                    t(&format!("service.status.{s}")),
                    *n,
                    format!("/service-orders?status={s}"),
                )
            })
            .collect(),
    );
    let revenue = Chart::bars(
        t("service.stats.revenue"),
        d.revenue
            .iter()
            .map(|m| {
                (
                    m.month.clone(),
                    u64::try_from(m.total_clp).unwrap_or(0),
                    "/service-orders?status=delivered".to_owned(),
                )
            })
            .collect(),
    );
    let delivered = Chart::bars(
        t("service.stats.delivered_per_technician"),
        d.technicians
            .iter()
            .map(|x| {
                (
                    x.name.clone(),
                    x.delivered,
                    format!("/service-orders?technician_id={}", x.id),
                )
            })
            .collect(),
    );
    let csv = format!("/api/service/stats.csv?from={}&to={}", d.from, d.to);
    Ok(render_page(
        &state,
        "service/stats.html",
        &page,
        context! {
            d => d, errors => Vec::<serde_json::Value>::new(),
            from => d.from.to_string(), to => d.to.to_string(),
            charts => vec![by_status, revenue, delivered], csv => csv,
        },
    )?
    .into_response())
}
