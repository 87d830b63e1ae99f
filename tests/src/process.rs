//! Sotto's binaries as real processes, for faults only a process can have: SIGKILL mid-publish
//! (the server) or mid-write (the pharmacy client). Uses the binaries that `cargo test
//! --workspace` builds beside the test binaries.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn binary(name: &str) -> PathBuf {
    // target/debug/deps/<test binary> → target/debug/<name>
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} not built (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

/// One of our binaries run with fixed settings and HTTP port, so a restart looks the same to
/// everyone talking to it; killed when dropped.
struct Process {
    name: &'static str,
    env: Vec<(String, String)>,
    http_port: u16,
    child: Option<Child>,
}

impl Process {
    /// Starts `name` and waits until its `/healthz` answers 2xx.
    async fn start(name: &'static str, env: Vec<(String, String)>, http_port: u16) -> Process {
        let mut p = Process {
            name,
            env,
            http_port,
            child: None,
        };
        p.spawn().await;
        p
    }

    async fn spawn(&mut self) {
        let child = Command::new(binary(self.name))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", self.name));
        self.child = Some(child);
        let url = self.url("/healthz");
        for _ in 0..500 {
            if let Ok(r) = reqwest::get(&url).await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{} did not become healthy", self.name);
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.http_port, path)
    }

    /// SIGKILL: no graceful shutdown, no flushing, whatever was in flight is cut off.
    fn kill_hard(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL on Unix
            let _ = c.wait();
        }
    }

    async fn start_again(&mut self) {
        assert!(self.child.is_none(), "{} is still running", self.name);
        self.spawn().await;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// A `sotto-server` child process on fixed ports.
pub struct ServerProcess {
    process: Process,
    pub http_port: u16,
    pub broker_port: u16,
}

impl ServerProcess {
    /// Starts the server on `database_url` with an embedded broker, waiting until it is healthy.
    pub async fn start(database_url: &str) -> ServerProcess {
        Self::start_with(database_url, None).await
    }

    /// On an external broker (`SOTTO_MQTT_URL`) when `mqtt_url` is given, else the embedded one.
    pub async fn start_with(database_url: &str, mqtt_url: Option<String>) -> ServerProcess {
        let (http_port, broker_port) = (free_port(), free_port());
        let mut env: Vec<(String, String)> = vec![
            ("SOTTO_DATABASE_URL".into(), database_url.to_string()),
            ("SOTTO_HTTP_ADDR".into(), format!("127.0.0.1:{http_port}")),
            (
                "SOTTO_MQTT_EMBEDDED_ADDR".into(),
                format!("127.0.0.1:{broker_port}"),
            ),
            ("SOTTO_HEARTBEAT_SECS".into(), "1".into()),
            ("RUST_LOG".into(), "warn".into()),
        ];
        if let Some(url) = mqtt_url {
            env.push(("SOTTO_MQTT_URL".into(), url));
        }
        ServerProcess {
            process: Process::start("sotto-server", env, http_port).await,
            http_port,
            broker_port,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.process.url(path)
    }

    /// SIGKILL: no graceful shutdown, no flushing, whatever was in flight is cut off.
    pub fn kill_hard(&mut self) {
        self.process.kill_hard();
    }

    pub async fn start_again(&mut self) {
        self.process.start_again().await;
    }
}

/// The pharmacy client as a real process (`sotto-pharmacy`), for a kill -9 mid-write.
pub struct PharmacyProcess {
    process: Process,
    pub http_port: u16,
    /// The counter API's token (given as `SOTTO_COUNTER_API_TOKEN`).
    pub api_token: String,
    data: tempfile::TempDir,
}

impl PharmacyProcess {
    /// Starts the client for `pharmacy` against the broker at `broker_port`, keeping its data in
    /// a folder that survives restarts; waits until its counter page answers.
    pub async fn start(pharmacy: &crate::counter::Enrolled, broker_port: u16) -> PharmacyProcess {
        let data = tempfile::tempdir().expect("temp dir");
        let http_port = free_port();
        let api_token = format!("counter-api-token-for-a-test-{http_port}");
        let env = vec![
            ("SOTTO_COUNTER_API_TOKEN".into(), api_token.clone()),
            ("SOTTO_PHARMACY_ID".into(), pharmacy.id.clone()),
            (
                "SOTTO_MQTT_URL".into(),
                format!("mqtt://127.0.0.1:{broker_port}"),
            ),
            ("SOTTO_MQTT_USERNAME".into(), pharmacy.mqtt_username.clone()),
            ("SOTTO_MQTT_PASSWORD".into(), pharmacy.mqtt_password.clone()),
            ("SOTTO_SERVER_KEY".into(), pharmacy.server_key.clone()),
            ("SOTTO_DATA_DIR".into(), data.path().display().to_string()),
            ("SOTTO_HTTP_ADDR".into(), format!("127.0.0.1:{http_port}")),
            ("RUST_LOG".into(), "warn".into()),
        ];
        PharmacyProcess {
            process: Process::start("sotto-pharmacy", env, http_port).await,
            http_port,
            api_token,
            data,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.process.url(path)
    }

    /// The client's local store (`client.db` inside).
    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    /// SIGKILL: whatever the client was writing or sending is cut off.
    pub fn kill_hard(&mut self) {
        self.process.kill_hard();
    }

    pub async fn start_again(&mut self) {
        self.process.start_again().await;
    }
}
