//! Supplies, missed doses and the consecutive-missed safety rule, end to end: the counter closes
//! its days (on a clock the test moves), the server counts what was reported, alerts the keyworker
//! by e-mail through a real SMTP server, and at three days in a row places a safety hold that the
//! counter shows as E and only a clinician lifts. Every broker × database.

use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use sotto_tests::counter::{Counter, TestClock};
use sotto_tests::push::{BrokerKind, PushWorld, REFERENCE};
use sotto_tests::{Backend, on_all_setups, service_user_body};

const WAIT: Duration = Duration::from_secs(20);
const OTHER: &str = "SU-2000";

on_all_setups!(
    three_days_closed_without_a_supply_bring_e_that_only_a_clinician_lifts,
    reports_made_while_the_server_is_unreachable_are_counted_once_after_restarts,
    a_day_closed_while_the_server_was_unreachable_reaches_the_next_digest_marked_late,
);

fn today() -> NaiveDate {
    sotto_tests::pharmacy_today()
}

/// 19:00 UTC on `day`: after the 18:00 closing time in London (UTC in winter, BST in summer).
fn evening(day: NaiveDate) -> chrono::DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(19, 30, 0).unwrap())
}

fn morning(day: NaiveDate) -> chrono::DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(10, 0, 0).unwrap())
}

/// A second person who collects three days at once (take-home) on the first day.
async fn take_home_person(w: &PushWorld, start: NaiveDate) -> String {
    let (status, su) = w
        .app
        .post(
            &w.keyworker.token,
            "/api/v1/service-users",
            service_user_body(OTHER, &w.pharmacy.id, &w.keyworker.id, &w.clinician.id),
        )
        .await;
    assert_eq!(status, 201, "{su}");
    let id = su["id"].as_str().unwrap().to_string();
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let first = start.weekday().num_days_from_monday() as usize;
    let mut collections = vec![json!({"weekday": days[first], "days": 3, "supervised": false})];
    for k in 3..7 {
        collections.push(json!({"weekday": days[(first + k) % 7], "days": 1, "supervised": true}));
    }
    let (status, p) = w
        .app
        .post(
            &w.clinician.token,
            &format!("/api/v1/service-users/{id}/prescriptions"),
            sotto_tests::prescription_body(start, 14, json!(collections)),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    id
}

async fn missed_on_server(w: &PushWorld, su: &str) -> Vec<Value> {
    w.missed_doses(su).await
}

async fn wait_for_missed(w: &PushWorld, su: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = missed_on_server(w, su).await.len();
        if got >= n {
            assert_eq!(got, n, "more missed doses than days closed");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "server has {got} missed doses, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The pharmacy's counter, on a clock the test moves, started on the morning of `day` and showing
/// the person's code A.
async fn counter_from(w: &PushWorld, day: NaiveDate) -> (Counter, std::sync::Arc<TestClock>) {
    let clock = TestClock::at(morning(day));
    let counter = Counter::start_with_clock(
        &w.pharmacy,
        w.broker_port(),
        Duration::from_secs(86_400 * 7),
        Some(clock.clone()),
    )
    .await;
    counter.wait_for_code(REFERENCE, "A", WAIT).await;
    (counter, clock)
}

/// Takes the broker away (the embedded one with its server) and lets the counter close `day`,
/// its reports (the missed dose and the closed day) queued with nobody to tell.
async fn close_day_unreachable(
    w: &mut PushWorld,
    counter: &Counter,
    clock: &TestClock,
    day: NaiveDate,
) {
    match w.kind {
        BrokerKind::Embedded => w.app.stop_server().await,
        BrokerKind::Mosquitto => w.mosquitto.as_mut().unwrap().kill().await,
    }
    clock.set(evening(day));
    let deadline = tokio::time::Instant::now() + WAIT;
    while counter.health().await["pending_reports"]
        .as_u64()
        .unwrap_or(0)
        < 2
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the day was not closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Brings back what [`close_day_unreachable`] took away.
async fn reconnect(w: &mut PushWorld) {
    match w.kind {
        BrokerKind::Embedded => w.app.start_server().await,
        BrokerKind::Mosquitto => w.mosquitto.as_mut().unwrap().start_again().await,
    }
}

async fn post_json(counter: &Counter, path: &str, body: Value) -> (u16, Value) {
    counter.post(path, &body).await
}

async fn three_days_closed_without_a_supply_bring_e_that_only_a_clinician_lifts(
    kind: BrokerKind,
    backend: Backend,
) {
    let w = PushWorld::start_on(kind, backend, 3).await;
    let start = today() - chrono::Duration::days(3);
    let other = take_home_person(&w, start).await;
    let (counter, clock) = counter_from(&w, start).await;

    // Day 1 morning: the second person collects three days to take home.
    let (status, body) = post_json(
        &counter,
        "/api/supplies",
        json!({"reference": OTHER,
        "date": start.to_string(), "supervised_taken": false, "take_home_doses": 3}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    counter.wait_for_code(OTHER, "B", WAIT).await;
    let (status, again) = post_json(
        &counter,
        "/api/supplies",
        json!({"reference": OTHER,
        "date": start.to_string(), "supervised_taken": false, "take_home_doses": 3}),
    )
    .await;
    assert_eq!(
        status, 409,
        "a second supply of the same instalment is refused: {again}"
    );

    // Three evenings pass; the first person never comes. The counter closes each day itself.
    for (n, day) in (0..3).map(|k| (k + 1, start + chrono::Duration::days(k))) {
        clock.set(evening(day));
        wait_for_missed(&w, &w.service_user, n as usize).await;
    }
    assert!(
        missed_on_server(&w, &other).await.is_empty(),
        "take-home days are not missed"
    );

    // The server places a safety hold; the counter shows E.
    counter.wait_for_code(REFERENCE, "E", WAIT).await;
    let path = format!("/api/v1/service-users/{}/status", w.service_user);
    let (_, status) = w.app.get(&w.keyworker.token, &path).await;
    assert_eq!(status["code"], "E", "{status}");
    let hold = status["holds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == "safety")
        .cloned()
        .expect("a safety hold");

    // The keyworker was told of each missed day and of the hold; the prescriber of the hold.
    let smtp = &w.smtp;
    let deadline = tokio::time::Instant::now() + WAIT;
    while smtp.count() < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} mails arrived",
            smtp.count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mails = smtp.messages();
    let to = |who: &str| mails.iter().filter(|m| m.to == [who.to_string()]).count();
    assert_eq!(
        to(&w.keyworker.email),
        4,
        "3 missed-dose alerts and 1 safety alert"
    );
    assert_eq!(
        to(&w.clinician.email),
        1,
        "the prescriber is told of the safety hold"
    );
    for m in &mails {
        for secret in ["Testperson", "Alex", "methadone", "60 mg", "1985"] {
            assert!(
                !m.data.contains(secret),
                "{secret:?} in a mail:\n{}",
                m.data
            );
        }
        assert!(
            m.data.contains(REFERENCE),
            "mails name the service reference"
        );
    }

    // Only a clinician lifts it.
    let lift = format!("/api/v1/holds/{}/lift", hold["id"].as_str().unwrap());
    let (status, body) = w
        .app
        .post(&w.keyworker.token, &lift, json!({"note": "seen"}))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = w
        .app
        .post(&w.clinician.token, &lift, json!({"note": "reviewed"}))
        .await;
    assert_eq!(status, 200, "{body}");
    clock.set(morning(today()));
    counter.wait_for_code(REFERENCE, "A", WAIT).await;
}

async fn reports_made_while_the_server_is_unreachable_are_counted_once_after_restarts(
    kind: BrokerKind,
    backend: Backend,
) {
    let mut w = PushWorld::start_on(kind, backend, 1).await;
    let yesterday = today() - chrono::Duration::days(1);
    let (mut counter, clock) = counter_from(&w, yesterday).await;

    // The broker goes away; the counter closes the day with nobody to tell.
    close_day_unreachable(&mut w, &counter, &clock, yesterday).await;
    // The counter itself is killed with its reports still queued, then everything comes back.
    counter.stop().await;
    reconnect(&mut w).await;
    counter.start_again().await;
    wait_for_missed(&w, &w.service_user, 1).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while counter.health().await["pending_reports"] != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "reports were never acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, audit) = w
        .app
        .get(&w.app.admin.token, "/api/v1/audit?limit=1000")
        .await;
    let count = |action: &str| {
        audit
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == action)
            .count()
    };
    assert_eq!(count("dose.missed"), 1, "counted once");
    assert_eq!(count("pharmacy.day_closed"), 1, "closed once");
}

/// The issue-13 morning: the counter closes a day while it cannot reach the server, the next
/// morning's digest goes without that miss, and the report arrives later. The keyworker on a
/// digest is still told, once, in the next digest, with when it was reported (hazard log H32).
/// The server's own scheduler runs on the wall clock meanwhile: whichever pass carries the miss,
/// exactly one digest does.
async fn a_day_closed_while_the_server_was_unreachable_reaches_the_next_digest_marked_late(
    kind: BrokerKind,
    backend: Backend,
) {
    use sotto_server::core::dispensing::ingest::AlertSettings;
    use sotto_server::core::dispensing::schedulers::digest_pass;
    let mut w = PushWorld::start_on(kind, backend, 2).await;
    let (status, body) = w
        .app
        .send(
            w.app
                .client
                .put(w.app.url("/api/v1/staff/me/alerts"))
                .bearer_auth(&w.keyworker.token)
                .json(&json!({"mode": "digest"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let day = today() - chrono::Duration::days(2);
    let (mut counter, clock) = counter_from(&w, day).await;
    close_day_unreachable(&mut w, &counter, &clock, day).await;
    // The next morning's digest goes without it.
    let settings = AlertSettings {
        public_url: "https://sotto.test".into(),
        service_timezone: chrono_tz::Europe::London,
        digest_at: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
    };
    let store = w.app.db().await;
    let next_morning = Utc.from_utc_datetime(
        &(day + chrono::Duration::days(1))
            .and_hms_opt(12, 0, 0)
            .unwrap(),
    );
    assert_eq!(
        digest_pass(&store, &settings, next_morning).await.unwrap(),
        0
    );

    reconnect(&mut w).await;
    wait_for_missed(&w, &w.service_user, 1).await;
    let reported_on = sotto_tests::pharmacy_today();
    let tomorrow = Utc.from_utc_datetime(
        &(today() + chrono::Duration::days(1))
            .and_hms_opt(12, 0, 0)
            .unwrap(),
    );
    digest_pass(&store, &settings, tomorrow).await.unwrap();
    store.close().await;

    let digests = |smtp: &sotto_tests::smtp::Smtp| -> Vec<String> {
        smtp.messages()
            .into_iter()
            .filter(|m| m.to == [w.keyworker.email.clone()])
            .filter(|m| {
                m.header("Subject")
                    .is_some_and(|s| s.starts_with("Sotto: your daily update"))
            })
            .map(|m| m.body().replace("\r\n", "\n"))
            .collect()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while digests(&w.smtp).is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no digest arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = digests(&w.smtp);
    assert_eq!(got.len(), 1, "{got:?}");
    let long = |d: NaiveDate| d.format("%A %-d %B %Y").to_string();
    let line = format!(
        "- {REFERENCE}, on {}\n  reported late, on {} at ",
        long(day),
        long(reported_on)
    );
    assert!(got[0].contains(&line), "{}", got[0]);
    assert!(
        w.smtp.messages().iter().all(|m| m
            .header("Subject")
            .is_some_and(|s| !s.starts_with("Sotto: an update about"))),
        "no per-dose mail in digest mode"
    );
    counter.stop().await;
}
