//! Recording supplies at the counter: code B, the report to the server, and every refusal
//! (twice, racing, stale, under D, numbers that don't match, another day); clause 2 through the
//! API; the counter page's plain form.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use sotto_domain::Directions;
use sotto_domain::HoldKind::Attend;
use sotto_protocol::{Report, ReportEvent};

/// Long enough never to go stale unless a test wants it to.
const FRESH: Duration = Duration::from_secs(30 * 24 * 3600);

/// A client and server at Monday 9 November 10:00 in London, holding `people`.
async fn monday_with(
    people: Vec<sotto_protocol::PersonState>,
    stale: Duration,
) -> (TestClient, FakeServer, tempfile::TempDir, Arc<TestClock>) {
    let clock = TestClock::at(london(nov(9), 10, 0));
    let (client, server, dir) = connected_at(&clock, stale).await;
    let reference = people[0].reference.clone();
    server
        .send(snapshot(1, &server.pharmacy_id.clone(), people))
        .await;
    client
        .wait_for_status(&reference, "the snapshot", |s| s["code"] != Value::Null)
        .await;
    (client, server, dir, clock)
}

fn supply(reference: &str, date: chrono::NaiveDate, supervised: bool, take_home: u64) -> Value {
    json!({"reference": reference, "date": date.to_string(),
           "supervised_taken": supervised, "take_home_doses": take_home})
}

fn supplied(report: &Report) -> (&str, chrono::NaiveDate, bool, &[chrono::NaiveDate]) {
    match &report.event {
        ReportEvent::Supplied {
            service_user_id,
            collect_on,
            supervised_taken,
            take_home_dates,
            ..
        } => (
            service_user_id.as_str(),
            *collect_on,
            *supervised_taken,
            take_home_dates.as_slice(),
        ),
        other => panic!("expected a supply, got {other:?}"),
    }
}

fn days(from: u32, to: u32) -> Vec<chrono::NaiveDate> {
    (from..=to).map(nov).collect()
}

#[tokio::test]
async fn a_supply_makes_b_and_is_reported_with_its_dates_and_never_twice() {
    let people = vec![weekly("u1", "SU-1", true, Directions::default())];
    let (client, mut server, _dir, clock) = monday_with(people, FRESH).await;
    let a = client.wait_for_code("SU-1", "A").await;
    assert_eq!(a["due"]["supervised_dose_mg"], 60.0);
    assert_eq!(a["due"]["take_home_doses"], 6);

    let (status, body) = client
        .post("/api/supplies", supply("SU-1", nov(9), true, 6))
        .await;

    assert_eq!(status, 201, "{body}");
    assert_eq!(body["code"], "B");
    assert_eq!(body["take_home_dates"], json!(days(10, 15)));
    let report = server.expect_reports(1).await.remove(0);
    assert_eq!(report.report_id, body["report_id"]);
    assert_eq!(
        supplied(&report),
        ("u1", nov(9), true, days(10, 15).as_slice())
    );
    client
        .wait_for_health("the ack", |h| h["pending_reports"] == 0)
        .await;
    let b = client.wait_for_code("SU-1", "B").await;
    assert_eq!(b["supplied_at"], body["at"]);
    let (_, html) = client.get("/?reference=SU-1").await;
    assert!(html.contains("Supplied at 10:0"), "{html}");
    assert!(
        !html.contains("action=\"/supply\""),
        "no supply form under B"
    );

    // The double-dispense bug: a second supply the same day is refused, and not reported.
    let (status, body) = client
        .post("/api/supplies", supply("SU-1", nov(9), true, 6))
        .await;
    assert_eq!(status, 409, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("already supplied today at 10:0"),
        "{detail}"
    );
    // On Tuesday the doses are at home: nothing is due, clause 2 or not.
    clock.set(london(nov(10), 10, 0));
    client.wait_for_code("SU-1", "C").await;
    let (status, body) = client
        .post("/api/supplies", supply("SU-1", nov(10), false, 5))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["detail"], "nothing due today");
    // Only Monday's close (nothing missed: the dose was taken here) follows the one supply.
    let later = server.new_reports_within(Duration::from_millis(700)).await;
    assert!(
        matches!(later.as_slice(), [Report { event: ReportEvent::DayClosed { date, .. }, .. }]
            if *date == nov(9)),
        "{later:?}"
    );
    client
        .wait_for_health("the ack", |h| h["pending_reports"] == 0)
        .await;
    client.stop().await;
}

#[tokio::test]
async fn two_supplies_racing_each_other_hand_over_once() {
    let people = vec![daily_supervised("u1", "SU-1")];
    let (client, mut server, _dir, _clock) = monday_with(people, FRESH).await;
    client.wait_for_code("SU-1", "A").await;

    let body = supply("SU-1", nov(9), true, 0);
    let (first, second) = tokio::join!(
        client.post("/api/supplies", body.clone()),
        client.post("/api/supplies", body.clone())
    );

    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{first:?} {second:?}");
    assert_eq!(server.expect_reports(1).await.len(), 1);
    assert!(
        server
            .new_reports_within(Duration::from_millis(700))
            .await
            .is_empty()
    );
    client.stop().await;
}

#[tokio::test]
async fn supplies_are_refused_under_d_for_other_numbers_and_on_other_days() {
    let mut held = daily_supervised("u2", "SU-2");
    held.holds = person("x", "x", "x", 60, &[Attend]).holds;
    let people = vec![weekly("u1", "SU-1", true, Directions::default()), held];
    let (client, mut server, _dir, _clock) = monday_with(people, FRESH).await;
    client.wait_for_code("SU-2", "D").await;

    let (status, body) = client
        .post("/api/supplies", supply("SU-2", nov(9), true, 0))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["detail"], "not to be supplied now: code D");

    let (status, body) = client
        .post("/api/supplies", supply("SU-1", nov(9), true, 3))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "take_home_doses");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("must be 6, not 3")
            && message.contains("a supervised dose of 60 mg and 6 take-home doses"),
        "{message}"
    );

    let (status, body) = client
        .post("/api/supplies", supply("SU-1", nov(9), false, 6))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "supervised_taken");

    for date in [nov(10), nov(6)] {
        let (status, body) = client
            .post("/api/supplies", supply("SU-1", date, true, 6))
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["errors"][0]["field"], "date");
    }
    let (status, body) = client
        .post("/api/supplies", json!({"reference": "SU-1"}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "date");
    let (status, _) = client
        .post("/api/supplies", supply("SU-404", nov(9), true, 6))
        .await;
    assert_eq!(status, 404);

    assert_eq!(client.status("SU-1").await.1["code"], "A");
    assert!(
        server
            .new_reports_within(Duration::from_millis(500))
            .await
            .is_empty(),
        "nothing refused is reported"
    );
    client.stop().await;
}

#[tokio::test]
async fn nothing_is_supplied_on_unconfirmed_data_but_not_supplying_is_recorded() {
    let people = vec![daily_supervised("u1", "SU-1")];
    let (client, mut server, _dir, _clock) = monday_with(people, Duration::from_secs(1)).await;
    client
        .wait_for_status("SU-1", "stale", |s| s["stale"] == true)
        .await;

    let (status, body) = client
        .post("/api/supplies", supply("SU-1", nov(9), true, 0))
        .await;
    assert_eq!(status, 409, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("not confirmed since ") && detail.ends_with(": check with the service"),
        "{detail}"
    );

    let (status, body) = client
        .post(
            "/api/supplies",
            json!({"reference": "SU-1", "date": "2026-11-09", "withheld_reason": "intoxicated"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["code"], "A", "withheld is not supplied");
    assert_eq!(body["supplied"], false);
    let report = server.expect_reports(1).await.remove(0);
    assert!(
        matches!(report.event, ReportEvent::Withheld { ref service_user_id, collect_on, .. }
            if service_user_id == "u1" && collect_on == nov(9)),
        "{report:?}"
    );
    client.stop().await;
}

#[tokio::test]
async fn clause_2_a_missed_monday_of_a_weekly_take_home_supplies_six_days_on_tuesday() {
    let people = vec![weekly("u1", "SU-1", false, Directions::default())];
    let (client, mut server, _dir, clock) = monday_with(people, FRESH).await;
    let monday = client.wait_for_code("SU-1", "A").await;
    assert_eq!(monday["due"]["take_home_doses"], 7);

    // Nobody came on Monday; on Tuesday morning Monday is closed by itself as missed.
    clock.set(london(nov(10), 10, 0));
    server
        .send(sotto_protocol::ServerBody::Heartbeat { seq: 1 })
        .await;
    let reports = server.expect_reports(2).await;
    assert!(matches!(reports[0].event, ReportEvent::Missed { date, .. } if date == nov(9)));
    let tuesday = client.wait_for_code("SU-1", "A").await;
    assert_eq!(tuesday["due"]["take_home_doses"], 6);
    assert_eq!(tuesday["due"]["supervised_dose_mg"], Value::Null);

    let (status, body) = client
        .post("/api/supplies", supply("SU-1", nov(10), false, 6))
        .await;

    assert_eq!(status, 201, "{body}");
    let report = server.expect_reports(1).await.remove(0);
    assert_eq!(
        supplied(&report),
        ("u1", nov(10), false, days(10, 15).as_slice())
    );
    // Wednesday: the rest of the instalment is at home, not due again.
    clock.set(london(nov(11), 10, 0));
    client.wait_for_code("SU-1", "C").await;
    client.stop().await;
}

#[tokio::test]
async fn the_counter_page_records_a_supply_with_a_plain_form_and_redirects_back() {
    let people = vec![weekly("u1", "SU-1", true, Directions::default())];
    let (client, mut server, _dir, _clock) = monday_with(people, FRESH).await;
    client.wait_for_code("SU-1", "A").await;
    let (_, html) = client.get("/?reference=SU-1").await;
    assert!(
        html.contains("Supplied: supervised dose taken + 6 take-home"),
        "{html}"
    );
    assert!(html.contains("action=\"/supply\"") && !html.contains("<script"));
    let lower = without_form_tokens(&html).to_lowercase();
    for word in ["hold", "reason", "missed", "refused"] {
        assert!(!lower.contains(word), "the page says {word:?}: {html}");
    }
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = form_token_in(&html).expect("the supply forms carry the page's token");
    let post = |form: &'static str| {
        no_redirects
            .post(format!("http://{}/supply", client.addr))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={token}&{form}"))
            .send()
    };

    // Not supplying first (the person seemed unwell), then re-assessed and supplied.
    let response = post("reference=SU-1&date=2026-11-09&why=unwell")
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let (_, html) = client.get("/?reference=SU-1&done=not_supplied").await;
    assert!(html.contains("data-code=\"A\"") && html.contains("Not supplied earlier today"));
    let response = post("reference=SU-1&date=2026-11-09&supervised_taken=true&take_home_doses=6")
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, "/?reference=SU-1&done=supplied");
    let (_, html) = client.get(&location).await;
    assert!(
        html.contains("data-code=\"B\"") && html.contains("Recorded: supplied."),
        "{html}"
    );

    // A second post (a double click) shows the page again, saying why nothing was recorded.
    let response = post("reference=SU-1&date=2026-11-09&supervised_taken=true&take_home_doses=6")
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    let html = response.text().await.unwrap();
    assert!(html.contains("already supplied today at"), "{html}");
    let kinds: Vec<_> = server
        .expect_reports(2)
        .await
        .into_iter()
        .map(|r| match r.event {
            ReportEvent::Withheld { .. } => "withheld",
            ReportEvent::Supplied { .. } => "supplied",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["withheld", "supplied"]);
    client.stop().await;
}
