//! Staff (admin): the list, creating staff (the same code as `POST /api/v1/staff`) with an
//! optional first password, and resetting a password.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use sotto_domain::FieldError;

use super::html::{self, csrf_field, error_summary, esc};
use super::session::{ConsoleUser, see_other};
use crate::core::AppState;
use crate::core::access::{Role, ServiceOp};
use crate::core::db;
use crate::core::passwords as password;
use crate::core::staff::{self, CreateStaff};
use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct StaffForm {
    pub csrf: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub pharmacy_id: String,
    pub team: String,
    pub password: String,
}

pub async fn page(State(st): State<AppState>, user: ConsoleUser) -> Response {
    render(&st, &user, &StaffForm::default(), &[], StatusCode::OK, "").await
}

async fn render(
    st: &AppState,
    user: &ConsoleUser,
    f: &StaffForm,
    errors: &[FieldError],
    status: StatusCode,
    notice: &str,
) -> Response {
    match build(st, user, f, errors).await {
        Ok(body) => html::page(
            status,
            "Staff",
            Some(&user.viewer()),
            &format!("{notice}{body}"),
        ),
        Err(e) => user.error(e),
    }
}

async fn build(
    st: &AppState,
    user: &ConsoleUser,
    f: &StaffForm,
    errors: &[FieldError],
) -> Result<String> {
    user.caller.may(ServiceOp::CreateStaff)?;
    let rows = crate::core::queries::staff(st.store.pool(), None).await?;
    let pharmacies = db::pharmacies::list(st.store.pool()).await?;
    let mut table = String::new();
    for r in &rows {
        let (id, has_password) = (&r.id, r.has_password);
        table.push_str(&format!(
            "<tr><td>{name}</td><td>{email}</td><td>{role}</td><td>{team}</td><td>{can}</td><td>\
             <form method=\"post\" action=\"/console/staff/{id}/password\" class=\"inline\">{csrf}\
             <label class=\"visually-hidden\" for=\"pw-{id}\">New password for {name}</label>\
             <input id=\"pw-{id}\" name=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"12\" size=\"16\">\
             <button type=\"submit\" class=\"secondary\">{verb} password</button></form></td></tr>",
            id = esc(id),
            name = esc(&r.name),
            email = esc(&r.email),
            role = esc(&r.role),
            team = esc(r.team.as_deref().unwrap_or_default()),
            can = if has_password { "yes" } else { "no (token only)" },
            verb = if has_password { "Reset" } else { "Set" },
            csrf = csrf_field(&user.csrf),
        ));
    }
    let sel = |r: &str| if f.role == r { " selected" } else { "" };
    let input = |n: &str, l: &str, k: &str, v: &str| html::input(errors, n, l, k, v, "");
    Ok(format!(
        "{table}<form method=\"post\" action=\"/console/staff\" id=\"create-staff\"><h2>Create a staff member</h2>{summary}{csrf}\
         {name}{email}<label for=\"role\">Role</label><select id=\"role\" name=\"role\">\
         <option value=\"keyworker\"{k}>keyworker</option><option value=\"clinician\"{c}>clinician</option>\
         <option value=\"pharmacist\"{p}>pharmacist</option><option value=\"admin\"{a}>admin</option></select>{role_err}\
         {pharmacy}{team}{password}<div><button type=\"submit\">Create</button></div></form>",
        table = html::scroll(
            "Staff",
            &format!(
                "<table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">E-mail</th>\
                 <th scope=\"col\">Role</th><th scope=\"col\">Team</th><th scope=\"col\">Console sign-in</th>\
                 <th scope=\"col\">Password</th></tr></thead><tbody>{table}</tbody></table>"
            )
        ),
        summary = error_summary(errors),
        csrf = csrf_field(&user.csrf),
        name = input("name", "Name", "text", &f.name),
        email = input("email", "E-mail", "email", &f.email),
        k = sel("keyworker"),
        c = sel("clinician"),
        p = sel("pharmacist"),
        a = sel("admin"),
        role_err = html::field_error(errors, "role"),
        pharmacy = pharmacy_choice(&pharmacies, f, errors),
        team = input(
            "team",
            "Team (keyworkers and clinicians; colleagues in one team cover each other's caseloads)",
            "text",
            &f.team
        ),
        password = input(
            "password",
            "Console password (optional; at least 12 characters)",
            "password",
            ""
        ),
    ))
}

/// The pharmacist's pharmacy, chosen by name and ODS code from the enrolled pharmacies (the
/// form posts its id, as the API takes it).
fn pharmacy_choice(
    pharmacies: &[db::pharmacies::Pharmacy],
    f: &StaffForm,
    errors: &[FieldError],
) -> String {
    let err = html::field_error(errors, "pharmacy_id");
    let invalid = if err.is_empty() {
        ""
    } else {
        " aria-invalid=\"true\" aria-describedby=\"pharmacy_id-error\""
    };
    let options: String = pharmacies
        .iter()
        .map(|p| {
            format!(
                "<option value=\"{id}\"{sel}>{name} ({ods})</option>",
                id = esc(&p.id),
                sel = if f.pharmacy_id == p.id {
                    " selected"
                } else {
                    ""
                },
                name = esc(&p.name),
                ods = esc(&p.ods_code),
            )
        })
        .collect();
    format!(
        "<label for=\"pharmacy_id\">Pharmacy (pharmacists only)</label>\
         <select id=\"pharmacy_id\" name=\"pharmacy_id\"{invalid}>\
         <option value=\"\">none: not a pharmacist</option>{options}</select>{err}"
    )
}

pub async fn create(
    State(st): State<AppState>,
    user: ConsoleUser,
    Form(f): Form<StaffForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let run = async {
        user.caller.may(ServiceOp::CreateStaff)?;
        let Some(role) = Role::parse(&f.role) else {
            return Err(Error::field(
                "role",
                "must be admin, clinician, keyworker or pharmacist",
            ));
        };
        if !f.password.is_empty() {
            password::validate("password", &f.password)?;
        }
        let req = CreateStaff {
            name: f.name.clone(),
            email: f.email.clone(),
            role,
            pharmacy_id: Some(f.pharmacy_id.trim().to_string()).filter(|p| !p.is_empty()),
            team: Some(f.team.trim().to_string()).filter(|t| !t.is_empty()),
        };
        let created = staff::create(&st.store, &user.caller, req).await?;
        if !f.password.is_empty() {
            let mut w = st.store.write().await?;
            db::staff::set_password(
                &mut w,
                &user.actor(),
                &created.id,
                &password::hash(&f.password),
            )
            .await?;
            w.commit().await?;
        }
        Ok(created)
    };
    match run.await {
        Ok(c) => {
            let notice = format!(
                "<div class=\"notice\" role=\"status\"><p>Staff member created. Their API token, shown once \
                 (for integrations only):</p><p class=\"secret\">{}</p></div>",
                esc(&c.token)
            );
            render(
                &st,
                &user,
                &StaffForm::default(),
                &[],
                StatusCode::CREATED,
                &notice,
            )
            .await
        }
        Err(Error::Validation(errs)) => {
            render(&st, &user, &f, &errs, StatusCode::UNPROCESSABLE_ENTITY, "").await
        }
        Err(Error::Conflict { field, detail }) => {
            render(
                &st,
                &user,
                &f,
                &[FieldError::new(field, detail)],
                StatusCode::CONFLICT,
                "",
            )
            .await
        }
        Err(e) => user.error(e),
    }
}

pub async fn set_password(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<StaffForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let run = async { staff::set_password(&st.store, &user.caller, &id, &f.password).await };
    match run.await {
        Ok(()) => see_other("/console/staff"),
        Err(Error::Validation(errs)) => {
            render(
                &st,
                &user,
                &StaffForm::default(),
                &errs,
                StatusCode::UNPROCESSABLE_ENTITY,
                "",
            )
            .await
        }
        Err(e) => user.error(e),
    }
}
