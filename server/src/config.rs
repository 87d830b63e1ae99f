//! Configuration: one typed struct, defaults that run with zero set-up, environment overrides.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything the server needs to start. Built from the environment by [`Config::from_env`];
/// tests build it directly.
#[derive(Clone)]
pub struct Config {
    /// `sqlite://...` (default `sqlite://sotto.db`, created if missing) or `postgres://...`.
    pub database_url: String,
    /// Where the HTTP API listens; port 0 picks a free port (tests).
    pub http_addr: SocketAddr,
    /// Failed authentications one address may make within a minute before it gets 429s.
    pub auth_max_failures: u32,
    /// Largest request body accepted, in bytes. Our largest legitimate body is a prescription
    /// of a few hundred bytes, so 64 KiB leaves ample room and bounds memory per request.
    pub max_body_bytes: usize,
    /// External broker, e.g. `mqtt://127.0.0.1:1883`; `None` runs the embedded broker.
    pub mqtt_url: Option<String>,
    /// Where the embedded broker listens.
    pub mqtt_embedded_addr: SocketAddr,
    /// Where the embedded broker accepts MQTT over TLS; used only when `tls` is set.
    pub mqtt_embedded_tls_addr: SocketAddr,
    /// A private CA (PEM) trusted for an `mqtts://` broker, beside the system's roots.
    pub mqtt_ca_file: Option<PathBuf>,
    /// The server's certificate and key: HTTPS on `http_addr`, and a TLS listener on the
    /// embedded broker. `None`: plain HTTP and plain MQTT only.
    pub tls: Option<TlsFiles>,
    /// Client id on the broker; must be unique per server instance.
    pub mqtt_client_id: String,
    /// How often every pharmacy is told "still here, latest seq is N".
    pub heartbeat_interval: std::time::Duration,
    /// The treatment service's phone number, shown at the counter with codes D and E.
    pub service_phone: Option<String>,
    /// Base URL of this server as staff reach it, for links in e-mails (no trailing slash).
    pub public_url: String,
    /// The service's shared inbox: "pharmacy has not closed its day" alerts go here.
    pub service_email: Option<String>,
    /// The service's time zone (digests go out in it).
    pub service_timezone: chrono_tz::Tz,
    /// When keyworkers who chose a digest get the missed doses not mailed to them before
    /// (service time). A miss reported after the digest of the morning after it is "late".
    pub digest_at: chrono::NaiveTime,
    /// Private heads-up wording (opt-in per person) when an attend hold is placed / lifted.
    pub heads_up_placed_text: String,
    pub heads_up_lifted_text: String,
    /// `From:` of every e-mail.
    pub mail_from: String,
    /// Run the time-driven duties (silence alerts, digests). Tests that drive them at chosen
    /// instants turn this off.
    pub run_schedulers: bool,
    /// First delay before retrying a mail the relay refused (doubles up to an hour).
    pub mail_retry_base: std::time::Duration,
    /// SMTP relay; `None` writes `.eml` files to `mail_outbox`.
    pub smtp_url: Option<String>,
    pub mail_outbox: PathBuf,
    /// Console sign-in lock-out: this many failures for one e-mail within `lockout_window`
    /// lock that e-mail for `lockout_for`.
    pub lockout_failures: u32,
    pub lockout_window: std::time::Duration,
    pub lockout_for: std::time::Duration,
    /// A console session ends after this long without a request, and after `session_absolute`
    /// in any case.
    pub session_idle: std::time::Duration,
    pub session_absolute: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://sotto.db".into(),
            http_addr: ([127, 0, 0, 1], 8080).into(),
            max_body_bytes: 64 * 1024,
            auth_max_failures: 20,
            mqtt_url: None,
            mqtt_embedded_addr: ([127, 0, 0, 1], 1883).into(),
            mqtt_embedded_tls_addr: ([127, 0, 0, 1], 8883).into(),
            mqtt_ca_file: None,
            tls: None,
            mqtt_client_id: "sotto-server".into(),
            heartbeat_interval: std::time::Duration::from_secs(30),
            service_phone: None,
            public_url: "http://127.0.0.1:8080".into(),
            service_email: None,
            service_timezone: chrono_tz::Europe::London,
            digest_at: chrono::NaiveTime::from_hms_opt(7, 0, 0).expect("valid time"),
            heads_up_placed_text: "Please ring your keyworker before your next collection. \
                                   Nothing is wrong with your prescription; we just need a word."
                .into(),
            heads_up_lifted_text: "Thank you. You're all set for your next collection.".into(),
            mail_from: "Sotto <sotto@localhost>".into(),
            mail_retry_base: std::time::Duration::from_secs(30),
            run_schedulers: true,
            smtp_url: None,
            mail_outbox: "./outbox".into(),
            lockout_failures: 5,
            lockout_window: std::time::Duration::from_secs(15 * 60),
            lockout_for: std::time::Duration::from_secs(15 * 60),
            session_idle: std::time::Duration::from_secs(30 * 60),
            session_absolute: std::time::Duration::from_secs(12 * 60 * 60),
        }
    }
}

/// PEM files: the certificate chain (server certificate first) and its private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A configuration value that could not be read, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl Config {
    /// Defaults overridden by `SOTTO_*` environment variables (API.md, "Configuration").
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// As [`Config::from_env`], reading variables through `get` (testable without touching the
    /// process environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if let Some(v) = non_empty("SOTTO_DATABASE_URL") {
            c.database_url = v;
        }
        if let Some(v) = non_empty("SOTTO_HTTP_ADDR") {
            c.http_addr = parse_addr("SOTTO_HTTP_ADDR", &v)?;
        }
        c.mqtt_url = non_empty("SOTTO_MQTT_URL");
        if let Some(v) = non_empty("SOTTO_MQTT_EMBEDDED_ADDR") {
            c.mqtt_embedded_addr = parse_addr("SOTTO_MQTT_EMBEDDED_ADDR", &v)?;
        }
        c.tls = tls_files(non_empty("SOTTO_TLS_CERT"), non_empty("SOTTO_TLS_KEY"))?;
        if let Some(v) = non_empty("SOTTO_MQTT_EMBEDDED_TLS_ADDR") {
            if c.tls.is_none() {
                return Err(ConfigError {
                    var: "SOTTO_MQTT_EMBEDDED_TLS_ADDR",
                    message: "needs SOTTO_TLS_CERT and SOTTO_TLS_KEY".into(),
                });
            }
            c.mqtt_embedded_tls_addr = parse_addr("SOTTO_MQTT_EMBEDDED_TLS_ADDR", &v)?;
        }
        c.mqtt_ca_file = non_empty("SOTTO_MQTT_CA_FILE").map(PathBuf::from);
        if let Some(v) = non_empty("SOTTO_MQTT_CLIENT_ID") {
            c.mqtt_client_id = v;
        }
        if let Some(v) = non_empty("SOTTO_HEARTBEAT_SECS") {
            let secs: u64 = v.parse().ok().filter(|s| *s > 0).ok_or(ConfigError {
                var: "SOTTO_HEARTBEAT_SECS",
                message: format!("{v:?} is not a whole number of seconds above 0"),
            })?;
            c.heartbeat_interval = std::time::Duration::from_secs(secs);
        }
        if let Some(v) = non_empty("SOTTO_AUTH_MAX_FAILURES") {
            c.auth_max_failures = v.parse().ok().filter(|n| *n > 0).ok_or(ConfigError {
                var: "SOTTO_AUTH_MAX_FAILURES",
                message: format!("{v:?} is not a whole number above 0"),
            })?;
        }
        c.service_phone = non_empty("SOTTO_SERVICE_PHONE");
        match non_empty("SOTTO_PUBLIC_URL") {
            Some(v) => c.public_url = v.trim_end_matches('/').to_string(),
            None => {
                let scheme = if c.tls.is_some() { "https" } else { "http" };
                c.public_url = format!("{scheme}://{}", c.http_addr);
            }
        }
        c.service_email = non_empty("SOTTO_SERVICE_EMAIL");
        if let Some(v) = non_empty("SOTTO_SERVICE_TIMEZONE") {
            c.service_timezone = v.parse().map_err(|_| ConfigError {
                var: "SOTTO_SERVICE_TIMEZONE",
                message: format!("{v:?} is not an IANA time zone such as Europe/London"),
            })?;
        }
        if let Some(v) = non_empty("SOTTO_DIGEST_AT") {
            c.digest_at =
                chrono::NaiveTime::parse_from_str(&v, "%H:%M").map_err(|_| ConfigError {
                    var: "SOTTO_DIGEST_AT",
                    message: format!("{v:?} is not a 24-hour time like 07:00"),
                })?;
        }
        if let Some(v) = non_empty("SOTTO_HEADS_UP_PLACED_TEXT") {
            c.heads_up_placed_text = v;
        }
        if let Some(v) = non_empty("SOTTO_HEADS_UP_LIFTED_TEXT") {
            c.heads_up_lifted_text = v;
        }
        if let Some(v) = non_empty("SOTTO_MAIL_FROM") {
            c.mail_from = v;
        }
        c.smtp_url = non_empty("SOTTO_SMTP_URL");
        if let Some(v) = non_empty("SOTTO_MAIL_OUTBOX") {
            c.mail_outbox = v.into();
        }
        if !(c.database_url.starts_with("sqlite:") || c.database_url.starts_with("postgres")) {
            return Err(ConfigError {
                var: "SOTTO_DATABASE_URL",
                message: "must start with sqlite:// or postgres://".into(),
            });
        }
        Ok(c)
    }
}

/// Both or neither: a certificate without its key (or the reverse) is a mistake, not "no TLS".
fn tls_files(cert: Option<String>, key: Option<String>) -> Result<Option<TlsFiles>, ConfigError> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert: cert.into(),
            key: key.into(),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError {
            var: "SOTTO_TLS_KEY",
            message: "must be set with SOTTO_TLS_CERT (the certificate's private key, PEM)".into(),
        }),
        (None, Some(_)) => Err(ConfigError {
            var: "SOTTO_TLS_CERT",
            message: "must be set with SOTTO_TLS_KEY (the certificate chain, PEM)".into(),
        }),
    }
}

fn parse_addr(var: &'static str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse().map_err(|_| ConfigError {
        var,
        message: format!("{v:?} is not an address like 127.0.0.1:8080"),
    })
}

// Hand-written so that credentials inside URLs never reach a log line.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database", &redact_url(&self.database_url))
            .field("http_addr", &self.http_addr)
            .field("mqtt_url", &self.mqtt_url.as_deref().map(redact_url))
            .field("mqtt_embedded_addr", &self.mqtt_embedded_addr)
            .field("mqtt_embedded_tls_addr", &self.mqtt_embedded_tls_addr)
            .field("mqtt_ca_file", &self.mqtt_ca_file)
            .field("tls", &self.tls)
            .field("mqtt_client_id", &self.mqtt_client_id)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_outbox", &self.mail_outbox)
            .finish()
    }
}

/// `scheme://user:secret@host/x` → `scheme://***@host/x`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_run_with_no_environment() {
        let c = Config::from_lookup(|_| None).unwrap();
        assert_eq!(c.database_url, "sqlite://sotto.db");
        assert_eq!(c.http_addr.port(), 8080);
        assert!(c.mqtt_url.is_none());
    }

    #[test]
    fn a_bad_address_names_the_variable() {
        let err = Config::from_lookup(|k| (k == "SOTTO_HTTP_ADDR").then(|| "nowhere".into()))
            .unwrap_err();
        assert_eq!(err.var, "SOTTO_HTTP_ADDR");
    }

    fn lookup(pairs: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let pairs = pairs.to_vec();
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_certificate_without_its_key_names_the_missing_variable() {
        let err =
            Config::from_lookup(lookup(&[("SOTTO_TLS_CERT", "/etc/sotto/cert.pem")])).unwrap_err();
        assert_eq!(err.var, "SOTTO_TLS_KEY");
        let err =
            Config::from_lookup(lookup(&[("SOTTO_TLS_KEY", "/etc/sotto/key.pem")])).unwrap_err();
        assert_eq!(err.var, "SOTTO_TLS_CERT");
    }

    #[test]
    fn with_a_certificate_links_in_mail_default_to_https() {
        let c = Config::from_lookup(lookup(&[
            ("SOTTO_TLS_CERT", "cert.pem"),
            ("SOTTO_TLS_KEY", "key.pem"),
            ("SOTTO_MQTT_EMBEDDED_TLS_ADDR", "0.0.0.0:8883"),
        ]))
        .unwrap();
        assert_eq!(c.public_url, "https://127.0.0.1:8080");
        assert_eq!(c.mqtt_embedded_tls_addr.port(), 8883);
        assert_eq!(c.tls.unwrap().key, PathBuf::from("key.pem"));
    }

    #[test]
    fn a_tls_broker_address_without_a_certificate_is_refused() {
        let err = Config::from_lookup(lookup(&[("SOTTO_MQTT_EMBEDDED_TLS_ADDR", "0.0.0.0:8883")]))
            .unwrap_err();
        assert_eq!(err.var, "SOTTO_MQTT_EMBEDDED_TLS_ADDR");
    }

    #[test]
    fn debug_output_hides_passwords() {
        let c = Config {
            database_url: "postgres://sotto:hunter2@db/sotto".into(),
            ..Config::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
