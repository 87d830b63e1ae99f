//! The counter page in real headless Chromium: a pharmacist searches, sees a neutral code and
//! never a reason, and is told plainly when the data is not confirmed.

use std::time::Duration;

use fantoccini::Locator;
use sotto_tests::browser::Browser;
use sotto_tests::push::{BrokerKind, PushWorld, REFERENCE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pharmacist_finds_a_person_sees_a_neutral_code_and_the_stale_marker() {
    let mut w = PushWorld::start(BrokerKind::Embedded).await;
    let stale_after = Duration::from_secs(2);
    let counter = w.counter(stale_after).await;
    counter
        .wait_for_code(REFERENCE, "A", Duration::from_secs(20))
        .await;
    w.place_hold().await;
    counter
        .wait_for_code(REFERENCE, "D", Duration::from_secs(1))
        .await;
    let browser = Browser::start().await;
    let c = &browser.client;

    // Search by reference, as typed at the counter.
    c.goto(&counter.url("/")).await.unwrap();
    let input = c.find(Locator::Id("reference")).await.unwrap();
    input.send_keys("su-1042").await.unwrap();
    input.send_keys("\u{E007}").await.unwrap(); // Enter submits the form
    let code = c
        .wait()
        .for_element(Locator::Css("[data-code]"))
        .await
        .unwrap();
    assert_eq!(code.text().await.unwrap(), "D");
    let body = browser.body_text().await;
    let lower = body.to_lowercase();
    for word in ["hold", "reason", "ring us", "review", "missed", "refused"] {
        assert!(
            !lower.contains(word),
            "the counter page says {word:?}:\n{body}"
        );
    }
    assert!(
        body.contains("0300 123 4567"),
        "the service's phone is shown with D:\n{body}"
    );
    assert!(
        c.find(Locator::Css(".stale")).await.is_err(),
        "fresh data carries no marker"
    );
    let png = c.screenshot().await.unwrap();
    std::fs::write(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/screenshots/counter-code-d.png"
        ),
        png,
    )
    .unwrap();

    // Search by family name and date of birth.
    c.goto(&counter.url("/?family_name=testperson&date_of_birth=1985-04-12"))
        .await
        .unwrap();
    let code = c.find(Locator::Css("[data-code]")).await.unwrap();
    assert_eq!(code.text().await.unwrap(), "D");

    // The server goes quiet: after the limit the page no longer vouches for the code.
    w.app.stop_server().await;
    let deadline = tokio::time::Instant::now() + stale_after * 5;
    let marker = loop {
        c.goto(&counter.url("/?reference=SU-1042")).await.unwrap();
        if let Ok(m) = c.find(Locator::Css(".stale")).await {
            break m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no stale marker after the limit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let text = marker.text().await.unwrap();
    assert!(text.contains("not confirmed since"), "{text}");
    let png = c.screenshot().await.unwrap();
    std::fs::write(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/screenshots/counter-stale.png"
        ),
        png,
    )
    .unwrap();
    browser.close().await;
}
