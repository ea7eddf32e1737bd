//! Control characters (NUL and the other C0 codes but tab, line feed and
//! carriage return, and DEL) are refused at the door, the same on every
//! database: no field needs them, PostgreSQL rejects NUL in text, and they
//! hide in logs and spreadsheets. Path, query string and form bodies are
//! checked here, before routing (400 naming the parameter); JSON bodies in
//! `Json` (422 naming the field).

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Whether `c` is a control character that no field accepts.
pub fn is_refused(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}'
}

pub fn has_refused(text: &str) -> bool {
    text.chars().any(is_refused)
}

fn refused(field: &str) -> Response {
    AppError::BadRequest {
        code: "control_character",
        params: vec![("field", field.to_owned())],
    }
    .into_response()
}

/// The first query or form pair holding a refused character, by name.
fn first_refused(encoded: &[u8]) -> Option<String> {
    form_urlencoded::parse(encoded)
        .find(|(k, v)| has_refused(k) || has_refused(v))
        .map(|(k, _)| k.chars().filter(|c| !is_refused(*c)).collect())
}

/// The layer: refuses a request whose path, query string or form body
/// carries a control character.
pub async fn refuse_control_characters(
    axum::extract::State(body_limit): axum::extract::State<usize>,
    req: Request,
    next: Next,
) -> Response {
    let path = percent_decoded(req.uri().path());
    if has_refused(&path) {
        return refused("path");
    }
    if let Some(name) = req.uri().query().and_then(|q| first_refused(q.as_bytes())) {
        return refused(&name);
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, body_limit).await else {
        return AppError::PayloadTooLarge.into_response();
    };
    if let Some(name) = first_refused(&bytes) {
        return refused(&name);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn percent_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// In a JSON body: the path of the first string (or key) that holds a
/// refused character, if any. Such characters can only arrive escaped
/// (`\u0000`), so bodies without a `\u00` sequence are not walked.
pub fn refused_in_json(bytes: &[u8]) -> Option<String> {
    if !bytes.windows(4).any(|w| w == b"\\u00") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    find(&value, String::new())
}

fn find(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) if has_refused(s) => Some(if path.is_empty() {
            "body".to_owned()
        } else {
            path
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if has_refused(k) {
                Some(join(
                    &k.chars().filter(|c| !is_refused(*c)).collect::<String>(),
                ))
            } else {
                find(v, join(k))
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_with_their_field() {
        assert!(is_refused('\0') && is_refused('\u{1b}') && is_refused('\u{7f}'));
        assert!(!is_refused('\n') && !is_refused('\t') && !is_refused('ñ'));
        assert_eq!(refused_in_json(br#"{"name":"ok\n"}"#), None);
        assert_eq!(
            refused_in_json(br#"{"name":"a\u0000b"}"#).as_deref(),
            Some("name")
        );
        assert_eq!(
            refused_in_json(br#"{"lines":[{"sku":"x"},{"sku":"\u001b[31m"}]}"#).as_deref(),
            Some("lines[1].sku")
        );
        // An escaped backslash before "u0000" is text, not a NUL.
        assert_eq!(refused_in_json(br#"{"note":"C:\\u0000"}"#), None);
        assert_eq!(first_refused(b"q=ab%00c&x=1").as_deref(), Some("q"));
        assert_eq!(first_refused(b"q=a%0Ab"), None);
        assert!(has_refused(&percent_decoded("/api/orders/%00")));
        assert!(!has_refused(&percent_decoded("/api/orders/ORD-1%20")));
    }
}
