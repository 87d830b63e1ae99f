//! `GET /healthz`: is the database reachable? (The MQTT part joins with the broker.)

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
    db: &'static str,
    /// `not_started` until the broker link exists.
    mqtt: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn healthz(State(st): State<AppState>) -> (StatusCode, Json<Health>) {
    let db_ok = st.store.ping().await.is_ok();
    let health = Health {
        status: if db_ok { "ok" } else { "degraded" },
        db: if db_ok { "ok" } else { "unavailable" },
        mqtt: "not_started",
    };
    let code = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(health))
}
