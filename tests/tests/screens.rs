//! Every console page and every counter state on real screens: in headless Chromium at 1280,
//! 390 (a phone) and 320 px (a desktop zoomed to 400%), nothing is wider than the window, every
//! control is at least 24×24 px, axe-core finds no WCAG 2.1 AA violation, and the Nu Html
//! Checker finds no error in what the server sent. On a phone the instalment calendar is a day
//! list, and the button that confirms a regime change comes after every day it changes.
//! Phone-size screenshots go to docs/screenshots/.

use std::time::Duration;

use chrono::{Datelike, Duration as Days, NaiveDate};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use sotto_tests::browser::{Browser, sign_in, text, wait_for_path};
use sotto_tests::console::PASSWORD;
use sotto_tests::counter::{Counter, Enrolled};
use sotto_tests::screens::{Screens, set_width, source, source_of_post};
use sotto_tests::{Backend, Staff, TestApp, WEEKDAYS, prescription_body, service_user_body};

struct World {
    app: TestApp,
    pharmacy: Enrolled,
    clinician: Staff,
    keyworker: Staff,
}

fn today() -> NaiveDate {
    sotto_tests::pharmacy_today()
}

fn weekday(d: NaiveDate) -> &'static str {
    WEEKDAYS[d.weekday().num_days_from_monday() as usize]
}

/// One collection a week, on `day`'s weekday, of seven days: supervised then six take-home.
fn weekly_on(day: NaiveDate) -> Value {
    json!([{"weekday": weekday(day), "days": 7, "supervised": true}])
}

/// Daily supervised collections, except `day`, whose dose the day before hands over.
fn daily_but(day: NaiveDate) -> Value {
    let before = day - Days::days(1);
    json!(
        WEEKDAYS
            .iter()
            .filter(|d| **d != weekday(day))
            .map(
                |d| json!({"weekday": d, "days": if *d == weekday(before) { 2 } else { 1 },
                            "supervised": true})
            )
            .collect::<Vec<_>>()
    )
}

impl World {
    async fn start() -> World {
        let app = TestApp::spawn_with(Backend::Sqlite, |c| {
            c.run_schedulers = false;
            c.heartbeat_interval = Duration::from_millis(500);
            c.service_phone = Some("0300 123 4567".into());
            // Mail (the safety hold's) goes to a folder of its own, not the working tree.
            c.mail_outbox =
                std::env::temp_dir().join(format!("sotto-screens-{}", uuid::Uuid::new_v4()));
        })
        .await;
        // Open nearly round the clock, so "today" at the counter is open whenever this runs.
        let hours: serde_json::Map<String, Value> = WEEKDAYS
            .iter()
            .map(|d| (d.to_string(), json!({"open": "06:00", "close": "05:00"})))
            .collect();
        let pharmacy = app
            .enrol(json!({"ods_code": "FA001", "name": "High Street Pharmacy",
                          "opening_hours": hours, "timezone": "Europe/London"}))
            .await;
        let clinician = app.staff("clinician", None).await;
        let keyworker = app.staff("keyworker", None).await;
        for s in [&clinician, &keyworker, &app.admin] {
            app.set_password(s, PASSWORD).await;
        }
        World {
            app,
            pharmacy,
            clinician,
            keyworker,
        }
    }

    /// A person at the pharmacy; with a prescription from `start` on `collections` if given.
    async fn person(&self, reference: &str, rx: Option<(NaiveDate, Value)>) -> String {
        let body = service_user_body(
            reference,
            &self.pharmacy.id,
            &self.keyworker.id,
            &self.clinician.id,
        );
        let (status, su) = self
            .app
            .post(&self.keyworker.token, "/api/v1/service-users", body)
            .await;
        assert_eq!(status, 201, "{su}");
        let su = su["id"].as_str().unwrap().to_string();
        if let Some((start, collections)) = rx {
            let (status, p) = self
                .app
                .post(
                    &self.clinician.token,
                    &format!("/api/v1/service-users/{su}/prescriptions"),
                    {
                        let mut body = prescription_body(start, 14, collections);
                        // A missed collection is forfeit whole (clause 2 off), so a day it
                        // covered has nothing due: code C.
                        body["directions"]["supply_remaining_if_missed"] = json!(false);
                        body
                    },
                )
                .await;
            assert_eq!(status, 201, "{p}");
        }
        su
    }

    async fn hold(&self, su: &str, kind: &str) {
        let (status, b) = self
            .app
            .post(
                &self.clinician.token,
                &format!("/api/v1/service-users/{su}/holds"),
                json!({"reason": "review due", "kind": kind}),
            )
            .await;
        assert_eq!(status, 201, "{b}");
    }
}

/// A phone-width screenshot, scrolled so `css` is in view (at the window's foot when `end`).
async fn screenshot_at_phone_size(c: &Client, name: &str, css: &str, end: bool) {
    set_width(c, 390).await;
    c.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: arguments[1] ? 'end' : 'start'});",
        vec![json!(css), json!(end)],
    )
    .await
    .unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(
        format!("{}/../docs/screenshots/{name}", env!("CARGO_MANIFEST_DIR")),
        png,
    )
    .unwrap();
    set_width(c, 1280).await;
}

/// Runs `script` in the page and returns what it returns.
async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Types into a field the way a person does.
async fn type_in(c: &Client, id: &str, value: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(value)
        .await
        .unwrap();
}

/// Submits the form matching `css` and waits until its answer has replaced the page.
async fn submit(c: &Client, css: &str) {
    js(c, "document.body.dataset.left = '1';").await;
    c.execute(
        "document.querySelector(arguments[0]).requestSubmit();",
        vec![json!(css)],
    )
    .await
    .unwrap();
    for _ in 0..400 {
        let done = c
            .execute(
                "return document.readyState === 'complete' && !!document.body \
                 && !document.body.dataset.left;",
                vec![],
            )
            .await
            .unwrap_or(json!(false));
        if done == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let invalid = c
        .execute(
            "return [...document.querySelectorAll(':invalid')].map((e) => `${e.id || e.tagName}: ${e.outerHTML.slice(0, 300)}`);",
            vec![],
        )
        .await
        .unwrap();
    panic!("the answer to {css} never loaded; fields the browser holds invalid: {invalid}");
}

/// Checks the GET page at `path` (as the browser shows it, and as the server sent it).
async fn visit(s: &mut Screens, b: &Browser, app: &TestApp, name: &str, path: &str) {
    b.client.goto(&app.url(path)).await.unwrap();
    let html = source(&b.client).await;
    s.check(b, name, html).await;
}

/// Posts the form at `css` (a preview or a refusal) and checks the page it answers with.
async fn post_and_check(s: &mut Screens, b: &Browser, name: &str, css: &str) {
    let html = source_of_post(&b.client, css).await;
    submit(&b.client, css).await;
    s.check(b, name, html).await;
}

/// On every width, each calendar day lies within the window, and the confirm button comes
/// after the last of them (a phone must not hide a changed take-home day above or beside it).
async fn confirm_follows_the_calendar(c: &Client) {
    for width in sotto_tests::screens::WIDTHS {
        set_width(c, width).await;
        let seen = c
            .execute(
                "const days = [...document.querySelectorAll('.cal [data-date]')];
                 const button = document.querySelector('.confirm button[type=submit]');
                 const b = button.getBoundingClientRect();
                 const w = window.innerWidth;
                 const off = days.filter((d) => { const r = d.getBoundingClientRect();
                     return r.left < 0 || r.right > w; }).map((d) => d.dataset.date);
                 const lowest = Math.max(...days.map((d) => d.getBoundingClientRect().bottom));
                 const rows = new Set(days.map((d) => Math.round(d.getBoundingClientRect().top))).size;
                 return {days: days.length, off, below: b.top >= lowest, rows,
                         text: days[days.length - 1].innerText};",
                vec![],
            )
            .await
            .unwrap();
        assert!(seen["days"].as_u64().unwrap() >= 7, "{seen}");
        assert_eq!(
            seen["off"],
            json!([]),
            "days off-screen at {width} px: {seen}"
        );
        assert_eq!(
            seen["below"], true,
            "confirm above a day at {width} px: {seen}"
        );
        if width < 600 {
            // A day list: one day per row, its date in words.
            assert_eq!(
                seen["rows"], seen["days"],
                "not one day a row at {width} px: {seen}"
            );
            let last = seen["text"].as_str().unwrap();
            assert!(
                [
                    "Monday",
                    "Tuesday",
                    "Wednesday",
                    "Thursday",
                    "Friday",
                    "Saturday",
                    "Sunday"
                ]
                .iter()
                .any(|d| last.contains(d))
                    && last.contains("mg")
                    && (last.contains("supervised") || last.contains("take-home")),
                "{last}"
            );
        }
    }
    set_width(c, 1280).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_fits_a_phone_and_passes_axe_and_the_html_checker() {
    let w = World::start().await;
    let t = today();
    // Weekly collections on today's weekday, since a week ago (a change starts after the first
    // day): the preview shows today's collection and six take-home days after it.
    let weekly = w
        .person("SU-3001", Some((t - Days::days(7), weekly_on(t))))
        .await;
    let held = w
        .person(
            "SU-3002",
            Some((t - Days::days(1), daily_but(t + Days::days(3)))),
        )
        .await;
    w.hold(&held, "attend").await;
    let mut s = Screens::new();
    let b = Browser::start().await;
    let c = &b.client;

    visit(&mut s, &b, &w.app, "sign-in", "/console/sign-in").await;
    sign_in(c, &w.app, &w.keyworker.email, "not the password").await;
    let html = source_of_post(c, "main form").await;
    s.check(&b, "sign-in refused", html).await;

    // A keyworker: caseload, a person, a hold's preview and its errors, lifting, whose risk.
    sign_in(c, &w.app, &w.keyworker.email, PASSWORD).await;
    wait_for_path(c, "/console/caseload").await;
    assert!(text(c, "main p").await.contains("2 people."));
    visit(&mut s, &b, &w.app, "caseload", "/console/caseload").await;
    visit(
        &mut s,
        &b,
        &w.app,
        "person (keyworker)",
        &format!("/console/people/{held}"),
    )
    .await;
    let page = b.body_text().await;
    assert!(page.contains("Methadone 1 mg/ml oral solution"), "{page}");
    assert!(!page.contains("methadone_oral_solution"), "{page}");
    type_in(c, "reason", " ").await;
    post_and_check(&mut s, &b, "hold refused (blank reason)", "#place-hold").await;
    let alert = text(c, "[role=alert]").await;
    assert!(
        alert.contains("Reason:") && !alert.contains("reason:"),
        "{alert}"
    );
    type_in(c, "reason", "please ring us").await;
    post_and_check(&mut s, &b, "hold preview", "#place-hold").await;
    assert!(text(c, "[data-preview]").await.contains("code D"));
    assert!(
        text(c, ".confirm button")
            .await
            .contains("place hold on SU-3002")
    );
    c.goto(&w.app.url(&format!("/console/people/{held}")))
        .await
        .unwrap();
    post_and_check(&mut s, &b, "lift preview", "#holds + .scroll form").await;
    let said = b.body_text().await;
    assert!(said.contains("lift an attend hold"), "{said}");
    visit(
        &mut s,
        &b,
        &w.app,
        "whose risk (person)",
        &format!("/console/people/{held}/risk"),
    )
    .await;
    visit(&mut s, &b, &w.app, "whose risk (service)", "/console/risk").await;
    let totals = text(c, "tr[data-aggregate='hold placed']").await;
    assert!(totals.starts_with("1 hold placed"), "{totals}");
    visit(
        &mut s,
        &b,
        &w.app,
        "not found",
        "/console/people/no-such-person",
    )
    .await;

    // Adding a person: pharmacy, keyworker and prescriber are chosen by name from lists.
    visit(&mut s, &b, &w.app, "add a person", "/console/people/new").await;
    let lists = c
        .execute(
            "return ['pharmacy_id', 'keyworker_id', 'prescriber_id'].map((id) =>
               [...document.getElementById(id).options].map((o) => o.text).join('|'));",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        lists[0]
            .as_str()
            .unwrap()
            .contains("High Street Pharmacy (FA001)"),
        "{lists}"
    );
    assert!(
        lists[1].as_str().unwrap().contains(&w.keyworker.email),
        "{lists}"
    );
    assert!(
        lists[2].as_str().unwrap().contains(&w.clinician.email),
        "{lists}"
    );
    type_in(c, "reference", "SU-3003").await;
    type_in(c, "given_name", "Jo").await;
    type_in(c, "family_name", "Lindqvist").await;
    js(
        c,
        "document.getElementById('date_of_birth').value = '1990-02-03';
         document.getElementById('prescriber_id').selectedIndex = 1;
         document.getElementById('pharmacy_id').required = false;",
    )
    .await;
    post_and_check(
        &mut s,
        &b,
        "add a person refused (no pharmacy)",
        "#new-person",
    )
    .await;
    let alert = text(c, "[role=alert]").await;
    assert!(alert.contains("Pharmacy:"), "{alert}");
    js(
        c,
        "document.getElementById('pharmacy_id').selectedIndex = 1;",
    )
    .await;
    submit(c, "#new-person").await;
    assert!(
        text(c, "[data-identity]")
            .await
            .contains("SU-3003 · Jo Lindqvist · born 3 February 1990")
    );
    b.click("nav form button").await; // sign out

    // A clinician: the regime form, its refusal, and the preview with take-home days.
    sign_in(c, &w.app, &w.clinician.email, PASSWORD).await;
    wait_for_path(c, "/console/caseload").await;
    visit(
        &mut s,
        &b,
        &w.app,
        "person (clinician)",
        &format!("/console/people/{weekly}"),
    )
    .await;
    screenshot_at_phone_size(c, "console-person-phone.png", "#calendar", false).await;
    let set_date = "document.getElementById('effective_from').value = arguments[0];";
    c.execute(set_date, vec![json!((t - Days::days(1)).to_string())])
        .await
        .unwrap();
    type_in(c, "regime-reason", "titration").await;
    post_and_check(&mut s, &b, "regime change refused", "#regime-change").await;
    c.execute(set_date, vec![json!(t.to_string())])
        .await
        .unwrap();
    c.find(Locator::Id("daily_dose_mg"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    type_in(c, "daily_dose_mg", "50").await;
    post_and_check(&mut s, &b, "regime preview", "#regime-change").await;
    let shown = b.body_text().await;
    assert!(shown.contains("Confirm regime change"), "{shown}");
    confirm_follows_the_calendar(c).await;
    screenshot_at_phone_size(c, "console-regime-preview-phone.png", ".confirm", true).await;
    b.click("nav form button").await; // sign out

    // An admin: pharmacies, staff (a pharmacy chosen from a list), a refusal, an enrolment.
    sign_in(c, &w.app, &w.app.admin.email, PASSWORD).await;
    visit(&mut s, &b, &w.app, "pharmacies", "/console/pharmacies").await;
    visit(&mut s, &b, &w.app, "staff", "/console/staff").await;
    let choices = c
        .execute(
            "return [...document.querySelectorAll('#pharmacy_id option')].map((o) => o.text);",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        choices.to_string().contains("High Street Pharmacy (FA001)"),
        "{choices}"
    );
    type_in(c, "name", "Pat Pharmacist").await;
    type_in(c, "email", "pat@pharmacy.test").await;
    js(c, "document.getElementById('role').value = 'pharmacist';").await;
    post_and_check(&mut s, &b, "staff refused (no pharmacy)", "#create-staff").await;
    js(
        c,
        "const s = document.getElementById('pharmacy_id'); s.selectedIndex = 1;",
    )
    .await;
    type_in(c, "password", PASSWORD).await;
    submit(c, "#create-staff").await;
    assert!(b.body_text().await.contains("Staff member created"));
    c.goto(&w.app.url("/console/pharmacies")).await.unwrap();
    type_in(c, "ods_code", "FB002").await;
    type_in(c, "name", "Station Road Pharmacy").await;
    submit(c, "#enrol").await;
    // The answer shows a password once; it is checked as shown, and not fetched again.
    let enrolled = c
        .execute(
            "return '<!doctype html>\\n' + document.documentElement.outerHTML;",
            vec![],
        )
        .await
        .unwrap();
    s.check(
        &b,
        "pharmacy enrolled",
        enrolled.as_str().unwrap().to_string(),
    )
    .await;

    // The pharmacist just created is pointed to the counter page.
    c.goto(&w.app.url("/console/pharmacies")).await.unwrap();
    b.click("nav form button").await; // sign out
    sign_in(c, &w.app, "pat@pharmacy.test", PASSWORD).await;
    visit(&mut s, &b, &w.app, "pharmacist", "/console").await;
    assert!(b.body_text().await.contains("Use the counter page"));
    b.close().await;
    s.validate_html();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_counter_state_fits_a_phone_and_passes_axe_and_the_html_checker() {
    let mut w = World::start().await;
    let t = today();
    w.person("SU-4001", Some((t, weekly_on(t)))).await;
    w.person(
        "SU-4002",
        Some((t - Days::days(1), daily_but(t + Days::days(3)))),
    )
    .await;
    w.person("SU-4003", Some((t - Days::days(1), daily_but(t))))
        .await;
    let d = w
        .person(
            "SU-4004",
            Some((t - Days::days(1), daily_but(t + Days::days(3)))),
        )
        .await;
    w.hold(&d, "attend").await;
    let e = w
        .person(
            "SU-4005",
            Some((t - Days::days(1), daily_but(t + Days::days(3)))),
        )
        .await;
    w.hold(&e, "safety").await;
    w.person("SU-4006", None).await;
    let stale_after = Duration::from_secs(2);
    let counter = Counter::start(&w.pharmacy, w.app.broker_addr.port(), stale_after).await;
    for (reference, code) in [
        ("SU-4001", "A"),
        ("SU-4003", "C"),
        ("SU-4004", "D"),
        ("SU-4005", "E"),
    ] {
        counter
            .wait_for_code(reference, code, Duration::from_secs(20))
            .await;
    }
    let (status, body) = counter
        .post(
            "/api/supplies",
            &json!({"reference": "SU-4002", "date": t.to_string(),
                    "supervised_taken": true, "take_home_doses": 0}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut s = Screens::new();
    let b = Browser::start().await;
    let c = &b.client;
    let at = |path: &str| counter.url(path);

    let mut check = async |name: &str, path: &str| {
        c.goto(&at(path)).await.unwrap();
        let html = source(c).await;
        s.check(&b, name, html).await;
    };
    check("counter", "/").await;
    for (reference, code) in [
        ("SU-4001", "A"),
        ("SU-4002", "B"),
        ("SU-4003", "C"),
        ("SU-4004", "D"),
        ("SU-4005", "E"),
        ("SU-4006", "F"),
    ] {
        check(&format!("code {code}"), &format!("/?reference={reference}")).await;
        assert_eq!(text(c, "[data-code]").await, code, "{reference}");
        if code == "A" {
            screenshot_at_phone_size(c, "counter-code-a-phone.png", ".person", false).await;
        }
    }
    check("not found", "/?reference=SU-9999").await;
    check("name without date of birth", "/?family_name=Testperson").await;
    check("supplied", "/?reference=SU-4002&done=supplied").await;
    // A page from elsewhere (without this page's token) is refused, recording nothing; then
    // the hand-over from the page, then the day's end (asked first, if early).
    c.goto(&at("/?reference=SU-4001")).await.unwrap();
    js(
        c,
        "document.querySelector(\"form[action='/supply'] input[name=csrf]\").value = 'elsewhere';",
    )
    .await;
    post_and_check(&mut s, &b, "supply refused", "form[action='/supply']").await;
    assert!(b.body_text().await.contains("Not recorded"));
    assert_eq!(text(c, "[data-code]").await, "A");
    submit(c, "form[action='/supply']").await;
    assert_eq!(text(c, "[data-code]").await, "B");
    let html = source_of_post(c, "form[action='/close-day']").await;
    submit(c, "form[action='/close-day']").await;
    s.check(&b, "end of the day", html).await;

    // The server goes quiet: the page stops vouching for the code.
    w.app.stop_server().await;
    let deadline = tokio::time::Instant::now() + stale_after * 5;
    loop {
        c.goto(&at("/?reference=SU-4004")).await.unwrap();
        if c.find(Locator::Css(".stale")).await.is_ok() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never stale");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let html = source(c).await;
    s.check(&b, "not confirmed", html).await;
    b.close().await;
    s.validate_html();
}
