//! JSON endpoints: `/api/status` (the code for a reference), `/api/supplies` (record what was
//! handed over), `/api/close-day` and `/healthz`.
//! The status JSON deliberately carries no name or date of birth: the code is enough for a
//! machine, and the counter page shows identity to the pharmacist.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sotto_domain::FieldError;

use super::AppState;
use super::error::ApiError;
use super::supply::{self, Recorded, SupplyRequest};
use crate::closing::{CloseRefused, Closed};
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
    /// When today's instalment was handed over here (code B).
    supplied_at: Option<DateTime<Utc>>,
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
    let view = state.view(meta, state.clock.now());
    let person = match people.len() {
        0 => return Err(ApiError::NotFound),
        1 => people.remove(0),
        // Showing one person's code for another is the one mistake this must never make.
        _ => return Err(ApiError::Ambiguous),
    };
    let status = state.status_now(&view, &person).await?;
    Ok(Json(StatusResponse {
        code: status.code.letter(),
        meaning: status.code.meaning(),
        due: status.due,
        next_collection: status.next_collection,
        supplied_at: status.supplied_at,
        synced_at: view.freshness.synced_at,
        stale: view.freshness.stale,
        reference: person.reference,
    }))
}

/// `POST /api/supplies` `{reference, date, supervised_taken, take_home_doses,
/// withheld_reason?}` → 201 with what was recorded (see [`supply`] for the rules).
#[tracing::instrument(skip_all)]
pub(crate) async fn supplies(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Recorded>), ApiError> {
    let recorded = supply::record(&state, supply_request(&body)?).await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}

/// Reads a `POST /api/supplies` body.
pub fn supply_request(body: &[u8]) -> Result<SupplyRequest, ApiError> {
    let body: Value = serde_json::from_slice(body).map_err(|e| ApiError::NotJson(e.to_string()))?;
    SupplyRequest::from_json(&body)
}

#[derive(Debug, Serialize)]
pub(crate) struct CloseDayResponse {
    date: NaiveDate,
    /// People reported as having no dose in hand (when the day was first closed).
    missed: u32,
    /// Closed before: nothing was reported this time.
    already_closed: bool,
    /// The pharmacy was closed that day: nothing to report.
    pharmacy_closed: bool,
    closed_at: Option<DateTime<Utc>>,
}

/// `POST /api/close-day` `{date}` → 200 `{date, missed, ...}`.
#[tracing::instrument(skip_all)]
pub(crate) async fn close_day(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<CloseDayResponse>, ApiError> {
    let date = close_day_date(&body)?;
    let response = |missed, already_closed, pharmacy_closed, closed_at| CloseDayResponse {
        date,
        missed,
        already_closed,
        pharmacy_closed,
        closed_at,
    };
    match state.closer.close(date).await? {
        Ok(Closed::Day(close)) => Ok(Json(response(
            close.missed,
            close.already_closed,
            false,
            Some(close.closed_at),
        ))),
        Ok(Closed::PharmacyClosed) => Ok(Json(response(0, false, true, None))),
        Err(CloseRefused::Future { today }) => Err(ApiError::Invalid(vec![FieldError::new(
            "date",
            format!("{date} has not ended yet: today is {today}"),
        )])),
        Err(CloseRefused::NoData) => Err(ApiError::Conflict(
            "this pharmacy has not received its data from the service yet".into(),
        )),
    }
}

/// Reads a `POST /api/close-day` body: `{date}`.
pub fn close_day_date(body: &[u8]) -> Result<NaiveDate, ApiError> {
    let body: Value = serde_json::from_slice(body).map_err(|e| ApiError::NotJson(e.to_string()))?;
    body.get("date")
        .and_then(Value::as_str)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| {
            ApiError::Invalid(vec![FieldError::new(
                "date",
                "is required, as a date like 2026-11-23",
            )])
        })
}

/// `GET /healthz`: link and sync state, for monitoring.
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let meta = state.store.meta().await?;
    Ok(Json(json!({
        "status": "ok",
        "connected": state.link.connected(),
        "synced_at": meta.synced_at,
        "last_seq": meta.last_seq,
        "enrolled_on": meta.enrolled_on,
        // Reports (supplies, withheld, missed doses, closed days) not yet acked by the server.
        "pending_reports": state.store.pending_count().await?,
        "rejected_messages": state.link.rejected_messages(),
    })))
}
