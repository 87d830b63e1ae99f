//! Who may do what: staff roles, the caller, and every access decision of the service.

use serde::{Deserialize, Serialize};

use crate::core::db::service_users::ServiceUser;
use crate::error::{Error, Result};

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
