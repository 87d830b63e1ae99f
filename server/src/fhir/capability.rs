//! `GET /fhir/r4/metadata`: what this server supports, as a CapabilityStatement. Public, as
//! FHIR clients read it before authenticating; it holds no personal data.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::codes;
use super::search::Kind;
use super::{FHIR_JSON, Fhir, base_url};
use crate::core::AppState;

fn param(name: &str, kind: &str, doc: &str) -> Value {
    json!({"name": name, "type": kind, "documentation": doc})
}

fn resource(kind: Kind) -> Value {
    let mut params = vec![
        param(
            "_lastUpdated",
            "date",
            "When the resource last changed (ge, gt, le, lt, eq; a day is a UTC day)",
        ),
        param("_count", "number", "Page size, 1 to 200 (default 50)"),
        param(
            "_offset",
            "number",
            "How many matches to skip (the next link carries it)",
        ),
    ];
    match kind {
        Kind::Patient => {
            params.push(param("_id", "token", "The person's id"));
            params.push(param(
                "identifier",
                "token",
                "The service reference (system|value)",
            ));
        }
        _ => params.push(param("patient", "reference", "The person (Patient/{id})")),
    }
    if let Some((name, element)) = kind.date_param() {
        params.push(param(
            name,
            "date",
            &format!("{element} (ge, gt, le, lt, eq)"),
        ));
    }
    let mut interactions = vec![json!({"code": "read"}), json!({"code": "search-type"})];
    if kind == Kind::MedicationRequest {
        interactions.push(json!({"code": "create",
            "documentation": "Clinicians only: a new instalment prescription from one MedicationRequest with the Sotto instalment extensions"}));
    }
    json!({"type": kind.as_str(), "supportedProfile": [codes::uk_core_profile(kind.as_str())],
           "interaction": interactions, "searchParam": params})
}

pub async fn metadata(State(st): State<AppState>) -> Fhir {
    let mut resources: Vec<Value> = Kind::ALL.into_iter().map(resource).collect();
    for kind in ["StructureDefinition", "CodeSystem"] {
        resources.push(json!({"type": kind,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [param("url", "uri", "The canonical URL"), param("_id", "token", "The id")]}));
    }
    Fhir(
        StatusCode::OK,
        json!({
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-12-01",
            "publisher": "Sotto",
            "kind": "instance",
            "software": {"name": "sotto-server", "version": env!("CARGO_PKG_VERSION")},
            "implementation": {"description": "Sotto: OST instalment dispensing", "url": base_url(&st)},
            "fhirVersion": "4.0.1",
            "format": [FHIR_JSON],
            "rest": [{
                "mode": "server",
                "documentation": "Bearer tokens as for the JSON API (Authorization: Bearer <token>). \
                    A pharmacist sees only their pharmacy's people; administrators see no service users. \
                    Hold reasons and clinical notes are never carried. Bulk export: GET $export?start=&end= (NDJSON).",
                "security": {"description": "Authorization: Bearer <token>; 401 without a valid token, 403 for a role or pharmacy without access."},
                "resource": resources,
            }],
        }),
    )
}
