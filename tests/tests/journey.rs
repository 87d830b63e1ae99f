//! A person's journey between pharmacies, end to end with two real counters: a transfer in the
//! middle of a prescription (the old counter stops, the new one starts, the run of days without
//! a dose carries over), reports from the old pharmacy before and after the move, and the
//! refusals that keep two pharmacies from supplying the same day; a hold that waits for an
//! appointment, lifted by recording attendance.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use serde_json::{Value, json};
use sotto_server::core::dispensing::ingest::{self, AlertSettings, Outcome};
use sotto_tests::Backend;
use sotto_tests::counter::{Counter, TestClock, evening, morning, today};
use sotto_tests::push::{BrokerKind, PushWorld};

sotto_tests::on_all_setups!(
    a_transfer_mid_prescription_moves_the_person_and_carries_the_run,
    an_appointment_hold_is_lifted_at_the_counter_by_recording_attendance,
);

const WAIT: Duration = Duration::from_secs(20);
const REF: &str = "SU-4001";

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn counter_at(
    w: &PushWorld,
    pharmacy: &sotto_tests::counter::Enrolled,
    clock: &std::sync::Arc<TestClock>,
) -> Counter {
    Counter::start_with_clock(
        pharmacy,
        w.broker_port(),
        Duration::from_secs(86_400 * 30),
        Some(clock.clone()),
    )
    .await
}

/// Asks for a transfer as the keyworker: (status, body).
async fn transfer(w: &PushWorld, su: &str, body: Value) -> (u16, Value) {
    let path = format!("/api/v1/service-users/{su}/transfers");
    let (status, body) = w.app.post(&w.keyworker.token, &path, body).await;
    (status.as_u16(), body)
}

async fn server_status(w: &PushWorld, su: &str) -> Value {
    let (status, body) = w
        .app
        .get(
            &w.keyworker.token,
            &format!("/api/v1/service-users/{su}/status"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A report as the old pharmacy's counter would send it, handed straight to the server's
/// ingest (the old counter no longer knows the person, so it cannot send one itself).
async fn report_from(w: &PushWorld, pharmacy: &str, su: &str, date: NaiveDate) -> Outcome {
    let store = w.app.db().await;
    let settings = AlertSettings {
        public_url: "https://sotto.test".into(),
        service_timezone: chrono_tz::Europe::London,
        digest_at: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
    };
    let report = sotto_protocol::Report {
        report_id: format!("late-{date}"),
        event: sotto_protocol::ReportEvent::Withheld {
            service_user_id: su.into(),
            collect_on: date,
            reason: sotto_protocol::WithheldReason::Other,
            at: Utc::now(),
        },
    };
    ingest::ingest(&store, &settings, pharmacy, &report)
        .await
        .unwrap()
}

async fn a_transfer_mid_prescription_moves_the_person_and_carries_the_run(
    kind: BrokerKind,
    backend: Backend,
) {
    let w = PushWorld::start_on(kind, backend, 1).await;
    let start = today() - chrono::Duration::days(3);
    let (status, su) = w
        .app
        .post(
            &w.keyworker.token,
            "/api/v1/service-users",
            sotto_tests::service_user_body(REF, &w.pharmacy.id, &w.keyworker.id, &w.clinician.id),
        )
        .await;
    assert_eq!(status, 201, "{su}");
    let su = su["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/service-users/{su}/prescriptions");
    let (status, p) = w
        .app
        .post(
            &w.clinician.token,
            &path,
            sotto_tests::prescription_body(start, 14, sotto_tests::every_day_supervised()),
        )
        .await;
    assert_eq!(status, 201, "{p}");

    // At the old pharmacy: taken on the first day, then two days without a dose (closed).
    let old_clock = TestClock::at(morning(start));
    let mut old = counter_at(&w, &w.pharmacy, &old_clock).await;
    old.wait_for_code(REF, "A", WAIT).await;
    let (status, body) = old
        .post(
            "/api/supplies",
            &json!({"reference": REF, "date": start.to_string(),
                    "supervised_taken": true, "take_home_doses": 0}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    for n in 0..3 {
        old_clock.set(evening(start + chrono::Duration::days(n)));
    }
    wait_until("two days without a dose at the server", async || {
        w.missed_doses(&su).await.len() == 2
    })
    .await;

    // A transfer from a day gone by, to the same pharmacy, or of unknown fields is refused.
    let (status, body) = transfer(
        &w,
        &su,
        json!({"pharmacy_id": w.other_pharmacy.id, "from": start.to_string()}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("from"), "{body}");
    let (status, body) = transfer(
        &w,
        &su,
        json!({"pharmacy_id": w.pharmacy.id, "from": today().to_string()}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = transfer(
        &w,
        &su,
        json!({"pharmacy_id": w.other_pharmacy.id, "from": today().to_string(), "to": "x"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    // The new pharmacy's counter, enrolled today, does not know the person yet.
    let new_clock = TestClock::at(morning(today()));
    let mut new = counter_at(&w, &w.other_pharmacy, &new_clock).await;
    assert_eq!(new.status(REF).await.0, 404);

    let (status, body) = transfer(
        &w,
        &su,
        json!({"pharmacy_id": w.other_pharmacy.id, "from": today().to_string()}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["in_effect"], true, "{body}");
    // A second transfer while this one stands is to the pharmacy the person is already at.
    let (status, body) = transfer(
        &w,
        &su,
        json!({"pharmacy_id": w.other_pharmacy.id, "from": today().to_string()}),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // The old counter stops showing the person; the new one starts, with the run carried over:
    // two days without a dose, so A today (not yet E), and the days since are said.
    wait_until("the old counter drops the person", async || {
        old.status(REF).await.0 == 404
    })
    .await;
    new.wait_for_code(REF, "A", WAIT).await;
    let (_, status) = new.status(REF).await;
    let since = status["no_dose_since"].as_str().unwrap_or_default();
    assert!(since.contains("(2 days)"), "{status}");

    // Reports from the old pharmacy: a day before the move still counts; today is refused.
    let before = today() - chrono::Duration::days(1);
    assert_eq!(
        report_from(&w, &w.pharmacy.id, &su, before).await,
        Outcome::Stored
    );
    assert!(matches!(
        report_from(&w, &w.pharmacy.id, &su, today()).await,
        Outcome::Refused(why) if why.contains("not held by this pharmacy")
    ));

    // Today passes without a collection at the new pharmacy: with the two days before, three
    // in a row — E at the new counter and the server's safety hold.
    new_clock.set(evening(today()));
    wait_until(
        "the server's safety hold after the carried run",
        async || {
            let s = server_status(&w, &su).await;
            s["code"] == "E"
                && s["holds"]
                    .as_array()
                    .is_some_and(|h| h.iter().any(|h| h["kind"] == "safety"))
        },
    )
    .await;
    new.wait_for_code(REF, "E", WAIT).await;
    let missed = w.missed_doses(&su).await;
    let at_new: Vec<&Value> = missed
        .iter()
        .filter(|m| m["pharmacy_id"] == w.other_pharmacy.id.as_str())
        .collect();
    assert_eq!(at_new.len(), 1, "{missed:?}");
    assert_eq!(at_new[0]["date"], today().to_string());
    old.stop().await;
    new.stop().await;
}

async fn an_appointment_hold_is_lifted_at_the_counter_by_recording_attendance(
    kind: BrokerKind,
    backend: Backend,
) {
    let w = PushWorld::start_on(kind, backend, 1).await;
    let counter = w.counter(Duration::from_secs(3600)).await;
    let reference = sotto_tests::push::REFERENCE;
    counter.wait_for_code(reference, "A", WAIT).await;
    let holds = format!("/api/v1/service-users/{}/holds", w.service_user);
    // Only an attend hold waits for an appointment.
    let (status, body) = w
        .app
        .post(
            &w.clinician.token,
            &holds,
            json!({"reason": "review", "kind": "safety", "appointment_at": "2030-01-07T10:30:00Z"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("appointment_at"), "{body}");
    let appointment = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let (status, hold) = w
        .app
        .post(
            &w.keyworker.token,
            &holds,
            json!({"reason": "see the keyworker first", "appointment_at": appointment}),
        )
        .await;
    assert_eq!(status, 201, "{hold}");
    assert!(hold["appointment_at"].is_string(), "{hold}");
    counter.wait_for_code(reference, "D", WAIT).await;

    let id = hold["id"].as_str().unwrap();
    let attended = format!("/api/v1/holds/{id}/attended");
    // A pharmacist cannot record attendance.
    let pharmacist = w.app.staff("pharmacist", Some(&w.pharmacy.id)).await;
    let (status, body) = w.app.post(&pharmacist.token, &attended, json!({})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = w.app.post(&w.keyworker.token, &attended, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["lifted_at"].is_string(), "{body}");
    // The counter hears it at once: the person can collect again.
    counter.wait_for_code(reference, "A", WAIT).await;
    // Recorded once: a second attendance finds the hold lifted.
    let (status, body) = w.app.post(&w.keyworker.token, &attended, json!({})).await;
    assert_eq!(status, 409, "{body}");
    // A safety hold is not lifted by attending: a prescriber reviews.
    let (status, safety) = w
        .app
        .post(
            &w.clinician.token,
            &holds,
            json!({"reason": "review", "kind": "safety"}),
        )
        .await;
    assert_eq!(status, 201, "{safety}");
    let path = format!("/api/v1/holds/{}/attended", safety["id"].as_str().unwrap());
    let (status, body) = w.app.post(&w.clinician.token, &path, json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("prescriber review"), "{body}");
    // The audit says it was an attendance, by whom.
    let store = w.app.db().await;
    let entries = sotto_server::core::db::audit::list(store.pool(), 0, 1000)
        .await
        .unwrap();
    let entry = entries
        .iter()
        .find(|e| e.action == "hold.attended")
        .expect("attendance audited");
    assert_eq!(entry.actor, w.keyworker.id);
}
