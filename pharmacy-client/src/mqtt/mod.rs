//! The MQTT link to the treatment service: a persistent session on the pharmacy's state topic.
//!
//! Three tasks, because rumqttc requests go through a bounded channel that only the polling task
//! drains (TECH.md): [`poll`] drives the event loop and never publishes; [`worker`] decodes,
//! applies each message in one transaction, then acks, and does the state stream's publishing
//! (subscribe, resync requests, acks); [`sender`] publishes the reports outbox and repeats it
//! until the server's `ReportAck`. The poll task hands events over an unbounded channel so it
//! can never block on the worker while the worker waits on it; the broker's in-flight window
//! bounds how much can queue there.

mod poll;
mod sender;
pub(crate) mod tls;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rumqttc::{AsyncClient, MqttOptions, TlsConfiguration, Transport};
use sotto_protocol::MAX_MESSAGE_BYTES;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::{Config, parse_mqtt_url};
use crate::store::Store;

/// Link health, shared with `/healthz`.
#[derive(Debug, Default)]
pub struct LinkStatus {
    connected: AtomicBool,
    rejected: AtomicU64,
    /// ConnAcks so far: the sender repeats everything pending after each new connection.
    connections: AtomicU64,
    /// Wakes the sender: a report was queued, a connection was made, or reports were acked.
    reports: Notify,
    /// This PC's time and the service's `sent_at` of the last authentic message.
    clock: std::sync::Mutex<Option<(DateTime<Utc>, DateTime<Utc>)>>,
}

impl LinkStatus {
    /// True between a ConnAck and the next connection error.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Messages refused (malformed, unknown version, not for us, wrong topic) since start.
    pub fn rejected_messages(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// A report was queued: send it now if connected.
    pub fn reports_queued(&self) {
        self.reports.notify_one();
    }

    fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
        if connected {
            self.connections.fetch_add(1, Ordering::Relaxed);
            self.reports.notify_one();
        }
    }

    fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Whether this PC's clock disagreed with the service's by more than `max` when the last
    /// authentic message arrived (until one arrives, nothing is known and nothing is said).
    pub fn clock_problem(&self, max: std::time::Duration) -> Option<crate::counter::ClockProblem> {
        let reading = *self.clock.lock().unwrap_or_else(|e| e.into_inner());
        reading
            .and_then(|(local, service)| crate::counter::ClockProblem::check(local, service, max))
    }

    fn record_clock(&self, local: DateTime<Utc>, service: DateTime<Utc>) {
        *self.clock.lock().unwrap_or_else(|e| e.into_inner()) = Some((local, service));
    }

    fn count_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the poll task tells the worker.
#[derive(Debug)]
enum LinkEvent {
    /// A ConnAck: (re)subscribe and ask for a resync.
    Connected,
    /// An incoming message, to be applied and then acked.
    Message(rumqttc::Publish),
}

/// Starts the link's tasks on `tracker`; they stop when `shutdown` is cancelled. `tls` (built
/// from the configuration at start-up) is required for an `mqtts://` broker.
pub fn spawn(
    config: &Config,
    tls: Option<Arc<rustls::ClientConfig>>,
    store: Store,
    status: Arc<LinkStatus>,
    clock: Arc<dyn Clock>,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let url = parse_mqtt_url(&config.mqtt_url).map_err(anyhow::Error::msg)?;
    let client_id = sotto_protocol::pharmacy_client_id(&config.pharmacy_id);
    let mut options = MqttOptions::new(client_id, url.host, url.port);
    if url.tls {
        let tls = tls.context("mqtts:// without a TLS configuration")?;
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    options
        // A persistent session: the broker queues the state stream while we are offline.
        .set_clean_session(false)
        .set_keep_alive(config.keep_alive)
        // Snapshots are large; the protocol's limit applies both ways.
        .set_max_packet_size(MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES)
        // Ack only after our commit, so a crash means redelivery rather than loss.
        .set_manual_acks(true)
        .set_credentials(&config.mqtt_username, &config.mqtt_password);
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    // Small messages: Nagle + delayed ACK would add ~40 ms to each exchange.
    let mut net = eventloop.network_options();
    net.set_tcp_nodelay(true);
    eventloop.set_network_options(net);
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    tracker.spawn(poll::run(
        eventloop,
        events_tx,
        status.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(sender::run(
        client.clone(),
        store.clone(),
        status.clone(),
        clock.clone(),
        config.pharmacy_id.clone(),
        shutdown.clone(),
    ));
    let worker = worker::Worker::new(
        client,
        store,
        status,
        clock,
        config.pharmacy_id.clone(),
        config.server_key,
    );
    tracker.spawn(worker.run(events_rx, shutdown));
    Ok(())
}
