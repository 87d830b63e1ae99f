//! Today's list in real headless Chromium on an old counter PC's screen (1024×768): the home
//! page lists who is due with their containers, the print view is the plain preparation
//! sheet, and a supply recorded from the list turns its row to "supplied" with no button left.
//! The list and the sheet also pass the page checks every counter state passes (no overflow
//! at 1280, 390 and 320 px, 24 px targets, axe-core, the Nu Html Checker).

use std::time::Duration;

use chrono::Datelike;
use fantoccini::Locator;
use serde_json::json;
use sotto_tests::browser::{Browser, text, wait_for_path};
use sotto_tests::push::{BrokerKind, PushWorld, REFERENCE};
use sotto_tests::screens::{Screens, source};
use sotto_tests::{WEEKDAYS, prescription_body, service_user_body};

/// Another person at the counter's pharmacy, on `collections` from today.
async fn person(w: &PushWorld, reference: &str, collections: serde_json::Value) -> String {
    let body = service_user_body(reference, &w.pharmacy.id, &w.keyworker.id, &w.clinician.id);
    let (status, su) = w
        .app
        .post(&w.keyworker.token, "/api/v1/service-users", body)
        .await;
    assert_eq!(status, 201, "{su}");
    let su = su["id"].as_str().unwrap().to_string();
    let today = sotto_tests::pharmacy_today();
    let (status, p) = w
        .app
        .post(
            &w.clinician.token,
            &format!("/api/v1/service-users/{su}/prescriptions"),
            prescription_body(today, 14, collections),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    su
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_today_list_on_an_old_pc_prepares_prints_and_records_a_supply() {
    let w = PushWorld::start(BrokerKind::Embedded).await;
    let weekday = WEEKDAYS[sotto_tests::pharmacy_today()
        .weekday()
        .num_days_from_monday() as usize];
    // A week's collection today: one dose taken here and six to take home.
    person(
        &w,
        "SU-2001",
        json!([{"weekday": weekday, "days": 7, "supervised": true}]),
    )
    .await;
    let held = person(&w, "SU-2002", sotto_tests::every_day_supervised()).await;
    let (status, hold) = w
        .app
        .post(
            &w.clinician.token,
            &format!("/api/v1/service-users/{held}/holds"),
            json!({"reason": "review due", "kind": "attend"}),
        )
        .await;
    assert_eq!(status, 201, "{hold}");
    let counter = w.counter(Duration::from_secs(3600)).await;
    for (reference, code) in [(REFERENCE, "A"), ("SU-2001", "A"), ("SU-2002", "D")] {
        counter
            .wait_for_code(reference, code, Duration::from_secs(20))
            .await;
    }
    let b = Browser::start().await;
    let c = &b.client;

    // The page checks every counter state passes, on the list and the sheet.
    let mut s = Screens::new();
    c.goto(&counter.url("/")).await.unwrap();
    s.check(&b, "today's list", source(c).await).await;
    c.goto(&counter.url("/today/print")).await.unwrap();
    s.check(&b, "preparation sheet", source(c).await).await;

    // The old PC: 1024×768.
    c.set_window_size(1024, 768).await.unwrap();
    c.goto(&counter.url("/")).await.unwrap();
    let row = |r: &str| format!("tr[data-reference='{r}']");
    assert_eq!(
        text(c, &format!("{} [data-containers]", row("SU-2001"))).await,
        "7",
        "one measure and six take-home containers"
    );
    assert_eq!(
        text(c, &format!("{} [data-containers]", row(REFERENCE))).await,
        "1"
    );
    assert_eq!(
        text(c, &format!("{} [data-code]", row("SU-2002"))).await,
        "D"
    );
    let body = b.body_text().await;
    let lower = body.to_lowercase();
    for word in ["hold", "reason", "missed", "refused"] {
        assert!(!lower.contains(word), "the list says {word:?}:\n{body}");
    }
    let wide = c
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(wide, json!(false), "the list fits 1024 px");
    // The row's button is on screen without scrolling sideways.
    let (x, _, width, height) = c
        .find(Locator::Css(&format!("{} button", row(REFERENCE))))
        .await
        .unwrap()
        .rectangle()
        .await
        .unwrap();
    assert!(
        x + width <= 1024.0 && height >= 44.0,
        "button at {x}+{width}, {height} high"
    );
    let png = c.screenshot().await.unwrap();
    std::fs::write(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/screenshots/counter-today-list.png"
        ),
        png,
    )
    .unwrap();

    // The print view: the sheet, black on white, no buttons, a line for who prepared it.
    b.click("a[href^='/today/print']").await;
    wait_for_path(c, "/today/print").await;
    assert!(c.find(Locator::Css("button")).await.is_err(), "no buttons");
    assert!(c.find(Locator::Css("form")).await.is_err(), "no forms");
    let sheet = b.body_text().await;
    assert!(
        sheet.contains("Preparation sheet") && sheet.contains("Prepared by"),
        "{sheet}"
    );
    assert_eq!(
        c.find_all(Locator::Css("tbody tr")).await.unwrap().len(),
        3,
        "one row per person"
    );
    let colours = c
        .execute(
            "const s = getComputedStyle(document.querySelector('main'));
             return [s.color, getComputedStyle(document.body).backgroundColor];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(colours, json!(["rgb(0, 0, 0)", "rgb(255, 255, 255)"]));

    // Record a supply from the list, in one step: the row says supplied, its button is gone.
    c.goto(&counter.url("/")).await.unwrap();
    b.click(&format!("{} button", row(REFERENCE))).await;
    wait_for_path(c, "/today").await;
    assert!(
        text(c, &format!("{} [data-supplied]", row(REFERENCE)))
            .await
            .starts_with("Supplied at"),
    );
    assert!(
        c.find(Locator::Css(&format!("{} button", row(REFERENCE))))
            .await
            .is_err(),
        "no second button"
    );
    assert!(b.body_text().await.contains("Recorded: supplied."));
    assert!(
        c.find(Locator::Css(&format!("{} button", row("SU-2001"))))
            .await
            .is_ok(),
        "the others can still be recorded"
    );
    let (_, status) = counter.status(REFERENCE).await;
    assert_eq!(status["code"], "B", "{status}");
    b.close().await;
    s.validate_html();
}
