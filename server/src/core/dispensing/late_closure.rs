//! A closure posted late: after the collection that clause 1 now moves its day's dose onto.
//! The dose ledger keeps that dose due on the day it moved to (an extra take-home dose), so
//! while that day is today and still open at the pharmacy, the counter offers it. When the day
//! it moved to is already over, no open day is left to hand it over: the service is told at
//! once, in the closure's own transaction, naming the people by reference.

use chrono::NaiveDate;
use sotto_domain::dose_in_hand;
use sqlx::Row;

use super::ledger;
use crate::core::db::audit::WriteTx;
use crate::core::db::{self, date_text};
use crate::core::email::{queue, templates};
use crate::error::{Error, Result};

/// The references of the people at `pharmacy_id` whose dose for `date` moved onto a day that
/// is over; if any, mails the service's inbox (when one is configured).
pub async fn after_closure(
    w: &mut WriteTx,
    service_email: Option<&str>,
    public_url: &str,
    pharmacy_id: &str,
    date: NaiveDate,
) -> Result<Vec<String>> {
    let pharmacy = db::pharmacies::get(&mut *w.tx, pharmacy_id)
        .await?
        .ok_or(Error::NotFound("pharmacy"))?;
    let today = pharmacy.today();
    let closed_today =
        sqlx::query("SELECT COUNT(*) AS n FROM day_closures WHERE pharmacy_id = $1 AND date = $2")
            .bind(pharmacy_id)
            .bind(date_text(today))
            .fetch_one(&mut *w.tx)
            .await?
            .try_get::<i64, _>("n")?
            > 0;
    let mut stranded = Vec::new();
    for su_id in crate::core::counter_state::people_of(&mut w.tx, pharmacy_id).await? {
        let records = ledger::records(&mut w.tx, &pharmacy, &su_id).await?;
        let moved_onto_a_day_gone = records.prescriptions.iter().any(|p| {
            p.schedule.dose_for(date).is_some_and(|dose| {
                dose.collect_on != dose.nominal_collect_on
                    && (dose.collect_on < today || (dose.collect_on == today && closed_today))
            })
        });
        if date >= today && moved_onto_a_day_gone && !dose_in_hand(&records.supplies, date) {
            let su = db::service_users::get(&mut *w.tx, &su_id)
                .await?
                .ok_or(Error::NotFound("service user"))?;
            stranded.push(su.reference);
        }
    }
    if stranded.is_empty() {
        return Ok(stranded);
    }
    tracing::warn!(
        pharmacy_id,
        %date,
        people = stranded.len(),
        "a late closure leaves doses with no day to supply them"
    );
    if let Some(to) = service_email {
        let link = format!("{public_url}/console/pharmacies");
        queue::enqueue(
            w,
            &templates::closure_leaves_no_day(to, &pharmacy.ods_code, date, &stranded, &link),
        )
        .await?;
    }
    Ok(stranded)
}
