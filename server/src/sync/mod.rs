//! Lossless push to pharmacies over MQTT (protocol: the `sotto-protocol` crate).
//!
//! Changes are written to the outbox in the change's own transaction ([`outbox`]); the
//! [`relay`] publishes them and marks them sent on PUBACK; [`reports`] answers pharmacies'
//! resync requests with snapshots; heartbeats advertise each pharmacy's latest acknowledged
//! `seq`. With no `SOTTO_MQTT_URL`, an embedded broker runs in-process ([`embedded`]).

pub mod embedded;
pub mod link;
pub mod mosquitto;
pub mod outbox;
mod relay;
mod reports;
pub mod signing;
pub mod state;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use sqlx::Row;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::db::Store;
use link::{Endpoint, Link};

/// What the background tasks share.
#[derive(Clone)]
pub struct Sync {
    pub store: Store,
    pub link: Link,
    pub service_phone: Option<String>,
    pub alerts: crate::dispensing::ingest::AlertSettings,
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

/// Starts the embedded broker (when no external one is configured), the connection, the relay,
/// the report handler and the heartbeat.
pub async fn start(
    config: &Config,
    store: Store,
    shutdown: CancellationToken,
) -> anyhow::Result<SyncHandle> {
    let (endpoint, broker, broker_addr) = match &config.mqtt_url {
        Some(url) => {
            let e = parse_mqtt_url(url, &config.mqtt_client_id)?;
            let addr = tokio::net::lookup_host((e.host.as_str(), e.port))
                .await
                .ok()
                .and_then(|mut a| a.next())
                .with_context(|| format!("SOTTO_MQTT_URL: cannot resolve {}", e.host))?;
            (e, None, addr)
        }
        None => {
            let (broker, endpoint) = embedded::start(config, store.clone()).await?;
            let addr = broker.local_addr();
            (endpoint, Some(broker), addr)
        }
    };
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
        alerts: crate::dispensing::ingest::AlertSettings {
            public_url: config.public_url.clone(),
        },
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

/// `mqtt://[user[:password]@]host[:port]` (default port 1883).
pub fn parse_mqtt_url(url: &str, client_id: &str) -> anyhow::Result<Endpoint> {
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .with_context(|| {
            if url.starts_with("mqtts://") {
                "SOTTO_MQTT_URL: TLS (mqtts://) is not supported yet; use mqtt:// on a trusted network".to_string()
            } else {
                format!("SOTTO_MQTT_URL: {:?} must look like mqtt://user:password@host:1883", crate::config::redact_url(url))
            }
        })?;
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
        None => (hostport, 1883),
    };
    anyhow::ensure!(!host.is_empty(), "SOTTO_MQTT_URL: no host");
    Ok(Endpoint {
        host: host.to_string(),
        port,
        username,
        password,
        client_id: client_id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_urls_are_parsed_with_and_without_credentials() {
        let e = parse_mqtt_url("mqtt://srv:s3cret@broker.local:1884", "id").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("broker.local", 1884));
        assert_eq!(
            (e.username.as_deref(), e.password.as_deref()),
            (Some("srv"), Some("s3cret"))
        );
        let e = parse_mqtt_url("mqtt://127.0.0.1", "id").unwrap();
        assert_eq!((e.port, e.username), (1883, None));
        assert!(parse_mqtt_url("http://x", "id").is_err());
        assert!(
            parse_mqtt_url("mqtts://x", "id")
                .unwrap_err()
                .to_string()
                .contains("TLS")
        );
    }
}
