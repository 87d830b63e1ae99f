//! After a missed dose is stored: alert the keyworker, and apply the consecutive-missed-days
//! rule — at the prescription's `consult_after_missed_days` (default 3) a *safety* hold is placed
//! by the system, pushed to the pharmacy (code E) and the prescriber and keyworker are told.
//! Only a clinician lifts it (see `http::holds`).

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};
use sotto_domain::{HoldKind, consecutive_missed_run};
use sqlx::Row;

use super::ingest::AlertSettings;
use crate::db::audit::{Actor, WriteTx};
use crate::db::{self, date_text, get_date};
use crate::email::{queue, templates};
use crate::error::{Error, Result};

/// Runs in the transaction that stored the missed dose, so the alert and the hold are never
/// lost or doubled: they commit with it or not at all.
pub async fn after_missed_dose(
    w: &mut WriteTx,
    settings: &AlertSettings,
    su_id: &str,
    date: NaiveDate,
) -> Result<()> {
    let su = db::service_users::get(&mut *w.tx, su_id)
        .await?
        .ok_or(Error::NotFound("service user"))?;
    let link = crate::email::person_link(&settings.public_url, &su.id);
    let keyworker = contact(w, &su.keyworker_id).await?;
    if let Some((email, mode)) = &keyworker
        && mode == "each"
    {
        queue::enqueue(
            w,
            &templates::missed_dose(email, &su.reference, date, &link),
        )
        .await?;
    }

    let threshold = threshold_on(w, su_id, date).await?;
    let run = consecutive_missed_run(
        &missed_dates(w, su_id, date).await?,
        date,
        last_review(w, su_id).await?,
    );
    if run < threshold {
        return Ok(());
    }
    let active = db::holds::active(&mut *w.tx, su_id).await?;
    if active.iter().any(|h| h.kind == HoldKind::Safety) {
        return Ok(());
    }
    let reason = format!(
        "{run} consecutive days without a dose in hand (up to {date}): prescriber review needed"
    );
    db::holds::place(w, &Actor::system(), su_id, HoldKind::Safety, &reason).await?;
    crate::sync::outbox::person_changed(w, su_id).await?;
    let prescriber = contact(w, &su.prescriber_id).await?;
    for (email, _) in [prescriber, keyworker].into_iter().flatten() {
        queue::enqueue(
            w,
            &templates::safety_hold(&email, &su.reference, run, &link),
        )
        .await?;
    }
    tracing::warn!(service_user_id = %su.id, run, "safety hold placed after consecutive missed days");
    Ok(())
}

/// A staff member's e-mail address and alert preference.
async fn contact(w: &mut WriteTx, staff_id: &str) -> Result<Option<(String, String)>> {
    let row = sqlx::query("SELECT email, alert_mode FROM staff WHERE id = $1")
        .bind(staff_id)
        .fetch_optional(&mut *w.tx)
        .await?;
    Ok(match row {
        Some(r) => Some((r.try_get("email")?, r.try_get("alert_mode")?)),
        None => None,
    })
}

/// The prescription's clause-3 number for that day (3 if no prescription covers it).
async fn threshold_on(w: &mut WriteTx, su_id: &str, date: NaiveDate) -> Result<u32> {
    let all = db::prescriptions::for_service_user(&mut w.tx, su_id).await?;
    Ok(db::prescriptions::covering(&all, date).map_or(3, |p| {
        u32::from(p.prescription.directions().consult_after_missed_days)
    }))
}

/// Missed dates within a month either side: more than enough for any run that matters.
async fn missed_dates(
    w: &mut WriteTx,
    su_id: &str,
    around: NaiveDate,
) -> Result<BTreeSet<NaiveDate>> {
    let rows = sqlx::query(
        "SELECT date FROM missed_doses WHERE service_user_id = $1 AND date >= $2 AND date <= $3",
    )
    .bind(su_id)
    .bind(date_text(around - Duration::days(31)))
    .bind(date_text(around + Duration::days(31)))
    .fetch_all(&mut *w.tx)
    .await?;
    rows.iter().map(|r| get_date(r, "date")).collect()
}

/// The day of the last prescriber review: when a safety hold was last lifted.
async fn last_review(w: &mut WriteTx, su_id: &str) -> Result<Option<NaiveDate>> {
    let row = sqlx::query(
        "SELECT MAX(lifted_at) AS at FROM holds WHERE service_user_id = $1 AND kind = 'safety' \
         AND lifted_at IS NOT NULL",
    )
    .bind(su_id)
    .fetch_one(&mut *w.tx)
    .await?;
    let at: Option<String> = row.try_get("at")?;
    Ok(at.and_then(|s| {
        s.get(..10)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    }))
}
