//! Every operation of the OpenAPI document states every error it can
//! answer, as an RFC 9457 problem document: the walk below adds what the
//! platform's layers answer for every route (no credentials, no
//! permission, a malformed or unsupported body, an invalid field, a
//! missing record, an outage), so handlers document only their own
//! business refusals.

use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{Content, OpenApi, RefOr, Required, Response, ResponseBuilder, Responses};

/// An error, as `application/problem+json` (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)]
pub struct ProblemDoc {
    /// `urn:faena:problem:<code>`.
    r#type: String,
    /// What went wrong, in the caller's language.
    title: String,
    status: u16,
    /// Stable code a client can act on (`validation_failed`,
    /// `precondition_failed` …).
    code: String,
    detail: Option<String>,
    /// The path of the request.
    instance: String,
    /// The request's id, also in the logs.
    request_id: Option<String>,
    /// For validation: every field that is wrong.
    errors: Option<Vec<ProblemField>>,
}

/// One wrong field of a request.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ProblemField {
    /// Dotted path of the field (`lines[2].quantity`), or a parameter.
    field: String,
    code: String,
    message: String,
}

const PROBLEM: &str = "application/problem+json";

fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM,
            Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                "Problem",
            )))),
        )
        .build()
}

/// Adds the problem schema and the platform's error answers to every
/// operation of `doc`.
pub fn document_errors(doc: &mut OpenApi) {
    use utoipa::PartialSchema;
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert("Problem".into(), ProblemDoc::schema());
    components
        .schemas
        .insert("ProblemField".into(), ProblemField::schema());
    for (path, item) in doc.paths.paths.iter_mut() {
        let has_path_params = path.contains('{');
        let ops = [
            (&mut item.get, false),
            (&mut item.put, false),
            (&mut item.post, true),
            (&mut item.delete, false),
            (&mut item.patch, false),
        ];
        for (op, is_post) in ops {
            if let Some(op) = op.as_mut() {
                document(op, has_path_params, is_post);
            }
        }
    }
}

fn document(op: &mut Operation, has_path_params: bool, is_post: bool) {
    let security = op.security.clone().unwrap_or_default();
    let json = serde_json::to_value(&security).unwrap_or_default();
    let signed_in = json
        .as_array()
        .into_iter()
        .flatten()
        .any(|req| req.get("bearer").is_some());
    let json_body = op
        .request_body
        .as_ref()
        .is_some_and(|b| b.content.keys().any(|ct| ct.contains("json")));
    let any_body = op.request_body.is_some();
    let has_query = op.parameters.as_ref().is_some_and(|ps| !ps.is_empty());
    let body_required = op
        .request_body
        .as_ref()
        .is_some_and(|b| b.required != Some(Required::False));

    let responses: &mut Responses = &mut op.responses;
    let mut add = |status: &str, description: &str| {
        responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(problem_response(description)));
    };
    // Any request can carry a control character in its path or query.
    add(
        "400",
        "Malformed request: not one JSON value, or a control character in the path or a parameter",
    );
    if any_body || has_query {
        add("422", "Invalid field: `errors` names each one");
    }
    if signed_in {
        add(
            "401",
            "No valid credentials (sign in, or send a bearer token or API key)",
        );
        add(
            "403",
            "The caller lacks the permission this operation requires",
        );
    }
    if has_path_params {
        add("404", "No such record");
    }
    if is_post {
        add(
            "409",
            "Conflict, or a request with the same Idempotency-Key still running",
        );
    }
    if any_body {
        add("413", "The body is larger than allowed");
    }
    if json_body && body_required {
        add("415", "The body must be application/json");
    }
    add("500", "Internal error, logged with the request id");
    add(
        "503",
        "The database is unavailable; retry after `Retry-After`",
    );
    // Business refusals documented by the handler with only a
    // description get the problem body too.
    for (status, response) in responses.responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(r)) = (is_error, response) {
            let unstated =
                r.content.is_empty() || r.content.get(PROBLEM).is_some_and(|c| c.schema.is_none());
            if unstated {
                r.content.insert(
                    PROBLEM.to_owned(),
                    Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "Problem",
                    )))),
                );
            }
        }
    }
}
