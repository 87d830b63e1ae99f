//! Messages from pharmacies: resync requests, reports from the counter, and answers to
//! heartbeats. Each is checked against the topic it came on, handled, then acknowledged; every
//! valid one counts as contact (so "last heard" means the counter is really there).

use rumqttc::Publish;
use sotto_protocol::{ClientBody, ClientMessage, ServerBody, ServerMessage, decode, encode};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Sync;
use crate::core::counter_state as state;
use crate::core::db;
use crate::error::{Error, Result};

pub async fn run(sync: Sync, mut incoming: mpsc::Receiver<Publish>, shutdown: CancellationToken) {
    loop {
        let publish = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = incoming.recv() => match p { Some(p) => p, None => break },
        };
        match handle(&sync, &publish).await {
            Ok(()) => sync.link.ack(&publish).await,
            Err(Rejected(reason)) => {
                // Garbage is acknowledged too: redelivering it forever helps no one.
                tracing::warn!(topic = %publish.topic, %reason, "rejected a pharmacy message");
                sync.link.ack(&publish).await;
            }
        }
    }
}

/// How long an ack waits for the relay to publish the deltas the reports caused.
const ACK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

struct Rejected(String);

impl From<Error> for Rejected {
    fn from(e: Error) -> Self {
        Rejected(e.to_string())
    }
}

async fn handle(sync: &Sync, publish: &Publish) -> std::result::Result<(), Rejected> {
    let from = sotto_protocol::pharmacy_of_reports_topic(&publish.topic)
        .ok_or_else(|| Rejected("not a reports topic".into()))?;
    let msg: ClientMessage = decode(&publish.payload).map_err(|e| Rejected(e.to_string()))?;
    // The broker's ACL binds a pharmacy to its own topic; the payload must agree with it.
    if msg.pharmacy_id != from {
        return Err(Rejected("pharmacy id does not match the topic".into()));
    }
    let resync = matches!(msg.body, ClientBody::ResyncRequest { .. });
    if let Err(e) = record_contact(&sync.store, from, resync, msg.sent_at).await {
        // Telemetry only: a failure here must not stop the message being handled.
        tracing::warn!(pharmacy_id = from, error = %e, "could not record pharmacy contact");
    }
    match msg.body {
        ClientBody::ResyncRequest { .. } => {
            send_snapshot(sync, from).await?;
        }
        // Contact, recorded above, is all a heartbeat's answer says.
        ClientBody::HeartbeatAck { .. } => {}
        ClientBody::Reports { reports } => {
            let acked = ingest_all(sync, from, &reports).await;
            // The ack goes behind any delta these reports caused (a safety hold): the client
            // keeps its own code E until it has seen the server's word after the ack.
            if let Err(e) = crate::core::outbox::wait_until_sent(&sync.store, from, ACK_WAIT).await
            {
                tracing::debug!(error = %e, "acking before the outbox caught up");
            }
            if !acked.is_empty() {
                let ack = ServerMessage::new(from, ServerBody::ReportAck { report_ids: acked });
                // Not waiting on the PUBACK is fine: an ack lost here makes the client resend,
                // and the resent reports are recognised as duplicates and acked again.
                sync.link
                    .publish(sotto_protocol::state_topic(from), encode(&ack))
                    .await;
            }
        }
    }
    Ok(())
}

/// Notes when a pharmacy was last heard from (the console's "last synced" and connection state).
/// Not audited and outside the writers' lock: it is telemetry about the link, not a change of
/// anyone's treatment, and it must not queue behind clinical writes.
/// The message's `sent_at` against our clock tells how far the pharmacy PC's clock is out.
async fn record_contact(
    store: &db::Store,
    pharmacy_id: &str,
    resync: bool,
    sent_at: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let received = chrono::Utc::now();
    let now = received.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let skew_ms = (sent_at - received).num_milliseconds();
    sqlx::query(
        "INSERT INTO pharmacy_contact (pharmacy_id, last_message_at, last_resync_at, clock_skew_ms) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (pharmacy_id) DO UPDATE SET \
         last_message_at = excluded.last_message_at, \
         last_resync_at = COALESCE(excluded.last_resync_at, pharmacy_contact.last_resync_at), \
         clock_skew_ms = excluded.clock_skew_ms",
    )
    .bind(pharmacy_id)
    .bind(&now)
    .bind(resync.then_some(now.clone()))
    .bind(skew_ms)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// The most reports stored in one transaction: a client sends at most 100 in a message; a
/// larger message is stored in parts, so no batch holds the writers' lock for long.
const BATCH: usize = 100;

/// Stores the reports, a batch to a transaction; returns the ids that may be acked (stored,
/// duplicates, and reports refused for good), only once their transaction has committed. A
/// report that hit a database error is not acked, so the client sends it again; if a batch's
/// transaction fails as a whole, none of its reports is acked.
async fn ingest_all(
    sync: &Sync,
    pharmacy_id: &str,
    reports: &[sotto_protocol::Report],
) -> Vec<String> {
    use crate::core::dispensing::ingest::{Outcome, ingest_batch};
    let mut acked = Vec::with_capacity(reports.len());
    for batch in reports.chunks(BATCH) {
        let outcomes = match ingest_batch(&sync.store, &sync.alerts, pharmacy_id, batch).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                tracing::warn!(pharmacy_id, error = %e, reports = batch.len(), "could not store a batch of counter reports; the client will resend");
                continue;
            }
        };
        for (report, outcome) in batch.iter().zip(outcomes) {
            match outcome {
                Ok(Outcome::Stored) | Ok(Outcome::Duplicate) => {
                    acked.push(report.report_id.clone())
                }
                Ok(Outcome::Refused(why)) => {
                    tracing::warn!(pharmacy_id, report_id = %report.report_id, %why, "refused a counter report");
                    acked.push(report.report_id.clone());
                }
                Err(e) => {
                    tracing::warn!(pharmacy_id, error = %e, "could not store a counter report; the client will resend");
                }
            }
        }
    }
    acked
}

/// Sends the pharmacy everything it needs, as of its current `seq`.
pub async fn send_snapshot(sync: &Sync, pharmacy_id: &str) -> Result<()> {
    let body = snapshot(sync, pharmacy_id).await?;
    let seq = body.seq().unwrap_or(0);
    let message = ServerMessage::new(pharmacy_id, body);
    let topic = sotto_protocol::state_topic(pharmacy_id);
    if !sync
        .link
        .publish_acked(topic.clone(), encode(&message))
        .await
    {
        tracing::warn!(
            pharmacy_id,
            "snapshot not acknowledged; the client will ask again"
        );
        return Ok(());
    }
    // A delta committed after the snapshot was read may have overtaken it on the wire and been
    // dropped by the client; send any such deltas again, now behind the snapshot. Duplicates
    // are harmless (the client ignores seq <= last).
    for p in crate::core::outbox::after(sync.store.pool(), pharmacy_id, seq as i64).await? {
        sync.link
            .publish_acked(topic.clone(), p.payload.into_bytes())
            .await;
    }
    Ok(())
}

/// A consistent snapshot: read under the writers' lock so `seq` and the people agree.
async fn snapshot(sync: &Sync, pharmacy_id: &str) -> Result<ServerBody> {
    let mut w = sync.store.write().await?;
    let pharmacy = db::pharmacies::get(&mut *w.tx, pharmacy_id)
        .await?
        .ok_or(Error::NotFound("pharmacy"))?;
    let seq: i64 = {
        use sqlx::Row;
        sqlx::query("SELECT seq FROM pharmacies WHERE id = $1")
            .bind(pharmacy_id)
            .fetch_one(&mut *w.tx)
            .await?
            .try_get("seq")?
    };
    let info = state::pharmacy_info(&mut w.tx, &pharmacy, sync.service_phone.as_deref()).await?;
    let mut people = Vec::new();
    for id in state::people_of(&mut w.tx, pharmacy_id).await? {
        people.push(state::person_state(&mut w.tx, &pharmacy, &id).await?);
    }
    drop(w); // read only: rolls back, releasing the lock
    Ok(ServerBody::Snapshot {
        seq: seq as u64,
        pharmacy: info,
        people,
    })
}
