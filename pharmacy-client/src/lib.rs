//! The Sotto pharmacy counter client: keeps a local copy of what the treatment service pushes
//! over MQTT, and shows the pharmacist a discreet status code (A–F) for the person at the
//! counter — from the local store, so it works offline and says plainly when it is stale.
//!
//! - [`config`]: settings from the environment.
//! - `store`: the local SQLite copy; each server message applied in one transaction.
//! - `sync`: the ordering rules (apply in sequence, ignore replays, resync on gaps).
//! - `mqtt`: the persistent-session link (poll task + worker; ack after commit).
//! - `counter`: codes, hand-over and staleness for one person today.
//! - `store/reports`: supplies, closed days and the reports outbox (one transaction each).
//! - `closing`: closing the day (missed doses), by itself at closing time and at start-up.
//! - `today`: today's list (and tomorrow's): who is due, with their containers (clause 5).
//! - `http`: the counter page (today's list, its print view, the supply and close-day
//!   forms), `/api/status`, `/api/today`,
//!   `/api/supplies`, `/api/close-day` and `/healthz`, behind `http::guard` (only the page
//!   itself or a local program with the API token may change anything).
//! - [`clock`]: the time, injectable so tests need no sleeping or real midnight.
#![forbid(unsafe_code)]

pub mod clock;
mod closing;
pub mod config;
mod counter;
mod error;
mod http;
mod mqtt;
mod records;
mod store;
mod sync;
mod today;

/// The counter API's request decoders, exactly as the handlers run them: public only for the
/// fuzz targets in `fuzz/`, which feed them arbitrary bytes.
#[doc(hidden)]
pub mod decode {
    pub use crate::http::{
        ApiError, CloseDayRequest, SupplyForm, SupplyRequest, close_day_request, supply_request,
    };
}

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use clock::{Clock, SystemClock};
pub use config::{Config, ConfigError};
pub use error::Error;

/// How often the client checks whether a day is due to be closed.
const CLOSE_CHECK_EVERY: Duration = Duration::from_secs(20);

/// A client ready to run: store open, HTTP port bound.
pub struct PharmacyClient {
    config: Config,
    /// For an `mqtts://` broker: what we trust.
    mqtt_tls: Option<Arc<rustls::ClientConfig>>,
    store: store::Store,
    listener: TcpListener,
    http_addr: SocketAddr,
    clock: Arc<dyn Clock>,
    close_check_every: Duration,
    /// What the JSON API asks for (`Authorization: Bearer`).
    api_token: String,
}

impl PharmacyClient {
    /// Opens/creates the local store (`data_dir/client.db`, migrations embedded) and binds
    /// HTTP. Does not need the broker: the counter answers from the store until it connects.
    pub async fn build(config: Config) -> anyhow::Result<PharmacyClient> {
        // Checked here so a bad URL or CA file fails at start-up, not later in a background task.
        let url = config::parse_mqtt_url(&config.mqtt_url)
            .map_err(anyhow::Error::msg)
            .context("SOTTO_MQTT_URL is not valid")?;
        // Err: a provider is already installed (the server's demo runs us in its process).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mqtt_tls = url
            .tls
            .then(|| mqtt::tls::client_config(config.mqtt_ca_file.as_deref()))
            .transpose()?;
        let store = store::Store::open(&config.data_dir)
            .await
            .with_context(|| {
                format!(
                    "Failed to open the local store in {}",
                    config.data_dir.display()
                )
            })?;
        let api_token = http::guard::api_token(config.api_token.as_deref(), &config.data_dir)
            .with_context(|| {
                format!(
                    "Failed to read or make the API token file in {}",
                    config.data_dir.display()
                )
            })?;
        let listener = TcpListener::bind(config.http_addr).await.with_context(|| {
            format!("Failed to listen on {} (SOTTO_HTTP_ADDR)", config.http_addr)
        })?;
        let http_addr = listener
            .local_addr()
            .context("Failed to read the bound address")?;
        Ok(PharmacyClient {
            config,
            mqtt_tls,
            store,
            listener,
            http_addr,
            clock: Arc::new(SystemClock),
            close_check_every: CLOSE_CHECK_EVERY,
            api_token,
        })
    }

    /// Reads the time from `clock` instead of the computer's clock (tests move time with it).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> PharmacyClient {
        self.clock = clock;
        self
    }

    /// How often to check whether a day is due to be closed (default 20 s).
    pub fn with_close_check_every(mut self, every: Duration) -> PharmacyClient {
        self.close_check_every = every;
        self
    }

    /// The token local programs send to the JSON API (`Authorization: Bearer …`): the
    /// configured one, or the one kept in `data_dir/api-token`.
    pub fn api_token(&self) -> &str {
        &self.api_token
    }

    /// Where the counter page is served (the real port when 0 was asked for).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Runs the MQTT link and the HTTP server until `shutdown` is cancelled; then stops
    /// cleanly: in-flight requests and the message being applied finish, the store is closed.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        // Our own child token, so a failing HTTP server also stops the link.
        let stop = shutdown.child_token();
        let link = Arc::new(mqtt::LinkStatus::default());
        let tracker = TaskTracker::new();
        mqtt::spawn(
            &self.config,
            self.mqtt_tls.clone(),
            self.store.clone(),
            link.clone(),
            self.clock.clone(),
            &tracker,
            stop.clone(),
        )?;
        let closer = Arc::new(closing::Closer::new(
            self.store.clone(),
            self.clock.clone(),
            link.clone(),
            self.config.max_clock_skew,
        ));
        tracker.spawn(closing::run(
            closer.clone(),
            self.close_check_every,
            stop.clone(),
        ));
        tracing::info!(addr = %self.http_addr, "counter page listening");
        let app = http::router(http::AppState {
            store: self.store.clone(),
            link,
            stale_after: self.config.stale_after,
            max_clock_skew: self.config.max_clock_skew,
            clock: self.clock.clone(),
            closer,
            guard: Arc::new(http::guard::Guard::new(
                self.api_token.clone(),
                self.config.counter_hosts.clone(),
            )),
        });
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(stop.clone().cancelled_owned())
            .await
            .context("HTTP server failed");
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        self.store.close().await;
        tracing::info!("stopped");
        served
    }
}
