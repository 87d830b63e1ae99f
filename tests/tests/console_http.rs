//! The staff console over plain HTTP: sessions, CSRF, lock-out and access, on both databases.
//! (What a person sees in a browser is in console.rs.)

use serde_json::json;
use sotto_tests::console::{ConsoleClient, PASSWORD, hidden};
use sotto_tests::reqwest::StatusCode;
use sotto_tests::{Backend, TestApp, on_both_backends, prescription_body};

on_both_backends!(
    signing_in_gives_a_strict_http_only_session_and_signing_out_ends_it,
    five_wrong_passwords_lock_the_address_and_unknown_addresses_read_the_same,
    a_post_without_the_csrf_token_is_refused_and_changes_nothing,
    a_keyworker_gets_no_regime_change_form_and_403_when_posting_one,
    admins_pharmacists_and_unknown_ids_get_no_person_page,
    regime_change_errors_read_as_the_api_words_them_with_the_input_kept,
    a_confirm_for_another_person_or_an_older_state_is_refused,
    an_admin_creates_staff_and_resets_passwords_from_the_console,
    lifting_previews_the_code_and_only_a_clinician_lifts_a_safety_hold,
    a_keyworker_adds_a_person_choosing_pharmacy_keyworker_and_prescriber_from_lists,
    outside_the_caseload_the_page_offers_break_glass_and_opens_after_a_reason,
);

/// Another keyworker's person: the page names nobody and offers to break glass; a reason too
/// short is refused in words; a real one opens the record, which then lists the person on the
/// viewer's caseload page as opened by break glass.
async fn outside_the_caseload_the_page_offers_break_glass_and_opens_after_a_reason(app: TestApp) {
    let w = app.world().await;
    let other = app.staff("keyworker", None).await;
    app.set_password(&other, PASSWORD).await;
    let c = ConsoleClient::signed_in(&app, &other).await;
    let path = format!("/console/people/{}", w.service_user);
    let refused = c.get(&path).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        refused.body.contains("not on your caseload"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("id=\"break-glass\""),
        "{}",
        refused.body
    );
    assert!(!refused.body.contains("SU-1042") && !refused.body.contains("Testperson"));
    let caseload = c.get("/console/caseload").await;
    assert!(!caseload.body.contains("SU-1042"));

    let glass = format!("/console/people/{}/break-glass", w.service_user);
    let csrf = refused.csrf();
    let short = c.post(&glass, &[("csrf", &csrf), ("reason", "need")]).await;
    assert_eq!(
        short.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        short.body
    );
    assert!(
        short.body.contains("at least a few words"),
        "{}",
        short.body
    );
    let before = app.snapshot().await;
    let opened = c
        .post(
            &glass,
            &[
                ("csrf", &csrf),
                ("reason", "Duty worker: the person rang in crisis"),
            ],
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    assert_ne!(app.snapshot().await, before);
    let page = c.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("SU-1042"));
    let caseload = c.get("/console/caseload").await;
    assert!(
        caseload.body.contains("SU-1042</a> · opened (break glass)"),
        "{}",
        caseload.body
    );
}

/// The new-person form offers the pharmacy, keyworker and prescriber by name; bad input is
/// named in words and stores nothing; a good one stores the person, audited as the keyworker.
async fn a_keyworker_adds_a_person_choosing_pharmacy_keyworker_and_prescriber_from_lists(
    app: TestApp,
) {
    let w = app.world().await;
    app.set_password(&w.keyworker, PASSWORD).await;
    let c = ConsoleClient::signed_in(&app, &w.keyworker).await;
    let form = c.get("/console/people/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    for offered in [
        format!(
            "<option value=\"{}\">Pharmacy FA001 (FA001)</option>",
            w.pharmacy
        ),
        format!("<option value=\"{}\" selected>", w.keyworker.id),
        format!("<option value=\"{}\">", w.clinician.id),
    ] {
        assert!(
            form.body.contains(&offered),
            "{offered} not offered:\n{}",
            form.body
        );
    }
    for id in ["pharmacy_id", "keyworker_id", "prescriber_id"] {
        assert!(
            form.body.contains(&format!("<select id=\"{id}\""))
                && !form.body.contains(&format!("<input id=\"{id}\"")),
            "{id} is picked from a list, not typed"
        );
    }
    let csrf = form.csrf();
    let fields = |dob: &'static str, prescriber: String| {
        vec![
            ("csrf", csrf.clone()),
            ("reference", "SU-2042".to_string()),
            ("given_name", "Sam".to_string()),
            ("family_name", "Okafor".to_string()),
            ("date_of_birth", dob.to_string()),
            ("pharmacy_id", w.pharmacy.clone()),
            ("keyworker_id", w.keyworker.id.clone()),
            ("prescriber_id", prescriber),
        ]
    };
    let post = async |f: Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        c.post("/console/people/new", &pairs).await
    };

    // A keyworker given as the prescriber, and no date: both named, in words; nothing stored.
    let bad = post(fields("", w.keyworker.id.clone())).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(
        bad.body.contains("<strong>Date of birth</strong>"),
        "{}",
        bad.body
    );
    let bad = post(fields("1990-02-03", w.keyworker.id.clone())).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(
        bad.body
            .contains("<strong>Prescriber</strong>: this staff member is a keyworker"),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("value=\"SU-2042\""),
        "what was typed is kept"
    );
    let (_, audit) = app.get(&app.admin.token, "/api/v1/audit").await;
    let created = |audit: &serde_json::Value| {
        audit
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["action"] == "service_user.create" && e["actor"] == w.keyworker.id.as_str()
            })
            .count()
    };
    let before = created(&audit);

    let good = post(fields("1990-02-03", w.clinician.id.clone())).await;
    assert_eq!(good.status, StatusCode::SEE_OTHER, "{}", good.body);
    let person = c.get(good.location().unwrap()).await;
    assert!(
        person
            .body
            .contains("SU-2042</strong> · Sam Okafor · born 3 February 1990"),
        "{}",
        person.body
    );
    let (_, audit) = app.get(&app.admin.token, "/api/v1/audit").await;
    assert_eq!(
        created(&audit),
        before + 1,
        "one audited creation, by the keyworker"
    );
}

async fn signing_in_gives_a_strict_http_only_session_and_signing_out_ends_it(app: TestApp) {
    let w = app.world().await;
    app.set_password(&w.keyworker, PASSWORD).await;
    let c = ConsoleClient::new(&app);
    let res = c.sign_in(&w.keyworker.email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let cookie = res
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("sotto_session="))
        .expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain-http public URL: {cookie}"
    );
    let root = c.get("/").await;
    assert_eq!(root.location(), Some("/console"));
    assert_eq!(
        c.get("/console").await.location(),
        Some("/console/caseload")
    );
    let page = c.get("/console/caseload").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("SU-1042"), "{}", page.body);
    assert!(
        page.body.contains("aria-sort=\"ascending\""),
        "sorted by reference"
    );
    for (filter, shown) in [
        ("?q=su-10", true),
        ("?q=nobody", false),
        ("?hold=1", false),
        ("?missed=1", false),
    ] {
        let filtered = c.get(&format!("/console/caseload{filter}")).await;
        assert_eq!(
            filtered.body.contains("data-reference=\"SU-1042\""),
            shown,
            "{filter}"
        );
    }

    // Sign out; the old cookie no longer opens anything.
    let old = c.cookie_header();
    let csrf = page.csrf();
    let out = c.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    c.set_cookie_header(&old);
    let after = c.get("/console/caseload").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    // To sign in, and back to the page afterwards.
    assert_eq!(
        after.location(),
        Some("/console/sign-in?next=/console/caseload")
    );
    assert!(!after.body.contains("SU-1042"));

    // Both sign-in and sign-out are in the audit chain, with the staff member as actor.
    let (_, audit) = app.get(&app.admin.token, "/api/v1/audit").await;
    let mine: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == w.keyworker.id.as_str())
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert!(mine.contains(&"console.sign_in".to_string()), "{mine:?}");
    assert!(mine.contains(&"console.sign_out".to_string()), "{mine:?}");
}

async fn five_wrong_passwords_lock_the_address_and_unknown_addresses_read_the_same(app: TestApp) {
    let w = app.world().await;
    app.set_password(&w.clinician, PASSWORD).await;
    let c = ConsoleClient::new(&app);
    let unknown = c
        .sign_in("nobody@service.test", "whatever it is here")
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.body.contains("E-mail or password not recognised."));
    for i in 1..=4 {
        let res = c
            .sign_in(&w.clinician.email, "not the password at all")
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        assert!(res.body.contains("E-mail or password not recognised."));
    }
    let fifth = c
        .sign_in(&w.clinician.email, "not the password at all")
        .await;
    assert_eq!(fifth.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        fifth.body.contains("locked for 15 minutes"),
        "{}",
        fifth.body
    );
    // Locked: even the right password is refused, and no session is given.
    let right = c.sign_in(&w.clinician.email, PASSWORD).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        right
            .headers
            .get_all("set-cookie")
            .iter()
            .all(|v| !v.to_str().unwrap().starts_with("sotto_session="))
    );
    // Another person's address is not affected.
    app.set_password(&w.keyworker, PASSWORD).await;
    let other = c.sign_in(&w.keyworker.email, PASSWORD).await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);
    let (_, audit) = app.get(&app.admin.token, "/api/v1/audit").await;
    let actions: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "console.sign_in_failed")
            .count(),
        6
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "console.lock_out").count(),
        1
    );
}

async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing(app: TestApp) {
    let w = app.world().await;
    app.set_password(&w.keyworker, PASSWORD).await;
    // The sign-in form itself: no token, no sign-in.
    let c = ConsoleClient::new(&app);
    c.get("/console/sign-in").await;
    let res = c
        .post(
            "/console/sign-in",
            &[("email", &w.keyworker.email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    let c = ConsoleClient::signed_in(&app, &w.keyworker).await;
    let page = c.get(&format!("/console/people/{}", w.service_user)).await;
    let stamp_page = c
        .post(
            &format!("/console/people/{}/holds/preview", w.service_user),
            &[("csrf", &page.csrf()), ("reason", "please ring us")],
        )
        .await;
    assert_eq!(stamp_page.status, StatusCode::OK, "{}", stamp_page.body);
    let stamp = hidden(&stamp_page.body, "stamp").unwrap();
    let before = app.snapshot().await;
    let path = format!("/console/people/{}/holds", w.service_user);
    let fields = [
        ("reason", "please ring us"),
        ("reference", "SU-1042"),
        ("stamp", stamp.as_str()),
    ];
    let missing = c.post(&path, &fields).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN, "{}", missing.body);
    let mut wrong = fields.to_vec();
    wrong.push(("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    let wrong = c.post(&path, &wrong).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused post changed something"
    );
    // With the token, the same post places the hold.
    let mut ok = fields.to_vec();
    let csrf = page.csrf();
    ok.push(("csrf", &csrf));
    let placed = c.post(&path, &ok).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    assert_ne!(app.snapshot().await, before);
    // The signed-in keyworker is the audit actor, as with their token.
    let (_, audit) = app.get(&app.admin.token, "/api/v1/audit").await;
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["action"] == "hold.place")
        .expect("the hold is audited");
    assert_eq!(entry["actor"], w.keyworker.id.as_str());
}

async fn a_keyworker_gets_no_regime_change_form_and_403_when_posting_one(app: TestApp) {
    let w = app.world().await;
    let start = sotto_tests::recent_open_start();
    let (status, p) = app
        .post(
            &w.clinician.token,
            &format!("/api/v1/service-users/{}/prescriptions", w.service_user),
            prescription_body(start, 14, sotto_tests::daily_supervised()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let pid = p["id"].as_str().unwrap();
    app.set_password(&w.keyworker, PASSWORD).await;
    let c = ConsoleClient::signed_in(&app, &w.keyworker).await;
    let page = c.get(&format!("/console/people/{}", w.service_user)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("id=\"regime-change\""),
        "a keyworker was offered the form"
    );
    let before = app.snapshot().await;
    let tomorrow = (start + chrono::Duration::days(2)).to_string();
    for step in ["regime-changes/preview", "regime-changes"] {
        let res = c
            .post(
                &format!("/console/prescriptions/{pid}/{step}"),
                &[
                    ("csrf", &page.csrf()),
                    ("effective_from", &tomorrow),
                    ("daily_dose_mg", "80"),
                    ("reason", "titration"),
                ],
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{step}: {}", res.body);
        assert!(res.body.contains("clinician"), "{}", res.body);
    }
    assert_eq!(app.snapshot().await, before);
}

async fn admins_pharmacists_and_unknown_ids_get_no_person_page(app: TestApp) {
    let w = app.world().await;
    let mut admin = w.keyworker.clone();
    admin.email = app.admin.email.clone();
    app.set_password(&admin, PASSWORD).await;
    app.set_password(&w.other_pharmacist, PASSWORD).await;
    app.set_password(&w.keyworker, PASSWORD).await;
    let path = format!("/console/people/{}", w.service_user);
    for who in [&admin, &w.other_pharmacist] {
        let c = ConsoleClient::signed_in(&app, who).await;
        let page = c.get(&path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
        for secret in ["SU-1042", "Testperson", "1985"] {
            assert!(!page.body.contains(secret), "{secret} shown: {}", page.body);
        }
    }
    let c = ConsoleClient::signed_in(&app, &w.keyworker).await;
    let page = c
        .get("/console/people/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    // Not signed in at all: to the sign-in page.
    let anon = ConsoleClient::new(&app).get(&path).await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    assert!(!anon.body.contains("SU-1042"));
}

async fn regime_change_errors_read_as_the_api_words_them_with_the_input_kept(app: TestApp) {
    let w = app.world().await;
    let start = sotto_tests::recent_open_start();
    let (_, p) = app
        .post(
            &w.clinician.token,
            &format!("/api/v1/service-users/{}/prescriptions", w.service_user),
            prescription_body(start, 14, sotto_tests::daily_supervised()),
        )
        .await;
    let pid = p["id"].as_str().unwrap();
    let bad_day = (start - chrono::Duration::days(3)).to_string();
    let (status, api) = app
        .post(
            &w.clinician.token,
            &format!("/api/v1/prescriptions/{pid}/regime-changes"),
            json!({"effective_from": bad_day, "daily_dose_mg": 5000, "reason": "more"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.set_password(&w.clinician, PASSWORD).await;
    let c = ConsoleClient::signed_in(&app, &w.clinician).await;
    let page = c.get(&format!("/console/people/{}", w.service_user)).await;
    let res = c
        .post(
            &format!("/console/prescriptions/{pid}/regime-changes/preview"),
            &[
                ("csrf", &page.csrf()),
                ("effective_from", &bad_day),
                ("daily_dose_mg", "5000"),
                ("reason", "more"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    for e in api["errors"].as_array().unwrap() {
        let message = e["message"].as_str().unwrap();
        let escaped = message
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(
            res.body.contains(&escaped),
            "the console lacks the API's {message:?}:\n{}",
            res.body
        );
    }
    assert!(
        res.body.contains("value=\"5000\""),
        "the dose typed is kept"
    );
    assert!(
        res.body.contains(&format!("value=\"{bad_day}\"")),
        "the date typed is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_is_refused() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.session_idle = std::time::Duration::from_secs(1);
    })
    .await;
    let w = app.world().await;
    app.set_password(&w.keyworker, PASSWORD).await;
    let c = ConsoleClient::signed_in(&app, &w.keyworker).await;
    assert_eq!(c.get("/console/caseload").await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let page = c.get("/console/caseload").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location(),
        Some("/console/sign-in?next=/console/caseload")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_secure_behind_https() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = "https://sotto.test".into();
    })
    .await;
    let w = app.world().await;
    app.set_password(&w.keyworker, PASSWORD).await;
    let res = ConsoleClient::new(&app)
        .sign_in(&w.keyworker.email, PASSWORD)
        .await;
    let cookie = res.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("sotto_session=") && cookie.contains("; Secure"),
        "{cookie}"
    );
}

async fn a_confirm_for_another_person_or_an_older_state_is_refused(app: TestApp) {
    let w = app.world().await;
    app.set_password(&w.keyworker, PASSWORD).await;
    let c = ConsoleClient::signed_in(&app, &w.keyworker).await;
    let page = c.get(&format!("/console/people/{}", w.service_user)).await;
    let csrf = page.csrf();
    let preview = c
        .post(
            &format!("/console/people/{}/holds/preview", w.service_user),
            &[("csrf", &csrf), ("reason", "please ring us")],
        )
        .await;
    assert!(preview.body.contains("Alex Testperson") && preview.body.contains("12 April 1985"));
    assert!(
        preview.body.contains("The pharmacy will see code"),
        "{}",
        preview.body
    );
    let stamp = hidden(&preview.body, "stamp").unwrap();
    let path = format!("/console/people/{}/holds", w.service_user);
    let before = app.snapshot().await;

    // A confirmation naming another person changes nothing.
    let other = c
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("reason", "please ring us"),
                ("reference", "SU-9999"),
                ("stamp", &stamp),
            ],
        )
        .await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.body);
    assert!(other.body.contains("different person"));
    assert_eq!(app.snapshot().await, before);

    // Someone else places a hold after the preview: the preview is out of date.
    let (status, _) = app
        .post(
            &w.clinician.token,
            &format!("/api/v1/service-users/{}/holds", w.service_user),
            json!({"reason": "seen elsewhere"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let moved = app.snapshot().await;
    let stale = c
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("reason", "please ring us"),
                ("reference", "SU-1042"),
                ("stamp", &stamp),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(
        stale.body.contains("changed after your preview"),
        "{}",
        stale.body
    );
    assert_eq!(app.snapshot().await, moved);
}

async fn an_admin_creates_staff_and_resets_passwords_from_the_console(app: TestApp) {
    let mut admin = app.admin.clone();
    admin.email = app.admin.email.clone();
    app.set_password(&admin, PASSWORD).await;
    let a = ConsoleClient::signed_in(&app, &admin).await;
    let page = a.get("/console/staff").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.csrf();
    // The API's validation, shown next to the fields.
    let short = a
        .post(
            "/console/staff",
            &[
                ("csrf", &csrf),
                ("name", "Kay Worker"),
                ("email", "kay@service.test"),
                ("role", "keyworker"),
                ("password", "too short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        short.body.contains("must be at least 12 characters"),
        "{}",
        short.body
    );
    assert!(
        short.body.contains("value=\"kay@service.test\""),
        "input kept"
    );
    let made = a
        .post(
            "/console/staff",
            &[
                ("csrf", &csrf),
                ("name", "Kay Worker"),
                ("email", "kay@service.test"),
                ("role", "keyworker"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let dup = a
        .post(
            "/console/staff",
            &[
                ("csrf", &csrf),
                ("name", "Kay Again"),
                ("email", "KAY@service.test"),
                ("role", "keyworker"),
            ],
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert!(dup.body.contains("already exists"));

    let kay = ConsoleClient::new(&app);
    assert_eq!(
        kay.sign_in("kay@service.test", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(kay.get("/console/caseload").await.status, StatusCode::OK);
    // Keyworkers do not administer staff.
    let denied = kay.get("/console/staff").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    // A reset ends Kay's session; the new password works, the old one does not.
    let list = a.get("/console/staff").await;
    let at = list.body.find("kay@service.test").unwrap();
    let action = &list.body[at..];
    let start = action.find("/console/staff/").unwrap();
    let path = &action[start..start + action[start..].find('"').unwrap()];
    let reset = a
        .post(
            path,
            &[("csrf", &csrf), ("password", "another long password")],
        )
        .await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER, "{}", reset.body);
    assert_eq!(
        kay.get("/console/caseload").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        ConsoleClient::new(&app)
            .sign_in("kay@service.test", PASSWORD)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ConsoleClient::new(&app)
            .sign_in("kay@service.test", "another long password")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_enrols_a_pharmacy_and_sees_when_its_client_was_last_heard() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.set_password(&app.admin, PASSWORD).await;
    let a = ConsoleClient::signed_in(&app, &app.admin).await;
    let page = a.get("/console/pharmacies").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.csrf();
    let bad = a
        .post(
            "/console/pharmacies",
            &[
                ("csrf", &csrf),
                ("ods_code", "x"),
                ("name", "Corner"),
                ("closing_time", "25:00"),
                ("timezone", "Europe/London"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("id=\"closing_time-error\""),
        "{}",
        bad.body
    );
    let made = a
        .post(
            "/console/pharmacies",
            &[
                ("csrf", &csrf),
                ("ods_code", "FC003"),
                ("name", "Corner Pharmacy"),
                ("closing_time", "18:00"),
                ("timezone", "Europe/London"),
                ("closed_sun", "1"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let setup = made.body[made.body.find("data-setup>").unwrap()..].to_string();
    for part in [
        "SOTTO_PHARMACY_ID=",
        "SOTTO_MQTT_URL=mqtt://127.0.0.1:",
        "SOTTO_MQTT_USERNAME=pharmacy-fc003",
        "SOTTO_MQTT_PASSWORD=mqtt_",
        "SOTTO_SERVER_KEY=",
        "sotto-pharmacy",
    ] {
        assert!(setup.contains(part), "{part} missing: {setup}");
    }
    let value = |key: &str| {
        let at = setup.find(key).unwrap() + key.len();
        setup[at..].split([' ', '\n']).next().unwrap().to_string()
    };
    let enrolled = sotto_tests::counter::Enrolled {
        id: value("SOTTO_PHARMACY_ID="),
        mqtt_username: value("SOTTO_MQTT_USERNAME="),
        mqtt_password: value("SOTTO_MQTT_PASSWORD="),
        server_key: value("SOTTO_SERVER_KEY="),
    };
    let row = |body: &str| {
        let at = body.find("data-ods=\"FC003\"").unwrap();
        body[at..at + body[at..].find("</tr>").unwrap()].to_string()
    };
    let before = a.get("/console/pharmacies").await;
    assert!(
        row(&before.body).contains("never heard from"),
        "{}",
        row(&before.body)
    );
    assert!(
        !before.body.contains(&enrolled.mqtt_password),
        "the password is shown once only"
    );

    // The client, set up from those lines, connects and asks for its state.
    let _counter = sotto_tests::counter::Counter::start(
        &enrolled,
        app.broker_addr.port(),
        std::time::Duration::from_secs(60),
    )
    .await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let now = row(&a.get("/console/pharmacies").await.body);
        if now.contains("connected (last heard") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never shown as connected: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn lifting_previews_the_code_and_only_a_clinician_lifts_a_safety_hold(app: TestApp) {
    let w = app.world().await;
    let start = sotto_tests::recent_open_start();
    let every_day: Vec<_> = ["mon", "tue", "wed", "thu", "fri", "sat"]
        .iter()
        .map(|d| json!({"weekday": d, "days": if *d == "sat" { 2 } else { 1 }, "supervised": true}))
        .collect();
    let (status, p) = app
        .post(
            &w.clinician.token,
            &format!("/api/v1/service-users/{}/prescriptions", w.service_user),
            prescription_body(start, 14, json!(every_day)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let holds = format!("/api/v1/service-users/{}/holds", w.service_user);
    let (_, attend) = app
        .post(&w.keyworker.token, &holds, json!({"reason": "ring us"}))
        .await;
    let (_, safety) = app
        .post(
            &w.clinician.token,
            &holds,
            json!({"reason": "three missed", "kind": "safety"}),
        )
        .await;
    app.set_password(&w.keyworker, PASSWORD).await;
    app.set_password(&w.clinician, PASSWORD).await;

    let k = ConsoleClient::signed_in(&app, &w.keyworker).await;
    let page = k.get(&format!("/console/people/{}", w.service_user)).await;
    assert!(
        page.body.contains("a clinician lifts this"),
        "no lift button for the safety hold"
    );
    let csrf = page.csrf();
    let sid = safety["id"].as_str().unwrap();
    let refused = k
        .post(
            &format!("/console/holds/{sid}/lift/preview"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("only by a clinician"),
        "{}",
        refused.body
    );

    // The keyworker lifts the attend hold: the safety hold still gives E.
    let aid = attend["id"].as_str().unwrap();
    let preview = k
        .post(
            &format!("/console/holds/{aid}/lift/preview"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(preview.body.contains("data-code>E<"), "{}", preview.body);
    let stamp = hidden(&preview.body, "stamp").unwrap();
    let done = k
        .post(
            &format!("/console/holds/{aid}/lift"),
            &[
                ("csrf", &csrf),
                ("reference", "SU-1042"),
                ("stamp", &stamp),
                ("note", "spoke"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    // The clinician lifts the safety hold: the pharmacy will see A again.
    let c = ConsoleClient::signed_in(&app, &w.clinician).await;
    let csrf = c
        .get(&format!("/console/people/{}", w.service_user))
        .await
        .csrf();
    let preview = c
        .post(
            &format!("/console/holds/{sid}/lift/preview"),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(
        preview.body.contains("data-code>A<") || preview.body.contains("data-code>C<"),
        "{}",
        preview.body
    );
    let stamp = hidden(&preview.body, "stamp").unwrap();
    let done = c
        .post(
            &format!("/console/holds/{sid}/lift"),
            &[("csrf", &csrf), ("reference", "SU-1042"), ("stamp", &stamp)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let (_, status) = app
        .get(
            &w.clinician.token,
            &format!("/api/v1/service-users/{}/status", w.service_user),
        )
        .await;
    assert!(status["holds"].as_array().unwrap().is_empty(), "{status}");
}
