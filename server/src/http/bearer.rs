//! Bearer tokens: resolves `Authorization: Bearer <token>` to the calling staff member.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sqlx::Row;

use crate::core::AppState;
use crate::core::access::{Caller, Role};
use crate::core::secrets::hash_secret;
use crate::error::{Error, Result};

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        // Requests built in-process (the demo's seeding) have no peer address.
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        if let Some(retry_after) = ip.and_then(|ip| state.auth_limiter.blocked(ip)) {
            return Err(Error::TooManyRequests { retry_after });
        }
        let caller = authenticate(parts, state).await;
        if let (Err(Error::Unauthorized), Some(ip)) = (&caller, ip) {
            state.auth_limiter.record_failure(ip);
            tracing::warn!("failed authentication");
        }
        caller
    }
}

/// Resolves the bearer token to a staff member.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Error::Unauthorized)?;
    let token = header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(Error::Unauthorized)?;
    let row = sqlx::query("SELECT id, role, pharmacy_id FROM staff WHERE token_hash = $1")
        .bind(hash_secret(token))
        .fetch_optional(state.store.pool())
        .await?
        .ok_or(Error::Unauthorized)?;
    let role: String = row.try_get("role")?;
    Ok(Caller {
        id: row.try_get("id")?,
        role: Role::parse(&role).ok_or_else(|| Error::Internal("stored role is unknown".into()))?,
        pharmacy_id: row.try_get("pharmacy_id")?,
    })
}
