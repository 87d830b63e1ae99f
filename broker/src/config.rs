//! Broker settings, and their translation into an rmqtt listener.
//!
//! rmqtt's listener defaults suit a general-purpose broker, not ours: 5 min message expiry,
//! 2 h session expiry, 1000 queued messages and anonymous access would lose an
//! overnight- or weekend-offline pharmacy's backlog, so every one of them is set here.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rmqtt::net::Builder;

/// How the embedded broker listens and how long it keeps things for offline clients.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Where to listen for plain MQTT over TCP. Port 0 picks a free port (see
    /// [`crate::Broker::local_addr`]).
    pub addr: SocketAddr,
    /// Messages queued per offline persistent session. When full, the *oldest* QoS 1/2 message
    /// is dropped to make room (rmqtt's policy); an incoming QoS 0 message is dropped instead.
    pub max_queue_len: usize,
    /// How long a disconnected persistent session (MQTT 3.1.1 `clean_session = false`) is kept.
    /// For MQTT 5 clients this is the upper bound on the expiry they ask for.
    pub session_expiry: Duration,
    /// How long a queued message stays deliverable when its publisher set no expiry.
    pub message_expiry: Duration,
    /// Largest MQTT packet accepted, in bytes; snapshots can be large.
    pub max_packet_size: u32,
    /// A second listener, for MQTT over TLS, beside the plain one. `None`: plain only.
    pub tls: Option<BrokerTls>,
}

/// Where and with which certificate to accept MQTT over TLS.
#[derive(Debug, Clone)]
pub struct BrokerTls {
    /// Port 0 picks a free port (see [`crate::Broker::local_tls_addr`]).
    pub addr: SocketAddr,
    /// Certificate, key and crypto provider, built by the caller (so the caller's provider is
    /// the only one in the process).
    pub server_config: Arc<tokio_rustls::rustls::ServerConfig>,
}

const WEEK: Duration = Duration::from_secs(7 * 24 * 60 * 60);

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 1883)),
            max_queue_len: 100_000,
            session_expiry: WEEK,
            message_expiry: WEEK,
            max_packet_size: 4 * 1024 * 1024,
            tls: None,
        }
    }
}

impl BrokerConfig {
    /// The rmqtt listener builder for this configuration (not yet bound).
    pub(crate) fn listener_builder(&self) -> Builder {
        Builder::new()
            .name("sotto/tcp")
            .laddr(self.addr)
            // Lets a restarted broker rebind while old connections sit in TIME_WAIT; a port
            // that another process *listens* on still fails to bind, as it should.
            .reuseaddr(Some(true))
            .nodelay(true)
            // Our authenticator decides; rmqtt would otherwise let username-less clients in.
            .allow_anonymous(false)
            .max_mqueue_len(self.max_queue_len)
            .session_expiry_interval(self.session_expiry)
            .max_session_expiry_interval(self.session_expiry)
            .message_expiry_interval(self.message_expiry)
            .max_packet_size(self.max_packet_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_keep_an_offline_pharmacy_backlog_for_a_week() {
        let b = BrokerConfig::default().listener_builder();
        assert!(!b.allow_anonymous);
        assert_eq!(b.max_mqueue_len, 100_000);
        assert_eq!(b.session_expiry_interval, WEEK);
        assert_eq!(b.message_expiry_interval, WEEK);
        assert_eq!(b.max_packet_size, 4 * 1024 * 1024);
    }
}
