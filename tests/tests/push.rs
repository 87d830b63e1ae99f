//! Changes made on the server reach the right pharmacy's counter within a second and are never
//! lost: across a stopped client, a restarted broker, duplicates, forgeries and garbage. Each
//! scenario runs on the embedded broker and on a private Mosquitto with the generated ACL.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, SubscribeReasonCode};
use sotto_tests::on_both_brokers;
use sotto_tests::push::{BrokerKind, PushWorld, REFERENCE};

const SECOND: Duration = Duration::from_secs(1);
/// Reconnects and resyncs involve backoff; generous but bounded.
const RECOVERY: Duration = Duration::from_secs(20);

on_both_brokers!(
    a_hold_a_lift_and_a_regime_change_reach_the_counter_within_a_second,
    changes_made_while_the_counter_is_down_arrive_in_order_after_restart,
    nothing_is_lost_when_the_broker_restarts_while_changes_are_made,
    another_pharmacy_cannot_read_or_write_this_pharmacys_topics,
    replays_forgeries_for_other_pharmacies_and_garbage_change_nothing,
);

async fn a_hold_a_lift_and_a_regime_change_reach_the_counter_within_a_second(w: PushWorld) {
    let counter = w.counter(Duration::from_secs(900)).await;
    counter.wait_for_code(REFERENCE, "A", RECOVERY).await;

    let hold = w.place_hold().await;
    counter.wait_for_code(REFERENCE, "D", SECOND).await;
    w.lift_hold(&hold).await;
    counter.wait_for_code(REFERENCE, "A", SECOND).await;
    w.change_dose(75.0).await;
    counter
        .wait_for(REFERENCE, SECOND, "the new dose", |s| {
            s["code"] == "A" && s["due"]["supervised_dose_mg"] == 75.0
        })
        .await;
    let (_, status) = counter.status(REFERENCE).await;
    assert!(
        !status.to_string().contains("ring us"),
        "a hold reason reached the pharmacy: {status}"
    );
}

async fn changes_made_while_the_counter_is_down_arrive_in_order_after_restart(w: PushWorld) {
    let mut counter = w.counter(Duration::from_secs(900)).await;
    counter.wait_for_code(REFERENCE, "A", RECOVERY).await;
    counter.stop().await;

    // Three changes whose order matters: placed-then-lifted is A, lifted-then-placed would be D.
    let hold = w.place_hold().await;
    w.change_dose(80.0).await;
    w.lift_hold(&hold).await;
    let seq = w.server_seq().await;

    counter.start_again().await;
    counter
        .wait_for(REFERENCE, RECOVERY, "all three changes", |s| {
            s["code"] == "A" && s["due"]["supervised_dose_mg"] == 80.0 && s["stale"] == false
        })
        .await;
    let health = counter.health().await;
    assert_eq!(health["last_seq"], seq, "{health}");
}

async fn nothing_is_lost_when_the_broker_restarts_while_changes_are_made(mut w: PushWorld) {
    let counter = w.counter(Duration::from_secs(900)).await;
    counter.wait_for_code(REFERENCE, "A", RECOVERY).await;
    let hold = w.place_hold().await;
    match w.kind {
        BrokerKind::Embedded => {
            // The embedded broker lives in the server: restart the server mid-stream.
            w.app.stop_server().await;
            w.app.start_server().await;
        }
        BrokerKind::Mosquitto => {
            let m = w.mosquitto.as_mut().unwrap();
            m.kill().await;
            // Changes made while the broker is down wait in the outbox.
            w.lift_hold(&hold).await;
            w.change_dose(90.0).await;
            let m = w.mosquitto.as_mut().unwrap();
            m.start_again().await;
        }
    }
    if w.kind == BrokerKind::Embedded {
        w.lift_hold(&hold).await;
        w.change_dose(90.0).await;
    }
    let second = w.place_hold().await;
    counter
        .wait_for(REFERENCE, RECOVERY, "every change after the restart", |s| {
            s["code"] == "D" && s["stale"] == false
        })
        .await;
    w.lift_hold(&second).await;
    counter
        .wait_for(
            REFERENCE,
            RECOVERY,
            "the dose changed during the restart",
            |s| s["code"] == "A" && s["due"]["supervised_dose_mg"] == 90.0,
        )
        .await;
    let seq = w.server_seq().await;
    let deadline = tokio::time::Instant::now() + RECOVERY;
    while counter.health().await["last_seq"] != seq {
        assert!(
            tokio::time::Instant::now() < deadline,
            "client never reached seq {seq}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_for_rejections(counter: &sotto_tests::counter::Counter, at_least: u64) {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        let rejected = counter.health().await["rejected_messages"]
            .as_u64()
            .unwrap();
        if rejected >= at_least {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rejections not counted: {rejected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A raw MQTT connection, polled in the background; its events arrive on the channel.
fn raw_client(
    port: u16,
    id: &str,
    user: &str,
    password: &str,
) -> (AsyncClient, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_credentials(user, password);
    opts.set_max_packet_size(8 << 20, 8 << 20);
    let (client, eventloop) = AsyncClient::new(opts, 100);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(drive(eventloop, tx));
    (client, rx)
}

async fn drive(mut eventloop: EventLoop, tx: tokio::sync::mpsc::UnboundedSender<Event>) {
    loop {
        match eventloop.poll().await {
            Ok(e) => {
                if tx.send(e).is_err() {
                    return;
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn next_matching(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    within: Duration,
    want: impl Fn(&Event) -> bool,
) -> Option<Event> {
    tokio::time::timeout(within, async {
        while let Some(e) = rx.recv().await {
            if want(&e) {
                return Some(e);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

async fn another_pharmacy_cannot_read_or_write_this_pharmacys_topics(w: PushWorld) {
    let counter = w.counter(Duration::from_secs(900)).await;
    counter.wait_for_code(REFERENCE, "A", RECOVERY).await;
    let other = &w.other_pharmacy;
    let spy_id = format!("{}/spy", sotto_protocol::pharmacy_client_id(&other.id));
    let (spy, mut events) = raw_client(
        w.broker_port(),
        &spy_id,
        &other.mqtt_username,
        &other.mqtt_password,
    );
    let connected = next_matching(&mut events, RECOVERY, |e| {
        matches!(e, Event::Incoming(Packet::ConnAck(_)))
    })
    .await;
    assert!(
        connected.is_some(),
        "the other pharmacy could not even connect"
    );

    spy.subscribe(
        sotto_protocol::state_topic(&w.pharmacy.id),
        QoS::AtLeastOnce,
    )
    .await
    .unwrap();
    spy.subscribe("sotto/v1/#", QoS::AtLeastOnce).await.unwrap();
    for _ in 0..2 {
        let suback = next_matching(&mut events, RECOVERY, |e| {
            matches!(e, Event::Incoming(Packet::SubAck(_)))
        })
        .await
        .expect("a SUBACK");
        let Event::Incoming(Packet::SubAck(ack)) = suback else {
            unreachable!()
        };
        // Mosquitto grants a denied MQTT 3.1.1 subscription and filters at delivery instead;
        // the embedded broker refuses it outright. Either way nothing may be delivered (below).
        if w.kind == BrokerKind::Mosquitto {
            continue;
        }
        assert!(
            ack.return_codes
                .iter()
                .all(|c| matches!(c, SubscribeReasonCode::Failure)),
            "the broker granted another pharmacy's topic: {ack:?}"
        );
    }
    // Whatever the broker said, nothing of ours reaches the spy.
    w.place_hold().await;
    counter.wait_for_code(REFERENCE, "D", SECOND).await;
    // (Its own heartbeats may arrive through `sotto/v1/#`: those are its to read.)
    let own_topic = sotto_protocol::state_topic(&other.id);
    let leaked = next_matching(
        &mut events,
        Duration::from_millis(1500),
        |e| matches!(e, Event::Incoming(Packet::Publish(p)) if p.topic != own_topic),
    )
    .await;
    assert!(leaked.is_none(), "another pharmacy received {leaked:?}");
}

async fn replays_forgeries_for_other_pharmacies_and_garbage_change_nothing(w: PushWorld) {
    let counter = w.counter(Duration::from_secs(900)).await;
    counter.wait_for_code(REFERENCE, "A", RECOVERY).await;
    let hold = w.place_hold().await;
    let placed_seq = w.server_seq().await;
    counter.wait_for_code(REFERENCE, "D", SECOND).await;
    w.lift_hold(&hold).await;
    counter.wait_for_code(REFERENCE, "A", SECOND).await;
    let rejected_before = counter.health().await["rejected_messages"]
        .as_u64()
        .unwrap();

    // Play the server (its own credentials): replay the "hold placed" delta, send a delta meant
    // for another pharmacy, an unknown protocol version and garbage.
    let e = w.app.broker_endpoint.clone().expect("server endpoint");
    let (server, mut events) = raw_client(
        w.broker_port(),
        "sotto-server-replayer",
        e.username.as_deref().unwrap_or(""),
        e.password.as_deref().unwrap_or(""),
    );
    next_matching(&mut events, RECOVERY, |e| {
        matches!(e, Event::Incoming(Packet::ConnAck(_)))
    })
    .await
    .expect("connected as the server");
    let topic = sotto_protocol::state_topic(&w.pharmacy.id);
    // An authentic, signed "hold placed" as it crossed the wire (signed here with the server's
    // own key, read from its database, so the replay is exactly what the server sent).
    let key = w.server_signing_key().await;
    let replay = w.outbox_payload(placed_seq).await;
    let mut for_other: serde_json::Value = serde_json::from_str(&replay).unwrap();
    for_other["pharmacy_id"] = w.other_pharmacy.id.clone().into();
    for_other["seq"] = (placed_seq + 2).into();
    let mut future: serde_json::Value = serde_json::from_str(&replay).unwrap();
    future["v"] = 99.into();
    future["seq"] = (placed_seq + 2).into();
    let signed = |json: &[u8]| key.seal_bytes(json);
    for payload in [
        signed(replay.as_bytes()),
        signed(replay.as_bytes()),
        signed(for_other.to_string().as_bytes()),
        signed(future.to_string().as_bytes()),
        b"\x00not json at all".to_vec(),
    ] {
        server
            .publish(&topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
    wait_for_rejections(&counter, rejected_before + 3).await;
    let (_, s) = counter.status(REFERENCE).await;
    assert_eq!(
        s["code"], "A",
        "a replayed 'hold placed' must not bring D back: {s}"
    );

    // A forged "hold placed" next in sequence, from a broker user with every right on the topic
    // but without the server's key: unsigned, then signed with another key. Ignored and logged.
    let mut forged: serde_json::Value = serde_json::from_str(&replay).unwrap();
    forged["seq"] = (w.server_seq().await + 1).into();
    let forged = forged.to_string();
    let intruder = sotto_protocol::ServerKey::from_secret([9; 32]);
    for payload in [
        forged.clone().into_bytes(),
        intruder.seal_bytes(forged.as_bytes()),
    ] {
        server
            .publish(&topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
    wait_for_rejections(&counter, rejected_before + 5).await;
    let (_, s) = counter.status(REFERENCE).await;
    assert_eq!(s["code"], "A", "a forged message changed the counter: {s}");

    // And the client still works.
    w.place_hold().await;
    counter.wait_for_code(REFERENCE, "D", SECOND).await;
}
