//! Starting, stopping and restarting brokers inside one process, as the server's tests do.

mod helpers;

use std::time::Duration;

use helpers::{Login, StaticAuth, TestClient, config_on, start_broker, state_topic};
use sotto_broker::{Broker, BrokerError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_brokers_in_one_process_work_independently() {
    let (a, b) = (start_broker().await, start_broker().await);
    assert_ne!(a.local_addr(), b.local_addr());
    // The same client ids on both: sessions must not be shared between brokers.
    let (mut server_a, _) = TestClient::connect(a.local_addr(), Login::server()).await;
    let (mut server_b, _) = TestClient::connect(b.local_addr(), Login::server()).await;
    let (mut p1_a, _) = TestClient::connect(a.local_addr(), Login::pharmacy("p1")).await;
    let (mut p1_b, _) = TestClient::connect(b.local_addr(), Login::pharmacy("p1")).await;
    p1_a.subscribe(&state_topic("p1")).await;
    p1_b.subscribe(&state_topic("p1")).await;

    server_a.publish(&state_topic("p1"), "from a").await;
    server_b.publish(&state_topic("p1"), "from b").await;

    assert_eq!(p1_a.next_payloads(1).await, ["from a"]);
    assert_eq!(p1_b.next_payloads(1).await, ["from b"]);
    a.shutdown().await;
    // b keeps working after a is gone.
    server_b.publish(&state_topic("p1"), "still b").await;
    assert_eq!(p1_b.next_payloads(1).await, ["still b"]);
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_disconnects_clients_and_a_new_broker_can_bind_the_same_address() {
    let broker = start_broker().await;
    let addr = broker.local_addr();
    let (mut p1, _) = TestClient::connect(addr, Login::pharmacy("p1").persistent()).await;
    p1.subscribe(&state_topic("p1")).await;

    broker.shutdown().await;
    p1.wait_closed().await;
    let broker = Broker::start(config_on(addr), StaticAuth::new())
        .await
        .expect("rebinds");
    let (mut server, _) = TestClient::connect(addr, Login::server()).await;
    let (mut p1, ack) = TestClient::connect(addr, Login::pharmacy("p1").persistent()).await;
    p1.subscribe(&state_topic("p1")).await;
    server.publish(&state_topic("p1"), "after restart").await;

    assert_eq!(broker.local_addr(), addr);
    assert!(
        !ack.session_present,
        "sessions live in memory and do not survive a restart"
    );
    assert_eq!(p1.next_payloads(1).await, ["after restart"]);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_on_a_taken_port_is_a_bind_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();

    let result = tokio::time::timeout(
        Duration::from_secs(2),
        Broker::start(config_on(addr), StaticAuth::new()),
    )
    .await
    .expect("fails quickly");

    match result {
        Err(err @ BrokerError::Bind { .. }) => {
            let text = err.to_string();
            assert!(
                text.contains(&addr.to_string()) && text.contains("SOTTO_MQTT_EMBEDDED_ADDR"),
                "{text}"
            );
        }
        Err(other) => panic!("expected a bind error, got {other}"),
        Ok(_) => panic!("expected a bind error, the broker started"),
    }
}
