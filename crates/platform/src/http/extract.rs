//! Request extractors whose rejections are `AppError`s that name the field:
//! `Json<T>` (body) and `Query<T>` (query string). Handlers use these, never
//! axum's own, so every bad input is a problem+json a client can act on.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError, FieldErrors};

/// A JSON body, read with field-level error reporting; also a JSON response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(req.headers()) {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
                _ => AppError::BadRequest {
                    code: "unreadable_body",
                    params: Vec::new(),
                },
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn has_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Parses JSON, telling a malformed document (400) from a well-formed one
/// with a wrong or missing field (422 naming it).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value = parse_json_value(bytes)?;
    if let Some(field) = super::input::refused_in_json(bytes) {
        return Err(FieldError::new(field, "control_character").into());
    }
    Ok(value)
}

fn parse_json_value<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    // serde reads a struct from an array too, by position (`[null, null]`
    // for `{"description": null, "permissions": null}`); a body documented
    // as an object must be one.
    if wants_object::<T>() && bytes.trim_ascii_start().first().is_some_and(|b| *b != b'{') {
        let starts_valid = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
        if starts_valid {
            return Err(AppError::Validation(FieldErrors(vec![
                FieldError::new("body", "invalid").with("expected", "a JSON object"),
            ])));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        // Exactly one JSON value: anything but white space after it makes
        // the body malformed, however well-formed its start.
        Ok(value) => de.end().map(|()| value).map_err(|e| malformed(&e)),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => {
                    Err(AppError::Validation(field_error(&path, &inner.to_string())))
                }
                _ => Err(malformed(&inner)),
            }
        }
    }
}

/// Whether `T` is read from a JSON object (a struct or a map): asks `T`
/// which shape it wants of a deserializer that only records the question.
fn wants_object<'de, T: serde::Deserialize<'de>>() -> bool {
    #[derive(Debug)]
    struct Wants(bool);
    impl std::fmt::Display for Wants {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Wants {}
    impl serde::de::Error for Wants {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Wants(false)
        }
    }
    struct Probe;
    impl<'de> serde::Deserializer<'de> for Probe {
        type Error = Wants;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Wants> {
            Err(Wants(false))
        }
        fn deserialize_map<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Wants> {
            Err(Wants(true))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Wants> {
            Err(Wants(true))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct enum identifier ignored_any
        }
    }
    matches!(T::deserialize(Probe), Err(Wants(true)))
}

fn malformed(e: &serde_json::Error) -> AppError {
    AppError::BadRequest {
        code: "malformed_json",
        params: vec![
            ("line", e.line().to_string()),
            ("column", e.column().to_string()),
        ],
    }
}

/// Query-string parameters, with the same field-level errors.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        parse_query(query).map(Query)
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize::<_, T>(de).map_err(|err| {
        let path = err.path().to_string();
        AppError::Validation(field_error(&path, &err.into_inner().to_string()))
    })
}

/// Turns a serde message into a field error. serde reports a missing field
/// at its parent's path, naming the field in the message.
fn field_error(path: &str, message: &str) -> FieldErrors {
    let join = |name: &str| {
        if path.is_empty() || path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = message.split('`').nth(1);
    let error = if let (true, Some(name)) = (message.starts_with("missing field"), quoted) {
        FieldError::new(join(name), "required")
    } else if let (true, Some(name)) = (message.starts_with("unknown field"), quoted) {
        // Here the path already ends with the unknown field.
        let field = if path.rsplit('.').next() == Some(name) {
            path.to_owned()
        } else {
            join(name)
        };
        FieldError::new(field, "unknown")
    } else {
        let field = if path.is_empty() || path == "." {
            "body".to_owned()
        } else {
            path.to_owned()
        };
        let expected = message
            .split(", expected ")
            .nth(1)
            .map(|s| s.split(" at line ").next().unwrap_or(s).to_owned());
        let e = FieldError::new(field, "invalid");
        match expected {
            Some(expected) => e.with("expected", expected),
            None => e,
        }
    };
    FieldErrors(vec![error])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        sku: String,
        quantity: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Order {
        number: String,
        lines: Vec<Line>,
    }

    fn field_of(result: Result<Order, AppError>) -> (String, String) {
        match result {
            Err(AppError::Validation(errors)) => {
                let e = &errors.0[0];
                (e.field.clone(), e.code.to_string())
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn an_object_is_not_read_from_an_array() {
        assert!(wants_object::<Order>());
        assert!(wants_object::<std::collections::HashMap<String, u32>>());
        assert!(!wants_object::<Vec<Line>>());
        assert!(!wants_object::<serde_json::Value>());
        let positional = br#"["ORD-1", [["SKU-1", 2]]]"#;
        assert!(
            serde_json::from_slice::<Order>(positional).is_ok(),
            "serde would take it"
        );
        assert_eq!(
            field_of(parse_json(positional)),
            ("body".into(), "invalid".into())
        );
        assert_eq!(
            field_of(parse_json(b" 42 ")),
            ("body".into(), "invalid".into())
        );
        // Malformed stays malformed (400), whatever its first character.
        assert!(matches!(
            parse_json::<Order>(b"["),
            Err(AppError::BadRequest {
                code: "malformed_json",
                ..
            })
        ));
        let lines: Vec<Line> = parse_json(br#"[{"sku": "SKU-1", "quantity": 2}]"#).expect("a list");
        assert_eq!(lines.len(), 1);
    }

    #[test]
    fn names_the_invalid_field() {
        let r = parse_json::<Order>(br#"{"number":"A","lines":[{"sku":"x","quantity":-1}]}"#);
        assert_eq!(field_of(r), ("lines[0].quantity".into(), "invalid".into()));
        let r = parse_json::<Order>(br#"{"lines":[]}"#);
        assert_eq!(field_of(r), ("number".into(), "required".into()));
        let r = parse_json::<Order>(br#"{"number":"A","lines":[{"sku":"x"}]}"#);
        assert_eq!(field_of(r), ("lines[0].quantity".into(), "required".into()));
        let r = parse_json::<Order>(br#"{"number":"A","lines":[],"extra":1}"#);
        assert_eq!(field_of(r), ("extra".into(), "unknown".into()));
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let malformed = |body: &[u8]| {
            matches!(
                parse_json::<Order>(body),
                Err(AppError::BadRequest {
                    code: "malformed_json",
                    ..
                })
            )
        };
        assert!(malformed(br#"{"number": "A", "#));
        // One value and then more: not one JSON document.
        assert!(malformed(br#"{"number":"A","lines":[]} junk"#));
        assert!(malformed(
            br#"{"number":"A","lines":[]}{"number":"B","lines":[]}"#
        ));
        assert!(parse_json::<Order>(b"{\"number\":\"A\",\"lines\":[]} \r\n").is_ok());
    }

    #[test]
    fn query_errors_name_the_parameter() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Page {
            limit: u32,
        }
        match parse_query::<Page>("limit=lots") {
            Err(AppError::Validation(e)) => assert_eq!(e.0[0].field, "limit"),
            other => panic!("{other:?}"),
        }
    }
}
