//! A private Mosquitto for a test: its own port, authentication and ACL from
//! `sotto-server admin mosquitto-config`, and no persistence — so a restart loses everything
//! the broker held, which is exactly what the protocol must survive.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sotto_server::cli::Admin;

use crate::TestApp;

pub const SERVER_USER: &str = "sotto-server";

pub struct Mosquitto {
    child: Option<Child>,
    pub port: u16,
    /// The MQTT-over-TLS listener, if started with one.
    pub tls_port: Option<u16>,
    pub server_password: String,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts Mosquitto with only the server's user; call [`Mosquitto::configure`] after
    /// enrolling pharmacies.
    pub async fn start() -> Mosquitto {
        Self::start_with(None).await
    }

    /// As [`Mosquitto::start`], with a TLS listener too, on the certificate of `pki`.
    pub async fn start_with_tls(pki: &crate::tls::TestPki) -> Mosquitto {
        Self::start_with(Some(pki)).await
    }

    async fn start_with(tls: Option<&crate::tls::TestPki>) -> Mosquitto {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let server_password = format!("pw-{}", uuid::Uuid::new_v4().simple());
        let passwords = format!(
            "{SERVER_USER}:{}\n",
            sotto_server::core::secrets::mosquitto_hash(&server_password)
        );
        std::fs::write(dir.path().join("passwords"), passwords).unwrap();
        std::fs::write(
            dir.path().join("acl"),
            format!("user {SERVER_USER}\ntopic readwrite sotto/v1/#\n"),
        )
        .unwrap();
        let mut conf = format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npersistence false\n\
             password_file {pw}\nacl_file {acl}\nmax_queued_messages 100000\nset_tcp_nodelay true\n",
            pw = dir.path().join("passwords").display(),
            acl = dir.path().join("acl").display(),
        );
        let tls_port = tls.map(|pki| {
            let tls_port = free_port();
            // The listener block docs/security.md gives operators.
            conf.push_str(&format!(
                "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
                pki.ca().display(),
                pki.cert().display(),
                pki.key().display(),
            ));
            tls_port
        });
        std::fs::write(dir.path().join("mosquitto.conf"), conf).unwrap();
        let mut m = Mosquitto {
            child: None,
            port,
            tls_port,
            server_password,
            dir,
        };
        m.spawn().await;
        m
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("mosquitto.conf")
    }

    async fn spawn(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.conf())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (apt-get install mosquitto)");
        self.child = Some(child);
        for port in [Some(self.port), self.tls_port].into_iter().flatten() {
            wait_for_port(port).await;
        }
    }

    /// The server's `SOTTO_MQTT_URL`.
    pub fn server_url(&self) -> String {
        format!(
            "mqtt://{SERVER_USER}:{}@127.0.0.1:{}",
            self.server_password, self.port
        )
    }

    /// The server's `SOTTO_MQTT_URL` over TLS (needs [`Mosquitto::start_with_tls`]).
    pub fn server_tls_url(&self) -> String {
        format!(
            "mqtts://{SERVER_USER}:{}@127.0.0.1:{}",
            self.server_password,
            self.tls_port.expect("started with TLS")
        )
    }

    /// Regenerates the password and ACL files from the server's database, as an operator does
    /// after enrolling a pharmacy, and tells Mosquitto to reload them.
    pub async fn configure(&self, app: &TestApp) {
        self.configure_with(&app.config).await;
    }

    /// As [`Mosquitto::configure`], for a server known only by its configuration (a server
    /// running as a separate process).
    pub async fn configure_with(&self, config: &sotto_server::Config) {
        let mut out = Vec::new();
        let result = sotto_server::cli::run_admin(
            config,
            Admin::MosquittoConfig {
                password_file: self.dir.path().join("passwords"),
                acl_file: self.dir.path().join("acl"),
            },
            &mut out,
        )
        .await;
        assert!(
            matches!(result, Ok(code) if code == std::process::ExitCode::SUCCESS),
            "{result:?} {}",
            String::from_utf8_lossy(&out)
        );
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        // Mosquitto reloads between network events; give it a moment before clients connect.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// Kills the broker outright (no persistence: everything it held is gone).
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same files.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none());
        self.spawn().await;
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

async fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("mosquitto did not start on port {port}");
}
