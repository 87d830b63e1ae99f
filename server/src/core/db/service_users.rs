//! Service users: the people in treatment.

use chrono::NaiveDate;
use sqlx::{AnyPool, Row};

use super::audit::{Actor, WriteTx};
use super::{conflict_on_unique, date_text, get_date, new_id, now_text};
use crate::core::values::{Email, Name, Reference};
use crate::error::Result;

pub struct NewServiceUser {
    pub reference: Reference,
    pub given_name: Name,
    pub family_name: Name,
    pub date_of_birth: NaiveDate,
    pub pharmacy_id: String,
    pub keyworker_id: String,
    pub prescriber_id: String,
    pub heads_up_email: Option<Email>,
}

/// A service user as stored.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ServiceUser {
    pub id: String,
    pub reference: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
    pub pharmacy_id: String,
    pub keyworker_id: String,
    pub prescriber_id: String,
    pub heads_up_email: Option<String>,
}

/// Moves `su` to keyworker `to` (checked by the caller to be a keyworker), audited with both.
pub async fn set_keyworker(
    w: &mut WriteTx,
    actor: &Actor,
    su: &ServiceUser,
    to: &str,
) -> Result<()> {
    sqlx::query("UPDATE service_users SET keyworker_id = $1 WHERE id = $2")
        .bind(to)
        .bind(&su.id)
        .execute(&mut *w.tx)
        .await?;
    w.audit(
        actor,
        "service_user.keyworker",
        &format!("service_user:{}", su.id),
        serde_json::json!({"from": format!("staff:{}", su.keyworker_id), "to": format!("staff:{to}")}),
    )
    .await
}

pub async fn insert(w: &mut WriteTx, actor: &Actor, su: &NewServiceUser) -> Result<String> {
    let id = new_id();
    let res = sqlx::query(
        "INSERT INTO service_users (id, reference, given_name, family_name, date_of_birth, \
         pharmacy_id, keyworker_id, prescriber_id, heads_up_email, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&id)
    .bind(su.reference.as_str())
    .bind(su.given_name.as_str())
    .bind(su.family_name.as_str())
    .bind(date_text(su.date_of_birth))
    .bind(&su.pharmacy_id)
    .bind(&su.keyworker_id)
    .bind(&su.prescriber_id)
    .bind(su.heads_up_email.as_ref().map(|e| e.as_str().to_string()))
    .bind(now_text())
    .execute(&mut *w.tx)
    .await;
    conflict_on_unique(res, "reference", || {
        format!("reference {} is already in use", su.reference.as_str())
    })?;
    // Held by the nominated pharmacy since the record began (a transfer adds the next one).
    super::placements::insert(&mut w.tx, &id, &su.pharmacy_id, None, &actor.0).await?;
    // The audit names the person by id only: the log is read by administrators.
    w.audit(
        actor,
        "service_user.create",
        &format!("service_user:{id}"),
        serde_json::json!({"pharmacy_id": su.pharmacy_id}),
    )
    .await?;
    Ok(id)
}

const COLUMNS: &str = "id, reference, given_name, family_name, date_of_birth, pharmacy_id, \
                       keyworker_id, prescriber_id, heads_up_email";

fn from_row(r: &sqlx::any::AnyRow) -> Result<ServiceUser> {
    Ok(ServiceUser {
        id: r.try_get("id")?,
        reference: r.try_get("reference")?,
        given_name: r.try_get("given_name")?,
        family_name: r.try_get("family_name")?,
        date_of_birth: get_date(r, "date_of_birth")?,
        pharmacy_id: r.try_get("pharmacy_id")?,
        keyworker_id: r.try_get("keyworker_id")?,
        prescriber_id: r.try_get("prescriber_id")?,
        heads_up_email: r.try_get("heads_up_email")?,
    })
}

pub async fn get<'e, E>(exec: E, id: &str) -> Result<Option<ServiceUser>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM service_users WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(exec)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Missed doses recorded for a person, newest first.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MissedDose {
    pub date: NaiveDate,
    #[schema(value_type = f64)]
    pub dose_mg: f64,
    pub reported_at: String,
    pub pharmacy_id: String,
}

pub async fn missed_doses(pool: &AnyPool, service_user_id: &str) -> Result<Vec<MissedDose>> {
    let rows = sqlx::query(
        "SELECT date, dose_ug, reported_at, pharmacy_id FROM missed_doses \
         WHERE service_user_id = $1 ORDER BY date DESC",
    )
    .bind(service_user_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MissedDose {
                date: get_date(r, "date")?,
                dose_mg: r.try_get::<i64, _>("dose_ug")? as f64 / 1000.0,
                reported_at: r.try_get("reported_at")?,
                pharmacy_id: r.try_get("pharmacy_id")?,
            })
        })
        .collect()
}
