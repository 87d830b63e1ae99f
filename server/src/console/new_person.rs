//! Adding a person (keyworkers and clinicians): the same code as `POST /api/v1/service-users`,
//! with the pharmacy, keyworker and prescriber chosen from lists by name — never typed as ids.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use serde::Deserialize;
use sotto_domain::FieldError;

use super::html::{self, csrf_field, error_summary, esc};
use super::session::{ConsoleUser, see_other};
use crate::core::AppState;
use crate::core::access::{Role, ServiceOp};
use crate::core::db;
use crate::core::service_users::{self, CreateServiceUser};
use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct NewPersonForm {
    pub csrf: String,
    pub reference: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub pharmacy_id: String,
    pub keyworker_id: String,
    pub prescriber_id: String,
    pub heads_up_email: String,
}

pub async fn page(State(st): State<AppState>, user: ConsoleUser) -> Response {
    // The viewer is the usual keyworker or prescriber of the people they add.
    let mut f = NewPersonForm::default();
    match user.caller.role {
        Role::Keyworker => f.keyworker_id = user.caller.id.clone(),
        Role::Clinician => f.prescriber_id = user.caller.id.clone(),
        _ => {}
    }
    render(&st, &user, &f, &[], StatusCode::OK).await
}

async fn render(
    st: &AppState,
    user: &ConsoleUser,
    f: &NewPersonForm,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    match build(st, user, f, errors).await {
        Ok(body) => html::page(status, "Add a person", Some(&user.viewer()), &body),
        Err(e) => user.error(e),
    }
}

/// `(id, words)` for each staff member with `role`, by name.
async fn staff_choices(st: &AppState, role: Role) -> Result<Vec<(String, String)>> {
    Ok(crate::core::queries::staff(st.store.pool(), Some(role))
        .await?
        .into_iter()
        .map(|s| (s.id, format!("{} ({})", s.name, s.email)))
        .collect())
}

/// A labelled list of `choices` (`value`, words) with a first "Choose…" option and its error.
fn choice(
    errors: &[FieldError],
    name: &str,
    label: &str,
    choices: &[(String, String)],
    chosen: &str,
) -> String {
    let err = html::field_error(errors, name);
    let invalid = if err.is_empty() {
        String::new()
    } else {
        format!(" aria-invalid=\"true\" aria-describedby=\"{name}-error\"")
    };
    let options: String = choices
        .iter()
        .map(|(value, words)| {
            format!(
                "<option value=\"{v}\"{sel}>{w}</option>",
                v = esc(value),
                sel = if value == chosen { " selected" } else { "" },
                w = esc(words),
            )
        })
        .collect();
    format!(
        "<label for=\"{name}\">{label}</label><select id=\"{name}\" name=\"{name}\" required{invalid}>\
         <option value=\"\">Choose…</option>{options}</select>{err}",
        label = esc(label),
    )
}

async fn build(
    st: &AppState,
    user: &ConsoleUser,
    f: &NewPersonForm,
    errors: &[FieldError],
) -> Result<String> {
    user.caller.may(ServiceOp::RegisterPerson)?;
    let pharmacies: Vec<(String, String)> = db::pharmacies::list(st.store.pool())
        .await?
        .into_iter()
        .map(|p| (p.id, format!("{} ({})", p.name, p.ods_code)))
        .collect();
    let keyworkers = staff_choices(st, Role::Keyworker).await?;
    let prescribers = staff_choices(st, Role::Clinician).await?;
    let input = |n: &str, l: &str, k: &str, v: &str| html::input(errors, n, l, k, v, "");
    Ok(format!(
        "<form method=\"post\" action=\"/console/people/new\" id=\"new-person\">{summary}{csrf}\
         {reference}{given}{family}{dob}{pharmacy}{keyworker}{prescriber}{heads_up}\
         <div><button type=\"submit\">Add this person</button></div></form>",
        summary = error_summary(errors),
        csrf = csrf_field(&user.csrf),
        reference = input("reference", "Service reference", "text", &f.reference),
        given = input("given_name", "Given name", "text", &f.given_name),
        family = input("family_name", "Family name", "text", &f.family_name),
        dob = input("date_of_birth", "Date of birth", "date", &f.date_of_birth),
        pharmacy = choice(
            errors,
            "pharmacy_id",
            "Pharmacy",
            &pharmacies,
            &f.pharmacy_id
        ),
        keyworker = choice(
            errors,
            "keyworker_id",
            "Keyworker",
            &keyworkers,
            &f.keyworker_id
        ),
        prescriber = choice(
            errors,
            "prescriber_id",
            "Prescriber",
            &prescribers,
            &f.prescriber_id
        ),
        heads_up = input(
            "heads_up_email",
            "E-mail for a private heads-up about holds (optional, the person's choice)",
            "email",
            &f.heads_up_email
        ),
    ))
}

pub async fn create(
    State(st): State<AppState>,
    user: ConsoleUser,
    Form(f): Form<NewPersonForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let run = async {
        let date_of_birth =
            NaiveDate::parse_from_str(f.date_of_birth.trim(), "%Y-%m-%d").map_err(|_| {
                Error::field(
                    "date_of_birth",
                    "must be a date: choose one in the date picker",
                )
            })?;
        let req = CreateServiceUser {
            reference: f.reference.clone(),
            given_name: f.given_name.clone(),
            family_name: f.family_name.clone(),
            date_of_birth,
            pharmacy_id: f.pharmacy_id.clone(),
            keyworker_id: f.keyworker_id.clone(),
            prescriber_id: f.prescriber_id.clone(),
            heads_up_email: Some(f.heads_up_email.clone()).filter(|e| !e.trim().is_empty()),
        };
        service_users::register(&st, &user.caller, req).await
    };
    match run.await {
        Ok(su) => see_other(&format!("/console/people/{}", su.id)),
        Err(Error::Validation(errs)) => {
            render(&st, &user, &f, &errs, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(Error::Conflict { field, detail }) => {
            let errs = [FieldError::new(field, detail)];
            render(&st, &user, &f, &errs, StatusCode::CONFLICT).await
        }
        Err(e) => user.error(e),
    }
}
