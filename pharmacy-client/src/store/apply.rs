//! Applying server messages: each in ONE transaction that reads `last_seq`, decides
//! ([`Decision::of`]), changes the data and the stream position together, and commits. The
//! MQTT link acks only after this returns, so a crash at any point means a redelivery, never a
//! half-applied or lost change; and a redelivery is harmless because it decides `Duplicate`.

use chrono::{DateTime, Utc};
use sotto_protocol::{Change, PersonState, PharmacyInfo, ServerBody};
use sqlx::{Sqlite, Transaction};

use super::reports::{ack_reports, time_text};
use super::{Store, fold_name, normalise_reference};
use crate::counter;
use crate::error::Error;
use crate::sync::Decision;

type Tx = Transaction<'static, Sqlite>;

impl Store {
    /// Applies one message from the server. `confirmed_at` is when the server vouched for the
    /// data (the message's send time, capped at now); it refreshes `synced_at` only if the
    /// message shows our data is current, and `synced_at` never moves backwards.
    pub async fn apply(
        &self,
        body: &ServerBody,
        confirmed_at: DateTime<Utc>,
    ) -> Result<Decision, Error> {
        // The write lock up front: the counter's own writers may commit between our read of
        // `last_seq` and our writes, which a deferred transaction can't survive.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (last,): (Option<i64>,) = sqlx::query_as("SELECT last_seq FROM meta WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let last = last.map(|s| s.max(0).cast_unsigned());
        let decision = Decision::of(last, body);
        match (decision, body) {
            (Decision::ApplyDelta, ServerBody::Delta { seq, change }) => {
                apply_change(&mut tx, change).await?;
                set_seq(&mut tx, *seq).await?;
            }
            (
                Decision::ReplaceAll,
                ServerBody::Snapshot {
                    seq,
                    pharmacy,
                    people,
                },
            ) => {
                sqlx::query("DELETE FROM people").execute(&mut *tx).await?;
                for person in people {
                    upsert_person(&mut tx, person).await?;
                }
                set_pharmacy(&mut tx, pharmacy).await?;
                set_seq(&mut tx, *seq).await?;
                // Enrolment: from the first snapshot on, this client closes every day.
                let today = confirmed_at
                    .with_timezone(&counter::zone(Some(pharmacy)))
                    .date_naive();
                sqlx::query("UPDATE meta SET enrolled_on = ? WHERE id = 1 AND enrolled_on IS NULL")
                    .bind(today.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            (_, ServerBody::ReportAck { report_ids }) => {
                ack_reports(&mut tx, report_ids, confirmed_at).await?;
            }
            _ => {}
        }
        if decision.confirms_current() {
            let at = time_text(confirmed_at);
            sqlx::query(
                "UPDATE meta SET synced_at = ?1 WHERE id = 1 \
                 AND (synced_at IS NULL OR synced_at < ?1)",
            )
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(decision)
    }
}

async fn apply_change(tx: &mut Tx, change: &Change) -> Result<(), Error> {
    match change {
        Change::Person(person) => upsert_person(tx, person).await,
        Change::PersonRemoved { service_user_id } => {
            sqlx::query("DELETE FROM people WHERE service_user_id = ?")
                .bind(service_user_id)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }
        Change::Pharmacy(info) => set_pharmacy(tx, info).await,
    }
}

/// A person's whole state replaces what we held: simple to apply, impossible to half-apply.
async fn upsert_person(tx: &mut Tx, person: &PersonState) -> Result<(), Error> {
    let state = serde_json::to_string(person).expect("protocol types always serialise");
    sqlx::query(
        "INSERT INTO people (service_user_id, reference, family_name, date_of_birth, state) \
         VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (service_user_id) DO UPDATE SET reference = excluded.reference, \
         family_name = excluded.family_name, date_of_birth = excluded.date_of_birth, \
         state = excluded.state",
    )
    .bind(&person.service_user_id)
    .bind(normalise_reference(&person.reference))
    .bind(fold_name(&person.family_name))
    .bind(person.date_of_birth.to_string())
    .bind(state)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn set_pharmacy(tx: &mut Tx, info: &PharmacyInfo) -> Result<(), Error> {
    let json = serde_json::to_string(info).expect("protocol types always serialise");
    sqlx::query("UPDATE meta SET pharmacy = ? WHERE id = 1")
        .bind(json)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn set_seq(tx: &mut Tx, seq: u64) -> Result<(), Error> {
    let seq = i64::try_from(seq).map_err(|_| Error::SeqOutOfRange(seq))?;
    sqlx::query("UPDATE meta SET last_seq = ? WHERE id = 1")
        .bind(seq)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
