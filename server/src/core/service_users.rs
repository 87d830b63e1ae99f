//! Service users: registering a person, moving them to another keyworker, and their record as
//! each caller may read it.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::core::AppState;
use crate::core::access::{self, Caller, PersonOp, Role, ServiceOp};
use crate::core::db::{self, audit::Actor, service_users::ServiceUser};
use crate::core::values::{self, Email, Errors, Name, Reference};
use crate::error::{Error, Result};

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

/// Validates and stores a new service user (audited, and sent to their pharmacy); shared by the
/// API and the console's "new person" form.
pub async fn register(
    st: &AppState,
    caller: &Caller,
    req: CreateServiceUser,
) -> Result<ServiceUser> {
    caller.may(ServiceOp::RegisterPerson)?;
    let mut errs = Errors::default();
    let reference = errs.take(Reference::parse("reference", &req.reference));
    let given_name = errs.take(Name::parse("given_name", &req.given_name));
    let family_name = errs.take(Name::parse("family_name", &req.family_name));
    let today = st.service_today();
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

/// Moves a person to another keyworker (audited), if the caller acts for them. Setting the
/// current one changes nothing.
pub async fn set_keyworker(
    st: &AppState,
    caller: &Caller,
    id: &str,
    keyworker_id: &str,
) -> Result<ServiceUser> {
    let mut w = st.store.write().await?;
    let su = db::service_users::get(&mut *w.tx, id)
        .await?
        .ok_or(Error::NotFound("service user"))?;
    access::person_in(&mut w.tx, caller, &su, PersonOp::SetKeyworker).await?;
    let mut errs = Errors::default();
    check_role(
        &mut w,
        &mut errs,
        "keyworker_id",
        keyworker_id,
        Role::Keyworker,
    )
    .await?;
    errs.into_result()?;
    if su.keyworker_id == keyworker_id {
        return Ok(su); // nothing written: the transaction rolls back empty
    }
    db::service_users::set_keyworker(&mut w, &Actor(caller.id.clone()), &su, keyworker_id).await?;
    w.commit().await?;
    Ok(ServiceUser {
        keyworker_id: keyworker_id.to_string(),
        ..su
    })
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
    pub fn for_caller(su: ServiceUser, caller: &Caller) -> ServiceUserRecord {
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
