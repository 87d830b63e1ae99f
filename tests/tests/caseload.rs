//! Caseload access through the real API: the keyworker and prescriber of record and their teams
//! act; anyone else on the service's staff is refused (403) until they break glass with a
//! reason, which is allowed, audited, mailed to the service and the keyworker, and lasts an hour.
//! Every read of a person is in their access log. The people a caller is shown in lists are
//! exactly those the rule lets them open.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use sotto_tests::reqwest::StatusCode;
use sotto_tests::smtp::Smtp;
use sotto_tests::{Backend, Staff, TestApp, next_monday, on_each_backend, prescription_body};
use sotto_tests::{daily_supervised, service_user_body};

on_each_backend!(
    only_the_caseload_and_its_team_act_on_a_person,
    breaking_glass_opens_one_record_for_an_hour_audited_and_mailed,
    the_people_a_caller_is_shown_are_exactly_those_they_may_open,
    every_read_of_a_person_is_in_their_access_log,
);

const SERVICE_INBOX: &str = "team@service.test";

struct Service {
    app: TestApp,
    smtp: Smtp,
    pharmacy: String,
    pharmacist: Staff,
    /// The person's keyworker and prescriber of record.
    keyworker: Staff,
    prescriber: Staff,
    /// In the keyworker's team; the person is not theirs.
    team_keyworker: Staff,
    /// In another team.
    other_keyworker: Staff,
    other_clinician: Staff,
    person: String,
}

async fn service(backend: Backend) -> Service {
    let smtp = Smtp::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, |c| {
        c.smtp_url = Some(url);
        c.mail_retry_base = Duration::from_millis(100);
        c.service_email = Some(SERVICE_INBOX.into());
        c.run_schedulers = false;
    })
    .await;
    let pharmacy = app.pharmacy("FA001", &["sun"]).await;
    let pharmacist = app.staff("pharmacist", Some(&pharmacy)).await;
    let keyworker = app.staff_in_team("keyworker", Some("North")).await;
    let prescriber = app.staff_in_team("clinician", Some("North")).await;
    let team_keyworker = app.staff_in_team("keyworker", Some("North")).await;
    let other_keyworker = app.staff_in_team("keyworker", Some("South")).await;
    let other_clinician = app.staff_in_team("clinician", None).await;
    let (status, body) = app
        .post(
            &keyworker.token,
            "/api/v1/service-users",
            service_user_body("SU-1042", &pharmacy, &keyworker.id, &prescriber.id),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let person = body["id"].as_str().unwrap().to_string();
    Service {
        app,
        smtp,
        pharmacy,
        pharmacist,
        keyworker,
        prescriber,
        team_keyworker,
        other_keyworker,
        other_clinician,
        person,
    }
}

/// What a caller can do to the person, each through its own endpoint: read, read status, place
/// an attend hold, lift it, prescribe. Returns the statuses.
async fn try_everything(s: &Service, who: &Staff) -> Vec<StatusCode> {
    let app = &s.app;
    let p = &s.person;
    let mut out = Vec::new();
    out.push(
        app.get(&who.token, &format!("/api/v1/service-users/{p}"))
            .await
            .0,
    );
    out.push(
        app.get(&who.token, &format!("/api/v1/service-users/{p}/status"))
            .await
            .0,
    );
    let (status, hold) = app
        .post(
            &who.token,
            &format!("/api/v1/service-users/{p}/holds"),
            json!({"reason": "Please come in to see your keyworker"}),
        )
        .await;
    out.push(status);
    if status == StatusCode::CREATED {
        let id = hold["id"].as_str().unwrap();
        out.push(
            app.post(&who.token, &format!("/api/v1/holds/{id}/lift"), json!({}))
                .await
                .0,
        );
    }
    out
}

async fn only_the_caseload_and_its_team_act_on_a_person(backend: Backend) {
    let s = service(backend).await;
    let ok = vec![
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::CREATED,
        StatusCode::OK,
    ];
    for who in [&s.keyworker, &s.prescriber, &s.team_keyworker] {
        assert_eq!(try_everything(&s, who).await, ok);
    }
    let before = s.app.snapshot().await;
    for who in [&s.other_keyworker, &s.other_clinician] {
        let refused = try_everything(&s, who).await;
        assert_eq!(
            refused,
            vec![StatusCode::FORBIDDEN; 3],
            "outside the caseload"
        );
    }
    let (status, body) = s
        .app
        .get(
            &s.other_keyworker.token,
            &format!("/api/v1/service-users/{}", s.person),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("not on your caseload") && detail.contains("break glass"),
        "{detail}"
    );
    // The pharmacy sees its own person but acts on none of this.
    let pharmacist = try_everything(&s, &s.pharmacist).await;
    assert_eq!(
        pharmacist,
        vec![StatusCode::OK, StatusCode::OK, StatusCode::FORBIDDEN]
    );
    assert_eq!(
        s.app.snapshot().await,
        before,
        "a refusal changed something"
    );

    // Only the prescriber of record (or their team, or someone who broke glass) prescribes.
    let path = format!("/api/v1/service-users/{}/prescriptions", s.person);
    let body = prescription_body(next_monday(), 14, daily_supervised());
    assert_eq!(
        s.app
            .post(&s.other_clinician.token, &path, body.clone())
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, rx) = s.app.post(&s.prescriber.token, &path, body).await;
    assert_eq!(status, StatusCode::CREATED, "{rx}");

    // Moving the person to the other team's keyworker moves the caseload with them.
    let (status, _) = s
        .app
        .send(
            s.app
                .client
                .put(
                    s.app
                        .url(&format!("/api/v1/service-users/{}/keyworker", s.person)),
                )
                .bearer_auth(&s.keyworker.token)
                .json(&json!({"keyworker_id": s.other_keyworker.id})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let read = |who: &Staff| {
        let token = who.token.clone();
        let path = format!("/api/v1/service-users/{}", s.person);
        let app = &s.app;
        async move { app.get(&token, &path).await.0 }
    };
    assert_eq!(read(&s.other_keyworker).await, StatusCode::OK);
    // The prescriber of record is still in the North team, so North still covers.
    assert_eq!(read(&s.team_keyworker).await, StatusCode::OK);
    // A team change is an admin's, and audited.
    let (status, _) = s
        .app
        .send(
            s.app
                .client
                .put(
                    s.app
                        .url(&format!("/api/v1/staff/{}/team", s.team_keyworker.id)),
                )
                .bearer_auth(&s.keyworker.token)
                .json(&json!({"team": "South"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s
        .app
        .send(
            s.app
                .client
                .put(
                    s.app
                        .url(&format!("/api/v1/staff/{}/team", s.prescriber.id)),
                )
                .bearer_auth(&s.app.admin.token)
                .json(&json!({"team": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read(&s.team_keyworker).await, StatusCode::FORBIDDEN);
    let (_, audit) = s.app.get(&s.app.admin.token, "/api/v1/audit").await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "staff.team" && e["detail"]["from"] == "North"),
        "{audit}"
    );
}

async fn breaking_glass_opens_one_record_for_an_hour_audited_and_mailed(backend: Backend) {
    let s = service(backend).await;
    let app = &s.app;
    let glass = format!("/api/v1/service-users/{}/break-glass", s.person);
    let reason = "Person in A&E, the hospital asks for the current dose";

    // A reason is required, and only the service's staff may break glass.
    let (status, body) = app
        .post(&s.other_keyworker.token, &glass, json!({"reason": "need"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "reason", "{body}");
    for who in [&s.pharmacist, &app.admin] {
        assert_eq!(
            app.post(&who.token, &glass, json!({"reason": reason}))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
    }
    // On the caseload there is no glass to break.
    assert_eq!(
        app.post(&s.keyworker.token, &glass, json!({"reason": reason}))
            .await
            .0,
        StatusCode::CONFLICT
    );
    let mails_before = s.smtp.count();

    let (status, opened) = app
        .post(&s.other_keyworker.token, &glass, json!({"reason": reason}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    let grant = opened["id"].as_str().unwrap().to_string();
    // Open now: read, hold and lift as if on the caseload — but no more than a keyworker may.
    assert_eq!(
        try_everything(&s, &s.other_keyworker).await,
        vec![
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::CREATED,
            StatusCode::OK
        ]
    );
    // Twice is refused while it is open.
    assert_eq!(
        app.post(&s.other_keyworker.token, &glass, json!({"reason": reason}))
            .await
            .0,
        StatusCode::CONFLICT
    );

    // Audited with the reason.
    let (_, audit) = app.get(&app.admin.token, "/api/v1/audit").await;
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "access.break_glass")
        .unwrap_or_else(|| panic!("no break-glass audit entry in {audit}"));
    assert_eq!(entry["actor"], s.other_keyworker.id.as_str());
    assert_eq!(entry["detail"]["reason"], reason);

    // Mailed to the service and the keyworker of record, naming the reference but not the
    // reason (which stays in Sotto).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while s.smtp.count() < mails_before + 2 {
        assert!(tokio::time::Instant::now() < deadline, "break-glass mails");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut to: Vec<String> = s.smtp.recipients()[mails_before..]
        .iter()
        .flatten()
        .cloned()
        .collect();
    to.sort();
    let mut want = vec![SERVICE_INBOX.to_string(), s.keyworker.email.clone()];
    want.sort();
    assert_eq!(to, want);
    for m in &s.smtp.messages()[mails_before..] {
        let body = m.body();
        assert!(
            body.contains("SU-1042") && body.contains("outside their caseload"),
            "{body}"
        );
        assert!(!body.contains("A&E") && !body.contains("Alex"), "{body}");
    }

    // After the hour the record closes again.
    s.app
        .execute_sql(&format!(
            "UPDATE break_glass SET expires_at = '2000-01-01T00:00:00.000Z' WHERE id = '{grant}'"
        ))
        .await;
    assert_eq!(
        try_everything(&s, &s.other_keyworker).await,
        vec![StatusCode::FORBIDDEN; 3]
    );
}

/// The ids a caller is shown by the FHIR Patient search (which lists without a patient).
async fn listed(app: &TestApp, who: &Staff) -> (StatusCode, BTreeSet<String>) {
    let (status, body) = app.get(&who.token, "/fhir/r4/Patient?_count=100").await;
    let ids = body["entry"]
        .as_array()
        .map(|es| {
            es.iter()
                .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    (status, ids)
}

async fn the_people_a_caller_is_shown_are_exactly_those_they_may_open(backend: Backend) {
    let s = service(backend).await;
    let app = &s.app;
    let other_pharmacy = app.pharmacy("FB002", &[]).await;
    // People with every kind of tie: the keyworker's, the other team's, the other clinician's,
    // one at another pharmacy.
    let mut people = vec![s.person.clone()];
    for (i, (kw, rx, ph)) in [
        (&s.keyworker, &s.other_clinician, &s.pharmacy),
        (&s.other_keyworker, &s.other_clinician, &s.pharmacy),
        (&s.team_keyworker, &s.prescriber, &other_pharmacy),
        (&s.other_keyworker, &s.other_clinician, &other_pharmacy),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = app
            .post(
                &kw.token,
                "/api/v1/service-users",
                service_user_body(&format!("SU-20{i}"), ph, &kw.id, &rx.id),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        people.push(body["id"].as_str().unwrap().to_string());
    }
    // One broken glass.
    let (status, _) = app
        .post(
            &s.other_clinician.token,
            &format!("/api/v1/service-users/{}/break-glass", s.person),
            json!({"reason": "Covering the duty desk this afternoon"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let everyone = [
        &s.keyworker,
        &s.prescriber,
        &s.team_keyworker,
        &s.other_keyworker,
        &s.other_clinician,
        &s.pharmacist,
    ];
    let mut shown_somewhere = 0;
    for who in everyone {
        let (status, shown) = listed(app, who).await;
        assert_eq!(status, StatusCode::OK);
        let mut may_open = BTreeSet::new();
        for p in &people {
            let (status, _) = app
                .get(&who.token, &format!("/api/v1/service-users/{p}"))
                .await;
            assert!(
                status == StatusCode::OK || status == StatusCode::FORBIDDEN,
                "{status}"
            );
            if status == StatusCode::OK {
                may_open.insert(p.clone());
            }
        }
        assert_eq!(shown, may_open, "{} is shown whom they may open", who.email);
        shown_somewhere += shown.len();
    }
    // Not a vacuous agreement: each caller sees some and not all.
    assert!(shown_somewhere > people.len());
    let (status, _) = listed(app, &app.admin).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn every_read_of_a_person_is_in_their_access_log(backend: Backend) {
    let s = service(backend).await;
    let app = &s.app;
    let p = &s.person;
    let log_path = format!("/api/v1/service-users/{p}/access-log");
    let (_, before) = app.get(&s.keyworker.token, &log_path).await;
    let before = before.as_array().unwrap().len();
    app.get(
        &s.prescriber.token,
        &format!("/api/v1/service-users/{p}/status"),
    )
    .await;
    app.get(&s.pharmacist.token, &format!("/api/v1/service-users/{p}"))
        .await;
    app.get(&s.team_keyworker.token, &format!("/fhir/r4/Patient/{p}"))
        .await;
    // A refused read is not a read.
    app.get(
        &s.other_keyworker.token,
        &format!("/api/v1/service-users/{p}"),
    )
    .await;
    let (status, log) = app.get(&s.keyworker.token, &log_path).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), before + 3, "{log:?}");
    let seen: Vec<(String, String, String)> = log[..3]
        .iter()
        .map(|e: &Value| {
            (
                e["staff_id"].as_str().unwrap().to_string(),
                e["via"].as_str().unwrap().to_string(),
                e["relation"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        (s.prescriber.id.clone(), "api", "prescriber"),
        (s.pharmacist.id.clone(), "api", "pharmacy"),
        (s.team_keyworker.id.clone(), "fhir", "team"),
    ] {
        assert!(
            seen.contains(&(want.0.clone(), want.1.into(), want.2.into())),
            "{want:?} not in {seen:?}"
        );
    }
    // An administrator reads the log (information governance) but not the record.
    assert_eq!(app.get(&app.admin.token, &log_path).await.0, StatusCode::OK);
    assert_eq!(
        app.get(&app.admin.token, &format!("/api/v1/service-users/{p}"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&s.other_keyworker.token, &log_path).await.0,
        StatusCode::FORBIDDEN
    );
}
