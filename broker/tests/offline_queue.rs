//! Persistent sessions keep QoS 1 messages for a pharmacy that is offline.
//!
//! The pharmacy goes offline by losing its connection with a Last Will on its reports topic;
//! the will reaching the server proves the broker has moved the session offline, so the
//! messages published next are queued rather than racing a half-closed connection.

mod helpers;

use helpers::{Login, StaticAuth, TestClient, config_on, reports_topic, start_broker, state_topic};
use rumqttc::{QoS, SubscribeReasonCode};
use sotto_broker::{Broker, BrokerConfig};

/// Connects `p1` with a persistent session subscribed to its state topic, then drops it and
/// waits (via `server`, subscribed to reports) until the broker has noticed.
async fn p1_goes_offline(addr: std::net::SocketAddr, server: &mut TestClient) {
    assert_eq!(
        server.subscribe(&reports_topic("p1")).await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    let login = Login::pharmacy("p1")
        .persistent()
        .with_will(&reports_topic("p1"), "gone");
    let (mut p1, first) = TestClient::connect(addr, login).await;
    assert!(!first.session_present);
    assert_eq!(
        p1.subscribe(&state_topic("p1")).await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    p1.drop_connection().await;
    assert_eq!(server.next_payloads(1).await, ["gone"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_pharmacy_gets_its_queued_messages_in_order_when_it_reconnects() {
    let broker = start_broker().await;
    let (mut server, _) = TestClient::connect(broker.local_addr(), Login::server()).await;
    p1_goes_offline(broker.local_addr(), &mut server).await;

    for n in 1..=3 {
        server
            .publish(&state_topic("p1"), &format!("change {n}"))
            .await;
    }
    let (mut p1, again) =
        TestClient::connect(broker.local_addr(), Login::pharmacy("p1").persistent()).await;

    assert!(again.session_present);
    assert_eq!(
        p1.next_payloads(3).await,
        ["change 1", "change 2", "change 3"]
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pharmacy_that_disconnects_cleanly_keeps_its_session_too() {
    let broker = start_broker().await;
    let (mut server, _) = TestClient::connect(broker.local_addr(), Login::server()).await;
    let (mut p1, _) =
        TestClient::connect(broker.local_addr(), Login::pharmacy("p1").persistent()).await;
    p1.subscribe(&state_topic("p1")).await;
    p1.disconnect().await;

    server.publish(&state_topic("p1"), "while away").await;
    let (mut p1, again) =
        TestClient::connect(broker.local_addr(), Login::pharmacy("p1").persistent()).await;

    assert!(again.session_present);
    assert_eq!(p1.next_payloads(1).await, ["while away"]);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_session_reconnect_discards_the_queue() {
    let broker = start_broker().await;
    let (mut server, _) = TestClient::connect(broker.local_addr(), Login::server()).await;
    p1_goes_offline(broker.local_addr(), &mut server).await;
    server.publish(&state_topic("p1"), "queued").await;

    let (mut p1, ack) = TestClient::connect(broker.local_addr(), Login::pharmacy("p1")).await;
    p1.subscribe(&state_topic("p1")).await;
    server.publish(&state_topic("p1"), "fresh").await;

    assert!(!ack.session_present);
    assert_eq!(p1.next_payloads(1).await, ["fresh"]);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_the_oldest_messages() {
    let config = BrokerConfig {
        max_queue_len: 2,
        ..config_on("127.0.0.1:0".parse().unwrap())
    };
    let broker = Broker::start(config, StaticAuth::new()).await.unwrap();
    let (mut server, _) = TestClient::connect(broker.local_addr(), Login::server()).await;
    p1_goes_offline(broker.local_addr(), &mut server).await;

    for n in 1..=3 {
        server
            .publish(&state_topic("p1"), &format!("change {n}"))
            .await;
    }
    let (mut p1, _) =
        TestClient::connect(broker.local_addr(), Login::pharmacy("p1").persistent()).await;
    let backlog = p1.next_payloads(2).await;
    // Sent after the backlog arrived, so anything else still queued would come first.
    server.publish(&state_topic("p1"), "live").await;

    assert_eq!(backlog, ["change 2", "change 3"]);
    assert_eq!(p1.next_payloads(1).await, ["live"]);
    broker.shutdown().await;
}
