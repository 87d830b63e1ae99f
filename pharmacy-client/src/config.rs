//! The client's configuration: one typed struct, read from the environment (API.md,
//! "Configuration"), with defaults that run with zero set-up apart from the pharmacy's identity.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the client needs to run.
#[derive(Clone)]
pub struct Config {
    /// The pharmacy's id at the server: names its MQTT topics and its client id.
    pub pharmacy_id: String,
    /// `mqtt://host:port` of the broker, or `mqtts://host:port` for TLS.
    pub mqtt_url: String,
    /// A private CA (PEM) to trust for `mqtts://`, beside the system's roots.
    pub mqtt_ca_file: Option<PathBuf>,
    pub mqtt_username: String,
    /// Secret: never shown by `Debug` or logged.
    pub mqtt_password: String,
    /// Where the local store (`client.db`) lives.
    pub data_dir: PathBuf,
    /// The counter page's listen address; port 0 picks a free port.
    pub http_addr: SocketAddr,
    /// After this long without word from the server the counter marks codes "not confirmed".
    pub stale_after: Duration,
    /// MQTT keep-alive: a silent network is noticed after about twice this, then the client
    /// reconnects and resyncs. Short enough to notice a dead line well inside `stale_after`.
    pub keep_alive: Duration,
    /// How far this PC's clock may differ from the service's (`SOTTO_MAX_CLOCK_SKEW`, default
    /// 2 minutes, allowing for a message's transit): beyond it the counter supplies nothing and
    /// closes no day until the clock is put right.
    pub max_clock_skew: Duration,
    /// The server's public key, pinned at enrolment (`SOTTO_SERVER_KEY`): only messages signed
    /// with it are accepted, so no other broker user can lift a hold or change a dose.
    pub server_key: sotto_protocol::PublicKey,
    /// The JSON API's token (`SOTTO_COUNTER_API_TOKEN`). Secret. `None`: the one in
    /// `data_dir/api-token`, made on first start.
    pub api_token: Option<String>,
    /// Host names the counter answers to beside IP addresses and `localhost`
    /// (`SOTTO_COUNTER_HOSTS`, comma-separated, e.g. `counter.pharmacy.local`).
    pub counter_hosts: Vec<String>,
}

/// A missing or unusable setting, naming the environment variable so a person can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{var} is not valid: {message}")]
    Invalid { var: &'static str, message: String },
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("pharmacy_id", &self.pharmacy_id)
            .field("mqtt_url", &self.mqtt_url)
            .field("mqtt_ca_file", &self.mqtt_ca_file)
            .field("mqtt_username", &self.mqtt_username)
            .field("mqtt_password", &"[redacted]")
            .field("data_dir", &self.data_dir)
            .field("http_addr", &self.http_addr)
            .field("stale_after", &self.stale_after)
            .field("keep_alive", &self.keep_alive)
            .field("max_clock_skew", &self.max_clock_skew)
            .field("server_key", &self.server_key)
            .field("api_token", &self.api_token.as_ref().map(|_| "[redacted]"))
            .field("counter_hosts", &self.counter_hosts)
            .finish()
    }
}

impl Config {
    /// Reads `SOTTO_*` variables; the pharmacy id and MQTT credentials are required.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`Config::from_env`], from any lookup (tests can't safely set process variables).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        // An empty variable is treated as unset: `VAR= sotto-pharmacy` is a common slip.
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let pharmacy_id = required("SOTTO_PHARMACY_ID")?;
        check_pharmacy_id(&pharmacy_id).map_err(|message| ConfigError::Invalid {
            var: "SOTTO_PHARMACY_ID",
            message,
        })?;
        let mqtt_url = get("SOTTO_MQTT_URL").unwrap_or_else(|| "mqtt://127.0.0.1:1883".into());
        parse_mqtt_url(&mqtt_url).map_err(|message| ConfigError::Invalid {
            var: "SOTTO_MQTT_URL",
            message,
        })?;
        let http_addr = match get("SOTTO_HTTP_ADDR") {
            Some(s) => s.parse().map_err(|_| ConfigError::Invalid {
                var: "SOTTO_HTTP_ADDR",
                message: format!("{s:?} is not an address like 127.0.0.1:8081"),
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8081)),
        };
        let stale_after = match get("SOTTO_STALE_AFTER") {
            Some(s) => parse_duration(&s).map_err(|message| ConfigError::Invalid {
                var: "SOTTO_STALE_AFTER",
                message,
            })?,
            None => Duration::from_secs(15 * 60),
        };
        let keep_alive = match get("SOTTO_MQTT_KEEP_ALIVE") {
            Some(s) => parse_duration(&s)
                .and_then(|d| {
                    // MQTT carries keep-alive in whole seconds, at most 65535.
                    if (1..=65_535).contains(&d.as_secs()) {
                        Ok(d)
                    } else {
                        Err(format!("{s:?} must be between 1s and 65535s"))
                    }
                })
                .map_err(|message| ConfigError::Invalid {
                    var: "SOTTO_MQTT_KEEP_ALIVE",
                    message,
                })?,
            None => Duration::from_secs(30),
        };
        let max_clock_skew = match get("SOTTO_MAX_CLOCK_SKEW") {
            Some(s) => parse_duration(&s).map_err(|message| ConfigError::Invalid {
                var: "SOTTO_MAX_CLOCK_SKEW",
                message,
            })?,
            None => Duration::from_secs(120),
        };
        let mqtt_username = required("SOTTO_MQTT_USERNAME")?;
        let mqtt_password = required("SOTTO_MQTT_PASSWORD")?;
        let server_key =
            required("SOTTO_SERVER_KEY")?
                .parse()
                .map_err(|message| ConfigError::Invalid {
                    var: "SOTTO_SERVER_KEY",
                    message,
                })?;
        let api_token = get("SOTTO_COUNTER_API_TOKEN").map(|t| t.trim().to_string());
        if let Some(token) = &api_token
            && token.len() < 16
        {
            return Err(ConfigError::Invalid {
                var: "SOTTO_COUNTER_API_TOKEN",
                message:
                    "must be at least 16 characters (or unset: one is made in the data folder)"
                        .into(),
            });
        }
        let counter_hosts = get("SOTTO_COUNTER_HOSTS")
            .map(|hosts| {
                hosts
                    .split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Config {
            api_token,
            counter_hosts,
            server_key,
            pharmacy_id,
            mqtt_url,
            mqtt_ca_file: get("SOTTO_MQTT_CA_FILE").map(PathBuf::from),
            mqtt_username,
            mqtt_password,
            data_dir: get("SOTTO_DATA_DIR")
                .map_or_else(|| PathBuf::from("./sotto-pharmacy-data"), PathBuf::from),
            http_addr,
            stale_after,
            keep_alive,
            max_clock_skew,
        })
    }
}

/// The id becomes an MQTT topic level and client id, so topic wildcards and separators would
/// subscribe us to the wrong thing.
fn check_pharmacy_id(id: &str) -> Result<(), String> {
    if id.contains(['/', '+', '#']) || id.chars().any(char::is_whitespace) {
        return Err("must not contain '/', '+', '#' or spaces".into());
    }
    Ok(())
}

/// Where the broker is, and whether to speak TLS to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BrokerUrl {
    pub host: String,
    pub port: u16,
    /// `mqtts://`.
    pub tls: bool,
}

/// `mqtt://host:port` (port defaults to 1883) or `mqtts://host:port` (TLS; port defaults to 8883).
pub(crate) fn parse_mqtt_url(url: &str) -> Result<BrokerUrl, String> {
    let hint = || format!("{url:?} should look like mqtt://127.0.0.1:1883 or mqtts://host:8883");
    let (tls, rest) = match url.strip_prefix("mqtts://") {
        Some(rest) => (true, rest),
        None => (
            false,
            url.strip_prefix("mqtt://")
                .or_else(|| url.strip_prefix("tcp://"))
                .ok_or_else(hint)?,
        ),
    };
    let default_port = if tls { 8883 } else { 1883 };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = match rest.rsplit_once(':') {
        // An IPv6 literal without a port ("[::1]") has colons but ends with ']'.
        Some((host, port)) if !port.ends_with(']') => {
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("{port:?} is not a port number"))?;
            (host, port)
        }
        _ => (rest, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains('/') {
        return Err(hint());
    }
    Ok(BrokerUrl {
        host: host.to_string(),
        port,
        tls,
    })
}

/// `90s`, `15m`, `2h` → a positive duration.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let hint = || format!("{s:?} should be a number with s, m or h, e.g. 90s, 15m or 2h");
    let unit_at = s.len().checked_sub(1).ok_or_else(hint)?;
    let (number, unit) = s.split_at(unit_at);
    let number: u64 = number.parse().map_err(|_| hint())?;
    let seconds = match unit {
        "s" => Some(number),
        "m" => number.checked_mul(60),
        "h" => number.checked_mul(3600),
        _ => None,
    }
    .ok_or_else(hint)?;
    if seconds == 0 {
        return Err("must be more than zero".into());
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const IDENTITY: [(&str, &str); 4] = [
        ("SOTTO_PHARMACY_ID", "ph1"),
        ("SOTTO_MQTT_USERNAME", "u"),
        ("SOTTO_MQTT_PASSWORD", "secret-pw"),
        (
            "SOTTO_SERVER_KEY",
            "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w",
        ),
    ];

    #[test]
    fn defaults_apply_and_the_password_never_shows_in_debug() {
        let config = Config::from_lookup(lookup(&IDENTITY)).unwrap();
        assert_eq!(config.mqtt_url, "mqtt://127.0.0.1:1883");
        assert_eq!(config.http_addr.port(), 8081);
        assert_eq!(config.stale_after, Duration::from_secs(900));
        assert_eq!(config.keep_alive, Duration::from_secs(30));
        assert_eq!(config.max_clock_skew, Duration::from_secs(120));
        assert!(!format!("{config:?}").contains("secret-pw"));
        assert_eq!(config.api_token, None);
        assert!(config.counter_hosts.is_empty());
    }

    #[test]
    fn the_api_token_is_secret_and_host_names_are_a_list() {
        let mut pairs = IDENTITY.to_vec();
        pairs.push(("SOTTO_COUNTER_API_TOKEN", "a-local-secret-of-some-length"));
        pairs.push(("SOTTO_COUNTER_HOSTS", " Counter.Pharmacy.local, till2 ,"));
        let config = Config::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(
            config.api_token.as_deref(),
            Some("a-local-secret-of-some-length")
        );
        assert!(!format!("{config:?}").contains("a-local-secret"));
        assert_eq!(config.counter_hosts, ["counter.pharmacy.local", "till2"]);
        let mut pairs = IDENTITY.to_vec();
        pairs.push(("SOTTO_COUNTER_API_TOKEN", "short"));
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(err.to_string().contains("SOTTO_COUNTER_API_TOKEN"), "{err}");
    }

    #[test]
    fn errors_name_the_variable() {
        let err = Config::from_lookup(lookup(&IDENTITY[..2])).unwrap_err();
        assert!(err.to_string().contains("SOTTO_MQTT_PASSWORD"), "{err}");
        let mut pairs = IDENTITY.to_vec();
        pairs.push(("SOTTO_STALE_AFTER", "15 minutes"));
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(err.to_string().contains("SOTTO_STALE_AFTER"), "{err}");
        let mut pairs = IDENTITY.to_vec();
        pairs.push(("SOTTO_MQTT_KEEP_ALIVE", "20h"));
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(err.to_string().contains("SOTTO_MQTT_KEEP_ALIVE"), "{err}");
    }

    #[test]
    fn durations_and_urls_parse() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("").is_err());
        let at = |host: &str, port, tls| {
            Ok(BrokerUrl {
                host: host.into(),
                port,
                tls,
            })
        };
        assert_eq!(parse_mqtt_url("mqtt://h:1884"), at("h", 1884, false));
        assert_eq!(parse_mqtt_url("mqtt://h"), at("h", 1883, false));
        assert_eq!(parse_mqtt_url("mqtt://[::1]:9"), at("::1", 9, false));
        assert!(parse_mqtt_url("http://h").is_err());
    }

    #[test]
    fn mqtts_means_tls_on_port_8883_unless_given() {
        assert_eq!(
            parse_mqtt_url("mqtts://h"),
            Ok(BrokerUrl {
                host: "h".into(),
                port: 8883,
                tls: true
            })
        );
        assert_eq!(parse_mqtt_url("mqtts://h:9883").map(|u| u.port), Ok(9883));
        let mut pairs = IDENTITY.to_vec();
        pairs.push(("SOTTO_MQTT_URL", "mqtts://broker.example"));
        pairs.push(("SOTTO_MQTT_CA_FILE", "/etc/sotto/ca.pem"));
        let config = Config::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(
            config.mqtt_ca_file,
            Some(PathBuf::from("/etc/sotto/ca.pem"))
        );
    }
}
