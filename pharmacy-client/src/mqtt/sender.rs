//! The reports sender: publishes the outbox (supplies, withheld instalments, missed doses,
//! closed days) to the reports topic at QoS 1, in batches, whenever connected and something is
//! pending, and again every few seconds until the server's `ReportAck` marks them done.
//!
//! The broker's QoS 1 is not the record (TECH.md: un-acked publishes are dropped when a session
//! is lost): the outbox is, and only the server's ack, sent after its commit, empties it. So a
//! report may arrive more than once; its `report_id` makes that harmless.

use std::collections::HashMap;
use std::sync::Arc;

use rumqttc::{AsyncClient, QoS};
use sotto_protocol::{ClientBody, ClientMessage, Report, encode, reports_topic};
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use super::LinkStatus;
use crate::store::Store;

/// The most reports in one message.
const BATCH: usize = 100;
/// How many pending reports one round looks at; the rest follow as acks come back.
const ROUND: u32 = 500;
/// How long a sent report waits for its ack before it is sent again.
const RETRY: Duration = Duration::from_secs(5);
/// After a failure to read the outbox, how long before trying again.
const STORE_RETRY: Duration = Duration::from_secs(2);

/// Runs until `shutdown`.
pub(super) async fn run(
    client: AsyncClient,
    store: Store,
    status: Arc<LinkStatus>,
    clock: Arc<dyn crate::clock::Clock>,
    pharmacy_id: String,
    shutdown: CancellationToken,
) {
    let topic = reports_topic(&pharmacy_id);
    // When each pending report (by client_seq) was last published on this connection.
    let mut sent: HashMap<i64, Instant> = HashMap::new();
    let mut connection = status.connections();
    let mut wake_at: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            () = status.reports.notified() => {},
            () = sleep_until(wake_at) => {},
        }
        wake_at = None;
        if !status.connected() {
            // Everything goes again once connected (the ConnAck wakes us).
            sent.clear();
            continue;
        }
        if status.connections() != connection {
            connection = status.connections();
            sent.clear();
        }
        let pending = match store.pending_reports(ROUND).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::error!(%error, "could not read the reports outbox");
                wake_at = Some(Instant::now() + STORE_RETRY);
                continue;
            }
        };
        sent.retain(|seq, _| pending.iter().any(|(s, _)| s == seq));
        let now = Instant::now();
        let due: Vec<(i64, Report)> = pending
            .into_iter()
            .filter(|(seq, _)| sent.get(seq).is_none_or(|at| now >= *at + RETRY))
            .collect();
        for batch in due.chunks(BATCH) {
            let mut message = ClientMessage::new(
                &pharmacy_id,
                ClientBody::Reports {
                    reports: batch.iter().map(|(_, r)| r.clone()).collect(),
                },
            );
            // This PC's clock, as on every message (the service compares it with its own).
            message.sent_at = clock.now();
            match client
                .publish(&topic, QoS::AtLeastOnce, false, encode(&message))
                .await
            {
                Ok(()) => {
                    tracing::debug!(reports = batch.len(), "reports sent");
                    for (seq, _) in batch {
                        sent.insert(*seq, now);
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "could not send reports");
                    break;
                }
            }
        }
        wake_at = sent.values().min().map(|at| *at + RETRY);
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
