//! The counter client killed (SIGKILL) in the middle of a burst of supplies: after it restarts,
//! every supply is stored once at the counter and once at the server, and the two agree.
//! Runs on both brokers and both databases.

use std::time::{Duration, Instant};

use chrono::Timelike;
use serde_json::{Value, json};
use sotto_tests::agreement::wait_until_agreed;
use sotto_tests::counter::Enrolled;
use sotto_tests::process::PharmacyProcess;
use sotto_tests::push::{BrokerKind, PushWorld};
use sotto_tests::{Backend, on_all_setups, prescription_body, service_user_body};

on_all_setups!(the_client_killed_mid_supply_burst_stores_each_supply_once);

const PEOPLE: usize = 60;
/// Supplies sent at once: several are in flight when the client dies.
const WAVE: usize = 6;
const RECOVERY: Duration = Duration::from_secs(60);

async fn the_client_killed_mid_supply_burst_stores_each_supply_once(
    kind: BrokerKind,
    backend: Backend,
) {
    let w = PushWorld::start_on(kind, backend, 1).await;
    let (pharmacy, today) = morning_pharmacy(&w).await;
    if let Some(m) = &w.mosquitto {
        m.configure(&w.app).await;
    }
    let every_day: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"weekday": d, "days": 1, "supervised": true}))
        .collect();
    let mut references = Vec::new();
    for n in 0..PEOPLE {
        let reference = format!("SU-{}", 3000 + n);
        let (status, su) = w
            .app
            .post(
                &w.keyworker.token,
                "/api/v1/service-users",
                service_user_body(&reference, &pharmacy.id, &w.keyworker.id, &w.clinician.id),
            )
            .await;
        assert_eq!(status, 201, "{su}");
        let (status, p) = w
            .app
            .post(
                &w.clinician.token,
                &format!(
                    "/api/v1/service-users/{}/prescriptions",
                    su["id"].as_str().unwrap()
                ),
                prescription_body(today - chrono::Duration::days(1), 14, json!(every_day)),
            )
            .await;
        assert_eq!(status, 201, "{p}");
        references.push(reference);
    }
    let mut client = PharmacyProcess::start(&pharmacy, w.broker_port()).await;
    wait_until_agreed(
        &w.app.config.database_url,
        &pharmacy.id,
        Some(&client.url("")),
        RECOVERY,
    )
    .await;
    let http = reqwest::Client::new();
    let supplies_url = client.url("/api/supplies"); // the same port after a restart
    let api_token = client.api_token.clone();
    let supply = |reference: &str| {
        http.post(&supplies_url)
            .bearer_auth(&api_token)
            .json(&json!({"reference": reference, "date": today.to_string(),
                          "supervised_taken": true, "take_home_doses": 0}))
            .send()
    };

    // The burst, in waves; SIGKILL once a third of the people have been served.
    let started = Instant::now();
    let (mut recorded, mut cut_off, mut already) = (0, Vec::new(), 0);
    let mut killed_after = None;
    let mut at_kill = (0, 0);
    for wave in references.chunks(WAVE) {
        if killed_after.is_none() && recorded >= PEOPLE / 3 {
            // Fire a wave and kill the client while it is handling it.
            let in_flight: Vec<_> = wave.iter().map(|r| supply(r)).collect();
            let pending = futures::future::join_all(in_flight);
            tokio::pin!(pending);
            tokio::select! {
                _ = &mut pending => {}
                _ = tokio::time::sleep(Duration::from_millis(15)) => {}
            }
            client.kill_hard();
            killed_after = Some(recorded);
            at_kill = left_behind(client.data_dir()).await;
            for (reference, result) in wave.iter().zip(pending.await) {
                match result {
                    Ok(res) if res.status() == 201 => recorded += 1,
                    _ => cut_off.push(reference.clone()),
                }
            }
            client.start_again().await;
            continue;
        }
        let results = futures::future::join_all(wave.iter().map(|r| supply(r))).await;
        for (reference, result) in wave.iter().zip(results) {
            let res = result.expect("the client answers");
            assert_eq!(res.status(), 201, "supply for {reference}");
            recorded += 1;
        }
    }
    // The pharmacist retries what got no answer: either it is recorded now, or the counter
    // says it was already handed over (stored before the kill, its answer lost).
    for reference in &cut_off {
        let res = supply(reference).await.expect("the client answers");
        match res.status().as_u16() {
            201 => recorded += 1,
            409 => already += 1,
            other => panic!(
                "retried supply for {reference}: {other} {}",
                res.text().await.unwrap()
            ),
        }
    }
    assert_eq!(recorded + already, PEOPLE);

    let (report, took) = wait_until_agreed(
        &w.app.config.database_url,
        &pharmacy.id,
        Some(&client.url("")),
        RECOVERY,
    )
    .await;
    let store = w.app.db().await;
    let count = |sql: &'static str| {
        let store = &store;
        let id = pharmacy.id.clone();
        async move {
            let row = sqlx::query(sql)
                .bind(id)
                .fetch_one(store.pool())
                .await
                .unwrap();
            sqlx::Row::get::<i64, _>(&row, "n")
        }
    };
    let dispenses = count("SELECT COUNT(*) AS n FROM dispenses WHERE pharmacy_id = $1").await;
    let people_supplied =
        count("SELECT COUNT(DISTINCT service_user_id) AS n FROM dispenses WHERE pharmacy_id = $1")
            .await;
    let reports = count("SELECT COUNT(*) AS n FROM reports_received WHERE pharmacy_id = $1").await;
    store.close().await;
    let (_, shown) = w
        .app
        .send(
            w.app
                .client
                .get(client.url(&format!("/api/status?reference={}", references[0]))),
        )
        .await;
    assert_eq!(shown["code"], "B", "{shown}");
    println!(
        "faults: counter SIGKILLed on {kind:?}/{backend:?} after {} of {PEOPLE} supplies with {} in \
         flight; at the kill its store held {} supplies and {} reports the server had not yet \
         acknowledged; {} in-flight supplies were stored before the kill (the retry answered 409); server stored \
         {dispenses} supplies for {people_supplied} people from {reports} reports; agreed {took:?} \
         after the burst; duplicates: {}; lost: {}; burst took {:?}",
        killed_after.unwrap_or(0),
        cut_off.len(),
        at_kill.0,
        at_kill.1,
        already,
        dispenses - people_supplied,
        PEOPLE as i64 - people_supplied,
        started.elapsed()
    );
    assert!(report.agree);
    assert_eq!(
        dispenses, PEOPLE as i64,
        "each supply stored once at the server"
    );
    assert_eq!(people_supplied, PEOPLE as i64);
    assert_eq!(reports, PEOPLE as i64, "one report per supply, none twice");
}

/// Enrols a pharmacy whose local time now is early morning and whose day closes at 23:00: the
/// whole scenario runs on one open day, whenever the test runs.
async fn morning_pharmacy(w: &PushWorld) -> (Enrolled, chrono::NaiveDate) {
    let utc_hour = i32::try_from(chrono::Utc::now().hour()).unwrap();
    // Etc/GMT+X is UTC−X (POSIX sign). Aim for 01:xx local.
    let mut x = utc_hour - 1;
    if x > 12 {
        x -= 24;
    }
    let timezone = if x >= 0 {
        format!("Etc/GMT+{x}")
    } else {
        format!("Etc/GMT{x}")
    };
    let tz: chrono_tz::Tz = timezone.parse().unwrap();
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let enrolled = w
        .app
        .enrol(
            json!({"ods_code": "FK010", "name": "Kill test", "closed_weekdays": [],
                      "closing_time": "23:00", "timezone": timezone}),
        )
        .await;
    (enrolled, today)
}

/// What the dead client's store holds: supplies recorded, reports not yet acknowledged.
async fn left_behind(data_dir: &std::path::Path) -> (i64, i64) {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=ro", data_dir.join("client.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let supplies: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM supplies")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let unacked: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE acked_at IS NULL")
        .fetch_one(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    (supplies.0, unacked.0)
}
