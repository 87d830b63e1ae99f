//! Stores a batch of counter reports idempotently: a report seen before (same pharmacy, same
//! `report_id`) is recognised and only acknowledged again, so a client's retries never count
//! twice. A whole `Reports` batch is stored in **one** audited transaction (one acquisition of
//! the writers' lock, one durable commit), each report inside its own savepoint, and acked
//! only once that commit is durable.
//!
//! Why savepoints rather than validating first: a report is refused for good (a person not
//! nominated to this pharmacy) after its idempotency row is written, and a report can also fail
//! in the database on its own data (a constraint). On PostgreSQL any failed statement aborts the
//! whole transaction, so without a savepoint one such report would sink the batch — and, the
//! client resending the same batch, sink it again every time. Rolling back to the report's own
//! savepoint undoes exactly its writes (its audit entries too: the chain's tip is restored with
//! it, see `WriteTx::rollback_to`), so the others still commit; a failed report is not acked
//! and the client sends it again, as when each report had its own transaction.

use sotto_protocol::{MissedReason, Report, ReportEvent, WithheldReason};

use super::missed;
use crate::core::db::audit::{Actor, WriteTx};
use crate::core::db::{Store, date_text, new_id, now_text};
use crate::error::Result;

pub use super::alerts::AlertSettings;

/// What became of one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Stored,
    Duplicate,
    /// Refused for good (e.g. a person not nominated to this pharmacy): acked so the client
    /// stops sending it, and logged.
    Refused(String),
}

/// Stores one report from `pharmacy_id` in its own transaction. Returns how it went; database
/// errors are returned so the report is *not* acked and the client retries.
pub async fn ingest(
    store: &Store,
    settings: &AlertSettings,
    pharmacy_id: &str,
    report: &Report,
) -> Result<Outcome> {
    ingest_batch(store, settings, pharmacy_id, std::slice::from_ref(report))
        .await?
        .pop()
        .expect("one outcome per report")
}

/// Stores a batch of reports from `pharmacy_id` in one transaction, in order (a later report
/// sees what an earlier one stored, as if each had committed in turn). One outcome per report,
/// in order: an `Err` means that report was undone and must not be acked. If the transaction
/// cannot begin or commit, nothing is stored and the whole call fails.
pub async fn ingest_batch(
    store: &Store,
    settings: &AlertSettings,
    pharmacy_id: &str,
    reports: &[Report],
) -> Result<Vec<Result<Outcome>>> {
    let mut w = store.write().await?;
    let mut outcomes = Vec::with_capacity(reports.len());
    for report in reports {
        let point = w.savepoint().await?;
        let outcome = store_one(&mut w, settings, pharmacy_id, report).await;
        match &outcome {
            Ok(Outcome::Stored | Outcome::Duplicate) => w.release(point).await?,
            // A refused report leaves nothing behind (not even its idempotency row: sent
            // again, it is checked again), a failed one neither.
            Ok(Outcome::Refused(_)) | Err(_) => w.rollback_to(point).await?,
        }
        outcomes.push(outcome);
    }
    if w.has_changes() {
        w.commit().await?;
    }
    Ok(outcomes)
}

/// Writes one report inside the batch's transaction.
async fn store_one(
    w: &mut WriteTx,
    settings: &AlertSettings,
    pharmacy_id: &str,
    report: &Report,
) -> Result<Outcome> {
    let fresh = sqlx::query(
        "INSERT INTO reports_received (pharmacy_id, report_id, received_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(pharmacy_id)
    .bind(&report.report_id)
    .bind(now_text())
    .execute(&mut *w.tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(Outcome::Duplicate);
    }
    let actor = Actor(format!("pharmacy:{pharmacy_id}"));
    // Who the pharmacy holds, and on which days (a transfer): `core::transfers`.
    if let Err(why) = crate::core::transfers::check_report(w, pharmacy_id, &report.event).await? {
        return Ok(Outcome::Refused(why));
    }
    match &report.event {
        ReportEvent::Supplied {
            service_user_id,
            collect_on,
            supervised_taken,
            take_home_dates,
            at,
        } => {
            let dates = serde_json::to_string(take_home_dates).expect("dates serialise");
            insert_dispense(
                w,
                pharmacy_id,
                &report.report_id,
                service_user_id,
                *collect_on,
                "supplied",
                *supervised_taken,
                &dates,
                None,
                &at.to_rfc3339(),
            )
            .await?;
            w.audit(&actor, "dispense.supplied", &format!("service_user:{service_user_id}"),
                serde_json::json!({"collect_on": date_text(*collect_on), "report_id": report.report_id})).await?;
        }
        ReportEvent::Withheld {
            service_user_id,
            collect_on,
            reason,
            at,
        } => {
            insert_dispense(
                w,
                pharmacy_id,
                &report.report_id,
                service_user_id,
                *collect_on,
                "withheld",
                false,
                "[]",
                Some(reason_code(*reason)),
                &at.to_rfc3339(),
            )
            .await?;
            w.audit(&actor, "dispense.withheld", &format!("service_user:{service_user_id}"),
                serde_json::json!({"collect_on": date_text(*collect_on), "reason": reason_code(*reason)})).await?;
        }
        ReportEvent::Missed {
            service_user_id,
            date,
            dose_mg,
            why,
        } => {
            let why = why.unwrap_or(MissedReason::CollectionMissed);
            let inserted = sqlx::query(
                "INSERT INTO missed_doses (id, service_user_id, pharmacy_id, date, dose_ug, reported_at, report_id, why) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            )
            .bind(new_id())
            .bind(service_user_id)
            .bind(pharmacy_id)
            .bind(date_text(*date))
            .bind(dose_mg.micrograms())
            .bind(now_text())
            .bind(&report.report_id)
            .bind(why.code())
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
            w.audit(
                &actor,
                "dose.missed",
                &format!("service_user:{service_user_id}"),
                serde_json::json!({"date": date_text(*date), "why": why.code()}),
            )
            .await?;
            if inserted == 1 {
                missed::after_missed_dose(w, settings, service_user_id, *date).await?;
            }
        }
        ReportEvent::DayClosed { date, at, early } => {
            sqlx::query(
                "INSERT INTO day_closures (pharmacy_id, date, closed_at, received_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(pharmacy_id)
            .bind(date_text(*date))
            .bind(at.to_rfc3339())
            .bind(now_text())
            .execute(&mut *w.tx)
            .await?;
            w.audit(
                &actor,
                "pharmacy.day_closed",
                &format!("pharmacy:{pharmacy_id}"),
                // Closed before its closing time, on the pharmacist's word: said in the audit.
                serde_json::json!({"date": date_text(*date), "early": early}),
            )
            .await?;
            // A closed day settles days with nothing prescribed too (between two
            // prescriptions), which no missed-dose report carries: the rule looks at everyone.
            for su_id in crate::core::counter_state::people_of(&mut w.tx, pharmacy_id).await? {
                missed::apply_safety_rule(w, settings, &su_id).await?;
            }
        }
    }
    Ok(Outcome::Stored)
}

pub fn reason_code(r: WithheldReason) -> &'static str {
    match r {
        WithheldReason::Intoxicated => "intoxicated",
        WithheldReason::Unwell => "unwell",
        WithheldReason::IdentityNotConfirmed => "identity_not_confirmed",
        WithheldReason::Other => "other",
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_dispense(
    w: &mut WriteTx,
    pharmacy_id: &str,
    report_id: &str,
    su: &str,
    collect_on: chrono::NaiveDate,
    kind: &str,
    supervised_taken: bool,
    take_home_dates: &str,
    withheld_reason: Option<&str>,
    at: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO dispenses (id, report_id, pharmacy_id, service_user_id, collect_on, kind, \
         supervised_taken, take_home_dates, withheld_reason, at, received_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
    )
    .bind(new_id())
    .bind(report_id)
    .bind(pharmacy_id)
    .bind(su)
    .bind(date_text(collect_on))
    .bind(kind)
    .bind(i64::from(supervised_taken))
    .bind(take_home_dates)
    .bind(withheld_reason)
    .bind(at)
    .bind(now_text())
    .execute(&mut *w.tx)
    .await?;
    Ok(())
}
