//! Sotto's embedded MQTT broker: rmqtt running on the caller's tokio runtime, with
//! authentication answered by the server's own records ([`Authenticator`]) and the per-pharmacy
//! per-pharmacy topic rules (module `acl`) enforced for every client.
//!
//! The broker's queue is a convenience, not the record: it lives in memory and is lost on
//! restart. Lossless sync relies on the server's outbox and the client's resync.
//!
//! ```no_run
//! # async fn run(auth: std::sync::Arc<dyn sotto_broker::Authenticator>) -> Result<(), sotto_broker::BrokerError> {
//! let config = sotto_broker::BrokerConfig { addr: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
//! let broker = sotto_broker::Broker::start(config, auth).await?;
//! println!("MQTT on {}", broker.local_addr());
//! broker.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod acl;
mod config;
mod hooks;
mod shared_sub;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rmqtt::context::ServerContext;
use rmqtt::server::MqttServer;
use tokio::task::JoinHandle;

pub use acl::pharmacy_client_id;
pub use config::{BrokerConfig, BrokerTls};
/// The rustls the TLS listener is built on (for [`BrokerTls::server_config`]).
pub use tokio_rustls::rustls;

/// Who a connecting client is, decided by the server's own records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The Sotto server: may use every topic under `sotto/v1/`.
    Server,
    /// One pharmacy: may read only its own state topic and write only its own reports topic.
    Pharmacy {
        /// Spliced into topics, so it must not contain `/`, `+`, `#` or NUL (such identities are
        /// refused at CONNECT).
        pharmacy_id: String,
    },
}

/// Answers "who presented these credentials?". The server implements this from its database.
pub trait Authenticator: Send + Sync + 'static {
    /// `None` refuses the connection (CONNACK "bad user name or password").
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Option<Identity>> + Send + 'a>>;
}

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The address could not be bound, most often because the port is taken.
    #[error(
        "cannot listen for MQTT on {addr}: {source} (is the port taken? set SOTTO_MQTT_EMBEDDED_ADDR)"
    )]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The TLS address could not be bound.
    #[error(
        "cannot listen for MQTT over TLS on {addr}: {source} (is the port taken? set SOTTO_MQTT_EMBEDDED_TLS_ADDR)"
    )]
    TlsBind {
        /// The configured address.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// Anything else rmqtt reported.
    #[error("embedded broker failed: {0}")]
    Other(String),
}

/// A running broker. Call [`Broker::shutdown`] to stop it; dropping it only stops accepting.
pub struct Broker {
    local_addr: SocketAddr,
    scx: ServerContext,
    /// The accept loop; it owns the listening socket, so aborting it frees the port.
    accept_task: Option<JoinHandle<()>>,
    /// Where the TLS listener is bound, if there is one.
    local_tls_addr: Option<SocketAddr>,
    /// The TLS accept loop and its relays; aborting it frees the port and closes them.
    tls_task: Option<JoinHandle<()>>,
}

/// How long [`Broker::shutdown`] keeps disconnecting clients (a handshake that was in flight
/// when accepting stopped can still add a session) before giving up.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl Broker {
    /// Binds and starts serving on the current tokio runtime. A taken port is a clear error,
    /// returned before anything runs.
    pub async fn start(
        config: BrokerConfig,
        auth: Arc<dyn Authenticator>,
    ) -> Result<Broker, BrokerError> {
        let listener = config
            .listener_builder()
            .bind()
            .map_err(|e| bind_error(config.addr, e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BrokerError::Other(format!("{e:#}")))?;
        // Bound now, so a taken TLS port fails start-up before anything runs, like the plain one.
        let tls = match config.tls.clone() {
            Some(t) => {
                let listener = tls::bind(&t).await.map_err(|source| BrokerError::TlsBind {
                    addr: t.addr,
                    source,
                })?;
                let addr = listener
                    .local_addr()
                    .map_err(|e| BrokerError::Other(e.to_string()))?;
                Some((listener, addr, t))
            }
            None => None,
        };

        // Each broker has its own context (sessions, routes, hooks), so several can run in one
        // process. The busy check is off: it samples process-wide CPU load, refuses CONNECTs
        // when it is high (a busy test run or a busy server would lock pharmacies out) and
        // spawns a task that would outlive `shutdown`.
        let scx = ServerContext::new().busy_check_enable(false).build().await;
        hooks::register(&scx, auth).await;
        *scx.extends.shared_subscription_mut().await = Box::new(shared_sub::RoundRobin::default());

        // Keyed by the real port: rmqtt keys listener settings by port and 0 is not unique.
        let server = MqttServer::new(scx.clone())
            .listener_by_id(listener, local_addr.port())
            .build();
        let accept_task = tokio::spawn(async move {
            if let Err(e) = server.run().await {
                tracing::error!(error = %format!("{e:#}"), "embedded MQTT broker stopped");
            }
        });
        tracing::info!(%local_addr, "embedded MQTT broker listening");
        let local_tls_addr = tls.as_ref().map(|(_, addr, _)| *addr);
        let tls_task = tls.map(|(listener, addr, t)| {
            tracing::info!(%addr, "embedded MQTT broker listening (TLS)");
            tokio::spawn(tls::serve(listener, t, local_addr))
        });
        Ok(Broker {
            local_addr,
            scx,
            accept_task: Some(accept_task),
            local_tls_addr,
            tls_task,
        })
    }

    /// The address actually bound (with the real port when the configured port was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where MQTT over TLS is accepted (with the real port), if [`BrokerConfig::tls`] was set.
    pub fn local_tls_addr(&self) -> Option<SocketAddr> {
        self.local_tls_addr
    }

    /// Stops accepting, disconnects clients, frees the port. After it returns, a new Broker can
    /// bind the same address. Queued messages and persistent sessions are discarded.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.tls_task.take() {
            task.abort();
            let _ = task.await;
        }
        if let Some(task) = self.accept_task.take() {
            task.abort();
            // Awaiting the aborted task guarantees the listener has been dropped.
            let _ = task.await;
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while kick_all(&self.scx).await > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tracing::info!(local_addr = %self.local_addr, "embedded MQTT broker stopped");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(task) = self.tls_task.take() {
            task.abort();
        }
        if let Some(task) = self.accept_task.take() {
            task.abort();
        }
    }
}

/// Disconnects every session (online or offline) and discards it; returns how many there were.
async fn kick_all(scx: &ServerContext) -> usize {
    let entries: Vec<_> = scx.extends.shared().await.iter().collect();
    let count = entries.len();
    for entry in entries {
        // A locked entry is mid-handshake or mid-kick; the caller's next round retries it.
        if let Ok(mut locked) = entry.try_lock().await {
            // clean_start + clear_subscriptions + admin kick: the session is removed, not kept
            // offline.
            let _ = locked.kick(true, true, true).await;
        }
    }
    count
}

fn bind_error(addr: SocketAddr, e: rmqtt::Error) -> BrokerError {
    match e.downcast::<std::io::Error>() {
        Ok(source) => BrokerError::Bind { addr, source },
        Err(e) => BrokerError::Other(format!("{e:#}")),
    }
}
