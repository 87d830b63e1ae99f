//! The polling task: drives rumqttc's event loop continuously, forwards ConnAcks and incoming
//! publishes to the worker, and backs off after errors (rumqttc reconnects at once otherwise,
//! hammering a broker that is down or restarting).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{Event, EventLoop, Packet};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::{LinkEvent, LinkStatus};

const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Runs until `shutdown` is cancelled (or the worker is gone).
pub(super) async fn run(
    mut eventloop: EventLoop,
    events: UnboundedSender<LinkEvent>,
    status: Arc<LinkStatus>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::default();
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => break,
            event = eventloop.poll() => event,
        };
        let forwarded = match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                tracing::info!(session_present = ack.session_present, "connected to broker");
                status.set_connected(true);
                backoff = Backoff::default();
                events.send(LinkEvent::Connected)
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                events.send(LinkEvent::Message(publish))
            }
            Ok(_) => Ok(()),
            Err(error) => {
                status.set_connected(false);
                let wait = backoff.next_wait();
                tracing::warn!(%error, retry_in_ms = wait.as_millis(), "broker connection failed");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    () = tokio::time::sleep(wait) => {}
                }
                Ok(())
            }
        };
        if forwarded.is_err() {
            // The worker has stopped: nothing would apply or ack what we receive.
            break;
        }
    }
    status.set_connected(false);
}

/// Exponential backoff, 0.5 s doubling to 30 s, with ±20 % jitter so pharmacies don't all
/// reconnect in step after a broker restart.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST_RETRY }
    }
}

impl Backoff {
    fn next_wait(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(MAX_RETRY);
        // A fresh RandomState is randomly seeded: enough entropy for jitter, no extra crate.
        let random = RandomState::new().hash_one(0u8) % 401;
        base.mul_f64(0.8 + random as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut backoff = Backoff::default();
        let waits: Vec<Duration> = (0..9).map(|_| backoff.next_wait()).collect();
        assert!(waits[0] >= Duration::from_millis(400) && waits[0] <= Duration::from_millis(600));
        assert!(waits[1] >= Duration::from_millis(800) && waits[1] <= Duration::from_millis(1200));
        assert!(waits[8] >= Duration::from_secs(24) && waits[8] <= Duration::from_secs(36));
    }
}
