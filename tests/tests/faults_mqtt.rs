//! Faults between the server, the broker and the counter, with figures: a broker restarted in the
//! middle of a burst of changes, and a network cut longer than the keep-alive. After each, the
//! operator's check (`admin check-pharmacy`) must find the counter agreeing with the server.
//! Every scenario runs on both brokers and both databases.

use std::time::{Duration, Instant};

use sotto_tests::Backend;
use sotto_tests::agreement::{unsent, wait_until_agreed};
use sotto_tests::counter::Counter;
use sotto_tests::on_all_setups;
use sotto_tests::proxy::Proxy;
use sotto_tests::push::{BrokerKind, PushWorld, REFERENCE};

on_all_setups!(
    a_broker_restart_mid_burst_loses_no_change,
    a_network_cut_longer_than_the_keep_alive_heals_by_itself
);

/// Changes in the burst (odd: it ends with a hold in place, so the final code differs from the
/// first).
const BURST: usize = 301;
/// How long recovery may take before the test calls it lost.
const RECOVERY: Duration = Duration::from_secs(60);

async fn a_broker_restart_mid_burst_loses_no_change(kind: BrokerKind, backend: Backend) {
    let mut w = PushWorld::start_on(kind, backend, 1).await;
    let counter = w.counter(Duration::from_secs(900)).await;
    counter.wait_for_code(REFERENCE, "A", RECOVERY).await;

    let started = Instant::now();
    let (mut open, mut made, mut made_while_down, mut unsent_at_restart) = (None, 0, 0, 0);
    for i in 0..BURST {
        if i == BURST / 3 {
            unsent_at_restart = unsent(&w.app.config.database_url, &w.pharmacy.id).await;
            match kind {
                BrokerKind::Embedded => {
                    // The embedded broker lives in the server: it restarts when the server does.
                    w.app.stop_server().await;
                    w.app.start_server().await;
                }
                BrokerKind::Mosquitto => {
                    // No persistence: whatever Mosquitto held is gone. The server keeps
                    // accepting changes while its broker is down; they wait in the outbox.
                    w.mosquitto.as_mut().unwrap().kill().await;
                    for _ in 0..BURST / 3 {
                        open = flip(&w, open).await;
                        made += 1;
                        made_while_down += 1;
                    }
                    w.mosquitto.as_mut().unwrap().start_again().await;
                }
            }
        }
        if made == BURST {
            break;
        }
        open = flip(&w, open).await;
        made += 1;
    }
    assert_eq!(made, BURST);
    assert!(open.is_some(), "the burst ends with a hold in place");

    let (report, took) = wait_until_agreed(
        &w.app.config.database_url,
        &w.pharmacy.id,
        Some(&counter.url("")),
        RECOVERY,
    )
    .await;
    let (_, status) = counter.status(REFERENCE).await;
    assert_eq!(status["code"], "D", "the last change of the burst shows");
    println!(
        "faults: {kind:?} broker on {backend:?} restarted after {} of {BURST} changes \
         ({unsent_at_restart} not yet acknowledged by the broker, {made_while_down} made while it \
         was down); counter agreed {took:?} after the burst; server seq {} = counter seq {}; \
         people disagreeing: {}; changes lost: 0; burst took {:?}",
        BURST / 3,
        report.server_seq,
        report.counter.as_ref().map_or(-1, |c| c.last_seq),
        report.disagreements.len(),
        started.elapsed()
    );
}

/// Places a hold when none is open, else lifts it: one change.
async fn flip(w: &PushWorld, open: Option<String>) -> Option<String> {
    match open {
        None => Some(w.place_hold().await),
        Some(h) => {
            w.lift_hold(&h).await;
            None
        }
    }
}

/// The counter's MQTT keep-alive in this scenario, and how long the line stays dead.
const KEEP_ALIVE: Duration = Duration::from_secs(2);
const CUT: Duration = Duration::from_secs(10);
/// Shorter than the cut: the counter must say its codes are not confirmed.
const STALE_AFTER: Duration = Duration::from_secs(4);

async fn a_network_cut_longer_than_the_keep_alive_heals_by_itself(
    kind: BrokerKind,
    backend: Backend,
) {
    let w = PushWorld::start_on(kind, backend, 1).await;
    let proxy = Proxy::start(([127, 0, 0, 1], w.broker_port()).into()).await;
    let counter = Counter::start_adjusted(&w.pharmacy, proxy.port(), STALE_AFTER, None, |c| {
        c.keep_alive = KEEP_ALIVE;
    })
    .await;
    counter.wait_for_code(REFERENCE, "A", RECOVERY).await;
    let seq_before = counter.health().await["last_seq"].clone();

    proxy.cut();
    let cut_at = Instant::now();
    // The service carries on: a hold, a dose change, a lift, another hold.
    let hold = w.place_hold().await;
    w.change_dose(75.0).await;
    w.lift_hold(&hold).await;
    w.place_hold().await;
    let during_cut = 4;
    tokio::time::sleep_until((cut_at + CUT).into()).await;
    let health = counter.health().await;
    let (_, shown) = counter.status(REFERENCE).await;
    assert_eq!(health["last_seq"], seq_before, "nothing crossed the cut");
    assert_eq!(
        health["connected"], false,
        "the counter noticed the dead line by keep-alive: {health}"
    );
    assert_eq!(
        shown["stale"], true,
        "the counter says its code is not confirmed: {shown}"
    );

    proxy.heal();
    let (report, took) = wait_until_agreed(
        &w.app.config.database_url,
        &w.pharmacy.id,
        Some(&counter.url("")),
        RECOVERY,
    )
    .await;
    // Messages the broker queued during the cut carry their old send times: only the next
    // heartbeat confirms the data as current again.
    counter
        .wait_for(REFERENCE, RECOVERY, "code D, confirmed again", |s| {
            s["code"] == "D" && s["stale"] == false
        })
        .await;
    println!(
        "faults: network cut {CUT:?} between counter and {kind:?} broker on {backend:?} (keep-alive \
         {KEEP_ALIVE:?}): {during_cut} changes made during the cut; counter disconnected and stale \
         at the end of it; {} TCP connections through the cut line; agreed {took:?} after healing; \
         server seq {} = counter seq; people disagreeing: {}; changes lost: 0",
        proxy.connections(),
        report.server_seq,
        report.disagreements.len()
    );
}

/// The operator's check names the person the counter shows wrongly, and says so in its exit
/// status; once the counter has caught up it agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_pharmacy_names_each_person_the_counter_shows_wrongly() {
    let w = PushWorld::start_on(BrokerKind::Embedded, Backend::Sqlite, 1).await;
    let proxy = Proxy::start(([127, 0, 0, 1], w.broker_port()).into()).await;
    let counter = Counter::start(&w.pharmacy, proxy.port(), Duration::from_secs(900)).await;
    counter.wait_for_code(REFERENCE, "A", RECOVERY).await;
    let check = || async {
        let mut out = Vec::new();
        let code = sotto_server::cli::run_admin(
            &w.app.config,
            sotto_server::cli::Admin::CheckPharmacy {
                id: w.pharmacy.id.clone(),
                counter_url: Some(counter.url("")),
            },
            &mut out,
        )
        .await
        .expect("check-pharmacy runs");
        let report: serde_json::Value = serde_json::from_slice(&out).expect("one JSON report");
        (code == std::process::ExitCode::SUCCESS, report)
    };

    proxy.cut();
    w.place_hold().await;
    let (ok, report) = check().await;
    assert!(
        !ok,
        "a counter still showing A for a held person must fail the check"
    );
    assert_eq!(report["agree"], false, "{report}");
    assert_eq!(
        report["disagreements"],
        serde_json::json!([{"reference": REFERENCE, "server": "D", "counter": "A"}]),
        "{report}"
    );
    assert!(report["server_seq"].as_i64() > report["counter"]["last_seq"].as_i64());

    proxy.heal();
    counter.wait_for_code(REFERENCE, "D", RECOVERY).await;
    let deadline = Instant::now() + RECOVERY;
    loop {
        let (ok, report) = check().await;
        if ok {
            assert_eq!(report["disagreements"], serde_json::json!([]));
            break;
        }
        assert!(Instant::now() < deadline, "never agreed: {report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
