//! Holds: keyworkers and clinicians place and lift them; only clinicians lift a safety hold.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use sotto_domain::HoldKind;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::json::JsonBody;
use super::params::Path;
use crate::core::AppState;
use crate::core::access::{self, Caller, PersonOp};
use crate::core::holds;
use crate::error::Result;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(place))
        .routes(routes!(lift))
        .routes(routes!(attended))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PlaceHold {
    /// Why the service wants to see the person. Stays with the service: never sent to a pharmacy.
    pub reason: String,
    /// `attend` (default). A clinician may also place a `safety` hold (prescriber review).
    #[serde(default = "attend")]
    pub kind: HoldKind,
    /// The appointment an attend hold waits for (RFC 3339): recording attendance
    /// (`POST /api/v1/holds/{id}/attended`) lifts the hold.
    #[serde(default)]
    pub appointment_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn attend() -> HoldKind {
    HoldKind::Attend
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldPlaced {
    pub id: String,
    pub kind: HoldKind,
    pub placed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[utoipa::path(post, path = "/api/v1/service-users/{id}/holds", operation_id = "placeHold", summary = "Place a hold (the pharmacy sees code D or E)", tag = "holds",
    request_body = PlaceHold, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 201, body = HoldPlaced), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn place(
    State(st): State<AppState>,
    caller: Caller,
    Path(su_id): Path<String>,
    body: JsonBody,
) -> Result<(StatusCode, Json<HoldPlaced>)> {
    access::role_may(caller.role, PersonOp::PlaceHold)?;
    let req: PlaceHold = body.parse()?;
    let hold = holds::place_for(
        &st,
        &caller,
        &su_id,
        req.kind,
        &req.reason,
        req.appointment_at,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(HoldPlaced {
            id: hold.id,
            kind: hold.kind,
            placed_at: hold.placed_at,
            appointment_at: req.appointment_at,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LiftHold {
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldLifted {
    pub id: String,
    pub kind: HoldKind,
    pub lifted_at: String,
}

#[utoipa::path(post, path = "/api/v1/holds/{id}/lift", operation_id = "liftHold", summary = "Lift a hold", tag = "holds",
    request_body = LiftHold, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = HoldLifted), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
async fn lift(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<HoldLifted>> {
    access::role_may(caller.role, PersonOp::LiftHold)?;
    let req: LiftHold = body.parse()?;
    let (hold, lifted_at) = holds::lift(&st, &caller, &id, &req.note).await?;
    Ok(Json(HoldLifted {
        id: hold.id,
        kind: hold.kind,
        lifted_at,
    }))
}

#[utoipa::path(post, path = "/api/v1/holds/{id}/attended", operation_id = "recordAttendance",
    summary = "Record that the person attended: lifts their attend hold at once", tag = "holds",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = HoldLifted), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
async fn attended(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<HoldLifted>> {
    access::role_may(caller.role, PersonOp::LiftHold)?;
    let (hold, lifted_at) = holds::attended(&st, &caller, &id).await?;
    Ok(Json(HoldLifted {
        id: hold.id,
        kind: hold.kind,
        lifted_at,
    }))
}
