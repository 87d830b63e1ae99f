//! Who may do what: 401 without a valid token, 403 for the wrong role or the wrong pharmacy.

use chrono::Duration;
use serde_json::json;
use sotto_tests::reqwest::StatusCode;
use sotto_tests::{TestApp, daily_supervised, next_monday, on_both_backends, prescription_body};

on_both_backends!(
    a_request_without_a_token_is_401,
    an_unknown_token_is_401,
    only_admins_create_staff_and_pharmacies_and_read_the_audit,
    only_clinicians_prescribe_and_change_regimes,
    pharmacists_see_only_their_own_pharmacys_people,
    keyworkers_cannot_lift_a_safety_hold_but_clinicians_can,
    hold_reasons_are_shown_to_the_service_but_never_to_the_pharmacy,
);

async fn a_request_without_a_token_is_401(app: TestApp) {
    let w = app.world().await;
    let path = format!("/api/v1/service-users/{}/status", w.service_user);
    let (status, body) = app.send(app.client.get(app.url(&path))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["status"], 401);
    let res = app
        .client
        .post(app.url("/api/v1/staff"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
}

async fn an_unknown_token_is_401(app: TestApp) {
    let (status, _) = app.get("sotto_not-a-real-token", "/api/v1/audit").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .get(app.url("/api/v1/audit"))
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn only_admins_create_staff_and_pharmacies_and_read_the_audit(app: TestApp) {
    let w = app.world().await;
    let staff = json!({"name": "X", "email": "x@service.test", "role": "keyworker"});
    let pharmacy = json!({"ods_code": "FZ999", "name": "Z", "closed_weekdays": [],
                          "closing_time": "18:00", "timezone": "Europe/London"});
    let closure = json!({"date": "2026-12-25", "note": "Christmas"});
    let closure_path = format!("/api/v1/pharmacies/{}/closures", w.pharmacy);
    for token in [&w.clinician.token, &w.keyworker.token, &w.pharmacist.token] {
        let before = app.snapshot().await;
        assert_eq!(
            app.post(token, "/api/v1/staff", staff.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.post(token, "/api/v1/pharmacies", pharmacy.clone())
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.post(token, &closure_path, closure.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.get(token, "/api/v1/audit").await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.snapshot().await,
            before,
            "a refused request changed the database"
        );
    }
    let (status, body) = app.post(&app.admin.token, &closure_path, closure).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app.get(&app.admin.token, "/api/v1/audit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.as_array().unwrap().len() >= 7, "{body}");
    // Administrators run the system; they have no clinical need to see people's records.
    let path = format!("/api/v1/service-users/{}/status", w.service_user);
    assert_eq!(
        app.get(&app.admin.token, &path).await.0,
        StatusCode::FORBIDDEN
    );
}

async fn only_clinicians_prescribe_and_change_regimes(app: TestApp) {
    let w = app.world().await;
    let start = next_monday();
    let body = prescription_body(start, 14, daily_supervised());
    let path = format!("/api/v1/service-users/{}/prescriptions", w.service_user);
    for token in [&app.admin.token, &w.keyworker.token, &w.pharmacist.token] {
        let (status, b) = app.post(token, &path, body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{b}");
    }
    let (status, p) = app.post(&w.clinician.token, &path, body).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let change_path = format!(
        "/api/v1/prescriptions/{}/regime-changes",
        p["id"].as_str().unwrap()
    );
    let change = json!({"effective_from": (start + Duration::days(2)).to_string(),
                        "daily_dose_mg": 70, "reason": "titration"});
    let (status, b) = app
        .post(&w.keyworker.token, &change_path, change.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{b}");
    assert!(b["detail"].as_str().unwrap().contains("clinician"), "{b}");
    let (status, b) = app.post(&w.clinician.token, &change_path, change).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
}

async fn pharmacists_see_only_their_own_pharmacys_people(app: TestApp) {
    let w = app.world().await;
    let status_path = format!("/api/v1/service-users/{}/status", w.service_user);
    let missed_path = format!("/api/v1/service-users/{}/missed-doses", w.service_user);
    assert_eq!(
        app.get(&w.pharmacist.token, &status_path).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&w.pharmacist.token, &missed_path).await.0,
        StatusCode::OK
    );
    let (status, body) = app.get(&w.other_pharmacist.token, &status_path).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        app.get(&w.other_pharmacist.token, &missed_path).await.0,
        StatusCode::FORBIDDEN
    );
    let su_path = format!("/api/v1/service-users/{}", w.service_user);
    assert_eq!(
        app.get(&w.other_pharmacist.token, &su_path).await.0,
        StatusCode::FORBIDDEN
    );
    let other_pharmacy = format!("/api/v1/pharmacies/{}", w.other_pharmacy);
    assert_eq!(
        app.get(&w.pharmacist.token, &other_pharmacy).await.0,
        StatusCode::FORBIDDEN
    );
    // Pharmacists place no holds and enrol nobody.
    let holds = format!("/api/v1/service-users/{}/holds", w.service_user);
    let (status, _) = app
        .post(&w.pharmacist.token, &holds, json!({"reason": "x"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A person who does not exist is 404 for everyone with a valid token.
    let (status, _) = app
        .get(&w.pharmacist.token, "/api/v1/service-users/nope/status")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn keyworkers_cannot_lift_a_safety_hold_but_clinicians_can(app: TestApp) {
    let w = app.world().await;
    let holds = format!("/api/v1/service-users/{}/holds", w.service_user);
    let (status, b) = app
        .post(
            &w.keyworker.token,
            &holds,
            json!({"reason": "x", "kind": "safety"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "keyworkers place attend holds only: {b}"
    );
    let (status, hold) = app
        .post(
            &w.clinician.token,
            &holds,
            json!({"reason": "3 days missed", "kind": "safety"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hold}");
    let lift = format!("/api/v1/holds/{}/lift", hold["id"].as_str().unwrap());
    let before = app.snapshot().await;
    let (status, b) = app
        .post(&w.keyworker.token, &lift, json!({"note": "seen"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(app.snapshot().await, before);
    let (status, b) = app
        .post(&w.pharmacist.token, &lift, json!({"note": "seen"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{b}");
    let (status, b) = app
        .post(&w.clinician.token, &lift, json!({"note": "reviewed"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let (status, b) = app
        .post(&w.clinician.token, &lift, json!({"note": "again"}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "lifting twice is refused: {b}"
    );
}

async fn hold_reasons_are_shown_to_the_service_but_never_to_the_pharmacy(app: TestApp) {
    let w = app.world().await;
    let holds = format!("/api/v1/service-users/{}/holds", w.service_user);
    let reason = "disclosed relapse at group";
    let (status, _) = app
        .post(&w.keyworker.token, &holds, json!({"reason": reason}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let path = format!("/api/v1/service-users/{}/status", w.service_user);
    let (_, seen_by_service) = app.get(&w.keyworker.token, &path).await;
    assert_eq!(seen_by_service["holds"][0]["reason"], reason);
    let (_, seen_by_pharmacy) = app.get(&w.pharmacist.token, &path).await;
    assert_eq!(seen_by_pharmacy["holds"][0]["kind"], "attend");
    assert!(
        !seen_by_pharmacy.to_string().contains("relapse"),
        "{seen_by_pharmacy}"
    );
    let (_, audit) = app.get(&app.admin.token, "/api/v1/audit?limit=1000").await;
    assert!(
        !audit.to_string().contains("relapse"),
        "the audit log stores no reasons"
    );
    assert!(
        !audit.to_string().contains("Testperson"),
        "the audit log stores no names"
    );
}

mod throttling {
    //! Token guessing is slowed down: after 20 failed authentications from one address within a
    //! minute, that address gets 429 (with Retry-After), even with a valid token.

    use super::*;

    sotto_tests::on_both_backends!(repeated_failed_authentication_is_throttled);

    async fn repeated_failed_authentication_is_throttled(app: TestApp) {
        for _ in 0..20 {
            let (status, _) = app.get("sotto_guess", "/api/v1/audit").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let res = app
            .client
            .get(app.url("/api/v1/audit"))
            .bearer_auth(&app.admin.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(res.headers().contains_key("retry-after"));
        let problem: serde_json::Value = res.json().await.unwrap();
        assert_eq!(problem["status"], 429, "{problem}");
    }
}
