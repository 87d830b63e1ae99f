//! Pharmacies, their opening pattern and closures.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use sotto_domain::{PharmacyCalendar, Weekday};
use sqlx::{AnyPool, Row};

use super::audit::{Actor, WriteTx};
use super::{conflict_on_unique, date_text, new_id, now_text};
use crate::auth::{hash_secret, new_secret};
use crate::error::{Error, Result};
use crate::values::{Name, OdsCode};

pub struct NewPharmacy {
    pub ods_code: OdsCode,
    pub name: Name,
    pub closed_weekdays: Vec<Weekday>,
    pub closing_time: chrono::NaiveTime,
    pub timezone: chrono_tz::Tz,
}

/// A pharmacy as the API shows it (never its broker password).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Pharmacy {
    pub id: String,
    pub ods_code: String,
    pub name: String,
    pub closed_weekdays: Vec<Weekday>,
    pub closing_time: String,
    pub timezone: String,
    pub mqtt_username: String,
}

impl Pharmacy {
    /// The pharmacy's local date now: "today" at the counter is the pharmacy's today.
    pub fn today(&self) -> NaiveDate {
        let tz: chrono_tz::Tz = self.timezone.parse().unwrap_or(chrono_tz::Europe::London);
        chrono::Utc::now().with_timezone(&tz).date_naive()
    }
}

pub struct Created {
    pub id: String,
    pub mqtt_username: String,
    pub mqtt_password: String,
}

pub async fn insert(w: &mut WriteTx, actor: &Actor, p: &NewPharmacy) -> Result<Created> {
    let id = new_id();
    // The broker user name is derived from the ODS code so broker logs stay readable.
    let mqtt_username = format!("pharmacy-{}", p.ods_code.as_str().to_ascii_lowercase());
    let mqtt_password = new_secret("mqtt");
    let weekdays: Vec<&str> = p.closed_weekdays.iter().map(|d| d.as_str()).collect();
    let res = sqlx::query(
        "INSERT INTO pharmacies (id, ods_code, name, closed_weekdays, closing_time, timezone, \
         mqtt_username, mqtt_password_hash, mqtt_password_mosquitto, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&id)
    .bind(p.ods_code.as_str())
    .bind(p.name.as_str())
    .bind(weekdays.join(","))
    .bind(p.closing_time.format("%H:%M").to_string())
    .bind(p.timezone.name())
    .bind(&mqtt_username)
    .bind(hash_secret(&mqtt_password))
    .bind(crate::sync::mosquitto::mosquitto_hash(&mqtt_password))
    .bind(now_text())
    .execute(&mut *w.tx)
    .await;
    conflict_on_unique(res, "ods_code", || {
        format!(
            "a pharmacy with ODS code {} already exists",
            p.ods_code.as_str()
        )
    })?;
    w.audit(
        actor,
        "pharmacy.create",
        &format!("pharmacy:{id}"),
        serde_json::json!({"ods_code": p.ods_code.as_str()}),
    )
    .await?;
    Ok(Created {
        id,
        mqtt_username,
        mqtt_password,
    })
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Pharmacy> {
    let days: String = r.try_get("closed_weekdays")?;
    let closed_weekdays = days
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<Weekday>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Error::Internal("stored closed weekdays are malformed".into()))?;
    Ok(Pharmacy {
        id: r.try_get("id")?,
        ods_code: r.try_get("ods_code")?,
        name: r.try_get("name")?,
        closed_weekdays,
        closing_time: r.try_get("closing_time")?,
        timezone: r.try_get("timezone")?,
        mqtt_username: r.try_get("mqtt_username")?,
    })
}

const COLUMNS: &str = "id, ods_code, name, closed_weekdays, closing_time, timezone, mqtt_username";

pub async fn get<'e, E>(exec: E, id: &str) -> Result<Option<Pharmacy>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM pharmacies WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(exec)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(pool: &AnyPool) -> Result<Vec<Pharmacy>> {
    let sql = format!("SELECT {COLUMNS} FROM pharmacies ORDER BY ods_code");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn exists(w: &mut WriteTx, id: &str) -> Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM pharmacies WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *w.tx)
        .await?
        .is_some())
}

/// The pharmacy's opening pattern with every recorded closure, for schedule calculation.
pub async fn calendar<'e, E>(exec: E, pharmacy: &Pharmacy) -> Result<PharmacyCalendar>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = sqlx::query("SELECT date FROM closures WHERE pharmacy_id = $1")
        .bind(&pharmacy.id)
        .fetch_all(exec)
        .await?;
    let mut closures = BTreeSet::new();
    for r in &rows {
        closures.insert(super::get_date(r, "date")?);
    }
    Ok(PharmacyCalendar {
        closed_weekdays: pharmacy.closed_weekdays.clone(),
        closures,
    })
}

/// The calendar of a pharmacy known by id (a missing pharmacy is a broken reference: internal).
pub async fn calendar_of(
    conn: &mut sqlx::AnyConnection,
    pharmacy_id: &str,
) -> Result<PharmacyCalendar> {
    let pharmacy = get(&mut *conn, pharmacy_id)
        .await?
        .ok_or_else(|| Error::Internal("pharmacy missing".into()))?;
    calendar(&mut *conn, &pharmacy).await
}

pub async fn add_closure(
    w: &mut WriteTx,
    actor: &Actor,
    pharmacy_id: &str,
    date: NaiveDate,
    note: &str,
) -> Result<String> {
    let id = new_id();
    let res = sqlx::query(
        "INSERT INTO closures (id, pharmacy_id, date, note, created_at) VALUES ($1,$2,$3,$4,$5)",
    )
    .bind(&id)
    .bind(pharmacy_id)
    .bind(date_text(date))
    .bind(note)
    .bind(now_text())
    .execute(&mut *w.tx)
    .await;
    conflict_on_unique(res, "date", || {
        format!("a closure on {date} is already recorded for this pharmacy")
    })?;
    w.audit(
        actor,
        "pharmacy.closure.add",
        &format!("pharmacy:{pharmacy_id}"),
        serde_json::json!({"date": date_text(date)}),
    )
    .await?;
    Ok(id)
}
