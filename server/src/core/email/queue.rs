//! The `mail_queue` table: rows inserted inside the caller's transaction, then claimed, sent and
//! marked by [`super::worker`].
//!
//! Claiming is an optimistic lease: a worker moves `next_attempt_at` into the future with
//! `UPDATE ... WHERE id = $ AND next_attempt_at = <the value it read>`, and sends only if that
//! updated the row. Two workers (or two server instances) that read the same row race on that one
//! UPDATE; SQLite serialises writers and PostgreSQL re-checks the WHERE after the row lock, so
//! exactly one wins on both. A worker that dies mid-send leaves the lease to expire, and the mail
//! is tried again then.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::{AnyPool, Row};

use super::Mail;
use super::transport::valid_recipient;
use crate::core::db::audit::WriteTx;
use crate::core::db::{new_id, now_text};
use crate::error::{Error, Result};

/// Adds a mail to the queue inside the caller's transaction: it is sent only if the change
/// commits; the commit wakes the worker so it goes out at once.
///
/// An unusable recipient address is refused before anything is written, so the caller's
/// transaction stays usable (e.g. place the hold anyway and log that the mail was not queued).
/// Returns the mail's id, for callers that record which mail carried what.
pub async fn enqueue(w: &mut WriteTx, mail: &Mail) -> Result<String> {
    if !valid_recipient(&mail.to) {
        return Err(Error::field("to", "is not a usable e-mail address"));
    }
    let id = new_id();
    let now = now_text();
    sqlx::query(
        "INSERT INTO mail_queue (id, kind, to_address, subject, body, created_at, \
         next_attempt_at, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
    )
    .bind(&id)
    .bind(mail.kind)
    .bind(&mail.to)
    .bind(&mail.subject)
    .bind(&mail.body)
    .bind(&now)
    .bind(&now)
    .execute(&mut *w.tx)
    .await?;
    w.mark_mail_written();
    tracing::debug!(mail_id = %id, kind = mail.kind, "mail queued");
    Ok(id)
}

/// Counts for /healthz and tests.
pub async fn pending(pool: &AnyPool) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM mail_queue WHERE sent_at IS NULL")
        .fetch_one(pool)
        .await?;
    Ok(row.try_get("n")?)
}

/// A queued mail as read by the worker.
#[derive(Debug, Clone)]
pub(super) struct Queued {
    pub id: String,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
    /// As read; the claim compares against it.
    pub next_attempt_at: String,
}

/// Unsent mail due at `now`, oldest first.
pub(super) async fn due(pool: &AnyPool, now: DateTime<Utc>, limit: i64) -> Result<Vec<Queued>> {
    let rows = sqlx::query(
        "SELECT id, kind, to_address, subject, body, attempts, next_attempt_at FROM mail_queue \
         WHERE sent_at IS NULL AND next_attempt_at <= $1 ORDER BY created_at, id LIMIT $2",
    )
    .bind(text(now))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Queued {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                to: r.try_get("to_address")?,
                subject: r.try_get("subject")?,
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
                next_attempt_at: r.try_get("next_attempt_at")?,
            })
        })
        .collect()
}

/// When the earliest unsent mail falls due (`None` when nothing is waiting).
pub(super) async fn next_due(pool: &AnyPool) -> Result<Option<DateTime<Utc>>> {
    let row = sqlx::query("SELECT MIN(next_attempt_at) AS t FROM mail_queue WHERE sent_at IS NULL")
        .fetch_one(pool)
        .await?;
    let t: Option<String> = row.try_get("t")?;
    Ok(t.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// Takes the mail for this worker until `lease_until`. `Ok(false)`: another worker has it.
pub(super) async fn claim(pool: &AnyPool, m: &Queued, lease_until: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE mail_queue SET next_attempt_at = $1 \
         WHERE id = $2 AND sent_at IS NULL AND next_attempt_at = $3",
    )
    .bind(text(lease_until))
    .bind(&m.id)
    .bind(&m.next_attempt_at)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn mark_sent(pool: &AnyPool, id: &str) -> Result<()> {
    sqlx::query("UPDATE mail_queue SET sent_at = $1, attempts = attempts + 1 WHERE id = $2")
        .bind(now_text())
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Records a failed attempt and when to try next. `error` must hold no recipient or body.
pub(super) async fn mark_failed(
    pool: &AnyPool,
    id: &str,
    error: &str,
    next_attempt_at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE mail_queue SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 \
         WHERE id = $3 AND sent_at IS NULL",
    )
    .bind(error)
    .bind(text(next_attempt_at))
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Stored form, the same as [`crate::core::db::now_text`]: fixed width, so text order is time order.
fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
