//! Only the counter's own page, or a local program with the API token, changes the counter's
//! records: the Host check (DNS rebinding), cross-site posts, the form token, the JSON API's
//! content type and token, no CORS, the security headers; closing today only with an explicit
//! "early", recorded as such; and the answer to every heartbeat.

mod common;

use std::time::Duration;

use common::*;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use sotto_protocol::{ReportEvent, ServerBody};

const FRESH: Duration = Duration::from_secs(30 * 24 * 3600);

/// Monday 9 November, 10:00 in London (the pharmacy closes at 18:00), one person due.
async fn monday() -> (TestClient, FakeServer, tempfile::TempDir) {
    let clock = TestClock::at(london(nov(9), 10, 0));
    let (client, server, dir) = connected_at(&clock, FRESH).await;
    server
        .send(snapshot(
            1,
            &server.pharmacy_id.clone(),
            vec![daily_supervised("d", "SU-D")],
        ))
        .await;
    client.wait_for_code("SU-D", "A").await;
    (client, server, dir)
}

fn supply_body() -> Value {
    json!({"reference": "SU-D", "date": "2026-11-09",
           "supervised_taken": true, "take_home_doses": 0})
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Nothing was recorded: the code is still A and no report left.
async fn nothing_recorded(client: &TestClient, server: &mut FakeServer) {
    assert_eq!(client.status("SU-D").await.1["code"], "A");
    assert!(
        server
            .new_reports_within(Duration::from_millis(300))
            .await
            .is_empty(),
        "nothing reported"
    );
}

#[tokio::test]
async fn a_request_naming_another_host_is_refused_with_421_and_shows_nothing() {
    let (client, _server, _dir) = monday().await;
    for host in [
        "evil.example",
        "evil.example:8081",
        "127.0.0.1.evil.example",
    ] {
        let res = client
            .http
            .get(format!("http://{}/?reference=SU-D", client.addr))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 421, "{host}");
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("Testperson") && !body.contains("SU-D"),
            "{body}"
        );
        assert!(
            body.contains("SOTTO_COUNTER_HOSTS"),
            "says what to do: {body}"
        );
    }
    for host in [
        "localhost".to_string(),
        format!("localhost:{}", client.addr.port()),
        client.addr.to_string(),
    ] {
        let res = client
            .http
            .get(format!("http://{}/?reference=SU-D", client.addr))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{host}");
    }
    client.stop().await;
}

#[tokio::test]
async fn configured_host_names_are_answered() {
    let clock = TestClock::at(london(nov(9), 10, 0));
    let id = unique_pharmacy_id();
    let dir = tempfile::tempdir().unwrap();
    let _server = FakeServer::start(&id).await;
    let client = TestClient::start_adjusted(&id, dir.path(), Some(clock), |c| {
        c.counter_hosts = vec!["till.pharmacy.local".into()];
        c.api_token = Some("a-configured-token-for-the-till".into());
    })
    .await;
    let get = |host: &'static str| {
        client
            .http
            .get(format!("http://{}/healthz", client.addr))
            .header("host", host)
            .send()
    };
    assert_eq!(get("till.pharmacy.local:8081").await.unwrap().status(), 200);
    assert_eq!(get("TILL.pharmacy.local").await.unwrap().status(), 200);
    assert_eq!(get("till.pharmacy.local.evil").await.unwrap().status(), 421);
    assert_eq!(client.api_token, "a-configured-token-for-the-till");
    assert!(
        !dir.path().join("api-token").exists(),
        "a configured token is not written to disk"
    );
    client.stop().await;
}

#[tokio::test]
async fn the_json_api_needs_json_and_the_token_and_grants_no_cors() {
    let (client, mut server, dir) = monday().await;
    let url = format!("http://{}/api/supplies", client.addr);
    let body = supply_body().to_string();
    let token_file = std::fs::read_to_string(dir.path().join("api-token")).unwrap();
    assert_eq!(
        token_file.trim(),
        client.api_token,
        "the token is kept in the data folder"
    );

    // A browser's "simple" request: text/plain, no token (what a no-cors fetch sends).
    let res = client
        .http
        .post(&url)
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 415);
    let problem: Value = res.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("application/json")
    );
    // JSON with the token, but as text/plain: still refused.
    let res = client
        .http
        .post(&url)
        .bearer_auth(&client.api_token)
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 415);
    // JSON without a token, and with a wrong one.
    for auth in [None, Some("Bearer not-the-token"), Some("not-the-token")] {
        let mut req = client
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401, "{auth:?}");
        let problem: Value = res.json().await.unwrap();
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("SOTTO_COUNTER_API_TOKEN"),
            "{problem}"
        );
    }
    let res = client
        .http
        .post(format!("http://{}/api/close-day", client.addr))
        .header("content-type", "text/plain")
        .body(r#"{"date":"2026-11-08"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 415);
    // A preflight is never granted.
    let res = client
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(!res.status().is_success(), "{}", res.status());
    assert!(
        res.headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "{:?}",
        res.headers()
    );
    nothing_recorded(&client, &mut server).await;

    // A local program with the token records the supply.
    let (status, answer) = client.post("/api/supplies", supply_body()).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(client.status("SU-D").await.1["code"], "B");
    client.stop().await;
}

#[tokio::test]
async fn a_post_the_browser_marks_cross_site_is_refused_even_with_the_tokens() {
    let (client, mut server, _dir) = monday().await;
    let form_token = client.form_token().await;
    let cross: [&[(&str, &str)]; 5] = [
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "http://evil.example")],
        &[("sec-fetch-site", "cross-site"), ("origin", "null")],
        // A browser's word beats an Origin that looks like ours.
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://127.0.0.1"),
        ],
    ];
    for headers in cross {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_static(v));
        }
        let res = no_redirects()
            .post(format!("http://{}/supply", client.addr))
            .headers(map.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf={form_token}&reference=SU-D&date=2026-11-09&supervised_taken=true&take_home_doses=0"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 403, "{headers:?}");
        let res = client
            .http
            .post(format!("http://{}/api/supplies", client.addr))
            .headers(map)
            .bearer_auth(&client.api_token)
            .json(&supply_body())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 403, "{headers:?}");
    }
    nothing_recorded(&client, &mut server).await;
    client.stop().await;
}

#[tokio::test]
async fn a_supply_form_without_the_pages_token_records_nothing_and_with_it_works() {
    let (client, mut server, _dir) = monday().await;
    let (_, html) = client.get("/?reference=SU-D").await;
    let token = form_token_in(&html).expect("the page's forms carry its token");
    assert_eq!(
        html.matches(&format!("value=\"{token}\"")).count(),
        3,
        "{html}"
    );
    let post = |form: String| {
        no_redirects()
            .post(format!("http://{}/supply", client.addr))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .header("origin", format!("http://{}", client.addr))
            .body(form)
            .send()
    };
    let fields = "reference=SU-D&date=2026-11-09&supervised_taken=true&take_home_doses=0";
    for form in [
        fields.to_string(),
        format!("csrf=&{fields}"),
        format!("csrf={}x&{fields}", &token[..token.len() - 1]),
    ] {
        let res = post(form).await.unwrap();
        assert_eq!(res.status().as_u16(), 403);
        let page = res.text().await.unwrap();
        assert!(
            page.contains("Not recorded: the page was out of date"),
            "{page}"
        );
    }
    nothing_recorded(&client, &mut server).await;

    let res = post(format!("csrf={token}&{fields}")).await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(client.status("SU-D").await.1["code"], "B");
    client.stop().await;
}

#[tokio::test]
async fn every_answer_forbids_framing_caching_and_referrers() {
    let (client, _server, _dir) = monday().await;
    for path in [
        "/",
        "/?reference=SU-D",
        "/api/status?reference=SU-D",
        "/healthz",
        "/nope",
    ] {
        let res = client
            .http
            .get(format!("http://{}{path}", client.addr))
            .send()
            .await
            .unwrap();
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'none'"), "{path}: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    }
    // Refusals carry them too.
    let res = client
        .http
        .get(format!("http://{}/", client.addr))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    client.stop().await;
}

#[tokio::test]
async fn today_closes_before_closing_time_only_when_the_pharmacist_says_early() {
    let (client, mut server, dir) = monday().await;
    // The future: refused, saying what today is.
    let (status, body) = client
        .post(
            "/api/close-day",
            json!({"date": "2026-11-10", "early": true}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "date");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("today is 2026-11-09")
    );
    // Today at 10:00 without "early": refused, naming the field and the closing time.
    let (status, body) = client
        .post("/api/close-day", json!({"date": "2026-11-09"}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "early");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("18:00") && message.contains("\"early\": true"),
        "{message}"
    );
    for bad in [
        json!({"date": "2026-11-09", "early": "yes"}),
        json!({"date": "2026-11-09", "when": 1}),
    ] {
        let (status, body) = client.post("/api/close-day", bad).await;
        assert_eq!(status, 422, "{body}");
    }
    nothing_recorded(&client, &mut server).await;

    let (status, body) = client
        .post(
            "/api/close-day",
            json!({"date": "2026-11-09", "early": true}),
        )
        .await;
    assert_eq!((status, body["missed"].clone()), (200, json!(1)), "{body}");
    let reports = server.expect_reports(2).await;
    assert!(
        matches!(reports[1].event, ReportEvent::DayClosed { early: true, .. }),
        "reported as closed early: {reports:?}"
    );
    // Closing it again (early or not) reports nothing more.
    let (status, again) = client
        .post("/api/close-day", json!({"date": "2026-11-09"}))
        .await;
    assert_eq!(
        (status, again["already_closed"].clone()),
        (200, json!(true))
    );
    client.stop().await;
    let (by, early) = closed_day_record(dir.path(), "2026-11-09").await;
    assert_eq!((by.as_str(), early), ("api", true), "audited locally");
}

#[tokio::test]
async fn the_counter_page_asks_before_closing_today_early() {
    let (client, mut server, dir) = monday().await;
    let (_, html) = client.get("/").await;
    assert!(
        html.contains("action=\"/close-day\"") && html.contains("at 18:00"),
        "{html}"
    );
    let token = form_token_in(&html).unwrap();
    let post = |form: String| {
        no_redirects()
            .post(format!("http://{}/close-day", client.addr))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let res = post("date=2026-11-09".into()).await.unwrap();
    assert_eq!(res.status().as_u16(), 403, "no token, nothing done");
    let res = post(format!("csrf={token}&date=2026-11-09")).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let confirm = res.text().await.unwrap();
    assert!(
        confirm.contains("Close today early?")
            && confirm.contains("18:00")
            && confirm.contains("name=\"early\" value=\"yes\""),
        "{confirm}"
    );
    nothing_recorded(&client, &mut server).await;

    let res = post(format!("csrf={token}&date=2026-11-09&early=yes"))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers()["location"], "/?done=closed");
    assert_eq!(server.expect_reports(2).await.len(), 2);
    let (_, html) = client.get("/?done=closed").await;
    assert!(html.contains("Today is closed"), "{html}");
    client.stop().await;
    let (by, early) = closed_day_record(dir.path(), "2026-11-09").await;
    assert_eq!((by.as_str(), early), ("counter_page", true));
}

#[tokio::test]
async fn every_heartbeat_is_answered_with_its_seq() {
    let (client, mut server, _dir) = monday().await;
    server.send(ServerBody::Heartbeat { seq: 1 }).await;
    assert_eq!(server.expect_heartbeat_ack().await, 1);
    server.send(ServerBody::Heartbeat { seq: 1 }).await;
    assert_eq!(server.expect_heartbeat_ack().await, 1);
    client.stop().await;
}

/// Who closed `date` and whether early, from the client's own store.
async fn closed_day_record(dir: &std::path::Path, date: &str) -> (String, bool) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", dir.join("client.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query_as("SELECT closed_by, early FROM closed_days WHERE date = ?")
        .bind(date)
        .fetch_one(&mut db)
        .await
        .unwrap()
}
