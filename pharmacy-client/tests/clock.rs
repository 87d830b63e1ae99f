//! The counter PC's clock against the service's (issue: the dose ledger, defect 7). Every
//! signed message carries the service's `sent_at`; a PC clock more than `SOTTO_MAX_CLOCK_SKEW`
//! out puts the counter on the wrong day, so it shows one plain state, supplies nothing and
//! closes no day until the clock is right — then works again by itself.

mod common;

use std::time::Duration;

use chrono::Utc;

use common::*;
use serde_json::{Value, json};
use sotto_protocol::{ResyncReason, ServerBody};

/// The service's time in these tests: 10:00 in London today, before any closing time, so
/// what happens does not depend on when the tests run.
fn service_time() -> chrono::DateTime<Utc> {
    let local = today().and_hms_opt(10, 0, 0).unwrap();
    sotto_domain::local_instant(&chrono_tz::Europe::London, local)
}

/// A counter whose clock is `offset` from the service's; every message from the (fake) service
/// is stamped with the service's time.
async fn counter_with_clock_off_by(
    offset: chrono::Duration,
) -> (
    TestClient,
    FakeServer,
    tempfile::TempDir,
    std::sync::Arc<TestClock>,
) {
    let id = unique_pharmacy_id();
    let dir = tempfile::tempdir().unwrap();
    let mut server = FakeServer::start(&id).await;
    let clock = TestClock::at(service_time() + offset);
    let client = TestClient::start_adjusted(&id, dir.path(), Some(clock.clone()), |c| {
        c.max_clock_skew = Duration::from_secs(120);
    })
    .await;
    assert_eq!(server.expect_resync(ResyncReason::Connected).await, None);
    let people = vec![person("u1", "SU-1", "Smith", 60, &[])];
    server
        .send_at(snapshot(1, &id, people), service_time())
        .await;
    client
        .wait_for_health("the snapshot", |h| h["last_seq"] == 1)
        .await;
    (client, server, dir, clock)
}

async fn supply_today(client: &TestClient, clock: &TestClock) -> (u16, Value) {
    let today = sotto_pharmacy::Clock::now(clock)
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive();
    client
        .post(
            "/api/supplies",
            json!({"reference": "SU-1", "date": today.to_string(),
                   "supervised_taken": true, "take_home_doses": 0}),
        )
        .await
}

#[tokio::test]
async fn a_pc_clock_a_day_ahead_supplies_nothing_closes_nothing_and_says_so_plainly() {
    let (client, mut server, _dir, clock) =
        counter_with_clock_off_by(chrono::Duration::days(1)).await;
    let health = client
        .wait_for_health("the clock problem", |h| h["clock_problem"].is_string())
        .await;
    let problem = health["clock_problem"].as_str().unwrap().to_string();
    assert!(
        problem.starts_with("This PC's clock says ")
            && problem.ends_with(": correct the clock before supplying"),
        "{problem}"
    );

    // The page says it once, above everything, and offers no supply button.
    let (_, html) = client.get("/?reference=SU-1").await;
    assert!(html.contains("data-clock-wrong"), "{html}");
    assert!(html.contains("This PC&#39;s clock says") || html.contains("This PC's clock says"));
    assert!(!html.contains("action=\"/supply\""), "{html}");
    let (_, status) = client.status("SU-1").await;
    assert_eq!(status["clock_problem"], json!(problem), "{status}");

    // A supply is refused with the same words; nothing is recorded or reported.
    let (code, body) = supply_today(&client, &clock).await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["detail"], json!(problem));

    // Four hours on, the PC thinks it is tomorrow afternoon, so the service's today looks
    // over (closing it would report false missed doses): nothing closes by itself.
    let later = chrono::Duration::hours(4);
    clock.set(service_time() + chrono::Duration::days(1) + later);
    server
        .send_at(ServerBody::Heartbeat { seq: 1 }, service_time() + later)
        .await;
    let reports = server.new_reports_within(Duration::from_millis(800)).await;
    assert!(reports.is_empty(), "nothing is reported: {reports:?}");

    // The clock is put right: the next message clears it, and the counter supplies again.
    clock.set(service_time() + later);
    server
        .send_at(ServerBody::Heartbeat { seq: 1 }, service_time() + later)
        .await;
    client
        .wait_for_health("the clock put right", |h| h["clock_problem"].is_null())
        .await;
    let (code, body) = supply_today(&client, &clock).await;
    assert_eq!(code, 201, "{body}");
    client.stop().await;
}

#[tokio::test]
async fn a_pc_clock_a_day_behind_is_refused_too_and_never_reads_as_fresh() {
    let (client, _server, _dir, clock) =
        counter_with_clock_off_by(-chrono::Duration::days(1)).await;
    client
        .wait_for_health("the clock problem", |h| h["clock_problem"].is_string())
        .await;
    let (code, body) = supply_today(&client, &clock).await;
    assert_eq!(code, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("This PC's clock says")),
        "{body}"
    );
    // The data came from a service "in the future": it is not shown as confirmed.
    let (_, status) = client.status("SU-1").await;
    assert_eq!(status["stale"], true, "{status}");
    client.stop().await;
}
