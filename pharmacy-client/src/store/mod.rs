//! The local store: SQLite in `data_dir/client.db`, the pharmacy's copy of what the server
//! pushed. The counter answers from here at once, with or without the broker (offline first).
//!
//! Writes go through [`Store::apply`] (one transaction per server message, in `apply.rs`) and
//! the counter's own records (`reports.rs`: supplies, closed days, the reports outbox);
//! everything else here is reads for the counter.

mod apply;
mod reports;

pub use reports::{DayClose, NewSupply, SupplyRefused};

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sotto_protocol::{PersonState, PharmacyInfo};
use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::SqliteSynchronous;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::error::Error;

/// Handle to the local store; cheap to clone (a connection pool).
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// Where the stream stands and what we know about the pharmacy.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// `None` until the first snapshot.
    pub last_seq: Option<u64>,
    /// Last time the server confirmed our data is current.
    pub synced_at: Option<DateTime<Utc>>,
    pub pharmacy: Option<PharmacyInfo>,
    /// The pharmacy's local date of the first snapshot ever applied.
    pub enrolled_on: Option<NaiveDate>,
}

const META: &str = "SELECT last_seq, synced_at, pharmacy, enrolled_on FROM meta WHERE id = 1";

/// Migrations are embedded (no files to ship next to the binary). Built by hand rather than
/// with `sqlx::migrate!` so the client doesn't need sqlx's proc-macro crate.
fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            Cow::Borrowed("store"),
            MigrationType::Simple,
            include_str!("../../migrations/0001_store.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            Cow::Borrowed("reports"),
            MigrationType::Simple,
            include_str!("../../migrations/0002_reports.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            Cow::Borrowed("ledger"),
            MigrationType::Simple,
            include_str!("../../migrations/0003_ledger.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            10,
            Cow::Borrowed("close_early"),
            MigrationType::Simple,
            include_str!("../../migrations/0010_close_early.sql").into_sql_str(),
            false,
        ),
    ])
}

impl Store {
    /// Opens (creating if needed) `dir/client.db` and brings its schema up to date.
    pub async fn open(dir: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let options = SqliteConnectOptions::new()
            .filename(dir.join("client.db"))
            .create_if_missing(true)
            // WAL: the counter reads while a message is being applied, without waiting.
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: we ack to the broker after commit, so the commit must survive power loss.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        migrator().run(&pool).await?;
        Ok(Store { pool })
    }

    /// Waits for connections to be returned and closes the database cleanly.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The stream position, last sync time and pharmacy details.
    pub async fn meta(&self) -> Result<Meta, Error> {
        let row: MetaRow = sqlx::query_as(META).fetch_one(&self.pool).await?;
        meta_from_row(row)
    }

    /// The people matching `search`, with the meta they must be read against (zone, sync
    /// time). One read transaction, so both come from the same state: a snapshot committed
    /// between two separate reads could pair new people with an old sync time.
    pub async fn find(&self, search: &Search) -> Result<(Meta, Vec<PersonState>), Error> {
        let mut tx = self.pool.begin().await?;
        let meta = meta_in(&mut tx).await?;
        let rows: Vec<(String,)> = match search {
            Search::Reference(reference) => {
                sqlx::query_as(
                    "SELECT state FROM people WHERE reference = ? ORDER BY service_user_id",
                )
                .bind(normalise_reference(reference))
                .fetch_all(&mut *tx)
                .await?
            }
            Search::Name(family_name, date_of_birth) => {
                sqlx::query_as(
                    "SELECT state FROM people WHERE family_name = ? AND date_of_birth = ? \
                     ORDER BY service_user_id",
                )
                .bind(fold_name(family_name))
                .bind(date_of_birth.to_string())
                .fetch_all(&mut *tx)
                .await?
            }
        };
        tx.commit().await?;
        let people = rows
            .into_iter()
            .map(|(json,)| parse_person(&json))
            .collect::<Result<_, _>>()?;
        Ok((meta, people))
    }
}

impl Store {
    /// Everyone this pharmacy holds, with the meta they must be read against, in one read
    /// transaction (as [`Store::find`]): today's list.
    pub async fn everyone(&self) -> Result<(Meta, Vec<PersonState>), Error> {
        let mut tx = self.pool.begin().await?;
        let meta = meta_in(&mut tx).await?;
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT state FROM people ORDER BY service_user_id")
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        let people = rows
            .iter()
            .map(|(json,)| parse_person(json))
            .collect::<Result<_, _>>()?;
        Ok((meta, people))
    }
}

/// How the counter looks a person up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    /// By the service's reference, in any case.
    Reference(String),
    /// By family name (any case) and date of birth.
    Name(String, NaiveDate),
}

/// References are compared upper-case and without surrounding spaces: `su-1042 ` is SU-1042.
pub(crate) fn normalise_reference(reference: &str) -> String {
    reference.trim().to_uppercase()
}

/// Family names are compared lower-case (Unicode-aware) and without surrounding spaces.
pub(crate) fn fold_name(name: &str) -> String {
    name.trim().to_lowercase()
}

fn parse_person(json: &str) -> Result<PersonState, Error> {
    serde_json::from_str(json).map_err(|e| Error::Corrupt {
        what: "people",
        detail: e.to_string(),
    })
}

type MetaRow = (Option<i64>, Option<String>, Option<String>, Option<String>);

/// The meta row, read inside a transaction.
pub(super) async fn meta_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
) -> Result<Meta, Error> {
    let row: MetaRow = sqlx::query_as(META).fetch_one(&mut **tx).await?;
    meta_from_row(row)
}

fn meta_from_row(row: MetaRow) -> Result<Meta, Error> {
    let (last_seq, synced_at, pharmacy, enrolled_on) = row;
    let corrupt = |what, detail: String| Error::Corrupt { what, detail };
    Ok(Meta {
        last_seq: last_seq
            .map(|s| u64::try_from(s).map_err(|e| corrupt("meta.last_seq", e.to_string())))
            .transpose()?,
        synced_at: synced_at
            .map(|s| {
                DateTime::parse_from_rfc3339(&s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| corrupt("meta.synced_at", e.to_string()))
            })
            .transpose()?,
        pharmacy: pharmacy
            .map(|s| serde_json::from_str(&s).map_err(|e| corrupt("meta.pharmacy", e.to_string())))
            .transpose()?,
        enrolled_on: enrolled_on
            .map(|s| reports::parse_date("meta.enrolled_on", &s))
            .transpose()?,
    })
}

impl Store {
    /// Every instalment handed over here (not withheld) from `from` to `to`, with everyone the
    /// store holds now, in one read transaction: the supply log.
    pub async fn supplies_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(Vec<crate::records::LocalSupply>, Vec<PersonState>), Error> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<(String, String, i64, String, String)> = sqlx::query_as(
            "SELECT service_user_id, collect_on, supervised_taken, take_home_dates, at \
             FROM supplies WHERE withheld = 0 AND collect_on >= ?1 AND collect_on <= ?2 \
             ORDER BY collect_on, at, id",
        )
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&mut *tx)
        .await?;
        let people: Vec<(String,)> = sqlx::query_as("SELECT state FROM people")
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let bad = |detail: &str| Error::Corrupt {
            what: "supplies",
            detail: format!("a stored supply's {detail} is unreadable"),
        };
        let mut supplies = Vec::with_capacity(rows.len());
        for (su, on, supervised, dates, at) in rows {
            supplies.push(crate::records::LocalSupply {
                service_user_id: su,
                collect_on: on.parse().map_err(|_| bad("date"))?,
                supervised_taken: supervised != 0,
                take_home_dates: serde_json::from_str(&dates)
                    .map_err(|_| bad("take-home dates"))?,
                at: chrono::DateTime::parse_from_rfc3339(&at)
                    .map_err(|_| bad("time"))?
                    .with_timezone(&chrono::Utc),
            });
        }
        let people = people
            .iter()
            .map(|(json,)| parse_person(json))
            .collect::<Result<_, _>>()?;
        Ok((supplies, people))
    }
}
