//! After a fault: wait until the counter agrees with the server, using the same check an
//! operator runs (`sotto-server admin check-pharmacy ID --counter-url URL`).

use std::time::{Duration, Instant};

use sotto_server::check::{Agreement, check_pharmacy};

/// Waits up to `within` for the counter at `counter_url` (e.g. `counter.url("")`; `None`: only
/// for the broker to have acknowledged every committed change) to show every person's server code and to have applied
/// every committed change (and reported everything it holds); returns the agreeing report and
/// how long it took. Panics with the last report if they never agree.
pub async fn wait_until_agreed(
    database_url: &str,
    pharmacy_id: &str,
    counter_url: Option<&str>,
    within: Duration,
) -> (Agreement, Duration) {
    let store = sotto_server::core::db::Store::connect(database_url)
        .await
        .expect("connect to the server's database");
    let started = Instant::now();
    let report = loop {
        let report = check_pharmacy(&store, pharmacy_id, counter_url)
            .await
            .expect("check-pharmacy runs");
        if report.agree {
            break report;
        }
        assert!(
            started.elapsed() < within,
            "counter and server still disagree after {within:?}: {}",
            serde_json::to_string(&report).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    store.close().await;
    (report, started.elapsed())
}

/// Changes committed for `pharmacy_id` that the broker has not yet acknowledged.
pub async fn unsent(database_url: &str, pharmacy_id: &str) -> i64 {
    let store = sotto_server::core::db::Store::connect(database_url)
        .await
        .expect("connect to the server's database");
    let report = check_pharmacy(&store, pharmacy_id, None)
        .await
        .expect("check-pharmacy runs");
    store.close().await;
    report.unsent
}
