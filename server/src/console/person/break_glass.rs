//! Outside the caseload: instead of a bare "not allowed", the person page offers to break glass —
//! state why, and the record opens for an hour (audited; the service and the keyworker of record
//! are told). Nothing about the person is shown before that, not even their name.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use sotto_domain::FieldError;

use crate::console::html::{self, csrf_field, error_summary, esc, field_error};
use crate::console::session::{ConsoleUser, see_other};
use crate::core::AppState;
use crate::core::access::{self, BREAK_GLASS_MINUTES, PersonOp};
use crate::core::{break_glass, db};
use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct GlassForm {
    pub csrf: String,
    pub reason: String,
}

/// The page for a refusal: the break-glass form when the viewer may break glass for this person,
/// else the plain refusal.
pub(super) async fn refused(st: &AppState, user: &ConsoleUser, id: &str, e: Error) -> Response {
    match offer(st, user, id).await {
        Ok(true) => form_page(
            user,
            id,
            &GlassForm::default(),
            &[],
            StatusCode::FORBIDDEN,
            &e,
        ),
        _ => user.error(e),
    }
}

async fn offer(st: &AppState, user: &ConsoleUser, id: &str) -> Result<bool> {
    let Some(su) = db::service_users::get(st.store.pool(), id).await? else {
        return Ok(false);
    };
    Ok(
        access::check(&st.store, &user.caller, &su, PersonOp::BreakGlass)
            .await
            .is_ok(),
    )
}

fn form_page(
    user: &ConsoleUser,
    id: &str,
    f: &GlassForm,
    errors: &[FieldError],
    status: StatusCode,
    why: &Error,
) -> Response {
    let detail = match why {
        Error::Forbidden(d) => d.clone(),
        _ => String::new(),
    };
    let body = format!(
        "<p class=\"notice\">{detail}</p>\
         <form method=\"post\" action=\"/console/people/{id}/break-glass\" id=\"break-glass\">\
         <h2>Open this record anyway</h2>{summary}{csrf}\
         <p>The record opens to you for {minutes} minutes. Your reason is kept in the audit log, \
         and the service and the person's keyworker are told that you opened it.</p>\
         <label for=\"reason\">Why you need this record now</label>\
         <textarea id=\"reason\" name=\"reason\" rows=\"3\" required minlength=\"10\"{invalid}>{reason}</textarea>{err}\
         <div><button type=\"submit\">Break glass and open the record</button></div></form>",
        detail = esc(&detail),
        id = esc(id),
        summary = error_summary(errors),
        csrf = csrf_field(&user.csrf),
        minutes = BREAK_GLASS_MINUTES,
        invalid = if errors.is_empty() {
            ""
        } else {
            " aria-invalid=\"true\" aria-describedby=\"reason-error\""
        },
        reason = esc(&f.reason),
        err = field_error(errors, "reason"),
    );
    html::page(status, "Not on your caseload", Some(&user.viewer()), &body)
}

pub async fn submit(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<GlassForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    match break_glass::open(&st, &user.caller, &id, &f.reason).await {
        Ok(_) => see_other(&format!("/console/people/{id}")),
        Err(Error::Validation(errs)) => {
            let why = Error::Forbidden("This person is not on your caseload.".into());
            form_page(
                &user,
                &id,
                &f,
                &errs,
                StatusCode::UNPROCESSABLE_ENTITY,
                &why,
            )
        }
        Err(e) => user.error(e),
    }
}
