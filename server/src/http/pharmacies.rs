//! Pharmacies and their closures (admin).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::json::JsonBody;
use super::params::Path;
use crate::core::AppState;
use crate::core::access::{Caller, ServiceOp};
use crate::core::db::pharmacies::Pharmacy;
use crate::core::pharmacies::{
    self, ClosureCreated, CreateClosure, CreatePharmacy, PharmacyCreated,
};
use crate::error::Result;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one))
        .routes(routes!(add_closure))
}

type Created<T> = (StatusCode, Json<T>);

#[utoipa::path(post, path = "/api/v1/pharmacies", operation_id = "enrolPharmacy", summary = "Enrol a pharmacy (broker credentials shown once)", tag = "pharmacies", request_body = CreatePharmacy,
    security(("bearer" = [])),
    responses((status = 201, body = PharmacyCreated), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<Created<PharmacyCreated>> {
    caller.may(ServiceOp::EnrolPharmacy)?;
    let req: CreatePharmacy = body.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(pharmacies::enrol(&st, &caller, req).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/pharmacies", operation_id = "listPharmacies", summary = "List enrolled pharmacies", tag = "pharmacies", security(("bearer" = [])),
    responses((status = 200, body = Vec<Pharmacy>), (status = 403, body = crate::error::Problem)))]
async fn list(State(st): State<AppState>, caller: Caller) -> Result<Json<Vec<Pharmacy>>> {
    Ok(Json(pharmacies::list(&st, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/pharmacies/{id}", operation_id = "getPharmacy", summary = "Get one pharmacy", tag = "pharmacies", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Pharmacy), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
async fn get_one(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Pharmacy>> {
    Ok(Json(pharmacies::get(&st, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/pharmacies/{id}/closures", operation_id = "addPharmacyClosure", summary = "Record a one-off closure (a bank holiday)", tag = "pharmacies",
    request_body = CreateClosure, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 201, body = ClosureCreated), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
async fn add_closure(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Created<ClosureCreated>> {
    caller.may(ServiceOp::ManagePharmacy)?;
    let req: CreateClosure = body.parse()?;
    let created = pharmacies::add_closure(&st, &caller, &id, req).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
