//! A running setup: the server in-process on a fresh SQLite file or PostgreSQL database, on its
//! embedded broker or a private Mosquitto, with a clinician and a keyworker to own the data.
//! Built from the end-to-end crate's helpers so the benchmarks run what the tests run.

use std::time::Duration;

use sotto_server::core::db::Store;
use sotto_tests::mosquitto::Mosquitto;
use sotto_tests::{Staff, TestApp};

pub use sotto_tests::Backend;
pub use sotto_tests::push::BrokerKind;

/// Every database × broker pairing the issue asks for.
pub const SETUPS: [(Backend, BrokerKind); 4] = [
    (Backend::Sqlite, BrokerKind::Embedded),
    (Backend::Sqlite, BrokerKind::Mosquitto),
    (Backend::Postgres, BrokerKind::Embedded),
    (Backend::Postgres, BrokerKind::Mosquitto),
];

pub fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

pub fn setup_name(b: Backend, k: BrokerKind) -> String {
    let broker = match k {
        BrokerKind::Embedded => "embedded rmqtt",
        BrokerKind::Mosquitto => "Mosquitto",
    };
    format!("{}, {broker}", backend_name(b))
}

pub struct Rig {
    pub app: TestApp,
    pub mosquitto: Option<Mosquitto>,
    pub clinician: Staff,
    pub keyworker: Staff,
}

impl Rig {
    pub async fn start(backend: Backend, kind: BrokerKind) -> Rig {
        let mosquitto = match kind {
            BrokerKind::Embedded => None,
            BrokerKind::Mosquitto => Some(Mosquitto::start().await),
        };
        let url = mosquitto.as_ref().map(|m| m.server_url());
        let app = TestApp::spawn_with(backend, |c| {
            c.mqtt_url = url;
            c.heartbeat_interval = Duration::from_secs(30);
        })
        .await;
        let clinician = app.staff("clinician", None).await;
        let keyworker = app.staff("keyworker", None).await;
        Rig {
            app,
            mosquitto,
            clinician,
            keyworker,
        }
    }

    /// A connection pool of our own, with the server's connection options.
    pub async fn store(&self) -> anyhow::Result<Store> {
        Store::connect(&self.app.config.database_url).await
    }

    /// After pharmacies were added: Mosquitto's password and ACL files are regenerated from the
    /// database and reloaded, as an operator does (the embedded broker asks the database itself).
    pub async fn broker_learns_pharmacies(&self) {
        if let Some(m) = &self.mosquitto {
            m.configure(&self.app).await;
        }
    }

    pub fn broker_port(&self) -> u16 {
        self.app.broker_addr.port()
    }
}

/// Waits for something to hold, polling every millisecond.
pub async fn poll_until<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while started.elapsed() < within {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}
