//! Instalment prescriptions and regime changes (clinicians).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Serialize;
use sotto_domain::{
    ChangeContext, Collection, Directions, DoseDay, Medicine, PharmacyCalendar, Prescription,
    PrescriptionDraft, RegimeChangeDraft, RegimeChangeEffect, RegimeChangePlan, SupplyRecord,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::json::JsonBody;
use super::params::Path;
use super::service_users::load_visible;
use crate::core::AppState;
use crate::core::access::{Caller, Role};
use crate::core::db::{self, audit::Actor};
use crate::core::values;
use crate::error::{Error, Result};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(get_one))
        .routes(routes!(regime_change))
}

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

pub(crate) async fn view(
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

#[utoipa::path(post, path = "/api/v1/service-users/{id}/prescriptions", operation_id = "createPrescription", summary = "Issue an instalment prescription", tag = "prescriptions",
    request_body = PrescriptionDraft, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 201, body = PrescriptionView), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    Path(su_id): Path<String>,
    body: JsonBody,
) -> Result<(StatusCode, Json<PrescriptionView>)> {
    caller.require(&[Role::Clinician])?;
    let su = load_visible(&st, &caller, &su_id).await?;
    let draft: PrescriptionDraft = body.parse()?;
    let stored = create_for(&st, &caller, &su, draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&st, &stored, &su.pharmacy_id).await?),
    ))
}

/// Validates and stores a new prescription for a person the caller may see (role and
/// visibility already checked), with its outbox message; shared by the API and the FHIR import,
/// so both apply the same rules and messages.
pub(crate) async fn create_for(
    st: &AppState,
    caller: &Caller,
    su: &db::service_users::ServiceUser,
    draft: PrescriptionDraft,
) -> Result<db::prescriptions::Stored> {
    caller.require(&[Role::Clinician])?;
    let mut w = st.store.write().await?;
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
    Ok(stored)
}

/// Loads a prescription and its person, checking the caller may see them.
pub(crate) async fn load(
    st: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(db::prescriptions::Stored, String)> {
    let mut conn = st.store.pool().acquire().await?;
    let stored = db::prescriptions::get(&mut conn, id)
        .await?
        .ok_or(Error::NotFound("prescription"))?;
    drop(conn);
    let su = load_visible(st, caller, &stored.service_user_id).await?;
    Ok((stored, su.pharmacy_id))
}

#[utoipa::path(get, path = "/api/v1/prescriptions/{id}", operation_id = "getPrescription", summary = "Get a prescription with its day-by-day schedule", tag = "prescriptions",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = PrescriptionView), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
async fn get_one(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PrescriptionView>> {
    let (stored, pharmacy_id) = load(&st, &caller, &id).await?;
    Ok(Json(view(&st, &stored, &pharmacy_id).await?))
}

#[utoipa::path(post, path = "/api/v1/prescriptions/{id}/regime-changes", operation_id = "changeRegime", summary = "Change the regime from a collection day", tag = "prescriptions",
    request_body = RegimeChangeDraft, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 201, body = PrescriptionView), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn regime_change(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<(StatusCode, Json<PrescriptionView>)> {
    caller.require(&[Role::Clinician])?;
    let (_, pharmacy_id) = load(&st, &caller, &id).await?;
    let draft: RegimeChangeDraft = body.parse()?;
    let (stored, effect) = apply_regime_change(&st, &caller, &id, &pharmacy_id, &draft).await?;
    let mut answer = view(&st, &stored, &pharmacy_id).await?;
    answer.regime_change = Some(effect);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// What a regime change is checked against besides the prescription: the pharmacy's calendar,
/// its today, and the supplies it reported for the person.
pub(crate) struct ChangeFacts {
    pub calendar: PharmacyCalendar,
    pub today: NaiveDate,
    pub supplies: Vec<SupplyRecord>,
}

impl ChangeFacts {
    pub(crate) async fn load(
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
pub(crate) fn check_regime_change(
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

/// Validates and records a regime change on a prescription the caller may see (role and
/// visibility already checked); shared by the API and the console.
pub(crate) async fn apply_regime_change(
    st: &AppState,
    caller: &Caller,
    id: &str,
    pharmacy_id: &str,
    draft: &RegimeChangeDraft,
) -> Result<(db::prescriptions::Stored, RegimeChangeEffect)> {
    caller.require(&[Role::Clinician])?;
    values::parse_text("reason", &draft.reason, 2000, true)?;
    let mut w = st.store.write().await?;
    // Re-read inside the write lock so two clinicians cannot both change the same version, and
    // a supply stored meanwhile is seen.
    let stored = db::prescriptions::get(&mut w.tx, id)
        .await?
        .ok_or(Error::NotFound("prescription"))?;
    let facts = ChangeFacts::load(&mut w.tx, pharmacy_id, &stored.service_user_id).await?;
    let (plan, reason) = check_regime_change(&stored.prescription, draft, &facts)?;
    db::prescriptions::insert_regime_change(&mut w, &Actor(caller.id.clone()), id, &plan, &reason)
        .await?;
    crate::core::outbox::person_changed(&mut w, &stored.service_user_id).await?;
    let stored = db::prescriptions::get(&mut w.tx, id)
        .await?
        .ok_or_else(|| Error::Internal("prescription vanished".into()))?;
    w.commit().await?;
    Ok((stored, plan.effect))
}
