//! JSON endpoints: `/api/status` (the code for a reference), `/api/today` (today's list, the
//! one read that names people: it needs the API token), `/api/supplies` (record what was
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
use crate::closing::{CloseRefused, CloseRequest, Closed, ClosedBy};
use crate::counter::{Containers, DueView};
use crate::store::Search;
use crate::today::{self, Kind};

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
    /// Set while this PC's clock is far from the service's: nothing is supplied until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    clock_problem: Option<String>,
    /// Consecutive days without a dose in hand (the dose ledger's clause 3 run).
    days_without_dose: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_dose_since: Option<String>,
    /// The last seven days of the dose ledger.
    ledger: Vec<sotto_domain::DayAccount>,
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
        clock_problem: view.clock.map(|p| p.message(view.zone)),
        days_without_dose: status.days_without_dose,
        no_dose_since: status.no_dose_since,
        ledger: status.ledger,
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

/// `POST /api/close-day` `{date, early?}` → 200 `{date, missed, ...}`.
#[tracing::instrument(skip_all)]
pub(crate) async fn close_day(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<CloseDayResponse>, ApiError> {
    let request = close_day_request(&body)?;
    let closed = state
        .closer
        .close(CloseRequest {
            date: request.date,
            by: ClosedBy::Api,
            early: request.early,
        })
        .await?
        .map_err(|refused| close_refusal(request.date, refused))?;
    Ok(Json(close_day_response(request.date, closed)))
}

/// The answer to a day closed (or found closed before).
pub(crate) fn close_day_response(date: NaiveDate, closed: Closed) -> CloseDayResponse {
    match closed {
        Closed::Day(close) => CloseDayResponse {
            date,
            missed: close.missed,
            already_closed: close.already_closed,
            pharmacy_closed: false,
            closed_at: Some(close.closed_at),
        },
        Closed::PharmacyClosed => CloseDayResponse {
            date,
            missed: 0,
            already_closed: false,
            pharmacy_closed: true,
            closed_at: None,
        },
    }
}

/// Why `date` was not closed, saying what to do.
pub(crate) fn close_refusal(date: NaiveDate, refused: CloseRefused) -> ApiError {
    match refused {
        CloseRefused::Future { today } => ApiError::Invalid(vec![FieldError::new(
            "date",
            format!("{date} has not come yet: today is {today}; a day is closed once it has ended"),
        )]),
        CloseRefused::BeforeClosingTime { closes_at } => {
            let when = closes_at.map_or_else(
                || "its closing time".to_string(),
                |t| t.format("%H:%M").to_string(),
            );
            ApiError::Invalid(vec![FieldError::new(
                "early",
                format!(
                    "today closes by itself at {when}; closing it now reports everyone not yet \
                     supplied today as missed and refuses later supplies: send \"early\": true \
                     to close it early"
                ),
            )])
        }
        CloseRefused::NoData => ApiError::Conflict(
            "this pharmacy has not received its data from the service yet".into(),
        ),
    }
}

/// A `POST /api/close-day` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseDayRequest {
    pub date: NaiveDate,
    /// Close today before its closing time.
    pub early: bool,
}

/// Reads a `POST /api/close-day` body: `{date, early?}`; any other field is an error.
pub fn close_day_request(body: &[u8]) -> Result<CloseDayRequest, ApiError> {
    let body: Value = serde_json::from_slice(body).map_err(|e| ApiError::NotJson(e.to_string()))?;
    let Some(object) = body.as_object() else {
        return Err(ApiError::NotJson("expected an object".into()));
    };
    let mut errors: Vec<FieldError> = object
        .keys()
        .filter(|k| !matches!(k.as_str(), "date" | "early"))
        .map(|k| FieldError::new(k, "is not a field of this request (date, early)"))
        .collect();
    let date = object
        .get("date")
        .and_then(Value::as_str)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    if date.is_none() {
        errors.push(FieldError::new(
            "date",
            "is required, as a date like 2026-11-23",
        ));
    }
    let early = match object.get("early") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.push(FieldError::new("early", "must be true or false"));
            false
        }
    };
    match date {
        Some(date) if errors.is_empty() => Ok(CloseDayRequest { date, early }),
        _ => Err(ApiError::Invalid(errors)),
    }
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
        "clock_problem": state
            .link
            .clock_problem(state.max_clock_skew)
            .map(|p| p.message(crate::counter::zone(meta.pharmacy.as_ref()))),
    })))
}

/// `GET /api/today?date=&sort=`: today's list (or another day's, up to a week ahead), as the
/// counter's home page shows it.
#[derive(Debug, Serialize)]
pub(crate) struct TodayResponse {
    date: NaiveDate,
    /// The pharmacy's local date now.
    today: NaiveDate,
    sort: &'static str,
    pharmacy: Option<String>,
    /// The pharmacy opens on `date`.
    pharmacy_open: bool,
    /// A later day not final yet: a day before it is not closed, so anyone who does not
    /// collect before then may have more due.
    provisional: bool,
    synced_at: Option<DateTime<Utc>>,
    stale: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    clock_problem: Option<String>,
    people: Vec<TodayRow>,
}

/// One person on the list. Under D and E only the code: nothing to prepare, and never why.
#[derive(Debug, Serialize)]
pub(crate) struct TodayRow {
    reference: String,
    given_name: String,
    family_name: String,
    code: char,
    meaning: &'static str,
    /// `supervised`, `supervised_and_take_home` or `take_home`; null under D and E.
    kind: Option<Kind>,
    /// Every dose handed over that day, by the day it is for.
    doses: Vec<TodayDose>,
    total_mg: Option<f64>,
    /// One measure for the dose taken here, one container per take-home day (clause 5).
    containers: Option<TodayContainers>,
    /// Handed over here that day, nothing more due.
    supplied: bool,
    supplied_at: Option<DateTime<Utc>>,
    withheld_at: Option<DateTime<Utc>>,
    /// Can be recorded now (`POST /api/supplies`): due today, data confirmed, clock right.
    can_supply: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct TodayDose {
    date: NaiveDate,
    dose_mg: f64,
    /// Taken at the counter.
    supervised: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct TodayContainers {
    total: usize,
    measured_here: usize,
    take_home: usize,
}

impl From<Containers> for TodayContainers {
    fn from(c: Containers) -> Self {
        TodayContainers {
            total: c.total(),
            measured_here: c.measured_here,
            take_home: c.take_home,
        }
    }
}

/// The list's `date` and `sort` from the query; any other parameter, or one given twice, is
/// refused by name.
fn today_query(params: &[(String, String)]) -> (Option<&str>, Option<&str>, Vec<FieldError>) {
    let (mut date, mut sort, mut errors) = (None, None, Vec::new());
    for (name, value) in params {
        let slot = match name.as_str() {
            "date" => &mut date,
            "sort" => &mut sort,
            _ => {
                errors.push(FieldError::new(
                    name,
                    "is not a parameter of this request (date, sort)",
                ));
                continue;
            }
        };
        if slot.replace(value.as_str()).is_some() {
            errors.push(FieldError::new(name, "is given more than once"));
        }
    }
    (date, sort, errors)
}

#[tracing::instrument(skip_all)]
pub(crate) async fn today(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<TodayResponse>, ApiError> {
    let (date, sort, mut errors) = today_query(&params);
    let (meta, people) = state.store.everyone().await?;
    let view = state.view(meta, state.clock.now());
    let asked = today::parse_query(date, sort, view.today);
    let (date, sort) = match asked {
        Ok(asked) if errors.is_empty() => asked,
        Ok(_) => return Err(ApiError::BadQuery(errors)),
        Err(more) => {
            errors.extend(more);
            return Err(ApiError::BadQuery(errors));
        }
    };
    let list = super::today_page::day_list(&state, &view, &people, date, sort).await?;
    let recordable = date == view.today && view.clock.is_none() && !view.freshness.stale;
    let people = list
        .rows
        .iter()
        .map(|r| TodayRow {
            reference: r.reference.clone(),
            given_name: r.given_name.clone(),
            family_name: r.family_name.clone(),
            code: r.code.letter(),
            meaning: r.code.meaning(),
            kind: r.kind(),
            doses: r
                .hand_over
                .iter()
                .flat_map(|h| {
                    h.doses
                        .iter()
                        .filter(|d| !d.pharmacy_closed)
                        .map(|d| TodayDose {
                            date: d.date,
                            dose_mg: d.dose_mg.as_mg(),
                            supervised: d.supervised,
                        })
                })
                .collect(),
            total_mg: r.hand_over.as_ref().map(|h| h.total_mg),
            containers: r.containers().map(TodayContainers::from),
            supplied: r.supplied(),
            supplied_at: r.supplied_at,
            withheld_at: r.withheld_at,
            can_supply: recordable && r.due().is_some(),
        })
        .collect();
    Ok(Json(TodayResponse {
        date,
        today: view.today,
        sort: sort.as_str(),
        pharmacy: view.meta.pharmacy.as_ref().map(|p| p.name.clone()),
        pharmacy_open: list.open,
        provisional: list.provisional,
        synced_at: view.freshness.synced_at,
        stale: view.freshness.stale,
        clock_problem: view.clock.map(|p| p.message(view.zone)),
        people,
    }))
}
