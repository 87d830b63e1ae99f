//! The staff console in real headless Chromium: signing in, a keyworker's hold reaching the
//! counter, a clinician's regime change, lock-out, and the whose-risk view of a known history.
//! Screenshots of the caseload, a person page and the whose-risk view go to docs/screenshots/.

use std::time::Duration;

use chrono::{Duration as Days, NaiveDate};
use fantoccini::{Client, Locator};
use serde_json::json;
use sotto_tests::browser::{Browser, sign_in, text, wait_for_path};
use sotto_tests::console::PASSWORD;
use sotto_tests::counter::{Counter, Enrolled};
use sotto_tests::{Backend, Staff, TestApp, prescription_body, service_user_body};

struct World {
    app: TestApp,
    pharmacy: Enrolled,
    clinician: Staff,
    keyworker: Staff,
}

fn every_day() -> serde_json::Value {
    json!(
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| json!({"weekday": d, "days": 1, "supervised": true}))
            .collect::<Vec<_>>()
    )
}

/// The pharmacy's (and the service's) date: London.
fn today() -> NaiveDate {
    sotto_tests::pharmacy_today()
}

impl World {
    async fn start() -> World {
        let app = TestApp::spawn_with(Backend::Sqlite, |c| {
            c.run_schedulers = false;
            c.heartbeat_interval = Duration::from_millis(500);
            c.service_phone = Some("0300 123 4567".into());
        })
        .await;
        let pharmacy = app.enrol_pharmacy("FA001", &[]).await;
        let clinician = app.staff("clinician", None).await;
        let keyworker = app.staff("keyworker", None).await;
        app.set_password(&clinician, PASSWORD).await;
        app.set_password(&keyworker, PASSWORD).await;
        World {
            app,
            pharmacy,
            clinician,
            keyworker,
        }
    }

    /// A person with a daily supervised prescription from `start` for `days` days.
    async fn person(
        &self,
        reference: &str,
        given: &str,
        family: &str,
        start: NaiveDate,
        days: i64,
    ) -> (String, String) {
        let mut body = service_user_body(
            reference,
            &self.pharmacy.id,
            &self.keyworker.id,
            &self.clinician.id,
        );
        body["given_name"] = json!(given);
        body["family_name"] = json!(family);
        let (status, su) = self
            .app
            .post(&self.keyworker.token, "/api/v1/service-users", body)
            .await;
        assert_eq!(status, 201, "{su}");
        let su = su["id"].as_str().unwrap().to_string();
        let (status, p) = self
            .app
            .post(
                &self.clinician.token,
                &format!("/api/v1/service-users/{su}/prescriptions"),
                prescription_body(start, days, every_day()),
            )
            .await;
        assert_eq!(status, 201, "{p}");
        (su, p["id"].as_str().unwrap().to_string())
    }
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .click()
        .await
        .unwrap();
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(
        format!("{}/../docs/screenshots/{name}", env!("CARGO_MANIFEST_DIR")),
        png,
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyworker_signs_in_places_a_hold_and_the_counter_shows_d() {
    let w = World::start().await;
    let (su, prescription) = w
        .person("SU-1042", "Alex", "Testperson", today() - Days::days(1), 14)
        .await;
    let counter = Counter::start(
        &w.pharmacy,
        w.app.broker_addr.port(),
        Duration::from_secs(60),
    )
    .await;
    counter
        .wait_for_code("SU-1042", "A", Duration::from_secs(20))
        .await;
    let browser = Browser::start().await;
    let c = &browser.client;

    sign_in(c, &w.app, &w.keyworker.email, PASSWORD).await;
    wait_for_path(c, "/console/caseload").await;
    let row = text(c, "tr[data-reference='SU-1042']").await;
    assert!(
        row.contains("Testperson, Alex") && row.contains('A'),
        "{row}"
    );

    click(c, "tr[data-reference='SU-1042'] a").await;
    wait_for_path(c, &format!("/console/people/{su}")).await;
    assert!(
        c.find(Locator::Id("regime-change")).await.is_err(),
        "a keyworker sees no regime-change form"
    );
    // Posting one anyway from this signed-in browser, with a valid CSRF token: refused. And a
    // hold posted without the token (as a forged cross-site form would be): refused too.
    let forged = c
        .execute_async(
            "const [regimeUrl, holdUrl, done] = arguments;
             const csrf = document.querySelector('input[name=csrf]').value;
             const post = (url, fields) => fetch(url, {method: 'POST', body: new URLSearchParams(fields)})
                 .then(r => r.status);
             Promise.all([
               post(regimeUrl, {csrf, effective_from: '2030-01-01', daily_dose_mg: '80', reason: 'x'}),
               post(holdUrl, {reason: 'forged'}),
             ]).then(done);",
            vec![
                json!(format!("/console/prescriptions/{prescription}/regime-changes")),
                json!(format!("/console/people/{su}/holds")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        forged,
        json!([403, 403]),
        "regime change by a keyworker; hold without CSRF"
    );
    let (_, status) = w
        .app
        .get(
            &w.keyworker.token,
            &format!("/api/v1/service-users/{su}/status"),
        )
        .await;
    assert_eq!(status["code"], "A", "nothing changed: {status}");
    c.find(Locator::Id("reason"))
        .await
        .unwrap()
        .send_keys("please ring us about your review")
        .await
        .unwrap();
    click(c, "#place-hold button").await;

    // The preview: the right person, and the code the pharmacy will see.
    let identity = text(c, "[data-identity]").await;
    for part in ["SU-1042", "Alex Testperson", "12 April 1985"] {
        assert!(identity.contains(part), "{identity}");
    }
    let preview = text(c, "[data-preview]").await;
    assert!(
        preview.contains("The pharmacy will see code D"),
        "{preview}"
    );
    click(c, "main form button[type=submit]").await;
    wait_for_path(c, &format!("/console/people/{su}")).await;

    counter
        .wait_for_code("SU-1042", "D", Duration::from_secs(1))
        .await;
    assert_eq!(text(c, "[data-code]").await, "D");
    assert!(text(c, "#holds + .scroll table").await.contains("active"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clinician_changes_a_regime_and_sees_the_new_calendar() {
    let w = World::start().await;
    let (su, _) = w
        .person("SU-1042", "Alex", "Testperson", today() - Days::days(1), 14)
        .await;
    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &w.app, &w.clinician.email, PASSWORD).await;
    wait_for_path(c, "/console/caseload").await;
    c.goto(&w.app.url(&format!("/console/people/{su}")))
        .await
        .unwrap();
    let tomorrow = (today() + Days::days(1)).to_string();
    let day = format!("[data-date='{tomorrow}']");
    assert!(text(c, &day).await.contains("60 mg"));

    // A date input's typing is locale-dependent; set the value as a date picker would.
    c.execute(
        "document.getElementById('effective_from').value = arguments[0];",
        vec![json!(tomorrow)],
    )
    .await
    .unwrap();
    c.find(Locator::Id("daily_dose_mg"))
        .await
        .unwrap()
        .send_keys("80")
        .await
        .unwrap();
    c.find(Locator::Id("regime-reason"))
        .await
        .unwrap()
        .send_keys("titration")
        .await
        .unwrap();
    click(c, "#regime-change button[type=submit]").await;
    let preview = text(c, "[data-preview]").await;
    assert!(preview.contains("will see code A"), "{preview}");
    assert!(
        text(c, &day).await.contains("80 mg"),
        "the preview shows the new dose"
    );
    click(c, "main form button[type=submit]").await;
    wait_for_path(c, &format!("/console/people/{su}")).await;

    assert!(
        text(c, &day).await.contains("80 mg"),
        "the calendar shows the new dose"
    );
    assert!(
        text(c, &format!("[data-date='{}']", today()))
            .await
            .contains("60 mg")
    );
    assert!(
        text(c, "#regimes + .scroll table")
            .await
            .contains("titration")
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_lock_the_sign_in() {
    let w = World::start().await;
    let browser = Browser::start().await;
    let c = &browser.client;
    for _ in 0..4 {
        sign_in(c, &w.app, &w.keyworker.email, "wrong wrong wrong").await;
        let alert = text(c, "[role=alert]").await;
        assert!(
            alert.contains("E-mail or password not recognised."),
            "{alert}"
        );
    }
    sign_in(c, &w.app, &w.keyworker.email, "wrong wrong wrong").await;
    assert!(
        text(c, "[role=alert]")
            .await
            .contains("locked for 15 minutes")
    );
    sign_in(c, &w.app, &w.keyworker.email, PASSWORD).await;
    assert!(
        text(c, "[role=alert]")
            .await
            .contains("locked for 15 minutes")
    );
    assert_eq!(c.current_url().await.unwrap().path(), "/console/sign-in");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whose_risk_view_shows_missed_doses_before_and_after_a_regime_change() {
    let w = World::start().await;
    let t = today();
    // Eight weeks of daily doses so far, in 14-day prescriptions (the longest allowed);
    // supervision tightened four weeks ago, inside the third.
    let (su, _) = w
        .person("SU-2001", "Robin", "Hartley", t - Days::days(57), 14)
        .await;
    let mut third = String::new();
    for (i, start) in [
        t - Days::days(43),
        t - Days::days(29),
        t - Days::days(15),
        t - Days::days(1),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, p) = w
            .app
            .post(
                &w.clinician.token,
                &format!("/api/v1/service-users/{su}/prescriptions"),
                prescription_body(start, 14, every_day()),
            )
            .await;
        assert_eq!(status, 201, "{p}");
        if i == 1 {
            third = p["id"].as_str().unwrap().to_string();
        }
    }
    // The change was made four weeks ago, when that day was still ahead; the API now refuses a
    // change dated in the past, so history is written as it would have been stored then.
    let changed = t - Days::days(28);
    w.app
        .execute_sql(&format!(
            "INSERT INTO regimes (id, prescription_id, effective_from, daily_dose_ug, collections, \
             reason, created_by, created_at) SELECT '{}', prescription_id, '{changed}', 40000, \
             collections, 'supervision tightened', created_by, '{changed}T09:00:00.000Z' \
             FROM regimes WHERE prescription_id = '{third}'",
            uuid::Uuid::new_v4()
        ))
        .await;
    // One missed dose in the four weeks before, six in the four weeks after (four of them in
    // the last fortnight).
    for ago in [40, 27, 20, 13, 9, 5, 1] {
        let date = t - Days::days(ago);
        w.app
            .execute_sql(&format!(
                "INSERT INTO missed_doses (id, service_user_id, pharmacy_id, date, dose_ug, reported_at) \
                 VALUES ('{}', '{su}', '{}', '{date}', 60000, '{date}T20:00:00.000Z')",
                uuid::Uuid::new_v4(),
                w.pharmacy.id
            ))
            .await;
    }
    let (held, _) = w
        .person("SU-2002", "Sam", "Okafor", t - Days::days(1), 14)
        .await;
    let (status, b) = w
        .app
        .post(
            &w.keyworker.token,
            &format!("/api/v1/service-users/{held}/holds"),
            json!({"reason": "review due"}),
        )
        .await;
    assert_eq!(status, 201, "{b}");
    w.person("SU-2003", "Jo", "Lindqvist", t - Days::days(1), 14)
        .await;

    let browser = Browser::start().await;
    let c = &browser.client;
    sign_in(c, &w.app, &w.keyworker.email, PASSWORD).await;
    wait_for_path(c, "/console/caseload").await;
    c.goto(&w.app.url("/console/caseload?sort=missed&dir=desc"))
        .await
        .unwrap();
    let first = text(c, "tbody tr:first-child").await;
    assert!(
        first.contains("SU-2001") && first.contains(" 4"),
        "most missed first: {first}"
    );
    assert!(
        text(c, "tr[data-reference='SU-2002']")
            .await
            .contains("attend")
    );
    screenshot(c, "console-caseload.png").await;

    c.goto(&w.app.url(&format!("/console/people/{su}")))
        .await
        .unwrap();
    assert!(
        text(c, &format!("[data-date='{}']", t - Days::days(1)))
            .await
            .contains("missed")
    );
    screenshot(c, "console-person.png").await;

    c.goto(&w.app.url(&format!("/console/people/{su}/risk")))
        .await
        .unwrap();
    let row = format!("tr[data-event='{changed}']");
    assert_eq!(
        text(c, &format!("{row} td[data-before]")).await,
        "1 missed of 28 due (3.6%)"
    );
    assert_eq!(
        text(c, &format!("{row} td[data-after]")).await,
        "6 missed of 28 due (21.4%)"
    );
    let svg = c
        .find(Locator::Css("svg.risk-chart"))
        .await
        .unwrap()
        .html(false)
        .await
        .unwrap();
    assert!(svg.contains(">3.6%<") && svg.contains(">21.4%<"), "{svg}");
    screenshot(c, "console-risk.png").await;

    // The service view adds up every regime change it can see: here just this one.
    c.goto(&w.app.url("/console/risk")).await.unwrap();
    let agg = "tr[data-aggregate='regime change']";
    assert_eq!(
        text(c, &format!("{agg} td[data-before]")).await,
        "1 missed of 28 due (3.6%)"
    );
    assert_eq!(
        text(c, &format!("{agg} td[data-after]")).await,
        "6 missed of 28 due (21.4%)"
    );
    browser.close().await;
}

/// What a screen reader and a keyboard user need, checked in the browser on every console page:
/// the page has a language and a title; every form control has a label; every button and link
/// has text; charts have a text alternative; body text meets WCAG AA contrast (4.5:1); and the
/// first Tab lands on a control that shows where the focus is.
const A11Y_AUDIT: &str = r#"
const problems = [];
const lum = (rgb) => {
  const [r, g, b] = rgb.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
  const p = m[1].split(',').map((x) => parseFloat(x)); return { rgb: p.slice(0, 3), a: p.length > 3 ? p[3] : 1 }; };
const background = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0.5) return c.rgb;
  }
  return [255, 255, 255];
};
if (!document.documentElement.lang) problems.push('no lang on <html>');
if (!document.title.trim()) problems.push('no <title>');
for (const el of document.querySelectorAll('input, select, textarea')) {
  if (el.type === 'hidden') continue;
  const named = el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
  if (!named) problems.push(`unlabelled ${el.tagName.toLowerCase()} #${el.id || el.name}`);
}
for (const el of document.querySelectorAll('button, a[href]')) {
  if (!(el.textContent.trim() || el.getAttribute('aria-label'))) problems.push(`${el.tagName} without text`);
}
for (const svg of document.querySelectorAll('svg')) {
  if (!(svg.querySelector('title') || svg.getAttribute('aria-label') || svg.getAttribute('aria-hidden') === 'true'))
    problems.push('svg without a text alternative');
}
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const seen = new Set();
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const el = n.parentElement;
  if (!n.textContent.trim() || seen.has(el) || el.closest('svg')) continue;
  seen.add(el);
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || style.display === 'none') continue;
  const fg = parse(style.color).rgb, bg = background(el);
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  const ratio = (hi + 0.05) / (lo + 0.05);
  if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} for "${n.textContent.trim().slice(0, 30)}"`);
}
return problems;
"#;

async fn audit(c: &Client, page: &str) {
    let problems = c.execute(A11Y_AUDIT, vec![]).await.unwrap();
    assert_eq!(problems, json!([]), "accessibility problems on {page}");
    // Keyboard: the first Tab reaches something the user can act on, with a visible focus ring.
    c.active_element()
        .await
        .unwrap()
        .send_keys("\u{E004}")
        .await
        .unwrap();
    let focused = c
        .execute(
            "const e = document.activeElement; const s = getComputedStyle(e);
             return [e.tagName, s.outlineStyle !== 'none' || s.boxShadow !== 'none'];",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        ["A", "BUTTON", "INPUT", "SELECT", "TEXTAREA"].contains(&focused[0].as_str().unwrap()),
        "Tab on {page} reached {focused}"
    );
    assert_eq!(focused[1], true, "no visible focus on {page}: {focused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_is_labelled_readable_and_reachable_by_keyboard() {
    let w = World::start().await;
    let (su, _) = w
        .person("SU-1042", "Alex", "Testperson", today() - Days::days(1), 14)
        .await;
    w.app.set_password(&w.app.admin, PASSWORD).await;
    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&w.app.url("/console/sign-in")).await.unwrap();
    audit(c, "sign-in").await;

    sign_in(c, &w.app, &w.keyworker.email, PASSWORD).await;
    wait_for_path(c, "/console/caseload").await;
    for page in [
        "/console/caseload".to_string(),
        format!("/console/people/{su}"),
        format!("/console/people/{su}/risk"),
        "/console/risk".to_string(),
    ] {
        c.goto(&w.app.url(&page)).await.unwrap();
        audit(c, &page).await;
    }
    click(c, "nav form button").await; // sign out
    sign_in(c, &w.app, &w.app.admin.email, PASSWORD).await;
    for page in ["/console/pharmacies", "/console/staff"] {
        c.goto(&w.app.url(page)).await.unwrap();
        audit(c, page).await;
    }
    browser.close().await;
}
