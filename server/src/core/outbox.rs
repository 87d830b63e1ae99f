//! The transactional outbox: a change and the message announcing it are written in one
//! transaction; the relay publishes later and marks the row sent only after the broker's PUBACK.

use chrono::Utc;
use sotto_protocol::{Change, ServerBody, ServerMessage, encode};
use sqlx::{AnyPool, Row};

use super::counter_state as state;
use crate::core::db::{self, audit::WriteTx, now_text};
use crate::error::{Error, Result};

/// Announces a person's new state to every pharmacy that holds them today or later, in the
/// caller's transaction; a pharmacy whose days with them are over is told once that they left.
pub async fn person_changed(w: &mut WriteTx, service_user_id: &str) -> Result<()> {
    let stays = db::placements::of_person(&mut w.tx, service_user_id).await?;
    let mut told = std::collections::BTreeSet::new();
    // The latest stay at each pharmacy decides what it is told.
    for stay in stays.iter().rev() {
        if !told.insert(stay.pharmacy_id.clone()) {
            continue;
        }
        let pharmacy = load_pharmacy(w, &stay.pharmacy_id).await?;
        if stay.to.is_some_and(|to| to < pharmacy.today()) {
            if !stay.removal_sent {
                let change = Change::PersonRemoved {
                    service_user_id: service_user_id.to_string(),
                };
                enqueue(w, &pharmacy.id, change).await?;
                db::placements::mark_removal_sent(&mut w.tx, &stay.id).await?;
            }
            continue;
        }
        let person = state::person_state(&mut w.tx, &pharmacy, service_user_id).await?;
        enqueue(w, &pharmacy.id, Change::Person(person)).await?;
    }
    Ok(())
}

/// Announces a pharmacy's new calendar, and every person's schedule recomputed with it.
pub async fn pharmacy_changed(
    w: &mut WriteTx,
    pharmacy_id: &str,
    service_phone: Option<&str>,
) -> Result<()> {
    let pharmacy = load_pharmacy(w, pharmacy_id).await?;
    let info = state::pharmacy_info(&mut w.tx, &pharmacy, service_phone).await?;
    enqueue(w, pharmacy_id, Change::Pharmacy(info)).await?;
    for id in state::people_of(&mut w.tx, pharmacy_id).await? {
        let person = state::person_state(&mut w.tx, &pharmacy, &id).await?;
        enqueue(w, pharmacy_id, Change::Person(person)).await?;
    }
    Ok(())
}

async fn load_pharmacy(w: &mut WriteTx, id: &str) -> Result<db::pharmacies::Pharmacy> {
    db::pharmacies::get(&mut *w.tx, id)
        .await?
        .ok_or(Error::NotFound("pharmacy"))
}

/// Takes the pharmacy's next sequence number and stores the delta under it.
async fn enqueue(w: &mut WriteTx, pharmacy_id: &str, change: Change) -> Result<()> {
    let row = sqlx::query("UPDATE pharmacies SET seq = seq + 1 WHERE id = $1 RETURNING seq")
        .bind(pharmacy_id)
        .fetch_one(&mut *w.tx)
        .await?;
    let seq: i64 = row.try_get("seq")?;
    let message = ServerMessage::new(
        pharmacy_id,
        ServerBody::Delta {
            seq: seq as u64,
            change,
        },
    );
    sqlx::query(
        "INSERT INTO outbox (pharmacy_id, seq, payload, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(pharmacy_id)
    .bind(seq)
    .bind(String::from_utf8(encode(&message)).expect("JSON is UTF-8"))
    .bind(now_text())
    .execute(&mut *w.tx)
    .await?;
    w.mark_outbox_written();
    Ok(())
}

/// A message waiting to be published.
#[derive(Debug, Clone)]
pub struct Pending {
    pub pharmacy_id: String,
    pub seq: i64,
    pub payload: String,
}

fn pending_from_row(r: &sqlx::any::AnyRow) -> Result<Pending> {
    Ok(Pending {
        pharmacy_id: r.try_get("pharmacy_id")?,
        seq: r.try_get("seq")?,
        payload: r.try_get("payload")?,
    })
}

/// The oldest unsent messages, in per-pharmacy order.
pub async fn unsent(pool: &AnyPool, limit: i64) -> Result<Vec<Pending>> {
    let rows = sqlx::query(
        "SELECT pharmacy_id, seq, payload FROM outbox WHERE sent_at IS NULL \
         ORDER BY pharmacy_id, seq LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(pending_from_row).collect()
}

/// Waits (polling) until the broker has acknowledged every message of the pharmacy committed so
/// far, or `within` passes (then `Err`).
pub async fn wait_until_sent(
    store: &crate::core::db::Store,
    pharmacy_id: &str,
    within: std::time::Duration,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let row = sqlx::query("SELECT seq, sent_seq FROM pharmacies WHERE id = $1")
            .bind(pharmacy_id)
            .fetch_one(store.pool())
            .await?;
        if row.try_get::<i64, _>("sent_seq")? >= row.try_get::<i64, _>("seq")? {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Internal("outbox still publishing".into()));
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A pharmacy's messages after `seq`, sent or not, in order.
pub async fn after(pool: &AnyPool, pharmacy_id: &str, seq: i64) -> Result<Vec<Pending>> {
    let rows = sqlx::query(
        "SELECT pharmacy_id, seq, payload FROM outbox WHERE pharmacy_id = $1 AND seq > $2 ORDER BY seq",
    )
    .bind(pharmacy_id)
    .bind(seq)
    .fetch_all(pool)
    .await?;
    rows.iter().map(pending_from_row).collect()
}

/// Records the broker's acknowledgement. Not audited: delivery is not a change of clinical state.
pub async fn mark_sent(pool: &AnyPool, p: &Pending) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE outbox SET sent_at = $1 WHERE pharmacy_id = $2 AND seq = $3")
        .bind(Utc::now().to_rfc3339())
        .bind(&p.pharmacy_id)
        .bind(p.seq)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE pharmacies SET sent_seq = $1 WHERE id = $2 AND sent_seq < $1")
        .bind(p.seq)
        .bind(&p.pharmacy_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
