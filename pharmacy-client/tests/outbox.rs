//! The reports outbox: sent until the server's ack, repeated every few seconds, kept across a
//! restart, and cleared by `ReportAck`.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use serde_json::json;
use sotto_protocol::ResyncReason;

const FRESH: Duration = Duration::from_secs(30 * 24 * 3600);

fn counts(server: &FakeServer) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for id in server.arrivals.lock().unwrap().iter() {
        *counts.entry(id.clone()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn unacked_reports_are_repeated_survive_a_restart_and_stop_once_acked() {
    let clock = TestClock::at(london(nov(9), 10, 0));
    let (client, mut server, dir) = connected_at(&clock, FRESH).await;
    let id = server.pharmacy_id.clone();
    server.set_auto_ack(false);
    server
        .send(snapshot(
            1,
            &id,
            vec![daily_supervised("d", "SU-D"), daily_supervised("e", "SU-E")],
        ))
        .await;
    client.wait_for_code("SU-E", "A").await;
    for reference in ["SU-D", "SU-E"] {
        let (status, body) = client
            .post(
                "/api/supplies",
                json!({"reference": reference, "date": "2026-11-09",
                       "supervised_taken": true, "take_home_doses": 0}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let mut ids: Vec<String> = server
        .expect_reports(2)
        .await
        .into_iter()
        .map(|r| r.report_id)
        .collect();
    ids.sort();
    assert_eq!(client.health().await["pending_reports"], 2);

    // Unacked, they come again after 5 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while ids.iter().any(|i| counts(&server)[i] < 2) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            counts(&server)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The client stops with both still unacked; they are in its store, not in memory.
    client.stop().await;
    let before = counts(&server);
    let back = TestClient::start_with(&id, dir.path(), BROKER, FRESH, Some(clock.clone())).await;
    server.expect_resync(ResyncReason::Connected).await;
    assert_eq!(back.health().await["pending_reports"], 2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while ids.iter().any(|i| counts(&server)[i] <= before[i]) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            counts(&server)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Same ids as before the restart: each report is one report however often it travels.
    let mut seen: Vec<String> = counts(&server).into_keys().collect();
    seen.sort();
    assert_eq!(seen, ids);

    server.ack(ids.clone()).await;
    back.wait_for_health("the ack", |h| h["pending_reports"] == 0)
        .await;
    let acked = counts(&server);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(counts(&server), acked, "nothing is sent again once acked");
    back.stop().await;
}
