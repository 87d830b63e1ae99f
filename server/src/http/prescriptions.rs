//! Instalment prescriptions and regime changes (clinicians).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sotto_domain::{PrescriptionDraft, RegimeChangeDraft};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::json::JsonBody;
use super::params::Path;
use crate::core::AppState;
use crate::core::access::{self, Caller, PersonOp, Via};
use crate::core::prescriptions::{self, PrescriptionView};
use crate::error::Result;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(get_one))
        .routes(routes!(regime_change))
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
    access::role_may(caller.role, PersonOp::Prescribe)?;
    let draft: PrescriptionDraft = body.parse()?;
    let (stored, su) = prescriptions::issue(&st, &caller, &su_id, draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(prescriptions::view(&st, &stored, &su.pharmacy_id).await?),
    ))
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
    let (stored, su) = prescriptions::load(&st, &caller, &id, Via::Api).await?;
    Ok(Json(
        prescriptions::view(&st, &stored, &su.pharmacy_id).await?,
    ))
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
    access::role_may(caller.role, PersonOp::Prescribe)?;
    let draft: RegimeChangeDraft = body.parse()?;
    let (stored, effect, su) = prescriptions::change_regime(&st, &caller, &id, &draft).await?;
    let mut answer = prescriptions::view(&st, &stored, &su.pharmacy_id).await?;
    answer.regime_change = Some(effect);
    Ok((StatusCode::CREATED, Json(answer)))
}
