//! The counter's own supply log (`/records`, `/records.csv`, `/api/supply-log`): every
//! instalment handed over here in the days asked, with the register's fields — the prescriber
//! and medicine the service sent, the days covered, the quantity in figures and words — read
//! offline from the local store; withheld instalments are not supplies; bad queries are named.

mod common;

use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{Value, json};
use sotto_domain::{Directions, Medicine};

use common::*;

fn supply(reference: &str, date: NaiveDate, supervised: bool, take_home: u64) -> Value {
    json!({"reference": reference, "date": date.to_string(),
           "supervised_taken": supervised, "take_home_doses": take_home})
}

/// Tuesday 10 November 2026, 16:00 in London: SU-D daily supervised (60 mg); SU-W collects
/// Tuesdays for a week, take-home (40 mg a day).
async fn counter() -> (TestClient, FakeServer, tempfile::TempDir) {
    let clock = TestClock::at(london(nov(10), 16, 0));
    let (client, server, dir) = connected_at(&clock, Duration::from_secs(3600)).await;
    let mut daily = daily_supervised("u-d", "SU-D");
    daily.prescriptions[0].medicine = Some(Medicine::MethadoneOralSolution1mgMl);
    daily.prescriptions[0].prescriber = Some("Dr Patel".into());
    let mut weekly_rx = prescription(
        nov(3),
        nov(23),
        40,
        false,
        |d| d == nov(3) || d == nov(10) || d == nov(17),
        Directions::default(),
    );
    weekly_rx.medicine = Some(Medicine::BuprenorphineSublingual);
    weekly_rx.prescriber = Some("Dr Okafor".into());
    let mut weekly = person_on("u-w", "SU-W", weekly_rx);
    weekly.family_name = "Brown".into();
    server
        .send(snapshot(
            1,
            &server.pharmacy_id.clone(),
            vec![daily, weekly],
        ))
        .await;
    client.wait_for_code("SU-W", "A").await;
    (client, server, dir)
}

#[tokio::test]
async fn the_supply_log_lists_what_was_handed_over_with_the_registers_fields() {
    let (client, _server, _dir) = counter().await;
    for (body, want) in [
        // Withheld first (re-assessed later the same day): not a supply.
        (
            json!({"reference": "SU-D", "date": "2026-11-10", "withheld_reason": "intoxicated"}),
            201,
        ),
        (supply("SU-D", nov(10), true, 0), 201),
        (supply("SU-W", nov(10), false, 7), 201),
    ] {
        let (status, answer) = client.post("/api/supplies", body).await;
        assert_eq!(status, want, "{answer}");
    }
    let (status, log) = client
        .json("/api/supply-log?from=2026-11-09&to=2026-11-10")
        .await;
    assert_eq!(
        status, 401,
        "the log names people: it needs the API token ({log})"
    );
    let res = client
        .http
        .get(format!(
            "http://{}/api/supply-log?from=2026-11-09&to=2026-11-10",
            client.addr
        ))
        .bearer_auth(&client.api_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let log: Value = res.json().await.unwrap();
    let lines = log.as_array().unwrap();
    assert_eq!(lines.len(), 2, "the withheld one is not a supply: {log:#}");
    let w = lines.iter().find(|l| l["reference"] == "SU-W").unwrap();
    assert_eq!(w["quantity_mg"], 280.0);
    assert_eq!(w["quantity_words"], "two hundred and eighty milligrams");
    assert_eq!(w["dates"].as_array().unwrap().len(), 7);
    assert_eq!(w["supervised"], false);
    assert_eq!(w["prescriber"], "Dr Okafor");
    assert_eq!(w["medicine"], "Buprenorphine sublingual tablets");
    assert_eq!(w["name"], "Sam Brown");
    let d = lines.iter().find(|l| l["reference"] == "SU-D").unwrap();
    assert_eq!(
        (d["quantity_words"].clone(), d["supervised"].clone()),
        (json!("sixty milligrams"), json!(true))
    );

    // The page (printable) and its CSV, by default the last week.
    let (status, page) = client.get("/records").await;
    assert_eq!(status, 200);
    assert!(page.contains("Supply log"), "{page}");
    assert!(
        page.contains("Instalments handed over: 2; doses: 8; supervised: 1"),
        "{page}"
    );
    assert!(
        page.contains("280 mg (two hundred and eighty milligrams)"),
        "{page}"
    );
    let (status, csv) = client
        .get("/records.csv?from=2026-11-10&to=2026-11-10")
        .await;
    assert_eq!(status, 200);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows[0].starts_with("date,recorded_at,reference,name,prescriber,medicine,doses"));
    assert!(
        rows.iter()
            .any(|r| r.contains(",SU-W,Sam Brown,Dr Okafor,Buprenorphine sublingual tablets,7,280,two hundred and eighty milligrams,no,the person")),
        "{csv}"
    );
}

#[tokio::test]
async fn bad_queries_are_named_and_the_range_is_bounded() {
    let (client, _server, _dir) = counter().await;
    for (query, field) in [
        ("from=2026-11-10&to=2026-11-01", "to"),
        ("from=monday", "from"),
        ("from=2025-01-01&to=2026-11-10", "to"),
        ("colour=red", "colour"),
    ] {
        let res = client
            .http
            .get(format!("http://{}/api/supply-log?{query}", client.addr))
            .bearer_auth(&client.api_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{query}");
        let body: Value = res.json().await.unwrap();
        assert!(body.to_string().contains(field), "{query}: {body}");
        let (status, page) = client.get(&format!("/records?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(page.contains("Not shown"), "{page}");
    }
}
