//! A JSON body extractor whose every rejection is a problem+json naming what was wrong.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use sotto_domain::FieldError;

use crate::core::AppState;
use crate::error::Error;

/// A JSON request body, read but not yet decoded: a body over the limit → 413, not JSON → 415.
/// Handlers check the caller's role first and then [`JsonBody::parse`], so a caller without the
/// right gets 403 whatever they sent.
pub struct JsonBody(Bytes);

impl JsonBody {
    /// Broken JSON → 400 with line and column; a missing or mistyped field → 422 naming the
    /// field path (e.g. `collections[2].weekday`).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        decode(&self.0)
    }
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Error> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json") || m.ends_with("+json")
            });
        if !is_json {
            return Err(Error::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge {
                    limit: state.config.max_body_bytes,
                }
            } else {
                Error::BadRequest(r.body_text())
            }
        })?;
        Ok(JsonBody(bytes))
    }
}

/// Decodes JSON, sorting syntax errors (400) from shape errors (422 with the field path).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { String::new() } else { path };
                let message = clean_serde_message(&inner.to_string());
                Error::Validation(vec![FieldError::new(field, message)])
            }
            _ => Error::BadRequest(format!("the body is not valid JSON: {inner}")),
        }
    })
}

/// serde's messages end with " at line 1 column 40"; the field path already says where.
fn clean_serde_message(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
