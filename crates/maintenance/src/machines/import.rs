//! Importing a machine list from a spreadsheet saved as CSV (`;` or `,`,
//! UTF-8 with or without BOM): a dry run names every bad row with its line
//! and field; the import writes every row or none.

use std::collections::HashMap;

use faena_platform::audit::{self, Entry};
use faena_platform::auth::Actor;
use faena_platform::{AppError, AppResult, AppState, FieldErrors, Locale, text};
use serde::Serialize;
use utoipa::ToSchema;

use super::service::insert;
use super::{Criticality, MachineInput, MachineStatus};

/// Rows one import takes.
pub const MAX_ROWS: usize = 10_000;

/// The columns, by the headers people write (Spanish or English, any case
/// and accents).
const HEADERS: &[(&str, &[&str])] = &[
    ("code", &["codigo", "code", "cod"]),
    ("name", &["nombre", "name", "equipo"]),
    ("kind", &["tipo", "kind"]),
    ("lab", &["laboratorio", "lab", "ubicacion", "location"]),
    ("brand", &["marca", "brand"]),
    ("model", &["modelo", "model"]),
    (
        "serial",
        &["serie", "n de serie", "numero de serie", "serial"],
    ),
    ("status", &["estado", "status"]),
    ("criticality", &["criticidad", "criticality"]),
    (
        "acquired_on",
        &[
            "adquisicion",
            "fecha de adquisicion",
            "acquired on",
            "acquired_on",
        ],
    ),
    ("notes", &["notas", "notes", "observaciones"]),
];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    /// The line in the file (the header is line 1).
    pub line: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportResult {
    /// Data rows read.
    pub rows: usize,
    /// Rows written (0 on a dry run or when any row is bad).
    pub imported: usize,
    pub dry_run: bool,
    pub errors: Vec<RowError>,
}

/// The records of a CSV text: fields split on `delimiter`, quotes as
/// RFC 4180 has them.
fn records(text: &str, delimiter: char) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            c if c == delimiter => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn status_of(raw: &str, locale_words: &HashMap<String, &'static str>) -> Option<MachineStatus> {
    MachineStatus::parse(raw.trim()).or_else(|| {
        locale_words
            .get(&text::fold(raw))
            .and_then(|s| MachineStatus::parse(s))
    })
}

/// Reads, checks and (unless `dry_run`) writes the machines of `csv`.
pub async fn import(
    state: &AppState,
    actor: &Actor,
    csv: &str,
    dry_run: bool,
) -> AppResult<ImportResult> {
    let csv = csv.trim_start_matches('\u{feff}');
    let first = csv.lines().next().unwrap_or_default();
    let delimiter = if first.matches(';').count() >= first.matches(',').count() {
        ';'
    } else {
        ','
    };
    let mut rows = records(csv, delimiter).into_iter();
    let header = rows.next().unwrap_or_default();
    let t = |k: &str| state.i18n().t(Locale::Es, k, &[]);
    let mut columns: HashMap<&'static str, usize> = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        let h = text::fold(h);
        if let Some((name, _)) = HEADERS
            .iter()
            .find(|(_, names)| names.contains(&h.as_str()))
        {
            columns.entry(name).or_insert(i);
        }
    }
    let mut errors = Vec::new();
    for required in ["code", "name"] {
        if !columns.contains_key(required) {
            errors.push(RowError {
                line: 1,
                field: required.to_owned(),
                message: state.i18n().t(
                    Locale::Es,
                    "validation.import_column_missing",
                    &[("column", t(&format!("field.{required}")))],
                ),
            });
        }
    }
    if !errors.is_empty() {
        return Ok(ImportResult {
            rows: 0,
            imported: 0,
            dry_run,
            errors,
        });
    }
    // The catalogue's words for each status and criticality ("Operativa").
    let mut words: HashMap<String, &'static str> = HashMap::new();
    let mut crit_words: HashMap<String, &'static str> = HashMap::new();
    for locale in [Locale::Es, Locale::En] {
        for s in MachineStatus::ALL {
            words.insert(
                text::fold(
                    &state
                        .i18n()
                        .t(locale, &format!("machine_status.{}", s.as_str()), &[]),
                ),
                s.as_str(),
            );
        }
        for c in Criticality::ALL {
            crit_words.insert(
                text::fold(
                    &state
                        .i18n()
                        .t(locale, &format!("criticality.{}", c.as_str()), &[]),
                ),
                c.as_str(),
            );
        }
    }
    let mut checked = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut count = 0;
    for (i, row) in rows.enumerate() {
        let line = i + 2;
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        count += 1;
        if count > MAX_ROWS {
            errors.push(RowError {
                line,
                field: "rows".into(),
                message: state.i18n().t(
                    Locale::Es,
                    "validation.import_too_many",
                    &[("max", MAX_ROWS.to_string())],
                ),
            });
            break;
        }
        let cell = |name: &str| {
            columns
                .get(name)
                .and_then(|&i| row.get(i))
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let mut row_errors = FieldErrors::new();
        let status = match cell("status") {
            Some(s) => match status_of(&s, &words) {
                Some(st) => Some(st),
                None => {
                    row_errors.push(faena_platform::FieldError::new("status", "invalid"));
                    None
                }
            },
            None => None,
        };
        let criticality = match cell("criticality") {
            Some(c) => match Criticality::parse(&c).or_else(|| {
                crit_words
                    .get(&text::fold(&c))
                    .and_then(|c| Criticality::parse(c))
            }) {
                Some(c) => Some(c),
                None => {
                    row_errors.push(faena_platform::FieldError::new("criticality", "invalid"));
                    None
                }
            },
            None => None,
        };
        let acquired_on = match cell("acquired_on") {
            Some(d) => {
                let parsed = chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .or_else(|_| chrono::NaiveDate::parse_from_str(&d, "%d-%m-%Y"))
                    .or_else(|_| chrono::NaiveDate::parse_from_str(&d, "%d/%m/%Y"));
                match parsed {
                    Ok(d) => Some(d),
                    Err(_) => {
                        row_errors.push(faena_platform::FieldError::new(
                            "acquired_on",
                            "invalid_date",
                        ));
                        None
                    }
                }
            }
            None => None,
        };
        let input = MachineInput {
            code: cell("code").unwrap_or_default(),
            name: cell("name").unwrap_or_default(),
            kind: cell("kind"),
            lab: cell("lab"),
            brand: cell("brand"),
            model: cell("model"),
            serial: cell("serial"),
            status,
            acquired_on,
            criticality,
            notes: cell("notes"),
            ..MachineInput::default()
        };
        let machine = input.check(&mut row_errors);
        if let Some(m) = &machine {
            if let Some(first) = seen.insert(m.code.key(), line) {
                row_errors.push(
                    faena_platform::FieldError::new("code", "import_duplicate_code")
                        .with("line", first),
                );
            } else if super::store::find_by_code(state.db(), m.code.as_str())
                .await?
                .is_some()
            {
                row_errors.push(
                    faena_platform::FieldError::new("code", "import_code_taken")
                        .with("value", m.code.as_str().to_owned()),
                );
            }
        }
        if row_errors.0.is_empty() {
            if let Some(m) = machine {
                checked.push(m);
            }
        } else {
            for e in row_errors.0 {
                let label = state
                    .i18n()
                    .t_or(Locale::Es, &format!("field.{}", e.field), &e.field);
                let mut params = e.params.clone();
                params.push(("field", label));
                errors.push(RowError {
                    line,
                    message: state
                        .i18n()
                        .t(Locale::Es, &format!("validation.{}", e.code), &params),
                    field: e.field,
                });
            }
        }
    }
    let mut result = ImportResult {
        rows: count.min(MAX_ROWS),
        imported: 0,
        dry_run,
        errors,
    };
    if dry_run || !result.errors.is_empty() {
        return Ok(result);
    }
    let txn = state.begin_write().await?;
    for m in &checked {
        insert(&txn, m).await.map_err(|e| match e {
            AppError::Conflict { .. } => AppError::Conflict {
                code: "duplicate_machine_code",
                field: Some("code".into()),
                params: vec![],
            },
            other => other,
        })?;
    }
    audit::record(
        &txn,
        actor,
        Entry::new("import", "machine", None).after(serde_json::json!({"machines": checked.len()})),
    )
    .await?;
    txn.commit().await?;
    result.imported = checked.len();
    if let Err(e) = state.realtime().publish(
        super::service::TOPIC,
        "machine.imported",
        serde_json::json!({"count": checked.len()}),
    ) {
        tracing::error!(error = %e, "import event not published");
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_their_delimiters_and_quotes() {
        let rows = records("a;\"b;c\";\"d \"\"e\"\"\"\r\n1;2;3\n", ';');
        assert_eq!(rows, vec![vec!["a", "b;c", "d \"e\""], vec!["1", "2", "3"]]);
    }
}
