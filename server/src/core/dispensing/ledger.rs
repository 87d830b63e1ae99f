//! The dose ledger's inputs as the server holds them: every prescription laid out with the
//! pharmacy's calendar, the dispenses the pharmacy reported, the holds (placed and lifted, by
//! the pharmacy's local dates) and the last prescriber review; settled through the last day the
//! pharmacy closed (or the latest missed dose it reported). The rules themselves are
//! `sotto_domain::assess`, the counter's own function.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sotto_domain::{
    Assessment, HoldKind, HoldSpan, LedgerInput, PharmacyCalendar, PrescribedSchedule,
    SupplyRecord, assess,
};
use sqlx::{AnyConnection, Row};

use super::history::Dispense;
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

/// Reads a person's ledger inputs in one connection (a consistent read).
pub async fn records(
    conn: &mut AnyConnection,
    pharmacy: &Pharmacy,
    su_id: &str,
) -> Result<PersonRecords> {
    let zone = zone(pharmacy);
    let calendar = db::pharmacies::calendar(&mut *conn, pharmacy).await?;
    let stored = db::prescriptions::for_service_user(&mut *conn, su_id).await?;
    let prescriptions = stored
        .iter()
        .map(|p| PrescribedSchedule {
            schedule: p.prescription.schedule(&calendar),
            directions: p.prescription.directions(),
        })
        .collect();
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
    let records_from = records_from(&mut *conn, &pharmacy.id).await?;
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
