//! The worker: checks and applies each incoming message, then acks it; subscribes and asks for
//! a resync on every connect; asks again on a gap, one request at a time.

use std::sync::Arc;

use rumqttc::{AsyncClient, Publish, QoS};
use sotto_protocol::{
    ClientBody, ClientMessage, DecodeError, PublicKey, ResyncReason, ServerBody, ServerMessage,
    encode, open, reports_topic, state_topic,
};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use super::{LinkEvent, LinkStatus};
use crate::clock::Clock;
use crate::store::Store;
use crate::sync::Decision;

/// How long an unanswered resync request stands before we ask again.
const RESYNC_RETRY: Duration = Duration::from_secs(10);

pub(super) struct Worker {
    client: AsyncClient,
    store: Store,
    status: Arc<LinkStatus>,
    clock: Arc<dyn Clock>,
    pharmacy_id: String,
    state_topic: String,
    /// The pinned server key: unsigned or wrongly signed messages are rejected.
    server_key: PublicKey,
    /// The resync request awaiting its snapshot, if any: at most one outstanding at a time.
    resync: Option<Outstanding>,
}

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    sent_at: Instant,
    /// Whether the data is known to be behind (a gap, or no snapshot yet): then an unanswered
    /// request is repeated; a routine on-connect request is simply dropped after the wait.
    behind: bool,
}

impl Worker {
    pub(super) fn new(
        client: AsyncClient,
        store: Store,
        status: Arc<LinkStatus>,
        clock: Arc<dyn Clock>,
        pharmacy_id: String,
        server_key: PublicKey,
    ) -> Worker {
        let state_topic = state_topic(&pharmacy_id);
        Worker {
            client,
            store,
            status,
            clock,
            pharmacy_id,
            state_topic,
            server_key,
            resync: None,
        }
    }

    /// Runs until `shutdown`; a message being handled is finished first (cancellation is only
    /// looked at between messages), so nothing is left half-done.
    pub(super) async fn run(
        mut self,
        mut events: UnboundedReceiver<LinkEvent>,
        shutdown: CancellationToken,
    ) {
        loop {
            let retry_at = self.resync.map(|r| r.sent_at + RESYNC_RETRY);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                event = events.recv() => match event {
                    Some(LinkEvent::Connected) => self.on_connected().await,
                    Some(LinkEvent::Message(publish)) => self.on_message(publish).await,
                    None => break,
                },
                () = sleep_until(retry_at) => self.on_resync_timeout().await,
            }
        }
    }

    #[tracing::instrument(skip_all)]
    async fn on_connected(&mut self) {
        // Always subscribe: a session that wasn't kept has no subscriptions, and subscribing
        // again to a kept one is harmless.
        if let Err(error) = self
            .client
            .subscribe(&self.state_topic, QoS::AtLeastOnce)
            .await
        {
            tracing::warn!(%error, "could not subscribe to the state topic");
        }
        self.request_resync(ResyncReason::Connected).await;
    }

    #[tracing::instrument(skip_all, fields(topic = %publish.topic))]
    async fn on_message(&mut self, publish: Publish) {
        match self.check(&publish) {
            Ok(message) => {
                let now = self.clock.now();
                // Every authentic message tells us the service's time: a PC clock far off
                // would put the counter on the wrong day (see `LinkStatus::clock_problem`).
                self.status.record_clock(now, message.sent_at);
                let confirmed_at = message.sent_at.min(now);
                match self.store.apply(&message.body, confirmed_at).await {
                    Ok(decision) => {
                        match message.body {
                            // More may be waiting behind the batch just acked.
                            ServerBody::ReportAck { .. } => self.status.reports_queued(),
                            ServerBody::Heartbeat { seq } => self.answer_heartbeat(seq).await,
                            _ => {}
                        }
                        self.after_apply(decision).await;
                    }
                    Err(error) => {
                        // Not acked: the broker redelivers it after a reconnect, and the next
                        // delta will show a gap and bring a snapshot anyway.
                        tracing::error!(%error, "could not apply a server message");
                        return;
                    }
                }
            }
            Err(reason) => {
                // Never the payload: it may carry names and dates of birth.
                tracing::warn!(%reason, bytes = publish.payload.len(), "rejected a message");
                self.status.count_rejected();
            }
        }
        // Rejected messages are acked too: redelivering garbage forever helps nobody.
        if let Err(error) = self.client.ack(&publish).await {
            tracing::warn!(%error, "could not ack a message");
        }
    }

    /// Accepts a message only if it is on our topic, is signed by the pinned server key, decodes,
    /// speaks our version and is for us.
    fn check(&self, publish: &Publish) -> Result<ServerMessage, String> {
        if publish.topic != self.state_topic {
            return Err("not our state topic".into());
        }
        let message = open(&publish.payload, &self.server_key).map_err(|e| match e {
            // serde's message can quote values from the payload: name the kind only.
            DecodeError::Malformed(_) => "malformed payload".to_string(),
            other => other.to_string(),
        })?;
        if message.pharmacy_id != self.pharmacy_id {
            return Err("addressed to another pharmacy".into());
        }
        Ok(message)
    }

    async fn after_apply(&mut self, decision: Decision) {
        tracing::debug!(?decision, "server message handled");
        if decision == Decision::ReplaceAll {
            self.resync = None;
        }
        if decision.needs_resync() {
            match &mut self.resync {
                // One request at a time; but the one standing must now be repeated if it goes
                // unanswered, since we know we are behind.
                Some(outstanding) => outstanding.behind = true,
                None => self.request_resync(ResyncReason::Gap).await,
            }
        }
    }

    /// "Heard you": lets the server tell a quiet counter from a gone one. At most once: a lost
    /// answer is made good by the next heartbeat's.
    async fn answer_heartbeat(&self, seq: u64) {
        let message = self.stamped(ClientBody::HeartbeatAck { seq });
        if let Err(error) = self
            .client
            .publish(
                reports_topic(&self.pharmacy_id),
                QoS::AtMostOnce,
                false,
                encode(&message),
            )
            .await
        {
            tracing::warn!(%error, "could not answer a heartbeat");
        }
    }

    /// A message to the service stamped with this PC's clock (the service compares it with its
    /// own, and shows staff a counter whose clock is wrong).
    fn stamped(&self, body: ClientBody) -> ClientMessage {
        let mut message = ClientMessage::new(&self.pharmacy_id, body);
        message.sent_at = self.clock.now();
        message
    }

    async fn on_resync_timeout(&mut self) {
        let outstanding = self.resync.take();
        if outstanding.is_some_and(|r| r.behind) && self.status.connected() {
            tracing::info!("no snapshot yet; asking again");
            self.request_resync(ResyncReason::Gap).await;
        }
    }

    async fn request_resync(&mut self, reason: ResyncReason) {
        let last_seq = match self.store.meta().await {
            Ok(meta) => meta.last_seq,
            Err(error) => {
                tracing::error!(%error, "could not read the stream position");
                return;
            }
        };
        let message = self.stamped(ClientBody::ResyncRequest { last_seq, reason });
        let topic = reports_topic(&self.pharmacy_id);
        match self
            .client
            .publish(topic, QoS::AtLeastOnce, false, encode(&message))
            .await
        {
            Ok(()) => {
                tracing::info!(?reason, ?last_seq, "asked the server for a snapshot");
                self.resync = Some(Outstanding {
                    sent_at: Instant::now(),
                    behind: reason == ResyncReason::Gap || last_seq.is_none(),
                });
            }
            Err(error) => tracing::warn!(%error, "could not ask for a snapshot"),
        }
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
