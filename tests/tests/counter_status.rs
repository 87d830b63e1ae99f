//! What the status API tells the counter, day by day, through the real HTTP API.

use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};
use sotto_tests::reqwest::StatusCode;
use sotto_tests::{
    TestApp, World, daily_supervised, next_monday, on_both_backends, prescription_body,
};

on_both_backends!(
    saturdays_collection_covers_sunday_when_the_pharmacy_is_shut,
    a_bank_holiday_moves_its_dose_to_the_prior_open_day_as_take_home,
    a_regime_change_applies_from_its_effective_date,
    a_hold_shows_d_until_lifted_then_a,
    before_the_start_and_after_the_end_there_is_no_prescription,
    a_weekly_take_home_collection_hands_over_seven_doses,
    a_safety_hold_outranks_an_attend_hold,
);

async fn prescribe(app: &TestApp, w: &World, start: NaiveDate, collections: Value) -> Value {
    app.prescribe(w, start, collections).await
}

async fn status_on(app: &TestApp, w: &World, date: NaiveDate) -> Value {
    let path = format!(
        "/api/v1/service-users/{}/status?date={date}",
        w.service_user
    );
    let (status, body) = app.get(&w.pharmacist.token, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn saturdays_collection_covers_sunday_when_the_pharmacy_is_shut(app: TestApp) {
    let w = app.world().await;
    let mon = next_monday();
    prescribe(&app, &w, mon, daily_supervised()).await;
    let sat = status_on(&app, &w, mon + Duration::days(5)).await;
    assert_eq!(sat["code"], "A", "{sat}");
    assert_eq!(sat["due"]["supervised_dose_mg"], 60.0);
    assert_eq!(sat["due"]["take_home_doses"], 1);
    assert_eq!(
        sat["due"]["doses"][1]["date"],
        (mon + Duration::days(6)).to_string()
    );
    let sun = status_on(&app, &w, mon + Duration::days(6)).await;
    assert_eq!(sun["code"], "C", "{sun}");
    assert!(sun["due"].is_null());
    assert_eq!(
        sun["next_collection"],
        (mon + Duration::days(7)).to_string()
    );
    let tue = status_on(&app, &w, mon + Duration::days(1)).await;
    assert_eq!(tue["code"], "A");
    assert_eq!(tue["due"]["take_home_doses"], 0);
}

async fn a_bank_holiday_moves_its_dose_to_the_prior_open_day_as_take_home(app: TestApp) {
    let w = app.world().await;
    let mon = next_monday();
    let holiday = mon + Duration::days(7);
    let closures = format!("/api/v1/pharmacies/{}/closures", w.pharmacy);
    let (status, _) = app
        .post(
            &app.admin.token,
            &closures,
            json!({"date": holiday.to_string(), "note": "bank holiday"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    prescribe(&app, &w, mon, daily_supervised()).await;
    let sat = status_on(&app, &w, mon + Duration::days(5)).await;
    assert_eq!(sat["code"], "A", "{sat}");
    assert_eq!(
        sat["due"]["take_home_doses"], 2,
        "Sunday and the bank-holiday Monday: {sat}"
    );
    let dates: Vec<&str> = sat["due"]["doses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        [
            (mon + Duration::days(5)).to_string(),
            (mon + Duration::days(6)).to_string(),
            holiday.to_string()
        ]
    );
    assert_eq!(status_on(&app, &w, holiday).await["code"], "C");
    // The closure added after the prescription is honoured too (schedules follow the calendar).
    let later = mon + Duration::days(10);
    app.post(
        &app.admin.token,
        &closures,
        json!({"date": later.to_string(), "note": "refit"}),
    )
    .await;
    let wed = status_on(&app, &w, later - Duration::days(1)).await;
    assert_eq!(wed["due"]["take_home_doses"], 1, "{wed}");
}

async fn a_regime_change_applies_from_its_effective_date(app: TestApp) {
    let w = app.world().await;
    let mon = next_monday();
    let p = prescribe(&app, &w, mon, daily_supervised()).await;
    let path = format!(
        "/api/v1/prescriptions/{}/regime-changes",
        p["id"].as_str().unwrap()
    );
    let wed = mon + Duration::days(2);
    let (status, b) = app
        .post(
            &w.clinician.token,
            &path,
            json!({"effective_from": wed.to_string(), "daily_dose_mg": 70, "reason": "titration"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    assert_eq!(
        status_on(&app, &w, mon + Duration::days(1)).await["due"]["supervised_dose_mg"],
        60.0
    );
    assert_eq!(
        status_on(&app, &w, wed).await["due"]["supervised_dose_mg"],
        70.0
    );
    // Daily supervised to weekly take-home from the second Monday.
    let mon2 = mon + Duration::days(7);
    let weekly = json!([{"weekday": "mon", "days": 7, "supervised": false}]);
    let (status, b) = app
        .post(
            &w.clinician.token,
            &path,
            json!({"effective_from": mon2.to_string(), "collections": weekly, "reason": "stable"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let s = status_on(&app, &w, mon2).await;
    assert!(s["due"]["supervised_dose_mg"].is_null(), "{s}");
    assert_eq!(s["due"]["take_home_doses"], 7);
    assert_eq!(
        s["due"]["total_mg"], 490.0,
        "new dose carried into the new pattern"
    );
    assert_eq!(
        status_on(&app, &w, mon2 + Duration::days(1)).await["code"],
        "C"
    );
    let (_, view) = app
        .get(
            &w.clinician.token,
            &format!("/api/v1/prescriptions/{}", p["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(view["regimes"].as_array().unwrap().len(), 3, "{view}");
    assert_eq!(view["schedule"].as_array().unwrap().len(), 14);
}

async fn a_hold_shows_d_until_lifted_then_a(app: TestApp) {
    let w = app.world().await;
    let mon = next_monday();
    prescribe(&app, &w, mon, daily_supervised()).await;
    let holds = format!("/api/v1/service-users/{}/holds", w.service_user);
    let (status, hold) = app
        .post(&w.keyworker.token, &holds, json!({"reason": "call us"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hold}");
    assert_eq!(hold["kind"], "attend");
    let s = status_on(&app, &w, mon).await;
    assert_eq!(s["code"], "D", "{s}");
    assert!(
        s["due"].is_null(),
        "no dose is offered while the service asks to see the person"
    );
    let lift = format!("/api/v1/holds/{}/lift", hold["id"].as_str().unwrap());
    let (status, b) = app
        .post(
            &w.keyworker.token,
            &lift,
            json!({"note": "spoke on the phone"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(status_on(&app, &w, mon).await["code"], "A");
}

async fn before_the_start_and_after_the_end_there_is_no_prescription(app: TestApp) {
    let w = app.world().await;
    let mon = next_monday();
    assert_eq!(
        status_on(&app, &w, mon).await["code"],
        "F",
        "no prescription at all"
    );
    prescribe(&app, &w, mon, daily_supervised()).await;
    assert_eq!(
        status_on(&app, &w, mon - Duration::days(1)).await["code"],
        "F"
    );
    assert_eq!(status_on(&app, &w, mon).await["code"], "A");
    assert_eq!(
        status_on(&app, &w, mon + Duration::days(13)).await["code"],
        "C",
        "last Sunday is covered"
    );
    assert_eq!(
        status_on(&app, &w, mon + Duration::days(14)).await["code"],
        "F"
    );
    let path = format!(
        "/api/v1/service-users/{}/status?date=tomorrow",
        w.service_user
    );
    let (status, p) = app.get(&w.pharmacist.token, &path).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["errors"][0]["field"], "date");
}

async fn a_weekly_take_home_collection_hands_over_seven_doses(app: TestApp) {
    let w = app.world().await;
    let mon = next_monday();
    prescribe(
        &app,
        &w,
        mon,
        json!([{"weekday": "mon", "days": 7, "supervised": false}]),
    )
    .await;
    let s = status_on(&app, &w, mon).await;
    assert_eq!(s["code"], "A");
    assert_eq!(s["due"]["take_home_doses"], 7);
    assert_eq!(s["due"]["total_mg"], 420.0);
    for d in 1..7 {
        assert_eq!(
            status_on(&app, &w, mon + Duration::days(d)).await["code"],
            "C"
        );
    }
    assert_eq!(
        status_on(&app, &w, mon + Duration::days(7)).await["due"]["take_home_doses"],
        7
    );
}

async fn a_safety_hold_outranks_an_attend_hold(app: TestApp) {
    let w = app.world().await;
    let mon = next_monday();
    prescribe(&app, &w, mon, daily_supervised()).await;
    let holds = format!("/api/v1/service-users/{}/holds", w.service_user);
    app.post(&w.keyworker.token, &holds, json!({"reason": "call us"}))
        .await;
    app.post(
        &w.clinician.token,
        &holds,
        json!({"reason": "review", "kind": "safety"}),
    )
    .await;
    assert_eq!(status_on(&app, &w, mon).await["code"], "E");
    assert_eq!(
        status_on(&app, &w, mon - Duration::days(1)).await["code"],
        "F",
        "F outranks all"
    );
}

mod reported {
    //! The server's status follows what the counter reported: an instalment not collected on its
    //! day carries over under clause 2, and a reported supply turns the day to B.

    use super::*;
    use chrono::Datelike;
    use sotto_protocol::{Report, ReportEvent};
    use sotto_server::core::dispensing::ingest::{AlertSettings, Outcome, ingest};

    sotto_tests::on_both_backends!(a_missed_collection_carries_over_and_a_reported_supply_shows_b);

    async fn a_missed_collection_carries_over_and_a_reported_supply_shows_b(app: TestApp) {
        let w = app.world().await;
        let today = sotto_tests::pharmacy_today();
        let yesterday = today - Duration::days(1);
        // At FB002, open every day, so any two days in a row work.
        let (status, su) = app
            .post(
                &w.keyworker.token,
                "/api/v1/service-users",
                sotto_tests::service_user_body(
                    "SU-5000",
                    &w.other_pharmacy,
                    &w.keyworker.id,
                    &w.clinician.id,
                ),
            )
            .await;
        assert_eq!(status, 201, "{su}");
        let su = su["id"].as_str().unwrap().to_string();
        let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            [yesterday.weekday().num_days_from_monday() as usize];
        let weekly = json!([{"weekday": day, "days": 7, "supervised": false}]);
        let (status, p) = app
            .post(
                &w.clinician.token,
                &format!("/api/v1/service-users/{su}/prescriptions"),
                prescription_body(yesterday, 14, weekly),
            )
            .await;
        assert_eq!(status, 201, "{p}");
        let status_path = format!("/api/v1/service-users/{su}/status?date={today}");
        let (_, s) = app.get(&w.keyworker.token, &status_path).await;
        assert_eq!(
            s["code"], "A",
            "clause 2: the rest of a missed instalment is due: {s}"
        );
        assert_eq!(s["due"]["take_home_doses"], 6, "{s}");

        let store = app.db().await;
        let dates: Vec<NaiveDate> = (0..6).map(|k| today + Duration::days(k)).collect();
        let report = Report {
            report_id: "supply-1".into(),
            event: ReportEvent::Supplied {
                service_user_id: su.clone(),
                collect_on: today,
                supervised_taken: false,
                take_home_dates: dates,
                at: chrono::Utc::now(),
            },
        };
        let settings = AlertSettings {
            public_url: "https://sotto.test".into(),
            service_timezone: chrono_tz::Europe::London,
            digest_at: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
        };
        assert_eq!(
            ingest(&store, &settings, &w.other_pharmacy, &report)
                .await
                .unwrap(),
            Outcome::Stored
        );
        assert_eq!(
            ingest(&store, &settings, &w.other_pharmacy, &report)
                .await
                .unwrap(),
            Outcome::Duplicate
        );
        // A pharmacy reports only on its own people.
        let stray = Report {
            report_id: "stray".into(),
            ..report.clone()
        };
        let refused = ingest(&store, &settings, &w.pharmacy, &stray)
            .await
            .unwrap();
        assert!(matches!(refused, Outcome::Refused(_)), "{refused:?}");
        let (_, s) = app.get(&w.keyworker.token, &status_path).await;
        assert_eq!(s["code"], "B", "{s}");
        assert!(s["last_supply"].is_string());
        let (_, history) = app
            .get(
                &w.keyworker.token,
                &format!("/api/v1/service-users/{su}/dispenses"),
            )
            .await;
        assert_eq!(
            history.as_array().unwrap().len(),
            1,
            "one supply, however often reported"
        );
    }
}
