//! A person's dispense history as stored: what each supply put in hand, and what was withheld.

use sotto_domain::SupplyRecord;
use sqlx::Row;

use crate::core::db;
use crate::error::{Error, Result};

/// One dispense as the history shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Dispense {
    pub collect_on: chrono::NaiveDate,
    /// `supplied` or `withheld`.
    pub kind: String,
    pub supervised_taken: bool,
    pub take_home_dates: Vec<chrono::NaiveDate>,
    pub withheld_reason: Option<String>,
    pub at: String,
    pub pharmacy_id: String,
}

/// The history as the domain rules read it: what was put in hand, and what was withheld.
pub fn supply_records(history: &[Dispense]) -> Vec<SupplyRecord> {
    history
        .iter()
        .map(|d| {
            supply_record(
                d.collect_on,
                &d.kind,
                d.supervised_taken,
                d.take_home_dates.clone(),
            )
        })
        .collect()
}

/// One stored dispense as the domain rules read it (`kind` is `supplied` or `withheld`).
pub fn supply_record(
    collect_on: chrono::NaiveDate,
    kind: &str,
    supervised_taken: bool,
    take_home_dates: Vec<chrono::NaiveDate>,
) -> SupplyRecord {
    SupplyRecord {
        collect_on,
        supervised_taken,
        take_home_dates,
        withheld: kind != "supplied",
    }
}

/// Stored take-home dates (a JSON array of dates).
pub fn parse_take_home_dates(text: &str) -> Result<Vec<chrono::NaiveDate>> {
    if text == "[]" {
        return Ok(Vec::new());
    }
    serde_json::from_str(text)
        .map_err(|_| Error::Internal("stored take-home dates are malformed".into()))
}

/// A person's dispense history, newest first.
pub async fn history<'e, E>(exec: E, su_id: &str) -> Result<Vec<Dispense>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT collect_on, kind, supervised_taken, take_home_dates, withheld_reason, at, pharmacy_id \
         FROM dispenses WHERE service_user_id = $1 ORDER BY collect_on DESC, at DESC, id",
    )
    .bind(su_id)
    .fetch_all(exec)
    .await?;
    rows.iter()
        .map(|r| {
            let dates: String = r.try_get("take_home_dates")?;
            Ok(Dispense {
                collect_on: db::get_date(r, "collect_on")?,
                kind: r.try_get("kind")?,
                supervised_taken: r.try_get::<i64, _>("supervised_taken")? != 0,
                take_home_dates: parse_take_home_dates(&dates)?,
                withheld_reason: r.try_get("withheld_reason")?,
                at: r.try_get("at")?,
                pharmacy_id: r.try_get("pharmacy_id")?,
            })
        })
        .collect()
}
