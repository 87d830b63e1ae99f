//! Service users: enrolment, their record, status at the counter and missed doses.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::json::JsonBody;
use super::params::{Path, Query};
use crate::core::AppState;
use crate::core::access::{self, Caller, PersonOp, ServiceOp, Via};
use crate::core::break_glass::{self, AccessEntry, BreakGlass, GlassBroken};
use crate::core::db::{self, service_users::MissedDose, service_users::ServiceUser};
use crate::core::service_users::{self, CreateServiceUser, ServiceUserRecord, SetKeyworker};
use crate::core::status::{self, Status};
use crate::error::{Error, Result};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(set_keyworker))
        .routes(routes!(get_one))
        .routes(routes!(get_status))
        .routes(routes!(missed_doses))
        .routes(routes!(dispenses))
        .routes(routes!(break_glass))
        .routes(routes!(access_log))
}

#[utoipa::path(post, path = "/api/v1/service-users/{id}/break-glass", operation_id = "breakGlass", summary = "Open a record outside your caseload, with a reason (audited; the service is told)", tag = "service users",
    request_body = BreakGlass, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 201, body = GlassBroken), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
async fn break_glass(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<(StatusCode, Json<GlassBroken>)> {
    let req: BreakGlass = body.parse()?;
    let opened = break_glass::open(&st, &caller, &id, &req.reason).await?;
    Ok((StatusCode::CREATED, Json(opened)))
}

#[utoipa::path(get, path = "/api/v1/service-users/{id}/access-log", operation_id = "getAccessLog", summary = "List who read this person's record, when and how", tag = "service users",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<AccessEntry>), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
async fn access_log(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<AccessEntry>>> {
    Ok(Json(break_glass::access_log(&st, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/service-users/{id}/dispenses", operation_id = "listDispenses", summary = "List what the pharmacy handed over or withheld", tag = "service users",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<crate::core::dispensing::history::Dispense>),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
async fn dispenses(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<crate::core::dispensing::history::Dispense>>> {
    let su = access::person(&st.store, &caller, &id, PersonOp::Read, Via::Api).await?;
    Ok(Json(
        crate::core::dispensing::history::history(st.store.pool(), &su.id).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/service-users", operation_id = "createServiceUser", summary = "Register a service user at a pharmacy", tag = "service users",
    request_body = CreateServiceUser, security(("bearer" = [])),
    responses((status = 201, body = ServiceUser), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<ServiceUser>)> {
    caller.may(ServiceOp::RegisterPerson)?;
    let req: CreateServiceUser = body.parse()?;
    let su = service_users::register(&st, &caller, req).await?;
    Ok((StatusCode::CREATED, Json(su)))
}

/// Moves a person to another keyworker (audited). Setting the current one changes nothing.
#[utoipa::path(put, path = "/api/v1/service-users/{id}/keyworker", operation_id = "setKeyworker", summary = "Move a service user to another keyworker", tag = "service users",
    request_body = SetKeyworker, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ServiceUser), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn set_keyworker(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<ServiceUser>> {
    access::role_may(caller.role, PersonOp::SetKeyworker)?;
    let req: SetKeyworker = body.parse()?;
    Ok(Json(
        service_users::set_keyworker(&st, &caller, &id, &req.keyworker_id).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/service-users/{id}", operation_id = "getServiceUser", summary = "Get one service user", tag = "service users",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ServiceUserRecord), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
async fn get_one(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ServiceUserRecord>> {
    let su = access::person(&st.store, &caller, &id, PersonOp::Read, Via::Api).await?;
    Ok(Json(ServiceUserRecord::for_caller(su, &caller)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// `YYYY-MM-DD`; defaults to today at the person's pharmacy.
    pub date: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/service-users/{id}/status", operation_id = "getServiceUserStatus", summary = "Get the code the pharmacy shows, with the dose ledger", tag = "service users",
    security(("bearer" = [])), params(("id" = String, Path), StatusQuery),
    responses((status = 200, body = Status), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn get_status(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Result<Json<Status>> {
    let su = access::person(&st.store, &caller, &id, PersonOp::Read, Via::Api).await?;
    let date = match q.date.as_deref() {
        None | Some("") => None,
        Some(d) => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            Error::field(
                "date",
                format!("{d:?} is not a date in the form YYYY-MM-DD"),
            )
        })?),
    };
    let s = status::for_service_user(&st.store, &su, date, caller.is_service_staff()).await?;
    Ok(Json(s))
}

#[utoipa::path(get, path = "/api/v1/service-users/{id}/missed-doses", operation_id = "listMissedDoses", summary = "List days without a dose the pharmacy reported", tag = "service users",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<MissedDose>), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
async fn missed_doses(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<MissedDose>>> {
    let su = access::person(&st.store, &caller, &id, PersonOp::Read, Via::Api).await?;
    Ok(Json(
        db::service_users::missed_doses(st.store.pool(), &su.id).await?,
    ))
}
