//! Another web page open in the counter PC's browser must not be able to change the counter's
//! records (docs/security.md, "The counter page and its API"). In real headless Chromium: a
//! page served from a second local server, on another host name and port, auto-submits a form
//! to `/supply`, fires `no-cors` fetches at `/api/supplies`, `/close-day` and `/api/close-day`,
//! and frames the counter. Nothing is recorded or closed and the frame is refused, while the
//! counter's own page still records a supply and closes the day.
//!
//! First the same page is pointed at a stand-in that records what it receives and sends no
//! security headers: Chromium does send every one of those requests and shows that frame, so
//! the refusals below are the counter's doing, not the browser's.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone};
use fantoccini::{Client, Locator};
use sotto_tests::browser::Browser;
use sotto_tests::counter::{Counter, FIXED_CLOCK_STALE_AFTER, TestClock};
use sotto_tests::hostile::PageServer;
use sotto_tests::push::{BrokerKind, PushWorld, REFERENCE};

/// The hostile page, aimed at the counter (or stand-in) on `target_port`.
fn hostile_page(target_port: u16, today: NaiveDate) -> String {
    let target = format!("http://127.0.0.1:{target_port}");
    let yesterday = today.pred_opt().unwrap();
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Win a prize</title></head>
<body><h1>You have won!</h1>
<iframe id="framed" src="{target}/?reference={REFERENCE}" width="600" height="300"></iframe>
<form id="supply" method="post" action="{target}/supply">
<input name="reference" value="{REFERENCE}"><input name="date" value="{today}">
<input name="supervised_taken" value="true"><input name="take_home_doses" value="0">
</form>
<script>
const post = (path, type, body) => fetch("{target}" + path,
  {{method: "POST", mode: "no-cors", headers: {{"Content-Type": type}}, body}});
Promise.allSettled([
  post("/api/supplies", "text/plain",
       JSON.stringify({{reference: "{REFERENCE}", date: "{today}", withheld_reason: "intoxicated"}})),
  post("/api/supplies", "application/json",
       JSON.stringify({{reference: "{REFERENCE}", date: "{today}", supervised_taken: true, take_home_doses: 0}})),
  post("/api/close-day", "text/plain", JSON.stringify({{date: "{today}", early: true}})),
  post("/api/close-day", "text/plain", JSON.stringify({{date: "{yesterday}"}})),
  post("/close-day", "application/x-www-form-urlencoded", "date={today}&early=yes"),
  post("/supply", "application/x-www-form-urlencoded",
       "reference={REFERENCE}&date={today}&why=intoxicated"),
]).then(() => {{
  document.title = "fired";
  setTimeout(() => document.getElementById("supply").submit(), 3000);
}});
</script></body></html>"#
    )
}

/// What the counter's own store holds: (supplies, closed days, the last close's who and early).
async fn counter_records(counter: &Counter) -> (i64, i64, Option<(String, bool)>) {
    use sqlx::Connection;
    let url = format!(
        "sqlite://{}?mode=ro",
        counter.data_dir().join("client.db").display()
    );
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let (supplies,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM supplies")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let (closed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM closed_days")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let last = sqlx::query_as("SELECT closed_by, early FROM closed_days ORDER BY date DESC")
        .fetch_optional(&mut db)
        .await
        .unwrap();
    (supplies, closed, last)
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the page shows an element matching `css` with exactly `text` (a page being left
/// counts as not yet).
async fn shows_text(c: &Client, css: &str, text: &str) -> bool {
    match c.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.is_ok_and(|t| t == text),
        Err(_) => false,
    }
}

/// Whether the first frame on the page shows an element matching `css`.
async fn frame_shows(c: &Client, css: &str) -> bool {
    c.enter_frame(0).await.unwrap();
    let found = c.find(Locator::Css(css)).await.is_ok();
    c.enter_parent_frame().await.unwrap();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_page_in_the_same_browser_records_nothing_closes_nothing_and_cannot_frame_the_counter()
 {
    let w = PushWorld::start(BrokerKind::Embedded).await;
    // 10:00 at the pharmacy, whatever the real time: the day is open, closing time not reached.
    // The service's messages carry the real time, up to eleven hours earlier: the data must
    // stay confirmed across the gap (FIXED_CLOCK_STALE_AFTER).
    let london = chrono_tz::Europe::London;
    let today = sotto_tests::pharmacy_today();
    let ten = london
        .from_local_datetime(&today.and_hms_opt(10, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&chrono::Utc);
    let counter = Counter::start_with_clock(
        &w.pharmacy,
        w.broker_port(),
        FIXED_CLOCK_STALE_AFTER,
        Some(TestClock::at(ten)),
    )
    .await;
    counter
        .wait_for_code(REFERENCE, "A", Duration::from_secs(20))
        .await;
    let browser = Browser::start().await;
    let c = &browser.client;

    // The control: aimed at a stand-in, the page's requests all arrive and its frame shows.
    let stand_in =
        PageServer::start("<p id=\"stand-in\">a counter without checks</p>".into()).await;
    let control = PageServer::start(hostile_page(stand_in.port, today)).await;
    c.goto(&format!("http://hostile.localhost:{}/", control.port))
        .await
        .unwrap();
    wait_until("the stand-in to be framed", async || {
        frame_shows(c, "#stand-in").await
    })
    .await;
    wait_until("every hostile request at the stand-in", async || {
        let seen = stand_in.seen();
        let posts = |path: &str| {
            seen.iter()
                .filter(|s| s.method == "POST" && s.path == path)
                .count()
        };
        posts("/api/supplies") == 2
            && posts("/api/close-day") == 2
            && posts("/close-day") == 1
            && posts("/supply") == 2
    })
    .await;

    // The attack on the real counter.
    let hostile = PageServer::start(hostile_page(counter.addr.port(), today)).await;
    c.goto(&format!("http://hostile.localhost:{}/", hostile.port))
        .await
        .unwrap();
    // The form waits three seconds after the fetches: time to look into the frame.
    wait_until("the fetches to be fired", async || {
        c.title().await.unwrap_or_default() == "fired"
    })
    .await;
    assert!(
        !frame_shows(c, "[data-code]").await,
        "the counter was shown inside another site's page"
    );
    wait_until("the form to be auto-submitted", async || {
        c.current_url().await.unwrap().path() == "/supply"
    })
    .await;
    let answer = browser.body_text().await;
    assert!(answer.contains("another web page"), "{answer}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(counter.status(REFERENCE).await.1["code"], "A");
    assert_eq!(
        counter_records(&counter).await,
        (0, 0, None),
        "nothing recorded, no day closed"
    );
    let missed = format!("/api/v1/service-users/{}/missed-doses", w.service_user);
    let (_, reported) = w.app.get(&w.keyworker.token, &missed).await;
    assert_eq!(reported, serde_json::json!([]), "no missed dose reported");

    // The counter's own page still works: a supply, then closing the day early, confirmed.
    c.goto(&counter.url(&format!("/?reference={REFERENCE}")))
        .await
        .unwrap();
    // Touch-sized controls (WCAG 2.5.8 asks 24 px; a counter's touch screen wants 44).
    for css in ["select", "form[action='/supply'] button"] {
        let (_, _, width, height) = c
            .find(Locator::Css(css))
            .await
            .unwrap()
            .rectangle()
            .await
            .unwrap();
        assert!(width >= 44.0 && height >= 44.0, "{css} is {width}×{height}");
    }
    browser.click("form[action='/supply'] button").await;
    wait_until("the supply to be shown", async || {
        shows_text(c, "[data-code]", "B").await
    })
    .await;
    browser.click(".end-of-day summary").await;
    browser.click(".end-of-day button").await;
    wait_until("the page to ask before closing early", async || {
        shows_text(c, "h1", "Close today early?").await
    })
    .await;
    browser.click("form[action='/close-day'] button").await;
    wait_until("the day to be closed", async || {
        c.current_url()
            .await
            .unwrap()
            .query()
            .is_some_and(|q| q.contains("done=closed"))
    })
    .await;
    assert_eq!(
        counter_records(&counter).await,
        (1, 1, Some(("counter_page".to_string(), true)))
    );
    browser.close().await;
}
