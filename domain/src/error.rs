//! Validation errors that name the JSON field at fault, so the API can answer 422 with
//! `"errors":[{"field","message"}]` and a person can fix the right input.

use serde::Serialize;

/// A validation problem naming the JSON field at fault, e.g. field `"collections[2].days"`.
///
/// Validators collect every problem rather than stopping at the first, so one round trip is
/// enough for a clinician to correct a prescription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Path of the offending field in the request body, e.g. `collections[2].days`.
    pub field: String,
    /// What is wrong, worded for the person who typed it.
    pub message: String,
}

impl FieldError {
    /// Builds an error for `field`; takes anything string-like so call sites stay short.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
