//! Faults, with figures: each scenario prints what it did and what was lost (the answer must be 0).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sotto_tests::Backend;
use sotto_tests::agreement::{unsent, wait_until_agreed};
use sotto_tests::counter::{Counter, Enrolled};
use sotto_tests::mosquitto::Mosquitto;
use sotto_tests::process::ServerProcess;
use sotto_tests::push::BrokerKind;
use sotto_tests::{TestDb, prescription_body, service_user_body};

const PEOPLE: usize = 10;
const CHANGES: usize = 1000;

async fn post(
    http: &reqwest::Client,
    url: String,
    token: &str,
    body: Value,
) -> Result<(u16, Value), reqwest::Error> {
    let res = http.post(url).bearer_auth(token).json(&body).send().await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

sotto_tests::on_all_setups!(the_server_killed_mid_burst_loses_no_change);

async fn the_server_killed_mid_burst_loses_no_change(kind: BrokerKind, backend: Backend) {
    let db = TestDb::new(backend).await;
    let mosquitto = match kind {
        BrokerKind::Embedded => None,
        BrokerKind::Mosquitto => Some(Mosquitto::start().await),
    };
    let mut out = Vec::new();
    let config = sotto_server::Config {
        database_url: db.url.clone(),
        mqtt_url: mosquitto.as_ref().map(|m| m.server_url()),
        ..sotto_server::Config::default()
    };
    sotto_server::cli::run_admin(
        &config,
        sotto_server::cli::Admin::CreateStaff {
            name: "Ops".into(),
            email: "ops@service.test".into(),
            role: "admin".into(),
            pharmacy_id: None,
        },
        &mut out,
    )
    .await
    .unwrap();
    let admin: Value = serde_json::from_slice(&out).unwrap();
    let admin = admin["token"].as_str().unwrap().to_string();
    let mut server = ServerProcess::start_with(&db.url, config.mqtt_url.clone()).await;
    let broker_port = mosquitto.as_ref().map_or(server.broker_port, |m| m.port);
    let http = reqwest::Client::new();

    // A pharmacy, staff and ten people on daily supervised prescriptions.
    let (_, ph) = post(
        &http,
        server.url("/api/v1/pharmacies"),
        &admin,
        json!({"ods_code": "FK001",
        "name": "K", "closed_weekdays": [], "closing_time": "23:59", "timezone": "Europe/London"}),
    )
    .await
    .unwrap();
    let pharmacy = Enrolled::from_response(&ph);
    if let Some(m) = &mosquitto {
        m.configure_with(&config).await;
    }
    let staff =
        |role: &str| json!({"name": role, "email": format!("{role}@service.test"), "role": role});
    let (_, kw) = post(
        &http,
        server.url("/api/v1/staff"),
        &admin,
        staff("keyworker"),
    )
    .await
    .unwrap();
    let (_, cl) = post(
        &http,
        server.url("/api/v1/staff"),
        &admin,
        staff("clinician"),
    )
    .await
    .unwrap();
    let kw_token = kw["token"].as_str().unwrap().to_string();
    let every_day: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"weekday": d, "days": 1, "supervised": true}))
        .collect();
    let mut people = Vec::new();
    for n in 0..PEOPLE {
        let reference = format!("SU-{}", 7000 + n);
        let body = service_user_body(
            &reference,
            &pharmacy.id,
            kw["id"].as_str().unwrap(),
            cl["id"].as_str().unwrap(),
        );
        let (_, su) = post(&http, server.url("/api/v1/service-users"), &kw_token, body)
            .await
            .unwrap();
        let id = su["id"].as_str().unwrap().to_string();
        let start = sotto_tests::pharmacy_today() - chrono::Duration::days(1);
        post(
            &http,
            server.url(&format!("/api/v1/service-users/{id}/prescriptions")),
            cl["token"].as_str().unwrap(),
            prescription_body(start, 14, json!(every_day)),
        )
        .await
        .unwrap();
        people.push((reference, id));
    }
    let counter = Counter::start(&pharmacy, broker_port, Duration::from_secs(3600)).await;
    counter
        .wait_for_code("SU-7000", "A", Duration::from_secs(20))
        .await;

    // The burst: rounds in which every person's hold is placed or lifted concurrently; SIGKILL the
    // server straight after a third of the rounds, while its relay is still publishing.
    let started = Instant::now();
    let mut open: Vec<Option<String>> = vec![None; PEOPLE];
    let mut acknowledged = 0usize;
    let mut unsent_at_kill = 0i64;
    let rounds = CHANGES / PEOPLE;
    for round in 0..rounds {
        if round == rounds / 3 {
            server.kill_hard();
            unsent_at_kill = unsent(&db.url, &pharmacy.id).await;
            server.start_again().await;
        }
        let calls = open.iter().enumerate().map(|(p, hold)| {
            let (url, body) = match hold {
                None => (
                    server.url(&format!("/api/v1/service-users/{}/holds", people[p].1)),
                    json!({"reason": "burst"}),
                ),
                Some(h) => (
                    server.url(&format!("/api/v1/holds/{h}/lift")),
                    json!({"note": "burst"}),
                ),
            };
            post(&http, url, &kw_token, body)
        });
        for (p, result) in futures::future::join_all(calls)
            .await
            .into_iter()
            .enumerate()
        {
            match result {
                Ok((201, body)) => open[p] = Some(body["id"].as_str().unwrap().to_string()),
                Ok((200, _)) => open[p] = None,
                other => panic!("round {round}: a change failed: {other:?}"),
            }
            acknowledged += 1;
        }
    }

    // Every committed change reaches the counter: its last seq equals the server's, and every
    // person's code at the counter is the server's.
    let store = sotto_server::core::db::Store::connect(&db.url)
        .await
        .unwrap();
    let row = sqlx::query("SELECT seq FROM pharmacies WHERE id = $1")
        .bind(&pharmacy.id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    let server_seq: i64 = sqlx::Row::get(&row, "seq");
    let deadline = Instant::now() + Duration::from_secs(60);
    while counter.health().await["last_seq"] != server_seq {
        assert!(
            Instant::now() < deadline,
            "counter stuck at {} of {server_seq}",
            counter.health().await["last_seq"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lost = 0;
    for (p, (reference, id)) in people.iter().enumerate() {
        let (_, server_status) = post_get(
            &http,
            server.url(&format!("/api/v1/service-users/{id}/status")),
            &kw_token,
        )
        .await;
        let (_, counter_status) = counter.status(reference).await;
        let expected = if open[p].is_some() { "D" } else { "A" };
        if server_status["code"] != expected || counter_status["code"] != expected {
            lost += 1;
        }
    }
    println!(
        "faults: server on {kind:?}/{backend:?} SIGKILLed after {} of {CHANGES} changes with {unsent_at_kill} messages not yet \
         acknowledged by the broker; {acknowledged} changes acknowledged; server seq {server_seq} = counter \
         seq; people disagreeing: {lost}; took {:?}",
        rounds / 3 * PEOPLE,
        started.elapsed()
    );
    assert_eq!(lost, 0, "client and server disagree after the crash");
    store.close().await;
    let (report, _) = wait_until_agreed(
        &db.url,
        &pharmacy.id,
        Some(&counter.url("")),
        Duration::from_secs(60),
    )
    .await;
    assert!(report.agree && report.disagreements.is_empty());
}

async fn post_get(http: &reqwest::Client, url: String, token: &str) -> (u16, Value) {
    let res = http.get(url).bearer_auth(token).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Generates a test per broker from `async fn NAME(kind)`.
macro_rules! on_both_brokers_only {
    ($($name:ident),* $(,)?) => {
        mod embedded_broker {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::BrokerKind::Embedded).await; } )*
        }
        mod mosquitto_broker {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::BrokerKind::Mosquitto).await; } )*
        }
    };
}

/// How long the database stays down.
const OUTAGE: Duration = Duration::from_secs(30);

on_both_brokers_only!(while_postgresql_is_down_the_api_answers_503_and_recovers_by_itself);

async fn while_postgresql_is_down_the_api_answers_503_and_recovers_by_itself(kind: BrokerKind) {
    let pg = sotto_tests::pg_cluster::PgCluster::start();
    let mosquitto = match kind {
        BrokerKind::Embedded => None,
        BrokerKind::Mosquitto => Some(Mosquitto::start().await),
    };
    let mqtt_url = mosquitto.as_ref().map(|m| m.server_url());
    let app =
        sotto_tests::TestApp::spawn_on(TestDb::external(pg.url()), |c| c.mqtt_url = mqtt_url).await;
    let w = app.world().await;
    if let Some(m) = &mosquitto {
        m.configure(&app).await;
    }
    let holds = format!("/api/v1/service-users/{}/holds", w.service_user);
    let (status, hold) = app
        .post(&w.keyworker.token, &holds, json!({"reason": "before"}))
        .await;
    assert_eq!(status, 201, "{hold}");

    pg.stop();
    let down_at = Instant::now();
    let (mut requests, mut unavailable, mut other) = (0, 0, Vec::new());
    while down_at.elapsed() < OUTAGE {
        let (status, body) = app
            .post(&w.keyworker.token, &holds, json!({"reason": "during"}))
            .await;
        requests += 1;
        match status.as_u16() {
            503 => unavailable += 1,
            s => other.push((s, body)),
        }
        let health = app.send(app.client.get(app.url("/healthz"))).await;
        assert_ne!(
            health.0.as_u16(),
            200,
            "healthy with the database down: {}",
            health.1
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    pg.start_again();
    let up_at = Instant::now();
    let deadline = up_at + Duration::from_secs(60);
    loop {
        let (status, _) = app
            .post(&w.keyworker.token, &holds, json!({"reason": "after"}))
            .await;
        if status == 201 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the API did not recover: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recovered = up_at.elapsed();
    // What was acknowledged before the outage is all there, and the audit chain is intact.
    let (status, s) = app
        .get(
            &w.keyworker.token,
            &format!("/api/v1/service-users/{}/status", w.service_user),
        )
        .await;
    assert_eq!(status, 200);
    let reasons: Vec<&str> = s["holds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["before", "after"],
        "nothing acknowledged lost, nothing refused stored"
    );
    let (ok, out) = app.admin_cli(sotto_server::cli::Admin::VerifyAudit).await;
    assert!(ok, "{out}");
    // The relay resumed by itself: every change committed for the pharmacy reached the broker.
    wait_until_agreed(
        &app.config.database_url,
        &w.pharmacy,
        None,
        Duration::from_secs(60),
    )
    .await;
    println!(
        "faults: PostgreSQL down {OUTAGE:?} ({kind:?} broker): {requests} writes tried, {unavailable} answered 503, other {:?}; \
         acknowledged writes lost: 0; API back {recovered:?} after the database",
        other.iter().map(|o| o.0).collect::<Vec<_>>()
    );
    assert!(
        other.is_empty(),
        "answers other than 503 while the database was down: {other:?}"
    );
}
