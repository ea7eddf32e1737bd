//! The one CSV writer every export uses: a UTF-8 byte-order mark (so Excel
//! reads accents), `;` by default (what a spreadsheet in es-CL expects) or
//! `,`, CRLF line ends, RFC 4180 quoting, and cells that a spreadsheet
//! would run as formulas neutralised (OWASP "CSV injection").

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// How cells are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delimiter {
    #[default]
    Semicolon,
    Comma,
}

impl Delimiter {
    /// `comma` chooses `,`; anything else (or nothing) the default `;`.
    pub fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("comma") => Self::Comma,
            _ => Self::Semicolon,
        }
    }

    fn char(self) -> char {
        match self {
            Self::Semicolon => ';',
            Self::Comma => ',',
        }
    }
}

/// Builds a CSV document row by row.
pub struct CsvWriter {
    out: String,
    sep: char,
}

impl CsvWriter {
    pub fn new(delimiter: Delimiter) -> Self {
        Self {
            out: String::from("\u{feff}"),
            sep: delimiter.char(),
        }
    }

    /// Appends one row; every cell is treated as text from users.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.out.push(self.sep);
            }
            self.push_cell(cell.as_ref());
        }
        self.out.push_str("\r\n");
    }

    fn push_cell(&mut self, value: &str) {
        // A cell that starts like a formula gets a leading apostrophe, which
        // spreadsheets show as text and never evaluate.
        let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
        let quote = formula || value.contains([self.sep, '"', '\n', '\r']);
        if quote {
            self.out.push('"');
        }
        if formula {
            self.out.push('\'');
        }
        if quote {
            self.out.push_str(&value.replace('"', "\"\""));
            self.out.push('"');
        } else {
            self.out.push_str(value);
        }
    }

    pub fn finish(self) -> String {
        self.out
    }

    /// The document as a download named `filename` (ASCII, no quotes).
    pub fn into_download(self, filename: &str) -> Response {
        let disposition = format!("attachment; filename=\"{filename}\"");
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            self.out,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(cells: &[&str], d: Delimiter) -> String {
        let mut w = CsvWriter::new(d);
        w.row(cells);
        w.finish().trim_start_matches('\u{feff}').to_owned()
    }

    #[test]
    fn formulas_are_neutralised() {
        for cell in [
            "=HYPERLINK(\"http://x\")",
            "+56 9 1234",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            let line = one(&[cell], Delimiter::Semicolon);
            assert!(line.starts_with("\"'"), "{cell:?} became {line:?}");
        }
        assert_eq!(
            one(&["=1+1"], Delimiter::Semicolon),
            "\"'=1+1\"\r\n",
            "the apostrophe sits inside the quotes"
        );
    }

    #[test]
    fn ordinary_cells_stay_as_they_are_and_quote_when_needed() {
        assert_eq!(
            one(&["Pérez", "12", "a;b", "say \"hi\""], Delimiter::Semicolon),
            "Pérez;12;\"a;b\";\"say \"\"hi\"\"\"\r\n"
        );
        assert_eq!(one(&["a;b", "c,d"], Delimiter::Comma), "a;b,\"c,d\"\r\n");
        assert!(
            CsvWriter::new(Delimiter::Comma)
                .finish()
                .starts_with('\u{feff}')
        );
    }
}
