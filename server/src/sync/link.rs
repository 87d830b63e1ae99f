//! The server's one MQTT connection. Every publish goes through a single publisher task that
//! waits for the broker's PUBACK before sending the next, so (a) per-pharmacy order on the wire
//! is the order we publish in and (b) "acknowledged" means exactly this message was accepted.
//!
//! rumqttc traps handled here (see `../shared/TECH.md`): the event loop is polled in its own
//! task and never publishes; reconnects back off; subscriptions are renewed on every CONNACK;
//! incoming messages are acked by the handler after it has done its work (manual acks).
//! Everything published here is a server → pharmacy message and is signed on the way out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS, TlsConfiguration, Transport,
};
use sotto_protocol::ServerKey;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Where and as whom to connect.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub client_id: String,
    /// `Some`: TLS (an `mqtts://` broker), trusting what this config trusts. The embedded broker
    /// is reached over plain TCP on the same machine.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

// Hand-written so the broker password never reaches a log line.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("client_id", &self.client_id)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// A message to publish, with an optional "was it acknowledged?" answer.
struct Outgoing {
    topic: String,
    payload: Vec<u8>,
    done: Option<oneshot::Sender<bool>>,
}

/// Handle to the connection: publish, ack, and whether we are connected.
#[derive(Clone)]
pub struct Link {
    tx: mpsc::Sender<Outgoing>,
    client: AsyncClient,
    connected: Arc<AtomicBool>,
}

/// How long a publish may wait for its PUBACK before it is counted as failed (and retried by
/// whoever sent it).
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

impl Link {
    /// Connects in the background (retrying with backoff until `shutdown`); incoming publishes
    /// on `subscriptions` are handed to `incoming`.
    pub fn start(
        endpoint: Endpoint,
        subscriptions: Vec<String>,
        incoming: mpsc::Sender<Publish>,
        key: Arc<ServerKey>,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Link {
        let mut opts = MqttOptions::new(endpoint.client_id, endpoint.host, endpoint.port);
        opts.set_keep_alive(Duration::from_secs(20))
            .set_clean_session(true)
            .set_manual_acks(true)
            .set_max_packet_size(
                sotto_protocol::MAX_MESSAGE_BYTES + 1024,
                sotto_protocol::MAX_MESSAGE_BYTES + 1024,
            );
        if let Some(user) = endpoint.username {
            opts.set_credentials(user, endpoint.password.unwrap_or_default());
        }
        if let Some(tls) = endpoint.tls {
            opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
        }
        let (client, mut eventloop) = AsyncClient::new(opts, 1024);
        // Small messages, one in flight: Nagle + delayed ACK would add ~40 ms to each.
        let mut net = eventloop.network_options();
        net.set_tcp_nodelay(true);
        eventloop.set_network_options(net);
        let (tx, rx) = mpsc::channel(1024);
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        let (generation_tx, generation_rx) = watch::channel((0u64, false));
        let connected = Arc::new(AtomicBool::new(false));
        let link = Link {
            tx,
            client: client.clone(),
            connected: connected.clone(),
        };
        tasks.spawn(poll_loop(
            eventloop,
            client.clone(),
            subscriptions,
            incoming,
            ack_tx,
            generation_tx,
            connected,
            shutdown.clone(),
        ));
        tasks.spawn(publish_loop(
            client,
            rx,
            ack_rx,
            generation_rx,
            key,
            shutdown,
        ));
        link
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Publishes at QoS 1 and waits for the broker's PUBACK. `false`: not acknowledged (the
    /// connection dropped or timed out); the caller keeps the message and tries again later.
    pub async fn publish_acked(&self, topic: String, payload: Vec<u8>) -> bool {
        let (done, answer) = oneshot::channel();
        let msg = Outgoing {
            topic,
            payload,
            done: Some(done),
        };
        if self.tx.send(msg).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// Publishes at QoS 1 in order with everything else, without waiting for the answer
    /// (heartbeats: the next one supersedes a lost one).
    pub async fn publish(&self, topic: String, payload: Vec<u8>) {
        let _ = self
            .tx
            .send(Outgoing {
                topic,
                payload,
                done: None,
            })
            .await;
    }

    /// Acknowledges an incoming message once it has been handled.
    pub async fn ack(&self, publish: &Publish) {
        if let Err(e) = self.client.ack(publish).await {
            tracing::debug!(error = %e, "ack not sent (connection closing)");
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn poll_loop(
    mut eventloop: EventLoop,
    client: AsyncClient,
    subscriptions: Vec<String>,
    incoming: mpsc::Sender<Publish>,
    acks: mpsc::UnboundedSender<u16>,
    generation: watch::Sender<(u64, bool)>,
    connected: Arc<AtomicBool>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => break,
            e = eventloop.poll() => e,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_millis(100);
                connected.store(true, Ordering::Relaxed);
                generation.send_modify(|(g, up)| (*g, *up) = (*g + 1, true));
                tracing::info!("connected to the MQTT broker");
                for topic in &subscriptions {
                    // try_: the poll loop must never wait on its own request channel.
                    if let Err(e) = client.try_subscribe(topic.clone(), QoS::AtLeastOnce) {
                        tracing::error!(error = %e, "could not queue a subscription");
                    }
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                let _ = acks.send(ack.pkid);
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                {
                    tracing::error!(
                        "the broker refused a subscription; check the server's broker ACL"
                    );
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if incoming.send(p).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                if connected.swap(false, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "lost the MQTT broker; reconnecting");
                } else {
                    tracing::debug!(error = %e, "MQTT broker still unreachable");
                }
                generation.send_modify(|(g, up)| (*g, *up) = (*g + 1, false));
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    connected.store(false, Ordering::Relaxed);
    let _ = client.try_disconnect();
}

/// One publish in flight at a time: send, wait for its PUBACK (or a reconnect, or a timeout),
/// answer, next.
async fn publish_loop(
    client: AsyncClient,
    mut rx: mpsc::Receiver<Outgoing>,
    mut acks: mpsc::UnboundedReceiver<u16>,
    mut generation: watch::Receiver<(u64, bool)>,
    key: Arc<ServerKey>,
    shutdown: CancellationToken,
) {
    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => break,
            m = rx.recv() => match m { Some(m) => m, None => break },
        };
        // Wait for a connection rather than queue into a dead one (rumqttc would drop it on a
        // clean reconnect anyway).
        let up = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = generation.wait_for(|(_, up)| *up) => r.map(|g| g.0),
        };
        let Ok(started_in) = up else { break };
        generation.mark_unchanged();
        // Acks that arrive late for an abandoned publish must not count for this one.
        while acks.try_recv().is_ok() {}
        let ok = match client
            .publish(
                msg.topic,
                QoS::AtLeastOnce,
                false,
                key.seal_bytes(&msg.payload),
            )
            .await
        {
            Err(_) => false,
            Ok(()) => tokio::select! {
                _ = shutdown.cancelled() => false,
                a = acks.recv() => a.is_some(),
                _ = generation.changed() => false,
                _ = tokio::time::sleep(ACK_TIMEOUT) => false,
            },
        };
        if !ok {
            tracing::debug!(generation = started_in, "publish not acknowledged");
        }
        if let Some(done) = msg.done {
            let _ = done.send(ok);
        }
    }
}

impl crate::core::LinkStatus for Link {
    fn is_connected(&self) -> bool {
        Link::is_connected(self)
    }
}
