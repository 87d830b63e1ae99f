//! MQTT over TLS for the embedded broker: TLS is ended here and the plain MQTT bytes are relayed
//! to the broker's own plain listener on this machine.
//!
//! Why not rmqtt's own TLS listener: its `tls` feature hard-wires rustls's aws-lc-rs provider,
//! and a second provider beside the ring one the rest of Sotto uses makes rustls panic (TECH.md);
//! rmqtt offers no way to hand it an already-decrypted stream. The relay costs one loopback hop.
//! The broker sees relayed clients as coming from loopback; nothing in Sotto keys on a client's
//! address (clients are known by their credentials).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::config::BrokerTls;

/// A client gets this long to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds the TLS listener.
pub(crate) async fn bind(tls: &BrokerTls) -> std::io::Result<TcpListener> {
    TcpListener::bind(tls.addr).await
}

/// Accepts TLS clients and relays each to `plain` (the broker's plain listener) until the task is
/// aborted; aborting also drops every relay (the `JoinSet`), closing their connections.
pub(crate) async fn serve(listener: TcpListener, tls: BrokerTls, plain: SocketAddr) {
    let acceptor = TlsAcceptor::from(tls.server_config);
    let upstream = reachable(plain);
    let mut relays = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    relays.spawn(relay(client, acceptor.clone(), upstream));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "MQTT/TLS accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            // Reap finished relays so the set does not grow.
            Some(_) = relays.join_next(), if !relays.is_empty() => {}
        }
    }
}

async fn relay(client: TcpStream, acceptor: TlsAcceptor, upstream: SocketAddr) {
    // Small messages, one in flight: Nagle + delayed ACK would add ~40 ms to each (both hops).
    let _ = client.set_nodelay(true);
    let mut client = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(client)).await {
        Ok(Ok(tls)) => tls,
        // A client that does not trust our certificate, or speaks plain MQTT to the TLS port.
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "MQTT/TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("MQTT/TLS handshake timed out");
            return;
        }
    };
    let mut broker = match TcpStream::connect(upstream).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "MQTT/TLS: cannot reach the broker's plain listener");
            return;
        }
    };
    let _ = broker.set_nodelay(true);
    // Ends when either side closes (the broker kicks the client, or the client goes away).
    let _ = tokio::io::copy_bidirectional(&mut client, &mut broker).await;
}

/// A listener bound to "any address" is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}
