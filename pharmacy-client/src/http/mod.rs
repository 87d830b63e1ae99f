//! The HTTP side: the counter page (`page`, and closing the day from it: `close_page`), the
//! status, supplies and close-day API and the health check (`api`), recording a supply
//! (`supply`, shared by the page and the API), and who may ask for any of it (`guard`).
//! Everything is read from the local store on each request, so it works offline.

mod api;
mod close_page;
mod error;
pub(crate) mod guard;
mod html;
mod page;
mod records_page;
mod supply;
mod today_page;

// The request decoders, exactly as the handlers run them (re-exported for the fuzz targets).
pub use api::{CloseDayRequest, close_day_request, supply_request};
pub use error::ApiError;
pub use page::SupplyForm;
pub use supply::SupplyRequest;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sotto_protocol::PersonState;

use crate::clock::Clock;
use crate::closing::Closer;
use crate::counter::{self, ClockProblem, Freshness, LocalRecords, PersonStatus};
use crate::mqtt::LinkStatus;
use crate::store::{Meta, Store};

/// What handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Store,
    pub link: Arc<LinkStatus>,
    pub stale_after: Duration,
    /// Beyond this difference from the service's clock, nothing is supplied.
    pub max_clock_skew: Duration,
    pub clock: Arc<dyn Clock>,
    pub closer: Arc<Closer>,
    /// The tokens and host names that decide who may ask (see [`guard`]).
    pub guard: Arc<guard::Guard>,
}

/// All routes. Every request passes the host and cross-site checks; the JSON API's POSTs also
/// need the API token. No route answers CORS preflights: no other origin is ever let in.
pub(crate) fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/supplies", post(api::supplies))
        .route("/api/close-day", post(api::close_day))
        .route_layer(from_fn_with_state(state.clone(), guard::require_api_token));
    let api_reads = Router::new()
        .route("/api/today", get(api::today))
        .route("/api/supply-log", get(records_page::api))
        .route_layer(from_fn_with_state(
            state.clone(),
            guard::require_api_token_to_read,
        ));
    Router::new()
        .route("/", get(page::counter))
        .route("/today", get(page::counter))
        .route("/today/print", get(today_page::print))
        .route("/records", get(records_page::page_view))
        .route("/records.csv", get(records_page::csv))
        .route("/supply", post(page::supply))
        .route("/close-day", post(close_page::close_day))
        .route("/api/status", get(api::status))
        .route("/healthz", get(api::healthz))
        .merge(api)
        .merge(api_reads)
        .layer(from_fn_with_state(state.clone(), guard::check_request))
        .with_state(state)
}

/// One consistent view for a request: the store's meta, the pharmacy's "today" and freshness.
pub(crate) struct View {
    pub meta: Meta,
    pub zone: Tz,
    pub today: NaiveDate,
    pub freshness: Freshness,
    /// This PC's clock is wrong (the one plain state the counter then shows).
    pub clock: Option<ClockProblem>,
    /// Goes in every form the page renders (see [`guard`]).
    pub form_token: String,
}

impl AppState {
    /// One person's status in `view`, with this pharmacy's own records of them (supplies,
    /// missed days).
    async fn status_now(
        &self,
        view: &View,
        person: &PersonState,
    ) -> Result<PersonStatus, crate::error::Error> {
        let id = person.service_user_id.as_str();
        let local = self
            .store
            .local_records(&[id], view.today)
            .await?
            .remove(id)
            .unwrap_or_default();
        Ok(view.status_of(person, &local))
    }

    /// The view of `meta` at `now`.
    fn view(&self, meta: Meta, now: DateTime<Utc>) -> View {
        let zone = counter::zone(meta.pharmacy.as_ref());
        let today = now.with_timezone(&zone).date_naive();
        let clock = self.link.clock_problem(self.max_clock_skew);
        let mut freshness = Freshness::of(meta.synced_at, now, self.stale_after);
        // With this PC's clock far out, "how long since we heard" means nothing: not confirmed.
        freshness.stale |= clock.is_some();
        View {
            meta,
            zone,
            today,
            freshness,
            clock,
            form_token: self.guard.form_token().to_string(),
        }
    }
}

impl View {
    fn status_of(&self, person: &PersonState, local: &LocalRecords) -> PersonStatus {
        counter::person_status(person, self.today, local)
    }

    /// The pharmacy's opening pattern (open every day until the first snapshot).
    fn calendar(&self) -> sotto_domain::PharmacyCalendar {
        self.meta
            .pharmacy
            .as_ref()
            .map(counter::calendar)
            .unwrap_or_default()
    }

    /// The hidden field that carries the form token.
    fn form_token_field(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            html::esc(&self.form_token)
        )
    }

    /// A time as the pharmacist reads it: `14:05`, local.
    fn hh_mm(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.zone).format("%H:%M").to_string()
    }
}
