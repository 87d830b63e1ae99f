//! (4) Reconnect storm: N lightweight pharmacy clients (rumqttc, each on its own credentials,
//! speaking the protocol as the real client does, signatures checked: on every CONNACK subscribe and send a
//! `ResyncRequest`, ask again after 10 s without a snapshot, back off 0.5 s doubling with ±20 %
//! jitter after a failed connection) all lose the broker at once — embedded: the server is
//! restarted; Mosquitto: the broker process is killed and started again. The figure is the time
//! from the drop until every client has a snapshot at its pharmacy's current `seq`; the
//! baseline, measured in the same storm, is the time until every client merely has its CONNACK.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sotto_protocol::{ClientBody, ClientMessage, ResyncReason, ServerBody, ServerMessage, encode};
use sotto_tests::counter::Enrolled;
use sqlx::Row as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Scale;
use crate::report::{Row, Table, dur, times};
use crate::rig::{Backend, BrokerKind, Rig, SETUPS, setup_name};
use crate::seed::{PEOPLE_PER_PHARMACY, seed};

const RESYNC_RETRY: Duration = Duration::from_secs(10);
const GIVE_UP: Duration = Duration::from_secs(180);

/// What a client reports to the conductor: (client, epoch, what happened).
enum Note {
    Connected(usize, u64),
    Synced(usize, u64),
}

pub async fn run(scale: Scale, table: &mut Table) -> anyhow::Result<()> {
    let n = scale.pick(200, 2000);
    // The storm is broker-bound, so in a full run Mosquitto is stormed on PostgreSQL only (each
    // Mosquitto storm of 2,000 takes about 90 s here; see docs/benchmarks.md).
    for (backend, kind) in SETUPS {
        if !scale.quick && (backend, kind) == (Backend::Sqlite, BrokerKind::Mosquitto) {
            continue;
        }
        let setup = setup_name(backend, kind);
        let mut rig = Rig::start(backend, kind).await;
        let store = rig.store().await?;
        let today = chrono::Utc::now().date_naive();
        let seeded = seed(
            store.pool(),
            "st",
            n,
            n * PEOPLE_PER_PHARMACY,
            &rig.clinician.id,
            &rig.keyworker.id,
            today,
        )
        .await?;
        rig.broker_learns_pharmacies().await;
        let mut target = Vec::with_capacity(n);
        for p in &seeded.pharmacies {
            let row = sqlx::query("SELECT seq FROM pharmacies WHERE id = $1")
                .bind(&p.id)
                .fetch_one(store.pool())
                .await?;
            target.push(row.try_get::<i64, _>("seq")? as u64);
        }
        store.close().await;
        let target = Arc::new(target);
        let epoch = Arc::new(AtomicU64::new(1));
        let stop = CancellationToken::new();
        let (notes_tx, mut notes) = mpsc::unbounded_channel();
        eprintln!(
            "   storm on {setup}: {n} clients, {} people",
            n * PEOPLE_PER_PHARMACY
        );
        let started = Instant::now();
        for (i, p) in seeded.pharmacies.iter().enumerate() {
            tokio::spawn(client(
                i,
                p.clone(),
                rig.broker_port(),
                target.clone(),
                epoch.clone(),
                notes_tx.clone(),
                stop.clone(),
            ));
        }
        let first = wait_all(&mut notes, n, 1, started, false).await;
        eprintln!(
            "   warm-up: all {n} connected in {}",
            dur(first.all_connected)
        );

        epoch.store(2, Ordering::SeqCst);
        let dropped = Instant::now();
        match kind {
            BrokerKind::Embedded => {
                rig.app.stop_server().await;
                rig.app.start_server().await;
            }
            BrokerKind::Mosquitto => {
                let m = rig.mosquitto.as_mut().expect("mosquitto");
                m.kill().await;
                m.start_again().await;
            }
        }
        let storm = wait_all(&mut notes, n, 2, dropped, true).await;
        stop.cancel();
        let all = storm.synced == n;
        table.push(Row {
            benchmark: format!("4. reconnect storm, {n} clients"),
            setup,
            ours: if all {
                format!("all resynced in {}", dur(storm.all_synced))
            } else {
                format!(
                    "only {} of {n} resynced within {}",
                    storm.synced,
                    dur(GIVE_UP)
                )
            },
            baseline: format!("all reconnected (CONNACK) in {}", dur(storm.all_connected)),
            ratio: times(
                storm.all_synced.as_secs_f64(),
                storm.all_connected.as_secs_f64(),
            ),
            target: if n >= 2000 {
                "< 30 s for 2,000".into()
            } else {
                "< 30 s for 2,000 (quick: fewer)".into()
            },
            met: Some(all && storm.all_synced < Duration::from_secs(30) && n >= 2000),
        });
        // Let the clients' connections close before the next setup starts.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

struct Waited {
    synced: usize,
    all_synced: Duration,
    all_connected: Duration,
}

/// Waits until every client has connected in `epoch` and, with `synced`, has its snapshot.
async fn wait_all(
    notes: &mut mpsc::UnboundedReceiver<Note>,
    n: usize,
    epoch: u64,
    since: Instant,
    synced_too: bool,
) -> Waited {
    let mut connected = vec![false; n];
    let mut synced = vec![false; n];
    let (mut c, mut s) = (0, 0);
    let mut w = Waited {
        synced: 0,
        all_synced: GIVE_UP,
        all_connected: GIVE_UP,
    };
    let deadline = since + GIVE_UP;
    while (synced_too && s < n) || c < n {
        let note = match tokio::time::timeout_at(deadline.into(), notes.recv()).await {
            Ok(Some(note)) => note,
            _ => break,
        };
        match note {
            Note::Connected(i, e) if e == epoch && !connected[i] => {
                connected[i] = true;
                c += 1;
                if c == n {
                    w.all_connected = since.elapsed();
                }
            }
            Note::Synced(i, e) if e == epoch && !synced[i] => {
                synced[i] = true;
                s += 1;
                if s == n {
                    w.all_synced = since.elapsed();
                }
            }
            _ => {}
        }
    }
    w.synced = s;
    w
}

/// One lightweight pharmacy client.
async fn client(
    i: usize,
    pharmacy: Enrolled,
    port: u16,
    target: Arc<Vec<u64>>,
    epoch: Arc<AtomicU64>,
    notes: mpsc::UnboundedSender<Note>,
    stop: CancellationToken,
) {
    let mut opts = MqttOptions::new(
        sotto_protocol::pharmacy_client_id(&pharmacy.id),
        "127.0.0.1",
        port,
    );
    // As the real client: a persistent session, manual acks are not needed here.
    opts.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(false)
        .set_max_packet_size(
            sotto_protocol::MAX_MESSAGE_BYTES,
            sotto_protocol::MAX_MESSAGE_BYTES,
        )
        .set_credentials(&pharmacy.mqtt_username, &pharmacy.mqtt_password);
    let (client, mut events) = AsyncClient::new(opts, 16);
    let Ok(key) = pharmacy.server_key.parse::<sotto_protocol::PublicKey>() else {
        return;
    };
    let state = sotto_protocol::state_topic(&pharmacy.id);
    let reports = sotto_protocol::reports_topic(&pharmacy.id);
    let resync = encode(&ClientMessage::new(
        &pharmacy.id,
        ClientBody::ResyncRequest {
            last_seq: None,
            reason: ResyncReason::Connected,
        },
    ));
    let mut backoff = Duration::from_millis(500);
    // The epoch of the current connection, and whether it has its snapshot yet.
    let mut session: Option<(u64, bool)> = None;
    let mut retry_at = tokio::time::Instant::now() + Duration::from_secs(3600);
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(retry_at) => {
                retry_at = tokio::time::Instant::now() + RESYNC_RETRY;
                if matches!(session, Some((_, false))) {
                    let _ = client.try_publish(&reports, QoS::AtLeastOnce, false, resync.clone());
                }
                continue;
            }
            e = events.poll() => e,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_millis(500);
                let e = epoch.load(Ordering::SeqCst);
                session = Some((e, false));
                let _ = notes.send(Note::Connected(i, e));
                let _ = client.try_subscribe(&state, QoS::AtLeastOnce);
                // The warm-up connection (epoch 1) only connects: the storm is what we measure,
                // and 2,000 initial snapshots would only lengthen the run.
                if e > 1 {
                    let _ = client.try_publish(&reports, QoS::AtLeastOnce, false, resync.clone());
                    retry_at = tokio::time::Instant::now() + RESYNC_RETRY;
                } else {
                    session = Some((e, true));
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if let Ok(ServerMessage {
                    body: ServerBody::Snapshot { seq, .. },
                    ..
                }) = sotto_protocol::open(&p.payload, &key)
                    && seq >= target[i]
                    && let Some((e, synced)) = session.as_mut()
                    && !*synced
                {
                    *synced = true;
                    let _ = notes.send(Note::Synced(i, *e));
                }
            }
            Ok(_) => {}
            Err(_) => {
                session = None;
                let jitter = RandomState::new().hash_one(i) % 401;
                let wait = backoff.mul_f64(0.8 + jitter as f64 / 1000.0);
                backoff = (backoff * 2).min(Duration::from_secs(30));
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    let _ = client.try_disconnect();
}
