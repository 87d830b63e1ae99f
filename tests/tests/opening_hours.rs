//! Opening hours per weekday (issue 12, defect 8), through the real API and the real counter
//! client, on SQLite and PostgreSQL: hours are stored and returned beside the older fields
//! (derived); bad hours are refused naming the field; a pharmacy open until 01:00 has its day
//! closed by the counter at 01:00 the next morning, and the server's "has not closed its day"
//! alert waits for that day's own close.

use std::time::Duration;

use chrono::{Days, NaiveDate, Utc};
use chrono_tz::Europe::London;
use serde_json::{Value, json};
use sotto_server::core::dispensing::ingest::AlertSettings;
use sotto_server::core::dispensing::schedulers::{ScheduleSettings, silence_pass};
use sotto_tests::console::{ConsoleClient, PASSWORD};
use sotto_tests::counter::{Counter, TestClock};
use sotto_tests::reqwest::StatusCode;
use sotto_tests::{
    Backend, TestApp, each_weekday, every_day_supervised, on_each_backend, prescription_body,
    service_user_body,
};

const WAIT: Duration = Duration::from_secs(20);

on_each_backend!(
    opening_hours_are_stored_and_returned_with_the_older_fields_derived,
    a_pharmacy_described_the_older_way_gets_hours_from_nine_to_its_closing_time,
    bad_opening_hours_are_refused_naming_each_field_and_nothing_is_stored,
    a_late_pharmacys_day_is_closed_by_the_counter_at_one_in_the_morning,
    the_silence_alert_waits_for_each_days_own_close,
    pharmacies_enrolled_before_opening_hours_get_their_hours_from_the_migration,
    an_admin_enrols_a_late_pharmacy_with_a_half_day_saturday_from_the_console,
);

fn late_hours() -> Value {
    each_weekday(json!({"open": "08:00", "close": "01:00"}))
}

fn pharmacy_body(ods: &str, hours: Value) -> Value {
    json!({"ods_code": ods, "name": format!("Pharmacy {ods}"), "opening_hours": hours,
           "timezone": "Europe/London"})
}

/// `hh:mm` London time on `day`.
fn london(day: NaiveDate, hh: u32, mm: u32) -> chrono::DateTime<Utc> {
    sotto_domain::local_instant(&London, day.and_hms_opt(hh, mm, 0).unwrap())
}

async fn opening_hours_are_stored_and_returned_with_the_older_fields_derived(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hours = json!({
        "mon": {"open": "08:00", "close": "01:00"}, "tue": {"open": "08:00", "close": "01:00"},
        "wed": {"open": "08:00", "close": "01:00"}, "thu": {"open": "08:00", "close": "01:00"},
        "fri": {"open": "08:00", "close": "01:00"}, "sat": {"open": "09:00", "close": "13:00"}});

    let id = app.enrol(pharmacy_body("FH001", hours.clone())).await.id;

    let (status, p) = app
        .get(&app.admin.token, &format!("/api/v1/pharmacies/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["opening_hours"], hours, "{p}");
    assert_eq!(
        p["closed_weekdays"],
        json!(["sun"]),
        "the half-day Saturday is open"
    );
    assert_eq!(p["closing_time"], "01:00", "the close most days share");
    let (_, all) = app.get(&app.admin.token, "/api/v1/pharmacies").await;
    assert_eq!(all[0]["opening_hours"], hours, "{all}");
}

async fn a_pharmacy_described_the_older_way_gets_hours_from_nine_to_its_closing_time(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;

    let id = app.pharmacy("FH002", &["sat", "sun"]).await;

    let (_, p) = app
        .get(&app.admin.token, &format!("/api/v1/pharmacies/{id}"))
        .await;
    let weekday = json!({"open": "09:00", "close": "18:00"});
    assert_eq!(
        p["opening_hours"],
        json!({"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday}),
        "{p}"
    );
    assert_eq!(p["closed_weekdays"], json!(["sat", "sun"]));
    assert_eq!(p["closing_time"], "18:00");
}

async fn bad_opening_hours_are_refused_naming_each_field_and_nothing_is_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = app.snapshot().await;
    let cases = [
        (
            pharmacy_body(
                "FH003",
                json!({"mon": {"open": "09:00", "close": "25:00"},
                                          "tue": {"open": "9am", "close": "18:00"}}),
            ),
            vec!["opening_hours.mon.close", "opening_hours.tue.open"],
        ),
        (
            pharmacy_body("FH003", json!({"fri": {"open": "08:00", "close": "08:00"}})),
            vec!["opening_hours.fri.close"],
        ),
        (
            pharmacy_body(
                "FH003",
                json!({"fri": {"open": "08:00", "close": "03:00"},
                                          "sat": {"open": "02:00", "close": "13:00"}}),
            ),
            vec!["opening_hours.fri.close"],
        ),
        (pharmacy_body("FH003", json!({})), vec!["opening_hours"]),
        (
            json!({"ods_code": "FH003", "name": "P", "timezone": "Europe/London",
                   "opening_hours": {"mon": {"open": "09:00", "close": "18:00"}},
                   "closing_time": "18:00"}),
            vec!["closing_time"],
        ),
        (
            json!({"ods_code": "FH003", "name": "P", "timezone": "Europe/London"}),
            vec!["opening_hours"],
        ),
        (
            pharmacy_body(
                "FH003",
                json!({"monday": {"open": "09:00", "close": "18:00"}}),
            ),
            vec!["opening_hours.monday"],
        ),
        (
            pharmacy_body(
                "FH003",
                json!({"mon": {"open": "09:00", "close": "18:00", "lunch": "13:00"}}),
            ),
            vec!["opening_hours.mon.lunch"],
        ),
    ];
    for (body, fields) in cases {
        let (status, problem) = app
            .post(&app.admin.token, "/api/v1/pharmacies", body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{body}: {problem}");
    }
    assert_eq!(app.snapshot().await, before, "nothing stored changed");
}

async fn a_late_pharmacys_day_is_closed_by_the_counter_at_one_in_the_morning(backend: Backend) {
    // Arrange: open 08:00–01:00 every day; a daily supervised person who never comes.
    let app = TestApp::spawn(backend).await;
    let pharmacy = app.enrol(pharmacy_body("FH004", late_hours())).await;
    let clinician = app.staff("clinician", None).await;
    let keyworker = app.staff("keyworker", None).await;
    let (status, su) = app
        .post(
            &keyworker.token,
            "/api/v1/service-users",
            service_user_body("SU-4000", &pharmacy.id, &keyworker.id, &clinician.id),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{su}");
    let su = su["id"].as_str().unwrap().to_string();
    let day = sotto_tests::pharmacy_today() - Days::new(2);
    let (status, p) = app
        .post(
            &clinician.token,
            &format!("/api/v1/service-users/{su}/prescriptions"),
            prescription_body(day, 14, every_day_supervised()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let clock = TestClock::at(london(day, 10, 0));
    let counter = Counter::start_with_clock(
        &pharmacy,
        app.broker_addr.port(),
        Duration::from_secs(86_400 * 7),
        Some(clock.clone()),
    )
    .await;
    counter.wait_for_code("SU-4000", "A", WAIT).await;
    let missed = format!("/api/v1/service-users/{su}/missed-doses");

    // Act + assert: at 23:30 and 00:59 the day is still trading; at 01:00 it is closed.
    for (on, hh, mm) in [(day, 23, 30), (day + Days::new(1), 0, 59)] {
        clock.set(london(on, hh, mm));
        let health = counter.health().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, got) = app.get(&keyworker.token, &missed).await;
        assert_eq!(got, json!([]), "closed early at {on} {hh}:{mm} ({health})");
    }
    clock.set(london(day + Days::new(1), 1, 0));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, got) = app.get(&keyworker.token, &missed).await;
        if let Some(first) = got.as_array().and_then(|a| a.first()) {
            assert_eq!(first["date"], day.to_string(), "{got}");
            assert_eq!(
                got.as_array().unwrap().len(),
                1,
                "only the day that opened: {got}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "day never closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn the_silence_alert_waits_for_each_days_own_close(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.run_schedulers = false).await;
    let today = sotto_tests::pharmacy_today();
    app.enrol(pharmacy_body("FH005", late_hours())).await;
    let half_day = each_weekday(json!({"open": "09:00", "close": "13:00"}));
    app.enrol(pharmacy_body("FH006", half_day)).await;
    let store = app.db().await;
    let settings = ScheduleSettings {
        alerts: AlertSettings {
            public_url: "https://sotto.test".into(),
            digest_at: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            service_timezone: London,
        },
        service_email: None,
        silence_after: chrono::Duration::hours(2),
    };
    let pass = |at| silence_pass(&store, &settings, at);

    // The half-day pharmacy: due two hours after 13:00; the late one: two hours after 01:00.
    assert_eq!(pass(london(today, 14, 59)).await.unwrap(), 0);
    assert_eq!(pass(london(today, 15, 0)).await.unwrap(), 1, "the half day");
    let tomorrow = today + Days::new(1);
    assert_eq!(pass(london(tomorrow, 2, 59)).await.unwrap(), 0);
    assert_eq!(
        pass(london(tomorrow, 3, 0)).await.unwrap(),
        1,
        "the late pharmacy's today, two hours after 01:00 tomorrow"
    );
}

/// Migration 0009 on a database enrolled before opening hours existed: each pharmacy's open
/// weekdays get 09:00 to its closing time, and the server then serves those hours.
async fn pharmacies_enrolled_before_opening_hours_get_their_hours_from_the_migration(
    backend: Backend,
) {
    // Arrange: the schema as it was before 0009, with two pharmacies described the old way.
    let db = sotto_tests::TestDb::new(backend).await;
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../migrations/{folder}"));
    let mut before = sqlx::migrate::Migrator::new(dir).await.unwrap();
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < 9)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    sqlx::any::install_default_drivers();
    let url = match backend {
        Backend::Sqlite => format!("{}?mode=rwc", db.url),
        Backend::Postgres => db.url.clone(),
    };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    before.run(&pool).await.unwrap();
    for (id, ods, closed, closing) in [
        ("p1", "FM001", "sat,sun", "17:30"),
        ("p2", "FM002", "", "08:00"),
    ] {
        sqlx::query(
            "INSERT INTO pharmacies (id, ods_code, name, closed_weekdays, closing_time, timezone, \
             mqtt_username, mqtt_password_hash, mqtt_password_mosquitto, created_at) \
             VALUES ($1, $2, 'P', $3, $4, 'Europe/London', $2, 'x', 'x', '2026-11-01T09:00:00Z')",
        )
        .bind(id)
        .bind(ods)
        .bind(closed)
        .bind(closing)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    // Act: the server starts on it and runs the remaining migrations.
    let app = TestApp::spawn_on(db, |_| {}).await;

    // Assert
    let (_, p1) = app.get(&app.admin.token, "/api/v1/pharmacies/p1").await;
    let weekday = json!({"open": "09:00", "close": "17:30"});
    assert_eq!(
        p1["opening_hours"],
        json!({"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday}),
        "{p1}"
    );
    assert_eq!(p1["closed_weekdays"], json!(["sat", "sun"]));
    let (_, p2) = app.get(&app.admin.token, "/api/v1/pharmacies/p2").await;
    assert_eq!(
        p2["opening_hours"],
        each_weekday(json!({"open": "00:00", "close": "08:00"})),
        "an early close is not read as after midnight: {p2}"
    );
}

/// The console's enrolment form takes hours per weekday, names a bad time, and lists the week.
async fn an_admin_enrols_a_late_pharmacy_with_a_half_day_saturday_from_the_console(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    app.set_password(&app.admin, PASSWORD).await;
    let admin = ConsoleClient::signed_in(&app, &app.admin).await;
    let page = admin.get("/console/pharmacies").await;
    assert!(
        page.body
            .contains("name=\"close_sat\" size=\"5\" value=\"18:00\""),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    let mut form: Vec<(String, String)> = vec![
        ("csrf".into(), csrf),
        ("ods_code".into(), "FH007".into()),
        ("name".into(), "Late Pharmacy".into()),
        ("timezone".into(), "Europe/London".into()),
    ];
    for d in &sotto_tests::WEEKDAYS[..5] {
        form.push((format!("open_{d}"), "08:00".into()));
        form.push((format!("close_{d}"), "01:00".into()));
    }
    form.push(("open_sat".into(), "09:00".into()));
    form.push(("close_sat".into(), "13:00".into()));
    let mut bad = form.clone();
    bad.push(("close_sun".into(), "25:00".into()));
    bad.push(("open_sun".into(), "10:00".into()));
    let before = app.snapshot().await;

    let refused = post_form(&admin, &bad).await;

    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("id=\"opening_hours.sun.close-error\""),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"25:00\""),
        "what was typed is kept"
    );
    assert_eq!(app.snapshot().await, before);

    let made = post_form(&admin, &form).await;

    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let (_, all) = app.get(&app.admin.token, "/api/v1/pharmacies").await;
    let p = &all[0];
    assert_eq!(
        p["opening_hours"]["sat"],
        json!({"open": "09:00", "close": "13:00"})
    );
    assert_eq!(
        p["opening_hours"]["fri"],
        json!({"open": "08:00", "close": "01:00"})
    );
    assert_eq!(p["closed_weekdays"], json!(["sun"]));
    let list = admin.get("/console/pharmacies").await;
    assert!(
        list.body
            .contains("mon–fri 08:00–01:00 (next day), sat 09:00–13:00, sun closed"),
        "{}",
        list.body
    );
}

async fn post_form(c: &ConsoleClient, form: &[(String, String)]) -> sotto_tests::console::Page {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    c.post("/console/pharmacies", &pairs).await
}
