//! The Sotto pharmacy counter client: keeps a local copy of what the treatment service pushes
//! over MQTT, and shows the pharmacist a discreet status code (A–F) for the person at the
//! counter — from the local store, so it works offline and says plainly when it is stale.
//!
//! - [`config`]: settings from the environment.
//! - `store`: the local SQLite copy; each server message applied in one transaction.
//! - `sync`: the ordering rules (apply in sequence, ignore replays, resync on gaps).
//! - `mqtt`: the persistent-session link (poll task + worker; ack after commit).
//! - `counter`: codes, hand-over and staleness for one person today.
//! - `http`: the counter page, `/api/status` and `/healthz`.
#![forbid(unsafe_code)]

pub mod config;
mod counter;
mod error;
mod http;
mod mqtt;
mod store;
mod sync;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::{Config, ConfigError};
pub use error::Error;

/// A client ready to run: store open, HTTP port bound.
pub struct PharmacyClient {
    config: Config,
    store: store::Store,
    listener: TcpListener,
    http_addr: SocketAddr,
}

impl PharmacyClient {
    /// Opens/creates the local store (`data_dir/client.db`, migrations embedded) and binds
    /// HTTP. Does not need the broker: the counter answers from the store until it connects.
    pub async fn build(config: Config) -> anyhow::Result<PharmacyClient> {
        // Checked here so a bad URL fails at start-up, not later in a background task.
        config::parse_mqtt_url(&config.mqtt_url)
            .map_err(anyhow::Error::msg)
            .context("SOTTO_MQTT_URL is not valid")?;
        let store = store::Store::open(&config.data_dir)
            .await
            .with_context(|| {
                format!(
                    "Failed to open the local store in {}",
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
            store,
            listener,
            http_addr,
        })
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
            self.store.clone(),
            link.clone(),
            &tracker,
            stop.clone(),
        )?;
        tracing::info!(addr = %self.http_addr, "counter page listening");
        let app = http::router(http::AppState {
            store: self.store.clone(),
            link,
            stale_after: self.config.stale_after,
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
