//! `GET /healthz`: are the database and the broker reachable?

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::core::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
    db: &'static str,
    /// `ok` while connected to the broker, else `disconnected`.
    mqtt: &'static str,
}

#[utoipa::path(get, path = "/healthz", operation_id = "getHealth", summary = "Health of the server, database and broker link", tag = "health",
    // Public on purpose: load balancers and monitors ask without a token.
    security(()),
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn healthz(State(st): State<AppState>) -> (StatusCode, Json<Health>) {
    let db_ok = st.store.ping().await.is_ok();
    let mqtt_ok = st.link.as_ref().is_some_and(|l| l.is_connected());
    let health = Health {
        status: if db_ok && mqtt_ok { "ok" } else { "degraded" },
        db: if db_ok { "ok" } else { "unavailable" },
        mqtt: if mqtt_ok { "ok" } else { "disconnected" },
    };
    let code = if db_ok && mqtt_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(health))
}
