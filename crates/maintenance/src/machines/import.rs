//! Importing a machine list from a spreadsheet: an Excel workbook (XLSX,
//! XLS) or OpenDocument sheet, its first sheet; or a CSV (`;` or `,`,
//! UTF-8 with or without BOM, or Windows-1252 as Excel on Windows saves
//! it). A dry run names every bad row with its line and field; the import
//! writes every row or none.

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
    (
        "code",
        &["codigo", "code", "cod", "codigo equipo", "codigo interno"],
    ),
    ("name", &["nombre", "name", "equipo"]),
    ("kind", &["tipo", "kind"]),
    ("lab", &["laboratorio", "lab", "ubicacion", "location"]),
    ("brand", &["marca", "brand"]),
    ("model", &["modelo", "model"]),
    (
        "serial",
        &[
            "serie",
            "n de serie",
            "n serie",
            "no de serie",
            "nro de serie",
            "numero de serie",
            "serial",
            "serial number",
        ],
    ),
    ("status", &["estado", "status"]),
    ("criticality", &["criticidad", "criticality"]),
    (
        "acquired_on",
        &["adquisicion", "fecha de adquisicion", "acquired on"],
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

/// A sheet's rows, each with its line number as the spreadsheet shows it.
pub type Rows = Vec<(usize, Vec<String>)>;

/// The rows of an uploaded file: a workbook by its content (a zip for
/// XLSX and ODS, the OLE signature for XLS), else CSV text.
pub fn read(bytes: &[u8]) -> Result<Rows, faena_platform::FieldError> {
    const ZIP: &[u8] = b"PK\x03\x04";
    const OLE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if bytes.starts_with(ZIP) || bytes.starts_with(OLE) {
        return workbook(bytes);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        // Not UTF-8: Excel's "CSV (delimitado por comas)" on Windows.
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0,
    };
    let text = text.trim_start_matches('\u{feff}');
    let first = text.lines().next().unwrap_or_default();
    let delimiter = if first.matches(';').count() >= first.matches(',').count() {
        ';'
    } else {
        ','
    };
    Ok(records(text, delimiter)
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i + 1, r))
        .collect())
}

/// The first sheet of a workbook, each cell as its text: whole numbers
/// without decimals (a serial typed as a number), dates as `AAAA-MM-DD`.
fn workbook(bytes: &[u8]) -> Result<Rows, faena_platform::FieldError> {
    use calamine::{Data, Reader};
    let unreadable = || faena_platform::FieldError::new("file", "import_unreadable");
    let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|_| unreadable())?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(unreadable)?
        .map_err(|_| unreadable())?;
    let (top, _) = range.start().unwrap_or((0, 0));
    let cell = |d: &Data| match d {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.date().to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
            None => dt.as_f64().to_string(),
        },
        Data::Error(_) | Data::Empty => String::new(),
    };
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, row)| {
            let line = usize::try_from(top).unwrap_or(0) + i + 1;
            (line, row.iter().map(cell).collect())
        })
        .collect())
}

/// A header as people write it, for matching: folded (case, accents) and
/// without punctuation (`N.º de serie`, `N° serie`).
fn header_key(h: &str) -> String {
    let folded = text::fold(h);
    let kept: String = folded
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The columns of `header`, by name.
fn columns_of(header: &[String]) -> HashMap<&'static str, usize> {
    let mut columns = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        let h = header_key(h);
        if let Some((name, _)) = HEADERS
            .iter()
            .find(|(_, names)| names.contains(&h.as_str()))
        {
            columns.entry(*name).or_insert(i);
        }
    }
    columns
}

fn status_of(raw: &str, locale_words: &HashMap<String, &'static str>) -> Option<MachineStatus> {
    MachineStatus::parse(raw.trim()).or_else(|| {
        locale_words
            .get(&text::fold(raw))
            .and_then(|s| MachineStatus::parse(s))
    })
}

/// Reads, checks and (unless `dry_run`) writes the machines of `rows`
/// (see [`read`]). The header is the first row that names the code and
/// name columns (a sheet may have a title above it), or the first row.
pub async fn import(
    state: &AppState,
    actor: &Actor,
    rows: Rows,
    dry_run: bool,
) -> AppResult<ImportResult> {
    let header_at = rows
        .iter()
        .take(10)
        .position(|(_, r)| {
            let c = columns_of(r);
            c.contains_key("code") && c.contains_key("name")
        })
        .unwrap_or(0);
    let mut rows = rows.into_iter().skip(header_at);
    let (header_line, header) = rows.next().unwrap_or((1, Vec::new()));
    let t = |k: &str| state.i18n().t(Locale::Es, k, &[]);
    let columns = columns_of(&header);
    let mut errors = Vec::new();
    for required in ["code", "name"] {
        if !columns.contains_key(required) {
            errors.push(RowError {
                line: header_line,
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
    for (line, row) in rows {
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
