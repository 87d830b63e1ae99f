//! E-mail that is not about a single report: the opt-in private heads-up when an attend hold is
//! placed and lifted, the keyworker's daily digest, and the "pharmacy has not closed its day"
//! alert — each delivered to a real SMTP server, on both databases.

use std::time::Duration;

use chrono::{NaiveTime, TimeZone, Utc};
use serde_json::json;
use sotto_protocol::{Report, ReportEvent};
use sotto_server::dispensing::ingest::{AlertSettings, Outcome, ingest};
use sotto_server::dispensing::schedulers::{ScheduleSettings, digest_pass, silence_pass};
use sotto_server::email::queue;
use sotto_tests::smtp::Smtp;
use sotto_tests::{Backend, TestApp, World, service_user_body};

/// Each scenario on SQLite and PostgreSQL, with mail going to a real SMTP server.
macro_rules! with_mail_on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { let (app, smtp) = super::app_with_mail(super::Backend::Sqlite).await; super::$name(app, smtp).await; } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { let (app, smtp) = super::app_with_mail(super::Backend::Postgres).await; super::$name(app, smtp).await; } )*
        }
    };
}

with_mail_on_both_backends!(
    a_private_heads_up_goes_to_the_person_when_a_hold_is_placed_and_lifted,
    a_keyworker_who_chose_a_digest_gets_one_mail_a_morning,
    a_pharmacy_that_has_not_closed_its_day_is_reported_once,
);

const SERVICE_INBOX: &str = "team@service.test";

async fn app_with_mail(backend: Backend) -> (TestApp, Smtp) {
    let smtp = Smtp::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, |c| {
        c.smtp_url = Some(url);
        c.mail_retry_base = Duration::from_millis(100);
        c.service_email = Some(SERVICE_INBOX.into());
        c.service_phone = Some("0300 123 4567".into());
        // The scenarios run the schedulers at chosen instants, not the wall clock's.
        c.run_schedulers = false;
    })
    .await;
    (app, smtp)
}

async fn wait_for_mail(smtp: &Smtp, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while smtp.count() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} mails arrived",
            smtp.count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(smtp.count(), n, "more mail than expected");
}

fn settings() -> ScheduleSettings {
    ScheduleSettings {
        alerts: AlertSettings {
            public_url: "https://sotto.test".into(),
        },
        service_email: Some(SERVICE_INBOX.into()),
        silence_after: chrono::Duration::hours(2),
        digest_at: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
        service_timezone: chrono_tz::Europe::London,
    }
}

async fn a_private_heads_up_goes_to_the_person_when_a_hold_is_placed_and_lifted(
    app: TestApp,
    smtp: Smtp,
) {
    let w: World = app.world().await;
    let mut body = service_user_body("SU-3000", &w.pharmacy, &w.keyworker.id, &w.clinician.id);
    body["heads_up_email"] = json!("alex.private@example.org");
    let (status, su) = app
        .post(&w.keyworker.token, "/api/v1/service-users", body)
        .await;
    assert_eq!(status, 201, "{su}");
    let holds = format!("/api/v1/service-users/{}/holds", su["id"].as_str().unwrap());
    let (_, hold) = app
        .post(
            &w.keyworker.token,
            &holds,
            json!({"reason": "relapse disclosed at group"}),
        )
        .await;
    wait_for_mail(&smtp, 1).await;
    let placed = smtp.only_message_to("alex.private@example.org");
    let text = placed.data.to_lowercase();
    assert!(text.contains("0300 123 4567"), "{text}");
    for word in [
        "hold",
        "relapse",
        "dose",
        "methadone",
        "missed",
        "testperson",
    ] {
        assert!(!text.contains(word), "{word:?} in the heads-up:\n{text}");
    }
    let lift = format!("/api/v1/holds/{}/lift", hold["id"].as_str().unwrap());
    app.post(&w.keyworker.token, &lift, json!({"note": "spoke"}))
        .await;
    wait_for_mail(&smtp, 2).await;
    // A person without a heads-up address gets nothing.
    let holds = format!("/api/v1/service-users/{}/holds", w.service_user);
    app.post(&w.keyworker.token, &holds, json!({"reason": "x"}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.count(), 2);
}

async fn a_keyworker_who_chose_a_digest_gets_one_mail_a_morning(app: TestApp, smtp: Smtp) {
    let w = app.world().await;
    let (status, pref) = app
        .send(
            app.client
                .put(app.url("/api/v1/staff/me/alerts"))
                .bearer_auth(&w.keyworker.token)
                .json(&json!({"mode": "digest"})),
        )
        .await;
    assert_eq!(status, 200, "{pref}");
    let store = app.db().await;
    let day = Utc::now().date_naive() - chrono::Duration::days(1);
    let report = Report {
        report_id: "r-1".into(),
        event: ReportEvent::Missed {
            service_user_id: w.service_user.clone(),
            date: day,
            dose_mg: sotto_domain::DoseMg::from_micrograms(60_000).unwrap(),
        },
    };
    let outcome = ingest(&store, &settings().alerts, &w.pharmacy, &report)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Stored);
    assert_eq!(
        queue::pending(store.pool()).await.unwrap(),
        0,
        "no per-dose mail in digest mode"
    );

    let before_digest_time = Utc.from_utc_datetime(
        &(day + chrono::Duration::days(1))
            .and_hms_opt(6, 0, 0)
            .unwrap(),
    );
    assert_eq!(
        digest_pass(&store, &settings(), before_digest_time)
            .await
            .unwrap(),
        0
    );
    let after = before_digest_time + chrono::Duration::hours(2);
    assert_eq!(digest_pass(&store, &settings(), after).await.unwrap(), 1);
    assert_eq!(
        digest_pass(&store, &settings(), after).await.unwrap(),
        0,
        "once a day"
    );
    wait_for_mail(&smtp, 1).await;
    let digest = smtp.only_message_to(&w.keyworker.email);
    assert!(digest.data.contains("SU-1042"), "{}", digest.data);
    assert!(!digest.data.contains("Testperson"));
}

async fn a_pharmacy_that_has_not_closed_its_day_is_reported_once(app: TestApp, smtp: Smtp) {
    let w = app.world().await;
    let store = app.db().await;
    let today = Utc::now().date_naive();
    // Closing 18:00 London; grace two hours. (Winter: London is UTC; in summer +1 h.)
    let at = |h, m| Utc.from_utc_datetime(&today.and_hms_opt(h, m, 0).unwrap());
    assert_eq!(
        silence_pass(&store, &settings(), at(18, 30)).await.unwrap(),
        0,
        "within the grace period"
    );
    let late = at(22, 30);
    // The open pharmacy (FB002 has no closed days) and FA001 unless today is Sunday.
    let expected = if chrono::Datelike::weekday(&today) == chrono::Weekday::Sun {
        1
    } else {
        2
    };
    assert_eq!(
        silence_pass(&store, &settings(), late).await.unwrap(),
        expected
    );
    assert_eq!(
        silence_pass(&store, &settings(), late).await.unwrap(),
        0,
        "one alert per day"
    );
    wait_for_mail(&smtp, expected).await;
    let mails = smtp.messages();
    assert!(mails.iter().all(|m| m.to == [SERVICE_INBOX.to_string()]));
    // A pharmacy that closes its day is never reported.
    let report = Report {
        report_id: "close-1".into(),
        event: ReportEvent::DayClosed {
            date: today + chrono::Duration::days(1),
            at: Utc::now(),
            early: false,
        },
    };
    ingest(&store, &settings().alerts, &w.other_pharmacy, &report)
        .await
        .unwrap();
    let tomorrow_late = late + chrono::Duration::days(1);
    let n = silence_pass(&store, &settings(), tomorrow_late)
        .await
        .unwrap();
    let fa001_open_tomorrow =
        chrono::Datelike::weekday(&(today + chrono::Duration::days(1))) != chrono::Weekday::Sun;
    assert_eq!(
        n,
        usize::from(fa001_open_tomorrow),
        "the pharmacy that closed its day is not reported"
    );
}
