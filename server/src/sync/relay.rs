//! Publishes the outbox: oldest unsent first, one pharmacy's messages in `seq` order, each marked
//! sent only after the broker's PUBACK. Woken by every commit that wrote to the outbox, and
//! every second regardless (another server instance, or a wake-up lost in a crash).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::link::Link;
use crate::core::db::Store;
use crate::core::outbox;

pub async fn run(store: Store, link: Link, wake: Arc<Notify>, shutdown: CancellationToken) {
    loop {
        match publish_pending(&store, &link).await {
            Ok(true) => continue, // more may be waiting
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "outbox relay: database error; will retry"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Publishes one batch. `Ok(true)` when a full batch went out (look again at once).
async fn publish_pending(store: &Store, link: &Link) -> crate::error::Result<bool> {
    const BATCH: i64 = 200;
    let batch = outbox::unsent(store.pool(), BATCH).await?;
    let full = batch.len() as i64 == BATCH;
    let mut blocked: Option<String> = None;
    for p in batch {
        // After a failure, later messages of the same pharmacy wait: order matters per pharmacy.
        if blocked.as_deref() == Some(p.pharmacy_id.as_str()) {
            continue;
        }
        let topic = sotto_protocol::state_topic(&p.pharmacy_id);
        if link
            .publish_acked(topic, p.payload.clone().into_bytes())
            .await
        {
            outbox::mark_sent(store.pool(), &p).await?;
        } else {
            blocked = Some(p.pharmacy_id.clone());
            if !link.is_connected() {
                return Ok(false);
            }
        }
    }
    Ok(full)
}
