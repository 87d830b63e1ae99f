//! The pharmacy client, run in-process against the test's broker, with helpers to ask it what
//! the counter would show.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sotto_pharmacy::{Config, PharmacyClient};
use tokio_util::sync::CancellationToken;

/// A clock the test sets: the counter's "now" (its today, its closing time).
pub struct TestClock(Mutex<chrono::DateTime<chrono::Utc>>);

impl TestClock {
    pub fn at(now: chrono::DateTime<chrono::Utc>) -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(now)))
    }

    pub fn set(&self, now: chrono::DateTime<chrono::Utc>) {
        *self.0.lock().unwrap() = now;
    }
}

impl sotto_pharmacy::Clock for TestClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().unwrap()
    }
}

/// A pharmacy's broker credentials as enrolment returned them.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub id: String,
    pub mqtt_username: String,
    pub mqtt_password: String,
    /// The server's public key, as enrolment hands it out for the pharmacy to pin.
    pub server_key: String,
}

impl Enrolled {
    /// From the answer to `POST /api/v1/pharmacies`.
    pub fn from_response(body: &Value) -> Enrolled {
        let field = |name: &str| {
            body[name]
                .as_str()
                .unwrap_or_else(|| panic!("enrolment answer without {name}: {body}"))
                .to_string()
        };
        Enrolled {
            id: field("id"),
            mqtt_username: field("mqtt_username"),
            mqtt_password: field("mqtt_password"),
            server_key: field("server_public_key"),
        }
    }
}

pub struct Counter {
    pub addr: std::net::SocketAddr,
    clock: Option<Arc<TestClock>>,
    pub config: Config,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
    http: reqwest::Client,
    /// What the counter's JSON API asks local programs for (`Authorization: Bearer`).
    pub api_token: String,
}

impl Counter {
    /// Starts a client for `pharmacy` talking to the broker at `broker_port`.
    pub async fn start(pharmacy: &Enrolled, broker_port: u16, stale_after: Duration) -> Counter {
        Self::start_with_clock(pharmacy, broker_port, stale_after, None).await
    }

    /// As [`Counter::start`], on a clock the test moves (days pass in milliseconds).
    pub async fn start_with_clock(
        pharmacy: &Enrolled,
        broker_port: u16,
        stale_after: Duration,
        clock: Option<Arc<TestClock>>,
    ) -> Counter {
        let url = format!("mqtt://127.0.0.1:{broker_port}");
        Self::launch(pharmacy, url, None, stale_after, clock, |_| {}).await
    }

    /// As [`Counter::start_with_clock`], adjusting the configuration first (keep-alive, say).
    pub async fn start_adjusted(
        pharmacy: &Enrolled,
        broker_port: u16,
        stale_after: Duration,
        clock: Option<Arc<TestClock>>,
        adjust: impl FnOnce(&mut Config),
    ) -> Counter {
        let url = format!("mqtt://127.0.0.1:{broker_port}");
        Self::launch(pharmacy, url, None, stale_after, clock, adjust).await
    }

    /// A client reaching its broker over TLS at `mqtts://{host}:{port}`, trusting `ca_file`
    /// (beside the system's roots).
    pub async fn start_tls(
        pharmacy: &Enrolled,
        host: &str,
        port: u16,
        ca_file: &std::path::Path,
        stale_after: Duration,
    ) -> Counter {
        let url = format!("mqtts://{host}:{port}");
        Self::launch(
            pharmacy,
            url,
            Some(ca_file.to_path_buf()),
            stale_after,
            None,
            |_| {},
        )
        .await
    }

    async fn launch(
        pharmacy: &Enrolled,
        mqtt_url: String,
        mqtt_ca_file: Option<PathBuf>,
        stale_after: Duration,
        clock: Option<Arc<TestClock>>,
        adjust: impl FnOnce(&mut Config),
    ) -> Counter {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            pharmacy_id: pharmacy.id.clone(),
            mqtt_url,
            mqtt_ca_file,
            mqtt_username: pharmacy.mqtt_username.clone(),
            mqtt_password: pharmacy.mqtt_password.clone(),
            data_dir: dir.path().to_path_buf(),
            http_addr: ([127, 0, 0, 1], 0).into(),
            stale_after,
            keep_alive: Duration::from_secs(30),
            server_key: pharmacy
                .server_key
                .parse()
                .expect("enrolment gives a valid server key"),
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
        let mut c = Counter {
            addr: ([127, 0, 0, 1], 0).into(),
            clock,
            config,
            shutdown: CancellationToken::new(),
            task: None,
            _dir: Some(dir),
            http: reqwest::Client::new(),
            api_token: String::new(),
        };
        c.run().await;
        c
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    async fn run(&mut self) {
        let mut client = PharmacyClient::build(self.config.clone())
            .await
            .expect("client builds");
        if let Some(clock) = &self.clock {
            client = client
                .with_clock(clock.clone())
                .with_close_check_every(Duration::from_millis(50));
        }
        self.addr = client.http_addr();
        self.api_token = client.api_token().to_string();
        // Keep the port across restarts, like a counter PC's bookmark.
        self.config.http_addr = self.addr;
        self.shutdown = CancellationToken::new();
        let token = self.shutdown.clone();
        self.task = Some(tokio::spawn(async move {
            client.run(token).await.expect("client runs");
        }));
    }

    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.task.take() {
            t.await.expect("client stopped cleanly");
        }
    }

    pub async fn start_again(&mut self) {
        assert!(self.task.is_none());
        self.run().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs `body` as JSON to the counter's API with its token, as a local program would
    /// (status code, body).
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let res = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.api_token)
            .json(body)
            .send()
            .await
            .expect("client answers");
        let code = res.status().as_u16();
        (code, res.json().await.unwrap_or(Value::Null))
    }

    /// `GET /api/status?reference=…` (status code, body).
    pub async fn status(&self, reference: &str) -> (u16, Value) {
        let res = self
            .http
            .get(self.url("/api/status"))
            .query(&[("reference", reference)])
            .send()
            .await
            .expect("client answers");
        let code = res.status().as_u16();
        (code, res.json().await.unwrap_or(Value::Null))
    }

    /// POSTs JSON to the counter's API with its token (status code, body); the same as
    /// [`Counter::post`], taking the body by value.
    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        self.post(path, &body).await
    }

    pub async fn health(&self) -> Value {
        self.http
            .get(self.url("/healthz"))
            .send()
            .await
            .expect("client answers")
            .json()
            .await
            .unwrap()
    }

    /// Waits until `check` holds for the person's status, failing after `within` with the last
    /// status seen. Returns how long it took.
    pub async fn wait_for(
        &self,
        reference: &str,
        within: Duration,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Duration {
        let started = Instant::now();
        let mut last = Value::Null;
        while started.elapsed() < within {
            let (code, body) = self.status(reference).await;
            if code == 200 && check(&body) {
                return started.elapsed();
            }
            last = body;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("counter did not show {what} within {within:?}; last status: {last}");
    }

    /// Waits for a code (fresh data only).
    pub async fn wait_for_code(&self, reference: &str, code: &str, within: Duration) -> Duration {
        self.wait_for(reference, within, &format!("code {code}"), |s| {
            s["code"] == code && s["stale"] == false
        })
        .await
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The clock allowance for a counter on a clock the test moves (see `launch`).
pub const MOVED_CLOCK_SKEW: Duration = Duration::from_secs(400 * 86_400);

/// Today at the test worlds' pharmacies (London), not by UTC: they differ for an hour a night
/// in summer time.
pub fn today() -> chrono::NaiveDate {
    crate::pharmacy_today()
}

/// 19:30 UTC on `day`: after the 18:00 closing time in London, winter or summer (a counter on
/// a [`TestClock`] set there closes the day).
pub fn evening(day: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc.from_utc_datetime(&day.and_hms_opt(19, 30, 0).unwrap())
}

/// 10:00 UTC on `day`: the pharmacy is open.
pub fn morning(day: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc.from_utc_datetime(&day.and_hms_opt(10, 0, 0).unwrap())
}

/// A staleness limit for a counter whose clock the test fixed at a time of the real day (10:00
/// at the pharmacy, say). The service stamps its messages with the real time and the counter
/// dates its data by them (capped at its own now), so with an hour's limit data confirmed at
/// 02:00 real time would already be stale at the counter's 10:00: the test would pass at some
/// hours only. The real time and the fixed one are on the same day, never a day apart.
pub const FIXED_CLOCK_STALE_AFTER: Duration = Duration::from_secs(86_400);
