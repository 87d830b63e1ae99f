//! The Sotto StructureDefinitions and CodeSystems, kept as JSON in `docs/fhir/` and served as
//! they are (compiled in, so the server and the documentation cannot drift apart). They carry
//! no personal data, so reading them needs no token, like `metadata`.

use std::sync::LazyLock;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::handlers::pairs;
use super::search::DEFAULT_COUNT;
use super::{Fhir, FhirError, FhirResult, base_url};
use crate::core::AppState;
use crate::error::Error;
use crate::http::params::Path;

const STRUCTURES: [&str; 3] = [
    include_str!("../../../docs/fhir/StructureDefinition-instalment.json"),
    include_str!("../../../docs/fhir/StructureDefinition-home-office-directions.json"),
    include_str!("../../../docs/fhir/StructureDefinition-supervised-consumption.json"),
];

const CODE_SYSTEMS: [&str; 2] = [
    include_str!("../../../docs/fhir/CodeSystem-medicine.json"),
    include_str!("../../../docs/fhir/CodeSystem-dispense-status-reason.json"),
];

fn parse_all(texts: &[&str]) -> Vec<Value> {
    texts
        .iter()
        .map(|t| serde_json::from_str(t).expect("docs/fhir JSON is valid (unit-tested)"))
        .collect()
}

pub static STRUCTURE_DEFINITIONS: LazyLock<Vec<Value>> = LazyLock::new(|| parse_all(&STRUCTURES));
pub static CODE_SYSTEM_DEFINITIONS: LazyLock<Vec<Value>> =
    LazyLock::new(|| parse_all(&CODE_SYSTEMS));

fn find(all: &[Value], id: &str) -> FhirResult<Fhir> {
    all.iter()
        .find(|r| r["id"] == id)
        .map(|r| Fhir(StatusCode::OK, r.clone()))
        .ok_or(FhirError(Error::NotFound("definition")))
}

/// Matches `url` (the canonical URL) and `_id`; anything else is refused.
fn search(st: &AppState, kind: &str, all: &[Value], q: Option<String>) -> FhirResult<Fhir> {
    let mut found: Vec<&Value> = all.iter().collect();
    for (name, value) in pairs(q) {
        let field = match name.as_str() {
            "url" => "url",
            "_id" => "id",
            "_format" if super::accepts_format(&value) => continue,
            other => {
                return Err(FhirError(Error::field(
                    other,
                    format!("{kind} search supports url and _id"),
                )));
            }
        };
        found.retain(|r| r[field] == value.as_str());
    }
    let base = base_url(st);
    let entries: Vec<Value> = found
        .iter()
        .take(DEFAULT_COUNT)
        .map(|r| {
            json!({"fullUrl": format!("{base}/{kind}/{}", r["id"].as_str().unwrap_or_default()),
                   "resource": r, "search": {"mode": "match"}})
        })
        .collect();
    Ok(Fhir(
        StatusCode::OK,
        json!({"resourceType": "Bundle", "type": "searchset", "total": found.len(),
               "link": [{"relation": "self", "url": format!("{base}/{kind}")}],
               "entry": entries}),
    ))
}

pub async fn read_structure(Path(id): Path<String>) -> FhirResult<Fhir> {
    find(&STRUCTURE_DEFINITIONS, &id)
}

pub async fn read_code_system(Path(id): Path<String>) -> FhirResult<Fhir> {
    find(&CODE_SYSTEM_DEFINITIONS, &id)
}

pub async fn search_structures(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> FhirResult<Fhir> {
    search(&st, "StructureDefinition", &STRUCTURE_DEFINITIONS, q)
}

pub async fn search_code_systems(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> FhirResult<Fhir> {
    search(&st, "CodeSystem", &CODE_SYSTEM_DEFINITIONS, q)
}

#[cfg(test)]
mod tests {
    use super::super::codes::{self, NotDispensed};
    use super::*;

    fn codes_of(cs: &Value) -> Vec<String> {
        cs["concept"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn every_definition_parses_and_its_canonical_url_is_the_one_the_code_uses() {
        let urls: Vec<&str> = STRUCTURE_DEFINITIONS
            .iter()
            .map(|s| s["url"].as_str().unwrap())
            .collect();
        assert_eq!(
            urls,
            [
                codes::EXT_INSTALMENT,
                codes::EXT_DIRECTIONS,
                codes::EXT_SUPERVISED
            ]
        );
        for s in STRUCTURE_DEFINITIONS.iter() {
            let id = s["id"].as_str().unwrap();
            assert!(s["url"].as_str().unwrap().ends_with(id));
        }
        let cs: Vec<&str> = CODE_SYSTEM_DEFINITIONS
            .iter()
            .map(|s| s["url"].as_str().unwrap())
            .collect();
        assert_eq!(cs, [codes::MEDICINE, codes::DISPENSE_STATUS_REASON]);
    }

    #[test]
    fn the_code_systems_hold_exactly_the_codes_the_api_emits() {
        let medicines = codes_of(&CODE_SYSTEM_DEFINITIONS[0]);
        for m in [
            "methadone_oral_solution_1mg_ml",
            "buprenorphine_sublingual",
            "buprenorphine_oral_lyophilisate",
        ] {
            let parsed: sotto_domain::Medicine = m.parse().unwrap();
            assert!(medicines.contains(&parsed.as_str().to_string()));
        }
        assert_eq!(medicines.len(), 3);
        let reasons = codes_of(&CODE_SYSTEM_DEFINITIONS[1]);
        let emitted: Vec<String> = NotDispensed::ALL.iter().map(|n| n.code().into()).collect();
        assert_eq!(reasons, emitted);
        assert_eq!(CODE_SYSTEM_DEFINITIONS[1]["count"], emitted.len());
    }
}
