//! Every person's code for a day, for one pharmacy or the whole service, in a handful of bulk
//! reads: the set-based twin of [`crate::core::status::for_service_user`] (six queries per
//! person). The rules are not repeated here: each person's inputs are assembled from the bulk
//! rows with the same conversions the per-person path uses (`db::prescriptions::from_row`,
//! `dispensing::history::supply_record`, `dispensing::ledger::hold_span`, ...) and handed to
//! the same pure function, `sotto_domain::assess`. `tests/tests/daily_bulk.rs` checks that the
//! answer is the per-person answer, person by person, on both databases.
//!
//! What is read, and why no more is needed (the per-person path reads a person's whole history):
//! - **prescriptions** ending on or after the earliest ledger window's first day (`date` −
//!   [`LOOKBACK_DAYS`]), with their regimes; of those that ended before it, only the earliest
//!   and the latest by `(start_date, consult_after_missed_days)` per person. A prescription
//!   ended before the window lays out no day in it (a schedule covers `start..=end`) and is
//!   not current; the ledger uses it only through its `(first day, clause 3 limit)`: the
//!   earliest start (is a day between two prescriptions?), the latest start (ditto), the
//!   smallest pair (the default limit) and, for any day of the window, the largest pair
//!   started by then (the limit in force) — which, every such prescription having started
//!   before the window, is the largest of them all. The two kept are therefore exactly what
//!   the others would have contributed.
//! - **dispenses** collected on or after the earliest start of those prescriptions, less a
//!   further [`SUPPLY_MARGIN_DAYS`]: what is due and what was withheld concern instalments of
//!   prescriptions covering the window (handed over on or after their start), and a supply's
//!   take-home dates belong to the instalment it handed over, within one prescription of at
//!   most 14 days. (A counter reporting take-home dates more than a fortnight after the day it
//!   handed them over would be counted by the per-person path alone.)
//! - **holds** still active, lifted on or after that day (less a day each way for time zones),
//!   and every safety hold (the last review is the last time one was lifted): an attend hold
//!   lifted earlier covers no day the ledger asks about.
//! - each pharmacy's calendar (hours and every closure), first and last closed day, and each
//!   person's latest missed-dose day at their pharmacy (how far their account is settled).
//!
//! Rows are read with typed columns, in one read transaction (a consistent snapshot, as the
//! per-person path's one connection), and each distinct collection pattern is parsed once.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use sotto_domain::{
    Assessment, HoldKind, HoldSpan, LOOKBACK_DAYS, LedgerInput, PharmacyCalendar,
    PrescribedSchedule, SupplyRecord, WeeklyCollections, assess,
};
use sqlx::Row;

use crate::core::db::{self, Backend, Store, date_text, pharmacies::Pharmacy};
use crate::core::dispensing::{history, ledger};
use crate::error::{Error, Result};

/// Whose codes: one pharmacy's people, or everyone the service has.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Pharmacy(&'a str),
    Service,
}

/// One person's code for the day, with the whole assessment (plan, run, ledger) behind it.
#[derive(Debug, Clone)]
pub struct DailyCode {
    pub service_user_id: String,
    pub pharmacy_id: String,
    /// The day assessed (the pharmacy's today unless a date was asked for).
    pub date: NaiveDate,
    pub assessment: Assessment,
}

/// Beyond the earliest prescription start, how far back supplies are read (see the module docs).
pub const SUPPLY_MARGIN_DAYS: u64 = 14;

/// Every person's code in `scope` on `date` (each pharmacy's own today when `None`), ordered by
/// person id. Equal, person by person, to what [`crate::core::status::for_service_user`] says.
pub async fn codes_for(
    store: &Store,
    scope: Scope<'_>,
    date: Option<NaiveDate>,
) -> Result<Vec<DailyCode>> {
    Ok(map_codes(store, scope, date, |c| c).await?.0)
}

/// Where a pass spent its time.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// The bulk reads, rows converted to the domain's types.
    pub read: Duration,
    /// The rules (`assess`) for everyone, on every core.
    pub rules: Duration,
}

/// [`codes_for`], keeping only `keep(code)` of each person (for the whole service, a month of
/// ledger per person is a lot of memory to hold when only the letter or the run is wanted),
/// with where the time went (the benchmark's breakdown).
pub async fn map_codes<T, F>(
    store: &Store,
    scope: Scope<'_>,
    date: Option<NaiveDate>,
    keep: F,
) -> Result<(Vec<T>, Timings)>
where
    T: Send + 'static,
    F: Fn(DailyCode) -> T + Send + Sync + 'static,
{
    let keep = Arc::new(keep);
    let started = Instant::now();
    let mut tx = begin_read(store, None).await?;
    // One snapshot for every read, as a single SQLite read transaction has: on PostgreSQL the
    // other connections import this one's (valid while it is open).
    let snapshot = match store.backend() {
        Backend::Postgres => Some(
            sqlx::query("SELECT pg_export_snapshot() AS s")
                .fetch_one(&mut *tx)
                .await?
                .try_get::<String, _>("s")?,
        ),
        Backend::Sqlite => None,
    };
    let mut bulk = Bulk::read(store, &mut tx, snapshot, scope, date).await?;
    // People who moved pharmacy (issue 16): their records begin at the move and carry the run
    // from the pharmacy before, which only the per-person path reads. They are few; they take
    // that path (the same `assess` on the same inputs), after the bulk snapshot.
    let moved: std::collections::HashSet<String> = sqlx::query(
        "SELECT DISTINCT service_user_id FROM placements \
         WHERE from_date IS NOT NULL OR to_date IS NOT NULL",
    )
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| r.try_get::<String, _>(0))
    .collect::<std::result::Result<_, _>>()?;
    drop(tx); // read only: rolls back
    let (one_by_one, people): (Vec<_>, Vec<_>) = std::mem::take(&mut bulk.people)
        .into_iter()
        .partition(|(su, _)| moved.contains(su));
    bulk.people = people;
    let bulk = Arc::new(bulk);
    let read = started.elapsed();
    // The rules are pure and per person: one chunk of people per core, off the async workers.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = bulk.people.len().div_ceil(cores).max(1);
    let mut tasks = Vec::new();
    for start in (0..bulk.people.len()).step_by(chunk) {
        let bulk = bulk.clone();
        let keep = keep.clone();
        let end = (start + chunk).min(bulk.people.len());
        tasks.push(tokio::task::spawn_blocking(move || {
            bulk.assess(&bulk.people[start..end], &*keep)
        }));
    }
    let mut out = Vec::with_capacity(bulk.people.len());
    for task in tasks {
        let part = task
            .await
            .map_err(|e| Error::Internal(format!("the daily pass failed: {e}")))??;
        out.extend(part);
    }
    for (su, pharmacy_id) in &one_by_one {
        let site = bulk
            .sites
            .get(pharmacy_id)
            .ok_or_else(|| Error::Internal("service user's pharmacy is missing".into()))?;
        let pharmacy = db::pharmacies::get(store.pool(), pharmacy_id)
            .await?
            .ok_or_else(|| Error::Internal("service user's pharmacy is missing".into()))?;
        let mut conn = store.pool().acquire().await?;
        let records = ledger::records(&mut conn, &pharmacy, su).await?;
        drop(conn);
        out.push(keep(DailyCode {
            service_user_id: su.clone(),
            pharmacy_id: pharmacy_id.clone(),
            date: site.date,
            assessment: records.assess(site.date, site.today),
        }));
    }
    let rules = started.elapsed() - read;
    Ok((out, Timings { read, rules }))
}

/// A pharmacy as the pass needs it.
struct Site {
    calendar: PharmacyCalendar,
    zone: Tz,
    today: NaiveDate,
    date: NaiveDate,
    records_from: Option<NaiveDate>,
    closed_through: Option<NaiveDate>,
}

/// A stored hold, as far as the ledger needs it.
struct HoldRow {
    kind: HoldKind,
    placed_at: String,
    lifted_at: Option<String>,
}

/// Everything read, grouped by pharmacy and person.
struct Bulk {
    sites: HashMap<String, Site>,
    /// `(person, pharmacy)`, by person id.
    people: Vec<(String, String)>,
    /// Per person: the latest missed-dose day reported by each pharmacy.
    missed_through: HashMap<String, Vec<(String, NaiveDate)>>,
    /// Per person, in the per-person path's order (start date, then id).
    prescriptions: HashMap<String, Vec<sotto_domain::Prescription>>,
    /// Per person, newest first (collect_on, at, id descending), as `history::history`.
    supplies: HashMap<String, Vec<SupplyRecord>>,
    holds: HashMap<String, Vec<HoldRow>>,
}

/// `AND <col> IN (the scope's people)`, with the pharmacy bound as `$2`.
fn people_filter(scope: Scope<'_>, col: &str) -> String {
    match scope {
        Scope::Pharmacy(_) => {
            format!(" AND {col} IN (SELECT id FROM service_users WHERE pharmacy_id = $2)")
        }
        Scope::Service => String::new(),
    }
}

/// `WHERE pharmacy_id = $1` for one pharmacy.
fn pharmacy_filter(scope: Scope<'_>, col: &str) -> String {
    match scope {
        Scope::Pharmacy(_) => format!(" WHERE {col} = $1"),
        Scope::Service => String::new(),
    }
}

fn query_for<'q>(
    scope: Scope<'q>,
    sql: String,
    first: Option<String>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(first) = first {
        q = q.bind(first);
    }
    if let Scope::Pharmacy(id) = scope {
        q = q.bind(id);
    }
    q
}

fn opt_date(r: &sqlx::any::AnyRow, col: &str) -> Result<Option<NaiveDate>> {
    let text: Option<String> = r.try_get(col)?;
    text.map(|t| {
        t.parse::<NaiveDate>()
            .map_err(|_| Error::Internal(format!("stored date in column {col} is malformed")))
    })
    .transpose()
}

fn back(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_sub_days(Days::new(days)).unwrap_or(date)
}

impl Bulk {
    async fn read(
        store: &Store,
        tx: &mut db::Tx,
        snapshot: Option<String>,
        scope: Scope<'_>,
        date: Option<NaiveDate>,
    ) -> Result<Bulk> {
        let pharmacies: Vec<Pharmacy> = match scope {
            Scope::Pharmacy(id) => db::pharmacies::get(&mut **tx, id)
                .await?
                .into_iter()
                .collect(),
            Scope::Service => db::pharmacies::list(&mut **tx).await?,
        };
        let mut closures: HashMap<String, BTreeSet<NaiveDate>> = HashMap::new();
        let sql = format!(
            "SELECT pharmacy_id, date FROM closures{}",
            pharmacy_filter(scope, "pharmacy_id")
        );
        for r in query_for(scope, sql, None).fetch_all(&mut **tx).await? {
            closures
                .entry(r.try_get("pharmacy_id")?)
                .or_default()
                .insert(db::get_date(&r, "date")?);
        }
        let mut closed_days: HashMap<String, (Option<NaiveDate>, Option<NaiveDate>)> =
            HashMap::new();
        let sql = format!(
            "SELECT pharmacy_id, MIN(date) AS first, MAX(date) AS last FROM day_closures{} \
             GROUP BY pharmacy_id",
            pharmacy_filter(scope, "pharmacy_id")
        );
        for r in query_for(scope, sql, None).fetch_all(&mut **tx).await? {
            closed_days.insert(
                r.try_get("pharmacy_id")?,
                (opt_date(&r, "first")?, opt_date(&r, "last")?),
            );
        }
        let mut sites = HashMap::with_capacity(pharmacies.len());
        for p in pharmacies {
            let today = p.today();
            let (records_from, closed_through) = closed_days.remove(&p.id).unwrap_or((None, None));
            let site = Site {
                calendar: PharmacyCalendar {
                    hours: p.opening_hours.clone(),
                    closures: closures.remove(&p.id).unwrap_or_default(),
                },
                zone: ledger::zone(&p),
                today,
                date: date.unwrap_or(today),
                records_from,
                closed_through,
            };
            sites.insert(p.id, site);
        }
        // The earliest first day of any ledger window asked for.
        let Some(window) = sites.values().map(|s| back(s.date, LOOKBACK_DAYS)).min() else {
            return Ok(Bulk::empty(sites));
        };

        let sql = format!(
            "SELECT MIN(p.start_date) AS d FROM prescriptions p WHERE p.end_date >= $1{}",
            people_filter(scope, "p.service_user_id")
        );
        let row = query_for(scope, sql, Some(date_text(window)))
            .fetch_one(&mut **tx)
            .await?;
        let earliest_start = opt_date(&row, "d")?;
        let from = back(
            earliest_start.unwrap_or(window).min(window),
            SUPPLY_MARGIN_DAYS,
        );
        let mut bulk = Bulk::empty(sites);
        match snapshot {
            // PostgreSQL: the big reads at once, each on its own connection in the same
            // snapshot, its rows decoded on its own task (so on every core).
            Some(snapshot) => {
                let pharmacy = match scope {
                    Scope::Pharmacy(id) => Some(id.to_string()),
                    Scope::Service => None,
                };
                macro_rules! spawn_read {
                    ($read:expr) => {{
                        let store = store.clone();
                        let snapshot = snapshot.clone();
                        let pharmacy = pharmacy.clone();
                        tokio::spawn(async move {
                            let mut tx = begin_read(&store, Some(&snapshot)).await?;
                            let scope = pharmacy.as_deref().map_or(Scope::Service, Scope::Pharmacy);
                            #[allow(clippy::redundant_closure_call)]
                            $read(&mut tx, scope).await
                        })
                    }};
                }
                let people = spawn_read!(|tx, scope| read_people(tx, scope));
                let missed = spawn_read!(|tx, scope| read_missed(tx, scope));
                let prescriptions =
                    spawn_read!(move |tx, scope| read_prescriptions(tx, scope, window));
                let supplies = spawn_read!(move |tx, scope| read_supplies(tx, scope, from));
                let holds = spawn_read!(move |tx, scope| read_holds(tx, scope, from));
                let joined =
                    |e: tokio::task::JoinError| Error::Internal(format!("a bulk read failed: {e}"));
                bulk.people = people.await.map_err(joined)??;
                bulk.missed_through = missed.await.map_err(joined)??;
                bulk.prescriptions = prescriptions.await.map_err(joined)??;
                bulk.supplies = supplies.await.map_err(joined)??;
                bulk.holds = holds.await.map_err(joined)??;
            }
            // SQLite: one read transaction is the snapshot; its reads go one after another.
            None => {
                bulk.people = read_people(tx, scope).await?;
                bulk.missed_through = read_missed(tx, scope).await?;
                bulk.prescriptions = read_prescriptions(tx, scope, window).await?;
                bulk.supplies = read_supplies(tx, scope, from).await?;
                bulk.holds = read_holds(tx, scope, from).await?;
            }
        }
        Ok(bulk)
    }

    fn empty(sites: HashMap<String, Site>) -> Bulk {
        Bulk {
            sites,
            people: Vec::new(),
            missed_through: HashMap::new(),
            prescriptions: HashMap::new(),
            supplies: HashMap::new(),
            holds: HashMap::new(),
        }
    }

    /// Each person's inputs, then the domain's `assess`.
    fn assess<T>(
        &self,
        people: &[(String, String)],
        keep: &dyn Fn(DailyCode) -> T,
    ) -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(people.len());
        for (su, pharmacy_id) in people {
            let site = self
                .sites
                .get(pharmacy_id)
                .ok_or_else(|| Error::Internal("service user's pharmacy is missing".into()))?;
            let prescriptions: Vec<PrescribedSchedule> = self
                .prescriptions
                .get(su)
                .map(|ps| {
                    ps.iter()
                        .map(|p| PrescribedSchedule {
                            schedule: p.schedule(&site.calendar),
                            directions: p.directions(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let holds = self.holds.get(su).map(Vec::as_slice).unwrap_or(&[]);
            let spans: Vec<HoldSpan> = holds
                .iter()
                .filter_map(|h| {
                    ledger::hold_span(h.kind, &h.placed_at, h.lifted_at.as_deref(), site.zone)
                })
                .collect();
            let active: Vec<HoldKind> = holds
                .iter()
                .filter(|h| h.lifted_at.is_none())
                .map(|h| h.kind)
                .collect();
            let last_review = ledger::last_review_of(
                holds.iter().map(|h| (h.kind, h.lifted_at.as_deref())),
                site.zone,
            );
            let missed = self
                .missed_through
                .get(su)
                .and_then(|m| m.iter().find(|(p, _)| p == pharmacy_id))
                .map(|(_, d)| *d);
            let input = LedgerInput {
                prescriptions: &prescriptions,
                supplies: self.supplies.get(su).map(Vec::as_slice).unwrap_or(&[]),
                holds: &spans,
                last_review,
                calendar: &site.calendar,
                settled_through: site.closed_through.max(missed),
                records_from: site.records_from,
                // Only people who moved pharmacy carry a run; they take the per-person path.
                carried: None,
            };
            let assessment = assess(&input, &active, site.date, site.today);
            out.push(keep(DailyCode {
                service_user_id: su.clone(),
                pharmacy_id: pharmacy_id.clone(),
                date: site.date,
                assessment,
            }));
        }
        Ok(out)
    }
}

async fn read_people(tx: &mut db::Tx, scope: Scope<'_>) -> Result<Vec<(String, String)>> {
    let sql = format!(
        "SELECT id, pharmacy_id FROM service_users{} ORDER BY id",
        pharmacy_filter(scope, "pharmacy_id")
    );
    let rows = query_for(scope, sql, None).fetch_all(&mut **tx).await?;
    let mut people = Vec::with_capacity(rows.len());
    for r in rows {
        people.push((r.try_get(0)?, r.try_get(1)?));
    }
    Ok(people)
}

async fn read_missed(
    tx: &mut db::Tx,
    scope: Scope<'_>,
) -> Result<HashMap<String, Vec<(String, NaiveDate)>>> {
    let mut missed_through: HashMap<String, Vec<(String, NaiveDate)>> = HashMap::new();
    let sql = format!(
        "SELECT service_user_id, pharmacy_id, MAX(date) AS d FROM missed_doses{} \
         GROUP BY service_user_id, pharmacy_id",
        pharmacy_filter(scope, "pharmacy_id")
    );
    for r in query_for(scope, sql, None).fetch_all(&mut **tx).await? {
        if let Some(d) = opt_date(&r, "d")? {
            missed_through
                .entry(r.try_get("service_user_id")?)
                .or_default()
                .push((r.try_get("pharmacy_id")?, d));
        }
    }
    Ok(missed_through)
}

async fn read_supplies(
    tx: &mut db::Tx,
    scope: Scope<'_>,
    from: NaiveDate,
) -> Result<HashMap<String, Vec<SupplyRecord>>> {
    let mut supplies: HashMap<String, Vec<SupplyRecord>> = HashMap::new();
    let sql = format!(
        "SELECT service_user_id, collect_on, kind, supervised_taken, take_home_dates \
         FROM dispenses WHERE collect_on >= $1{} \
         ORDER BY service_user_id, collect_on DESC, at DESC, id",
        people_filter(scope, "service_user_id")
    );
    for r in query_for(scope, sql, Some(date_text(from)))
        .fetch_all(&mut **tx)
        .await?
    {
        let kind: String = r.try_get("kind")?;
        let dates: String = r.try_get("take_home_dates")?;
        supplies
            .entry(r.try_get("service_user_id")?)
            .or_default()
            .push(history::supply_record(
                db::get_date(&r, "collect_on")?,
                &kind,
                r.try_get::<i64, _>("supervised_taken")? != 0,
                history::parse_take_home_dates(&dates)?,
            ));
    }
    Ok(supplies)
}

async fn read_holds(
    tx: &mut db::Tx,
    scope: Scope<'_>,
    from: NaiveDate,
) -> Result<HashMap<String, Vec<HoldRow>>> {
    let mut holds: HashMap<String, Vec<HoldRow>> = HashMap::new();
    // Instants are RFC 3339 UTC text (sorting as text); a day either side covers any zone.
    let sql = format!(
        "SELECT service_user_id, kind, placed_at, lifted_at FROM holds \
         WHERE (lifted_at IS NULL OR lifted_at >= $1 OR kind = 'safety'){}",
        people_filter(scope, "service_user_id")
    );
    for r in query_for(scope, sql, Some(date_text(back(from, 2))))
        .fetch_all(&mut **tx)
        .await?
    {
        let kind: String = r.try_get("kind")?;
        holds
            .entry(r.try_get("service_user_id")?)
            .or_default()
            .push(HoldRow {
                kind: db::holds::parse_kind(&kind)?,
                placed_at: r.try_get("placed_at")?,
                lifted_at: r.try_get("lifted_at")?,
            });
    }
    Ok(holds)
}

/// A read-only transaction; on PostgreSQL repeatable read, in `snapshot` if given (one
/// exported by the pass's first transaction, so every connection reads the same state).
async fn begin_read(store: &Store, snapshot: Option<&str>) -> Result<db::Tx> {
    let mut tx = store.pool().begin().await?;
    if store.backend() == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        if let Some(id) = snapshot {
            // The id comes from pg_export_snapshot(), not from outside; checked anyway.
            if !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                return Err(Error::Internal("unexpected snapshot id".into()));
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SET TRANSACTION SNAPSHOT '{id}'"
            )))
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(tx)
}

/// The prescriptions that can matter on or after `window` (see the module docs), one row
/// per regime.
async fn read_prescriptions(
    tx: &mut db::Tx,
    scope: Scope<'_>,
    window: NaiveDate,
) -> Result<HashMap<String, Vec<sotto_domain::Prescription>>> {
    let columns = db::prescriptions::COLUMNS
        .split(", ")
        .map(|c| format!("p.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns}, r.effective_from, r.daily_dose_ug, r.collections \
         FROM prescriptions p JOIN regimes r ON r.prescription_id = p.id \
         WHERE (p.end_date >= $1 OR p.id IN (SELECT t.id FROM (SELECT q.id, \
           ROW_NUMBER() OVER (PARTITION BY q.service_user_id \
             ORDER BY q.start_date, q.consult_after_missed_days) AS a, \
           ROW_NUMBER() OVER (PARTITION BY q.service_user_id \
             ORDER BY q.start_date DESC, q.consult_after_missed_days DESC) AS b \
           FROM prescriptions q WHERE q.end_date < $1{}) t WHERE t.a = 1 OR t.b = 1)){} \
         ORDER BY p.service_user_id, p.start_date, p.id, r.effective_from",
        people_filter(scope, "q.service_user_id"),
        people_filter(scope, "p.service_user_id"),
    );
    let rows = query_for(scope, sql, Some(date_text(window)))
        .fetch_all(&mut **tx)
        .await?;
    let mut patterns: HashMap<String, WeeklyCollections> = HashMap::new();
    let mut out: HashMap<String, Vec<sotto_domain::Prescription>> = HashMap::new();
    let mut i = 0;
    while i < rows.len() {
        let id: String = rows[i].try_get("id")?;
        let mut regimes = Vec::new();
        let mut j = i;
        while j < rows.len() && rows[j].try_get::<String, _>("id")? == id {
            let json: String = rows[j].try_get("collections")?;
            let collections = match patterns.get(&json) {
                Some(c) => c.clone(),
                None => {
                    let c = db::prescriptions::parse_collections(&json)?;
                    patterns.insert(json, c.clone());
                    c
                }
            };
            regimes.push(db::prescriptions::regime_from_row(&rows[j], collections)?);
            j += 1;
        }
        let prescription = db::prescriptions::from_row(&rows[i], regimes)?;
        out.entry(rows[i].try_get("service_user_id")?)
            .or_default()
            .push(prescription);
        i = j;
    }
    Ok(out)
}
