//! No change drops or doubles a dose (issue 12, defects 3 and 4), through the real API and the
//! real counter client, on SQLite and PostgreSQL:
//! - a regime change effective on a day already supplied takes effect from the first day not yet
//!   supplied, and says so; the counter never shows C for days nothing was handed over;
//! - a regime change effective in the past is refused, nothing stored changed;
//! - a prescription may not start on a day the pharmacy is closed: 422 naming the nearest open days.

use std::time::Duration;

use chrono::{Datelike, Days, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use sotto_tests::console::{ConsoleClient, PASSWORD};
use sotto_tests::counter::{Counter, TestClock};
use sotto_tests::push::{BrokerKind, PushWorld, REFERENCE};
use sotto_tests::reqwest::StatusCode;
use sotto_tests::{
    Backend, TestApp, WEEKDAYS, daily_supervised, next_monday, on_each_backend, prescription_body,
};

const WAIT: Duration = Duration::from_secs(20);

on_each_backend!(
    weekly_take_home_from_a_day_already_supplied_starts_the_next_day_and_never_shows_c_unsupplied,
    a_regime_change_effective_in_the_past_is_refused_and_changes_nothing,
    a_misspelt_field_in_a_change_or_prescription_is_refused_not_ignored,
    a_prescription_starting_on_a_closed_day_is_refused_naming_the_nearest_open_days,
);

fn today() -> NaiveDate {
    sotto_tests::pharmacy_today()
}

/// 10:00 UTC on `day`: the pharmacy is open (London is UTC or UTC+1).
fn morning(day: NaiveDate) -> chrono::DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(10, 0, 0).unwrap())
}

/// Waits until the server has stored `n` dispenses for the person (the counter's report).
async fn wait_for_dispenses(w: &PushWorld, n: usize) {
    let path = format!("/api/v1/service-users/{}/dispenses", w.service_user);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, history) = w.app.get(&w.keyworker.token, &path).await;
        if history.as_array().map(Vec::len) == Some(n) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never stored the supply: {history}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn server_status(w: &PushWorld, date: NaiveDate) -> Value {
    let path = format!(
        "/api/v1/service-users/{}/status?date={date}",
        w.service_user
    );
    let (status, body) = w.app.get(&w.keyworker.token, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn dates(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

async fn weekly_take_home_from_a_day_already_supplied_starts_the_next_day_and_never_shows_c_unsupplied(
    backend: Backend,
) {
    // Arrange: daily supervised since yesterday; today's dose is taken at the counter.
    let w = PushWorld::start_on(BrokerKind::Embedded, backend, 1).await;
    let (today, tomorrow) = (today(), today() + Days::new(1));
    let clock = TestClock::at(morning(today));
    let counter = Counter::start_with_clock(
        &w.pharmacy,
        w.broker_port(),
        Duration::from_secs(86_400 * 7),
        Some(clock.clone()),
    )
    .await;
    counter.wait_for_code(REFERENCE, "A", WAIT).await;
    let (status, body) = counter
        .post_json(
            "/api/supplies",
            json!({"reference": REFERENCE, "date": today.to_string(),
               "supervised_taken": true, "take_home_doses": 0}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    wait_for_dispenses(&w, 1).await;

    // The console's preview of "weekly take-home, collected on today's weekday, from today".
    let weekday = WEEKDAYS[today.weekday().num_days_from_monday() as usize];
    w.app.set_password(&w.clinician, PASSWORD).await;
    let console = ConsoleClient::signed_in(&w.app, &w.clinician).await;
    let page = console
        .get(&format!("/console/people/{}", w.service_user))
        .await;
    let (today_text, days_field) = (today.to_string(), format!("days_{weekday}"));
    let preview = console
        .post(
            &format!(
                "/console/prescriptions/{}/regime-changes/preview",
                w.prescription
            ),
            &[
                ("csrf", &page.csrf()),
                ("effective_from", &today_text),
                (&days_field, "7"),
                ("reason", "stable, moving to weekly"),
            ],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    for shown in [
        format!("data-kept=\"{today}\""),
        format!("data-changed=\"{tomorrow}\""),
        format!("takes effect from {tomorrow}, the first day not yet supplied"),
    ] {
        assert!(
            preview.body.contains(&shown),
            "{shown} not in the preview: {}",
            preview.body
        );
    }
    assert!(!preview.body.contains(&format!("data-changed=\"{today}\"")));

    // Act: the same change through the API.
    let (status, answer) = w
        .app
        .post(
            &w.clinician.token,
            &format!("/api/v1/prescriptions/{}/regime-changes", w.prescription),
            json!({"effective_from": today.to_string(), "reason": "stable, moving to weekly",
                   "collections": [{"weekday": weekday, "days": 7, "supervised": false}]}),
        )
        .await;

    // Assert: the answer says exactly what happens.
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let change = &answer["regime_change"];
    assert_eq!(change["requested_from"], today.to_string(), "{change}");
    assert_eq!(change["effective_from"], tomorrow.to_string(), "{change}");
    assert_eq!(dates(&change["kept_as_supplied"]), [today.to_string()]);
    let changed: Vec<String> = change["changed_days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["date"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        changed.first(),
        Some(&tomorrow.to_string()),
        "today stays as supplied: {change}"
    );
    assert!(!changed.contains(&today.to_string()));
    assert!(
        change["notice"]
            .as_str()
            .unwrap()
            .contains(&format!("takes effect from {tomorrow}")),
        "{change}"
    );
    let stored: Vec<_> = answer["regimes"].as_array().unwrap().iter().collect();
    assert_eq!(
        stored.last().unwrap()["effective_from"],
        tomorrow.to_string()
    );

    // Today stays B at the counter; tomorrow hands over the six days to next week's collection.
    let seq = w.server_seq().await;
    counter
        .wait_for(
            REFERENCE,
            WAIT,
            "the change, with today still supplied",
            |s| s["code"] == "B",
        )
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while counter.health().await["last_seq"] != seq {
        assert!(tokio::time::Instant::now() < deadline, "change not applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = server_status(&w, tomorrow).await;
    assert_eq!(s["code"], "A", "the server offers tomorrow's doses: {s}");
    assert_eq!(s["due"]["take_home_doses"], 6, "{s}");
    clock.set(morning(tomorrow));
    counter
        .wait_for(
            REFERENCE,
            WAIT,
            "A with six take-home doses tomorrow",
            |s| {
                s["code"] == "A"
                    && s["due"]["take_home_doses"] == 6
                    && s["due"]["supervised_dose_mg"].is_null()
            },
        )
        .await;
}

async fn a_regime_change_effective_in_the_past_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = app.world().await;
    let p = app
        .prescribe(&w, sotto_tests::recent_open_start(), daily_supervised())
        .await;
    let path = format!(
        "/api/v1/prescriptions/{}/regime-changes",
        p["id"].as_str().unwrap()
    );
    let before = app.snapshot().await;
    let yesterday = today() - Days::new(1);

    let (status, problem) = app
        .post(
            &w.clinician.token,
            &path,
            json!({"effective_from": yesterday.to_string(), "daily_dose_mg": 40, "reason": "reduce"}),
        )
        .await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let error = &problem["errors"][0];
    assert_eq!(error["field"], "effective_from", "{problem}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("in the past")
            && message.contains(&format!("the pharmacy's today is {}", today()))
            && message.contains("choose today or a later collection day"),
        "says what to do: {message}"
    );
    assert_eq!(app.snapshot().await, before, "nothing stored changed");
    let (_, view) = app
        .get(
            &w.clinician.token,
            &format!("/api/v1/prescriptions/{}", p["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(view["regimes"].as_array().unwrap().len(), 1, "{view}");
}

async fn a_prescription_starting_on_a_closed_day_is_refused_naming_the_nearest_open_days(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    // The world's pharmacy is closed on Sundays; a bank holiday falls on a Monday.
    let w = app.world().await;
    let monday = next_monday() + Days::new(7);
    let sunday = monday - Days::new(1);
    let (status, body) = app
        .post(
            &app.admin.token,
            &format!("/api/v1/pharmacies/{}/closures", w.pharmacy),
            json!({"date": monday.to_string(), "note": "bank holiday"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let path = format!("/api/v1/service-users/{}/prescriptions", w.service_user);
    let before = app.snapshot().await;

    for start in [sunday, monday] {
        let (status, problem) = app
            .post(
                &w.clinician.token,
                &path,
                prescription_body(start, 14, daily_supervised()),
            )
            .await;

        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let error = &problem["errors"][0];
        assert_eq!(error["field"], "start_date", "{problem}");
        let message = error["message"].as_str().unwrap();
        let saturday = monday - Days::new(2);
        let tuesday = monday + Days::new(1);
        assert!(
            message.contains(&format!("closed on {start}"))
                && message.contains(&format!("{saturday} (sat) or {tuesday} (tue)")),
            "names Saturday and Tuesday, skipping both closed days: {message}"
        );
    }
    assert_eq!(app.snapshot().await, before, "nothing stored changed");
    // The open day offered is accepted.
    app.prescribe(&w, monday + Days::new(1), daily_supervised())
        .await;
}

async fn a_misspelt_field_in_a_change_or_prescription_is_refused_not_ignored(backend: Backend) {
    // "daily_dose" for "daily_dose_mg": ignored, the pattern would change and the dose not.
    let app = TestApp::spawn(backend).await;
    let w = app.world().await;
    let p = app.prescribe(&w, next_monday(), daily_supervised()).await;
    let before = app.snapshot().await;
    let change = json!({"effective_from": (next_monday() + Days::new(7)).to_string(),
                        "daily_dose": 40, "reason": "reduce",
                        "collections": [{"weekday": "mon", "days": 7, "supervised": false}]});
    let mut prescription = prescription_body(next_monday() + Days::new(14), 14, daily_supervised());
    prescription["collections"][0]["supervise"] = json!(false);

    for (path, body, field) in [
        (
            format!(
                "/api/v1/prescriptions/{}/regime-changes",
                p["id"].as_str().unwrap()
            ),
            change,
            "daily_dose",
        ),
        (
            format!("/api/v1/service-users/{}/prescriptions", w.service_user),
            prescription,
            "collections[0].supervise",
        ),
    ] {
        let (status, problem) = app.post(&w.clinician.token, &path, body).await;

        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("unknown field"),
            "{problem}"
        );
    }
    assert_eq!(app.snapshot().await, before, "nothing stored changed");
}
