//! Per-pharmacy topic rules, end to end through a real broker and real MQTT clients.

mod helpers;

use helpers::{Login, TestClient, reports_topic, start_broker, state_topic};
use rumqttc::{QoS, SubscribeReasonCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pharmacy_receives_qos1_messages_on_its_own_state_topic() {
    let broker = start_broker().await;
    let (mut server, _) = TestClient::connect(broker.local_addr(), Login::server()).await;
    let (mut p1, _) = TestClient::connect(broker.local_addr(), Login::pharmacy("p1")).await;

    let granted = p1.subscribe(&state_topic("p1")).await;
    server.publish(&state_topic("p1"), "hold on").await;

    assert_eq!(granted, SubscribeReasonCode::Success(QoS::AtLeastOnce));
    let msg = p1.next_publish().await;
    assert_eq!(msg.topic, state_topic("p1"));
    assert_eq!(msg.qos, QoS::AtLeastOnce);
    assert_eq!(&msg.payload[..], b"hold on");
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pharmacy_cannot_subscribe_to_another_pharmacys_state_or_to_wildcards() {
    let broker = start_broker().await;
    let (mut server, _) = TestClient::connect(broker.local_addr(), Login::server()).await;
    let (mut p1, _) = TestClient::connect(broker.local_addr(), Login::pharmacy("p1")).await;

    let mut refused = Vec::new();
    for filter in [
        state_topic("p2"),
        "sotto/v1/pharmacy/+/state".into(),
        "#".into(),
    ] {
        refused.push(p1.subscribe(&filter).await);
    }
    assert_eq!(
        p1.subscribe(&state_topic("p1")).await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    server.publish(&state_topic("p2"), "not for p1").await;
    // Sent after, on the topic p1 may read: if p2's message had leaked, it would arrive first.
    server.publish(&state_topic("p1"), "for p1").await;

    assert_eq!(refused, vec![SubscribeReasonCode::Failure; 3]);
    let msg = p1.next_publish().await;
    assert_eq!(
        (msg.topic.as_str(), &msg.payload[..]),
        (state_topic("p1").as_str(), &b"for p1"[..])
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pharmacy_can_report_only_on_its_own_reports_topic() {
    let broker = start_broker().await;
    let (mut server, _) = TestClient::connect(broker.local_addr(), Login::server()).await;
    let (mut p1, _) = TestClient::connect(broker.local_addr(), Login::pharmacy("p1")).await;
    assert_eq!(
        server.subscribe("sotto/v1/pharmacy/+/reports").await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );

    // Both are acknowledged (MQTT 3.1.1 has no way to say "denied"); only one is delivered.
    p1.publish(&reports_topic("p2"), "forged").await;
    p1.publish(&state_topic("p1"), "also forged").await;
    p1.publish(&reports_topic("p1"), "genuine").await;

    let msg = server.next_publish().await;
    assert_eq!(
        (msg.topic.as_str(), &msg.payload[..]),
        (reports_topic("p1").as_str(), &b"genuine"[..])
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_is_confined_to_the_sotto_namespace() {
    let broker = start_broker().await;
    let (mut server, _) = TestClient::connect(broker.local_addr(), Login::server()).await;

    assert_eq!(server.subscribe("#").await, SubscribeReasonCode::Failure);
    assert_eq!(
        server.subscribe("sotto/v1/#").await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sharing_a_subscription_split_the_reports_between_them() {
    let broker = start_broker().await;
    let filter = "$share/servers/sotto/v1/pharmacy/+/reports";
    let mut servers = Vec::new();
    for id in ["sotto-server-a", "sotto-server-b"] {
        let login = Login {
            client_id: id.into(),
            ..Login::server()
        };
        let (mut s, _) = TestClient::connect(broker.local_addr(), login).await;
        assert_eq!(
            s.subscribe(filter).await,
            SubscribeReasonCode::Success(QoS::AtLeastOnce)
        );
        servers.push(s);
    }
    let (mut p1, _) = TestClient::connect(broker.local_addr(), Login::pharmacy("p1")).await;

    for n in 0..4 {
        p1.publish(&reports_topic("p1"), &n.to_string()).await;
    }

    // Round-robin over two online members: two each, nothing duplicated.
    let mut got = Vec::new();
    for s in &mut servers {
        got.extend(s.next_payloads(2).await);
    }
    got.sort();
    assert_eq!(got, ["0", "1", "2", "3"]);
    broker.shutdown().await;
}
