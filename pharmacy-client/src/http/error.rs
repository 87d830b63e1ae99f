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
    /// Query parameters to put right, each named (unknown ones too).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    BadQuery(Vec<FieldError>),
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
    /// The `Host` header names neither this counter nor a configured name (DNS rebinding).
    #[error(
        "this counter answers only to its own address (e.g. http://127.0.0.1:8081) or a name \
         listed in SOTTO_COUNTER_HOSTS"
    )]
    WrongHost,
    /// A browser marked the request as coming from another site.
    #[error(
        "refused: this request came from another web page; record supplies on the counter \
         page itself"
    )]
    CrossSite,
    #[error("send the body as JSON, with Content-Type: application/json")]
    NotJsonContentType,
    #[error(
        "send the counter's API token as Authorization: Bearer <token> (SOTTO_COUNTER_API_TOKEN, \
         or the api-token file in the data folder)"
    )]
    Unauthorized,
    /// The posted form did not carry the page's token: an old page, or another site's form.
    #[error("the page was out of date: find the person again and record it once more")]
    StalePage,
    #[error(transparent)]
    Internal(#[from] Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, title) = match &self {
            ApiError::MissingParameter(_) => (StatusCode::BAD_REQUEST, "Missing parameter"),
            ApiError::BadQuery(_) => (StatusCode::BAD_REQUEST, "Invalid query"),
            ApiError::NotJson(_) => (StatusCode::BAD_REQUEST, "Not JSON"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid request"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "Not possible now"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "Not found"),
            ApiError::Ambiguous => (StatusCode::CONFLICT, "Ambiguous reference"),
            ApiError::WrongHost => (StatusCode::MISDIRECTED_REQUEST, "Not this counter"),
            ApiError::CrossSite | ApiError::StalePage => {
                (StatusCode::FORBIDDEN, "Not from the counter page")
            }
            ApiError::NotJsonContentType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Not JSON"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "API token required"),
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
            ApiError::Invalid(errors) | ApiError::BadQuery(errors) => {
                body["errors"] = json!(errors);
            }
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
