//! Bulk seeding at national scale: pharmacies (with broker credentials), service users, one
//! 14-day prescription each and a few holds, written with multi-row SQL in one transaction —
//! enrolling 11,000 pharmacies through the API would measure the API, not the benchmark.
//! The same generator feeds the in-memory daily pass, so both work on identical data.

use std::fmt::Write;

use chrono::{Duration, NaiveDate};
use sotto_domain::{Collection, Weekday};
use sotto_tests::counter::Enrolled;
use sqlx::{AnyPool, Row as _};

/// Roughly England's ratio: 150,000 people over 11,000 pharmacies.
pub const PEOPLE_PER_PHARMACY: usize = 14;

/// One seeded person.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub reference: String,
}

pub struct Seeded {
    pub pharmacies: Vec<Enrolled>,
    pub people: Vec<Person>,
}

/// Every third pharmacy is closed on Sundays; every tenth has a one-off closure tomorrow.
pub fn closed_on_sunday(pharmacy: usize) -> bool {
    pharmacy.is_multiple_of(3)
}

pub fn closure(pharmacy: usize, today: NaiveDate) -> Option<NaiveDate> {
    pharmacy
        .is_multiple_of(10)
        .then(|| today + Duration::days(1))
}

/// A realistic mix of weekly patterns (all valid for the pharmacy's closed weekdays).
pub fn pattern(pharmacy: usize, person: usize) -> Vec<Collection> {
    use Weekday::*;
    let c = |weekday, days, supervised| Collection {
        weekday,
        days,
        supervised,
    };
    if closed_on_sunday(pharmacy) {
        return vec![
            c(Mon, 1, true),
            c(Tue, 1, true),
            c(Wed, 1, true),
            c(Thu, 1, true),
            c(Fri, 1, true),
            c(Sat, 2, true),
        ];
    }
    match person % 3 {
        0 => [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
            .into_iter()
            .map(|d| c(d, 1, true))
            .collect(),
        1 => vec![c(Mon, 3, true), c(Thu, 4, false)],
        _ => vec![
            c(Mon, 1, true),
            c(Tue, 1, true),
            c(Wed, 1, true),
            c(Thu, 1, true),
            c(Fri, 1, true),
            c(Sat, 1, false),
            c(Sun, 1, false),
        ],
    }
}

/// 30–100 mg methadone.
pub fn dose_ug(person: usize) -> i64 {
    30_000 + (person % 8) as i64 * 10_000
}

/// 2 % have an attend hold, 0.5 % a safety hold.
pub fn hold(person: usize) -> Option<&'static str> {
    match person % 200 {
        0..=3 => Some("attend"),
        4 => Some("safety"),
        _ => None,
    }
}

/// The prescription runs from three days ago for 14 days.
pub fn prescription_dates(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    (today - Duration::days(3), today + Duration::days(10))
}

fn d(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Seeds `pharmacies` pharmacies and `people` people (person `j` at pharmacy `j % pharmacies`).
/// `tag` keeps ids unique if a database is seeded twice.
pub async fn seed(
    pool: &AnyPool,
    tag: &str,
    pharmacies: usize,
    people: usize,
    prescriber: &str,
    keyworker: &str,
    today: NaiveDate,
) -> anyhow::Result<Seeded> {
    let now = sotto_server::core::db::now_text();
    // The key the server generated on its first start: what enrolment hands pharmacies to pin.
    let server_key: String = sqlx::query("SELECT public_key FROM server_keys WHERE id = 1")
        .fetch_one(pool)
        .await?
        .try_get("public_key")?;
    let mut tx = pool.begin().await?;
    let mut enrolled = Vec::with_capacity(pharmacies);
    let mut rows = Vec::with_capacity(pharmacies);
    let mut closures = Vec::new();
    for i in 0..pharmacies {
        let id = format!("{tag}-ph-{i:06}");
        let username = format!("pharmacy-{tag}-{i:06}");
        let password = format!("mqtt_{tag}_{i}_{}", std::process::id());
        let closed = if closed_on_sunday(i) { "sun" } else { "" };
        rows.push(format!(
            "('{id}','{tag}{i:06}','Pharmacy {i}','{closed}','18:00','Europe/London','{username}','{}','{}','{now}')",
            sotto_server::core::secrets::hash_secret(&password),
            sotto_server::core::secrets::mosquitto_hash(&password),
        ));
        if let Some(c) = closure(i, today) {
            closures.push(format!(
                "('{tag}-cl-{i:06}','{id}','{}','bank holiday','{now}')",
                d(c)
            ));
        }
        enrolled.push(Enrolled {
            id,
            mqtt_username: username,
            mqtt_password: password,
            server_key: server_key.clone(),
        });
    }
    insert(
        &mut tx,
        "pharmacies (id, ods_code, name, closed_weekdays, closing_time, timezone, mqtt_username, \
         mqtt_password_hash, mqtt_password_mosquitto, created_at)",
        &rows,
    )
    .await?;
    insert(
        &mut tx,
        "closures (id, pharmacy_id, date, note, created_at)",
        &closures,
    )
    .await?;

    let (start, end) = prescription_dates(today);
    let mut people_out = Vec::with_capacity(people);
    let (mut sus, mut rxs, mut regimes, mut holds) = (
        Vec::with_capacity(people),
        Vec::with_capacity(people),
        Vec::with_capacity(people),
        Vec::new(),
    );
    for j in 0..people {
        let p = j % pharmacies.max(1);
        let id = format!("{tag}-su-{j:07}");
        let reference = format!("SU-{tag}-{j:07}");
        sus.push(format!(
            "('{id}','{reference}','Alex','Person{j}','1980-01-01','{}','{keyworker}','{prescriber}',NULL,'{now}')",
            enrolled[p].id
        ));
        rxs.push(format!(
            "('{tag}-rx-{j:07}','{id}','methadone_oral_solution_1mg_ml','{}','{}',1,1,3,'{prescriber}','{now}')",
            d(start),
            d(end)
        ));
        let collections = serde_json::to_string(&pattern(p, j))?;
        regimes.push(format!(
            "('{tag}-rg-{j:07}','{tag}-rx-{j:07}','{}',{},'{collections}',NULL,'{prescriber}','{now}')",
            d(start),
            dose_ug(j)
        ));
        if let Some(kind) = hold(j) {
            holds.push(format!(
                "('{tag}-ho-{j:07}','{id}','{kind}','bench','{keyworker}','{now}',NULL,NULL,NULL)"
            ));
        }
        people_out.push(Person { id, reference });
    }
    insert(
        &mut tx,
        "service_users (id, reference, given_name, family_name, date_of_birth, pharmacy_id, \
         keyworker_id, prescriber_id, heads_up_email, created_at)",
        &sus,
    )
    .await?;
    insert(
        &mut tx,
        "prescriptions (id, service_user_id, medicine, start_date, end_date, closed_days_prior, \
         supply_remaining_if_missed, consult_after_missed_days, created_by, created_at)",
        &rxs,
    )
    .await?;
    insert(
        &mut tx,
        "regimes (id, prescription_id, effective_from, daily_dose_ug, collections, reason, \
         created_by, created_at)",
        &regimes,
    )
    .await?;
    insert(
        &mut tx,
        "holds (id, service_user_id, kind, reason, placed_by, placed_at, lifted_by, lifted_at, \
         lift_note)",
        &holds,
    )
    .await?;
    tx.commit().await?;
    Ok(Seeded {
        pharmacies: enrolled,
        people: people_out,
    })
}

/// Multi-row INSERTs of 500 rows each. Values are generated here (no outside input).
async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    into: &str,
    rows: &[String],
) -> anyhow::Result<()> {
    for chunk in rows.chunks(500) {
        let mut sql = format!("INSERT INTO {into} VALUES ");
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            let _ = write!(sql, "{r}");
        }
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
