//! Logs carry no personal data: a whole scenario — enrolment, prescribing, holds with reasons,
//! regime changes, the counter searching by name, supplies and missed doses, e-mail — is run with
//! every log line captured at DEBUG, and the names, date of birth and hold reason used in it must
//! appear in none of them. (Its own test binary: the log capture is process-wide.)

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sotto_tests::push::{BrokerKind, PushWorld, REFERENCE};
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_scenario_logs_no_names_dates_of_birth_or_reasons() {
    let capture = Capture::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(capture.clone())
        .init();

    let w = PushWorld::start(BrokerKind::Embedded).await;
    let counter = w.counter(Duration::from_secs(900)).await;
    counter
        .wait_for_code(REFERENCE, "A", Duration::from_secs(20))
        .await;
    let hold = w.place_hold().await;
    counter
        .wait_for_code(REFERENCE, "D", Duration::from_secs(5))
        .await;
    w.lift_hold(&hold).await;
    w.change_dose(70.0).await;
    counter
        .wait_for_code(REFERENCE, "A", Duration::from_secs(5))
        .await;
    // The counter searched by name and date of birth; a supply; the day closed.
    let http = reqwest::Client::new();
    let page = http
        .get(counter.url("/?family_name=Testperson&date_of_birth=1985-04-12"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Testperson"),
        "the search worked (the page may show the name)"
    );
    let today = sotto_tests::pharmacy_today();
    let res = http
        .post(counter.url("/api/supplies"))
        .bearer_auth(&counter.api_token)
        .json(&json!({"reference": REFERENCE, "date": today.to_string(),
                      "supervised_taken": true, "take_home_doses": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // A validation failure echoing bad input must not log it either.
    let (status, _) = w
        .app
        .post(
            &w.keyworker.token,
            "/api/v1/service-users",
            json!({"reference": "SU-9",
            "given_name": "Alex", "family_name": "Testperson", "date_of_birth": "1985-04-12",
            "pharmacy_id": "nope", "keyworker_id": "nope", "prescriber_id": "nope"}),
        )
        .await;
    assert_eq!(status, 422);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(
        logs.lines().count() > 20,
        "the capture saw the scenario:\n{logs}"
    );
    for secret in [
        "Testperson",
        "testperson",
        "Alex",
        "1985-04-12",
        "ring us about your review",
    ] {
        let hits: Vec<&str> = logs.lines().filter(|l| l.contains(secret)).collect();
        assert!(hits.is_empty(), "{secret:?} logged:\n{}", hits.join("\n"));
    }
}
