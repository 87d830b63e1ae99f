//! Bearer tokens and roles: who is calling, and what they may touch.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::service_users::ServiceUser;
use crate::error::{Error, Result};
use crate::http::AppState;

/// Staff roles (API.md, "Auth").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Clinician,
    Keyworker,
    Pharmacist,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Clinician => "clinician",
            Role::Keyworker => "keyworker",
            Role::Pharmacist => "pharmacist",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "clinician" => Role::Clinician,
            "keyworker" => Role::Keyworker,
            "pharmacist" => Role::Pharmacist,
            _ => return None,
        })
    }
}

/// The authenticated caller, resolved from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: String,
    pub role: Role,
    /// Set for pharmacists only: the one pharmacy whose people they may see.
    pub pharmacy_id: Option<String>,
}

impl Caller {
    /// 403 unless the caller has one of `roles`, naming what was needed.
    pub fn require(&self, roles: &[Role]) -> Result<()> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let wanted: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
        Err(Error::Forbidden(format!(
            "this needs the {} role; you are signed in as {}",
            wanted.join(" or "),
            self.role.as_str()
        )))
    }

    /// 403 unless the caller may see this person: service staff see the service's people, a
    /// pharmacist only the people nominated to their pharmacy, an admin none (no clinical need).
    pub fn require_access(&self, su: &ServiceUser) -> Result<()> {
        match self.role {
            Role::Clinician | Role::Keyworker => Ok(()),
            Role::Pharmacist if self.pharmacy_id.as_deref() == Some(su.pharmacy_id.as_str()) => {
                Ok(())
            }
            Role::Pharmacist => Err(Error::Forbidden(
                "this person is not nominated to your pharmacy".into(),
            )),
            Role::Admin => Err(Error::Forbidden(
                "administrators do not see service users' clinical records".into(),
            )),
        }
    }

    /// True for staff of the treatment service, who may see hold reasons.
    pub fn is_service_staff(&self) -> bool {
        matches!(self.role, Role::Clinician | Role::Keyworker)
    }
}

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

/// A new random secret (256 bits), URL-safe, with a prefix that says what it is.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What we store instead of a token. Tokens are 256 random bits, so a fast hash is enough: there
/// is nothing to brute-force, and lookup by hash avoids a timing side channel on comparison.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
