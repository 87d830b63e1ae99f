//! Staff accounts: creation (the API token is shown once), console passwords, teams, and each
//! keyworker's choice of missed-dose alerts.

use serde::{Deserialize, Serialize};

use crate::core::AppState;
use crate::core::access::{Caller, Role, ServiceOp};
use crate::core::db::{self, Store, audit::Actor};
use crate::core::passwords;
use crate::core::values::{self, Email, Errors, Name};
use crate::error::{Error, Result};

/// How a keyworker wants missed-dose alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertMode {
    /// One e-mail per missed dose, as it is reported.
    Each,
    /// One e-mail each morning listing every missed dose not mailed before, whatever its date
    /// (a late report included). A switch either way loses and repeats nothing.
    Digest,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertPreference {
    pub mode: AlertMode,
}

/// Sets the caller's own alert mode (audited).
pub async fn set_alert_mode(
    st: &AppState,
    caller: &Caller,
    pref: AlertPreference,
) -> Result<AlertPreference> {
    let mode = match pref.mode {
        AlertMode::Each => "each",
        AlertMode::Digest => "digest",
    };
    let mut w = st.store.write().await?;
    sqlx::query("UPDATE staff SET alert_mode = $1 WHERE id = $2")
        .bind(mode)
        .bind(&caller.id)
        .execute(&mut *w.tx)
        .await?;
    w.audit(
        &Actor(caller.id.clone()),
        "staff.alert_mode",
        &format!("staff:{}", caller.id),
        serde_json::json!({"mode": mode}),
    )
    .await?;
    w.commit().await?;
    Ok(pref)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateStaff {
    #[schema(min_length = 1, max_length = 100, example = "Kim Keyworker")]
    pub name: String,
    #[schema(
        pattern = "^[^@\\s]+@[^@\\s.][^@\\s]*\\.[^@\\s]*[^@\\s.]$",
        example = "kim@service.example"
    )]
    pub email: String,
    pub role: Role,
    /// Required for pharmacists (the one pharmacy they work at), refused for other roles.
    pub pharmacy_id: Option<String>,
    /// Keyworkers and clinicians only: colleagues in one team cover each other's caseloads.
    #[serde(default)]
    #[schema(max_length = 100, example = "North team")]
    pub team: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffCreated {
    pub id: String,
    /// The bearer token. Shown once; only its hash is stored.
    pub token: String,
}

/// Validates and stores a staff member (admins); shared by the API and the console.
pub async fn create(store: &Store, caller: &Caller, req: CreateStaff) -> Result<StaffCreated> {
    caller.may(ServiceOp::CreateStaff)?;
    create_as(store, &Actor(caller.id.clone()), req).await
}

/// The same, for `admin create-staff` on the server's own command line (no caller: the
/// operator at the machine), audited as that actor.
pub async fn create_as(store: &Store, actor: &Actor, req: CreateStaff) -> Result<StaffCreated> {
    let mut errs = Errors::default();
    let name = errs.take(Name::parse("name", &req.name));
    let email = errs.take(Email::parse("email", &req.email));
    match (req.role, &req.pharmacy_id) {
        (Role::Pharmacist, None) => errs.0.push(sotto_domain::FieldError::new(
            "pharmacy_id",
            "a pharmacist must be bound to the pharmacy they work at",
        )),
        (Role::Pharmacist, Some(_)) | (_, None) => {}
        (_, Some(_)) => errs.0.push(sotto_domain::FieldError::new(
            "pharmacy_id",
            "only pharmacists are bound to a pharmacy",
        )),
    }
    let team = match req.team.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(_) if !matches!(req.role, Role::Keyworker | Role::Clinician) => {
            errs.0.push(sotto_domain::FieldError::new(
                "team",
                "teams are for keyworkers and clinicians",
            ));
            None
        }
        Some(t) => errs.take(values::parse_text("team", t, 100, true)),
    };
    errs.into_result()?;
    let (Some(name), Some(email)) = (name, email) else {
        unreachable!("errors returned above")
    };
    let mut w = store.write().await?;
    if let Some(pid) = &req.pharmacy_id
        && !db::pharmacies::exists(&mut w, pid).await?
    {
        return Err(Error::field("pharmacy_id", "no pharmacy has this id"));
    }
    let new = db::staff::NewStaff {
        name,
        email,
        role: req.role,
        pharmacy_id: req.pharmacy_id,
    };
    let created = db::staff::insert(&mut w, actor, &new).await?;
    if let Some(team) = team {
        db::staff::set_team(&mut w, actor, &created.id, Some(&team)).await?;
    }
    w.commit().await?;
    tracing::info!(staff_id = %created.id, role = new.role.as_str(), "staff created");
    Ok(StaffCreated {
        id: created.id,
        token: created.token,
    })
}

/// Sets a staff member's console password (admins); the password is checked and only its hash
/// stored.
pub async fn set_password(store: &Store, caller: &Caller, id: &str, password: &str) -> Result<()> {
    caller.may(ServiceOp::ManageStaff)?;
    passwords::validate("password", password)?;
    let mut w = store.write().await?;
    if !db::staff::set_password(
        &mut w,
        &Actor(caller.id.clone()),
        id,
        &passwords::hash(password),
    )
    .await?
    {
        return Err(Error::NotFound("staff member"));
    }
    w.commit().await
}

/// A staff member's team; `null` (or empty) takes them out of any team.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTeam {
    #[schema(max_length = 100, example = "North team")]
    pub team: Option<String>,
}

/// Puts a keyworker or clinician in a team, or takes them out of it (`None`), admins only: staff
/// in one team cover each other's caseloads. Audited.
pub async fn set_team(store: &Store, caller: &Caller, id: &str, team: Option<&str>) -> Result<()> {
    caller.may(ServiceOp::ManageStaff)?;
    let team = match team.map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(values::parse_text("team", t, 100, true)?),
    };
    let mut w = store.write().await?;
    match db::staff::role_of(&mut w, id).await? {
        None => return Err(Error::NotFound("staff member")),
        Some(Role::Keyworker | Role::Clinician) => {}
        Some(r) => {
            return Err(Error::field(
                "team",
                format!(
                    "teams are for keyworkers and clinicians; this is a {}",
                    r.as_str()
                ),
            ));
        }
    }
    db::staff::set_team(&mut w, &Actor(caller.id.clone()), id, team.as_deref()).await?;
    w.commit().await
}
