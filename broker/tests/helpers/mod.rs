//! Shared test helpers: a broker on port 0 with fixed credentials, and a rumqttc client whose
//! event loop runs in its own task and reports events over a channel, so tests wait on events
//! (with timeouts) instead of sleeping.
#![allow(dead_code)] // each test file uses a different subset

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnAck, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Packet,
    Publish, QoS, SubscribeReasonCode,
};
use sotto_broker::{Authenticator, Broker, BrokerConfig, Identity, pharmacy_client_id};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Upper bound for anything that should happen "at once".
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub const SERVER_USER: &str = "server";
pub const SERVER_CLIENT_ID: &str = "sotto-server-test";

/// Credentials: user `server` is the server; user `pN` is pharmacy `pN`; password `<user>-secret`.
pub struct StaticAuth(HashMap<String, Identity>);

impl StaticAuth {
    pub fn new() -> Arc<Self> {
        let mut users = HashMap::from([(SERVER_USER.to_owned(), Identity::Server)]);
        for p in ["p1", "p2"] {
            users.insert(
                p.to_owned(),
                Identity::Pharmacy {
                    pharmacy_id: p.to_owned(),
                },
            );
        }
        Arc::new(Self(users))
    }
}

impl Authenticator for StaticAuth {
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Option<Identity>> + Send + 'a>> {
        Box::pin(async move {
            let expected = format!("{username}-secret");
            (password == expected.as_bytes())
                .then(|| self.0.get(username).cloned())
                .flatten()
        })
    }
}

pub fn config_on(addr: SocketAddr) -> BrokerConfig {
    BrokerConfig {
        addr,
        ..BrokerConfig::default()
    }
}

pub async fn start_broker() -> Broker {
    Broker::start(config_on("127.0.0.1:0".parse().unwrap()), StaticAuth::new())
        .await
        .expect("broker starts on a free port")
}

pub fn state_topic(p: &str) -> String {
    format!("sotto/v1/pharmacy/{p}/state")
}

pub fn reports_topic(p: &str) -> String {
    format!("sotto/v1/pharmacy/{p}/reports")
}

/// How a test client connects.
pub struct Login<'a> {
    pub client_id: String,
    pub credentials: Option<(&'a str, &'a str)>,
    pub clean_session: bool,
    /// Last Will `(topic, payload)`, published by the broker if the connection drops.
    pub will: Option<(String, String)>,
}

impl<'a> Login<'a> {
    pub fn server() -> Self {
        Self {
            client_id: SERVER_CLIENT_ID.into(),
            credentials: Some((SERVER_USER, "server-secret")),
            clean_session: true,
            will: None,
        }
    }

    pub fn pharmacy(p: &'a str) -> Self {
        Self {
            client_id: pharmacy_client_id(p),
            credentials: Some((p, "")),
            clean_session: true,
            will: None,
        }
    }

    pub fn with_will(mut self, topic: &str, payload: &str) -> Self {
        self.will = Some((topic.into(), payload.into()));
        self
    }

    pub fn persistent(mut self) -> Self {
        self.clean_session = false;
        self
    }
}

/// A connected rumqttc client.
pub struct TestClient {
    pub client: AsyncClient,
    events: mpsc::UnboundedReceiver<Result<Event, ConnectionError>>,
    /// Publishes that arrived while waiting for something else.
    received: VecDeque<Publish>,
    task: JoinHandle<()>,
}

impl TestClient {
    /// Connects and returns the CONNACK, or the error the event loop reported first.
    pub async fn try_connect(
        addr: SocketAddr,
        login: Login<'_>,
    ) -> Result<(TestClient, ConnAck), ConnectionError> {
        let mut opts = MqttOptions::new(login.client_id, addr.ip().to_string(), addr.port());
        opts.set_clean_session(login.clean_session);
        opts.set_keep_alive(Duration::from_secs(30));
        if let Some((user, pass)) = login.credentials {
            // Pharmacies' passwords follow the StaticAuth convention unless given explicitly.
            let pass = if pass.is_empty() {
                format!("{user}-secret")
            } else {
                pass.to_owned()
            };
            opts.set_credentials(user, pass);
        }
        if let Some((topic, payload)) = login.will {
            opts.set_last_will(LastWill::new(topic, payload, QoS::AtLeastOnce, false));
        }
        let (client, eventloop) = AsyncClient::new(opts, 100);
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(drive(eventloop, tx));
        let mut me = TestClient {
            client,
            events,
            received: VecDeque::new(),
            task,
        };
        let connack = me
            .wait_for(|p| match p {
                Packet::ConnAck(ack) => Some(ack.clone()),
                _ => None,
            })
            .await?;
        Ok((me, connack))
    }

    pub async fn connect(addr: SocketAddr, login: Login<'_>) -> (TestClient, ConnAck) {
        Self::try_connect(addr, login)
            .await
            .expect("client connects")
    }

    /// Subscribes at QoS 1 and returns the broker's answer from the SUBACK.
    pub async fn subscribe(&mut self, filter: &str) -> SubscribeReasonCode {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .unwrap();
        let codes = self
            .wait_for(|p| match p {
                Packet::SubAck(ack) => Some(ack.return_codes.clone()),
                _ => None,
            })
            .await
            .expect("SUBACK");
        codes[0]
    }

    /// Publishes at QoS 1 and waits for the broker's PUBACK.
    pub async fn publish(&mut self, topic: &str, payload: &str) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
            .await
            .unwrap();
        self.wait_for(|p| matches!(p, Packet::PubAck(_)).then_some(()))
            .await
            .expect("PUBACK");
    }

    /// The next publish delivered to this client.
    pub async fn next_publish(&mut self) -> Publish {
        if let Some(p) = self.received.pop_front() {
            return p;
        }
        self.wait_for(|p| match p {
            Packet::Publish(p) => Some(p.clone()),
            _ => None,
        })
        .await
        .expect("connection stays up")
    }

    /// The payloads of the next `n` publishes, as strings.
    pub async fn next_payloads(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..n {
            let p = self.next_publish().await;
            out.push(String::from_utf8(p.payload.to_vec()).unwrap());
        }
        out
    }

    /// Waits until the connection ends (the broker closed it or we disconnected).
    pub async fn wait_closed(&mut self) -> ConnectionError {
        loop {
            match tokio::time::timeout(TIMEOUT, self.events.recv()).await {
                Ok(Some(Err(e))) => return e,
                Ok(Some(Ok(_))) => {}
                Ok(None) => panic!("event loop ended without an error"),
                Err(_) => panic!("connection still open after {TIMEOUT:?}"),
            }
        }
    }

    /// Sends DISCONNECT, then drops the event loop, which closes the socket. (rmqtt leaves the
    /// connection open after a DISCONNECT until the client closes it, as MQTT requires of the
    /// client; rumqttc does not close it by itself.)
    pub async fn disconnect(mut self) {
        self.client.disconnect().await.unwrap();
        loop {
            match tokio::time::timeout(TIMEOUT, self.events.recv()).await {
                Ok(Some(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)))) | Ok(Some(Err(_))) => {
                    break;
                }
                Ok(Some(Ok(_))) => {}
                Ok(None) => break,
                Err(_) => panic!("DISCONNECT not sent within {TIMEOUT:?}"),
            }
        }
        self.task.abort();
        let _ = (&mut self.task).await;
    }

    /// Closes the socket without DISCONNECT, like a pharmacy losing its network: the broker
    /// publishes the client's Last Will.
    pub async fn drop_connection(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }

    /// Reads events until `pick` returns `Some`, keeping incoming publishes it passes over for
    /// [`TestClient::next_publish`]. A connection error ends the wait.
    async fn wait_for<T>(
        &mut self,
        mut pick: impl FnMut(&Packet) -> Option<T>,
    ) -> Result<T, ConnectionError> {
        loop {
            let event = tokio::time::timeout(TIMEOUT, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no MQTT event within {TIMEOUT:?}"))
                .expect("event loop task alive")?;
            if let Event::Incoming(packet) = event {
                if let Some(found) = pick(&packet) {
                    return Ok(found);
                }
                if let Packet::Publish(p) = packet {
                    self.received.push_back(p);
                }
            }
        }
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls the event loop until its first error, which it reports and stops (rumqttc would
/// otherwise reconnect at once, hiding what happened).
async fn drive(
    mut eventloop: EventLoop,
    tx: mpsc::UnboundedSender<Result<Event, ConnectionError>>,
) {
    loop {
        let event = eventloop.poll().await;
        let stop = event.is_err();
        if tx.send(event).is_err() || stop {
            return;
        }
    }
}
