//! A pharmacy's supply log (JSON, or CSV with `format=csv`) and its monthly claim.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::params::{Path, Query};
use crate::core::AppState;
use crate::core::access::Caller;
use crate::core::records::{self, Claim, SupplyLine};
use crate::error::{Error, Result};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(supply_log))
        .routes(routes!(claims))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// `YYYY-MM-DD`, the first day.
    pub from: String,
    /// `YYYY-MM-DD`, the last day (at most 366 days after `from`).
    pub to: String,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

fn date(field: &str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| Error::field(field, format!("{s:?} is not a date in the form YYYY-MM-DD")))
}

#[utoipa::path(get, path = "/api/v1/pharmacies/{id}/supply-log", operation_id = "getSupplyLog", summary = "List the instalments a pharmacy supplied (the controlled-drug register extract)", tag = "pharmacies",
    security(("bearer" = [])), params(("id" = String, Path), LogQuery),
    responses((status = 200, body = Vec<SupplyLine>), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn supply_log(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<Response> {
    let (from, to) = (date("from", &q.from)?, date("to", &q.to)?);
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(Error::field(
                "format",
                format!("{other:?}: use json or csv"),
            ));
        }
    };
    let lines = records::supply_log(&st, &caller, &id, from, to).await?;
    if !csv {
        return Ok(Json(lines).into_response());
    }
    let mut res = records::to_csv(&lines)?.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"supply-log-{from}-{to}.csv\""
    )) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClaimQuery {
    /// `YYYY-MM`.
    pub month: String,
}

#[utoipa::path(get, path = "/api/v1/pharmacies/{id}/claims", operation_id = "getPharmacyClaim", summary = "Get a pharmacy's monthly claim (supervised doses, instalments supplied)", tag = "pharmacies",
    security(("bearer" = [])), params(("id" = String, Path), ClaimQuery),
    responses((status = 200, body = Claim), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn claims(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ClaimQuery>,
) -> Result<Json<Claim>> {
    Ok(Json(records::claim(&st, &caller, &id, &q.month).await?))
}
