//! Lossless push to pharmacies over MQTT (protocol: the `sotto-protocol` crate).
//!
//! Changes are written to the outbox in the change's own transaction ([`outbox`]); the
//! [`relay`] publishes them and marks them sent on PUBACK; [`reports`] answers pharmacies'
//! resync requests with snapshots; heartbeats advertise each pharmacy's latest acknowledged
//! `seq`. With no `SOTTO_MQTT_URL`, an embedded broker runs in-process ([`embedded`]).

pub mod embedded;
pub mod link;
pub mod mosquitto;
mod relay;
mod reports;
pub mod signing;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use sqlx::Row;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::core::db::Store;
use link::{Endpoint, Link};

/// What the background tasks share.
#[derive(Clone)]
pub struct Sync {
    pub store: Store,
    pub link: Link,
    pub service_phone: Option<String>,
    pub alerts: crate::core::dispensing::ingest::AlertSettings,
}

/// The running MQTT side: the embedded broker (if any) and the tasks.
pub struct SyncHandle {
    pub link: Link,
    /// What pharmacies pin: every message they accept is signed with its secret half.
    pub public_key: sotto_protocol::PublicKey,
    /// How the server itself connects (tests use it to play a forger with the server's rights).
    pub endpoint: Endpoint,
    broker: Option<sotto_broker::Broker>,
    /// Where pharmacies connect (the embedded broker's address, or the external broker's).
    pub broker_addr: SocketAddr,
    /// The embedded broker's TLS listener, when the server has a certificate.
    pub broker_tls_addr: Option<SocketAddr>,
    tasks: TaskTracker,
}

impl SyncHandle {
    /// Waits for every task to stop (after `shutdown` was cancelled), then stops the broker.
    pub async fn stopped(self) {
        self.tasks.close();
        self.tasks.wait().await;
        if let Some(b) = self.broker {
            b.shutdown().await;
        }
    }
}

/// Starts the embedded broker (when no external one is configured; with a TLS listener too when
/// `broker_tls` is given), the connection, the relay, the report handler and the heartbeat.
pub async fn start(
    config: &Config,
    store: Store,
    broker_tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) -> anyhow::Result<SyncHandle> {
    let (endpoint, broker, broker_addr) = match &config.mqtt_url {
        Some(url) => {
            let u = parse_mqtt_url(url)?;
            let tls = u
                .tls
                .then(|| crate::tls::client_config(config.mqtt_ca_file.as_deref()))
                .transpose()?;
            let e = u.into_endpoint(&config.mqtt_client_id, tls);
            let addr = tokio::net::lookup_host((e.host.as_str(), e.port))
                .await
                .ok()
                .and_then(|mut a| a.next())
                .with_context(|| format!("SOTTO_MQTT_URL: cannot resolve {}", e.host))?;
            (e, None, addr)
        }
        None => {
            let (broker, endpoint) = embedded::start(config, store.clone(), broker_tls).await?;
            let addr = broker.local_addr();
            (endpoint, Some(broker), addr)
        }
    };
    let broker_tls_addr = broker.as_ref().and_then(|b| b.local_tls_addr());
    let key = std::sync::Arc::new(signing::load_or_create(&store).await?);
    let public_key = key.public();
    let tasks = TaskTracker::new();
    let (incoming_tx, incoming_rx) = mpsc::channel(10_000);
    let link = Link::start(
        endpoint.clone(),
        vec![sotto_protocol::REPORTS_FILTER.to_string()],
        incoming_tx,
        key,
        &tasks,
        shutdown.clone(),
    );
    let sync = Sync {
        store: store.clone(),
        link: link.clone(),
        service_phone: config.service_phone.clone(),
        alerts: crate::core::dispensing::alerts::AlertSettings::from_config(config),
    };
    tasks.spawn(relay::run(
        store.clone(),
        link.clone(),
        store.outbox_wake(),
        shutdown.clone(),
    ));
    tasks.spawn(reports::run(sync.clone(), incoming_rx, shutdown.clone()));
    tasks.spawn(heartbeat(sync, config.heartbeat_interval, shutdown));
    Ok(SyncHandle {
        link,
        public_key,
        endpoint,
        broker,
        broker_addr,
        broker_tls_addr,
        tasks,
    })
}

/// Tells every pharmacy the latest acknowledged `seq`: keeps counters fresh when nothing
/// changes, and lets a client that lost the last delta notice and resync.
async fn heartbeat(sync: Sync, every: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        if !sync.link.is_connected() {
            continue;
        }
        let rows = match sqlx::query("SELECT id, sent_seq FROM pharmacies")
            .fetch_all(sync.store.pool())
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat: database unavailable");
                continue;
            }
        };
        for r in rows {
            let (Ok(id), Ok(seq)) = (
                r.try_get::<String, _>("id"),
                r.try_get::<i64, _>("sent_seq"),
            ) else {
                continue;
            };
            let msg = sotto_protocol::ServerMessage::new(
                id.as_str(),
                sotto_protocol::ServerBody::Heartbeat { seq: seq as u64 },
            );
            sync.link
                .publish(
                    sotto_protocol::state_topic(&id),
                    sotto_protocol::encode(&msg),
                )
                .await;
        }
    }
}

/// `SOTTO_MQTT_URL` taken apart.
pub struct MqttUrl {
    /// `mqtts://`: connect over TLS.
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

// Hand-written so the broker password never reaches a log line.
impl std::fmt::Debug for MqttUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttUrl")
            .field("tls", &self.tls)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl MqttUrl {
    /// How the server connects: as `client_id`, over TLS with `tls` (for `mqtts://`).
    pub fn into_endpoint(
        self,
        client_id: &str,
        tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> Endpoint {
        Endpoint {
            host: self.host,
            port: self.port,
            username: self.username,
            password: self.password,
            client_id: client_id.to_string(),
            tls,
        }
    }
}

/// `mqtt://[user[:password]@]host[:port]` (default port 1883), or `mqtts://...` for TLS (default
/// port 8883).
pub fn parse_mqtt_url(url: &str) -> anyhow::Result<MqttUrl> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
        (true, rest)
    } else {
        let rest = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
            .with_context(|| {
                format!(
                    "SOTTO_MQTT_URL: {:?} must look like mqtt://user:password@host:1883 or mqtts://user:password@host:8883",
                    crate::config::redact_url(url)
                )
            })?;
        (false, rest)
    };
    let rest = rest.trim_end_matches('/');
    let (creds, hostport) = match rest.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, rest),
    };
    let (username, password) = match creds {
        Some(c) => match c.split_once(':') {
            Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
            None => (Some(c.to_string()), None),
        },
        None => (None, None),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .context("SOTTO_MQTT_URL: the port is not a number")?,
        ),
        None => (hostport, if tls { 8883 } else { 1883 }),
    };
    anyhow::ensure!(!host.is_empty(), "SOTTO_MQTT_URL: no host");
    Ok(MqttUrl {
        tls,
        host: host.to_string(),
        port,
        username,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_urls_are_parsed_with_and_without_credentials() {
        let e = parse_mqtt_url("mqtt://srv:s3cret@broker.local:1884").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("broker.local", 1884));
        assert_eq!(
            (e.username.as_deref(), e.password.as_deref()),
            (Some("srv"), Some("s3cret"))
        );
        let e = parse_mqtt_url("mqtt://127.0.0.1").unwrap();
        assert_eq!((e.port, e.username, e.tls), (1883, None, false));
        assert!(parse_mqtt_url("http://x").is_err());
        assert!(!format!("{:?}", parse_mqtt_url("mqtt://u:s3cret@h").unwrap()).contains("s3cret"));
    }

    #[test]
    fn mqtts_urls_mean_tls_on_port_8883_unless_given() {
        let e = parse_mqtt_url("mqtts://h").unwrap();
        assert_eq!((e.tls, e.host.as_str(), e.port), (true, "h", 8883));
        let e = parse_mqtt_url("mqtts://srv:pw@broker.example:8884").unwrap();
        assert_eq!((e.tls, e.port), (true, 8884));
    }
}
