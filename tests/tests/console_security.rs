//! The console's answers forbid framing, caching and referrers (and demand HTTPS when served
//! over it); the link in an alert e-mail opens the person's console page, through sign-in for a
//! signed-out browser, and the return address cannot send anyone elsewhere; a pharmacist
//! reading a service user gets only what the counter shows. Each on SQLite and PostgreSQL.

use std::time::Duration;

use reqwest::StatusCode;
use sotto_protocol::{Report, ReportEvent};
use sotto_server::core::dispensing::ingest::{AlertSettings, Outcome, ingest};
use sotto_tests::console::{ConsoleClient, PASSWORD, Page};
use sotto_tests::smtp::Smtp;
use sotto_tests::{Backend, TestApp};

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Sqlite).await; } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Postgres).await; } )*
        }
    };
}

on_both!(
    every_console_answer_forbids_framing_caching_and_referrers,
    over_https_the_console_also_demands_https,
    an_alert_links_to_the_person_and_a_signed_out_browser_lands_there_after_signing_in,
    the_return_address_after_sign_in_is_only_ever_a_console_page,
    a_pharmacist_reads_only_what_the_counter_shows,
);

const PUBLIC_URL: &str = "https://sotto.test";

/// Posts the sign-in `form` (a page just fetched) with the return address `next`.
async fn sign_in_from(browser: &ConsoleClient, form: &Page, email: &str, next: &str) -> Page {
    browser
        .post(
            "/console/sign-in",
            &[
                ("email", email),
                ("password", PASSWORD),
                ("csrf", &form.csrf()),
                ("next", next),
            ],
        )
        .await
}

fn assert_security_headers(page: &Page, what: &str) {
    let h = &page.headers;
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "script-src 'none'",
        "style-src 'self' 'sha256-",
    ] {
        assert!(csp.contains(part), "{what}: {csp}");
    }
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    assert_eq!(h["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(h["cache-control"], "no-store", "{what}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
}

async fn every_console_answer_forbids_framing_caching_and_referrers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = app.world().await;
    app.set_password(&w.keyworker, PASSWORD).await;
    let signed_out = ConsoleClient::new(&app);
    let sign_in = signed_out.get("/console/sign-in").await;
    assert_security_headers(&sign_in, "the sign-in page");
    assert_security_headers(
        &signed_out.get("/console/caseload").await,
        "the redirect to sign in",
    );
    let kw = ConsoleClient::signed_in(&app, &w.keyworker).await;
    for path in [
        "/console/caseload".to_string(),
        format!("/console/people/{}", w.service_user),
        "/console/risk".to_string(),
        "/console/people/no-such-person".to_string(),
    ] {
        let page = kw.get(&path).await;
        assert_security_headers(&page, &path);
        assert!(
            page.headers.get("strict-transport-security").is_none(),
            "no HSTS over plain HTTP ({path})"
        );
    }
}

async fn over_https_the_console_also_demands_https(backend: Backend) {
    // Behind a TLS-terminating proxy: the public address is https.
    let app = TestApp::spawn_with(backend, |c| c.public_url = PUBLIC_URL.into()).await;
    let page = ConsoleClient::new(&app).get("/console/sign-in").await;
    assert_security_headers(&page, "the sign-in page");
    assert_eq!(
        page.headers["strict-transport-security"],
        "max-age=31536000"
    );
}

async fn an_alert_links_to_the_person_and_a_signed_out_browser_lands_there_after_signing_in(
    backend: Backend,
) {
    let smtp = Smtp::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, |c| {
        c.smtp_url = Some(url);
        c.mail_retry_base = Duration::from_millis(100);
        c.public_url = PUBLIC_URL.into();
    })
    .await;
    let w = app.world().await;
    app.set_password(&w.keyworker, PASSWORD).await;
    let store = app.db().await;
    let report = Report {
        report_id: "missed-1".into(),
        event: ReportEvent::Missed {
            service_user_id: w.service_user.clone(),
            date: sotto_tests::pharmacy_today() - chrono::Duration::days(1),
            dose_mg: sotto_domain::DoseMg::from_micrograms(60_000).unwrap(),
            why: None,
        },
    };
    let settings = AlertSettings {
        public_url: PUBLIC_URL.into(),
        service_timezone: chrono_tz::Europe::London,
        digest_at: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
    };
    let outcome = ingest(&store, &settings, &w.pharmacy, &report)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Stored);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while smtp.count() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no alert arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mail = smtp.only_message_to(&w.keyworker.email);
    let body = mail.body();
    let link = format!("{PUBLIC_URL}/console/people/{}", w.service_user);
    assert!(
        body.contains(&link),
        "the alert links to the person: {body}"
    );
    let path = &link[PUBLIC_URL.len()..];

    // Signed out, the link asks for sign-in, remembering where it was going.
    let browser = ConsoleClient::new(&app);
    let first = browser.get(path).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let to_sign_in = first.location().unwrap().to_string();
    assert!(
        to_sign_in.starts_with("/console/sign-in?next="),
        "{to_sign_in}"
    );
    let form = browser.get(&to_sign_in).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(
        sotto_tests::console::hidden(&form.body, "next").as_deref(),
        Some(path),
        "the form carries the return address"
    );
    let signed_in = sign_in_from(&browser, &form, &w.keyworker.email, path).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    assert_eq!(
        signed_in.location(),
        Some(path),
        "straight back to the person"
    );
    let person = browser.get(path).await;
    assert_eq!(person.status, StatusCode::OK);
    assert!(person.body.contains("SU-1042"), "{}", person.body);
}

async fn the_return_address_after_sign_in_is_only_ever_a_console_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = app.world().await;
    app.set_password(&w.keyworker, PASSWORD).await;
    for next in [
        "https://evil.example/console/people/x",
        "//evil.example/console",
        "/console//evil.example",
        "/\\evil.example",
        "/api/v1/audit",
        "/console/../api/v1/audit",
    ] {
        let browser = ConsoleClient::new(&app);
        let form = browser
            .get(&format!(
                "/console/sign-in?next={}",
                sotto_server::console::html::encode_component(next)
            ))
            .await;
        assert_eq!(
            sotto_tests::console::hidden(&form.body, "next"),
            None,
            "{next} is not carried"
        );
        let res = sign_in_from(&browser, &form, &w.keyworker.email, next).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert_eq!(res.location(), Some("/console"), "{next}");
    }
}

async fn a_pharmacist_reads_only_what_the_counter_shows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = app.world().await;
    let mut body =
        sotto_tests::service_user_body("SU-2001", &w.pharmacy, &w.keyworker.id, &w.clinician.id);
    body["heads_up_email"] = serde_json::json!("alex.private@example.org");
    let (status, su) = app
        .post(&w.keyworker.token, "/api/v1/service-users", body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{su}");
    let path = format!("/api/v1/service-users/{}", su["id"].as_str().unwrap());
    let (status, staff_view) = app.get(&w.keyworker.token, &path).await;
    assert_eq!(status, StatusCode::OK, "{staff_view}");
    assert_eq!(staff_view["keyworker_id"], w.keyworker.id.as_str());
    assert_eq!(staff_view["prescriber_id"], w.clinician.id.as_str());
    assert_eq!(staff_view["heads_up_email"], "alex.private@example.org");

    let (status, counter_view) = app.get(&w.pharmacist.token, &path).await;
    assert_eq!(status, StatusCode::OK, "{counter_view}");
    let mut keys: Vec<&str> = counter_view
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "date_of_birth",
            "family_name",
            "given_name",
            "id",
            "pharmacy_id",
            "reference"
        ],
        "{counter_view}"
    );
    let text = counter_view.to_string();
    assert!(
        !text.contains(&w.keyworker.id)
            && !text.contains(&w.clinician.id)
            && !text.contains("alex.private"),
        "{text}"
    );
    let (status, _) = app.get(&w.other_pharmacist.token, &path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
