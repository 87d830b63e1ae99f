//! The rows the FHIR API reads beyond the JSON API's own loaders: each record's id and when it
//! was written (for `id` and `meta.lastUpdated`).

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::{AnyConnection, Row};

use crate::core::db::get_date;
use crate::error::{Error, Result};

/// A regime's row facts (its id and when it was written).
pub(super) struct RegimeRow {
    pub(super) id: String,
    pub(super) effective_from: NaiveDate,
    pub(super) created_at: String,
}

pub(super) struct DispenseRow {
    pub(super) id: String,
    pub(super) pharmacy_id: String,
    pub(super) collect_on: NaiveDate,
    pub(super) supplied: bool,
    pub(super) supervised_taken: bool,
    pub(super) take_home_dates: Vec<NaiveDate>,
    pub(super) withheld_reason: Option<String>,
    pub(super) at: String,
    pub(super) received_at: String,
}

pub(super) struct MissedRow {
    pub(super) id: String,
    pub(super) pharmacy_id: String,
    pub(super) date: NaiveDate,
    pub(super) dose_ug: i64,
    pub(super) why: String,
    pub(super) reported_at: String,
}

pub(super) async fn regime_rows(
    conn: &mut AnyConnection,
    prescription_id: &str,
) -> Result<Vec<RegimeRow>> {
    let rows = sqlx::query(
        "SELECT id, effective_from, created_at FROM regimes WHERE prescription_id = $1 \
         ORDER BY effective_from",
    )
    .bind(prescription_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RegimeRow {
                id: r.try_get("id")?,
                effective_from: get_date(r, "effective_from")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

pub(super) async fn dispense_rows(
    conn: &mut AnyConnection,
    su_id: &str,
) -> Result<Vec<DispenseRow>> {
    let rows = sqlx::query(
        "SELECT id, pharmacy_id, collect_on, kind, supervised_taken, take_home_dates, \
         withheld_reason, at, received_at FROM dispenses WHERE service_user_id = $1",
    )
    .bind(su_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let dates: String = r.try_get("take_home_dates")?;
            Ok(DispenseRow {
                id: r.try_get("id")?,
                pharmacy_id: r.try_get("pharmacy_id")?,
                collect_on: get_date(r, "collect_on")?,
                supplied: r.try_get::<String, _>("kind")? == "supplied",
                supervised_taken: r.try_get::<i64, _>("supervised_taken")? != 0,
                take_home_dates: serde_json::from_str(&dates)
                    .map_err(|_| Error::Internal("stored take-home dates are malformed".into()))?,
                withheld_reason: r.try_get("withheld_reason")?,
                at: r.try_get("at")?,
                received_at: r.try_get("received_at")?,
            })
        })
        .collect()
}

pub(super) async fn missed_rows(conn: &mut AnyConnection, su_id: &str) -> Result<Vec<MissedRow>> {
    let rows = sqlx::query(
        "SELECT id, pharmacy_id, date, dose_ug, why, reported_at FROM missed_doses \
         WHERE service_user_id = $1",
    )
    .bind(su_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MissedRow {
                id: r.try_get("id")?,
                pharmacy_id: r.try_get("pharmacy_id")?,
                date: get_date(r, "date")?,
                dose_ug: r.try_get("dose_ug")?,
                why: r.try_get("why")?,
                reported_at: r.try_get("reported_at")?,
            })
        })
        .collect()
}

pub(super) async fn ods_codes(conn: &mut AnyConnection) -> Result<HashMap<String, String>> {
    let rows = sqlx::query("SELECT id, ods_code FROM pharmacies")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("ods_code")?)))
        .collect()
}

impl DispenseRow {
    /// The row as the dose ledger reads it.
    pub(super) fn supply(&self) -> sotto_domain::SupplyRecord {
        sotto_domain::SupplyRecord {
            collect_on: self.collect_on,
            supervised_taken: self.supervised_taken,
            take_home_dates: self.take_home_dates.clone(),
            withheld: !self.supplied,
        }
    }
}
