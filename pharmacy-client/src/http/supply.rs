//! Recording a supply (or a withheld instalment) at the counter, shared by `POST /api/supplies`
//! and the counter page's form. The rules, in the order they are checked:
//!
//! - an instalment is supplied on its day: `date` must be today at the pharmacy;
//! - once something was handed over today, nothing more is (B, "already supplied today at
//!   HH:MM"); the database's unique index settles two requests racing each other;
//! - never on unconfirmed data: a stale client refuses to supply (withholding is still
//!   recorded: it hands nothing over), nor while this PC's clock is far from the service's
//!   ("today" may be the wrong day);
//! - only under code A; D, E, F: "not to be supplied now: code D"; C: "nothing due today";
//! - what was handed over must be exactly what is due (no partial supplies);
//! - not after the day was closed (its missed doses are already reported).
//!
//! A withheld instalment counts as not supplied: the code stays A, so the pharmacist may
//! re-assess and supply later the same day; if nothing is supplied the day's close reports the
//! dose as missed.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;
use sotto_domain::{FieldError, StatusCode};
use sotto_protocol::{PersonState, WithheldReason};

use super::AppState;
use super::error::ApiError;
use crate::counter::{DueView, PersonStatus};
use crate::store::{NewSupply, Search, SupplyRefused};

/// What the pharmacist says happened.
#[derive(Debug, Clone)]
pub struct SupplyRequest {
    pub reference: String,
    pub date: NaiveDate,
    pub supervised_taken: Option<bool>,
    pub take_home_doses: Option<u64>,
    /// Set when nothing was handed over.
    pub withheld_reason: Option<WithheldReason>,
}

/// What was recorded (the `POST /api/supplies` answer).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Recorded {
    /// The code now: B after a supply; A after a withheld instalment.
    pub code: char,
    pub meaning: &'static str,
    pub reference: String,
    pub date: NaiveDate,
    /// False when withheld.
    pub supplied: bool,
    pub supervised_taken: bool,
    pub take_home_dates: Vec<NaiveDate>,
    pub withheld_reason: Option<WithheldReason>,
    pub at: DateTime<Utc>,
    /// The report's idempotency key (the server sees the same one however often it arrives).
    pub report_id: String,
}

impl SupplyRequest {
    /// Reads a JSON body, naming every field at fault.
    pub fn from_json(body: &Value) -> Result<SupplyRequest, ApiError> {
        let Some(object) = body.as_object() else {
            return Err(ApiError::NotJson("expected an object".into()));
        };
        let mut errors = Vec::new();
        let mut problem = |field: &str, message: &str| {
            errors.push(FieldError::new(field, message));
        };
        let reference = match object.get("reference").and_then(Value::as_str) {
            Some(r) if !r.trim().is_empty() => Some(r.to_string()),
            _ => {
                problem("reference", "is required, e.g. \"SU-1042\"");
                None
            }
        };
        let date = match object.get("date").and_then(Value::as_str) {
            Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| problem("date", "must be a date like 2026-11-23"))
                .ok(),
            None => {
                problem("date", "is required (today's date, YYYY-MM-DD)");
                None
            }
        };
        let supervised_taken = match object.get("supervised_taken") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                problem("supervised_taken", "must be true or false");
                None
            }
        };
        let take_home_doses = match object.get("take_home_doses") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let n = v.as_u64();
                if n.is_none() {
                    problem("take_home_doses", "must be a whole number, 0 or more");
                }
                n
            }
        };
        let withheld_reason = match object.get("withheld_reason") {
            None | Some(Value::Null) => None,
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|_| {
                    problem(
                        "withheld_reason",
                        "must be one of intoxicated, unwell, identity_not_confirmed, other",
                    )
                })
                .ok(),
        };
        match (reference, date) {
            (Some(reference), Some(date)) if errors.is_empty() => Ok(SupplyRequest {
                reference,
                date,
                supervised_taken,
                take_home_doses,
                withheld_reason,
            }),
            _ => Err(ApiError::Invalid(errors)),
        }
    }
}

/// Checks and records `request`; the report is queued in the same transaction.
pub(crate) async fn record(state: &AppState, request: SupplyRequest) -> Result<Recorded, ApiError> {
    // Stored to the millisecond: answer with exactly what was stored.
    let now = state.clock.now().trunc_subsecs(3);
    let (meta, mut people) = state
        .store
        .find(&Search::Reference(request.reference.clone()))
        .await?;
    let view = state.view(meta, now);
    let person: PersonState = match people.len() {
        0 => return Err(ApiError::NotFound),
        1 => people.remove(0),
        _ => return Err(ApiError::Ambiguous),
    };
    if request.date != view.today {
        return Err(invalid(
            "date",
            format!(
                "an instalment is supplied on its day: today is {}, not {}",
                view.today, request.date
            ),
        ));
    }
    let status = state.status_now(&view, &person).await?;
    // Supplied today and nothing added since (a late closure can add a dose: code A again).
    if let (StatusCode::B, Some(at)) = (status.code, status.supplied_at) {
        return Err(already_supplied(&view, at));
    }
    let withheld = request.withheld_reason;
    if withheld.is_some() {
        if request.supervised_taken == Some(true) {
            return Err(invalid(
                "supervised_taken",
                "must be false (or left out) when nothing is supplied",
            ));
        }
        if request.take_home_doses.is_some_and(|n| n > 0) {
            return Err(invalid(
                "take_home_doses",
                "must be 0 (or left out) when nothing is supplied",
            ));
        }
    } else if let Some(problem) = view.clock {
        return Err(ApiError::Conflict(problem.message(view.zone)));
    } else if view.freshness.stale {
        let marker = view.freshness.marker(view.zone, view.today);
        return Err(ApiError::Conflict(format!(
            "{marker}: check with the service"
        )));
    }
    let due = due_or_refusal(&status)?;
    if withheld.is_none() {
        check_matches_due(&request, due)?;
    }
    let supply = NewSupply {
        service_user_id: person.service_user_id.clone(),
        collect_on: view.today,
        supervised_taken: withheld.is_none() && due.supervised_dose_mg.is_some(),
        take_home_dates: match withheld {
            None => due.take_home().map(|d| d.date).collect(),
            Some(_) => Vec::new(),
        },
        withheld,
        at: now,
    };
    let report_id = match state.store.record_supply(&supply).await? {
        Ok(report_id) => report_id,
        Err(SupplyRefused::AlreadySupplied(at)) => return Err(already_supplied(&view, at)),
        Err(SupplyRefused::DayClosed(at)) => {
            return Err(ApiError::Conflict(format!(
                "today was closed at {} and reported to the service: check with the service",
                view.hh_mm(at)
            )));
        }
    };
    state.link.reports_queued();
    tracing::info!(withheld = withheld.is_some(), "instalment recorded");
    let code = state.status_now(&view, &person).await?.code;
    Ok(Recorded {
        code: code.letter(),
        meaning: code.meaning(),
        reference: person.reference,
        date: view.today,
        supplied: withheld.is_none(),
        supervised_taken: supply.supervised_taken,
        take_home_dates: supply.take_home_dates,
        withheld_reason: withheld,
        at: now,
        report_id,
    })
}

/// What is due under code A, or why nothing is to be handed over.
fn due_or_refusal(status: &PersonStatus) -> Result<&DueView, ApiError> {
    match (status.code, &status.due) {
        (StatusCode::A, Some(due)) => Ok(due),
        (StatusCode::C, _) | (StatusCode::A, None) => {
            Err(ApiError::Conflict("nothing due today".into()))
        }
        (code, _) => Err(ApiError::Conflict(format!(
            "not to be supplied now: code {}",
            code.letter()
        ))),
    }
}

/// Partial supply is not a thing: the numbers must be what is due.
fn check_matches_due(request: &SupplyRequest, due: &DueView) -> Result<(), ApiError> {
    let supervised_due = due.supervised_dose_mg.is_some();
    let take_home_due = due.take_home().count() as u64;
    let mut errors = Vec::new();
    match request.supervised_taken {
        None => errors.push(FieldError::new(
            "supervised_taken",
            format!("is required; {}", describe(due)),
        )),
        Some(taken) if taken != supervised_due => errors.push(FieldError::new(
            "supervised_taken",
            format!("must be {supervised_due}; {}", describe(due)),
        )),
        Some(_) => {}
    }
    match request.take_home_doses {
        None => errors.push(FieldError::new(
            "take_home_doses",
            format!("is required; {}", describe(due)),
        )),
        Some(n) if n != take_home_due => errors.push(FieldError::new(
            "take_home_doses",
            format!("must be {take_home_due}, not {n}; {}", describe(due)),
        )),
        Some(_) => {}
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// "due today: a supervised dose of 60 mg and 6 take-home doses".
pub(crate) fn describe(due: &DueView) -> String {
    let supervised = due.supervised_dose_mg.map_or_else(
        || "no supervised dose".to_string(),
        |mg| format!("a supervised dose of {mg} mg"),
    );
    let take_home = match due.take_home().count() {
        0 => "no take-home doses".to_string(),
        1 => "1 take-home dose".to_string(),
        n => format!("{n} take-home doses"),
    };
    format!("due today: {supervised} and {take_home}")
}

fn already_supplied(view: &super::View, at: DateTime<Utc>) -> ApiError {
    ApiError::Conflict(format!("already supplied today at {}", view.hh_mm(at)))
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid(vec![FieldError::new(field, message)])
}
