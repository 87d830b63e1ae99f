//! Everything served over HTTP in one router: the JSON API (`http/`) with its OpenAPI document,
//! the staff console (`console/`) and FHIR R4 (`fhir/`), with the limits and tracing they share.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use tower_http::trace::TraceLayer;

use crate::core::AppState;
use crate::http;

pub fn router(state: AppState) -> Router {
    let (router, api) = http::split();
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
