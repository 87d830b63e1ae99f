//! The records a pharmacy hands an inspector or a commissioner, from the server: the supply log
//! (JSON and CSV, what the controlled-drug register needs per instalment) and the monthly claim.
//! Their totals agree with the dose ledger day for day; who may read them is the access rule's.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use sotto_protocol::{Report, ReportEvent, WithheldReason};
use sotto_server::core::dispensing::ingest::{AlertSettings, Outcome, ingest};
use sotto_tests::reqwest::StatusCode;
use sotto_tests::{TestApp, World, every_day_supervised, on_both_backends, prescription_body};

on_both_backends!(
    the_supply_log_lists_each_instalment_as_the_register_needs_and_matches_the_ledger,
    the_monthly_claims_add_up_to_the_log,
    the_log_is_for_the_pharmacy_and_the_caseload_and_bad_queries_are_named,
);

fn settings() -> AlertSettings {
    AlertSettings {
        public_url: "https://sotto.test".into(),
        service_timezone: chrono_tz::Europe::London,
        digest_at: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
    }
}

struct Scene {
    w: World,
    start: NaiveDate,
    /// Daily supervised (the world's keyworker).
    daily: String,
    /// A weekly take-home collection (another keyworker).
    weekly: String,
    other_keyworker: sotto_tests::Staff,
}

async fn person(
    app: &TestApp,
    w: &World,
    reference: &str,
    keyworker: &sotto_tests::Staff,
) -> String {
    let (status, su) = app
        .post(
            &keyworker.token,
            "/api/v1/service-users",
            sotto_tests::service_user_body(
                reference,
                &w.other_pharmacy,
                &keyworker.id,
                &w.clinician.id,
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{su}");
    su["id"].as_str().unwrap().to_string()
}

/// At the pharmacy open every day, from six days ago: the daily person collects (supervised) on
/// days 0, 1 and 3 and is refused on day 2; the weekly person takes a week home on day 0.
async fn scene(app: &TestApp) -> Scene {
    let w = app.world().await;
    let other_keyworker = app.staff("keyworker", None).await;
    let daily = person(app, &w, "SU-3001", &w.keyworker).await;
    let weekly = person(app, &w, "SU-3002", &other_keyworker).await;
    let start = sotto_tests::pharmacy_today() - Duration::days(6);
    let weekday = sotto_tests::WEEKDAYS[start.weekday().num_days_from_monday() as usize];
    for (su, pattern) in [
        (&daily, every_day_supervised()),
        (
            &weekly,
            json!([{"weekday": weekday, "days": 7, "supervised": false}]),
        ),
    ] {
        let path = format!("/api/v1/service-users/{su}/prescriptions");
        let (status, p) = app
            .post(
                &w.clinician.token,
                &path,
                prescription_body(start, 14, pattern),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{p}");
    }
    let at = |d: i64| Utc::now() - Duration::days(6 - d);
    let supplied = |su: &String, d: i64| ReportEvent::Supplied {
        service_user_id: su.clone(),
        collect_on: start + Duration::days(d),
        supervised_taken: true,
        take_home_dates: vec![],
        at: at(d),
    };
    let events = [
        supplied(&daily, 0),
        supplied(&daily, 1),
        ReportEvent::Withheld {
            service_user_id: daily.clone(),
            collect_on: start + Duration::days(2),
            reason: WithheldReason::Intoxicated,
            at: at(2),
        },
        supplied(&daily, 3),
        ReportEvent::Supplied {
            service_user_id: weekly.clone(),
            collect_on: start,
            supervised_taken: false,
            take_home_dates: (0..7).map(|d| start + Duration::days(d)).collect(),
            at: at(0),
        },
    ];
    let store = app.db().await;
    for (i, event) in events.into_iter().enumerate() {
        let report = Report {
            report_id: format!("rec-{i}"),
            event,
        };
        let outcome = ingest(&store, &settings(), &w.other_pharmacy, &report)
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Stored);
    }
    Scene {
        w,
        start,
        daily,
        weekly,
        other_keyworker,
    }
}

fn log_path(s: &Scene, from: NaiveDate, to: NaiveDate) -> String {
    format!(
        "/api/v1/pharmacies/{}/supply-log?from={from}&to={to}",
        s.w.other_pharmacy
    )
}

async fn the_supply_log_lists_each_instalment_as_the_register_needs_and_matches_the_ledger(
    app: TestApp,
) {
    let s = scene(&app).await;
    let pharmacist = app.staff("pharmacist", Some(&s.w.other_pharmacy)).await;
    let end = s.start + Duration::days(6);
    let (status, log) = app
        .get(&pharmacist.token, &log_path(&s, s.start, end))
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let lines = log.as_array().unwrap();
    // Four instalments handed over; the withheld one is not a supply.
    assert_eq!(lines.len(), 4, "{log}");
    let weekly = lines.iter().find(|l| l["reference"] == "SU-3002").unwrap();
    assert_eq!(weekly["quantity_mg"], 420.0);
    assert_eq!(
        weekly["quantity_words"],
        "four hundred and twenty milligrams"
    );
    assert_eq!(weekly["supervised"], false);
    assert_eq!(weekly["dates"].as_array().unwrap().len(), 7);
    assert_eq!(weekly["medicine"], "Methadone 1 mg/ml oral solution");
    assert_eq!(weekly["prescriber"], "A clinician");
    assert_eq!(weekly["name"], "Alex Testperson");
    assert_eq!(weekly["collected_by"], "the person");
    let daily: Vec<&Value> = lines
        .iter()
        .filter(|l| l["reference"] == "SU-3001")
        .collect();
    assert_eq!(daily.len(), 3);
    for l in &daily {
        assert_eq!(l["quantity_mg"], 60.0);
        assert_eq!(l["quantity_words"], "sixty milligrams");
        assert_eq!(l["supervised"], true);
    }
    let dates: Vec<&str> = lines.iter().map(|l| l["date"].as_str().unwrap()).collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted, "oldest first");

    // Day for day the ledger's: every date a line covers is a day with a dose in hand, and every
    // such day is covered by exactly one line.
    for (su, reference) in [(&s.daily, "SU-3001"), (&s.weekly, "SU-3002")] {
        let (status, st) = app
            .get(
                &s.w.clinician.token,
                &format!("/api/v1/service-users/{su}/status?date={end}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{st}");
        let in_hand: BTreeSet<String> = st["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["state"] == "in_hand")
            .map(|d| d["date"].as_str().unwrap().to_string())
            .collect();
        let mut covered = Vec::new();
        for l in lines.iter().filter(|l| l["reference"] == reference) {
            for d in l["dates"].as_array().unwrap() {
                covered.push(d.as_str().unwrap().to_string());
            }
        }
        let covered_set: BTreeSet<String> = covered.iter().cloned().collect();
        assert_eq!(covered.len(), covered_set.len(), "a day counted twice");
        assert_eq!(covered_set, in_hand, "{reference}: log vs ledger {st}");
        assert!(!in_hand.is_empty());
    }

    // The same as CSV, with a header and the register's columns.
    let res = app
        .client
        .get(app.url(&format!("{}&format=csv", log_path(&s, s.start, end))))
        .bearer_auth(&pharmacist.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 5, "{csv}");
    assert!(rows[0].starts_with("date,recorded_at,reference,name,prescriber,form_serial,medicine,doses,quantity_mg,quantity_in_words,supervised,collected_by"));
    assert!(
        rows.iter().any(|r| r.contains(",SU-3002,")
            && r.contains(",7,420,four hundred and twenty milligrams,no,")),
        "{csv}"
    );
}

async fn the_monthly_claims_add_up_to_the_log(app: TestApp) {
    let s = scene(&app).await;
    let end = s.start + Duration::days(6);
    // The week may straddle two months: their claims together are the week's.
    let mut months = BTreeSet::new();
    for d in 0..7 {
        months.insert((s.start + Duration::days(d)).format("%Y-%m").to_string());
    }
    let (mut supervised, mut instalments, mut doses) = (0, 0, 0);
    for m in &months {
        let (status, c) = app
            .get(
                &app.admin.token,
                &format!("/api/v1/pharmacies/{}/claims?month={m}", s.w.other_pharmacy),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{c}");
        assert_eq!(c["ods_code"], "FB002");
        supervised += c["supervised_doses"].as_u64().unwrap();
        instalments += c["instalments_supplied"].as_u64().unwrap();
        doses += c["doses_supplied"].as_u64().unwrap();
    }
    assert_eq!((supervised, instalments, doses), (3, 4, 10));
    let pharmacist = app.staff("pharmacist", Some(&s.w.other_pharmacy)).await;
    let (_, log) = app
        .get(&pharmacist.token, &log_path(&s, s.start, end))
        .await;
    let log_doses: usize = log
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["dates"].as_array().unwrap().len())
        .sum();
    assert_eq!(log_doses as u64, doses);
    let (status, body) = app
        .get(
            &app.admin.token,
            &format!(
                "/api/v1/pharmacies/{}/claims?month=2026-13",
                s.w.other_pharmacy
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "month");
}

async fn the_log_is_for_the_pharmacy_and_the_caseload_and_bad_queries_are_named(app: TestApp) {
    let s = scene(&app).await;
    let end = s.start + Duration::days(6);
    let path = log_path(&s, s.start, end);
    // Another pharmacy's pharmacist, and administrators (the log names people): refused.
    assert_eq!(
        app.get(&s.w.pharmacist.token, &path).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&app.admin.token, &path).await.0,
        StatusCode::FORBIDDEN
    );
    // The service's staff: the lines of the people on their caseload.
    for (who, want) in [
        (&s.w.keyworker, vec!["SU-3001"; 3]),
        (&s.other_keyworker, vec!["SU-3002"]),
        (
            &s.w.clinician,
            vec!["SU-3001", "SU-3001", "SU-3001", "SU-3002"],
        ),
    ] {
        let (status, log) = app.get(&who.token, &path).await;
        assert_eq!(status, StatusCode::OK, "{log}");
        let mut refs: Vec<&str> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["reference"].as_str().unwrap())
            .collect();
        refs.sort();
        assert_eq!(refs, want);
    }
    let pharmacist = app.staff("pharmacist", Some(&s.w.other_pharmacy)).await;
    for (query, field) in [
        (format!("from={end}&to={}", s.start), "to"),
        (format!("from=yesterday&to={end}"), "from"),
        (format!("from={}&to={end}&format=pdf", s.start), "format"),
        (
            format!("from={}&to={}", s.start, s.start + Duration::days(400)),
            "to",
        ),
    ] {
        let (status, body) = app
            .get(
                &pharmacist.token,
                &format!(
                    "/api/v1/pharmacies/{}/supply-log?{query}",
                    s.w.other_pharmacy
                ),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    let (status, _) = app
        .get(
            &pharmacist.token,
            &format!(
                "/api/v1/pharmacies/{}/supply-log?from={}&to={end}&colour=red",
                s.w.other_pharmacy, s.start
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
