//! The HTTP API: one module per resource, each with `router()`; the OpenAPI document is
//! collected from the handlers' annotations, not written by hand.

mod audit;
pub mod bearer;
mod error_responses;
mod health;
pub mod holds;
pub mod json;
pub(crate) mod params;
pub mod pharmacies;
pub(crate) mod prescriptions;
pub mod records;
pub mod service_users;
pub mod staff;
mod transfers;

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use crate::core::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Sotto", description = "Instalment dispensing, holds and regime changes for opioid substitution treatment."),
    servers((url = "/", description = "This Sotto server (paths are relative to where it is served)")),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    split().1
}

/// The routes and their document, with the shared error responses added once every route is in.
pub fn split() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut api) = api_router().split_for_parts();
    error_responses::ErrorResponses.modify(&mut api);
    (router, api)
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(staff::router())
        .merge(pharmacies::router())
        .merge(service_users::router())
        .merge(prescriptions::router())
        .merge(holds::router())
        .merge(records::router())
        .merge(transfers::router())
        .merge(audit::router())
}
