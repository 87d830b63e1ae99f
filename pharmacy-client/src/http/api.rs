//! JSON endpoints: `/api/status` (the code for a reference) and `/healthz`.
//! The status JSON deliberately carries no name or date of birth: the code is enough for a
//! machine, and the counter page shows identity to the pharmacist.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use crate::counter::DueView;
use crate::store::Search;

#[derive(Debug, Deserialize)]
pub(crate) struct StatusQuery {
    reference: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct StatusResponse {
    code: char,
    meaning: &'static str,
    due: Option<DueView>,
    next_collection: Option<NaiveDate>,
    synced_at: Option<DateTime<Utc>>,
    stale: bool,
    reference: String,
}

/// `GET /api/status?reference=SU-1042`.
#[tracing::instrument(skip_all)]
pub(crate) async fn status(
    State(state): State<AppState>,
    Query(query): Query<StatusQuery>,
) -> Result<Json<StatusResponse>, ApiError> {
    let reference = query
        .reference
        .filter(|r| !r.trim().is_empty())
        .ok_or(ApiError::MissingParameter("reference"))?;
    let (meta, mut people) = state.store.find(&Search::Reference(reference)).await?;
    let view = state.view(meta, Utc::now());
    let person = match people.len() {
        0 => return Err(ApiError::NotFound),
        1 => people.remove(0),
        // Showing one person's code for another is the one mistake this must never make.
        _ => return Err(ApiError::Ambiguous),
    };
    let status = view.status_of(&person);
    Ok(Json(StatusResponse {
        code: status.code.letter(),
        meaning: status.code.meaning(),
        due: status.due,
        next_collection: status.next_collection,
        synced_at: view.freshness.synced_at,
        stale: view.freshness.stale,
        reference: person.reference,
    }))
}

/// `GET /healthz`: link and sync state, for monitoring.
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let meta = state.store.meta().await?;
    Ok(Json(json!({
        "status": "ok",
        "connected": state.link.connected(),
        "synced_at": meta.synced_at,
        "last_seq": meta.last_seq,
        // Reports (supplies, missed doses) arrive with a later issue.
        "pending_reports": 0,
        "rejected_messages": state.link.rejected_messages(),
    })))
}
