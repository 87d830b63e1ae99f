//! Closing the day: exactly the people with no dose in hand are reported missed; each day once;
//! closed days and the future; by itself at closing time and at start-up; and the local code E
//! after consecutive missed days.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use common::*;
use serde_json::{Value, json};
use sotto_domain::Directions;
use sotto_protocol::{PersonState, Report, ReportEvent, ResyncReason, ServerBody};

const FRESH: Duration = Duration::from_secs(30 * 24 * 3600);

async fn start_at(
    now: chrono::DateTime<chrono::Utc>,
    snapshot: impl FnOnce(&str) -> ServerBody,
) -> (TestClient, FakeServer, tempfile::TempDir, Arc<TestClock>) {
    let clock = TestClock::at(now);
    let (client, server, dir) = connected_at(&clock, FRESH).await;
    server.send(snapshot(&server.pharmacy_id.clone())).await;
    client
        .wait_for_health("the snapshot", |h| h["last_seq"] == 1)
        .await;
    (client, server, dir, clock)
}

fn people() -> Vec<PersonState> {
    vec![
        weekly("w", "SU-W", false, Directions::default()),
        daily_supervised("d", "SU-D"),
        daily_supervised("x", "SU-X"),
    ]
}

fn supply(reference: &str, date: NaiveDate, supervised: bool, take_home: u64) -> Value {
    json!({"reference": reference, "date": date.to_string(),
           "supervised_taken": supervised, "take_home_doses": take_home})
}

async fn close(client: &TestClient, date: NaiveDate) -> (u16, Value) {
    client
        .post("/api/close-day", json!({"date": date.to_string()}))
        .await
}

/// Closes today before its closing time, as the pharmacist confirmed.
async fn close_early(client: &TestClient, date: NaiveDate) -> (u16, Value) {
    client
        .post(
            "/api/close-day",
            json!({"date": date.to_string(), "early": true}),
        )
        .await
}

/// Reports as short strings, e.g. `missed d 2026-11-10`, `closed 2026-11-10`.
fn describe(reports: &[Report]) -> Vec<String> {
    reports
        .iter()
        .map(|r| match &r.event {
            ReportEvent::Supplied {
                service_user_id,
                collect_on,
                ..
            } => format!("supplied {service_user_id} {collect_on}"),
            ReportEvent::Withheld {
                service_user_id,
                collect_on,
                ..
            } => format!("withheld {service_user_id} {collect_on}"),
            ReportEvent::Missed {
                service_user_id,
                date,
                dose_mg,
                ..
            } => {
                assert_eq!(dose_mg.as_mg(), 60.0);
                format!("missed {service_user_id} {date}")
            }
            ReportEvent::DayClosed { date, .. } => format!("closed {date}"),
        })
        .collect()
}

#[tokio::test]
async fn closing_reports_exactly_the_days_with_no_dose_in_hand_once() {
    let (client, mut server, _dir, clock) =
        start_at(london(nov(9), 10, 0), |id| snapshot(1, id, people())).await;
    for (reference, supervised, take_home) in
        [("SU-W", false, 7), ("SU-D", true, 0), ("SU-X", true, 0)]
    {
        let (status, body) = client
            .post(
                "/api/supplies",
                supply(reference, nov(9), supervised, take_home),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = close_early(&client, nov(9)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["missed"].clone(), body["already_closed"].clone()),
        (json!(0), json!(false))
    );
    assert_eq!(
        describe(&server.expect_reports(4).await),
        [
            "supplied w 2026-11-09",
            "supplied d 2026-11-09",
            "supplied x 2026-11-09",
            "closed 2026-11-09"
        ]
    );

    // Tuesday: W's dose is at home; D doesn't come; X is not supplied (appeared intoxicated).
    clock.set(london(nov(10), 11, 0));
    let (status, body) = client
        .post(
            "/api/supplies",
            json!({"reference": "SU-X", "date": "2026-11-10", "withheld_reason": "intoxicated"}),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (201, json!("A")), "{body}");
    let (status, first_close) = close_early(&client, nov(10)).await;
    assert_eq!(status, 200, "{first_close}");
    assert_eq!(first_close["missed"], 2);
    assert_eq!(
        describe(&server.expect_reports(4).await),
        [
            "withheld x 2026-11-10",
            "missed d 2026-11-10",
            "missed x 2026-11-10",
            "closed 2026-11-10"
        ]
    );
    // Once closed, the day takes no supply (its missed doses are already reported).
    let (status, body) = client
        .post("/api/supplies", supply("SU-X", nov(10), true, 0))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("today was closed at 11:0")
    );

    // Closing again reports nothing.
    let (status, again) = close(&client, nov(10)).await;
    assert_eq!(status, 200);
    assert_eq!(again["already_closed"], true);
    assert_eq!(again["missed"], 2);
    assert_eq!(again["closed_at"], first_close["closed_at"]);
    assert!(
        server
            .new_reports_within(Duration::from_millis(700))
            .await
            .is_empty()
    );
    client
        .wait_for_health("the acks", |h| h["pending_reports"] == 0)
        .await;
    client.stop().await;
}

#[tokio::test]
async fn closed_days_are_a_harmless_no_op_the_future_is_refused_and_earlier_days_close_on_request()
{
    // Wednesday 11 November is a closure; Sundays are closed.
    let (client, mut server, _dir, _clock) = start_at(london(nov(16), 10, 0), |id| {
        snapshot_closed_sundays(1, id, Some(nov(11)), vec![daily_supervised("d", "SU-D")])
    })
    .await;

    for closed in [nov(15), nov(11)] {
        let (status, body) = close(&client, closed).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["pharmacy_closed"], true);
        assert_eq!(body["missed"], 0);
    }
    let (status, body) = close(&client, nov(17)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "date");
    assert!(
        server
            .new_reports_within(Duration::from_millis(500))
            .await
            .is_empty()
    );

    // Before enrolment (Monday 16th): only on request, as here.
    let (status, body) = close(&client, nov(13)).await;
    assert_eq!((status, body["missed"].clone()), (200, json!(1)), "{body}");
    assert_eq!(
        describe(&server.expect_reports(2).await),
        ["missed d 2026-11-13", "closed 2026-11-13"]
    );
    assert_eq!(client.health().await["enrolled_on"], "2026-11-16");
    client.stop().await;
}

#[tokio::test]
async fn the_day_closes_by_itself_at_closing_time() {
    let (client, mut server, _dir, clock) = start_at(london(nov(9), 17, 58), |id| {
        snapshot(1, id, vec![daily_supervised("d", "SU-D")])
    })
    .await;
    assert!(
        server
            .new_reports_within(Duration::from_millis(400))
            .await
            .is_empty()
    );

    clock.set(london(nov(9), 18, 0));

    assert_eq!(
        describe(&server.expect_reports(2).await),
        ["missed d 2026-11-09", "closed 2026-11-09"]
    );
    assert!(
        server
            .new_reports_within(Duration::from_millis(400))
            .await
            .is_empty()
    );
    client.stop().await;
}

#[tokio::test]
async fn days_missed_while_the_client_was_down_are_closed_at_start_up() {
    let (client, mut server, dir, clock) = start_at(london(nov(9), 10, 0), |id| {
        snapshot(1, id, vec![daily_supervised("d", "SU-D")])
    })
    .await;
    let (status, _) = client
        .post("/api/supplies", supply("SU-D", nov(9), true, 0))
        .await;
    assert_eq!(status, 201);
    server.expect_reports(1).await;
    client
        .wait_for_health("the ack", |h| h["pending_reports"] == 0)
        .await;
    client.stop().await;

    // Down from Monday morning to Wednesday morning.
    clock.set(london(nov(11), 9, 0));
    let id = server.pharmacy_id.clone();
    let back = TestClient::start_with(&id, dir.path(), BROKER, FRESH, Some(clock.clone())).await;
    server.expect_resync(ResyncReason::Connected).await;

    assert_eq!(
        describe(&server.expect_reports(3).await),
        [
            "closed 2026-11-09",
            "missed d 2026-11-10",
            "closed 2026-11-10"
        ]
    );
    assert!(
        server
            .new_reports_within(Duration::from_millis(400))
            .await
            .is_empty()
    );
    back.stop().await;
}

#[tokio::test]
async fn consecutive_missed_days_show_e_until_a_prescriber_review() {
    let (client, mut server, _dir, clock) = start_at(london(nov(9), 10, 0), |id| {
        snapshot(1, id, vec![daily_supervised("d", "SU-D")])
    })
    .await;
    server.set_auto_ack(false);

    // Thursday: Monday to Wednesday are closed by themselves, each missed.
    clock.set(london(nov(12), 10, 0));
    server.send(ServerBody::Heartbeat { seq: 1 }).await;
    let reports = server.expect_reports(6).await;
    assert_eq!(
        describe(&reports),
        [
            "missed d 2026-11-09",
            "closed 2026-11-09",
            "missed d 2026-11-10",
            "closed 2026-11-10",
            "missed d 2026-11-11",
            "closed 2026-11-11"
        ]
    );
    let e = client.wait_for_code("SU-D", "E").await;
    assert_eq!(e["due"], Value::Null);
    let (status, body) = client
        .post("/api/supplies", supply("SU-D", nov(12), true, 0))
        .await;
    assert_eq!(
        (status, body["detail"].clone()),
        (409, json!("not to be supplied now: code E"))
    );
    let (_, html) = client.get("/?reference=SU-D").await;
    assert!(
        html.contains("data-code=\"E\"") && html.contains("0161 496 0000"),
        "{html}"
    );

    // A server message from before the reports were acked doesn't lift it...
    server.send(delta(2, daily_supervised("d", "SU-D"))).await;
    client
        .wait_for_health("seq 2", |h| h["last_seq"] == 2)
        .await;
    assert_eq!(client.status("SU-D").await.1["code"], "E");
    // ...nor does the ack alone...
    server
        .ack(reports.iter().map(|r| r.report_id.clone()).collect())
        .await;
    client
        .wait_for_health("the ack", |h| h["pending_reports"] == 0)
        .await;
    assert_eq!(client.status("SU-D").await.1["code"], "E");
    // ...only a prescriber's review does: the server sends its date, and the dose ledger
    // counts from it (the same rule the server applies).
    let mut reviewed = daily_supervised("d", "SU-D");
    reviewed.last_review_on = Some(nov(12));
    server.send(delta(3, reviewed)).await;
    client.wait_for_code("SU-D", "A").await;
    client.stop().await;
}

/// A snapshot whose pharmacy opens every day from `open` to `close` (`HH:MM`).
fn snapshot_with_hours(
    seq: u64,
    pharmacy_id: &str,
    open: &str,
    close: &str,
    people: Vec<PersonState>,
) -> ServerBody {
    let day = sotto_domain::DayHours::new(
        sotto_domain::parse_hh_mm(open).unwrap(),
        sotto_domain::parse_hh_mm(close).unwrap(),
    )
    .unwrap();
    let mut info = pharmacy(pharmacy_id);
    info.opening_hours = Some(sotto_domain::OpeningHours::every_day(day));
    ServerBody::Snapshot {
        seq,
        pharmacy: info,
        people,
    }
}

#[tokio::test]
async fn a_late_pharmacys_day_closes_by_itself_at_one_the_next_morning() {
    // Open 08:00–01:00; the older closing_time (18:00) in the message is not what counts.
    let (client, mut server, _dir, clock) = start_at(london(nov(9), 17, 0), |id| {
        snapshot_with_hours(1, id, "08:00", "01:00", vec![daily_supervised("d", "SU-D")])
    })
    .await;

    for (date, hh, mm) in [(nov(9), 18, 0), (nov(9), 23, 59), (nov(10), 0, 59)] {
        clock.set(london(date, hh, mm));
        assert!(
            server
                .new_reports_within(Duration::from_millis(300))
                .await
                .is_empty(),
            "Monday is still trading at {date} {hh}:{mm}"
        );
    }
    clock.set(london(nov(10), 1, 0));

    assert_eq!(
        describe(&server.expect_reports(2).await),
        ["missed d 2026-11-09", "closed 2026-11-09"]
    );
    client.stop().await;
}

#[tokio::test]
async fn when_the_clocks_go_back_a_close_at_half_past_one_waits_for_its_second_occurrence() {
    // Saturday 24 October, open 08:00–01:30; on Sunday the clocks go back at 02:00 BST, so
    // 01:30 happens at 00:30 UTC (BST) and again at 01:30 UTC (GMT).
    use chrono::TimeZone;
    let oct = |day| NaiveDate::from_ymd_opt(2026, 10, day).unwrap();
    let utc = |day, hh, mm| {
        chrono::Utc
            .with_ymd_and_hms(2026, 10, day, hh, mm, 0)
            .unwrap()
    };
    let person = person_on(
        "d",
        "SU-D",
        prescription(oct(24), oct(30), 60, true, |_| true, Directions::default()),
    );
    let (client, mut server, _dir, clock) = start_at(utc(24, 10, 0), |id| {
        snapshot_with_hours(1, id, "08:00", "01:30", vec![person])
    })
    .await;

    clock.set(utc(25, 0, 30));
    assert!(
        server
            .new_reports_within(Duration::from_millis(300))
            .await
            .is_empty(),
        "the first 01:30 (BST) is still Saturday's trading day"
    );
    clock.set(utc(25, 1, 30));

    assert_eq!(
        describe(&server.expect_reports(2).await),
        ["missed d 2026-10-24", "closed 2026-10-24"]
    );
    client.stop().await;
}
