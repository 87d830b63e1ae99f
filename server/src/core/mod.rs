//! The application core: the service's operations, who may do them (`access`), the store and
//! the rules they apply. The adapters — `http/` (JSON API), `console/` (staff pages), `fhir/`
//! and `sync/` (the MQTT link) — parse, call the core and render; nothing here imports them.

pub mod access;
pub mod break_glass;
pub mod counter_state;
pub mod daily;
pub mod db;
pub mod dispensing;
pub mod email;
pub mod holds;
pub mod outbox;
pub mod passwords;
pub mod pharmacies;
pub mod prescriptions;
pub mod queries;
pub mod records;
pub mod risk;
pub mod secrets;
pub mod service_users;
pub mod staff;
pub mod status;
pub mod transfers;
pub mod values;

use std::sync::Arc;

use crate::config::Config;
use crate::core::db::Store;

/// What every operation works with: the store, the settings, the broker link's handle.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    /// Whether the broker connection is up (absent only when a tool builds the router without one).
    pub link: Option<Arc<dyn LinkStatus>>,
    /// The key pharmacies pin (base64url), handed out at enrolment.
    pub server_public_key: String,
    /// Failed authentications per address.
    pub auth_limiter: Arc<crate::auth_limit::AuthLimiter>,
}

impl AppState {
    /// Today in the service's own time zone (`SOTTO_SERVICE_TIMEZONE`), never the UTC date:
    /// the two differ for an hour a night in summer.
    pub fn service_today(&self) -> chrono::NaiveDate {
        chrono::Utc::now()
            .with_timezone(&self.config.service_timezone)
            .date_naive()
    }
}

/// What the core may ask of the broker connection the MQTT adapter owns.
pub trait LinkStatus: Send + Sync {
    fn is_connected(&self) -> bool;
}
