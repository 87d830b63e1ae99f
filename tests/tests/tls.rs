//! TLS (issue 6): with `SOTTO_TLS_CERT`/`SOTTO_TLS_KEY` the API is HTTPS only, pushes reach the
//! counter over `mqtts://` (embedded broker and Mosquitto, the server's own link too), and a
//! counter that does not trust the service's CA never gets in. Certificates are made per test.

use std::time::Duration;

use sotto_tests::counter::Counter;
use sotto_tests::push::{BrokerKind, PushWorld, REFERENCE};
use sotto_tests::reqwest::StatusCode;
use sotto_tests::tls::TestPki;
use sotto_tests::{Backend, TestApp};

/// Connecting, handshaking and the first resync; generous but bounded.
const RECOVERY: Duration = Duration::from_secs(20);
const STALE_AFTER: Duration = Duration::from_secs(900);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_over_https_and_refuses_plain_http_on_the_same_port() {
    let pki = TestPki::generate();
    let mut app = TestApp::spawn_with(Backend::Sqlite, |c| c.tls = Some(pki.files())).await;
    app.client = pki.https_client();
    assert!(app.url("/").starts_with("https://"));

    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        let (status, body) = app.send(app.client.get(app.url("/healthz"))).await;
        if status == StatusCode::OK {
            assert_eq!(body["status"], "ok", "{body}");
            break;
        }
        // The broker link comes up in the background (503 until then).
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(tokio::time::Instant::now() < deadline, "never healthy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let plain = sotto_tests::reqwest::Client::new()
        .get(format!("http://{}/healthz", app.addr))
        .send()
        .await;
    if let Ok(res) = plain {
        assert_ne!(res.status(), StatusCode::OK, "plain HTTP was served");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentication_over_https_is_still_throttled_per_address() {
    // The limiter keys on the peer address, which HTTPS must still hand to the handlers.
    let pki = TestPki::generate();
    let mut app = TestApp::spawn_with(Backend::Sqlite, |c| c.tls = Some(pki.files())).await;
    app.client = pki.https_client();
    for _ in 0..20 {
        let (status, _) = app.get("sotto_guess", "/api/v1/audit").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = app.get(&app.admin.token, "/api/v1/audit").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_reaches_the_counter_over_tls_on_the_embedded_broker() {
    let pki = TestPki::generate();
    let w = PushWorld::start_tls(BrokerKind::Embedded, &pki).await;
    let tls_port = w.broker_tls_port();
    assert_ne!(
        tls_port,
        w.broker_port(),
        "a TLS listener beside the plain one"
    );
    let counter =
        Counter::start_tls(&w.pharmacy, "localhost", tls_port, &pki.ca(), STALE_AFTER).await;
    counter.wait_for_code(REFERENCE, "A", RECOVERY).await;

    w.place_hold().await;
    counter.wait_for_code(REFERENCE, "D", RECOVERY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_reaches_the_counter_over_tls_through_mosquitto() {
    let pki = TestPki::generate();
    let w = PushWorld::start_tls(BrokerKind::Mosquitto, &pki).await;
    assert!(
        w.app
            .config
            .mqtt_url
            .as_deref()
            .unwrap()
            .starts_with("mqtts://")
    );
    let counter = Counter::start_tls(
        &w.pharmacy,
        "127.0.0.1",
        w.broker_tls_port(),
        &pki.ca(),
        STALE_AFTER,
    )
    .await;
    counter.wait_for_code(REFERENCE, "A", RECOVERY).await;

    // Server → Mosquitto over TLS, Mosquitto → counter over TLS.
    w.place_hold().await;
    counter.wait_for_code(REFERENCE, "D", RECOVERY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_trusting_another_ca_never_connects_or_syncs() {
    let pki = TestPki::generate();
    let w = PushWorld::start_tls(BrokerKind::Embedded, &pki).await;
    let port = w.broker_tls_port();
    // Right credentials, wrong trust: it must refuse our certificate.
    let misled =
        Counter::start_tls(&w.pharmacy, "localhost", port, &pki.other_ca(), STALE_AFTER).await;
    // The yardstick, started after it: a counter trusting the right CA syncs its own pharmacy.
    let trusting =
        Counter::start_tls(&w.other_pharmacy, "localhost", port, &pki.ca(), STALE_AFTER).await;
    let deadline = tokio::time::Instant::now() + RECOVERY;
    while trusting.health().await["synced_at"].is_null() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the trusting counter never synced"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let health = misled.health().await;
    assert_eq!(health["connected"], false, "{health}");
    assert!(health["synced_at"].is_null(), "{health}");
    let (code, status) = misled.status(REFERENCE).await;
    assert_eq!(code, 404, "the person's record reached it: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_certificate_or_a_broken_key_stops_start_up_naming_the_variable() {
    let pki = TestPki::generate();
    let db = sotto_tests::TestDb::new(Backend::Sqlite).await;
    let config = |files| sotto_server::Config {
        database_url: db.url.clone(),
        http_addr: ([127, 0, 0, 1], 0).into(),
        mqtt_embedded_addr: ([127, 0, 0, 1], 0).into(),
        mqtt_embedded_tls_addr: ([127, 0, 0, 1], 0).into(),
        tls: Some(files),
        ..sotto_server::Config::default()
    };

    let mut missing = pki.files();
    missing.cert = pki.dir().join("no-such-cert.pem");
    let err = sotto_server::Application::build(config(missing))
        .await
        .err()
        .expect("a missing certificate stops start-up");
    assert!(format!("{err:#}").contains("SOTTO_TLS_CERT"), "{err:#}");

    let mut broken = pki.files();
    broken.key = pki.dir().join("broken.key");
    std::fs::write(
        &broken.key,
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = sotto_server::Application::build(config(broken))
        .await
        .err()
        .expect("a broken key stops start-up");
    assert!(format!("{err:#}").contains("SOTTO_TLS_KEY"), "{err:#}");
}
