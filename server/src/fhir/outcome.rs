//! Errors as FHIR `OperationOutcome`s: the same [`Error`] the JSON API maps to problem+json,
//! with the same status codes, in the shape FHIR clients read.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::FHIR_JSON;
use crate::error::Error;

/// An error on the FHIR API.
#[derive(Debug)]
pub struct FhirError(pub Error);

impl<E: Into<Error>> From<E> for FhirError {
    fn from(e: E) -> Self {
        FhirError(e.into())
    }
}

pub type FhirResult<T> = std::result::Result<T, FhirError>;

/// The FHIR issue type for an error (http://hl7.org/fhir/issue-type).
fn issue_code(e: &Error) -> &'static str {
    match e {
        Error::Unauthorized => "login",
        Error::Forbidden(_) => "forbidden",
        Error::NotFound(_) => "not-found",
        Error::Validation(_) | Error::BadRequest(_) => "invalid",
        Error::Conflict { .. } => "conflict",
        Error::PayloadTooLarge { .. } => "too-costly",
        Error::UnsupportedMediaType => "not-supported",
        Error::TooManyRequests { .. } => "throttled",
        Error::Unavailable(_) => "transient",
        Error::Database(_) | Error::Internal(_) => "exception",
    }
}

/// The OperationOutcome for `e`: one issue per field at fault, naming it in `expression`.
pub fn outcome(e: &Error) -> Value {
    let code = issue_code(e);
    let issues: Vec<Value> = match e {
        Error::Validation(errs) => errs
            .iter()
            .map(|f| {
                let mut i = json!({"severity": "error", "code": code,
                                   "diagnostics": format!("{}: {}", f.field, f.message)});
                if !f.field.is_empty() {
                    i["expression"] = json!([f.field]);
                }
                i
            })
            .collect(),
        Error::Conflict { field, detail } => vec![json!({"severity": "error", "code": code,
            "diagnostics": detail, "expression": [field]})],
        Error::Database(_) | Error::Internal(_) => vec![json!({"severity": "error", "code": code,
            "diagnostics": "something went wrong on our side; it has been logged"})],
        other => vec![json!({"severity": "error", "code": code, "diagnostics": other.to_string()})],
    };
    json!({"resourceType": "OperationOutcome", "issue": issues})
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if status.is_server_error() {
            tracing::error!(error = ?self.0, "FHIR request failed");
        }
        let mut res = (status, axum::Json(outcome(&self.0))).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        if let Error::TooManyRequests { retry_after } = self.0 {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_domain::FieldError;

    #[test]
    fn a_validation_error_names_each_field_as_an_expression() {
        let e = Error::Validation(vec![
            FieldError::new("MedicationRequest.subject", "is required"),
            FieldError::new("_count", "too big"),
        ]);
        let o = outcome(&e);
        assert_eq!(o["resourceType"], "OperationOutcome");
        assert_eq!(o["issue"].as_array().unwrap().len(), 2);
        assert_eq!(o["issue"][0]["code"], "invalid");
        assert_eq!(o["issue"][0]["expression"][0], "MedicationRequest.subject");
    }

    #[test]
    fn internal_causes_never_reach_the_caller() {
        let o = outcome(&Error::Internal("secret table name".into()));
        assert!(!o.to_string().contains("secret"), "{o}");
        assert_eq!(o["issue"][0]["code"], "exception");
    }
}
