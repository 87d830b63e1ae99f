//! The bare baselines every figure is compared with, measured on the same broker and database
//! in the same run: a QoS 1 publish → subscribe round trip, and single-row autocommit inserts.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sotto_server::sync::link::Endpoint;

use crate::report::histogram;

/// `n` QoS 1 round trips: one client publishes and is subscribed to the same topic; each sample
/// is publish → the message back from the broker. The server's own broker user is used (the
/// only one allowed a topic of its choosing), with a client id of our own. `nodelay` sets
/// TCP_NODELAY (rumqttc's default, which the server and client use, leaves Nagle on).
pub async fn mqtt_round_trips(
    endpoint: &Endpoint,
    n: usize,
    nodelay: bool,
) -> anyhow::Result<Histogram<u64>> {
    let mut opts = MqttOptions::new(
        format!("bench-rtt-{}-{nodelay}", std::process::id()),
        endpoint.host.clone(),
        endpoint.port,
    );
    opts.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true);
    if let Some(user) = &endpoint.username {
        opts.set_credentials(user.clone(), endpoint.password.clone().unwrap_or_default());
    }
    let (client, mut events) = AsyncClient::new(opts, 16);
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(nodelay);
    events.set_network_options(network);
    let topic = "sotto/v1/bench/rtt";
    client.subscribe(topic, QoS::AtLeastOnce).await?;
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = events.poll().await? {
            break;
        }
    }
    let mut h = histogram();
    for i in 0..n + 20 {
        let payload = i.to_string().into_bytes();
        let started = Instant::now();
        client
            .publish(topic, QoS::AtLeastOnce, false, payload.clone())
            .await?;
        loop {
            if let Event::Incoming(Packet::Publish(p)) = events.poll().await?
                && p.payload[..] == payload[..]
            {
                break;
            }
        }
        // The first few warm the connection up.
        if i >= 20 {
            h.record(started.elapsed().as_micros() as u64)?;
        }
    }
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
    Ok(h)
}

/// Single-row commits from one connection.
pub struct Commits {
    pub latency: Histogram<u64>,
    pub per_second: f64,
}

/// `n` single-row INSERTs, each its own (autocommit) transaction, from one connection of a
/// pool opened with the server's own options (SQLite: WAL, sqlx's default `synchronous=FULL`).
pub async fn single_row_commits(database_url: &str, n: usize) -> anyhow::Result<Commits> {
    let store = sotto_server::core::db::Store::connect(database_url).await?;
    let mut conn = store.pool().acquire().await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_commit (id BIGINT PRIMARY KEY, payload TEXT NOT NULL, \
         at TEXT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM bench_commit")
        .execute(&mut *conn)
        .await?;
    let mut latency = histogram();
    let started = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        sqlx::query("INSERT INTO bench_commit (id, payload, at) VALUES ($1, $2, $3)")
            .bind(i as i64)
            .bind("a report-sized payload of some fifty bytes or so.")
            .bind(sotto_server::core::db::now_text())
            .execute(&mut *conn)
            .await?;
        latency.record(t.elapsed().as_micros() as u64)?;
    }
    let per_second = n as f64 / started.elapsed().as_secs_f64();
    drop(conn);
    store.close().await;
    Ok(Commits {
        latency,
        per_second,
    })
}
