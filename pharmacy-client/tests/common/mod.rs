//! Test helpers: the real client on port 0 with a temporary store, the real Mosquitto at
//! 127.0.0.1:1883, and a [`FakeServer`] that plays the treatment service with its own rumqttc
//! client, publishing hand-built protocol messages and collecting what the client reports.
#![allow(dead_code)] // each test file uses a different subset

mod fixtures;

pub use fixtures::*;

/// The key the test plays the server with; clients under test pin its public half.
pub fn server_key() -> sotto_protocol::ServerKey {
    sotto_protocol::ServerKey::from_secret([42; 32])
}

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use sotto_pharmacy::{Clock, Config, PharmacyClient};
use sotto_protocol::{
    ClientBody, ClientMessage, Report, ResyncReason, ServerBody, ServerMessage, decode,
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
    /// What the JSON API's POSTs must carry (`Authorization: Bearer`).
    pub api_token: String,
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
        Self::start_with(pharmacy_id, data_dir, mqtt_url, stale, None).await
    }

    /// As [`TestClient::start`], reading the time from `clock` (and checking every 50 ms
    /// whether a day is due to be closed).
    pub async fn start_with(
        pharmacy_id: &str,
        data_dir: &Path,
        mqtt_url: &str,
        stale: Duration,
        clock: Option<Arc<TestClock>>,
    ) -> Self {
        Self::launch(pharmacy_id, data_dir, mqtt_url, stale, clock, |_| {}).await
    }

    /// On the test broker, the configuration adjusted first (host names, a token).
    pub async fn start_adjusted(
        pharmacy_id: &str,
        data_dir: &Path,
        clock: Option<Arc<TestClock>>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let stale = Duration::from_secs(3600);
        Self::launch(pharmacy_id, data_dir, BROKER, stale, clock, adjust).await
    }

    async fn launch(
        pharmacy_id: &str,
        data_dir: &Path,
        mqtt_url: &str,
        stale: Duration,
        clock: Option<Arc<TestClock>>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config {
            pharmacy_id: pharmacy_id.to_string(),
            mqtt_url: mqtt_url.to_string(),
            mqtt_ca_file: None,
            mqtt_username: "counter".into(),
            mqtt_password: "not-checked-by-the-test-broker".into(),
            data_dir: data_dir.to_path_buf(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            stale_after: stale,
            keep_alive: Duration::from_secs(30),
            server_key: server_key().public(),
            api_token: None,
            counter_hosts: Vec::new(),
            // A test that moves the counter's clock days away from the service's real one
            // would otherwise see the clock refusal; tests of that refusal set it back to
            // minutes with `adjust`.
            max_clock_skew: if clock.is_some() {
                MOVED_CLOCK_SKEW
            } else {
                Duration::from_secs(120)
            },
        };
        adjust(&mut config);
        let mut client = PharmacyClient::build(config).await.expect("client builds");
        let api_token = client.api_token().to_string();
        if let Some(clock) = clock {
            client = client
                .with_clock(clock)
                .with_close_check_every(Duration::from_millis(50));
        }
        let addr = client.http_addr();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(client.run(shutdown.clone()));
        TestClient {
            addr,
            http: reqwest::Client::new(),
            api_token,
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

    /// POSTs `body` as JSON with the API token, as a local program would; the status and the
    /// JSON answer.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("http://{}{path}", self.addr))
            .bearer_auth(&self.api_token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The form token the counter page puts in its forms (read from the page, as a browser
    /// would have it).
    pub async fn form_token(&self) -> String {
        let (_, html) = self.get("/").await;
        form_token_in(&html).unwrap_or_else(|| panic!("no form token on the page: {html}"))
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

/// The `csrf` field's value in a page's forms.
pub fn form_token_in(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// Plays the treatment service: publishes to the pharmacy's state topic and hears its reports.
/// Like the real server it acks every batch of reports with `ReportAck` (after "storing" it),
/// unless told not to with [`FakeServer::set_auto_ack`].
pub struct FakeServer {
    pub pharmacy_id: String,
    client: AsyncClient,
    /// Resync requests (and anything that failed to decode).
    resyncs: mpsc::UnboundedReceiver<Result<ClientMessage, String>>,
    /// Every report received, duplicates included, in order.
    reports: mpsc::UnboundedReceiver<Report>,
    auto_ack: Arc<AtomicBool>,
    /// Report ids already returned by `expect_reports`/`reports_within`.
    seen: HashSet<String>,
    /// How many times each report id arrived.
    pub arrivals: Arc<Mutex<Vec<String>>>,
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
        let (tx, mut incoming) = mpsc::unbounded_channel();
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
        // Routing (and acking) happens off the polling task: publishing from it can deadlock.
        let (resyncs_tx, resyncs) = mpsc::unbounded_channel();
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let auto_ack = Arc::new(AtomicBool::new(true));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let router = (client.clone(), auto_ack.clone(), arrivals.clone());
        let id = pharmacy_id.to_string();
        tokio::spawn(async move {
            let (client, auto_ack, arrivals) = router;
            while let Some(message) = incoming.recv().await {
                let batch = match message {
                    Ok(ClientMessage {
                        body: ClientBody::Reports { reports },
                        ..
                    }) => reports,
                    other => {
                        let _ = resyncs_tx.send(other);
                        continue;
                    }
                };
                let ids: Vec<String> = batch.iter().map(|r| r.report_id.clone()).collect();
                arrivals.lock().unwrap().extend(ids.iter().cloned());
                for report in batch {
                    let _ = reports_tx.send(report);
                }
                if auto_ack.load(Ordering::SeqCst) {
                    let ack = ServerMessage::new(&id, ServerBody::ReportAck { report_ids: ids });
                    let _ = client
                        .publish(
                            state_topic(&id),
                            QoS::AtLeastOnce,
                            false,
                            server_key().seal(&ack),
                        )
                        .await;
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
            resyncs,
            reports,
            auto_ack,
            seen: HashSet::new(),
            arrivals,
        }
    }

    /// Whether report batches are acked (the default) or left unacked.
    pub fn set_auto_ack(&self, on: bool) {
        self.auto_ack.store(on, Ordering::SeqCst);
    }

    /// The next `n` reports not seen before (repeats are skipped, as the server's idempotency
    /// key would); fails after 5 s.
    pub async fn expect_reports(&mut self, n: usize) -> Vec<Report> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut out = Vec::new();
        while out.len() < n {
            let report = tokio::time::timeout_at(deadline, self.reports.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("only {} of {n} reports within {WAIT:?}: {out:?}", out.len())
                })
                .expect("test server running");
            if self.seen.insert(report.report_id.clone()) {
                out.push(report);
            }
        }
        out
    }

    /// The reports not seen before that arrive within `wait`.
    pub async fn new_reports_within(&mut self, wait: Duration) -> Vec<Report> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        while let Ok(Some(report)) = tokio::time::timeout_at(deadline, self.reports.recv()).await {
            if self.seen.insert(report.report_id.clone()) {
                out.push(report);
            }
        }
        out
    }

    /// Acks `report_ids` by hand.
    pub async fn ack(&self, report_ids: Vec<String>) {
        self.send(ServerBody::ReportAck { report_ids }).await;
    }

    pub async fn send(&self, body: ServerBody) {
        self.send_raw(server_key().seal(&ServerMessage::new(&self.pharmacy_id, body)))
            .await;
    }

    /// As [`FakeServer::send`], stamped as sent by the service at `sent_at` (its clock).
    pub async fn send_at(&self, body: ServerBody, sent_at: DateTime<Utc>) {
        let mut message = ServerMessage::new(&self.pharmacy_id, body);
        message.sent_at = sent_at;
        self.send_raw(server_key().seal(&message)).await;
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
            let report = tokio::time::timeout_at(deadline, self.resyncs.recv())
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

impl FakeServer {
    /// The `seq` of the next answer to a heartbeat, skipping other messages; fails after 5 s.
    pub async fn expect_heartbeat_ack(&mut self) -> u64 {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.resyncs.recv())
                .await
                .unwrap_or_else(|_| panic!("no answer to a heartbeat within {WAIT:?}"))
                .expect("test server running")
                .expect("the client's message decodes");
            if let ClientBody::HeartbeatAck { seq } = message.body {
                return seq;
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

/// As [`connected`], the client reading the time from `clock`.
pub async fn connected_at(
    clock: &Arc<TestClock>,
    stale: Duration,
) -> (TestClient, FakeServer, tempfile::TempDir) {
    let id = unique_pharmacy_id();
    let dir = tempfile::tempdir().unwrap();
    let mut server = FakeServer::start(&id).await;
    let client = TestClient::start_with(&id, dir.path(), BROKER, stale, Some(clock.clone())).await;
    assert_eq!(server.expect_resync(ResyncReason::Connected).await, None);
    (client, server, dir)
}

/// A clock the test sets: it runs at the real rate from wherever it was last set.
#[derive(Debug, Default)]
pub struct TestClock {
    offset: Mutex<chrono::Duration>,
}

impl TestClock {
    pub fn at(now: DateTime<Utc>) -> Arc<TestClock> {
        let clock = Arc::new(TestClock::default());
        clock.set(now);
        clock
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.offset.lock().unwrap() = now - Utc::now();
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.offset.lock().unwrap()
    }
}

/// The clock allowance for a counter on a clock the test moves (see `launch`).
pub const MOVED_CLOCK_SKEW: Duration = Duration::from_secs(400 * 86_400);

/// The page's HTML without the values of its form tokens: a token is random text, and
/// "…9K9holD…" is not the page saying "hold" (the discretion checks read the rest).
pub fn without_form_tokens(html: &str) -> String {
    const FIELD: &str = "name=\"csrf\" value=\"";
    let mut shown = String::new();
    let mut rest = html;
    while let Some(at) = rest.find(FIELD) {
        let (before, after) = rest.split_at(at + FIELD.len());
        shown.push_str(before);
        rest = after.find('"').map_or("", |end| &after[end..]);
    }
    shown.push_str(rest);
    shown
}

/// The page never says why supply is paused, nor any word others at the counter could read.
pub fn assert_discreet(html: &str) {
    let lower = without_form_tokens(html).to_lowercase();
    for word in ["hold", "reason", "missed", "refused"] {
        assert!(!lower.contains(word), "the page says {word:?}: {html}");
    }
}
