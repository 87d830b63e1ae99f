//! What the counter should do for a person on a date: the domain rules applied to stored data.

use chrono::NaiveDate;
use serde::Serialize;
use sotto_domain::{DayPlan, DoseDay, HoldKind, StatusCode, due_given_supplies, status_code};

use crate::db::{self, Store, service_users::ServiceUser};
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
    let date = date.unwrap_or_else(|| pharmacy.today());
    // One connection for a consistent read of calendar, prescriptions and holds.
    let mut conn = store.pool().acquire().await?;
    let calendar = db::pharmacies::calendar(&mut *conn, &pharmacy).await?;
    let prescriptions = db::prescriptions::for_service_user(&mut conn, &su.id).await?;
    let holds = db::holds::active(&mut *conn, &su.id).await?;
    let history = crate::dispensing::ingest::history(&mut *conn, &su.id).await?;
    drop(conn);
    let supplied: Vec<_> = history.iter().filter(|d| d.kind == "supplied").collect();
    let supplied_today = supplied.iter().any(|d| d.collect_on == date);
    let last_supply = supplied.first().map(|d| d.at.clone());

    let current = db::prescriptions::covering(&prescriptions, date);
    let schedule = current.map(|p| p.prescription.schedule(&calendar));
    // The same rule as the counter: what is due given what was handed over (clause 2 included).
    let records = crate::dispensing::ingest::supply_records(&history);
    // A collection day still ahead has not been missed yet: only up to today do unsupplied
    // instalments carry over (clause 2) or drop out.
    let plan = match (current, &schedule) {
        (Some(p), Some(s)) if date <= pharmacy.today() => {
            due_given_supplies(s, &p.prescription.directions(), &records, date)
        }
        (Some(_), Some(s)) => s.due_on(date),
        _ => DayPlan::NoPrescription,
    };
    let kinds = as_if(holds.iter().map(|h| h.kind).collect());
    let code = status_code(&plan, &kinds, supplied_today);
    let next_collection = match &plan {
        DayPlan::Covered {
            next_collection, ..
        } => *next_collection,
        _ => schedule
            .as_ref()
            .and_then(|s| s.next_collection_after(date)),
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
        holds: holds
            .into_iter()
            .map(|h| HoldView {
                id: h.id,
                kind: h.kind,
                placed_at: h.placed_at,
                reason: show_reasons.then_some(h.reason),
            })
            .collect(),
        last_supply,
        prescription_id: current.map(|p| p.id.clone()),
    })
}
