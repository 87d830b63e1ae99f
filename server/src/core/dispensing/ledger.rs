//! The dose ledger's inputs as the server holds them: every prescription laid out with the
//! pharmacy's calendar, the dispenses the pharmacy reported, the holds (placed and lifted, by
//! the pharmacy's local dates) and the last prescriber review; settled through the last day the
//! pharmacy closed (or the latest missed dose it reported). The rules themselves are
//! `sotto_domain::assess`, the counter's own function.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sotto_domain::{
    Assessment, CarriedRun, HoldKind, HoldSpan, Ledger, LedgerInput, PharmacyCalendar,
    PrescribedSchedule, Schedule, SupplyRecord, assess,
};
use sqlx::{AnyConnection, Row};

use super::history::Dispense;
use crate::core::db::placements::{self, Placement};
use crate::core::db::{self, holds::Hold, pharmacies::Pharmacy, prescriptions::Stored};
use crate::error::Result;

/// One person's ledger inputs, owned, with the stored rows they come from (so a caller that
/// also shows those rows reads them once).
#[derive(Debug, Clone)]
pub struct PersonRecords {
    /// Laid out with `calendar`, in the order of `stored`.
    pub prescriptions: Vec<PrescribedSchedule>,
    pub stored: Vec<Stored>,
    /// Newest first, as `history::history` reads them.
    pub dispenses: Vec<Dispense>,
    /// Every hold, lifted or not, newest first.
    pub hold_rows: Vec<Hold>,
    pub supplies: Vec<SupplyRecord>,
    pub holds: Vec<HoldSpan>,
    pub active_holds: Vec<HoldKind>,
    pub last_review: Option<NaiveDate>,
    pub calendar: PharmacyCalendar,
    pub settled_through: Option<NaiveDate>,
    pub records_from: Option<NaiveDate>,
    /// The run carried over from the previous pharmacy (a transfer here).
    pub carried: Option<CarriedRun>,
}

impl PersonRecords {
    pub fn input(&self) -> LedgerInput<'_> {
        LedgerInput {
            prescriptions: &self.prescriptions,
            supplies: &self.supplies,
            holds: &self.holds,
            last_review: self.last_review,
            calendar: &self.calendar,
            settled_through: self.settled_through,
            records_from: self.records_from,
            carried: self.carried,
        }
    }

    /// The code and ledger on `date` (`today` is the pharmacy's today).
    pub fn assess(&self, date: NaiveDate, today: NaiveDate) -> Assessment {
        assess(&self.input(), &self.active_holds, date, today)
    }
}

/// The pharmacy's zone (Europe/London if unreadable, as elsewhere).
pub fn zone(pharmacy: &Pharmacy) -> Tz {
    pharmacy
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Europe::London)
}

/// The local date of a stored RFC 3339 instant.
fn local_date(text: &str, zone: Tz) -> Option<NaiveDate> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc).with_timezone(&zone).date_naive())
}

/// The pharmacy's local date of the last prescriber review: when a safety hold was last lifted.
pub fn last_review_on(holds: &[Hold], zone: Tz) -> Option<NaiveDate> {
    last_review_of(holds.iter().map(|h| (h.kind, h.lifted_at.as_deref())), zone)
}

/// [`last_review_on`] over `(kind, lifted_at)` pairs (the bulk pass reads no more than that).
pub fn last_review_of<'a>(
    holds: impl Iterator<Item = (HoldKind, Option<&'a str>)>,
    zone: Tz,
) -> Option<NaiveDate> {
    holds
        .filter(|(kind, _)| *kind == HoldKind::Safety)
        .filter_map(|(_, lifted_at)| lifted_at)
        .filter_map(|at| local_date(at, zone))
        .max()
}

/// A stored hold as the ledger sees it, by the pharmacy's local dates (`None` if a stored
/// instant is unreadable: such a hold is left out, on both paths alike).
pub fn hold_span(
    kind: HoldKind,
    placed_at: &str,
    lifted_at: Option<&str>,
    zone: Tz,
) -> Option<HoldSpan> {
    Some(HoldSpan {
        kind,
        placed_on: local_date(placed_at, zone)?,
        lifted_on: match lifted_at {
            None => None,
            Some(at) => Some(local_date(at, zone)?),
        },
    })
}

/// Reads a person's ledger inputs at `pharmacy` in one connection (a consistent read): the days
/// it holds them (their latest placement there), and the run carried over from the pharmacy
/// before if they moved here.
pub async fn records(
    conn: &mut AnyConnection,
    pharmacy: &Pharmacy,
    su_id: &str,
) -> Result<PersonRecords> {
    let stays = placements::of_person(&mut *conn, su_id).await?;
    let stay = stay_at(&stays, &pharmacy.id).cloned();
    let mut records = records_at(&mut *conn, pharmacy, su_id, stay.as_ref()).await?;
    records.carried = carried(&mut *conn, su_id, &stays, stay.as_ref()).await?;
    Ok(records)
}

/// The latest placement of a person at a pharmacy: the days it holds them (earlier stays
/// there, before a move away and back, are not this pharmacy's concern any more).
pub fn stay_at<'a>(stays: &'a [Placement], pharmacy_id: &str) -> Option<&'a Placement> {
    stays.iter().rev().find(|p| p.pharmacy_id == pharmacy_id)
}

/// A prescription's days that `stay` covers, laid out with the pharmacy's calendar; `None` if
/// none is.
pub fn layout(
    stored: &Stored,
    calendar: &PharmacyCalendar,
    stay: Option<&Placement>,
) -> Option<Schedule> {
    let schedule = stored.prescription.schedule(calendar);
    match stay {
        None => Some(schedule),
        Some(stay) => Schedule::from_days(
            schedule
                .days()
                .iter()
                .filter(|d| stay.covers(d.date))
                .copied()
                .collect(),
        ),
    }
}

/// The run of days without a dose at the previous pharmacy up to the day before `stay` began.
async fn carried(
    conn: &mut AnyConnection,
    su_id: &str,
    stays: &[Placement],
    stay: Option<&Placement>,
) -> Result<Option<CarriedRun>> {
    let Some(from) = stay.and_then(|s| s.from) else {
        return Ok(None);
    };
    let Some(through) = from.pred_opt() else {
        return Ok(None);
    };
    let Some(before) = stays.iter().rev().find(|p| p.covers(through)) else {
        return Ok(None);
    };
    let Some(previous) = db::pharmacies::get(&mut *conn, &before.pharmacy_id).await? else {
        return Ok(None);
    };
    // One step back only: a run carried twice within a few days is not followed further.
    let r = records_at(&mut *conn, &previous, su_id, Some(before)).await?;
    let start = through - chrono::Duration::days(sotto_domain::LOOKBACK_DAYS as i64);
    let days = Ledger::compute(&r.input(), start, through).run_ending(through);
    Ok(Some(CarriedRun { through, days }))
}

async fn records_at(
    conn: &mut AnyConnection,
    pharmacy: &Pharmacy,
    su_id: &str,
    stay: Option<&Placement>,
) -> Result<PersonRecords> {
    let zone = zone(pharmacy);
    let calendar = db::pharmacies::calendar(&mut *conn, pharmacy).await?;
    let stored: Vec<Stored> = db::prescriptions::for_service_user(&mut *conn, su_id).await?;
    let laid_out: Vec<(Stored, Schedule)> = stored
        .into_iter()
        .filter_map(|p| Some((layout(&p, &calendar, stay)?, p)))
        .map(|(s, p)| (p, s))
        .collect();
    let prescriptions = laid_out
        .iter()
        .map(|(p, schedule)| PrescribedSchedule {
            schedule: schedule.clone(),
            directions: p.prescription.directions(),
        })
        .collect();
    let stored = laid_out.into_iter().map(|(p, _)| p).collect();
    let dispenses = super::history::history(&mut *conn, su_id).await?;
    let supplies = super::history::supply_records(&dispenses);
    let hold_rows = db::holds::history(&mut *conn, su_id).await?;
    let holds = hold_rows
        .iter()
        .filter_map(|h| hold_span(h.kind, &h.placed_at, h.lifted_at.as_deref(), zone))
        .collect();
    let active_holds = hold_rows
        .iter()
        .filter(|h| h.lifted_at.is_none())
        .map(|h| h.kind)
        .collect();
    let last_review = last_review_on(&hold_rows, zone);
    let settled_through = settled_through(&mut *conn, &pharmacy.id, su_id).await?;
    // Before the person moved here, this pharmacy's records of them do not exist.
    let records_from = [
        records_from(&mut *conn, &pharmacy.id).await?,
        stay.and_then(|s| s.from),
    ]
    .into_iter()
    .flatten()
    .max();
    Ok(PersonRecords {
        prescriptions,
        stored,
        dispenses,
        hold_rows,
        supplies,
        holds,
        active_holds,
        last_review,
        calendar,
        settled_through,
        records_from,
        carried: None,
    })
}

/// The last day whose account is final at the server: the last day the pharmacy reported
/// closed, or a later day it reported a missed dose for (missed doses arrive just before their
/// day's close).
async fn settled_through(
    conn: &mut AnyConnection,
    pharmacy_id: &str,
    su_id: &str,
) -> Result<Option<NaiveDate>> {
    let row = sqlx::query("SELECT MAX(date) AS d FROM day_closures WHERE pharmacy_id = $1")
        .bind(pharmacy_id)
        .fetch_one(&mut *conn)
        .await?;
    let closed: Option<String> = row.try_get("d")?;
    let row = sqlx::query(
        "SELECT MAX(date) AS d FROM missed_doses WHERE service_user_id = $1 AND pharmacy_id = $2",
    )
    .bind(su_id)
    .bind(pharmacy_id)
    .fetch_one(&mut *conn)
    .await?;
    let missed: Option<String> = row.try_get("d")?;
    Ok([closed, missed]
        .into_iter()
        .flatten()
        .filter_map(|d| d.parse::<NaiveDate>().ok())
        .max())
}

/// The first day the pharmacy's counter accounted for (its first closed day): before it, the
/// server has no record of what was handed over, and counts nothing.
async fn records_from(conn: &mut AnyConnection, pharmacy_id: &str) -> Result<Option<NaiveDate>> {
    let row = sqlx::query("SELECT MIN(date) AS d FROM day_closures WHERE pharmacy_id = $1")
        .bind(pharmacy_id)
        .fetch_one(&mut *conn)
        .await?;
    let first: Option<String> = row.try_get("d")?;
    Ok(first.and_then(|d| d.parse().ok()))
}
