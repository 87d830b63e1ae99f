//! Storage over sqlx's `AnyPool`: one set of SQL statements for SQLite and PostgreSQL.
//!
//! `AnyPool` carries only integers, floats, text and bytes, so the schema stores timestamps as
//! RFC 3339 text, dates as `YYYY-MM-DD`, booleans as 0/1 and doses as whole micrograms, and this
//! module converts at the edge (see `../shared/TECH.md`).

pub mod audit;
pub mod holds;
pub mod pharmacies;
pub mod placements;
pub mod prescriptions;
pub mod service_users;
pub mod staff;

use chrono::{NaiveDate, SecondsFormat, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::error::{Error, Result};

/// Which database the pool talks to; picks the migration set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The shared handle to the database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Rung after a commit that wrote to the outbox, so the relay publishes at once.
    outbox_wake: Arc<Notify>,
    /// Rung after a commit that queued mail.
    mail_wake: Arc<Notify>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Store {
    /// Connects (creating a SQLite file if missing) and brings the schema up to date.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        use anyhow::Context;
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("sqlite:") {
            let url = if url.contains("mode=") {
                url.to_string()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else {
            (Backend::Postgres, url.to_string())
        };
        let pool = AnyPoolOptions::new()
            // SQLite serialises writers anyway; a handful of readers is plenty for it.
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            // A down database answers 503 within seconds rather than hanging the request.
            .acquire_timeout(Duration::from_secs(5))
            .connect(&url)
            .await
            .with_context(|| {
                format!(
                    "Failed to connect to the database at {}",
                    crate::config::redact_url(&url)
                )
            })?;
        if backend == Backend::Sqlite {
            // WAL lets the counter's reads go on while a change is written.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .context("Failed to enable WAL")?;
        }
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .context("Failed to run database migrations")?;
        Ok(Store {
            pool,
            backend,
            outbox_wake: Arc::new(Notify::new()),
            mail_wake: Arc::new(Notify::new()),
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// What the mail worker waits on.
    pub fn mail_wake(&self) -> Arc<Notify> {
        self.mail_wake.clone()
    }

    /// What the outbox relay waits on.
    pub fn outbox_wake(&self) -> Arc<Notify> {
        self.outbox_wake.clone()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Cheap liveness probe for `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Starts a transaction that changes state. It takes the audit lock first, so writers are
    /// serialised and every change can append to the audit chain (see [`audit`]).
    pub async fn write(&self) -> Result<audit::WriteTx> {
        audit::WriteTx::begin(&self.pool, self.outbox_wake.clone(), self.mail_wake.clone()).await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A plain transaction, for the rare multi-statement read.
pub type Tx = Transaction<'static, Any>;

/// Now, as stored: RFC 3339 UTC with milliseconds (sorts as text).
pub fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Reads a stored date; a malformed value is a corrupted database, reported as an internal error.
pub(crate) fn get_date(row: &AnyRow, col: &str) -> Result<NaiveDate> {
    let s: String = row.try_get(col)?;
    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .map_err(|_| Error::Internal(format!("stored date in column {col} is malformed")))
}

/// Turns a unique-constraint violation (duplicate ODS code, e-mail, reference, ...) into a 409
/// naming the field; any other error passes through.
pub(crate) fn conflict_on_unique<T>(
    result: std::result::Result<T, sqlx::Error>,
    field: &'static str,
    detail: impl FnOnce() -> String,
) -> Result<T> {
    result.map_err(|e| match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict {
            field,
            detail: detail(),
        },
        other => Error::from(other),
    })
}
