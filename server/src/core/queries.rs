//! Reads the console's pages show, typed: so the pages render and never run SQL themselves.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use sotto_domain::Collection;
use sqlx::{AnyPool, Row};

use crate::core::access::Role;
use crate::core::db::date_text;
use crate::error::{Error, Result};

/// The ids of every regime of a person's prescriptions (what a confirm's stamp covers).
pub async fn regime_ids(pool: &AnyPool, su_id: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT r.id FROM regimes r JOIN prescriptions p ON p.id = r.prescription_id \
         WHERE p.service_user_id = $1 ORDER BY r.id",
    )
    .bind(su_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

/// The days a pharmacy's counter closed.
pub async fn closed_days(pool: &AnyPool, pharmacy_id: &str) -> Result<BTreeSet<NaiveDate>> {
    let rows = sqlx::query("SELECT date FROM day_closures WHERE pharmacy_id = $1")
        .bind(pharmacy_id)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>("date").ok())
        .filter_map(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        .collect())
}

/// One regime change as the person page lists it.
pub struct RegimeChangeRow {
    pub effective_from: String,
    pub daily_dose_mg: f64,
    pub collections: Vec<Collection>,
    pub reason: Option<String>,
    pub created_at: String,
}

/// A person's regime changes (regimes with a reason: not a prescription's first), newest first.
pub async fn regime_changes(pool: &AnyPool, su_id: &str) -> Result<Vec<RegimeChangeRow>> {
    let rows = sqlx::query(
        "SELECT r.effective_from, r.daily_dose_ug, r.collections, r.reason, r.created_at \
         FROM regimes r JOIN prescriptions p ON p.id = r.prescription_id \
         WHERE p.service_user_id = $1 AND r.reason IS NOT NULL ORDER BY r.effective_from DESC",
    )
    .bind(su_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RegimeChangeRow {
                effective_from: r.try_get("effective_from")?,
                daily_dose_mg: r.try_get::<i64, _>("daily_dose_ug")? as f64 / 1000.0,
                collections: serde_json::from_str(&r.try_get::<String, _>("collections")?)
                    .map_err(|_| Error::Internal("stored collections are malformed".into()))?,
                reason: r.try_get("reason")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Missed doses recorded for a person on or after `since`.
pub async fn missed_since(pool: &AnyPool, su_id: &str, since: NaiveDate) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM missed_doses WHERE service_user_id = $1 AND date >= $2",
    )
    .bind(su_id)
    .bind(date_text(since))
    .fetch_one(pool)
    .await?;
    Ok(row.try_get("n")?)
}

/// What the server last heard from a pharmacy's counter.
#[derive(Default)]
pub struct Contact {
    /// When its client last sent anything (RFC 3339).
    pub last_message_at: Option<String>,
    pub last_resync_at: Option<String>,
    /// How far its PC's clock was from the server's (ms; positive: ahead).
    pub clock_skew_ms: Option<i64>,
}

pub async fn contact(pool: &AnyPool, pharmacy_id: &str) -> Result<Contact> {
    let row = sqlx::query(
        "SELECT last_message_at, last_resync_at, clock_skew_ms FROM pharmacy_contact \
         WHERE pharmacy_id = $1",
    )
    .bind(pharmacy_id)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        None => Contact::default(),
        Some(r) => Contact {
            last_message_at: r.try_get("last_message_at")?,
            last_resync_at: r.try_get("last_resync_at")?,
            clock_skew_ms: r.try_get("clock_skew_ms")?,
        },
    })
}

/// The last day a pharmacy's counter closed (`YYYY-MM-DD`), and how many of its messages the
/// broker has not acknowledged yet (the relay is still trying).
pub async fn link_backlog(pool: &AnyPool, pharmacy_id: &str) -> Result<(Option<String>, i64)> {
    let closed = sqlx::query("SELECT MAX(date) AS d FROM day_closures WHERE pharmacy_id = $1")
        .bind(pharmacy_id)
        .fetch_one(pool)
        .await?;
    let pending =
        sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE pharmacy_id = $1 AND sent_at IS NULL")
            .bind(pharmacy_id)
            .fetch_one(pool)
            .await?;
    Ok((closed.try_get("d")?, pending.try_get("n")?))
}

/// One staff member as the staff page lists them.
pub struct StaffRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub team: Option<String>,
    pub has_password: bool,
}

/// Every staff member, by role and name (`role`: only those with it).
pub async fn staff(pool: &AnyPool, role: Option<Role>) -> Result<Vec<StaffRow>> {
    const COLUMNS: &str = "SELECT id, name, email, role, team, password_hash FROM staff";
    let rows = match role {
        Some(role) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{COLUMNS} WHERE role = $1 ORDER BY name"
            )))
            .bind(role.as_str())
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{COLUMNS} ORDER BY role, name"
            )))
            .fetch_all(pool)
            .await?
        }
    };
    rows.iter()
        .map(|r| {
            Ok(StaffRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                role: r.try_get("role")?,
                team: r.try_get("team")?,
                has_password: r.try_get::<Option<String>, _>("password_hash")?.is_some(),
            })
        })
        .collect()
}
