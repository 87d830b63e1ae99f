//! What happens at the counter: supplies (and withheld instalments), closed days with their
//! missed doses, and the outbox of reports for the server. Every record and its report are
//! written in ONE transaction, so a report can't be lost after the record was kept, nor sent
//! for a record that wasn't. Writers take SQLite's write lock up front (`BEGIN IMMEDIATE`), so
//! two writers queue rather than fail on a stale read.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Days, NaiveDate, SecondsFormat, Utc};
use sotto_domain::SupplyRecord;
use sotto_protocol::{MissedReason, PersonState, Report, ReportEvent, WithheldReason};
use sqlx::{Sqlite, Transaction};

use super::{Store, meta_in, parse_person};
use crate::counter::{self, LocalRecords, RecordedSupply};
use crate::error::Error;

type Tx = Transaction<'static, Sqlite>;

/// How far back supplies matter: an instalment covers at most 14 days, a prescription too.
const SUPPLY_HISTORY_DAYS: u64 = 31;

/// An instalment handed over or withheld, to be recorded and reported.
#[derive(Debug, Clone)]
pub struct NewSupply {
    pub service_user_id: String,
    /// Today, the day of the hand-over.
    pub collect_on: NaiveDate,
    pub supervised_taken: bool,
    pub take_home_dates: Vec<NaiveDate>,
    /// `Some` when withheld: nothing was handed over.
    pub withheld: Option<WithheldReason>,
    pub at: DateTime<Utc>,
}

/// Why a supply was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupplyRefused {
    /// Something was already handed over to this person today, at this time.
    AlreadySupplied(DateTime<Utc>),
    /// The day was closed (and its missed doses reported) at this time.
    DayClosed(DateTime<Utc>),
}

/// The outcome of closing a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayClose {
    /// People reported as having no dose in hand (when first closed).
    pub missed: u32,
    pub closed_at: DateTime<Utc>,
    /// Closed before: nothing was reported this time.
    pub already_closed: bool,
}

impl Store {
    /// Records a supply or a withheld instalment and queues its report. A second supply for
    /// the same person and day is refused by the database itself (a unique index), so two
    /// counters, or a double click on a slow connection, can't both hand over.
    pub async fn record_supply(
        &self,
        supply: &NewSupply,
    ) -> Result<Result<String, SupplyRefused>, Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some((closed_at, _)) = closed_day(&mut tx, supply.collect_on).await? {
            return Ok(Err(SupplyRefused::DayClosed(closed_at)));
        }
        let event = match supply.withheld {
            None => ReportEvent::Supplied {
                service_user_id: supply.service_user_id.clone(),
                collect_on: supply.collect_on,
                supervised_taken: supply.supervised_taken,
                take_home_dates: supply.take_home_dates.clone(),
                at: supply.at,
            },
            Some(reason) => ReportEvent::Withheld {
                service_user_id: supply.service_user_id.clone(),
                collect_on: supply.collect_on,
                reason,
                at: supply.at,
            },
        };
        let report_id = insert_report(&mut tx, event, supply.at).await?;
        let dates = serde_json::to_string(&supply.take_home_dates).expect("dates serialise");
        let reason = supply.withheld.map(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        });
        let (supply_id,): (i64,) = sqlx::query_as(
            "INSERT INTO supplies (service_user_id, collect_on, supervised_taken, \
             take_home_dates, withheld, withheld_reason, at, report_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&supply.service_user_id)
        .bind(supply.collect_on.to_string())
        .bind(supply.supervised_taken)
        .bind(dates)
        .bind(supply.withheld.is_some())
        .bind(reason)
        .bind(time_text(supply.at))
        .bind(&report_id)
        .fetch_one(&mut *tx)
        .await?;
        // The double-dispense guard, kept by the database: a dose for a date already in hand
        // is never handed over again, whatever the network or a double click does.
        let in_hand = supply
            .withheld
            .is_none()
            .then(|| {
                supply
                    .supervised_taken
                    .then_some(supply.collect_on)
                    .into_iter()
                    .chain(supply.take_home_dates.iter().copied())
            })
            .into_iter()
            .flatten();
        for date in in_hand {
            let inserted = sqlx::query(
                "INSERT INTO supplied_dates (service_user_id, date, supply_id) VALUES (?, ?, ?)",
            )
            .bind(&supply.service_user_id)
            .bind(date.to_string())
            .bind(supply_id)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    let (at,): (String,) = sqlx::query_as(
                        "SELECT s.at FROM supplied_dates d JOIN supplies s ON s.id = d.supply_id \
                         WHERE d.service_user_id = ? AND d.date = ?",
                    )
                    .bind(&supply.service_user_id)
                    .bind(date.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                    return Ok(Err(SupplyRefused::AlreadySupplied(parse_time(
                        "supplies.at",
                        &at,
                    )?)));
                }
                Err(e) => return Err(e.into()),
            }
        }
        tx.commit().await?;
        Ok(Ok(report_id))
    }

    /// What this counter recorded about each of `people` that matters on `today`, with the
    /// last day it closed and the pharmacy's calendar (the dose ledger's inputs).
    pub async fn local_records(
        &self,
        people: &[&str],
        today: NaiveDate,
    ) -> Result<HashMap<String, LocalRecords>, Error> {
        let mut tx = self.pool.begin().await?;
        let meta = meta_in(&mut tx).await?;
        let calendar = calendar_of(&meta);
        let (first_closed, last_closed) = closed_range(&mut tx).await?;
        // What this counter accounts for: from enrolment, or an earlier day closed on request.
        let records_from = [meta.enrolled_on, first_closed].into_iter().flatten().min();
        let mut out = HashMap::new();
        for &id in people {
            let supplies = supplies_of(&mut tx, id, today).await?;
            out.insert(
                id.to_string(),
                LocalRecords {
                    supplies,
                    last_closed,
                    enrolled_on: records_from,
                    calendar: calendar.clone(),
                },
            );
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Closes `date`: for each person, every day the close settles without a dose in hand
    /// (`date` and the closed days right after it, from the dose ledger) is recorded and
    /// reported as a missed dose, with why; then the day itself is reported closed. A day
    /// closed before is left alone, and a day reported before is not reported again. `by` and
    /// `early` are the local audit of who closed it (and whether today was closed before its
    /// closing time); `early` travels in the report too.
    pub async fn close_day(
        &self,
        date: NaiveDate,
        at: DateTime<Utc>,
        by: &str,
        early: bool,
    ) -> Result<DayClose, Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some((closed_at, missed)) = closed_day(&mut tx, date).await? {
            return Ok(DayClose {
                missed,
                closed_at,
                already_closed: true,
            });
        }
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT state FROM people ORDER BY service_user_id")
                .fetch_all(&mut *tx)
                .await?;
        let people: Vec<PersonState> = rows
            .iter()
            .map(|(json,)| parse_person(json))
            .collect::<Result<_, _>>()?;
        let meta = meta_in(&mut tx).await?;
        let calendar = calendar_of(&meta);
        // A day closed on request before enrolment is accounted for from then on.
        let records_from = meta.enrolled_on.map(|e| e.min(date));
        let mut missed = 0u32;
        for person in &people {
            let id = person.service_user_id.as_str();
            let supplies: Vec<SupplyRecord> = supplies_of(&mut tx, id, date)
                .await?
                .into_iter()
                .map(|s| s.record)
                .collect();
            for (dose, why) in
                counter::missed_on_close(person, &supplies, &calendar, records_from, date)
            {
                let why = MissedReason::from(why);
                let fresh = sqlx::query(
                    "INSERT INTO missed (service_user_id, date, dose_ug, report_id, why) \
                     VALUES (?, ?, ?, '', ?) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(dose.date.to_string())
                .bind(dose.dose_mg.micrograms())
                .bind(why.code())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !fresh {
                    continue;
                }
                let event = ReportEvent::Missed {
                    service_user_id: id.to_string(),
                    date: dose.date,
                    dose_mg: dose.dose_mg,
                    why: Some(why),
                };
                let report_id = insert_report(&mut tx, event, at).await?;
                sqlx::query(
                    "UPDATE missed SET report_id = ? WHERE service_user_id = ? AND date = ?",
                )
                .bind(report_id)
                .bind(id)
                .bind(dose.date.to_string())
                .execute(&mut *tx)
                .await?;
                missed += 1;
            }
        }
        insert_report(&mut tx, ReportEvent::DayClosed { date, at, early }, at).await?;
        sqlx::query(
            "INSERT INTO closed_days (date, closed_at, missed, closed_by, early) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(date.to_string())
        .bind(time_text(at))
        .bind(missed)
        .bind(by)
        .bind(early)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(DayClose {
            missed,
            closed_at: at,
            already_closed: false,
        })
    }

    /// Every day closed so far.
    pub async fn closed_days(&self) -> Result<BTreeSet<NaiveDate>, Error> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT date FROM closed_days")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|(d,)| parse_date("closed_days.date", d))
            .collect()
    }

    /// The oldest unacked reports, oldest first, with their `client_seq`.
    pub async fn pending_reports(&self, limit: u32) -> Result<Vec<(i64, Report)>, Error> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT client_seq, payload FROM outbox WHERE acked_at IS NULL \
             ORDER BY client_seq LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(seq, payload)| {
                serde_json::from_str(&payload)
                    .map(|report| (seq, report))
                    .map_err(|e| Error::Corrupt {
                        what: "outbox.payload",
                        detail: e.to_string(),
                    })
            })
            .collect()
    }

    /// How many reports the server has not acknowledged yet.
    pub async fn pending_count(&self) -> Result<i64, Error> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE acked_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }
}

/// Marks reports acknowledged by the server (unknown ids are ignored: an ack may repeat).
pub(super) async fn ack_reports(
    tx: &mut Tx,
    report_ids: &[String],
    at: DateTime<Utc>,
) -> Result<(), Error> {
    let at = time_text(at);
    for id in report_ids {
        sqlx::query("UPDATE outbox SET acked_at = ? WHERE report_id = ? AND acked_at IS NULL")
            .bind(&at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The pharmacy's calendar as the store knows it (open every day until the first snapshot).
fn calendar_of(meta: &super::Meta) -> sotto_domain::PharmacyCalendar {
    meta.pharmacy
        .as_ref()
        .map(counter::calendar)
        .unwrap_or_default()
}

/// The first and last days closed at this counter.
async fn closed_range(tx: &mut Tx) -> Result<(Option<NaiveDate>, Option<NaiveDate>), Error> {
    let (first, last): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT MIN(date), MAX(date) FROM closed_days")
            .fetch_one(&mut **tx)
            .await?;
    let parse = |d: Option<String>| d.map(|d| parse_date("closed_days.date", &d)).transpose();
    Ok((parse(first)?, parse(last)?))
}

/// When `date` was closed and how many were missed, if it was.
async fn closed_day(tx: &mut Tx, date: NaiveDate) -> Result<Option<(DateTime<Utc>, u32)>, Error> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT closed_at, missed FROM closed_days WHERE date = ?")
            .bind(date.to_string())
            .fetch_optional(&mut **tx)
            .await?;
    row.map(|(at, missed)| {
        Ok((
            parse_time("closed_days.closed_at", &at)?,
            u32::try_from(missed).unwrap_or(0),
        ))
    })
    .transpose()
}

/// A person's supplies and withheld records that can matter on `date`, oldest first.
async fn supplies_of(
    tx: &mut Tx,
    service_user_id: &str,
    date: NaiveDate,
) -> Result<Vec<RecordedSupply>, Error> {
    let since = date - Days::new(SUPPLY_HISTORY_DAYS);
    let rows: Vec<(String, bool, String, bool, String)> = sqlx::query_as(
        "SELECT collect_on, supervised_taken, take_home_dates, withheld, at FROM supplies \
         WHERE service_user_id = ? AND collect_on >= ? AND collect_on <= ? ORDER BY id",
    )
    .bind(service_user_id)
    .bind(since.to_string())
    .bind(date.to_string())
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|(collect_on, supervised_taken, dates, withheld, at)| {
            Ok(RecordedSupply {
                record: SupplyRecord {
                    collect_on: parse_date("supplies.collect_on", &collect_on)?,
                    supervised_taken,
                    take_home_dates: serde_json::from_str(&dates).map_err(|e| Error::Corrupt {
                        what: "supplies.take_home_dates",
                        detail: e.to_string(),
                    })?,
                    withheld,
                },
                at: parse_time("supplies.at", &at)?,
            })
        })
        .collect()
}

/// Queues a report in the outbox; returns its `report_id` (a UUID v4, the idempotency key).
async fn insert_report(
    tx: &mut Tx,
    event: ReportEvent,
    at: DateTime<Utc>,
) -> Result<String, Error> {
    let (kind, person) = match &event {
        ReportEvent::Supplied {
            service_user_id, ..
        } => ("supplied", Some(service_user_id.clone())),
        ReportEvent::Withheld {
            service_user_id, ..
        } => ("withheld", Some(service_user_id.clone())),
        ReportEvent::Missed {
            service_user_id, ..
        } => ("missed", Some(service_user_id.clone())),
        ReportEvent::DayClosed { .. } => ("day_closed", None),
    };
    let report = Report {
        report_id: uuid::Uuid::new_v4().to_string(),
        event,
    };
    let payload = serde_json::to_string(&report).expect("protocol types always serialise");
    sqlx::query(
        "INSERT INTO outbox (report_id, kind, service_user_id, payload, created_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&report.report_id)
    .bind(kind)
    .bind(person)
    .bind(payload)
    .bind(time_text(at))
    .execute(&mut **tx)
    .await?;
    Ok(report.report_id)
}

/// Fixed-width UTC text, so comparing strings compares times.
pub(super) fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(what: &'static str, text: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::Corrupt {
            what,
            detail: e.to_string(),
        })
}

pub(super) fn parse_date(what: &'static str, text: &str) -> Result<NaiveDate, Error> {
    text.parse()
        .map_err(|e: chrono::ParseError| Error::Corrupt {
            what,
            detail: e.to_string(),
        })
}
