//! The OpenAPI document tells the truth about errors: every answer the server gives — no token,
//! wrong media type, too large, wrong role, unknown id — is a status the document lists for that
//! operation, with the `application/problem+json` body it describes (what `.ci/schemathesis`
//! checks at scale, here on every route). Parameters are documented where they are read.

use serde_json::Value;
use sotto_tests::reqwest::{Method, StatusCode};
use sotto_tests::{TestApp, on_both_backends};

on_both_backends!(
    every_operation_documents_the_errors_its_shape_can_cause,
    the_errors_the_server_answers_are_the_documented_ones,
);

async fn document(app: &TestApp) -> Value {
    let (status, doc) = app
        .send(app.client.get(app.url("/api/v1/openapi.json")))
        .await;
    assert_eq!(status, StatusCode::OK);
    doc
}

/// Every (path, method, operation) in the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                ops.push((path.clone(), method.clone(), op.clone()));
            }
        }
    }
    assert!(ops.len() > 10, "too few operations: {ops:?}");
    ops
}

/// The response documented for `status`, following a `$ref` into the shared responses.
fn documented<'a>(doc: &'a Value, op: &'a Value, status: u16) -> Option<&'a Value> {
    let response = op["responses"].get(status.to_string())?;
    match response["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/responses/").unwrap();
            Some(&doc["components"]["responses"][name])
        }
        None => Some(response),
    }
}

fn is_problem(response: &Value) -> bool {
    response["content"]["application/problem+json"]["schema"]["$ref"]
        == "#/components/schemas/Problem"
}

async fn every_operation_documents_the_errors_its_shape_can_cause(app: TestApp) {
    let doc = document(&app).await;
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    for (path, method, op) in operations(&doc) {
        let name = format!("{method} {path}");
        let mut expected = vec![500, 503];
        if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
            expected.extend([401, 429]);
        }
        if op.get("requestBody").is_some() {
            expected.extend([400, 413, 415, 422]);
        }
        // A query struct documented as path parameters would have clients build wrong URLs.
        for p in op["parameters"].as_array().into_iter().flatten() {
            if p["in"] == "path" {
                let name = p["name"].as_str().unwrap();
                assert!(
                    path.contains(&format!("{{{name}}}")),
                    "{name} is not in {path}"
                );
            }
        }
        let in_query = |p: &Value| p["in"] == "query";
        if op["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(in_query))
        {
            expected.push(400);
        }
        if path.contains('{') {
            expected.push(404);
        }
        for status in expected {
            let response = documented(&doc, &op, status)
                .unwrap_or_else(|| panic!("{name} does not document {status}"));
            // Health answers 503 with its own body; every other error is a problem.
            if path != "/healthz" {
                assert!(is_problem(response), "{name} {status}: {response}");
            }
        }
        for (status, _) in op["responses"].as_object().unwrap() {
            let code: u16 = status.parse().unwrap();
            if code >= 400 && path != "/healthz" {
                let response = documented(&doc, &op, code).unwrap();
                assert!(is_problem(response), "{name} {status}: {response}");
            }
        }
    }
    let too_many = &doc["components"]["responses"]["TooManyRequests"];
    assert!(too_many["headers"]["Retry-After"].is_object(), "{too_many}");
}

async fn the_errors_the_server_answers_are_the_documented_ones(app: TestApp) {
    let doc = document(&app).await;
    for (path, method, op) in operations(&doc) {
        if op["security"].as_array().is_none_or(|s| s.is_empty()) {
            continue;
        }
        let url = app.url(&path.replace("{id}", "no-such-id"));
        // Not UTF-8 once decoded, and a query parameter of the wrong type: both still problems.
        let odd_url = app.url(&path.replace("{id}", "%FF%FE")) + "?limit=ten&after_seq=x";
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let name = format!("{method} {path}");
        let has_body = op.get("requestBody").is_some();
        let mut requests = vec![(
            "no token",
            app.client
                .request(method.clone(), &url)
                .json(&serde_json::json!({})),
        )];
        let as_admin = || {
            app.client
                .request(method.clone(), &url)
                .bearer_auth(&app.admin.token)
        };
        if has_body {
            requests.push(("text/plain body", as_admin().body("{}")));
            requests.push((
                "oversized body",
                as_admin()
                    .header("content-type", "application/json")
                    .body(vec![b' '; app.config.max_body_bytes + 1]),
            ));
            requests.push((
                "broken JSON",
                as_admin()
                    .header("content-type", "application/json")
                    .body("{"),
            ));
            requests.push(("empty object", as_admin().json(&serde_json::json!({}))));
        } else {
            requests.push(("as admin", as_admin()));
            requests.push((
                "odd id and query",
                app.client
                    .request(method.clone(), &odd_url)
                    .bearer_auth(&app.admin.token),
            ));
        }
        for (what, request) in requests {
            let res = request.send().await.unwrap();
            let status = res.status();
            let response = documented(&doc, &op, status.as_u16())
                .unwrap_or_else(|| panic!("{name} ({what}) answered an undocumented {status}"));
            if status.is_client_error() || status.is_server_error() {
                assert_eq!(
                    res.headers()["content-type"],
                    "application/problem+json",
                    "{name} ({what})"
                );
                assert!(is_problem(response), "{name} ({what}): {response}");
            }
        }
    }
}

/// Every operation has a unique operationId, a summary and a tag (client generators and the
/// linters need all three; `.ci/openapi` runs openapi-spec-validator and Redocly as well).
#[test]
fn every_operation_has_a_unique_id_a_summary_and_a_tag() {
    let doc = serde_json::to_value(sotto_server::http::openapi()).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_default().to_string();
        assert!(!id.is_empty(), "{method} {path} has no operationId");
        assert!(ids.insert(id.clone()), "operationId {id} is used twice");
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path} has no summary"
        );
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{method} {path} has no tag"
        );
    }
    assert!(doc["servers"].as_array().is_some_and(|s| !s.is_empty()));
}
