//! "The pharmacy has not been heard from" must be true: a counter that is connected but has
//! nothing to report answers every heartbeat, so its people's console pages carry no warning;
//! a counter that is killed is flagged within about two heartbeat intervals. On both brokers
//! and both databases.

use std::time::{Duration, Instant};

use sotto_tests::Backend;
use sotto_tests::console::{ConsoleClient, PASSWORD};
use sotto_tests::on_all_setups;
use sotto_tests::process::PharmacyProcess;
use sotto_tests::push::{BrokerKind, PushWorld, REFERENCE};

on_all_setups!(a_quiet_connected_counter_raises_no_warning_and_a_killed_one_does);

/// `PushWorld`'s heartbeat interval.
const HEARTBEAT: Duration = Duration::from_millis(500);

/// One setup at a time: the windows measured here are a second or two, and four servers, four
/// brokers and four counter processes at once on a two-core CI machine can stall a heartbeat
/// longer than that (it did once: a false "not heard from" for a connected counter).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn a_quiet_connected_counter_raises_no_warning_and_a_killed_one_does(
    kind: BrokerKind,
    backend: Backend,
) {
    let _alone = ONE_AT_A_TIME.lock().await;
    let w = PushWorld::start_on(kind, backend, 1).await;
    w.app.set_password(&w.keyworker, PASSWORD).await;
    let mut counter = PharmacyProcess::start(&w.pharmacy, w.broker_port()).await;
    let status = format!("/api/status?reference={REFERENCE}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = http.get(counter.url(&status)).send().await.unwrap();
        if res.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the counter never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let kw = ConsoleClient::signed_in(&w.app, &w.keyworker).await;
    let person = format!("/console/people/{}", w.service_user);

    // Quiet: nothing to report, no resync, for six heartbeat intervals (three times the limit).
    let quiet_until = Instant::now() + HEARTBEAT * 6;
    while Instant::now() < quiet_until {
        let page = kw.get(&person).await;
        assert_eq!(page.status, 200);
        assert!(
            !page.body.contains("data-stale"),
            "a connected counter is flagged as not heard from"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Gone: the warning shows within two intervals of the last answer (plus a little for the
    // last answer's age and this machine's scheduling).
    counter.kill_hard();
    let killed = Instant::now();
    loop {
        if kw.get(&person).await.body.contains("data-stale") {
            break;
        }
        assert!(
            killed.elapsed() < HEARTBEAT * 4,
            "a killed counter is still not flagged after {:?}",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        killed.elapsed() >= HEARTBEAT / 2,
        "flagged before two intervals could have passed: {:?}",
        killed.elapsed()
    );
}
