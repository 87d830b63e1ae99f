//! The hash-chained audit log, appended in the same transaction as the change it records.
//!
//! Each entry's hash covers the previous entry's hash and its own fields, so editing or deleting
//! a past entry breaks the chain; `audit_head` holds the tip, so deleting the newest entries is
//! caught as well. [`verify`] walks the chain.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

use sqlx::{AnyPool, Row};
use tokio::sync::Notify;

use super::{Tx, now_text};
use crate::error::{Error, Result};

/// Who made a change: a staff id, or the system itself (e.g. the missed-dose rule).
#[derive(Debug, Clone)]
pub struct Actor(pub String);

impl Actor {
    pub fn system() -> Actor {
        Actor("system".into())
    }
}

/// One audit entry as stored and as shown to admins.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// Minimal facts about the change (never a hold reason or a name).
    pub detail: serde_json::Value,
    /// The detail exactly as hashed; re-serialising `detail` is not guaranteed byte-identical.
    #[serde(skip)]
    pub detail_raw: String,
    pub hash: String,
    pub prev_hash: String,
}

/// A writing transaction holding the audit lock. Dropping it without [`WriteTx::commit`] rolls
/// everything back, audit entries included.
pub struct WriteTx {
    pub tx: Tx,
    seq: i64,
    hash: String,
    appended: usize,
    outbox_written: bool,
    outbox_wake: Arc<Notify>,
    mail_written: bool,
    mail_wake: Arc<Notify>,
}

impl WriteTx {
    pub(super) async fn begin(
        pool: &AnyPool,
        outbox_wake: Arc<Notify>,
        mail_wake: Arc<Notify>,
    ) -> Result<WriteTx> {
        let mut tx = pool.begin().await?;
        // Writing first takes SQLite's write lock / PostgreSQL's row lock at once: concurrent
        // writers queue here instead of forking the chain or deadlocking on a lock upgrade.
        let row = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut *tx)
            .await?;
        Ok(WriteTx {
            seq: row.try_get("seq")?,
            hash: row.try_get("hash")?,
            tx,
            appended: 0,
            outbox_written: false,
            outbox_wake,
            mail_written: false,
            mail_wake,
        })
    }

    /// Records who did what to which subject. `detail` must carry no personal data.
    pub async fn audit(
        &mut self,
        actor: &Actor,
        action: &str,
        subject: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        let seq = self.seq + 1;
        let at = now_text();
        let detail = detail.to_string();
        let hash = entry_hash(&self.hash, seq, &at, &actor.0, action, subject, &detail);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seq)
        .bind(&at)
        .bind(&actor.0)
        .bind(action)
        .bind(subject)
        .bind(&detail)
        .bind(&self.hash)
        .bind(&hash)
        .execute(&mut *self.tx)
        .await?;
        self.seq = seq;
        self.hash = hash;
        self.appended += 1;
        Ok(())
    }

    /// Commits the change and its audit entries together.
    pub async fn commit(mut self) -> Result<()> {
        if self.appended == 0 {
            // A change without an audit entry is a bug, not something to store.
            return Err(Error::Internal(
                "a change was about to be stored unaudited".into(),
            ));
        }
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(self.seq)
            .bind(&self.hash)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        if self.outbox_written {
            self.outbox_wake.notify_one();
        }
        if self.mail_written {
            self.mail_wake.notify_one();
        }
        Ok(())
    }

    /// Marks a point to come back to within the transaction (an SQL `SAVEPOINT`), with the
    /// audit chain's tip at that point: a part of a batch that fails is undone alone
    /// ([`WriteTx::rollback_to`]), chain included, and the rest still commits.
    pub async fn savepoint(&mut self) -> Result<Savepoint> {
        sqlx::query("SAVEPOINT part").execute(&mut *self.tx).await?;
        Ok(Savepoint {
            seq: self.seq,
            hash: self.hash.clone(),
            appended: self.appended,
            outbox_written: self.outbox_written,
            mail_written: self.mail_written,
        })
    }

    /// Undoes everything since `point`, its audit entries and wake-ups too.
    pub async fn rollback_to(&mut self, point: Savepoint) -> Result<()> {
        sqlx::query("ROLLBACK TO SAVEPOINT part")
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("RELEASE SAVEPOINT part")
            .execute(&mut *self.tx)
            .await?;
        self.seq = point.seq;
        self.hash = point.hash;
        self.appended = point.appended;
        self.outbox_written = point.outbox_written;
        self.mail_written = point.mail_written;
        Ok(())
    }

    /// Keeps what was written since `point` (it commits with the transaction).
    pub async fn release(&mut self, point: Savepoint) -> Result<()> {
        drop(point);
        sqlx::query("RELEASE SAVEPOINT part")
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Whether anything was audited yet (a transaction with nothing audited stores nothing).
    pub fn has_changes(&self) -> bool {
        self.appended > 0
    }

    /// Notes that this transaction queued mail (wake the mail worker on commit).
    pub fn mark_mail_written(&mut self) {
        self.mail_written = true;
    }

    /// Notes that this transaction queued messages for pharmacies (wake the relay on commit).
    pub fn mark_outbox_written(&mut self) {
        self.outbox_written = true;
    }
}

/// Where [`WriteTx::rollback_to`] goes back to.
#[derive(Debug)]
#[must_use = "release it or roll back to it"]
pub struct Savepoint {
    seq: i64,
    hash: String,
    appended: usize,
    outbox_written: bool,
    mail_written: bool,
}

fn entry_hash(
    prev: &str,
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    // Unit separators keep field boundaries unambiguous ("ab"+"c" ≠ "a"+"bc").
    for part in [prev, &seq.to_string(), at, actor, action, subject, detail] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

/// Entries after `after_seq`, oldest first.
pub async fn list(pool: &AnyPool, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>> {
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after_seq)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let detail: String = r.try_get("detail")?;
            Ok(AuditEntry {
                seq: r.try_get("seq")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                subject: r.try_get("subject")?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                detail_raw: detail,
                prev_hash: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            })
        })
        .collect()
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub entries: i64,
    /// `None` when the chain is intact; otherwise the first broken entry and why.
    pub broken: Option<Broken>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    pub seq: i64,
    pub problem: String,
}

/// Walks the whole chain in pages and checks every link and the recorded tip.
pub async fn verify(pool: &AnyPool) -> Result<Verification> {
    let mut prev_hash = "0".repeat(64);
    let mut expected_seq = 1;
    let broken = |seq, problem: String| {
        Ok(Verification {
            entries: seq - 1,
            broken: Some(Broken { seq, problem }),
        })
    };
    loop {
        let page = list(pool, expected_seq - 1, 1000).await?;
        if page.is_empty() {
            break;
        }
        for e in page {
            if e.seq != expected_seq {
                return broken(expected_seq, format!("entry {expected_seq} is missing"));
            }
            if e.prev_hash != prev_hash {
                return broken(e.seq, "does not link to the entry before it".into());
            }
            let want = entry_hash(
                &prev_hash,
                e.seq,
                &e.at,
                &e.actor,
                &e.action,
                &e.subject,
                &e.detail_raw,
            );
            if want != e.hash {
                return broken(e.seq, "content does not match its hash (edited)".into());
            }
            prev_hash = e.hash;
            expected_seq += 1;
        }
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(pool)
        .await?;
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: String = head.try_get("hash")?;
    if head_seq != expected_seq - 1 || head_hash != prev_hash {
        return broken(
            expected_seq.min(head_seq),
            format!(
                "the log ends at entry {} but {} entries were written (entries deleted)",
                expected_seq - 1,
                head_seq
            ),
        );
    }
    Ok(Verification {
        entries: expected_seq - 1,
        broken: None,
    })
}
