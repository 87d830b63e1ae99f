//! `GET /api/v1/audit`: the append-only audit log, for administrators.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::params::Query;
use crate::core::AppState;
use crate::core::access::{Caller, Role};
use crate::core::db::audit::{self, AuditEntry};
use crate::error::Result;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries after this sequence number (for paging); default 0.
    pub after_seq: Option<i64>,
    /// At most this many entries (1–1000, default 100).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/audit", operation_id = "listAuditEntries", summary = "List audit entries (newest first)", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = crate::error::Problem)))]
async fn list(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>> {
    caller.require(&[Role::Admin])?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(
        audit::list(st.store.pool(), q.after_seq.unwrap_or(0), limit).await?,
    ))
}
