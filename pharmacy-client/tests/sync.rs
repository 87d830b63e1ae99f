//! The state stream over a real broker: snapshots, in-order deltas, duplicates and replays,
//! gaps and resyncs, and messages the client must refuse.

mod common;

use std::time::Duration;

use common::{connected, delta, person, server_key, snapshot};
use serde_json::Value;
use sotto_domain::HoldKind::Attend;
use sotto_protocol::{ResyncReason, ServerBody, ServerMessage, encode};

const FRESH: Duration = Duration::from_secs(900);

fn supervised_mg(status: &Value) -> Option<f64> {
    status["due"]["supervised_dose_mg"].as_f64()
}

#[tokio::test]
async fn a_snapshot_then_deltas_change_the_code_and_the_dose() {
    let (client, server, _dir) = connected(FRESH).await;
    let id = server.pharmacy_id.clone();

    server
        .send(snapshot(
            1,
            &id,
            vec![person("u1", "SU-1042", "Smith", 60, &[Attend])],
        ))
        .await;
    let d = client.wait_for_code("SU-1042", "D").await;
    assert_eq!(d["due"], Value::Null, "nothing to hand over under D");
    assert_eq!(d["stale"], false);
    assert!(d.get("family_name").is_none() && d.get("date_of_birth").is_none());

    server
        .send(delta(2, person("u1", "SU-1042", "Smith", 60, &[])))
        .await;
    let a = client.wait_for_code("SU-1042", "A").await;
    assert_eq!(supervised_mg(&a), Some(60.0));
    assert_eq!(a["due"]["take_home_doses"], 0);
    assert_eq!(a["due"]["doses"][0]["date"], common::today().to_string());

    server
        .send(delta(3, person("u1", "SU-1042", "Smith", 70, &[])))
        .await;
    client
        .wait_for_status("SU-1042", "dose 70 mg", |s| supervised_mg(s) == Some(70.0))
        .await;
    assert_eq!(client.health().await["last_seq"], 3);
    client.stop().await;
}

#[tokio::test]
async fn duplicated_and_replayed_deltas_are_applied_once() {
    let (client, server, _dir) = connected(FRESH).await;
    let id = server.pharmacy_id.clone();
    server
        .send(snapshot(
            1,
            &id,
            vec![person("u1", "SU-1", "Smith", 60, &[])],
        ))
        .await;
    client.wait_for_code("SU-1", "A").await;
    server
        .send(delta(2, person("u1", "SU-1", "Smith", 60, &[Attend])))
        .await;
    client.wait_for_code("SU-1", "D").await;
    server
        .send(delta(3, person("u1", "SU-1", "Smith", 60, &[])))
        .await;
    client.wait_for_code("SU-1", "A").await;

    // The same delta again, then an older "hold placed" replayed: neither may bring D back.
    server
        .send(delta(3, person("u1", "SU-1", "Smith", 60, &[])))
        .await;
    server
        .send(delta(2, person("u1", "SU-1", "Smith", 60, &[Attend])))
        .await;
    server
        .send(delta(4, person("u1", "SU-1", "Smith", 80, &[])))
        .await;

    let status = client
        .wait_for_status("SU-1", "dose 80 mg", |s| supervised_mg(s) == Some(80.0))
        .await;
    assert_eq!(status["code"], "A");
    assert_eq!(client.health().await["last_seq"], 4);
    client.stop().await;
}

#[tokio::test]
async fn a_gap_is_not_applied_and_brings_a_resync() {
    let (client, mut server, _dir) = connected(FRESH).await;
    let id = server.pharmacy_id.clone();
    server
        .send(snapshot(
            1,
            &id,
            vec![person("u1", "SU-7", "Jones", 60, &[])],
        ))
        .await;
    client.wait_for_code("SU-7", "A").await;

    // seq 2 is lost; seq 3 must not be applied on its own.
    server
        .send(delta(3, person("u1", "SU-7", "Jones", 60, &[Attend])))
        .await;
    assert_eq!(server.expect_resync(ResyncReason::Gap).await, Some(1));
    let (_, status) = client.status("SU-7").await;
    assert_eq!(status["code"], "A", "a delta after a gap is not applied");
    assert_eq!(client.health().await["last_seq"], 1);

    server
        .send(snapshot(
            3,
            &id,
            vec![
                person("u1", "SU-7", "Jones", 60, &[Attend]),
                person("u2", "SU-8", "Khan", 50, &[]),
            ],
        ))
        .await;
    client.wait_for_code("SU-7", "D").await;
    client.wait_for_code("SU-8", "A").await;
    // And the stream carries on from the snapshot.
    server
        .send(delta(4, person("u1", "SU-7", "Jones", 60, &[])))
        .await;
    client.wait_for_code("SU-7", "A").await;
    client.stop().await;
}

#[tokio::test]
async fn an_older_snapshot_is_ignored_and_a_heartbeat_ahead_brings_a_resync() {
    let (client, mut server, _dir) = connected(FRESH).await;
    let id = server.pharmacy_id.clone();
    server
        .send(snapshot(5, &id, vec![person("u1", "SU-5", "Lee", 60, &[])]))
        .await;
    client.wait_for_code("SU-5", "A").await;
    server
        .send(snapshot(
            4,
            &id,
            vec![person("u1", "SU-5", "Lee", 60, &[Attend])],
        ))
        .await;
    server.send(ServerBody::Heartbeat { seq: 6 }).await;
    assert_eq!(server.expect_resync(ResyncReason::Gap).await, Some(5));
    assert_eq!(client.status("SU-5").await.1["code"], "A");
    client.stop().await;
}

#[tokio::test]
async fn foreign_malformed_future_and_forged_messages_are_rejected_and_the_client_carries_on() {
    let (client, server, _dir) = connected(FRESH).await;
    let id = server.pharmacy_id.clone();
    server
        .send(snapshot(
            1,
            &id,
            vec![person("u1", "SU-9", "Patel", 60, &[])],
        ))
        .await;
    client.wait_for_code("SU-9", "A").await;

    let foreign = ServerMessage::new(
        "someone-else",
        delta(2, person("u1", "SU-9", "Patel", 60, &[Attend])),
    );
    server.send_raw(server_key().seal(&foreign)).await;
    server.send_raw(b"{not json at all".to_vec()).await;
    let mut future = serde_json::to_value(ServerMessage::new(
        &id,
        delta(2, person("u1", "SU-9", "Patel", 60, &[Attend])),
    ))
    .unwrap();
    future["v"] = 99.into();
    server
        .send_raw(server_key().seal_bytes(&serde_json::to_vec(&future).unwrap()))
        .await;
    // A well-formed "hold placed" that the server did not sign: unsigned, and signed by another key.
    let forged = ServerMessage::new(&id, delta(2, person("u1", "SU-9", "Patel", 60, &[Attend])));
    server.send_raw(encode(&forged)).await;
    let intruder = sotto_protocol::ServerKey::from_secret([7; 32]);
    server.send_raw(intruder.seal(&forged)).await;

    client
        .wait_for_health("5 rejected messages", |h| h["rejected_messages"] == 5)
        .await;
    assert_eq!(client.status("SU-9").await.1["code"], "A");
    server
        .send(delta(2, person("u1", "SU-9", "Patel", 90, &[])))
        .await;
    client
        .wait_for_status("SU-9", "dose 90 mg", |s| supervised_mg(s) == Some(90.0))
        .await;
    let health = client.health().await;
    assert_eq!(health["connected"], true);
    assert_eq!(health["rejected_messages"], 5);
    client.stop().await;
}

#[tokio::test]
async fn deltas_before_the_first_snapshot_are_not_applied() {
    let (client, server, _dir) = connected(FRESH).await;
    let id = server.pharmacy_id.clone();
    server
        .send(delta(1, person("u1", "SU-3", "Ng", 60, &[])))
        .await;
    // Messages are handled in order: once this snapshot is in, the delta has been seen.
    server.send(snapshot(0, &id, vec![])).await;
    client
        .wait_for_health("the snapshot", |h| h["last_seq"] == 0)
        .await;
    assert_eq!(client.status("SU-3").await.0, 404);
    client.stop().await;
}

#[tokio::test]
async fn an_unanswered_resync_is_asked_again_while_the_client_has_no_snapshot() {
    let (client, mut server, _dir) = connected(FRESH).await;
    // No snapshot comes: after 10 s the client asks again, once.
    let started = std::time::Instant::now();
    let again = server
        .expect_resync_within(ResyncReason::Gap, Duration::from_secs(15))
        .await;
    assert_eq!(again, None);
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    client.stop().await;
}
