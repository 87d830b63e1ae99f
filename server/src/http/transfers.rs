//! A person's move to another pharmacy: parse, call `core::transfers`, render.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::json::JsonBody;
use super::params::Path;
use crate::core::AppState;
use crate::core::access::{self, Caller, PersonOp};
use crate::core::transfers;
use crate::error::Result;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(transfer))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTransfer {
    /// The pharmacy that holds the person from `from` on.
    pub pharmacy_id: String,
    /// The first day at the new pharmacy (today or later; a day that starts a collection
    /// there). The old pharmacy supplies the days before it only.
    pub from: NaiveDate,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransferRecorded {
    /// The new placement's id.
    pub id: String,
    pub from_pharmacy_id: String,
    pub pharmacy_id: String,
    pub from: NaiveDate,
    /// True when the new pharmacy holds the person already (`from` is today); otherwise the
    /// move takes effect on `from`.
    pub in_effect: bool,
}

#[utoipa::path(post, path = "/api/v1/service-users/{id}/transfers", operation_id = "transferServiceUser",
    summary = "Move a person to another pharmacy from a date (holds, ledger and run of days without a dose carry over)",
    tag = "service users", request_body = NewTransfer, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 201, body = TransferRecorded), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
async fn transfer(
    State(st): State<AppState>,
    caller: Caller,
    Path(su_id): Path<String>,
    body: JsonBody,
) -> Result<(StatusCode, Json<TransferRecorded>)> {
    access::role_may(caller.role, PersonOp::Transfer)?;
    let req: NewTransfer = body.parse()?;
    let t = transfers::transfer(&st, &caller, &su_id, &req.pharmacy_id, req.from).await?;
    Ok((
        StatusCode::CREATED,
        Json(TransferRecorded {
            id: t.placement_id,
            from_pharmacy_id: t.from_pharmacy_id,
            pharmacy_id: t.to_pharmacy_id,
            from: t.from,
            in_effect: t.in_effect,
        }),
    ))
}
