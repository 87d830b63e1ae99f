//! `POST /api/v1/staff`: admins create accounts; the token is shown once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::json::JsonBody;
use crate::core::AppState;
use crate::core::access::{Caller, Role};
use crate::core::db::{self, Store, audit::Actor};
use crate::core::values::{Email, Errors, Name};
use crate::error::{Error, Result};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(set_alert_mode))
}

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

#[utoipa::path(put, path = "/api/v1/staff/me/alerts", operation_id = "setAlertMode", summary = "Choose per-dose or digest missed-dose alerts", tag = "staff", request_body = AlertPreference,
    security(("bearer" = [])),
    responses((status = 200, body = AlertPreference), (status = 401, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
async fn set_alert_mode(
    State(st): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<Json<AlertPreference>> {
    let pref: AlertPreference = body.parse()?;
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
    Ok(Json(pref))
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
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffCreated {
    pub id: String,
    /// The bearer token. Shown once; only its hash is stored.
    pub token: String,
}

#[utoipa::path(post, path = "/api/v1/staff", operation_id = "createStaff", summary = "Create a staff member", tag = "staff", request_body = CreateStaff,
    security(("bearer" = [])),
    responses((status = 201, body = StaffCreated), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<StaffCreated>)> {
    caller.require(&[Role::Admin])?;
    let created = create_staff(&st.store, &Actor(caller.id), body.parse()?).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Validates and stores a staff member; shared by the API and `admin create-staff`.
pub async fn create_staff(store: &Store, actor: &Actor, req: CreateStaff) -> Result<StaffCreated> {
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
    w.commit().await?;
    tracing::info!(staff_id = %created.id, role = new.role.as_str(), "staff created");
    Ok(StaffCreated {
        id: created.id,
        token: created.token,
    })
}
