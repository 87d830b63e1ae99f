//! Placements: which pharmacy holds a person, over time (`migrations/*/0013_journey.sql`).

use chrono::NaiveDate;
use sqlx::{AnyConnection, Row};

use super::{date_text, new_id, now_text};
use crate::error::{Error, Result};

/// One stretch of days a pharmacy holds a person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Placement {
    pub id: String,
    #[serde(skip)]
    pub service_user_id: String,
    pub pharmacy_id: String,
    /// The first day; absent: since the record began.
    pub from: Option<NaiveDate>,
    /// The last day; absent: for good.
    pub to: Option<NaiveDate>,
    /// When the pharmacy was told the person left it (after `to`).
    #[serde(skip)]
    pub removal_sent: bool,
}

impl Placement {
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= date) && self.to.is_none_or(|t| date <= t)
    }
}

fn parse_date(r: &sqlx::any::AnyRow, col: &str) -> Result<Option<NaiveDate>> {
    let s: Option<String> = r.try_get(col)?;
    s.map(|s| {
        NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map_err(|_| Error::Internal(format!("stored date in column {col} is malformed")))
    })
    .transpose()
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Placement> {
    Ok(Placement {
        id: r.try_get("id")?,
        service_user_id: r.try_get("service_user_id")?,
        pharmacy_id: r.try_get("pharmacy_id")?,
        from: parse_date(r, "from_date")?,
        to: parse_date(r, "to_date")?,
        removal_sent: r.try_get::<Option<String>, _>("removal_sent_at")?.is_some(),
    })
}

const COLUMNS: &str = "id, service_user_id, pharmacy_id, from_date, to_date, removal_sent_at";

/// A person's placements, oldest first (the first one has no `from`).
pub async fn of_person(conn: &mut AnyConnection, su_id: &str) -> Result<Vec<Placement>> {
    let sql = format!("SELECT {COLUMNS} FROM placements WHERE service_user_id = $1");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(su_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|p| p.from);
    Ok(out)
}

/// The people a pharmacy holds on `date` or later (its counter must know them).
pub async fn people_from(
    conn: &mut AnyConnection,
    pharmacy_id: &str,
    date: NaiveDate,
) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT DISTINCT service_user_id FROM placements WHERE pharmacy_id = $1 \
         AND (to_date IS NULL OR to_date >= $2) ORDER BY service_user_id",
    )
    .bind(pharmacy_id)
    .bind(date_text(date))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            r.try_get::<String, _>("service_user_id")
                .map_err(Error::from)
        })
        .collect()
}

/// Records a new placement.
pub async fn insert(
    conn: &mut AnyConnection,
    su_id: &str,
    pharmacy_id: &str,
    from: Option<NaiveDate>,
    by: &str,
) -> Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO placements (id, service_user_id, pharmacy_id, kind, from_date, to_date, \
         removal_sent_at, created_by, created_at) VALUES ($1, $2, $3, 'home', $4, NULL, NULL, $5, $6)",
    )
    .bind(&id)
    .bind(su_id)
    .bind(pharmacy_id)
    .bind(from.map(date_text))
    .bind(by)
    .bind(now_text())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Ends a placement on `to` (its last day).
pub async fn end(conn: &mut AnyConnection, id: &str, to: NaiveDate) -> Result<()> {
    sqlx::query("UPDATE placements SET to_date = $1 WHERE id = $2")
        .bind(date_text(to))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Notes that the pharmacy was told the person left.
pub async fn mark_removal_sent(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("UPDATE placements SET removal_sent_at = $1 WHERE id = $2")
        .bind(now_text())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Placements whose pharmacy has not been told yet that the person left, or whose start has
/// come while the person is still of record elsewhere (`date` is a generous "today": each is
/// checked against its own pharmacy's today by the caller).
pub async fn due_by(conn: &mut AnyConnection, date: NaiveDate) -> Result<Vec<Placement>> {
    let rows = sqlx::query(
        "SELECT p.id, p.service_user_id, p.pharmacy_id, p.from_date, p.to_date, p.removal_sent_at \
         FROM placements p JOIN service_users s ON s.id = p.service_user_id \
         WHERE (p.to_date IS NOT NULL AND p.to_date < $1 AND p.removal_sent_at IS NULL) \
            OR (p.to_date IS NULL AND p.from_date IS NOT NULL AND p.from_date <= $1 \
                AND s.pharmacy_id <> p.pharmacy_id)",
    )
    .bind(date_text(date))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}
