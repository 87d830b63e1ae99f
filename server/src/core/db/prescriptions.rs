//! Instalment prescriptions and their regimes (regime 0 is the prescription's own pattern).

use chrono::NaiveDate;
use sotto_domain::{
    Collection, Directions, DoseMg, Medicine, Prescription, Regime, RegimeChangePlan,
    WeeklyCollections,
};
use sqlx::Row;

use super::audit::{Actor, WriteTx};
use super::{date_text, get_date, new_id, now_text};
use crate::error::{Error, Result};

/// A stored prescription with its id and whose it is.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    pub service_user_id: String,
    pub prescription: Prescription,
}

pub async fn insert(
    w: &mut WriteTx,
    actor: &Actor,
    service_user_id: &str,
    p: &Prescription,
) -> Result<String> {
    let id = new_id();
    let d = p.directions();
    sqlx::query(
        "INSERT INTO prescriptions (id, service_user_id, medicine, start_date, end_date, \
         closed_days_prior, supply_remaining_if_missed, consult_after_missed_days, created_by, \
         created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&id)
    .bind(service_user_id)
    .bind(p.medicine().as_str())
    .bind(date_text(p.start_date()))
    .bind(date_text(p.end_date()))
    .bind(i64::from(d.closed_days_prior))
    .bind(i64::from(d.supply_remaining_if_missed))
    .bind(i64::from(d.consult_after_missed_days))
    .bind(&actor.0)
    .bind(now_text())
    .execute(&mut *w.tx)
    .await?;
    for r in p.regimes() {
        insert_regime_row(w, actor, &id, r, None).await?;
    }
    w.audit(
        actor,
        "prescription.create",
        &format!("prescription:{id}"),
        serde_json::json!({"service_user_id": service_user_id,
            "start_date": date_text(p.start_date()), "end_date": date_text(p.end_date())}),
    )
    .await?;
    Ok(id)
}

async fn insert_regime_row(
    w: &mut WriteTx,
    actor: &Actor,
    prescription_id: &str,
    r: &Regime,
    reason: Option<&str>,
) -> Result<String> {
    let id = new_id();
    let collections = serde_json::to_string(r.collections.as_slice())
        .map_err(|e| Error::Internal(format!("collections did not serialise: {e}")))?;
    sqlx::query(
        "INSERT INTO regimes (id, prescription_id, effective_from, daily_dose_ug, collections, \
         reason, created_by, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(&id)
    .bind(prescription_id)
    .bind(date_text(r.effective_from))
    .bind(r.daily_dose.micrograms())
    .bind(collections)
    .bind(reason)
    .bind(&actor.0)
    .bind(now_text())
    .execute(&mut *w.tx)
    .await?;
    Ok(id)
}

/// Records a regime change already planned against the prescription and its supplies; the
/// audit entry keeps the date asked for beside the date it took effect.
pub async fn insert_regime_change(
    w: &mut WriteTx,
    actor: &Actor,
    prescription_id: &str,
    plan: &RegimeChangePlan,
    reason: &str,
) -> Result<String> {
    let r = &plan.regime;
    let id = insert_regime_row(w, actor, prescription_id, r, Some(reason)).await?;
    let kept: Vec<String> = plan
        .effect
        .kept_as_supplied
        .iter()
        .map(|d| date_text(*d))
        .collect();
    w.audit(
        actor,
        "prescription.regime_change",
        &format!("prescription:{prescription_id}"),
        serde_json::json!({"regime_id": id, "effective_from": date_text(r.effective_from),
            "requested_from": date_text(plan.effect.requested_from),
            "kept_as_supplied": kept,
            "days_changed": plan.effect.changed_days.len()}),
    )
    .await?;
    Ok(id)
}

pub(crate) const COLUMNS: &str = "id, service_user_id, medicine, start_date, end_date, closed_days_prior, \
                       supply_remaining_if_missed, consult_after_missed_days";

async fn load(conn: &mut sqlx::AnyConnection, where_sql: &str, arg: &str) -> Result<Vec<Stored>> {
    let sql =
        format!("SELECT {COLUMNS} FROM prescriptions WHERE {where_sql} ORDER BY start_date, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(arg)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("id")?;
        let regimes = load_regimes(&mut *conn, &id).await?;
        out.push(Stored {
            id,
            service_user_id: r.try_get("service_user_id")?,
            prescription: from_row(r, regimes)?,
        });
    }
    Ok(out)
}

/// A prescription from a row with [`COLUMNS`] and its regimes (shared with the bulk daily pass,
/// so both read a stored prescription the same way).
pub(crate) fn from_row(r: &sqlx::any::AnyRow, regimes: Vec<Regime>) -> Result<Prescription> {
    let medicine: String = r.try_get("medicine")?;
    let directions = Directions {
        closed_days_prior: r.try_get::<i64, _>("closed_days_prior")? != 0,
        supply_remaining_if_missed: r.try_get::<i64, _>("supply_remaining_if_missed")? != 0,
        consult_after_missed_days: u8::try_from(r.try_get::<i64, _>("consult_after_missed_days")?)
            .map_err(|_| corrupt("consult_after_missed_days"))?,
    };
    if regimes.is_empty() {
        return Err(corrupt("regimes"));
    }
    Ok(Prescription::from_parts(
        medicine
            .parse::<Medicine>()
            .map_err(|_| corrupt("medicine"))?,
        get_date(r, "start_date")?,
        get_date(r, "end_date")?,
        directions,
        regimes,
    ))
}

/// A regime from a row with `effective_from, daily_dose_ug`, its collections already parsed.
pub(crate) fn regime_from_row(
    r: &sqlx::any::AnyRow,
    collections: WeeklyCollections,
) -> Result<Regime> {
    Ok(Regime {
        effective_from: get_date(r, "effective_from")?,
        daily_dose: DoseMg::from_micrograms(r.try_get("daily_dose_ug")?)
            .ok_or_else(|| corrupt("daily_dose_ug"))?,
        collections,
    })
}

/// A stored collection pattern (JSON). Stored patterns were validated on the way in, closed
/// days included, so they are not checked against the calendar again.
pub(crate) fn parse_collections(json: &str) -> Result<WeeklyCollections> {
    let items: Vec<Collection> = serde_json::from_str(json).map_err(|_| corrupt("collections"))?;
    WeeklyCollections::parse(items, &[], "collections").map_err(|_| corrupt("collections"))
}

async fn load_regimes(
    conn: &mut sqlx::AnyConnection,
    prescription_id: &str,
) -> Result<Vec<Regime>> {
    let rows = sqlx::query(
        "SELECT effective_from, daily_dose_ug, collections FROM regimes \
         WHERE prescription_id = $1 ORDER BY effective_from",
    )
    .bind(prescription_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let json: String = r.try_get("collections")?;
            regime_from_row(r, parse_collections(&json)?)
        })
        .collect()
}

fn corrupt(col: &str) -> Error {
    Error::Internal(format!("stored prescription column {col} is malformed"))
}

/// Every prescription of a person, oldest first.
pub async fn for_service_user(conn: &mut sqlx::AnyConnection, su_id: &str) -> Result<Vec<Stored>> {
    load(conn, "service_user_id = $1", su_id).await
}

pub async fn get(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Option<Stored>> {
    Ok(load(conn, "id = $1", id).await?.into_iter().next())
}

/// The prescription in force on `date`, if any (prescriptions of one person never overlap).
pub fn covering(all: &[Stored], date: NaiveDate) -> Option<&Stored> {
    all.iter()
        .find(|s| s.prescription.start_date() <= date && date <= s.prescription.end_date())
}

/// The first stored prescription whose dates overlap `start..=end`.
pub fn overlapping(all: &[Stored], start: NaiveDate, end: NaiveDate) -> Option<&Stored> {
    all.iter()
        .find(|s| s.prescription.start_date() <= end && start <= s.prescription.end_date())
}
