//! The HTTP layer's errors, mapped once to `application/problem+json` (API.md). Internal
//! failures are logged with their cause and shown to the caller only as a plain 500.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use sotto_domain::FieldError;

use crate::error::Error;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the query parameter `{0}` is required")]
    MissingParameter(&'static str),
    #[error("the body must be a JSON object: {0}")]
    NotJson(String),
    /// Fields to put right, each named.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// Not possible in the present state, in words a pharmacist can act on.
    #[error("{0}")]
    Conflict(String),
    #[error("no one found with that reference")]
    NotFound,
    #[error("more than one person has that reference; search by name and date of birth")]
    Ambiguous,
    #[error(transparent)]
    Internal(#[from] Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, title) = match &self {
            ApiError::MissingParameter(_) => (StatusCode::BAD_REQUEST, "Missing parameter"),
            ApiError::NotJson(_) => (StatusCode::BAD_REQUEST, "Not JSON"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid request"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "Not possible now"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "Not found"),
            ApiError::Ambiguous => (StatusCode::CONFLICT, "Ambiguous reference"),
            ApiError::Internal(error) => {
                tracing::error!(%error, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal error")
            }
        };
        let detail = match &self {
            ApiError::Internal(_) => "The local store could not be read; try again.".to_string(),
            other => other.to_string(),
        };
        let mut body = json!({
            "type": "about:blank",
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        });
        match &self {
            ApiError::MissingParameter(field) => {
                body["errors"] = json!([{"field": field, "message": "is required"}]);
            }
            ApiError::Invalid(errors) => body["errors"] = json!(errors),
            _ => {}
        }
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
