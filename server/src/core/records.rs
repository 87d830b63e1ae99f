//! Records for inspectors and commissioners: the supply log a pharmacy's controlled-drug register
//! needs, instalment by instalment, and the monthly claim (supervised doses, instalments
//! supplied). Both are read from the dispenses the counters reported and the prescriptions' own
//! schedules, so they agree with the dose ledger day for day.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use sotto_domain::{Medicine, Schedule, format_mg, mg_in_words};
use sqlx::Row;

use crate::core::AppState;
use crate::core::access::{self, Caller, Role, ServiceOp};
use crate::core::db::{self, service_users::ServiceUser};
use crate::error::{Error, Result};

/// The longest supply log asked for at once.
pub const MAX_LOG_DAYS: i64 = 366;

/// One instalment handed over, as the register records it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SupplyLine {
    /// The day it was handed over.
    pub date: NaiveDate,
    /// When the counter recorded it (RFC 3339).
    pub at: String,
    pub reference: String,
    pub name: String,
    pub prescriber: String,
    /// The FP10MDA's serial number, when the service gave it.
    pub form_serial: Option<String>,
    pub medicine: String,
    /// The days whose doses it covers (one container each).
    pub dates: Vec<NaiveDate>,
    /// The total in milligrams, in figures.
    #[schema(value_type = f64)]
    pub quantity_mg: f64,
    /// The same in words, as the register needs it.
    pub quantity_words: String,
    /// The first dose was taken at the counter.
    pub supervised: bool,
    /// Who collected: the person unless an authorised representative is recorded.
    pub collected_by: String,
}

/// A pharmacy's claim for one month.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Claim {
    pub pharmacy_id: String,
    pub ods_code: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Doses taken at the counter.
    pub supervised_doses: u32,
    /// Instalments handed over (supervised or take-home).
    pub instalments_supplied: u32,
    /// Doses handed over in all (one per day covered).
    pub doses_supplied: u32,
    /// Different people supplied.
    pub people: u32,
}

/// Who may read a pharmacy's supply log: its own pharmacists (the whole log); the service's
/// keyworkers and clinicians (the lines of people they may see). Not administrators: the log
/// names people and doses.
async fn log_readers(
    st: &AppState,
    caller: &Caller,
    pharmacy_id: &str,
) -> Result<Option<Vec<String>>> {
    caller.may(ServiceOp::ReadSupplyLog)?;
    access::pharmacy_rule(caller, pharmacy_id)?;
    if db::pharmacies::get(st.store.pool(), pharmacy_id)
        .await?
        .is_none()
    {
        return Err(Error::NotFound("pharmacy"));
    }
    Ok(match caller.role {
        Role::Pharmacist => None,
        _ => Some(
            access::visible_ids(&st.store, caller)
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
        ),
    })
}

/// Every instalment supplied at `pharmacy_id` from `from` to `to` (inclusive), oldest first.
pub async fn supply_log(
    st: &AppState,
    caller: &Caller,
    pharmacy_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<SupplyLine>> {
    check_range(from, to)?;
    let only = log_readers(st, caller, pharmacy_id).await?;
    let lines = lines(st, pharmacy_id, from, to).await?;
    Ok(match only {
        None => lines.into_iter().map(|(_, l)| l).collect(),
        Some(ids) => lines
            .into_iter()
            .filter(|(su, _)| ids.contains(su))
            .map(|(_, l)| l)
            .collect(),
    })
}

fn check_range(from: NaiveDate, to: NaiveDate) -> Result<()> {
    if to < from {
        return Err(Error::field("to", "must be on or after from"));
    }
    if (to - from).num_days() >= MAX_LOG_DAYS {
        return Err(Error::field(
            "to",
            format!("ask for at most {MAX_LOG_DAYS} days at a time"),
        ));
    }
    Ok(())
}

/// The month's claim: admins (for the commissioner) and the pharmacy's own pharmacists.
pub async fn claim(
    st: &AppState,
    caller: &Caller,
    pharmacy_id: &str,
    month: &str,
) -> Result<Claim> {
    caller.may(ServiceOp::ReadClaims)?;
    access::pharmacy_rule(caller, pharmacy_id)?;
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| {
        Error::field(
            "month",
            format!("{month:?} is not a month in the form YYYY-MM"),
        )
    })?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .ok_or_else(|| Error::field("month", "is out of range"))?;
    let pharmacy = db::pharmacies::get(st.store.pool(), pharmacy_id)
        .await?
        .ok_or(Error::NotFound("pharmacy"))?;
    let lines = lines(st, pharmacy_id, first, next.pred_opt().unwrap_or(first)).await?;
    let mut people = std::collections::BTreeSet::new();
    let mut c = Claim {
        pharmacy_id: pharmacy.id.clone(),
        ods_code: pharmacy.ods_code.clone(),
        month: first.format("%Y-%m").to_string(),
        supervised_doses: 0,
        instalments_supplied: 0,
        doses_supplied: 0,
        people: 0,
    };
    for (su, l) in &lines {
        people.insert(su.clone());
        c.instalments_supplied += 1;
        c.doses_supplied += l.dates.len() as u32;
        c.supervised_doses += u32::from(l.supervised);
    }
    c.people = people.len() as u32;
    Ok(c)
}

/// The lines with the id of the person each is for.
async fn lines(
    st: &AppState,
    pharmacy_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, SupplyLine)>> {
    let pool = st.store.pool();
    let rows = sqlx::query(
        "SELECT d.service_user_id, d.collect_on, d.supervised_taken, d.take_home_dates, d.at, \
                s.name AS prescriber \
         FROM dispenses d JOIN service_users su ON su.id = d.service_user_id \
         JOIN staff s ON s.id = su.prescriber_id \
         WHERE d.pharmacy_id = $1 AND d.kind = 'supplied' AND d.collect_on >= $2 AND d.collect_on <= $3 \
         ORDER BY d.collect_on, d.at, d.id",
    )
    .bind(pharmacy_id)
    .bind(db::date_text(from))
    .bind(db::date_text(to))
    .fetch_all(pool)
    .await?;
    let mut conn = pool.acquire().await?;
    let calendar = db::pharmacies::calendar_of(&mut conn, pharmacy_id).await?;
    // Each person's schedules, once.
    let mut people: BTreeMap<String, (ServiceUser, Vec<(Medicine, Schedule)>)> = BTreeMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let su_id: String = r.try_get("service_user_id")?;
        if !people.contains_key(&su_id) {
            let su = db::service_users::get(&mut *conn, &su_id)
                .await?
                .ok_or_else(|| Error::Internal("dispense without a person".into()))?;
            let schedules = db::prescriptions::for_service_user(&mut conn, &su_id)
                .await?
                .iter()
                .map(|p| {
                    (
                        p.prescription.medicine(),
                        p.prescription.schedule(&calendar),
                    )
                })
                .collect();
            people.insert(su_id.clone(), (su, schedules));
        }
        let (su, schedules) = &people[&su_id];
        let collect_on = db::get_date(r, "collect_on")?;
        let supervised = r.try_get::<i64, _>("supervised_taken")? != 0;
        let take_home: Vec<NaiveDate> =
            serde_json::from_str(&r.try_get::<String, _>("take_home_dates")?)
                .map_err(|_| Error::Internal("stored take-home dates are malformed".into()))?;
        let mut dates: Vec<NaiveDate> = supervised.then_some(collect_on).into_iter().collect();
        dates.extend(take_home);
        dates.sort();
        dates.dedup();
        let mut quantity = 0.0;
        let mut medicine = None;
        for d in &dates {
            if let Some((m, day)) = schedules
                .iter()
                .find_map(|(m, s)| s.days().iter().find(|x| x.date == *d).map(|x| (*m, x)))
            {
                quantity += day.dose_mg.as_mg();
                medicine = Some(m);
            }
        }
        out.push((
            su_id.clone(),
            SupplyLine {
                date: collect_on,
                at: r.try_get("at")?,
                reference: su.reference.clone(),
                name: format!("{} {}", su.given_name, su.family_name),
                prescriber: r.try_get("prescriber")?,
                form_serial: None,
                medicine: medicine
                    .map(|m| m.display_name().to_string())
                    .unwrap_or_else(|| "not on a prescription".into()),
                quantity_words: mg_in_words(quantity),
                quantity_mg: quantity,
                dates,
                supervised,
                collected_by: "the person".into(),
            },
        ));
    }
    Ok(out)
}

/// The supply log as CSV, one instalment a line, with a header.
pub fn to_csv(lines: &[SupplyLine]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "date",
        "recorded_at",
        "reference",
        "name",
        "prescriber",
        "form_serial",
        "medicine",
        "doses",
        "quantity_mg",
        "quantity_in_words",
        "supervised",
        "collected_by",
    ];
    let fail = |e: csv::Error| Error::Internal(format!("supply log CSV: {e}"));
    w.write_record(header).map_err(fail)?;
    for l in lines {
        w.write_record([
            l.date.to_string(),
            l.at.clone(),
            l.reference.clone(),
            l.name.clone(),
            l.prescriber.clone(),
            l.form_serial.clone().unwrap_or_default(),
            l.medicine.clone(),
            l.dates.len().to_string(),
            format_mg(l.quantity_mg),
            l.quantity_words.clone(),
            if l.supervised { "yes" } else { "no" }.to_string(),
            l.collected_by.clone(),
        ])
        .map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Internal(format!("supply log CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|_| Error::Internal("supply log CSV is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_asks_for_a_sane_range() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(check_range(d("2026-01-02"), d("2026-01-01")).is_err());
        assert!(check_range(d("2026-01-01"), d("2026-01-01")).is_ok());
        assert!(check_range(d("2026-01-01"), d("2027-01-02")).is_err());
        assert!(check_range(d("2026-01-01"), d("2026-12-31")).is_ok());
    }
}
