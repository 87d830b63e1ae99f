//! The staff console: server-rendered HTML pages for keyworkers, clinicians and admins, built on
//! the same rules and code as the API (role and visibility checks, validation messages, the
//! outbox and the audit chain). Served under `/console`, outside the OpenAPI document.
//!
//! Sign-in is e-mail and password (Argon2id); a session cookie then stands in for the bearer
//! token, and the signed-in staff member is the audit actor exactly as with a token.

pub mod calendar;
pub mod caseload;
mod enrol_form;
pub mod headers;
pub mod html;
pub mod ledger_view;
pub mod new_person;
pub mod person;
pub mod pharmacies;
pub mod pharmacy_clock;
mod pharmacy_hours;
pub mod risk;
pub mod session;
pub mod signin;
pub mod staff;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::core::AppState;
use crate::core::access::Role;
use session::ConsoleUser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(signin::form).post(signin::submit))
        .route("/sign-out", post(signin::sign_out))
        .route("/caseload", get(caseload::page))
        .route(
            "/people/new",
            get(new_person::page).post(new_person::create),
        )
        .route("/people/{id}", get(person::page))
        .route("/people/{id}/break-glass", post(person::break_glass))
        .route("/people/{id}/holds/preview", post(person::hold_preview))
        .route("/people/{id}/holds", post(person::hold_place))
        .route("/holds/{id}/lift/preview", post(person::lift_preview))
        .route("/holds/{id}/lift", post(person::lift))
        .route(
            "/prescriptions/{id}/regime-changes/preview",
            post(person::regime_preview),
        )
        .route(
            "/prescriptions/{id}/regime-changes",
            post(person::regime_change),
        )
        .route("/risk", get(risk::service))
        .route("/people/{id}/risk", get(risk::person))
        .route(
            "/pharmacies",
            get(pharmacies::page).post(pharmacies::submit),
        )
        .route("/staff", get(staff::page).post(staff::create))
        .route("/staff/{id}/password", post(staff::set_password))
}

/// Each role's starting page; pharmacists are pointed to the counter client.
async fn home(State(_st): State<AppState>, user: ConsoleUser) -> Response {
    match user.caller.role {
        Role::Keyworker | Role::Clinician => Redirect::to("/console/caseload").into_response(),
        Role::Admin => Redirect::to("/console/pharmacies").into_response(),
        Role::Pharmacist => html::page(
            StatusCode::OK,
            "Use the counter page",
            Some(&user.viewer()),
            "<p class=\"notice\">Pharmacists work from the counter page of the pharmacy client \
             (sotto-pharmacy) on the pharmacy's PC: it shows each person's code even when the \
             network is down. The console is for the treatment service.</p>",
        ),
    }
}
