//! What the counter should do for a person on a date: the domain rules applied to stored data.

use chrono::NaiveDate;
use serde::Serialize;
use sotto_domain::{DayPlan, DoseDay, HoldKind, StatusCode};

use crate::core::db::{self, Store, service_users::ServiceUser};
use crate::error::{Error, Result};

/// `GET /api/v1/service-users/{id}/status`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    pub service_user_id: String,
    pub reference: String,
    pub date: NaiveDate,
    /// The discreet letter A–F (API.md).
    pub code: StatusCode,
    /// What the letter asks of the pharmacist, in neutral words.
    pub meaning: String,
    /// What to hand over; only present when the code is `A`, so nothing invites a supply the
    /// service has stopped.
    pub due: Option<DueView>,
    /// The next day something is collected after `date`.
    pub next_collection: Option<NaiveDate>,
    pub holds: Vec<HoldView>,
    /// The most recent supply recorded by the pharmacy (reported by the client).
    pub last_supply: Option<String>,
    pub prescription_id: Option<String>,
    /// Consecutive days without a dose in hand up to the last settled day, since the last
    /// prescriber review (the dose ledger's clause 3 run).
    pub days_without_dose: u32,
    /// "No dose in hand since Fri 27 Nov (3 days)", when there is a run.
    pub no_dose_since: Option<String>,
    /// The dose ledger for `date` and the six days before: dose in hand, or none and why.
    pub ledger: Vec<sotto_domain::DayAccount>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DueView {
    pub collect_on: NaiveDate,
    /// The dose taken at the counter today, if supervised.
    #[schema(value_type = Option<f64>)]
    pub supervised_dose_mg: Option<f64>,
    pub take_home_doses: usize,
    #[schema(value_type = f64)]
    pub total_mg: f64,
    pub doses: Vec<DoseDay>,
}

/// A hold as each caller may see it: the reason only for the service's own staff.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldView {
    pub id: String,
    pub kind: HoldKind,
    pub placed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub async fn for_service_user(
    store: &Store,
    su: &ServiceUser,
    date: Option<NaiveDate>,
    show_reasons: bool,
) -> Result<Status> {
    for_service_user_as_if(store, su, date, show_reasons, |kinds| kinds).await
}

/// As [`for_service_user`], with the kinds of active holds changed by `as_if` first: the code
/// the pharmacy *would* see if a hold were placed or lifted (the console's preview).
pub async fn for_service_user_as_if(
    store: &Store,
    su: &ServiceUser,
    date: Option<NaiveDate>,
    show_reasons: bool,
    as_if: impl FnOnce(Vec<HoldKind>) -> Vec<HoldKind>,
) -> Result<Status> {
    let pharmacy = db::pharmacies::get(store.pool(), &su.pharmacy_id)
        .await?
        .ok_or_else(|| Error::Internal("service user's pharmacy is missing".into()))?;
    let today = pharmacy.today();
    let date = date.unwrap_or(today);
    // One connection for a consistent read of calendar, prescriptions, dispenses and holds.
    let mut conn = store.pool().acquire().await?;
    let mut records =
        crate::core::dispensing::ledger::records(&mut conn, &pharmacy, &su.id).await?;
    drop(conn);
    let last_supply = records
        .dispenses
        .iter()
        .find(|d| d.kind == "supplied")
        .map(|d| d.at.clone());
    let current = db::prescriptions::covering(&records.stored, date);
    let current_schedule = current
        .and_then(|p| records.stored.iter().position(|s| s.id == p.id))
        .map(|i| &records.prescriptions[i].schedule);
    records.active_holds = as_if(records.active_holds.clone());
    // The counter's own function: what is due given what was handed over (clause 2, late
    // closures), and E when the run of days without a dose has reached the limit.
    let assessment = records.assess(date, today);
    let days_without_dose = assessment.run;
    let no_dose_since = assessment.ledger.no_dose_since(date);
    let ledger = assessment.ledger.last_days(date, sotto_domain::SHOWN_DAYS);
    let plan = assessment.plan;
    let code = assessment.code;
    let next_collection = match &plan {
        DayPlan::Covered {
            next_collection, ..
        } => *next_collection,
        _ => current_schedule.and_then(|s| s.next_collection_after(date)),
    };
    let due = match (&plan, code) {
        (DayPlan::Collect(due), StatusCode::A) => Some(DueView {
            collect_on: due.collect_on,
            supervised_dose_mg: due.supervised_dose().map(|d| d.as_mg()),
            take_home_doses: due.take_home_doses(),
            total_mg: due.total_mg(),
            doses: due.doses.clone(),
        }),
        _ => None,
    };
    Ok(Status {
        service_user_id: su.id.clone(),
        reference: su.reference.clone(),
        date,
        code,
        meaning: code.meaning().to_string(),
        due,
        next_collection,
        // Active holds, oldest first (the rows are newest first).
        holds: records
            .hold_rows
            .iter()
            .rev()
            .filter(|h| h.lifted_at.is_none())
            .map(|h| HoldView {
                id: h.id.clone(),
                kind: h.kind,
                placed_at: h.placed_at.clone(),
                reason: show_reasons.then(|| h.reason.clone()),
            })
            .collect(),
        last_supply,
        prescription_id: current.map(|p| p.id.clone()),
        days_without_dose,
        no_dose_since,
        ledger,
    })
}
