//! Test helpers: the real server on a random port, against a fresh SQLite file or a fresh
//! PostgreSQL database, with typed helpers for the calls scenarios make.
//!
//! Every scenario runs on both backends: write `async fn name(app: TestApp)` and list it in
//! [`on_both_backends!`]. PostgreSQL is reached at `SOTTO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); a fresh database is created per test and dropped
//! afterwards. If PostgreSQL is down the PostgreSQL tests fail saying so — they never skip.

pub mod agreement;
pub mod browser;
pub mod console;
pub mod counter;
pub mod hostile;
pub mod mosquitto;
pub mod pg_cluster;
pub mod process;
pub mod proxy;
pub mod push;
pub mod screens;
pub mod smtp;
pub mod tls;

use std::net::SocketAddr;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sotto_server::{Application, Config};
use tokio_util::sync::CancellationToken;

pub use reqwest;
pub use serde_json;

/// Generates `sqlite::NAME` and `postgres::NAME` tests from `async fn NAME(app: TestApp)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::TestApp::spawn($crate::Backend::Sqlite).await;
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::TestApp::spawn($crate::Backend::Postgres).await;
                    super::$name(app).await;
                }
            )*
        }
    };
}

/// Generates `sqlite::NAME` and `postgres::NAME` tests from `async fn NAME(backend: Backend)`,
/// for scenarios that build their own world (e.g. a [`push::PushWorld`] with a counter).
#[macro_export]
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Backend::Sqlite).await; } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Backend::Postgres).await; } )*
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Where pharmacies reach the broker (embedded or external).
    pub broker_addr: SocketAddr,
    /// The embedded broker's TLS listener (when the app has a certificate).
    pub broker_tls_addr: Option<SocketAddr>,
    /// The server's own broker credentials (to play a forger or replay in tests).
    pub broker_endpoint: Option<sotto_server::sync::link::Endpoint>,
    pub client: reqwest::Client,
    pub config: Config,
    /// A bootstrap admin created the way an operator would (`admin create-staff`).
    pub admin: Staff,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<()>>,
    /// Held so the database outlives the app.
    _db: TestDb,
}

#[derive(Debug, Clone)]
pub struct Staff {
    pub id: String,
    pub token: String,
    pub email: String,
}

/// A fresh, empty database for one test: a SQLite file in a temporary folder, or a new
/// PostgreSQL database dropped when this is dropped.
pub struct TestDb {
    pub url: String,
    /// Keeps the SQLite file's folder alive.
    _dir: Option<tempfile::TempDir>,
    /// (admin URL, database name) to drop afterwards.
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A database someone else created and will clean up.
    pub fn external(url: String) -> TestDb {
        TestDb {
            url,
            _dir: None,
            pg: None,
        }
    }

    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                TestDb {
                    url: format!("sqlite://{}", dir.path().join("sotto.db").display()),
                    _dir: Some(dir),
                    pg: None,
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let name = format!("sotto_t_{}", uuid::Uuid::new_v4().simple());
                create_pg_database(&admin_url, &name).await;
                let base = admin_url.rsplit_once('/').expect("URL has a database").0;
                TestDb {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    pg: Some((admin_url, name)),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg.take() {
            // Drop runs outside async; a short-lived runtime on its own thread cleans up.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(mut c) = pg_admin(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut c).await;
                    }
                });
            })
            .join();
        }
    }
}

fn postgres_admin_url() -> String {
    std::env::var("SOTTO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// As [`TestApp::spawn`], adjusting the configuration first (e.g. an external broker).
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on(TestDb::new(backend).await, adjust).await
    }

    /// On a database the test provides (e.g. a private PostgreSQL it will stop).
    pub async fn spawn_on(db: TestDb, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config {
            database_url: db.url.clone(),
            http_addr: ([127, 0, 0, 1], 0).into(),
            mqtt_embedded_addr: ([127, 0, 0, 1], 0).into(),
            mqtt_embedded_tls_addr: ([127, 0, 0, 1], 0).into(),
            ..Config::default()
        };
        adjust(&mut config);
        let mut out = Vec::new();
        sotto_server::cli::run_admin(
            &config,
            sotto_server::cli::Admin::CreateStaff {
                name: "First Admin".into(),
                email: "admin@service.test".into(),
                role: "admin".into(),
                pharmacy_id: None,
            },
            &mut out,
        )
        .await
        .expect("bootstrap admin");
        let v: Value = serde_json::from_slice(&out).expect("create-staff prints JSON");
        let admin = Staff {
            id: v["id"].as_str().unwrap().into(),
            token: v["token"].as_str().unwrap().into(),
            email: "admin@service.test".into(),
        };
        let mut app = TestApp {
            addr: ([127, 0, 0, 1], 0).into(),
            broker_addr: ([127, 0, 0, 1], 0).into(),
            broker_tls_addr: None,
            broker_endpoint: None,
            client: reqwest::Client::new(),
            config,
            admin,
            shutdown: CancellationToken::new(),
            server: None,
            _db: db,
        };
        app.start_server().await;
        app
    }

    /// Starts the server on the app's configuration. After a restart the HTTP and embedded
    /// broker ports stay the same, as for a real server restarted in place.
    pub async fn start_server(&mut self) {
        assert!(self.server.is_none(), "server already running");
        let server = Application::build(self.config.clone())
            .await
            .expect("server builds");
        self.addr = server.local_addr();
        self.broker_addr = server.broker_addr();
        self.broker_tls_addr = server.broker_tls_addr();
        self.broker_endpoint = Some(server.broker_endpoint().clone());
        self.config.http_addr = self.addr;
        if self.config.mqtt_url.is_none() {
            self.config.mqtt_embedded_addr = self.broker_addr;
        }
        if let Some(addr) = self.broker_tls_addr {
            self.config.mqtt_embedded_tls_addr = addr;
        }
        self.shutdown = CancellationToken::new();
        let token = self.shutdown.clone();
        self.server = Some(tokio::spawn(async move {
            server.run(token).await.expect("server runs");
        }));
    }

    /// Stops the server gracefully (and with it the embedded broker) and waits until it is down.
    pub async fn stop_server(&mut self) {
        self.shutdown.cancel();
        if let Some(h) = self.server.take() {
            h.await.expect("server stopped cleanly");
        }
    }

    /// `https://` when the app has a certificate (give it a `client` that trusts its CA).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{}", self.addr, path)
    }

    /// POSTs JSON; returns status and body (problem+json bodies included).
    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let bytes = res.bytes().await.expect("body read");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, body)
    }

    /// Creates a staff member through the API (as the admin) and returns their token.
    pub async fn staff(&self, role: &str, pharmacy_id: Option<&str>) -> Staff {
        self.create_staff(json!({"role": role, "pharmacy_id": pharmacy_id}))
            .await
    }

    /// A keyworker or clinician in `team` (colleagues in one team cover each other's caseloads).
    pub async fn staff_in_team(&self, role: &str, team: Option<&str>) -> Staff {
        self.create_staff(json!({"role": role, "team": team})).await
    }

    /// Creates a staff member from `fields` (with `role`) plus a fresh name and e-mail.
    async fn create_staff(&self, mut fields: Value) -> Staff {
        let role = fields["role"].as_str().unwrap_or_default().to_string();
        let email = format!("{role}-{}@service.test", uuid::Uuid::new_v4().simple());
        fields["name"] = json!(format!("A {role}"));
        fields["email"] = json!(email);
        let (status, body) = self.post(&self.admin.token, "/api/v1/staff", fields).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Staff {
            id: body["id"].as_str().unwrap().into(),
            token: body["token"].as_str().unwrap().into(),
            email,
        }
    }

    /// Enrols a pharmacy closed on `closed` weekdays and returns its id.
    pub async fn pharmacy(&self, ods: &str, closed: &[&str]) -> String {
        self.enrol_pharmacy(ods, closed).await.id
    }

    /// Enrols a pharmacy and returns its broker credentials too.
    pub async fn enrol_pharmacy(&self, ods: &str, closed: &[&str]) -> counter::Enrolled {
        self.enrol(
            json!({"ods_code": ods, "name": format!("Pharmacy {ods}"), "closed_weekdays": closed,
                   "closing_time": "18:00", "timezone": "Europe/London"}),
        )
        .await
    }

    /// Enrols the pharmacy `body` describes (`POST /api/v1/pharmacies`) as the admin.
    pub async fn enrol(&self, body: Value) -> counter::Enrolled {
        let (status, body) = self
            .post(&self.admin.token, "/api/v1/pharmacies", body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        counter::Enrolled::from_response(&body)
    }

    /// A fresh connection to the app's database (it works while the server is down too).
    pub async fn db(&self) -> sotto_server::core::db::Store {
        sotto_server::core::db::Store::connect(&self.config.database_url)
            .await
            .expect("connect to the test database")
    }

    /// Counts rows in every table and reads the audit tip: equal snapshots mean nothing changed.
    pub async fn snapshot(&self) -> Vec<(String, i64)> {
        let store = self.db().await;
        let mut out = Vec::new();
        for table in [
            "pharmacies",
            "closures",
            "staff",
            "service_users",
            "prescriptions",
            "regimes",
            "holds",
            "missed_doses",
            "audit_log",
        ] {
            let sql = format!("SELECT COUNT(*) AS n FROM {table}");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_one(store.pool())
                .await
                .expect("count");
            out.push((table.to_string(), sqlx::Row::get::<i64, _>(&row, "n")));
        }
        let row = sqlx::query("SELECT COUNT(*) AS n FROM holds WHERE lifted_at IS NOT NULL")
            .fetch_one(store.pool())
            .await
            .expect("count");
        out.push(("holds_lifted".into(), sqlx::Row::get::<i64, _>(&row, "n")));
        store.close().await;
        out
    }

    /// Runs SQL directly against the app's database (to tamper with it, in tests).
    pub async fn execute_sql(&self, sql: &str) {
        let store = self.db().await;
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(store.pool())
            .await
            .expect("sql runs");
        store.close().await;
    }

    /// Runs `sotto-server admin ...` in-process against this app's database; returns exit
    /// success and what it printed.
    pub async fn admin_cli(&self, admin: sotto_server::cli::Admin) -> (bool, String) {
        let mut out = Vec::new();
        let code = sotto_server::cli::run_admin(&self.config, admin, &mut out)
            .await
            .expect("cli runs");
        (
            code == std::process::ExitCode::SUCCESS,
            String::from_utf8(out).unwrap(),
        )
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(h) = self.server.take() {
            h.abort();
        }
    }
}

async fn pg_admin(url: &str) -> Result<sqlx::AnyConnection, sqlx::Error> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url).await
}

async fn create_pg_database(admin_url: &str, name: &str) {
    let mut c = pg_admin(admin_url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {admin_url} ({e}). Start it (see .ci/run) or set \
             SOTTO_TEST_POSTGRES_URL."
        )
    });
    let sql = format!("CREATE DATABASE {name}");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut c)
        .await
        .expect("create test database");
}

/// A small world most scenarios need: two pharmacies, one of each role, one service user.
pub struct World {
    pub pharmacy: String,
    pub other_pharmacy: String,
    pub clinician: Staff,
    pub keyworker: Staff,
    pub pharmacist: Staff,
    pub other_pharmacist: Staff,
    pub service_user: String,
}

impl TestApp {
    pub async fn world(&self) -> World {
        let pharmacy = self.pharmacy("FA001", &["sun"]).await;
        let other_pharmacy = self.pharmacy("FB002", &[]).await;
        let clinician = self.staff("clinician", None).await;
        let keyworker = self.staff("keyworker", None).await;
        let pharmacist = self.staff("pharmacist", Some(&pharmacy)).await;
        let other_pharmacist = self.staff("pharmacist", Some(&other_pharmacy)).await;
        let (status, body) = self
            .post(
                &keyworker.token,
                "/api/v1/service-users",
                service_user_body("SU-1042", &pharmacy, &keyworker.id, &clinician.id),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        World {
            service_user: body["id"].as_str().unwrap().into(),
            pharmacy,
            other_pharmacy,
            clinician,
            keyworker,
            pharmacist,
            other_pharmacist,
        }
    }
}

impl TestApp {
    /// Prescribes for the world's person from `start` for 14 days (201 expected); returns the
    /// prescription as the API answered.
    pub async fn prescribe(
        &self,
        w: &World,
        start: chrono::NaiveDate,
        collections: Value,
    ) -> Value {
        let path = format!("/api/v1/service-users/{}/prescriptions", w.service_user);
        let (status, p) = self
            .post(
                &w.clinician.token,
                &path,
                prescription_body(start, 14, collections),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{p}");
        p
    }
}

pub fn service_user_body(
    reference: &str,
    pharmacy: &str,
    keyworker: &str,
    prescriber: &str,
) -> Value {
    json!({"reference": reference, "given_name": "Alex", "family_name": "Testperson",
           "date_of_birth": "1985-04-12", "pharmacy_id": pharmacy,
           "keyworker_id": keyworker, "prescriber_id": prescriber})
}

/// Daily supervised Monday to Friday; Saturday's collection covers Sunday as take-home.
pub fn daily_supervised() -> Value {
    json!([
        {"weekday": "mon", "days": 1, "supervised": true},
        {"weekday": "tue", "days": 1, "supervised": true},
        {"weekday": "wed", "days": 1, "supervised": true},
        {"weekday": "thu", "days": 1, "supervised": true},
        {"weekday": "fri", "days": 1, "supervised": true},
        {"weekday": "sat", "days": 2, "supervised": true}
    ])
}

/// The API's weekday names, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A supervised collection every day of the week.
pub fn every_day_supervised() -> Value {
    WEEKDAYS
        .iter()
        .map(|d| json!({"weekday": d, "days": 1, "supervised": true}))
        .collect()
}

/// The same value for every weekday, e.g. the same opening hours each day.
pub fn each_weekday(value: Value) -> Value {
    WEEKDAYS
        .iter()
        .map(|d| (d.to_string(), value.clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A prescription body from `start` for `days` days on `collections`.
pub fn prescription_body(start: chrono::NaiveDate, days: i64, collections: Value) -> Value {
    json!({"medicine": "methadone_oral_solution_1mg_ml", "daily_dose_mg": 60,
           "start_date": start.to_string(),
           "end_date": (start + chrono::Duration::days(days - 1)).to_string(),
           "collections": collections,
           "directions": {"closed_days_prior": true, "supply_remaining_if_missed": true,
                          "consult_after_missed_days": 3}})
}

/// Today at the pharmacies the tests enrol (Europe/London), as the server and the counter
/// count days. Not the UTC date: in summer time the two differ from 23:00 to midnight UTC.
pub fn pharmacy_today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
}

/// The Monday on or after the pharmacy's today.
pub fn next_monday() -> chrono::NaiveDate {
    use chrono::Datelike;
    let today = pharmacy_today();
    let ahead = (7 - today.weekday().num_days_from_monday()) % 7;
    today + chrono::Duration::days(i64::from(ahead))
}

/// Yesterday, or Saturday when yesterday was a Sunday: a recent start the world's pharmacy
/// (closed on Sundays) is open on, since a prescription may not start on a closed day.
pub fn recent_open_start() -> chrono::NaiveDate {
    use chrono::Datelike;
    let yesterday = pharmacy_today() - chrono::Duration::days(1);
    if yesterday.weekday() == chrono::Weekday::Sun {
        yesterday - chrono::Duration::days(1)
    } else {
        yesterday
    }
}
