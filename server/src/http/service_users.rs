//! Service users: enrolment, their record, status at the counter and missed doses.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::json::JsonBody;
use super::params::{Path, Query};
use crate::core::AppState;
use crate::core::access::{Caller, Role};
use crate::core::db::{self, audit::Actor, service_users::MissedDose, service_users::ServiceUser};
use crate::core::status::{self, Status};
use crate::core::values::{self, Email, Errors, Name, Reference};
use crate::error::{Error, Result};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(set_keyworker))
        .routes(routes!(get_one))
        .routes(routes!(get_status))
        .routes(routes!(missed_doses))
        .routes(routes!(dispenses))
}

#[utoipa::path(get, path = "/api/v1/service-users/{id}/dispenses", operation_id = "listDispenses", summary = "List what the pharmacy handed over or withheld", tag = "service users",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<crate::core::dispensing::history::Dispense>),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
async fn dispenses(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<crate::core::dispensing::history::Dispense>>> {
    let su = load_visible(&st, &caller, &id).await?;
    Ok(Json(
        crate::core::dispensing::history::history(st.store.pool(), &su.id).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateServiceUser {
    pub reference: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
    pub pharmacy_id: String,
    pub keyworker_id: String,
    pub prescriber_id: String,
    /// Opt-in: where a private heads-up about holds is sent.
    pub heads_up_email: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/service-users", operation_id = "createServiceUser", summary = "Register a service user at a pharmacy", tag = "service users",
    request_body = CreateServiceUser, security(("bearer" = [])),
    responses((status = 201, body = ServiceUser), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn create(
    State(st): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<(StatusCode, Json<ServiceUser>)> {
    let req: CreateServiceUser = body.parse()?;
    let su = create_service_user(&st, &caller, req).await?;
    Ok((StatusCode::CREATED, Json(su)))
}

/// Validates and stores a new service user (audited, and sent to their pharmacy); shared by the
/// API and the console's "new person" form.
pub async fn create_service_user(
    st: &AppState,
    caller: &Caller,
    req: CreateServiceUser,
) -> Result<ServiceUser> {
    caller.require(&[Role::Clinician, Role::Keyworker])?;
    let mut errs = Errors::default();
    let reference = errs.take(Reference::parse("reference", &req.reference));
    let given_name = errs.take(Name::parse("given_name", &req.given_name));
    let family_name = errs.take(Name::parse("family_name", &req.family_name));
    let today = chrono::Utc::now().date_naive();
    errs.take(values::parse_date_of_birth(
        "date_of_birth",
        req.date_of_birth,
        today,
    ));
    let heads_up_email = match &req.heads_up_email {
        Some(e) if !e.trim().is_empty() => errs.take(Email::parse("heads_up_email", e)),
        _ => None,
    };
    errs.into_result()?;
    let (Some(reference), Some(given_name), Some(family_name)) =
        (reference, given_name, family_name)
    else {
        unreachable!("errors returned above")
    };
    let mut w = st.store.write().await?;
    check_links(&mut w, &req).await?;
    let new = db::service_users::NewServiceUser {
        reference,
        given_name,
        family_name,
        date_of_birth: req.date_of_birth,
        pharmacy_id: req.pharmacy_id,
        keyworker_id: req.keyworker_id,
        prescriber_id: req.prescriber_id,
        heads_up_email,
    };
    let id = db::service_users::insert(&mut w, &Actor(caller.id.clone()), &new).await?;
    crate::core::outbox::person_changed(&mut w, &id).await?;
    let su = db::service_users::get(&mut *w.tx, &id)
        .await?
        .ok_or_else(|| Error::Internal("service user vanished after insert".into()))?;
    w.commit().await?;
    Ok(su)
}

/// The pharmacy must exist, the keyworker must be a keyworker, the prescriber a clinician.
async fn check_links(w: &mut db::audit::WriteTx, req: &CreateServiceUser) -> Result<()> {
    let mut errs = Errors::default();
    if !db::pharmacies::exists(w, &req.pharmacy_id).await? {
        errs.0.push(sotto_domain::FieldError::new(
            "pharmacy_id",
            "no pharmacy has this id",
        ));
    }
    for (field, id, role) in [
        ("keyworker_id", &req.keyworker_id, Role::Keyworker),
        ("prescriber_id", &req.prescriber_id, Role::Clinician),
    ] {
        check_role(w, &mut errs, field, id, role).await?;
    }
    errs.into_result()
}

/// `id` (given in `field`) must be a staff member with `role`.
async fn check_role(
    w: &mut db::audit::WriteTx,
    errs: &mut Errors,
    field: &str,
    id: &str,
    role: Role,
) -> Result<()> {
    match db::staff::role_of(w, id).await? {
        Some(r) if r == role => {}
        Some(r) => errs.0.push(sotto_domain::FieldError::new(
            field,
            format!(
                "this staff member is a {}, not a {}",
                r.as_str(),
                role.as_str()
            ),
        )),
        None => errs.0.push(sotto_domain::FieldError::new(
            field,
            "no staff member has this id",
        )),
    }
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetKeyworker {
    /// The keyworker who takes the person on. Missed doses not yet mailed go to them (see the
    /// README's alert rules); those already mailed are not sent again.
    pub keyworker_id: String,
}

/// Moves a person to another keyworker (audited). Setting the current one changes nothing.
#[utoipa::path(put, path = "/api/v1/service-users/{id}/keyworker", operation_id = "setKeyworker", summary = "Move a service user to another keyworker", tag = "service users",
    request_body = SetKeyworker, security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ServiceUser), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn set_keyworker(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<ServiceUser>> {
    caller.require(&[Role::Clinician, Role::Keyworker])?;
    let req: SetKeyworker = body.parse()?;
    load_visible(&st, &caller, &id).await?;
    let mut w = st.store.write().await?;
    let mut errs = Errors::default();
    check_role(
        &mut w,
        &mut errs,
        "keyworker_id",
        &req.keyworker_id,
        Role::Keyworker,
    )
    .await?;
    errs.into_result()?;
    let su = db::service_users::get(&mut *w.tx, &id)
        .await?
        .ok_or(Error::NotFound("service user"))?;
    if su.keyworker_id == req.keyworker_id {
        return Ok(Json(su)); // nothing written: the transaction rolls back empty
    }
    db::service_users::set_keyworker(&mut w, &Actor(caller.id), &su, &req.keyworker_id).await?;
    w.commit().await?;
    Ok(Json(ServiceUser {
        keyworker_id: req.keyworker_id,
        ..su
    }))
}

/// Loads a person and checks the caller may see them (404 before 403: ids are unguessable).
pub(crate) async fn load_visible(st: &AppState, caller: &Caller, id: &str) -> Result<ServiceUser> {
    let su = db::service_users::get(st.store.pool(), id)
        .await?
        .ok_or(Error::NotFound("service user"))?;
    caller.require_access(&su)?;
    Ok(su)
}

/// A service user as the caller may read them: service staff get the whole record; a
/// pharmacist only what the counter shows (who the person is and where they collect), never
/// their private heads-up address nor which staff look after them.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ServiceUserRecord {
    pub id: String,
    pub reference: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
    pub pharmacy_id: String,
    /// Service staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyworker_id: Option<String>,
    /// Service staff only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prescriber_id: Option<String>,
    /// Service staff only; absent when the person gave none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heads_up_email: Option<String>,
}

impl ServiceUserRecord {
    fn for_caller(su: ServiceUser, caller: &Caller) -> ServiceUserRecord {
        let staff = caller.is_service_staff();
        ServiceUserRecord {
            id: su.id,
            reference: su.reference,
            given_name: su.given_name,
            family_name: su.family_name,
            date_of_birth: su.date_of_birth,
            pharmacy_id: su.pharmacy_id,
            keyworker_id: staff.then_some(su.keyworker_id),
            prescriber_id: staff.then_some(su.prescriber_id),
            heads_up_email: su.heads_up_email.filter(|_| staff),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/service-users/{id}", operation_id = "getServiceUser", summary = "Get one service user", tag = "service users",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ServiceUserRecord), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
async fn get_one(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ServiceUserRecord>> {
    let su = load_visible(&st, &caller, &id).await?;
    Ok(Json(ServiceUserRecord::for_caller(su, &caller)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// `YYYY-MM-DD`; defaults to today at the person's pharmacy.
    pub date: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/service-users/{id}/status", operation_id = "getServiceUserStatus", summary = "Get the code the pharmacy shows, with the dose ledger", tag = "service users",
    security(("bearer" = [])), params(("id" = String, Path), StatusQuery),
    responses((status = 200, body = Status), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
async fn get_status(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Result<Json<Status>> {
    let su = load_visible(&st, &caller, &id).await?;
    let date = match q.date.as_deref() {
        None | Some("") => None,
        Some(d) => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            Error::field(
                "date",
                format!("{d:?} is not a date in the form YYYY-MM-DD"),
            )
        })?),
    };
    let s = status::for_service_user(&st.store, &su, date, caller.is_service_staff()).await?;
    Ok(Json(s))
}

#[utoipa::path(get, path = "/api/v1/service-users/{id}/missed-doses", operation_id = "listMissedDoses", summary = "List days without a dose the pharmacy reported", tag = "service users",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Vec<MissedDose>), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
async fn missed_doses(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<MissedDose>>> {
    let su = load_visible(&st, &caller, &id).await?;
    Ok(Json(
        db::service_users::missed_doses(st.store.pool(), &su.id).await?,
    ))
}
