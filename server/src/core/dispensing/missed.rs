//! After a missed dose is stored: alert the keyworker, and apply the consecutive-missed-days
//! rule — at the prescription's `consult_after_missed_days` (default 3) a *safety* hold is placed
//! by the system, pushed to the pharmacy (code E) and the prescriber and keyworker are told.
//! Only a clinician lifts it (see `http::holds`).

use chrono::NaiveDate;
use sotto_domain::HoldKind;
use sqlx::Row;

use super::alerts::AlertSettings;
use super::ledger;
use crate::core::db;
use crate::core::db::audit::{Actor, WriteTx};
use crate::core::email::{queue, templates};
use crate::error::{Error, Result};

/// Runs in the transaction that stored the missed dose, so the alert and the hold are never
/// lost or doubled: they commit with it or not at all.
pub async fn after_missed_dose(
    w: &mut WriteTx,
    settings: &AlertSettings,
    su_id: &str,
    date: NaiveDate,
) -> Result<()> {
    super::alerts::on_arrival(w, settings, su_id, date).await?;

    apply_safety_rule(w, settings, su_id).await
}

/// Clause 3 from the dose ledger (the counter's own function): when the run of consecutive
/// days without a dose since the last review has reached the limit, a *safety* hold is placed
/// by the system (once), pushed to the pharmacy (code E) and the prescriber and keyworker are
/// told. Runs after every missed dose, every closed day and every new prescription, in the
/// transaction that changed the inputs.
pub async fn apply_safety_rule(
    w: &mut WriteTx,
    settings: &AlertSettings,
    su_id: &str,
) -> Result<()> {
    let su = db::service_users::get(&mut *w.tx, su_id)
        .await?
        .ok_or(Error::NotFound("service user"))?;
    let pharmacy = db::pharmacies::get(&mut *w.tx, &su.pharmacy_id)
        .await?
        .ok_or_else(|| Error::Internal("service user's pharmacy is missing".into()))?;
    let records = ledger::records(&mut w.tx, &pharmacy, su_id).await?;
    if records.active_holds.contains(&HoldKind::Safety) {
        return Ok(());
    }
    let today = pharmacy.today();
    let Some(last) = records.settled_through.map(|s| s.min(today)) else {
        return Ok(());
    };
    let assessment = records.assess(last, today);
    if !assessment.review_needed {
        return Ok(());
    }
    let run = assessment.run;
    let reason = format!(
        "{run} consecutive days without a dose in hand (up to {last}): prescriber review needed"
    );
    db::holds::place(w, &Actor::system(), su_id, HoldKind::Safety, &reason).await?;
    crate::core::outbox::person_changed(w, su_id).await?;
    let link = crate::core::email::person_link(&settings.public_url, &su.id);
    let keyworker = contact(w, &su.keyworker_id).await?;
    let prescriber = contact(w, &su.prescriber_id).await?;
    for (email, _) in [prescriber, keyworker].into_iter().flatten() {
        queue::enqueue(
            w,
            &templates::safety_hold(&email, &su.reference, run, &link),
        )
        .await?;
    }
    tracing::warn!(service_user_id = %su.id, run, "safety hold placed after consecutive days without a dose");
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
