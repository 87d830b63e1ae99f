//! E-mail that is not about a single report: the opt-in private heads-up when an attend hold is
//! placed and lifted, the keyworker's daily digest, and the "pharmacy has not closed its day"
//! alert — each delivered to a real SMTP server, on both databases. Also the rule that every
//! missed dose is mailed to a keyworker exactly once, per dose or in a digest, however late it
//! was reported, across mode switches, repeated passes, restarts and a change of keyworker
//! (hazard log H32).

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::json;
use sotto_protocol::{Report, ReportEvent};
use sotto_server::core::dispensing::ingest::{AlertSettings, Outcome, ingest};
use sotto_server::core::dispensing::schedulers::{
    ScheduleSettings, catch_up_pass, digest_pass, silence_pass,
};
use sotto_server::core::email::queue;
use sotto_tests::smtp::{Received, Smtp};
use sotto_tests::{Backend, Staff, TestApp, World, service_user_body};

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
    a_miss_reported_a_day_late_appears_in_the_next_digest_once,
    switching_between_per_dose_and_digest_loses_nothing_and_repeats_nothing,
    two_passes_and_a_restart_between_them_send_one_digest,
    misses_not_yet_mailed_go_to_the_keyworker_of_record_when_mailed,
    a_move_to_another_keyworker_is_checked_and_audited,
    an_unusable_keyworker_address_holds_back_no_other_alert_and_loses_none,
    the_safety_hold_mail_is_never_held_back_for_a_digest,
    an_upgrade_keeps_misses_the_old_digest_skipped_and_mails_nothing_twice,
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
            service_timezone: chrono_tz::Europe::London,
            digest_at: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
        },
        service_email: Some(SERVICE_INBOX.into()),
        silence_after: chrono::Duration::hours(2),
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
    let day = sotto_tests::pharmacy_today() - chrono::Duration::days(1);
    let report = Report {
        report_id: "r-1".into(),
        event: ReportEvent::Missed {
            service_user_id: w.service_user.clone(),
            date: day,
            dose_mg: sotto_domain::DoseMg::from_micrograms(60_000).unwrap(),
            why: None,
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

    // 06:00 the next morning in London (the digest goes at 07:00 there): in summer, 06:00 UTC
    // would already be 07:00.
    let before_digest_time = sotto_domain::local_instant(
        &chrono_tz::Europe::London,
        (day + chrono::Duration::days(1))
            .and_hms_opt(6, 0, 0)
            .unwrap(),
    );
    assert_eq!(
        digest_pass(&store, &settings().alerts, before_digest_time)
            .await
            .unwrap(),
        0
    );
    let after = before_digest_time + chrono::Duration::hours(2);
    assert_eq!(
        digest_pass(&store, &settings().alerts, after)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        digest_pass(&store, &settings().alerts, after)
            .await
            .unwrap(),
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

// ---------------------------------------------------------------------------------------------
// Every missed dose mailed exactly once (H32). Passes run at chosen instants at noon UTC, after
// the 07:00 London digest time in winter and summer alike; misses are reported now (the wall
// clock), on days chosen so that no three are consecutive (no safety hold) unless a test wants one.

const PER_DOSE: &str = "Sotto: an update about";
const DIGEST: &str = "Sotto: your daily update";

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn noon(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
}

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

/// "Tuesday 4 March 2025", as the mails write a date.
fn long(d: NaiveDate) -> String {
    d.format("%A %-d %B %Y").to_string()
}

async fn set_mode(app: &TestApp, staff: &Staff, mode: &str) {
    let (status, body) = app
        .send(
            app.client
                .put(app.url("/api/v1/staff/me/alerts"))
                .bearer_auth(&staff.token)
                .json(&json!({ "mode": mode })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The pharmacy reports that `su` had no dose on `date`, as its counter does.
async fn report_miss(app: &TestApp, pharmacy: &str, su: &str, date: NaiveDate) {
    let store = app.db().await;
    let report = Report {
        report_id: format!("missed-{su}-{date}"),
        event: ReportEvent::Missed {
            service_user_id: su.into(),
            date,
            dose_mg: sotto_domain::DoseMg::from_micrograms(60_000).unwrap(),
            why: None,
        },
    };
    let outcome = ingest(&store, &settings().alerts, pharmacy, &report)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Stored);
    store.close().await;
}

async fn digest_at(app: &TestApp, at: DateTime<Utc>) -> usize {
    let store = app.db().await;
    let n = digest_pass(&store, &settings().alerts, at).await.unwrap();
    store.close().await;
    n
}

async fn catch_up(app: &TestApp) -> usize {
    let store = app.db().await;
    let n = catch_up_pass(&store, &settings().alerts).await.unwrap();
    store.close().await;
    n
}

/// `PUT /api/v1/service-users/{su}/keyworker` as `by`.
async fn move_to(
    app: &TestApp,
    by: &Staff,
    su: &str,
    keyworker: &str,
) -> (sotto_tests::reqwest::StatusCode, serde_json::Value) {
    app.send(
        app.client
            .put(app.url(&format!("/api/v1/service-users/{su}/keyworker")))
            .bearer_auth(&by.token)
            .json(&json!({ "keyworker_id": keyworker })),
    )
    .await
}

/// Another keyworker, and SU-2000 on their caseload (at the world's pharmacy).
async fn second_keyworker_with_a_person(app: &TestApp, w: &World) -> (Staff, String) {
    let k2 = app.staff("keyworker", None).await;
    let (status, su2) = app
        .post(
            &k2.token,
            "/api/v1/service-users",
            service_user_body("SU-2000", &w.pharmacy, &k2.id, &w.clinician.id),
        )
        .await;
    assert_eq!(status, 201, "{su2}");
    (k2, su2["id"].as_str().unwrap().to_string())
}

/// Mail to `to` whose subject starts with `subject`, in the order received.
fn mails(smtp: &Smtp, to: &str, subject: &str) -> Vec<Received> {
    smtp.messages()
        .into_iter()
        .filter(|m| m.to == [to.to_string()])
        .filter(|m| m.header("Subject").is_some_and(|s| s.starts_with(subject)))
        .collect()
}

/// The body as lines end in it.
fn text(m: &Received) -> String {
    m.body().replace("\r\n", "\n")
}

/// Waits until exactly `n` such mails have arrived (and no more within a moment), returns them.
async fn expect_mails(smtp: &Smtp, to: &str, subject: &str, n: usize) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while mails(smtp, to, subject).len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} {subject:?} mails to {to} arrived",
            mails(smtp, to, subject).len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = mails(smtp, to, subject);
    assert_eq!(got.len(), n, "more {subject:?} mail to {to} than expected");
    got
}

async fn a_miss_reported_a_day_late_appears_in_the_next_digest_once(app: TestApp, smtp: Smtp) {
    let w = app.world().await;
    let kw = &w.keyworker.email;
    set_mode(&app, &w.keyworker, "digest").await;
    let t = today();
    // Today's miss, reported at closing: in tomorrow morning's digest, on time.
    report_miss(&app, &w.pharmacy, &w.service_user, t).await;
    assert_eq!(digest_at(&app, noon(t + days(1))).await, 1);
    let first = text(&expect_mails(&smtp, kw, DIGEST, 1).await[0]);
    assert!(first.contains(&long(t)), "{first}");
    assert!(!first.contains("reported late"), "{first}");

    // A miss two days back arrives only now, after its day's digest went (the pharmacy's PC
    // was off): this morning's digest has gone, so it waits for the next one.
    let late = t - days(2);
    report_miss(&app, &w.pharmacy, &w.service_user, late).await;
    let reported_on = Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive();
    assert_eq!(
        digest_at(&app, noon(t + days(1)) + chrono::Duration::minutes(30)).await,
        0,
        "one digest a morning"
    );
    assert_eq!(digest_at(&app, noon(t + days(2))).await, 1);
    let second = text(&expect_mails(&smtp, kw, DIGEST, 2).await[1]);
    assert!(
        second.contains(&format!(
            "- SU-1042, on {}\n  reported late, on {} at ",
            long(late),
            long(reported_on)
        )),
        "{second}"
    );
    assert!(
        second.contains(": the pharmacy's\n  system was offline\n"),
        "{second}"
    );
    assert!(
        !second.contains(&format!("on {}\n", long(t))),
        "today's miss is not repeated:\n{second}"
    );

    // Later mornings: nothing new, no mail.
    assert_eq!(digest_at(&app, noon(t + days(3))).await, 0);
    expect_mails(&smtp, kw, DIGEST, 2).await;
    expect_mails(&smtp, kw, PER_DOSE, 0).await;
}

async fn switching_between_per_dose_and_digest_loses_nothing_and_repeats_nothing(
    app: TestApp,
    smtp: Smtp,
) {
    let w = app.world().await;
    let kw = &w.keyworker.email;
    let t = today();
    let (m1, m2, m3) = (t - days(6), t - days(4), t - days(2));
    // Per dose: mailed as it arrives.
    report_miss(&app, &w.pharmacy, &w.service_user, m1).await;
    let each = expect_mails(&smtp, kw, PER_DOSE, 1).await;
    assert!(each[0].body().contains(&long(m1)));

    // Digest mode: the next miss waits for the digest, which does not repeat the first.
    set_mode(&app, &w.keyworker, "digest").await;
    report_miss(&app, &w.pharmacy, &w.service_user, m2).await;
    assert_eq!(digest_at(&app, noon(t + days(1))).await, 1);
    let digest = expect_mails(&smtp, kw, DIGEST, 1).await[0].body();
    assert!(digest.contains(&long(m2)), "{digest}");
    assert!(!digest.contains(&long(m1)), "{digest}");

    // A miss arrives in digest mode, then the keyworker switches back before any digest: it is
    // mailed on its own at the next pass, once.
    report_miss(&app, &w.pharmacy, &w.service_user, m3).await;
    expect_mails(&smtp, kw, PER_DOSE, 1).await;
    set_mode(&app, &w.keyworker, "each").await;
    assert_eq!(catch_up(&app).await, 1);
    assert_eq!(catch_up(&app).await, 0, "once");
    let each = expect_mails(&smtp, kw, PER_DOSE, 2).await;
    assert!(each[1].body().contains(&long(m3)), "{}", each[1].body());

    // Nothing is left over for a digest, in either mode.
    assert_eq!(digest_at(&app, noon(t + days(2))).await, 0);
    set_mode(&app, &w.keyworker, "digest").await;
    assert_eq!(digest_at(&app, noon(t + days(3))).await, 0);
    expect_mails(&smtp, kw, DIGEST, 1).await;
    expect_mails(&smtp, kw, PER_DOSE, 2).await;
}

async fn two_passes_and_a_restart_between_them_send_one_digest(mut app: TestApp, smtp: Smtp) {
    let w = app.world().await;
    let kw = w.keyworker.email.clone();
    set_mode(&app, &w.keyworker, "digest").await;
    let t = today();
    report_miss(&app, &w.pharmacy, &w.service_user, t - days(1)).await;
    let at = noon(t + days(1));
    // Two passes at once, as two server instances would run them: one digest.
    let (a, b) = (app.db().await, app.db().await);
    let s = settings().alerts;
    let (na, nb) = tokio::join!(digest_pass(&a, &s, at), digest_pass(&b, &s, at));
    assert_eq!(na.unwrap() + nb.unwrap(), 1);
    // A restart, then the scheduler's next minute: nothing more.
    app.stop_server().await;
    app.start_server().await;
    assert_eq!(
        digest_pass(&a, &s, at + chrono::Duration::minutes(1))
            .await
            .unwrap(),
        0
    );
    let got = expect_mails(&smtp, &kw, DIGEST, 1).await;
    assert_eq!(
        got[0].body().matches("SU-1042").count(),
        1,
        "{}",
        got[0].body()
    );
    // The next morning, with nothing new, still nothing.
    assert_eq!(digest_pass(&b, &s, at + days(1)).await.unwrap(), 0);
    expect_mails(&smtp, &kw, DIGEST, 1).await;
}

async fn misses_not_yet_mailed_go_to_the_keyworker_of_record_when_mailed(app: TestApp, smtp: Smtp) {
    let w = app.world().await;
    let first = &w.keyworker;
    let second = app.staff("keyworker", None).await;
    let third = app.staff("keyworker", None).await; // per-dose alerts
    set_mode(&app, first, "digest").await;
    set_mode(&app, &second, "digest").await;
    let t = today();
    let (m1, m2, m3) = (t - days(6), t - days(4), t - days(2));
    report_miss(&app, &w.pharmacy, &w.service_user, m1).await;
    assert_eq!(digest_at(&app, noon(t + days(1))).await, 1);
    // The second miss is not yet mailed when the person moves: the new keyworker gets it, the
    // old one does not.
    report_miss(&app, &w.pharmacy, &w.service_user, m2).await;
    assert_eq!(
        move_to(&app, first, &w.service_user, &second.id).await.0,
        200
    );
    assert_eq!(digest_at(&app, noon(t + days(2))).await, 1);
    let old = expect_mails(&smtp, &first.email, DIGEST, 1).await;
    assert!(old[0].body().contains(&long(m1)) && !old[0].body().contains(&long(m2)));
    let new = expect_mails(&smtp, &second.email, DIGEST, 1).await;
    assert!(new[0].body().contains(&long(m2)), "{}", new[0].body());
    assert!(
        !new[0].body().contains(&long(m1)),
        "already mailed to the first"
    );

    // Moved again, to a keyworker on per-dose alerts, with a miss waiting: mailed to them.
    report_miss(&app, &w.pharmacy, &w.service_user, m3).await;
    assert_eq!(
        move_to(&app, &w.clinician, &w.service_user, &third.id)
            .await
            .0,
        200
    );
    assert_eq!(catch_up(&app).await, 1);
    let each = expect_mails(&smtp, &third.email, PER_DOSE, 1).await;
    assert!(each[0].body().contains(&long(m3)), "{}", each[0].body());
    assert_eq!(digest_at(&app, noon(t + days(3))).await, 0);
    expect_mails(&smtp, &second.email, DIGEST, 1).await;
}

async fn the_safety_hold_mail_is_never_held_back_for_a_digest(app: TestApp, smtp: Smtp) {
    let w = app.world().await;
    set_mode(&app, &w.keyworker, "digest").await;
    let t = today();
    // The person's prescription covers the three days (the pharmacy is shut on Sundays: a
    // prescription starts on an open day). The dose ledger counts only prescribed days.
    let start = if (t - days(3)).weekday() == chrono::Weekday::Sun {
        t - days(4)
    } else {
        t - days(3)
    };
    let (status, body) = app
        .post(
            &w.clinician.token,
            &format!("/api/v1/service-users/{}/prescriptions", w.service_user),
            sotto_tests::prescription_body(start, 14, sotto_tests::daily_supervised()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    for d in [t - days(3), t - days(2), t - days(1)] {
        report_miss(&app, &w.pharmacy, &w.service_user, d).await;
    }
    // No scheduler pass has run: the urgent mail goes at once, to both.
    const URGENT: &str = "Sotto: action needed for SU-1042";
    expect_mails(&smtp, &w.keyworker.email, URGENT, 1).await;
    expect_mails(&smtp, &w.clinician.email, URGENT, 1).await;
    expect_mails(&smtp, &w.keyworker.email, PER_DOSE, 0).await;
    // The three days themselves still reach the keyworker, in the next digest.
    assert_eq!(digest_at(&app, noon(t + days(1))).await, 1);
    let digest = expect_mails(&smtp, &w.keyworker.email, DIGEST, 1).await[0].body();
    for d in [t - days(3), t - days(2), t - days(1)] {
        assert!(digest.contains(&long(d)), "{digest}");
    }
}

/// Migration 0007 on a database the old rules ran on: misses mailed per dose and misses carried
/// by their day's digest count as mailed; a miss the old digest skipped (reported after its day's
/// digest went) is in the next digest. The old state is made by undoing 0007 on a database built
/// through the API.
async fn an_upgrade_keeps_misses_the_old_digest_skipped_and_mails_nothing_twice(
    app: TestApp,
    smtp: Smtp,
) {
    let w = app.world().await; // w.keyworker stays on per-dose alerts
    let (k2, su2) = second_keyworker_with_a_person(&app, &w).await;
    let t = today();
    report_miss(&app, &w.pharmacy, &w.service_user, t - days(2)).await; // mailed per dose
    report_miss(&app, &w.pharmacy, &su2, t - days(7)).await; // mailed per dose, k2 still on 'each'
    set_mode(&app, &k2, "digest").await;
    report_miss(&app, &w.pharmacy, &su2, t - days(5)).await;
    assert_eq!(digest_at(&app, noon(t - days(4))).await, 1); // carries t-5, on its day's digest
    assert_eq!(digest_at(&app, noon(t - days(2))).await, 0); // t-3's digest: nothing yet
    report_miss(&app, &w.pharmacy, &su2, t - days(3)).await; // after that digest went
    expect_mails(&smtp, &w.keyworker.email, PER_DOSE, 1).await;
    expect_mails(&smtp, &k2.email, PER_DOSE, 1).await;
    expect_mails(&smtp, &k2.email, DIGEST, 1).await;

    // Back to before 0007, then up again.
    app.execute_sql("DROP TABLE missed_dose_alerts").await;
    app.execute_sql("DELETE FROM _sqlx_migrations WHERE version = 7")
        .await;
    let store = app.db().await;
    let carried: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) AS n FROM missed_dose_alerts WHERE via = 'before_0007'")
            .fetch_one(store.pool())
            .await
            .unwrap(),
        "n",
    );
    store.close().await;
    assert_eq!(carried, 3, "three of the four misses had been mailed");

    assert_eq!(catch_up(&app).await, 0, "nothing mailed per dose twice");
    assert_eq!(digest_at(&app, noon(t + days(1))).await, 1);
    let digests = expect_mails(&smtp, &k2.email, DIGEST, 2).await;
    let next = text(&digests[1]);
    assert!(
        next.contains(&format!("- SU-2000, on {}\n", long(t - days(3)))),
        "{next}"
    );
    for d in [t - days(7), t - days(5)] {
        assert!(!next.contains(&long(d)), "{next}");
    }
    expect_mails(&smtp, &w.keyworker.email, DIGEST, 0).await;
}

async fn a_move_to_another_keyworker_is_checked_and_audited(app: TestApp, _smtp: Smtp) {
    let w = app.world().await;
    let other = app.staff("keyworker", None).await;
    let before = app.snapshot().await;
    let refused = [
        (
            &w.keyworker,
            json!({"keyworker_id": w.clinician.id}),
            422,
            "keyworker_id",
        ),
        (
            &w.keyworker,
            json!({"keyworker_id": "no-such-staff"}),
            422,
            "keyworker_id",
        ),
        (
            &w.keyworker,
            json!({"keyworker_id": other.id, "reason": "x"}),
            422,
            "reason",
        ),
        (&w.keyworker, json!({}), 422, "keyworker_id"),
        (&w.pharmacist, json!({"keyworker_id": other.id}), 403, ""),
        (&app.admin, json!({"keyworker_id": other.id}), 403, ""),
    ];
    let url = app.url(&format!(
        "/api/v1/service-users/{}/keyworker",
        w.service_user
    ));
    for (by, body, status, field) in refused {
        let (got, problem) = app
            .send(app.client.put(&url).bearer_auth(&by.token).json(&body))
            .await;
        assert_eq!(got.as_u16(), status, "{body}: {problem}");
        assert!(problem.to_string().contains(field), "{body}: {problem}");
    }
    assert_eq!(app.snapshot().await, before, "nothing changed");

    let (status, su) = move_to(&app, &w.keyworker, &w.service_user, &other.id).await;
    assert_eq!(status, 200, "{su}");
    assert_eq!(su["keyworker_id"], other.id.as_str());
    let (_, got) = app
        .get(
            &other.token,
            &format!("/api/v1/service-users/{}", w.service_user),
        )
        .await;
    assert_eq!(got["keyworker_id"], other.id.as_str());
    let (_, audit) = app.get(&app.admin.token, "/api/v1/audit?limit=1000").await;
    let last = audit.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "service_user.keyworker", "{last}");
    assert_eq!(last["actor"], w.keyworker.id.as_str());
    assert_eq!(last["detail"]["to"], format!("staff:{}", other.id));
    // Setting the keyworker the person already has writes nothing.
    let before = app.snapshot().await;
    assert_eq!(
        move_to(&app, &other, &w.service_user, &other.id).await.0,
        200
    );
    assert_eq!(app.snapshot().await, before);
}

/// An address the relay cannot use (edited in the database behind the API's back) neither
/// refuses the pharmacy's report nor holds back anyone else's alert; once it is put right, the
/// misses that waited are mailed.
async fn an_unusable_keyworker_address_holds_back_no_other_alert_and_loses_none(
    app: TestApp,
    smtp: Smtp,
) {
    let w = app.world().await;
    let (k2, su2) = second_keyworker_with_a_person(&app, &w).await;
    let set_email = |to: &str| {
        format!(
            "UPDATE staff SET email = '{to}' WHERE id = '{}'",
            w.keyworker.id
        )
    };
    app.execute_sql(&set_email("not an address")).await;
    let t = today();
    // Per dose: the report is stored all the same; the other keyworker is mailed.
    report_miss(&app, &w.pharmacy, &w.service_user, t - days(6)).await;
    report_miss(&app, &w.pharmacy, &su2, t - days(6)).await;
    expect_mails(&smtp, &k2.email, PER_DOSE, 1).await;
    assert_eq!(catch_up(&app).await, 0, "still unusable");

    // Digests: the other keyworker's goes; the unusable one is tried again.
    set_mode(&app, &w.keyworker, "digest").await;
    set_mode(&app, &k2, "digest").await;
    report_miss(&app, &w.pharmacy, &w.service_user, t - days(4)).await;
    report_miss(&app, &w.pharmacy, &su2, t - days(4)).await;
    let morning = noon(t + days(1));
    assert_eq!(digest_at(&app, morning).await, 1);
    expect_mails(&smtp, &k2.email, DIGEST, 1).await;

    app.execute_sql(&set_email(&w.keyworker.email)).await;
    assert_eq!(
        digest_at(&app, morning + chrono::Duration::minutes(1)).await,
        1
    );
    let got = text(&expect_mails(&smtp, &w.keyworker.email, DIGEST, 1).await[0]);
    for d in [t - days(6), t - days(4)] {
        assert!(
            got.contains(&format!("- SU-1042, on {}\n", long(d))),
            "{got}"
        );
    }
    expect_mails(&smtp, &w.keyworker.email, PER_DOSE, 0).await;
}
