//! Test helpers: the real client on port 0 with a temporary store, the real Mosquitto at
//! 127.0.0.1:1883, and a [`FakeServer`] that plays the treatment service with its own rumqttc
//! client, publishing hand-built protocol messages and collecting what the client reports.
#![allow(dead_code)] // each test file uses a different subset

mod fixtures;

pub use fixtures::*;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::Utc;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use sotto_pharmacy::{Config, PharmacyClient};
use sotto_protocol::{
    ClientBody, ClientMessage, ResyncReason, ServerBody, ServerMessage, decode, encode,
    reports_topic, state_topic,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const BROKER: &str = "mqtt://127.0.0.1:1883";
/// Nothing listens here: the broker is "down".
pub const NO_BROKER: &str = "mqtt://127.0.0.1:1";
const WAIT: Duration = Duration::from_secs(5);

/// A fresh pharmacy id, so parallel tests (and earlier runs' sessions) never collide.
pub fn unique_pharmacy_id() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("test-{}-{nanos:x}-{n}", std::process::id())
}

/// The client under test, running in-process.
pub struct TestClient {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestClient {
    pub async fn start(
        pharmacy_id: &str,
        data_dir: &Path,
        mqtt_url: &str,
        stale: Duration,
    ) -> Self {
        let config = Config {
            pharmacy_id: pharmacy_id.to_string(),
            mqtt_url: mqtt_url.to_string(),
            mqtt_username: "counter".into(),
            mqtt_password: "not-checked-by-the-test-broker".into(),
            data_dir: data_dir.to_path_buf(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            stale_after: stale,
        };
        let client = PharmacyClient::build(config).await.expect("client builds");
        let addr = client.http_addr();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(client.run(shutdown.clone()));
        TestClient {
            addr,
            http: reqwest::Client::new(),
            shutdown,
            task,
        }
    }

    /// Stops the client and waits until it has closed its store.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("client task")
            .expect("client stops cleanly");
    }

    pub async fn get(&self, path_and_query: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("http://{}{path_and_query}", self.addr))
            .send()
            .await
            .expect("request");
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
        )
    }

    pub async fn json(&self, path_and_query: &str) -> (u16, Value) {
        let (status, body) = self.get(path_and_query).await;
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    pub async fn status(&self, reference: &str) -> (u16, Value) {
        self.json(&format!("/api/status?reference={reference}"))
            .await
    }

    pub async fn health(&self) -> Value {
        self.json("/healthz").await.1
    }

    /// Polls `/api/status` every 20 ms until `check` holds, failing after 5 s.
    pub async fn wait_for_status(
        &self,
        reference: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (code, body) = self.status(reference).await;
            if code == 200 && check(&body) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; last: {code} {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_for_code(&self, reference: &str, code: &str) -> Value {
        self.wait_for_status(reference, &format!("code {code}"), |b| b["code"] == code)
            .await
    }

    /// Polls `/healthz` every 20 ms until `check` holds, failing after 5 s.
    pub async fn wait_for_health(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let body = self.health().await;
            if check(&body) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; last: {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Plays the treatment service: publishes to the pharmacy's state topic and hears its reports.
pub struct FakeServer {
    pub pharmacy_id: String,
    client: AsyncClient,
    reports: mpsc::UnboundedReceiver<Result<ClientMessage, String>>,
}

impl FakeServer {
    /// Connects and subscribes to the pharmacy's reports, returning once the broker confirmed.
    pub async fn start(pharmacy_id: &str) -> FakeServer {
        let mut options = MqttOptions::new(format!("{pharmacy_id}-server"), "127.0.0.1", 1883);
        options.set_max_packet_size(4 << 20, 4 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        client
            .subscribe(reports_topic(pharmacy_id), QoS::AtLeastOnce)
            .await
            .unwrap();
        let (tx, reports) = mpsc::unbounded_channel();
        let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut subscribed_tx = Some(subscribed_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subscribed_tx.take().map(|s| s.send(()));
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ =
                            tx.send(decode::<ClientMessage>(&p.payload).map_err(|e| e.to_string()));
                    }
                    Ok(_) => {}
                    Err(e) => panic!("test server lost the broker (is Mosquitto running?): {e}"),
                }
            }
        });
        tokio::time::timeout(WAIT, subscribed)
            .await
            .expect("SUBACK in time")
            .unwrap();
        FakeServer {
            pharmacy_id: pharmacy_id.to_string(),
            client,
            reports,
        }
    }

    pub async fn send(&self, body: ServerBody) {
        self.send_raw(encode(&ServerMessage::new(&self.pharmacy_id, body)))
            .await;
    }

    pub async fn send_raw(&self, payload: Vec<u8>) {
        self.client
            .publish(
                state_topic(&self.pharmacy_id),
                QoS::AtLeastOnce,
                false,
                payload,
            )
            .await
            .unwrap();
    }

    /// The next resync request with `reason`, skipping others; fails after 5 s.
    pub async fn expect_resync(&mut self, reason: ResyncReason) -> Option<u64> {
        self.expect_resync_within(reason, WAIT).await
    }

    /// As [`FakeServer::expect_resync`], waiting up to `wait`.
    pub async fn expect_resync_within(
        &mut self,
        reason: ResyncReason,
        wait: Duration,
    ) -> Option<u64> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let report = tokio::time::timeout_at(deadline, self.reports.recv())
                .await
                .unwrap_or_else(|_| panic!("no {reason:?} resync request within {wait:?}"))
                .expect("test server running")
                .expect("the client's report decodes");
            assert_eq!(report.pharmacy_id, self.pharmacy_id);
            if let ClientBody::ResyncRequest {
                last_seq,
                reason: got,
            } = report.body
                && got == reason
            {
                return last_seq;
            }
        }
    }
}

/// A running client and fake server for a fresh pharmacy, past the client's first resync.
pub async fn connected(stale: Duration) -> (TestClient, FakeServer, tempfile::TempDir) {
    let id = unique_pharmacy_id();
    let dir = tempfile::tempdir().unwrap();
    let mut server = FakeServer::start(&id).await;
    let client = TestClient::start(&id, dir.path(), BROKER, stale).await;
    assert_eq!(server.expect_resync(ResyncReason::Connected).await, None);
    (client, server, dir)
}
