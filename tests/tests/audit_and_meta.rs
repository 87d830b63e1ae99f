//! The audit chain catches tampering; the OpenAPI document and health check are served.

use serde_json::json;
use sotto_server::cli::Admin;
use sotto_tests::reqwest::StatusCode;
use sotto_tests::{TestApp, on_both_backends};

on_both_backends!(
    every_change_is_audited_with_who_and_when,
    an_edited_audit_entry_is_detected,
    a_deleted_audit_entry_is_detected,
    the_openapi_document_lists_every_route,
    health_reports_the_database_and_the_broker,
);

async fn every_change_is_audited_with_who_and_when(app: TestApp) {
    let w = app.world().await;
    let holds = format!("/api/v1/service-users/{}/holds", w.service_user);
    let (_, hold) = app
        .post(&w.keyworker.token, &holds, json!({"reason": "r"}))
        .await;
    let (_, entries) = app.get(&app.admin.token, "/api/v1/audit?limit=1000").await;
    let entries = entries.as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "staff.create",
        "pharmacy.create",
        "service_user.create",
        "hold.place",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let last = entries.last().unwrap();
    assert_eq!(last["action"], "hold.place");
    assert_eq!(last["actor"], w.keyworker.id.as_str());
    assert_eq!(last["subject"], format!("service_user:{}", w.service_user));
    assert_eq!(last["detail"]["hold_id"], hold["id"]);
    assert!(last["at"].as_str().unwrap().ends_with('Z'));
    for pair in entries.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
        assert_eq!(
            pair[1]["seq"].as_i64().unwrap(),
            pair[0]["seq"].as_i64().unwrap() + 1
        );
    }
    let (ok, out) = app.admin_cli(Admin::VerifyAudit).await;
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("\"entries\":{}", entries.len())),
        "{out}"
    );
}

async fn an_edited_audit_entry_is_detected(app: TestApp) {
    app.world().await;
    assert!(app.admin_cli(Admin::VerifyAudit).await.0);
    app.execute_sql("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
        .await;
    let (ok, out) = app.admin_cli(Admin::VerifyAudit).await;
    assert!(!ok, "tampering went unnoticed: {out}");
    assert!(out.contains("\"seq\":3"), "{out}");
}

async fn a_deleted_audit_entry_is_detected(app: TestApp) {
    app.world().await;
    app.execute_sql("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
        .await;
    let (ok, out) = app.admin_cli(Admin::VerifyAudit).await;
    assert!(!ok, "deleting the newest entry went unnoticed: {out}");
    assert!(out.contains("deleted"), "{out}");
}

async fn the_openapi_document_lists_every_route(app: TestApp) {
    let (status, doc) = app
        .send(app.client.get(app.url("/api/v1/openapi.json")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/staff", "post"),
        ("/api/v1/pharmacies", "post"),
        ("/api/v1/pharmacies/{id}/closures", "post"),
        ("/api/v1/service-users", "post"),
        ("/api/v1/service-users/{id}/prescriptions", "post"),
        ("/api/v1/prescriptions/{id}/regime-changes", "post"),
        ("/api/v1/service-users/{id}/holds", "post"),
        ("/api/v1/holds/{id}/lift", "post"),
        ("/api/v1/service-users/{id}/status", "get"),
        ("/api/v1/service-users/{id}/missed-doses", "get"),
        ("/api/v1/audit", "get"),
        ("/healthz", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    assert!(doc["components"]["schemas"]["PrescriptionDraft"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

async fn health_reports_the_database_and_the_broker(app: TestApp) {
    // The broker link comes up in the background: until then health says so (503).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let body = loop {
        let (status, body) = app.send(app.client.get(app.url("/healthz"))).await;
        assert_eq!(body["db"], "ok", "{body}");
        if status == StatusCode::OK {
            break body;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["mqtt"], "disconnected", "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "never healthy: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(body["status"], "ok");
    assert_eq!(body["mqtt"], "ok");
    let (status, body) = app.get(&app.admin.token, "/no/such/route").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
