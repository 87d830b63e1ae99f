//! The error responses in the OpenAPI document: one shared `application/problem+json` response
//! per status (built by `crate::error`), listed on every operation that can answer with it.
//!
//! Handlers' annotations name the errors particular to them (403, 404, 409, 422); what follows
//! from an operation's shape is added here, so no annotation can forget it: a bearer token →
//! 401 and 429, a JSON body → 400, 413, 415 and 422, a query string → 400, a path id → 404, and
//! every operation (they all read the database) → 500 and 503.

use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};
use utoipa::{Modify, PartialSchema, ToSchema};

use crate::error::Problem;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Status, shared response name, description.
const RESPONSES: [(&str, &str, &str); 11] = [
    (
        "400",
        "BadRequest",
        "The body is not valid JSON, or a query parameter is malformed.",
    ),
    ("401", "Unauthorized", "A valid bearer token is required."),
    (
        "403",
        "Forbidden",
        "The caller's role or pharmacy does not allow this.",
    ),
    ("404", "NotFound", "No such record (or route)."),
    (
        "409",
        "Conflict",
        "The request conflicts with what is stored; `errors` names the field.",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than the server accepts.",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The body must be sent as application/json.",
    ),
    (
        "422",
        "Validation",
        "Fields are missing or invalid; `errors` names each one.",
    ),
    (
        "429",
        "TooManyRequests",
        "Too many failed authentications from this address; retry after `Retry-After` seconds.",
    ),
    (
        "500",
        "Internal",
        "Something went wrong on the server's side; it has been logged.",
    ),
    (
        "503",
        "Unavailable",
        "The database is unavailable; nothing was changed, try again shortly.",
    ),
];

pub struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut schemas = vec![(Problem::name().into_owned(), Problem::schema())];
        Problem::schemas(&mut schemas);
        components.schemas.extend(schemas);
        for (status, name, description) in RESPONSES {
            components
                .responses
                .insert(name.into(), RefOr::T(problem_response(status, description)));
        }
        for item in openapi.paths.paths.values_mut() {
            let item_params: Vec<ParameterIn> = item
                .parameters
                .iter()
                .flatten()
                .map(|p| p.parameter_in.clone())
                .collect();
            for op in operations(item) {
                let mut params = item_params.clone();
                params.extend(
                    op.parameters
                        .iter()
                        .flatten()
                        .map(|p| p.parameter_in.clone()),
                );
                add_errors(op, &params);
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn add_errors(op: &mut Operation, params: &[ParameterIn]) {
    let responses = &mut op.responses.responses;
    // Errors an annotation names with the Problem body become the shared problem+json response.
    for (status, response) in responses.iter_mut() {
        if let (RefOr::T(r), Some(name)) = (&*response, shared_name(status))
            && r.content.values().any(is_problem)
        {
            *response = RefOr::Ref(Ref::from_response_name(name));
        }
    }
    let mut statuses = vec!["500", "503"];
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        statuses.extend(["401", "429"]);
    }
    if op.request_body.is_some() {
        statuses.extend(["400", "413", "415", "422"]);
    }
    if params.contains(&ParameterIn::Query) {
        statuses.push("400");
    }
    if params.contains(&ParameterIn::Path) {
        statuses.push("404");
    }
    for status in statuses {
        if let Some(name) = shared_name(status) {
            // An operation's own answer for a status (health's 503 body) is left alone.
            responses
                .entry(status.to_string())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
        }
    }
}

fn shared_name(status: &str) -> Option<&'static str> {
    RESPONSES
        .iter()
        .find(|(s, ..)| *s == status)
        .map(|(_, name, _)| *name)
}

fn is_problem(content: &Content) -> bool {
    matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location == "#/components/schemas/Problem")
}

fn problem_response(status: &str, description: &str) -> Response {
    let mut response = Response::new(description);
    response.content.insert(
        PROBLEM_JSON.into(),
        Content::new(Some(Ref::from_schema_name(Problem::name()))),
    );
    let integer = || ObjectBuilder::new().schema_type(Type::Integer).build();
    let string = || ObjectBuilder::new().schema_type(Type::String).build();
    match status {
        "401" => {
            let mut h = Header::new(string());
            h.description = Some("`Bearer`".into());
            response.headers.insert("WWW-Authenticate".into(), h);
        }
        "429" => {
            let mut h = Header::new(integer());
            h.description = Some("Seconds until the address may try again.".into());
            response.headers.insert("Retry-After".into(), h);
        }
        _ => {}
    }
    response
}
