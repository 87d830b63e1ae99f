//! What a pharmacy holds, built from the database: one person's state, the pharmacy's details,
//! or a whole snapshot. The same builders serve deltas (inside the change's transaction) and
//! snapshots, so the two can never disagree.

use chrono::Duration;
use sotto_protocol::{HoldState, PersonState, PharmacyInfo, PrescriptionState, Stay};
use sqlx::{AnyConnection, Row};

use crate::core::dispensing::ledger;

use crate::core::db::{self, pharmacies::Pharmacy};
use crate::error::{Error, Result};

/// How far back ended prescriptions are sent: longer than any clause 3 limit (at most 7 days).
const LEDGER_LOOKBACK_DAYS: i64 = 14;

/// The pharmacy's details as its client needs them.
pub async fn pharmacy_info(
    conn: &mut AnyConnection,
    pharmacy: &Pharmacy,
    service_phone: Option<&str>,
) -> Result<PharmacyInfo> {
    let calendar = db::pharmacies::calendar(&mut *conn, pharmacy).await?;
    Ok(PharmacyInfo {
        id: pharmacy.id.clone(),
        ods_code: pharmacy.ods_code.clone(),
        name: pharmacy.name.clone(),
        closed_weekdays: pharmacy.closed_weekdays.clone(),
        closing_time: pharmacy.closing_time.clone(),
        timezone: pharmacy.timezone.clone(),
        closures: calendar.closures.into_iter().collect(),
        service_phone: service_phone.map(str::to_string),
        opening_hours: Some(pharmacy.opening_hours.clone()),
    })
}

/// One person's state: identity for the counter, active hold kinds (never reasons), and every
/// prescription from yesterday on, laid out day by day with the pharmacy's closures applied —
/// only the days this pharmacy holds the person (a transfer: `stay`).
pub async fn person_state(
    conn: &mut AnyConnection,
    pharmacy: &Pharmacy,
    service_user_id: &str,
) -> Result<PersonState> {
    let su = db::service_users::get(&mut *conn, service_user_id)
        .await?
        .ok_or(Error::NotFound("service user"))?;
    // The person's ledger inputs here: the same layout and carried run the server counts with.
    let records = ledger::records(&mut *conn, pharmacy, &su.id).await?;
    let prescriber: Option<String> = sqlx::query("SELECT name FROM staff WHERE id = $1")
        .bind(&su.prescriber_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get("name"))
        .transpose()?;
    // The last fortnight too: the counter's dose ledger counts the days between an ended
    // prescription and the next (and a client whose clock is a little behind still finds
    // today's row).
    let from = pharmacy.today() - Duration::days(LEDGER_LOOKBACK_DAYS);
    let prescriptions = records
        .stored
        .iter()
        .zip(&records.prescriptions)
        .filter(|(p, _)| p.prescription.end_date() >= from)
        .map(|(p, laid_out)| PrescriptionState {
            directions: p.prescription.directions(),
            start_date: p.prescription.start_date(),
            end_date: p.prescription.end_date(),
            days: laid_out.schedule.days().to_vec(),
            id: p.id.clone(),
            medicine: Some(p.prescription.medicine()),
            prescriber: prescriber.clone(),
        })
        .collect();
    let stays = db::placements::of_person(&mut *conn, &su.id).await?;
    let stay = ledger::stay_at(&stays, &pharmacy.id)
        .filter(|s| s.from.is_some() || s.to.is_some())
        .map(|s| Stay {
            from: s.from,
            until: s.to,
            carried_run: records.carried,
        });
    let holds = records
        .hold_rows
        .into_iter()
        .filter(|h| h.lifted_at.is_none())
        .map(|h| HoldState {
            id: h.id,
            kind: h.kind,
        })
        .collect();
    Ok(PersonState {
        service_user_id: su.id,
        reference: su.reference,
        given_name: su.given_name,
        family_name: su.family_name,
        date_of_birth: su.date_of_birth,
        holds,
        prescriptions,
        last_review_on: records.last_review,
        stay,
    })
}

/// Ids of everyone a pharmacy holds today or later (its counter must know them).
pub async fn people_of(conn: &mut AnyConnection, pharmacy_id: &str) -> Result<Vec<String>> {
    let pharmacy = db::pharmacies::get(&mut *conn, pharmacy_id)
        .await?
        .ok_or(Error::NotFound("pharmacy"))?;
    db::placements::people_from(conn, pharmacy_id, pharmacy.today()).await
}
