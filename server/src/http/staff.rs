//! `POST /api/v1/staff`: admins create accounts; the token is shown once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::json::JsonBody;
use super::params::Path;
use crate::core::AppState;
use crate::core::access::{Caller, ServiceOp};
use crate::core::staff::{self, AlertPreference, CreateStaff, SetTeam, StaffCreated};
use crate::error::Result;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(set_alert_mode))
        .routes(routes!(set_team))
}

#[utoipa::path(put, path = "/api/v1/staff/{id}/team", operation_id = "setStaffTeam", summary = "Put a keyworker or clinician in a team (colleagues cover each other's caseloads)", tag = "staff",
    request_body = SetTeam, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = SetTeam), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn set_team(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<SetTeam>> {
    caller.may(ServiceOp::ManageStaff)?;
    let req: SetTeam = body.parse()?;
    staff::set_team(&st.store, &caller, &id, req.team.as_deref()).await?;
    Ok(Json(req))
}

#[utoipa::path(put, path = "/api/v1/staff/me/alerts", operation_id = "setAlertMode", summary = "Choose per-dose or digest missed-dose alerts", tag = "staff", request_body = AlertPreference,
    security(("bearer" = [])),
    responses((status = 200, body = AlertPreference), (status = 401, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
async fn set_alert_mode(
    State(st): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<Json<AlertPreference>> {
    let pref: AlertPreference = body.parse()?;
    Ok(Json(staff::set_alert_mode(&st, &caller, pref).await?))
}

#[utoipa::path(post, path = "/api/v1/staff", operation_id = "createStaff", summary = "Create a staff member", tag = "staff", request_body = CreateStaff,
    security(("bearer" = [])),
    responses((status = 201, body = StaffCreated), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<StaffCreated>)> {
    caller.may(ServiceOp::CreateStaff)?;
    let created = staff::create(&st.store, &caller, body.parse()?).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
