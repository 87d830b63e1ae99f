//! Messages from pharmacies: resync requests now (supply and missed-dose reports later). Each is
//! checked against the topic it came on, handled, then acknowledged.

use rumqttc::Publish;
use sotto_protocol::{ClientBody, ClientMessage, ServerBody, ServerMessage, decode, encode};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Sync, state};
use crate::db;
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
    match msg.body {
        ClientBody::ResyncRequest { .. } => {
            send_snapshot(sync, from).await?;
        }
        ClientBody::Reports { .. } => {
            return Err(Rejected("counter reports are not accepted yet".into()));
        }
    }
    Ok(())
}

/// Sends the pharmacy everything it needs, as of its current `seq`.
pub async fn send_snapshot(sync: &Sync, pharmacy_id: &str) -> Result<()> {
    let body = snapshot(sync, pharmacy_id).await?;
    let message = ServerMessage::new(pharmacy_id, body);
    if !sync
        .link
        .publish_acked(sotto_protocol::state_topic(pharmacy_id), encode(&message))
        .await
    {
        tracing::warn!(
            pharmacy_id,
            "snapshot not acknowledged; the client will ask again"
        );
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
