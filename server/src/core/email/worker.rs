//! Delivers queued mail: oldest first, each marked sent after the relay accepts it, failures
//! retried with exponential backoff for as long as it takes. Woken by commits that queued mail,
//! and every `poll_every` regardless (mail queued by another instance, a wake-up lost in a crash).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::MailConfig;
use super::queue::{self, Queued};
use super::transport::{Outgoing, Sender};
use crate::core::db::Store;

/// How long a claimed mail is this worker's. Far above the worst send time (several SMTP
/// commands at 20 s each), so a live worker never loses a mail it is still sending; a dead one
/// delays that mail by this much.
const LEASE: Duration = Duration::from_secs(5 * 60);
/// Mail looked at per round.
const BATCH: i64 = 50;
/// From this many failed attempts on, each further failure is logged at error level: by then
/// someone should look at the relay (or the address).
const ERROR_AFTER_ATTEMPTS: i64 = 6;

/// Sends due mail until `shutdown`: oldest first; on success marks it sent; on failure records
/// the attempt (error text without the recipient or body) and schedules the next try at
/// `now + min(retry_base * 2^(attempts-1), retry_max)`. It never gives up: after many attempts it
/// keeps retrying every `retry_max`, logging at error level. Woken early by `wake`; otherwise it
/// looks every `poll_every` (or sooner, when a retry falls due). A send in progress at shutdown
/// is finished, not cut off, so it is not sent twice.
pub async fn run(store: Store, config: MailConfig, wake: Arc<Notify>, shutdown: CancellationToken) {
    let (sender, from) = match Sender::new(&config) {
        Ok(s) => s,
        Err(e) => {
            // Mail stays queued (and visible in `pending`) until the configuration is fixed.
            tracing::error!(error = %e, "mail worker cannot start; mail will stay queued");
            shutdown.cancelled().await;
            return;
        }
    };
    loop {
        let pause = match send_due(&store, &sender, &from, &config, &shutdown).await {
            Ok(true) if !shutdown.is_cancelled() => continue, // a full batch: look again at once
            Ok(_) => until_next_due(&store, &config).await,
            Err(e) => {
                tracing::warn!(error = %e, "mail worker: database error; will retry");
                config.poll_every
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Sends one batch of due mail. `Ok(true)` when the batch was full (more may be due).
async fn send_due(
    store: &Store,
    sender: &Sender,
    from: &Mailbox,
    config: &MailConfig,
    shutdown: &CancellationToken,
) -> crate::error::Result<bool> {
    let pool = store.pool();
    let batch = queue::due(pool, config.clock.now(), BATCH).await?;
    let full = batch.len() as i64 == BATCH;
    for m in batch {
        if shutdown.is_cancelled() {
            break;
        }
        if !queue::claim(pool, &m, config.clock.now() + LEASE).await? {
            continue; // another worker took it
        }
        let outgoing = Outgoing {
            id: &m.id,
            to: &m.to,
            subject: &m.subject,
            body: &m.body,
        };
        match sender.send(from, &outgoing).await {
            Ok(()) => {
                queue::mark_sent(pool, &m.id).await?;
                tracing::info!(mail_id = %m.id, kind = %m.kind, attempts = m.attempts + 1, "mail sent");
            }
            Err(error) => record_failure(store, config, &m, &error).await?,
        }
    }
    Ok(full)
}

async fn record_failure(
    store: &Store,
    config: &MailConfig,
    m: &Queued,
    error: &str,
) -> crate::error::Result<()> {
    let attempts = m.attempts + 1;
    let delay = backoff(config.retry_base, config.retry_max, attempts);
    queue::mark_failed(store.pool(), &m.id, error, config.clock.now() + delay).await?;
    if attempts >= ERROR_AFTER_ATTEMPTS {
        tracing::error!(mail_id = %m.id, kind = %m.kind, attempts, retry_in = ?delay, error,
            "mail still not delivered; retrying");
    } else {
        tracing::warn!(mail_id = %m.id, kind = %m.kind, attempts, retry_in = ?delay, error,
            "mail not delivered; will retry");
    }
    Ok(())
}

/// `min(base * 2^(attempts-1), max)`, without overflowing however many attempts there were.
pub(crate) fn backoff(base: Duration, max: Duration, attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).max(0)).unwrap_or(u32::MAX);
    let factor = 1u32.checked_shl(doublings).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

/// How long to sleep: until the earliest retry falls due, but no longer than `poll_every`.
async fn until_next_due(store: &Store, config: &MailConfig) -> Duration {
    match queue::next_due(store.pool()).await {
        Ok(Some(t)) => until(t, config.clock.now()).min(config.poll_every),
        _ => config.poll_every,
    }
}

fn until(t: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (t - now).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
        let (base, max) = (Duration::from_secs(30), Duration::from_secs(3600));
        let secs: Vec<u64> = (1..=9).map(|a| backoff(base, max, a).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(base, max, 10_000), max);
        assert_eq!(backoff(base, max, 0), base);
    }
}
