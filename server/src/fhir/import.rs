//! `POST /fhir/r4/MedicationRequest`: a new instalment prescription from one MedicationRequest
//! carrying the Sotto instalment and Home Office directions extensions. It becomes the same
//! `PrescriptionDraft` the JSON API takes and goes through the same validation, overlap check,
//! audit and outbox (`create_for`); errors name the FHIR element at fault.
//!
//! Anything the import does not understand is refused rather than dropped: an element or
//! extension it ignored could change what the prescription means.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sotto_domain::FieldError;

use super::codes;
use super::handlers::by_reference;
use super::read_request::{Subject, parse};
use super::search::Kind;
use super::{Fhir, FhirCaller, FhirError, FhirResult, base_url, load};
use crate::core::AppState;
use crate::core::access::{self, PersonOp};
use crate::core::prescriptions;
use crate::error::Error;
use crate::http::json::JsonBody;

/// The FHIR element behind a JSON API field named in a validation error.
fn element(field: &str, r: &Value) -> String {
    let instalment_index = |i: usize| {
        r["extension"].as_array().and_then(|a| {
            a.iter()
                .enumerate()
                .filter(|(_, x)| x["url"] == codes::EXT_INSTALMENT)
                .nth(i)
                .map(|(n, _)| n)
        })
    };
    let vp = "MedicationRequest.dispenseRequest.validityPeriod";
    match field {
        "daily_dose_mg" => {
            "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.value".into()
        }
        "start_date" => format!("{vp}.start"),
        "end_date" => format!("{vp}.end"),
        "directions.consult_after_missed_days" => "MedicationRequest.extension".into(),
        f => match f
            .strip_prefix("collections[")
            .and_then(|rest| rest.split_once(']'))
        {
            Some((i, rest)) => match i.parse().ok().and_then(instalment_index) {
                Some(n) => format!("MedicationRequest.extension[{n}]{rest}"),
                None => "MedicationRequest.extension".into(),
            },
            None => "MedicationRequest.extension".into(),
        },
    }
}

/// Renames the JSON API's fields to FHIR elements, keeping each message.
fn in_fhir_terms(e: Error, r: &Value) -> Error {
    match e {
        Error::Validation(errs) => Error::Validation(
            errs.into_iter()
                .map(|f| FieldError::new(element(&f.field, r), f.message))
                .collect(),
        ),
        Error::Conflict { detail, .. } => Error::Conflict {
            field: "MedicationRequest.dispenseRequest.validityPeriod",
            detail,
        },
        other => other,
    }
}

pub async fn import(
    State(st): State<AppState>,
    FhirCaller(caller): FhirCaller,
    body: Result<JsonBody, Error>,
) -> FhirResult<Response> {
    access::role_may(caller.role, PersonOp::Prescribe)?;
    let r: Value = body?.parse()?;
    let (subject, draft) = parse(&r).map_err(Error::Validation)?;
    let su_id = match subject {
        Subject::Id(id) => id,
        Subject::Reference(reference) => {
            let su = by_reference(&st, &reference).await?.ok_or_else(|| {
                Error::field(
                    "MedicationRequest.subject.identifier",
                    "no person has this service reference here",
                )
            })?;
            su.id
        }
    };
    let (stored, su) = prescriptions::issue(&st, &caller, &su_id, draft)
        .await
        .map_err(|e| in_fhir_terms(e, &r))?;
    let mut conn = st.store.pool().acquire().await.map_err(Error::from)?;
    let data = load::person(&mut conn, su).await?;
    let created = data
        .entries(Kind::MedicationRequest)
        .into_iter()
        .find(|e| e.resource["groupIdentifier"]["value"] == stored.id.as_str())
        .ok_or_else(|| FhirError(Error::Internal("imported prescription not found".into())))?;
    let location = format!("{}/MedicationRequest/{}", base_url(&st), created.id);
    let mut res = Fhir(StatusCode::CREATED, created.resource).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
