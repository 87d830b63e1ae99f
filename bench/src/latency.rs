//! (1) Change → counter latency: from the API call that places or lifts a hold until the
//! pharmacy client (in-process, real store, real broker) shows the new code on `/api/status`.
//! The client is polled every millisecond, so figures carry up to ~1 ms of polling slack.

use std::time::{Duration, Instant};

use sotto_tests::push::{PushWorld, REFERENCE};

use crate::report::{Row, Table, dur, histogram, percentiles, times};
use crate::rig::{SETUPS, poll_until, setup_name};
use crate::{Scale, baseline};

pub async fn run(scale: Scale, table: &mut Table) -> anyhow::Result<()> {
    let n = scale.pick(200, 2000);
    for (backend, kind) in SETUPS {
        let setup = setup_name(backend, kind);
        eprintln!("   latency on {setup}: {n} changes");
        let w = PushWorld::start_on(kind, backend, 1).await;
        let counter = w.counter(Duration::from_secs(900)).await;
        counter
            .wait_for_code(REFERENCE, "A", Duration::from_secs(30))
            .await;
        let shows = |code: &'static str| {
            let counter = &counter;
            move || async move {
                let (status, body) = counter.status(REFERENCE).await;
                status == 200 && body["code"] == code
            }
        };
        let mut h = histogram();
        // The API call's own share (response received), to see where the time goes.
        let mut api = histogram();
        let mut hold: Option<String> = None;
        let warm_up = 20;
        for i in 0..n + warm_up {
            let started = Instant::now();
            let shown = match hold.take() {
                None => {
                    hold = Some(w.place_hold().await);
                    api.record(started.elapsed().as_micros() as u64)?;
                    poll_until(Duration::from_secs(20), shows("D")).await
                }
                Some(id) => {
                    w.lift_hold(&id).await;
                    api.record(started.elapsed().as_micros() as u64)?;
                    poll_until(Duration::from_secs(20), shows("A")).await
                }
            };
            anyhow::ensure!(shown, "the counter did not show change {i} within 20 s");
            if i >= warm_up {
                h.record(started.elapsed().as_micros() as u64)?;
            }
        }
        let endpoint = w
            .app
            .broker_endpoint
            .clone()
            .expect("the server is running");
        let mqtt = baseline::mqtt_round_trips(&endpoint, n, true).await?;
        let nagle = baseline::mqtt_round_trips(&endpoint, n.min(300), false).await?;
        let db = baseline::single_row_commits(&w.app.config.database_url, n).await?;
        let (p50, p99, max) = percentiles(&h);
        let (a50, a99, _) = percentiles(&api);
        let (m50, m99, _) = percentiles(&mqtt);
        let (_, n99, _) = percentiles(&nagle);
        let (d50, d99, _) = percentiles(&db.latency);
        let base99 = m99 + d99;
        table.push(Row {
            benchmark: format!("1. change → counter, {n} holds placed/lifted"),
            setup: setup.clone(),
            ours: format!(
                "p50 {} · p99 {} · max {} (of which the API call: p50 {} p99 {})",
                dur(p50),
                dur(p99),
                dur(max),
                dur(a50),
                dur(a99)
            ),
            baseline: format!(
                "MQTT QoS 1 RTT p50 {} p99 {} (without TCP_NODELAY: p99 {}) + 1-row commit p50 {} p99 {} = p99 {}",
                dur(m50),
                dur(m99),
                dur(n99),
                dur(d50),
                dur(d99),
                dur(base99)
            ),
            ratio: format!("p99 {}", times(p99.as_secs_f64(), base99.as_secs_f64())),
            target: "p99 ≤ ×2".into(),
            met: Some(p99.as_secs_f64() <= 2.0 * base99.as_secs_f64()),
        });
    }
    Ok(())
}
