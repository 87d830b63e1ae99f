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
pub mod service_users;
pub mod staff;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use tower_http::trace::TraceLayer;
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
fn split() -> (Router<AppState>, utoipa::openapi::OpenApi) {
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
        .merge(audit::router())
}

pub fn router(state: AppState) -> Router {
    let (router, api) = split();
    let api = Arc::new(api);
    let limit = state.config.max_body_bytes;
    router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let api = api.clone();
                async move { axum::Json((*api).clone()) }
            }),
        )
        // The staff console: HTML pages, outside the OpenAPI document.
        .nest(
            "/console",
            crate::console::router().layer(axum::middleware::from_fn_with_state(
                state.clone(),
                crate::console::headers::security_headers,
            )),
        )
        // FHIR R4: described by its CapabilityStatement, outside the OpenAPI document.
        .nest("/fhir/r4", crate::fhir::router())
        .route(
            "/",
            axum::routing::get(|| async { axum::response::Redirect::to("/console") }),
        )
        .fallback(|| async { crate::error::Error::NotFound("route") })
        .layer(DefaultBodyLimit::max(limit))
        // Spans carry the route template, never the ids or query (they can identify a person).
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "unmatched".into());
            tracing::info_span!("http", method = %req.method(), route)
        }))
        .with_state(state)
}
