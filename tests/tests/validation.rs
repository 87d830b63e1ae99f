//! Bad input gets a 4xx naming what was wrong, and leaves the database exactly as it was.

use serde_json::{Value, json};
use sotto_tests::reqwest::StatusCode;
use sotto_tests::{
    TestApp, World, daily_supervised, next_monday, on_both_backends, prescription_body,
    service_user_body,
};

on_both_backends!(
    invalid_prescriptions_are_refused_naming_the_field,
    malformed_json_oversized_bodies_and_wrong_media_types_are_refused,
    invalid_service_users_staff_and_pharmacies_are_refused,
    overlapping_prescriptions_and_duplicates_are_conflicts,
    a_regime_change_inside_a_take_home_span_is_refused,
);

/// Posts `body`, expects `status`, expects a problem+json whose errors name `field`, and checks
/// the database did not change.
async fn refused(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Value,
    status: StatusCode,
    field: &str,
) -> Value {
    let before = app.snapshot().await;
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), status, "{body}");
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await.unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| e["field"].as_str().unwrap()).collect())
        .unwrap_or_default();
    assert!(
        fields.contains(&field),
        "expected an error on {field}: {problem}"
    );
    assert!(!problem["detail"].as_str().unwrap().is_empty());
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused request changed the database"
    );
    problem
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

async fn setup(app: &TestApp) -> (World, String) {
    let w = app.world().await;
    let path = format!("/api/v1/service-users/{}/prescriptions", w.service_user);
    (w, path)
}

async fn invalid_prescriptions_are_refused_naming_the_field(app: TestApp) {
    let (w, path) = setup(&app).await;
    let t = &w.clinician.token;
    let ok = prescription_body(next_monday(), 14, daily_supervised());
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;

    // A gap: nothing covers Sunday.
    let mut gap = daily_supervised();
    gap[5]["days"] = json!(1);
    let p = refused(
        &app,
        t,
        &path,
        with(ok.clone(), "collections", gap),
        unprocessable,
        "collections",
    )
    .await;
    assert!(p.to_string().contains("sun"), "the gap names the day: {p}");
    // An overlap: Saturday's two days run into Monday's collection... via a 3-day Saturday.
    let mut overlap = daily_supervised();
    overlap[5]["days"] = json!(3);
    let p = refused(
        &app,
        t,
        &path,
        with(ok.clone(), "collections", overlap),
        unprocessable,
        "collections",
    )
    .await;
    assert!(
        p.to_string().contains("mon"),
        "the overlap names the day: {p}"
    );
    // A collection on Sunday, when the pharmacy is closed on Sundays.
    let mut sunday = daily_supervised();
    sunday[5]["days"] = json!(1);
    sunday
        .as_array_mut()
        .unwrap()
        .push(json!({"weekday": "sun", "days": 1, "supervised": true}));
    let p = refused(
        &app,
        t,
        &path,
        with(ok.clone(), "collections", sunday),
        unprocessable,
        "collections[6].weekday",
    )
    .await;
    assert!(p.to_string().contains("closed on sun"), "{p}");
    // End before start; more than 14 days.
    let start = next_monday();
    let end_before = with(
        ok.clone(),
        "end_date",
        json!((start - chrono::Duration::days(1)).to_string()),
    );
    refused(&app, t, &path, end_before, unprocessable, "end_date").await;
    let p = refused(
        &app,
        t,
        &path,
        prescription_body(start, 15, daily_supervised()),
        unprocessable,
        "end_date",
    )
    .await;
    assert!(p.to_string().contains("14"), "{p}");
    // Negative, zero, absurd and fractional-microgram doses; one so small it would round to 0 µg
    // (schemathesis found that stored, then every read of the prescription failing with a 500).
    for dose in [
        json!(-5),
        json!(0),
        json!(100000),
        json!(60.05),
        json!(1e-9),
    ] {
        refused(
            &app,
            t,
            &path,
            with(ok.clone(), "daily_dose_mg", dose),
            unprocessable,
            "daily_dose_mg",
        )
        .await;
    }
    // Buprenorphine's plausible maximum is far below methadone's.
    let bup = with(
        with(ok.clone(), "medicine", json!("buprenorphine_sublingual")),
        "daily_dose_mg",
        json!(60),
    );
    refused(&app, t, &path, bup, unprocessable, "daily_dose_mg").await;
    // Unknown medicine, wrong types, missing fields, bad dates: named by path.
    refused(
        &app,
        t,
        &path,
        with(ok.clone(), "medicine", json!("heroin")),
        unprocessable,
        "medicine",
    )
    .await;
    refused(
        &app,
        t,
        &path,
        with(ok.clone(), "daily_dose_mg", json!("sixty")),
        unprocessable,
        "daily_dose_mg",
    )
    .await;
    refused(
        &app,
        t,
        &path,
        with(ok.clone(), "start_date", json!("23/11/2026")),
        unprocessable,
        "start_date",
    )
    .await;
    let mut no_medicine = ok.clone();
    no_medicine.as_object_mut().unwrap().remove("medicine");
    refused(&app, t, &path, no_medicine, unprocessable, "").await;
    let mut bad_day = daily_supervised();
    bad_day[2]["weekday"] = json!("wednesday");
    refused(
        &app,
        t,
        &path,
        with(ok.clone(), "collections", bad_day),
        unprocessable,
        "collections[2].weekday",
    )
    .await;
    let directions = json!({"closed_days_prior": true, "supply_remaining_if_missed": true,
                            "consult_after_missed_days": 0});
    refused(
        &app,
        t,
        &path,
        with(ok.clone(), "directions", directions),
        unprocessable,
        "directions.consult_after_missed_days",
    )
    .await;
    // And the valid one is accepted after all that.
    let (status, body) = app.post(t, &path, ok).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn malformed_json_oversized_bodies_and_wrong_media_types_are_refused(app: TestApp) {
    let (w, path) = setup(&app).await;
    let before = app.snapshot().await;
    let send = |body: Vec<u8>, ctype: &'static str| {
        app.client
            .post(app.url(&path))
            .bearer_auth(&w.clinician.token)
            .header("content-type", ctype)
            .body(body)
    };
    let (status, p) = app
        .send(send(b"{\"medicine\": ".to_vec(), "application/json"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("not valid JSON"),
        "{p}"
    );
    let (status, p) = app
        .send(send(
            b"medicine=x".to_vec(),
            "application/x-www-form-urlencoded",
        ))
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{p}");
    let huge = format!("{{\"reason\": \"{}\"}}", "x".repeat(200_000));
    let (status, p) = app.send(send(huge.into_bytes(), "application/json")).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{p}");
    assert_eq!(p["status"], 413);
    assert_eq!(app.snapshot().await, before);
}

async fn invalid_service_users_staff_and_pharmacies_are_refused(app: TestApp) {
    let w = app.world().await;
    let kt = &w.keyworker.token;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let ok = service_user_body("SU-2000", &w.pharmacy, &w.keyworker.id, &w.clinician.id);
    let p = "/api/v1/service-users";
    refused(
        &app,
        kt,
        p,
        with(ok.clone(), "reference", json!("SU 2000!")),
        unprocessable,
        "reference",
    )
    .await;
    refused(
        &app,
        kt,
        p,
        with(ok.clone(), "family_name", json!("   ")),
        unprocessable,
        "family_name",
    )
    .await;
    refused(
        &app,
        kt,
        p,
        with(ok.clone(), "date_of_birth", json!("2999-01-01")),
        unprocessable,
        "date_of_birth",
    )
    .await;
    refused(
        &app,
        kt,
        p,
        with(ok.clone(), "pharmacy_id", json!("nope")),
        unprocessable,
        "pharmacy_id",
    )
    .await;
    // The keyworker named must be a keyworker; the prescriber a clinician.
    refused(
        &app,
        kt,
        p,
        with(ok.clone(), "keyworker_id", json!(w.clinician.id)),
        unprocessable,
        "keyworker_id",
    )
    .await;
    refused(
        &app,
        kt,
        p,
        with(ok.clone(), "prescriber_id", json!(w.keyworker.id)),
        unprocessable,
        "prescriber_id",
    )
    .await;
    refused(
        &app,
        kt,
        p,
        with(ok.clone(), "heads_up_email", json!("not-an-email")),
        unprocessable,
        "heads_up_email",
    )
    .await;

    let at = &app.admin.token;
    let staff = json!({"name": "P", "email": "p@service.test", "role": "pharmacist"});
    refused(
        &app,
        at,
        "/api/v1/staff",
        staff.clone(),
        unprocessable,
        "pharmacy_id",
    )
    .await;
    refused(
        &app,
        at,
        "/api/v1/staff",
        with(staff.clone(), "role", json!("superuser")),
        unprocessable,
        "role",
    )
    .await;
    refused(
        &app,
        at,
        "/api/v1/staff",
        with(staff.clone(), "email", json!("p@")),
        unprocessable,
        "email",
    )
    .await;
    let kw = json!({"name": "K", "email": "k@service.test", "role": "keyworker", "pharmacy_id": w.pharmacy});
    refused(&app, at, "/api/v1/staff", kw, unprocessable, "pharmacy_id").await;

    let ph = json!({"ods_code": "FQ123", "name": "Q", "closed_weekdays": ["sun"],
                    "closing_time": "18:00", "timezone": "Europe/London"});
    let pp = "/api/v1/pharmacies";
    refused(
        &app,
        at,
        pp,
        with(ph.clone(), "ods_code", json!("F 1")),
        unprocessable,
        "ods_code",
    )
    .await;
    refused(
        &app,
        at,
        pp,
        with(ph.clone(), "closing_time", json!("6pm")),
        unprocessable,
        "closing_time",
    )
    .await;
    refused(
        &app,
        at,
        pp,
        with(ph.clone(), "timezone", json!("Mars/Base")),
        unprocessable,
        "timezone",
    )
    .await;
    refused(
        &app,
        at,
        pp,
        with(ph.clone(), "closed_weekdays", json!(["funday"])),
        unprocessable,
        "closed_weekdays[0]",
    )
    .await;
    let all = json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
    refused(
        &app,
        at,
        pp,
        with(ph.clone(), "closed_weekdays", all),
        unprocessable,
        "closed_weekdays",
    )
    .await;
    let holds = format!("/api/v1/service-users/{}/holds", w.service_user);
    refused(
        &app,
        kt,
        &holds,
        json!({"reason": "  "}),
        unprocessable,
        "reason",
    )
    .await;
}

async fn overlapping_prescriptions_and_duplicates_are_conflicts(app: TestApp) {
    let (w, path) = setup(&app).await;
    let start = next_monday();
    let (status, _) = app
        .post(
            &w.clinician.token,
            &path,
            prescription_body(start, 14, daily_supervised()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let later = prescription_body(start + chrono::Duration::days(7), 14, daily_supervised());
    let p = refused(
        &app,
        &w.clinician.token,
        &path,
        later,
        StatusCode::CONFLICT,
        "start_date",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("overlap"), "{p}");
    let after = prescription_body(start + chrono::Duration::days(14), 14, daily_supervised());
    assert_eq!(
        app.post(&w.clinician.token, &path, after).await.0,
        StatusCode::CREATED
    );

    let dup = service_user_body("su-1042", &w.pharmacy, &w.keyworker.id, &w.clinician.id);
    refused(
        &app,
        &w.keyworker.token,
        "/api/v1/service-users",
        dup,
        StatusCode::CONFLICT,
        "reference",
    )
    .await;
    let ph = json!({"ods_code": "fa001", "name": "Again", "closed_weekdays": [],
                    "closing_time": "18:00", "timezone": "Europe/London"});
    refused(
        &app,
        &app.admin.token,
        "/api/v1/pharmacies",
        ph,
        StatusCode::CONFLICT,
        "ods_code",
    )
    .await;
    let staff = json!({"name": "A", "email": "ADMIN@service.test", "role": "admin"});
    refused(
        &app,
        &app.admin.token,
        "/api/v1/staff",
        staff,
        StatusCode::CONFLICT,
        "email",
    )
    .await;
    let closure_path = format!("/api/v1/pharmacies/{}/closures", w.pharmacy);
    let closure = json!({"date": "2026-12-25", "note": "Christmas"});
    assert_eq!(
        app.post(&app.admin.token, &closure_path, closure.clone())
            .await
            .0,
        StatusCode::CREATED
    );
    refused(
        &app,
        &app.admin.token,
        &closure_path,
        closure,
        StatusCode::CONFLICT,
        "date",
    )
    .await;
}

async fn a_regime_change_inside_a_take_home_span_is_refused(app: TestApp) {
    let (w, path) = setup(&app).await;
    let start = next_monday();
    let weekly = json!([{"weekday": "mon", "days": 7, "supervised": false}]);
    let (status, p) = app
        .post(
            &w.clinician.token,
            &path,
            prescription_body(start, 14, weekly),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let change_path = format!(
        "/api/v1/prescriptions/{}/regime-changes",
        p["id"].as_str().unwrap()
    );
    let t = &w.clinician.token;
    let wed = (start + chrono::Duration::days(2)).to_string();
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let p = refused(
        &app,
        t,
        &change_path,
        json!({"effective_from": wed, "daily_dose_mg": 70, "reason": "r"}),
        unprocessable,
        "effective_from",
    )
    .await;
    assert!(
        p.to_string()
            .contains(&(start + chrono::Duration::days(7)).to_string()),
        "names the next collection day: {p}"
    );
    let next_mon = (start + chrono::Duration::days(7)).to_string();
    refused(
        &app,
        t,
        &change_path,
        json!({"effective_from": next_mon, "reason": "r"}),
        unprocessable,
        "collections",
    )
    .await;
    refused(
        &app,
        t,
        &change_path,
        json!({"effective_from": next_mon, "daily_dose_mg": 70, "reason": ""}),
        unprocessable,
        "reason",
    )
    .await;
    refused(
        &app,
        t,
        &change_path,
        json!({"effective_from": next_mon, "daily_dose_mg": 1e-9, "reason": "r"}),
        unprocessable,
        "daily_dose_mg",
    )
    .await;
    let outside = (start + chrono::Duration::days(30)).to_string();
    refused(
        &app,
        t,
        &change_path,
        json!({"effective_from": outside, "daily_dose_mg": 70, "reason": "r"}),
        unprocessable,
        "effective_from",
    )
    .await;
    let (status, b) = app
        .post(
            t,
            &change_path,
            json!({"effective_from": next_mon, "daily_dose_mg": 70, "reason": "r"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    refused(
        &app,
        t,
        &change_path,
        json!({"effective_from": next_mon, "daily_dose_mg": 80, "reason": "r"}),
        unprocessable,
        "effective_from",
    )
    .await;
}
