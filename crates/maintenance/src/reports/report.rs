//! The maintenance report (seed 002's "informe"): work, cost and downtime
//! over a period, in total and by kind, lab and machine, as JSON, CSV or
//! PDF.

use std::collections::BTreeMap;

use chrono::Utc;
use faena_platform::csv::{CsvWriter, Delimiter};
use faena_platform::{AppResult, AppState, Locale};
use serde::Serialize;
use utoipa::ToSchema;

use crate::records::RecordKind;
use crate::records::service::RecordFilter;
use crate::records::store as records;

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Totals {
    pub records: u64,
    /// Labour, other costs and parts, pesos (CLP).
    pub cost_clp: i64,
    /// Minutes the work took (the machine was down).
    pub downtime_minutes: i64,
}

impl Totals {
    fn of(s: &records::Sums) -> Self {
        Self {
            records: u64::try_from(s.records).unwrap_or(0),
            cost_clp: s.cost.unwrap_or(0),
            downtime_minutes: s.minutes.unwrap_or(0),
        }
    }

    fn merge(&mut self, other: &Totals) {
        self.records += other.records;
        self.cost_clp = self.cost_clp.saturating_add(other.cost_clp);
        self.downtime_minutes = self.downtime_minutes.saturating_add(other.downtime_minutes);
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Group {
    /// The kind (`preventive`), the lab's name, or the machine's code.
    pub key: String,
    /// The machine's name, for machine groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    pub from: Option<String>,
    pub to: Option<String>,
    pub totals: Totals,
    pub by_kind: Vec<Group>,
    pub by_lab: Vec<Group>,
    pub by_machine: Vec<Group>,
}

/// The report of the records matching `f`.
pub async fn build(state: &AppState, f: &RecordFilter, zone: chrono_tz::Tz) -> AppResult<Report> {
    let mut report = Report {
        from: f.from.clone(),
        to: f.to.clone(),
        totals: Totals::default(),
        by_kind: Vec::new(),
        by_lab: Vec::new(),
        by_machine: Vec::new(),
    };
    let Some(filter) = f.parse(state, zone).await? else {
        return Ok(report);
    };
    let lines = records::sums_by_kind_and_machine(state.db(), &filter).await?;
    let mut kinds: BTreeMap<String, Totals> = BTreeMap::new();
    let mut labs: BTreeMap<String, Totals> = BTreeMap::new();
    let mut by_machine: BTreeMap<String, (String, Totals)> = BTreeMap::new();
    let no_lab = state.i18n().t(Locale::Es, "report.no_lab", &[]);
    for l in lines {
        let t = Totals::of(&l.sums);
        report.totals.merge(&t);
        kinds.entry(l.kind).or_default().merge(&t);
        labs.entry(l.lab.unwrap_or_else(|| no_lab.clone()))
            .or_default()
            .merge(&t);
        by_machine
            .entry(l.code)
            .or_insert_with(|| (l.name, Totals::default()))
            .1
            .merge(&t);
    }
    report.by_kind = RecordKind::ALL
        .iter()
        .filter_map(|k| {
            kinds.remove(k.as_str()).map(|t| Group {
                key: k.as_str().to_owned(),
                name: None,
                totals: t,
            })
        })
        .collect();
    report.by_lab = labs
        .into_iter()
        .map(|(key, totals)| Group {
            key,
            name: None,
            totals,
        })
        .collect();
    report.by_machine = by_machine
        .into_iter()
        .map(|(key, (name, totals))| Group {
            key,
            name: Some(name),
            totals,
        })
        .collect();
    Ok(report)
}

fn kind_label(state: &AppState, locale: Locale, g: &Group) -> String {
    state
        .i18n()
        .t_or(locale, &format!("record_kind.{}", g.key), &g.key)
}

/// The report as CSV: one row a figure, by section.
pub fn csv(
    state: &AppState,
    locale: Locale,
    report: &Report,
    delimiter: Option<&str>,
) -> axum::response::Response {
    let t = |k: &str| state.i18n().t(locale, k, &[]);
    let mut out = CsvWriter::new(Delimiter::from_query(delimiter));
    out.row([
        t("report.section"),
        t("report.key"),
        t("field.name"),
        t("report.records"),
        t("report.cost"),
        t("report.downtime"),
    ]);
    let line = |out: &mut CsvWriter, section: &str, key: String, name: String, totals: &Totals| {
        out.row([
            section.to_owned(),
            key,
            name,
            totals.records.to_string(),
            totals.cost_clp.to_string(),
            totals.downtime_minutes.to_string(),
        ]);
    };
    line(
        &mut out,
        &t("report.total"),
        String::new(),
        String::new(),
        &report.totals,
    );
    for g in &report.by_kind {
        line(
            &mut out,
            &t("report.by_kind"),
            kind_label(state, locale, g),
            String::new(),
            &g.totals,
        );
    }
    for g in &report.by_lab {
        line(
            &mut out,
            &t("report.by_lab"),
            g.key.clone(),
            String::new(),
            &g.totals,
        );
    }
    for g in &report.by_machine {
        line(
            &mut out,
            &t("report.by_machine"),
            g.key.clone(),
            g.name.clone().unwrap_or_default(),
            &g.totals,
        );
    }
    out.into_download("informe-mantenciones.csv")
}

/// The report as a PDF: the period, the totals and one table a grouping.
pub fn pdf(state: &AppState, locale: Locale, zone: chrono_tz::Tz, report: &Report) -> Vec<u8> {
    use faena_pdf::{Column, Document, Flow, Font, Footer, Margins, PageSize, Table};
    let t = |k: &str| state.i18n().t(locale, k, &[]);
    let clp = |n: i64| format!("${}", faena_platform::ui::shell::thousands(n));
    let title = t("report.title");
    let mut doc = Document::new();
    doc.set_title(&title)
        .set_creation_date(&Utc::now().with_timezone(&zone));
    {
        let mut flow = Flow::new(&mut doc, PageSize::A4, Margins::default());
        flow.title(&title, 16.0);
        let period = state.i18n().t(
            locale,
            "report.period",
            &[
                ("from", report.from.clone().unwrap_or_else(|| "—".into())),
                ("to", report.to.clone().unwrap_or_else(|| "—".into())),
            ],
        );
        flow.paragraph(&period, Font::Helvetica, 10.0);
        flow.paragraph(
            &state.i18n().t(
                locale,
                "report.summary",
                &[
                    ("count", report.totals.records.to_string()),
                    ("cost", clp(report.totals.cost_clp)),
                    ("minutes", report.totals.downtime_minutes.to_string()),
                ],
            ),
            Font::HelveticaBold,
            11.0,
        );
        let section = |flow: &mut Flow<'_>,
                       heading: &str,
                       groups: &[Group],
                       label: &dyn Fn(&Group) -> String| {
            flow.advance(8.0);
            flow.title(heading, 12.0);
            let mut table = Table::new(vec![
                Column::new(heading, 250.0),
                Column::new(&t("report.records"), 70.0).right(),
                Column::new(&t("report.cost"), 100.0).right(),
                Column::new(&t("report.downtime"), 90.0).right(),
            ]);
            for g in groups {
                table.push_row([
                    label(g),
                    g.totals.records.to_string(),
                    clp(g.totals.cost_clp),
                    g.totals.downtime_minutes.to_string(),
                ]);
            }
            flow.table(&table);
        };
        section(&mut flow, &t("report.by_kind"), &report.by_kind, &|g| {
            kind_label(state, locale, g)
        });
        section(&mut flow, &t("report.by_lab"), &report.by_lab, &|g| {
            g.key.clone()
        });
        section(
            &mut flow,
            &t("report.by_machine"),
            &report.by_machine,
            &|g| format!("{} {}", g.key, g.name.clone().unwrap_or_default()),
        );
    }
    doc.number_pages(&Footer::new(&state.i18n().t(
        locale,
        "pdf.page_of",
        &[("page", "{page}".into()), ("pages", "{pages}".into())],
    )));
    doc.to_bytes()
}
