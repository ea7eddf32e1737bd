//! Text as people search and sort it: case and accents do not matter
//! ("perez" finds "Pérez", "gonzalez" finds "González"), and names sort in
//! Spanish order ("Álvarez" with the A's, "Ñuñoa" after the N's).
//!
//! Modules store a folded copy of what is searchable (`search_text`) and
//! of what a list sorts by (`sort_key`), computed here, so both databases
//! compare the same bytes the same way and no database extension
//! (`unaccent`, ICU collations) is needed (decision 0025).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lower case without accents: `"Tomás Núñez"` → `"tomas nunez"`.
/// Whitespace runs become one space; the result is trimmed.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        // ß, æ, ø and friends have no decomposition; people type them as
        // their ASCII look-alikes.
        match c {
            'ß' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'ø' | 'Ø' => out.push('o'),
            'đ' | 'Đ' => out.push('d'),
            'ł' | 'Ł' => out.push('l'),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// The words of a search, folded: every one must be found.
pub fn terms(query: &str) -> Vec<String> {
    fold(query)
        .split(' ')
        .filter(|w| !w.is_empty())
        .take(8)
        .map(str::to_owned)
        .collect()
}

/// One folded text holding every searchable part of a record, separated
/// so that a term never matches across two parts.
pub fn search_text<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for part in parts {
        let folded = fold(part);
        if folded.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str(" | ");
        }
        out.push_str(&folded);
    }
    out
}

/// A key that sorts names in Spanish order when compared byte by byte:
/// accents and case are ignored and ñ sorts after n (`n~`, `~` being the
/// last printable ASCII). Columns holding it compare bytes (`COLLATE "C"`
/// on PostgreSQL, SQLite's default). Ties keep the caller's secondary
/// order.
pub fn sort_key(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfc() {
        match c {
            'ñ' | 'Ñ' => out.push_str("n~"),
            _ => {
                for d in c.to_string().nfd().filter(|d| !is_combining_mark(*d)) {
                    if d.is_alphanumeric() {
                        out.extend(d.to_lowercase());
                    } else if d.is_whitespace() && !out.ends_with(' ') && !out.is_empty() {
                        out.push(' ');
                    }
                }
            }
        }
    }
    out.trim_end().to_owned()
}

/// The digits of `text`, for identifiers typed with any separators
/// (phones, RUTs): `"+56 9 8765-4321"` → `"56987654321"`.
pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// `%term%` for SQL `LIKE`, with the pattern characters of the term
/// escaped (the statement says `ESCAPE '\'`).
pub fn like_pattern(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    out.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `s` on one line: its lines trimmed and joined by spaces, blank ones
/// left out (a mail subject, whose header must not break).
pub fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_forgets_case_accents_and_spacing() {
        assert_eq!(fold("  Tomás   Torres González "), "tomas torres gonzalez");
        assert_eq!(fold("PÉREZ"), fold("perez"));
        assert_eq!(fold("Ñuñoa"), "nunoa");
        assert_eq!(fold("Straße Ærø"), "strasse aero");
        assert_eq!(terms("  José  PÉREZ "), ["jose", "perez"]);
        assert_eq!(search_text(["Ana Pérez", "", "Ñuñoa"]), "ana perez | nunoa");
    }

    #[test]
    fn names_sort_in_spanish_order() {
        let mut names = vec![
            "Zapata",
            "Ñuñoa Ltda",
            "álvarez",
            "Nuñez",
            "Alvear",
            "Ávila",
            "Nueva",
        ];
        names.sort_by_key(|n| sort_key(n));
        assert_eq!(
            names,
            [
                "álvarez",
                "Alvear",
                "Ávila",
                "Nueva",
                "Nuñez",
                "Ñuñoa Ltda",
                "Zapata"
            ]
        );
        // ñ between n and o.
        assert!(sort_key("Nunca") < sort_key("Nuñez") && sort_key("Nuñez") < sort_key("Nuo"));
        assert!(sort_key("ñandú") > sort_key("nzz") && sort_key("ñandú") < sort_key("o"));
        assert!(sort_key("Ana María").is_ascii());
    }

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_pattern("50%_off"), "%50\\%\\_off%");
        assert_eq!(digits("+56 9 8765-4321"), "56987654321");
    }
}
