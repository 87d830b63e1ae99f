//! Instalment prescriptions and regime changes: only a clinician with the person on their
//! caseload (or who broke glass) prescribes; every change is audited and queued for the
//! pharmacy in the same transaction.

use chrono::NaiveDate;
use serde::Serialize;
use sotto_domain::{
    ChangeContext, Collection, Directions, DoseDay, Medicine, PharmacyCalendar, Prescription,
    PrescriptionDraft, RegimeChangeDraft, RegimeChangeEffect, RegimeChangePlan, SupplyRecord,
};

use crate::core::AppState;
use crate::core::access::{self, Caller, PersonOp, Via};
use crate::core::db::{self, audit::Actor, prescriptions::Stored, service_users::ServiceUser};
use crate::core::values;
use crate::error::{Error, Result};

/// A prescription as the API returns it, with its day-by-day schedule.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PrescriptionView {
    pub id: String,
    pub service_user_id: String,
    pub medicine: Medicine,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub directions: Directions,
    pub regimes: Vec<RegimeView>,
    /// Every day of the prescription: the dose, and when and how it is handed over.
    pub schedule: Vec<DoseDay>,
    /// In the answer to a regime change only: the date it took effect from, the days that
    /// stay as already supplied and every day that changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regime_change: Option<RegimeChangeEffect>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegimeView {
    pub effective_from: NaiveDate,
    #[schema(value_type = f64)]
    pub daily_dose_mg: f64,
    pub collections: Vec<Collection>,
}

/// The prescription as the API answers it, its schedule laid out on the pharmacy's calendar.
pub async fn view(
    st: &AppState,
    stored: &db::prescriptions::Stored,
    pharmacy_id: &str,
) -> Result<PrescriptionView> {
    let mut conn = st.store.pool().acquire().await?;
    let calendar = db::pharmacies::calendar_of(&mut conn, pharmacy_id).await?;
    drop(conn);
    let p = &stored.prescription;
    Ok(PrescriptionView {
        id: stored.id.clone(),
        service_user_id: stored.service_user_id.clone(),
        medicine: p.medicine(),
        start_date: p.start_date(),
        end_date: p.end_date(),
        directions: p.directions(),
        regimes: p
            .regimes()
            .iter()
            .map(|r| RegimeView {
                effective_from: r.effective_from,
                daily_dose_mg: r.daily_dose.as_mg(),
                collections: r.collections.as_slice().to_vec(),
            })
            .collect(),
        schedule: p.schedule(&calendar).days().to_vec(),
        regime_change: None,
    })
}

/// Validates and stores a new prescription for a person, if the caller may prescribe for them,
/// with its outbox message; the API, the console and the FHIR import all come here, so all
/// apply the same rules and messages.
pub async fn issue(
    st: &AppState,
    caller: &Caller,
    su_id: &str,
    draft: PrescriptionDraft,
) -> Result<(Stored, ServiceUser)> {
    let mut w = st.store.write().await?;
    let su = db::service_users::get(&mut *w.tx, su_id)
        .await?
        .ok_or(Error::NotFound("service user"))?;
    access::person_in(&mut w.tx, caller, &su, PersonOp::Prescribe).await?;
    let calendar = db::pharmacies::calendar_of(&mut w.tx, &su.pharmacy_id).await?;
    let prescription = Prescription::new(draft, &calendar).map_err(Error::Validation)?;
    let existing = db::prescriptions::for_service_user(&mut w.tx, &su.id).await?;
    if let Some(other) = db::prescriptions::overlapping(
        &existing,
        prescription.start_date(),
        prescription.end_date(),
    ) {
        return Err(Error::Conflict {
            field: "start_date",
            detail: format!(
                "this person already has a prescription from {} to {}; prescriptions may not overlap",
                other.prescription.start_date(),
                other.prescription.end_date()
            ),
        });
    }
    let id =
        db::prescriptions::insert(&mut w, &Actor(caller.id.clone()), &su.id, &prescription).await?;
    crate::core::outbox::person_changed(&mut w, &su.id).await?;
    let stored = db::prescriptions::get(&mut w.tx, &id)
        .await?
        .ok_or_else(|| Error::Internal("prescription vanished after insert".into()))?;
    w.commit().await?;
    Ok((stored, su))
}

/// Loads a prescription and its person, checking the caller may read them (a logged read).
pub async fn load(
    st: &AppState,
    caller: &Caller,
    id: &str,
    via: Via,
) -> Result<(Stored, ServiceUser)> {
    let mut conn = st.store.pool().acquire().await?;
    let stored = db::prescriptions::get(&mut conn, id)
        .await?
        .ok_or(Error::NotFound("prescription"))?;
    drop(conn);
    let su = access::person(
        &st.store,
        caller,
        &stored.service_user_id,
        PersonOp::Read,
        via,
    )
    .await?;
    Ok((stored, su))
}

/// What a regime change is checked against besides the prescription: the pharmacy's calendar,
/// its today, and the supplies it reported for the person.
pub struct ChangeFacts {
    pub calendar: PharmacyCalendar,
    pub today: NaiveDate,
    pub supplies: Vec<SupplyRecord>,
}

impl ChangeFacts {
    pub async fn load(
        conn: &mut sqlx::AnyConnection,
        pharmacy_id: &str,
        service_user_id: &str,
    ) -> Result<ChangeFacts> {
        let pharmacy = db::pharmacies::get(&mut *conn, pharmacy_id)
            .await?
            .ok_or_else(|| Error::Internal("pharmacy missing".into()))?;
        let calendar = db::pharmacies::calendar(&mut *conn, &pharmacy).await?;
        let history =
            crate::core::dispensing::history::history(&mut *conn, service_user_id).await?;
        Ok(ChangeFacts {
            calendar,
            today: pharmacy.today(),
            supplies: crate::core::dispensing::history::supply_records(&history),
        })
    }
}

/// Checks a regime change against a prescription: the reason, then the domain rules (the
/// pattern, the pharmacy's today, the doses already handed over). Shared by the API, the
/// console's preview and [`apply_regime_change`], so messages are identical.
pub fn check_regime_change(
    p: &Prescription,
    draft: &RegimeChangeDraft,
    facts: &ChangeFacts,
) -> Result<(RegimeChangePlan, String)> {
    let reason = values::parse_text("reason", &draft.reason, 2000, true)?;
    let ctx = ChangeContext {
        today: facts.today,
        supplies: &facts.supplies,
    };
    let plan = p
        .plan_regime_change(draft, &facts.calendar, ctx)
        .map_err(Error::Validation)?;
    Ok((plan, reason))
}

/// Validates and records a regime change on a prescription, if the caller may prescribe for its
/// person; shared by the API and the console.
pub async fn change_regime(
    st: &AppState,
    caller: &Caller,
    id: &str,
    draft: &RegimeChangeDraft,
) -> Result<(Stored, RegimeChangeEffect, ServiceUser)> {
    let mut w = st.store.write().await?;
    // Read inside the write lock so two clinicians cannot both change the same version, and
    // a supply stored meanwhile is seen.
    let stored = db::prescriptions::get(&mut w.tx, id)
        .await?
        .ok_or(Error::NotFound("prescription"))?;
    let su = db::service_users::get(&mut *w.tx, &stored.service_user_id)
        .await?
        .ok_or_else(|| Error::Internal("prescription without a service user".into()))?;
    access::person_in(&mut w.tx, caller, &su, PersonOp::Prescribe).await?;
    values::parse_text("reason", &draft.reason, 2000, true)?;
    let facts = ChangeFacts::load(&mut w.tx, &su.pharmacy_id, &stored.service_user_id).await?;
    let (plan, reason) = check_regime_change(&stored.prescription, draft, &facts)?;
    db::prescriptions::insert_regime_change(&mut w, &Actor(caller.id.clone()), id, &plan, &reason)
        .await?;
    crate::core::outbox::person_changed(&mut w, &stored.service_user_id).await?;
    let stored = db::prescriptions::get(&mut w.tx, id)
        .await?
        .ok_or_else(|| Error::Internal("prescription vanished".into()))?;
    w.commit().await?;
    Ok((stored, plan.effect, su))
}

/// A prescription and its person, if the caller may prescribe for them (nothing logged: the
/// console's pages that come here show the person through a logged read first).
pub async fn for_change(st: &AppState, caller: &Caller, id: &str) -> Result<(Stored, ServiceUser)> {
    access::role_may(caller.role, PersonOp::Prescribe)?;
    let mut conn = st.store.pool().acquire().await?;
    let stored = db::prescriptions::get(&mut conn, id)
        .await?
        .ok_or(Error::NotFound("prescription"))?;
    let su = db::service_users::get(&mut *conn, &stored.service_user_id)
        .await?
        .ok_or_else(|| Error::Internal("prescription without a service user".into()))?;
    access::person_in(&mut conn, caller, &su, PersonOp::Prescribe).await?;
    Ok((stored, su))
}

/// What a regime change would do, before it is made: its effect, the code the pharmacy will
/// show on the day it takes effect, and the next fortnight of the new schedule.
pub struct ChangePreview {
    pub effect: RegimeChangeEffect,
    pub code_on_effective_day: sotto_domain::StatusCode,
    pub days: Vec<DoseDay>,
    pub today: NaiveDate,
}

/// Checks a regime change exactly as [`change_regime`] will, and lays out its effect.
pub async fn preview_change(
    st: &AppState,
    stored: &Stored,
    su: &ServiceUser,
    draft: &RegimeChangeDraft,
) -> Result<ChangePreview> {
    let mut conn = st.store.pool().acquire().await?;
    let facts = ChangeFacts::load(&mut conn, &su.pharmacy_id, &su.id).await?;
    let holds: Vec<sotto_domain::HoldKind> = db::holds::active(&mut *conn, &su.id)
        .await?
        .iter()
        .map(|h| h.kind)
        .collect();
    drop(conn);
    let (plan, _) = check_regime_change(&stored.prescription, draft, &facts)?;
    let effective = plan.regime.effective_from;
    let changed: Prescription = stored.prescription.with_regime(plan.regime);
    let schedule = changed.schedule(&facts.calendar);
    let code_on_effective_day =
        sotto_domain::status_code(&schedule.due_on(effective), &holds, false);
    let days = schedule
        .days()
        .iter()
        .filter(|d| d.date >= effective)
        .take(14)
        .copied()
        .collect();
    Ok(ChangePreview {
        effect: plan.effect,
        code_on_effective_day,
        days,
        today: facts.today,
    })
}
