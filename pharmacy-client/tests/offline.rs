//! Working without the broker: answers from the local store after a restart, and says plainly
//! when the data is stale.

mod common;

use std::time::Duration;

use common::{BROKER, NO_BROKER, TestClient, connected, delta, person, snapshot};
use sotto_domain::HoldKind::Attend;
use sotto_protocol::ResyncReason;
use sotto_protocol::ServerBody;

#[tokio::test]
async fn after_a_restart_without_the_broker_the_client_answers_from_its_store_at_once() {
    let (client, server, dir) = connected(Duration::from_secs(900)).await;
    let id = server.pharmacy_id.clone();
    server
        .send(snapshot(
            7,
            &id,
            vec![person("u1", "SU-42", "Brown", 65, &[])],
        ))
        .await;
    let before = client.wait_for_code("SU-42", "A").await;
    client.stop().await;

    let restarted = TestClient::start(&id, dir.path(), NO_BROKER, Duration::from_secs(900)).await;
    let (code, status) = restarted.status("SU-42").await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["code"], "A");
    assert_eq!(status["due"]["supervised_dose_mg"], 65.0);
    assert_eq!(
        status["synced_at"], before["synced_at"],
        "the sync time survives a restart"
    );
    assert_eq!(status["stale"], false);
    let health = restarted.health().await;
    assert_eq!(health["connected"], false);
    assert_eq!(health["last_seq"], 7);
    restarted.stop().await;
}

#[tokio::test]
async fn without_word_from_the_server_codes_are_marked_not_confirmed_until_a_heartbeat() {
    let (client, server, _dir) = connected(Duration::from_secs(1)).await;
    let id = server.pharmacy_id.clone();
    server
        .send(snapshot(
            1,
            &id,
            vec![person("u1", "SU-11", "Green", 60, &[])],
        ))
        .await;
    client
        .wait_for_status("SU-11", "fresh A", |s| {
            s["code"] == "A" && s["stale"] == false
        })
        .await;

    let stale = client
        .wait_for_status("SU-11", "stale", |s| s["stale"] == true)
        .await;
    assert_eq!(stale["code"], "A", "the code is still shown, marked");
    let (_, html) = client.get("/?reference=SU-11").await;
    assert!(html.contains("class=\"stale\""), "{html}");
    assert!(html.contains("not confirmed since"), "{html}");

    server.send(ServerBody::Heartbeat { seq: 1 }).await;
    client
        .wait_for_status("SU-11", "fresh again", |s| s["stale"] == false)
        .await;
    let (_, html) = client.get("/?reference=SU-11").await;
    assert!(!html.contains("class=\"stale\""), "{html}");
    client.stop().await;
}

#[tokio::test]
async fn before_any_snapshot_nothing_is_confirmed() {
    let id = common::unique_pharmacy_id();
    let dir = tempfile::tempdir().unwrap();
    let client = TestClient::start(&id, dir.path(), NO_BROKER, Duration::from_secs(900)).await;
    let health = client.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["synced_at"], serde_json::Value::Null);
    assert_eq!(health["last_seq"], serde_json::Value::Null);
    assert_eq!(health["pending_reports"], 0);
    assert_eq!(client.status("SU-1").await.0, 404);
    client.stop().await;
}

#[tokio::test]
async fn changes_sent_while_the_client_was_stopped_arrive_when_it_comes_back() {
    let (client, mut server, dir) = connected(Duration::from_secs(900)).await;
    let id = server.pharmacy_id.clone();
    server
        .send(snapshot(
            1,
            &id,
            vec![person("u1", "SU-21", "White", 60, &[])],
        ))
        .await;
    client.wait_for_code("SU-21", "A").await;
    client.stop().await;

    // The broker keeps the persistent session's subscription and queues this for it.
    server
        .send(delta(2, person("u1", "SU-21", "White", 60, &[Attend])))
        .await;
    let back = TestClient::start(&id, dir.path(), BROKER, Duration::from_secs(900)).await;
    assert_eq!(server.expect_resync(ResyncReason::Connected).await, Some(1));
    back.wait_for_code("SU-21", "D").await;
    assert_eq!(back.health().await["last_seq"], 2);
    back.stop().await;
}
