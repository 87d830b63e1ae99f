//! A FHIR R4 API under `/fhir/r4` (docs/fhir/README.md): people, instalment prescriptions
//! (one MedicationRequest per regime step), dispenses and supervised doses, as JSON
//! (`application/fhir+json`), with the JSON API's tokens and access rules and errors as
//! `OperationOutcome`s.
//!
//! It is outside the OpenAPI document: FHIR resources are described by the FHIR specification
//! and our StructureDefinitions (served here), not by JSON Schema, and the CapabilityStatement
//! at `/fhir/r4/metadata` is the machine-readable description FHIR clients read.

mod capability;
pub mod codes;
mod definitions;
mod export;
mod handlers;
mod import;
mod load;
mod outcome;
mod read_request;
pub mod resources;
mod rows;
pub mod search;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::core::AppState;
use crate::core::access::Caller;
pub use outcome::{FhirError, FhirResult};

/// The media type of every answer.
pub const FHIR_JSON: &str = "application/fhir+json";

/// Whether a `_format` value asks for JSON.
fn accepts_format(v: &str) -> bool {
    matches!(
        v,
        "json" | "application/json" | "application/fhir+json" | "application/json+fhir"
    )
}

/// The routes, nested by the server's router at `/fhir/r4`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/metadata", get(capability::metadata))
        .route("/$export", get(export::export))
        .route(
            "/MedicationRequest",
            get(handlers::search_requests).post(import::import),
        )
        .route("/StructureDefinition", get(definitions::search_structures))
        .route(
            "/StructureDefinition/{id}",
            get(definitions::read_structure),
        )
        .route("/CodeSystem", get(definitions::search_code_systems))
        .route("/CodeSystem/{id}", get(definitions::read_code_system))
        .route("/{kind}", get(handlers::search))
        .route("/{kind}/{id}", get(handlers::read))
        .fallback(|| async { FhirError(crate::error::Error::NotFound("FHIR route")) })
}

/// A FHIR answer: JSON with the FHIR media type.
pub struct Fhir(pub StatusCode, pub serde_json::Value);

impl IntoResponse for Fhir {
    fn into_response(self) -> Response {
        let mut res = (self.0, axum::Json(self.1)).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        res
    }
}

/// The caller, with a refusal (401, 429) answered as an OperationOutcome.
pub struct FhirCaller(pub Caller);

impl FromRequestParts<AppState> for FhirCaller {
    type Rejection = FhirError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> FhirResult<Self> {
        Caller::from_request_parts(parts, state)
            .await
            .map(FhirCaller)
            .map_err(FhirError)
    }
}

/// The API's own base URL, for `fullUrl` and paging links.
fn base_url(st: &AppState) -> String {
    format!("{}/fhir/r4", st.config.public_url)
}
