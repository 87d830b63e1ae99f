//! Instalment prescriptions and regime changes (clinicians).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Serialize;
use sotto_domain::{
    Collection, Directions, DoseDay, Medicine, Prescription, PrescriptionDraft, RegimeChangeDraft,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use super::json::JsonBody;
use super::params::Path;
use super::service_users::load_visible;
use crate::auth::{Caller, Role};
use crate::db::{self, audit::Actor};
use crate::error::{Error, Result};
use crate::values;

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
    })
}

#[utoipa::path(post, path = "/api/v1/service-users/{id}/prescriptions", tag = "prescriptions",
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
    let id = db::prescriptions::insert(&mut w, &Actor(caller.id), &su.id, &prescription).await?;
    crate::sync::outbox::person_changed(&mut w, &su.id).await?;
    let stored = db::prescriptions::get(&mut w.tx, &id)
        .await?
        .ok_or_else(|| Error::Internal("prescription vanished after insert".into()))?;
    w.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&st, &stored, &su.pharmacy_id).await?),
    ))
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

#[utoipa::path(get, path = "/api/v1/prescriptions/{id}", tag = "prescriptions",
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

#[utoipa::path(post, path = "/api/v1/prescriptions/{id}/regime-changes", tag = "prescriptions",
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
    let stored = apply_regime_change(&st, &caller, &id, &pharmacy_id, &draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&st, &stored, &pharmacy_id).await?),
    ))
}

/// Checks a regime change against a prescription: the reason, then the domain rules. Shared by
/// the API, the console's preview and [`apply_regime_change`], so messages are identical.
pub(crate) fn check_regime_change(
    p: &Prescription,
    draft: &RegimeChangeDraft,
    calendar: &sotto_domain::PharmacyCalendar,
) -> Result<(sotto_domain::Regime, String)> {
    let reason = values::parse_text("reason", &draft.reason, 2000, true)?;
    let regime = p
        .validate_regime_change(draft, calendar)
        .map_err(Error::Validation)?;
    Ok((regime, reason))
}

/// Validates and records a regime change on a prescription the caller may see (role and
/// visibility already checked); shared by the API and the console.
pub(crate) async fn apply_regime_change(
    st: &AppState,
    caller: &Caller,
    id: &str,
    pharmacy_id: &str,
    draft: &RegimeChangeDraft,
) -> Result<db::prescriptions::Stored> {
    caller.require(&[Role::Clinician])?;
    values::parse_text("reason", &draft.reason, 2000, true)?;
    let mut w = st.store.write().await?;
    // Re-read inside the write lock so two clinicians cannot both change the same version.
    let stored = db::prescriptions::get(&mut w.tx, id)
        .await?
        .ok_or(Error::NotFound("prescription"))?;
    let calendar = db::pharmacies::calendar_of(&mut w.tx, pharmacy_id).await?;
    let (regime, reason) = check_regime_change(&stored.prescription, draft, &calendar)?;
    db::prescriptions::insert_regime_change(
        &mut w,
        &Actor(caller.id.clone()),
        id,
        &regime,
        &reason,
    )
    .await?;
    crate::sync::outbox::person_changed(&mut w, &stored.service_user_id).await?;
    let stored = db::prescriptions::get(&mut w.tx, id)
        .await?
        .ok_or_else(|| Error::Internal("prescription vanished".into()))?;
    w.commit().await?;
    Ok(stored)
}
