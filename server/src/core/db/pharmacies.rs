//! Pharmacies, their opening hours per weekday and closures.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use sotto_domain::{
    DayHours, OpeningHours, OpeningHoursText, PharmacyCalendar, Weekday, parse_hh_mm,
};
use sqlx::Row;

use super::audit::{Actor, WriteTx};
use super::{conflict_on_unique, date_text, new_id, now_text};
use crate::core::secrets::{hash_secret, new_secret};
use crate::core::values::{Name, OdsCode};
use crate::error::{Error, Result};

pub struct NewPharmacy {
    pub ods_code: OdsCode,
    pub name: Name,
    pub hours: OpeningHours,
    pub timezone: chrono_tz::Tz,
}

/// A pharmacy as the API shows it (never its broker password).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Pharmacy {
    pub id: String,
    pub ods_code: String,
    pub name: String,
    /// Each weekday's opening and closing time; a weekday left out is closed.
    #[schema(value_type = OpeningHoursText)]
    pub opening_hours: OpeningHours,
    /// The weekdays without opening hours (derived; kept for older callers).
    pub closed_weekdays: Vec<Weekday>,
    /// `HH:MM`: the closing time most open days share (derived; kept for older callers).
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

/// The older single closing time, derived from the hours.
fn usual_close(hours: &OpeningHours) -> String {
    hours
        .usual_close()
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default()
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
    let weekdays: Vec<&str> = p
        .hours
        .closed_weekdays()
        .iter()
        .map(|d| d.as_str())
        .collect();
    let res = sqlx::query(
        "INSERT INTO pharmacies (id, ods_code, name, closed_weekdays, closing_time, timezone, \
         mqtt_username, mqtt_password_hash, mqtt_password_mosquitto, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&id)
    .bind(p.ods_code.as_str())
    .bind(p.name.as_str())
    .bind(weekdays.join(","))
    .bind(usual_close(&p.hours))
    .bind(p.timezone.name())
    .bind(&mqtt_username)
    .bind(hash_secret(&mqtt_password))
    .bind(crate::core::secrets::mosquitto_hash(&mqtt_password))
    .bind(now_text())
    .execute(&mut *w.tx)
    .await;
    conflict_on_unique(res, "ods_code", || {
        format!(
            "a pharmacy with ODS code {} already exists",
            p.ods_code.as_str()
        )
    })?;
    for day in Weekday::ALL {
        let Some(h) = p.hours.on(day) else { continue };
        sqlx::query(
            "INSERT INTO pharmacy_hours (pharmacy_id, weekday, opens, closes) VALUES ($1,$2,$3,$4)",
        )
        .bind(&id)
        .bind(day.as_str())
        .bind(h.open().format("%H:%M").to_string())
        .bind(h.close().format("%H:%M").to_string())
        .execute(&mut *w.tx)
        .await?;
    }
    w.audit(
        actor,
        "pharmacy.create",
        &format!("pharmacy:{id}"),
        serde_json::json!({"ods_code": p.ods_code.as_str(), "opening_hours": p.hours}),
    )
    .await?;
    Ok(Created {
        id,
        mqtt_username,
        mqtt_password,
    })
}

/// Pharmacies from rows of `pharmacies LEFT JOIN pharmacy_hours` (one row per open weekday),
/// in the rows' order. A pharmacy with no hours rows (written straight to the database, as the
/// benchmark's seed does) is read the older way, from its closed weekdays and closing time.
fn from_rows(rows: &[sqlx::any::AnyRow]) -> Result<Vec<Pharmacy>> {
    let malformed = |what: &str| Error::Internal(format!("stored {what} is malformed"));
    let mut out: Vec<(Pharmacy, bool)> = Vec::new();
    for r in rows {
        let id: String = r.try_get("id")?;
        if out.last().is_none_or(|(p, _)| p.id != id) {
            let days: String = r.try_get("closed_weekdays")?;
            let closed_weekdays = days
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| d.parse::<Weekday>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| malformed("closed weekdays"))?;
            let closing: String = r.try_get("closing_time")?;
            let closing = parse_hh_mm(&closing).ok_or_else(|| malformed("closing time"))?;
            let pharmacy = Pharmacy {
                id,
                ods_code: r.try_get("ods_code")?,
                name: r.try_get("name")?,
                opening_hours: OpeningHours::from_legacy(&closed_weekdays, closing),
                closed_weekdays,
                closing_time: r.try_get("closing_time")?,
                timezone: r.try_get("timezone")?,
                mqtt_username: r.try_get("mqtt_username")?,
            };
            out.push((pharmacy, false));
        }
        let Some(day) = r.try_get::<Option<String>, _>("weekday")? else {
            continue;
        };
        let (pharmacy, from_rows) = out.last_mut().expect("pushed above");
        if !*from_rows {
            pharmacy.opening_hours = OpeningHours::closed();
            *from_rows = true;
        }
        let time = |col: &str| -> Result<chrono::NaiveTime> {
            let text: String = r.try_get(col)?;
            parse_hh_mm(&text).ok_or_else(|| malformed("opening hours"))
        };
        let hours = DayHours::new(time("opens")?, time("closes")?)
            .ok_or_else(|| malformed("opening hours"))?;
        let weekday = day.parse::<Weekday>().map_err(|_| malformed("weekday"))?;
        pharmacy.opening_hours = pharmacy.opening_hours.clone().with(weekday, Some(hours));
    }
    Ok(out
        .into_iter()
        .map(|(mut p, _)| {
            p.closed_weekdays = p.opening_hours.closed_weekdays();
            p.closing_time = usual_close(&p.opening_hours);
            p
        })
        .collect())
}

const SELECT: &str = "SELECT p.id, p.ods_code, p.name, p.closed_weekdays, p.closing_time, \
                      p.timezone, p.mqtt_username, h.weekday, h.opens, h.closes \
                      FROM pharmacies p LEFT JOIN pharmacy_hours h ON h.pharmacy_id = p.id";

pub async fn get<'e, E>(exec: E, id: &str) -> Result<Option<Pharmacy>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("{SELECT} WHERE p.id = $1");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_all(exec)
        .await?;
    Ok(from_rows(&rows)?.into_iter().next())
}

pub async fn list<'e, E>(exec: E) -> Result<Vec<Pharmacy>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("{SELECT} ORDER BY p.ods_code, p.id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(exec)
        .await?;
    from_rows(&rows)
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
        hours: pharmacy.opening_hours.clone(),
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
