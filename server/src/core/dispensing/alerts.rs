//! Missed-dose alerts to keyworkers. The rule: **every missed dose is mailed exactly once, to the
//! person's keyworker of record when it is mailed**, whatever its date and whenever it was
//! reported:
//!
//! - keyworker in `each` mode: on its own, in the transaction that stores it ([`on_arrival`]);
//!   one still unmailed when the keyworker switches to `each`, or when the person moves to a
//!   keyworker in `each` mode, goes at the next scheduler pass, within a minute ([`catch_up_pass`]);
//! - keyworker in `digest` mode: as a line of the next morning's digest ([`digest_pass`]), which
//!   lists every miss of theirs not mailed before — a miss reported a day late (the pharmacy's
//!   system was offline) is in the next digest, saying when it was reported.
//!
//! `missed_dose_alerts` records, per person and day, how and in which mail each miss went; it is
//! written in the same transaction as the queued mail, so a restart, a second scheduler pass or a
//! second server instance never sends one twice nor skips one (writers are serialised by the audit
//! lock and every selection runs inside the writing transaction). Safety-hold mail is not a
//! missed-dose alert: it is queued at once whatever the mode (see [`super::missed`]).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::config::Config;
use crate::core::db::audit::{Actor, WriteTx};
use crate::core::db::{Store, date_text, get_date, now_text};
use crate::core::email::{queue, templates};
use crate::error::{Error, Result};

/// What missed-dose alerts need to know.
#[derive(Clone, Debug)]
pub struct AlertSettings {
    /// Base of links in e-mails, e.g. `https://sotto.example.nhs.uk` (no trailing slash).
    pub public_url: String,
    /// The service's zone: digests go out in it, and times in e-mails are shown in it.
    pub service_timezone: Tz,
    /// When digests go out, in the service's zone. A miss reported after the digest of the
    /// morning after it is "reported late".
    pub digest_at: NaiveTime,
}

impl AlertSettings {
    pub fn from_config(config: &Config) -> AlertSettings {
        AlertSettings {
            public_url: config.public_url.clone(),
            service_timezone: config.service_timezone,
            digest_at: config.digest_at,
        }
    }

    /// When a miss on `date` was reported, in service time, if that was after the digest of the
    /// morning after (when it would normally have been listed).
    pub fn reported_late(
        &self,
        date: NaiveDate,
        reported_at: DateTime<Utc>,
    ) -> Option<NaiveDateTime> {
        let due = (date + chrono::Duration::days(1)).and_time(self.digest_at);
        // In a spring-forward gap the digest time does not exist that day; an hour either way
        // does not matter here.
        let due = self
            .service_timezone
            .from_local_datetime(&due)
            .earliest()
            .map_or_else(|| Utc.from_utc_datetime(&due), |t| t.with_timezone(&Utc));
        (reported_at >= due).then(|| {
            reported_at
                .with_timezone(&self.service_timezone)
                .naive_local()
        })
    }
}

/// A missed dose not yet mailed, with the keyworker of record.
struct Unmailed {
    su_id: String,
    reference: String,
    date: NaiveDate,
    reported_at: DateTime<Utc>,
    keyworker_id: String,
    email: String,
}

/// Missed doses with no `missed_dose_alerts` row whose keyworker of record is in mode `$1`, plus
/// the given conditions.
macro_rules! unmailed_sql {
    ($($tail:literal),*) => {
        concat!(
            "SELECT m.service_user_id, m.date, m.reported_at, su.reference, k.id AS keyworker_id, \
             k.email FROM missed_doses m \
             JOIN service_users su ON su.id = m.service_user_id \
             JOIN staff k ON k.id = su.keyworker_id \
             LEFT JOIN missed_dose_alerts a ON a.service_user_id = m.service_user_id AND a.date = m.date \
             WHERE a.service_user_id IS NULL AND k.alert_mode = $1",
            $($tail,)*
            " ORDER BY m.date, su.reference"
        )
    };
}

fn unmailed(r: &AnyRow) -> Result<Unmailed> {
    let reported_at: String = r.try_get("reported_at")?;
    Ok(Unmailed {
        su_id: r.try_get("service_user_id")?,
        reference: r.try_get("reference")?,
        date: get_date(r, "date")?,
        reported_at: DateTime::parse_from_rfc3339(&reported_at)
            .map_err(|_| Error::Internal("stored report time is malformed".into()))?
            .with_timezone(&Utc),
        keyworker_id: r.try_get("keyworker_id")?,
        email: r.try_get("email")?,
    })
}

/// Runs in the transaction that stored the miss on `date`: a keyworker in `each` mode is mailed
/// now. In `digest` mode nothing is queued: the next digest carries it. A keyworker address the
/// relay could not use leaves the miss unmailed (the catch-up retries it) rather than refusing the
/// pharmacy's report.
pub async fn on_arrival(
    w: &mut WriteTx,
    s: &AlertSettings,
    su_id: &str,
    date: NaiveDate,
) -> Result<()> {
    let Some(miss) = unmailed_one(w, "each", su_id, date).await? else {
        return Ok(());
    };
    match mail_one(w, s, &miss).await {
        Err(Error::Validation(_)) => {
            tracing::warn!(service_user_id = %su_id, staff_id = %miss.keyworker_id,
                "keyworker address unusable; missed-dose alert left for the catch-up");
            Ok(())
        }
        other => other,
    }
}

/// The miss on `date`, if still unmailed and its keyworker of record is in `mode`.
async fn unmailed_one(
    w: &mut WriteTx,
    mode: &str,
    su_id: &str,
    date: NaiveDate,
) -> Result<Option<Unmailed>> {
    let row = sqlx::query(unmailed_sql!(" AND m.service_user_id = $2 AND m.date = $3"))
        .bind(mode)
        .bind(su_id)
        .bind(date_text(date))
        .fetch_optional(&mut *w.tx)
        .await?;
    row.as_ref().map(unmailed).transpose()
}

/// Mails, one by one, every unmailed miss whose keyworker of record is in `each` mode now: those
/// that waited for a digest when the keyworker switched to `each`, or whose person moved to a
/// keyworker in `each` mode. Each in its own transaction, so one that fails (an address the
/// relay cannot use) holds back no other. Returns how many were mailed.
pub async fn catch_up_pass(store: &Store, s: &AlertSettings) -> Result<usize> {
    // Read without the write lock: the usual pass has nothing to do.
    let waiting = sqlx::query(unmailed_sql!())
        .bind("each")
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(unmailed)
        .collect::<Result<Vec<_>>>()?;
    let mut mailed = 0;
    for miss in &waiting {
        match catch_up_one(store, s, &miss.su_id, miss.date).await {
            Ok(true) => mailed += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, service_user_id = %miss.su_id,
                "missed-dose alert not queued; will retry"),
        }
    }
    Ok(mailed)
}

/// One catch-up mail; false if, seen under the write lock, it was mailed meanwhile or its
/// keyworker is no longer in `each` mode.
async fn catch_up_one(
    store: &Store,
    s: &AlertSettings,
    su_id: &str,
    date: NaiveDate,
) -> Result<bool> {
    let mut w = store.write().await?;
    let Some(miss) = unmailed_one(&mut w, "each", su_id, date).await? else {
        return Ok(false);
    };
    mail_one(&mut w, s, &miss).await?;
    w.audit(
        &Actor::system(),
        "alerts.missed_dose",
        &format!("service_user:{su_id}"),
        serde_json::json!({"date": date_text(date), "to": format!("staff:{}", miss.keyworker_id)}),
    )
    .await?;
    w.commit().await?;
    Ok(true)
}

async fn mail_one(w: &mut WriteTx, s: &AlertSettings, miss: &Unmailed) -> Result<()> {
    let mail_id = queue::enqueue(w, &templates::missed_dose(&miss.email, &line(s, miss))).await?;
    record(w, miss, "each", None, &mail_id).await
}

/// Each keyworker in `digest` mode, once a day from `digest_at` (service time): one mail listing
/// every miss of theirs not mailed before, if there is any. Returns how many digests were queued;
/// a keyworker's digest that failed is logged and tried again at the next pass (its once-a-day
/// row rolled back with it).
pub async fn digest_pass(store: &Store, s: &AlertSettings, now: DateTime<Utc>) -> Result<usize> {
    let local = now.with_timezone(&s.service_timezone);
    if local.time() < s.digest_at {
        return Ok(0);
    }
    // Keyed as before migration 0007: by the day before the morning it goes.
    let day = local.date_naive() - chrono::Duration::days(1);
    let keyworkers =
        sqlx::query("SELECT id FROM staff WHERE role = 'keyworker' AND alert_mode = 'digest'")
            .fetch_all(store.pool())
            .await?;
    let mut sent = 0;
    for k in keyworkers {
        let id: String = k.try_get("id")?;
        // One keyworker's failure (an address the relay cannot use) holds back no other digest.
        match digest_one(store, s, &id, day, local.date_naive()).await {
            Ok(true) => sent += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, staff_id = %id, "digest not queued; will retry"),
        }
    }
    Ok(sent)
}

/// One keyworker's digest for `day`; false if it went already, or had nothing to say.
async fn digest_one(
    store: &Store,
    s: &AlertSettings,
    staff_id: &str,
    day: NaiveDate,
    sent_on: NaiveDate,
) -> Result<bool> {
    let mut w = store.write().await?;
    let fresh = sqlx::query(
        "INSERT INTO digests_sent (staff_id, date, sent_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(staff_id)
    .bind(date_text(day))
    .bind(now_text())
    .execute(&mut *w.tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(false);
    }
    // Read inside the writing transaction: a miss stored or mailed meanwhile is seen as it is.
    let misses = sqlx::query(unmailed_sql!(" AND k.id = $2"))
        .bind("digest")
        .bind(staff_id)
        .fetch_all(&mut *w.tx)
        .await?
        .iter()
        .map(unmailed)
        .collect::<Result<Vec<_>>>()?;
    w.audit(
        &Actor::system(),
        "alerts.digest",
        &format!("staff:{staff_id}"),
        serde_json::json!({"date": date_text(day), "items": misses.len()}),
    )
    .await?;
    let Some(first) = misses.first() else {
        w.commit().await?;
        return Ok(false);
    };
    let lines: Vec<_> = misses.iter().map(|m| line(s, m)).collect();
    let mail_id = queue::enqueue(
        &mut w,
        &templates::missed_digest(&first.email, &lines, sent_on),
    )
    .await?;
    for miss in &misses {
        record(&mut w, miss, "digest", Some(day), &mail_id).await?;
    }
    w.commit().await?;
    Ok(true)
}

fn line(s: &AlertSettings, miss: &Unmailed) -> templates::MissedDay {
    templates::MissedDay {
        reference: miss.reference.clone(),
        date: miss.date,
        reported_late: s.reported_late(miss.date, miss.reported_at),
        link: crate::core::email::person_link(&s.public_url, &miss.su_id),
    }
}

/// Marks the miss mailed. A plain insert: the primary key is what makes "exactly once" hold,
/// and a clash (which the serialised writers rule out) rolls the mail back with it.
async fn record(
    w: &mut WriteTx,
    miss: &Unmailed,
    via: &str,
    digest_date: Option<NaiveDate>,
    mail_id: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO missed_dose_alerts (service_user_id, date, via, staff_id, digest_date, \
         mail_id, queued_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&miss.su_id)
    .bind(date_text(miss.date))
    .bind(via)
    .bind(&miss.keyworker_id)
    .bind(digest_date.map(date_text))
    .bind(mail_id)
    .bind(now_text())
    .execute(&mut *w.tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AlertSettings {
        AlertSettings {
            public_url: "https://s.test".into(),
            service_timezone: chrono_tz::Europe::London,
            digest_at: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_miss_is_late_once_the_next_mornings_digest_has_gone() {
        let s = settings();
        let monday = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        // Reported at closing, or overnight before the digest: on time.
        assert_eq!(s.reported_late(monday, utc("2026-03-02T18:05:00Z")), None);
        assert_eq!(s.reported_late(monday, utc("2026-03-03T06:59:59Z")), None);
        // After Tuesday's 07:00 digest: late, shown in service time.
        let late = s
            .reported_late(monday, utc("2026-03-03T09:00:00Z"))
            .unwrap();
        assert_eq!(late.to_string(), "2026-03-03 09:00:00");
    }

    #[test]
    fn lateness_and_the_time_shown_follow_the_services_summer_time() {
        let s = settings();
        let monday = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        // 06:30 UTC is 07:30 in London in June: after the digest.
        let late = s
            .reported_late(monday, utc("2026-06-02T06:30:00Z"))
            .unwrap();
        assert_eq!(late.to_string(), "2026-06-02 07:30:00");
        assert_eq!(s.reported_late(monday, utc("2026-06-02T05:59:00Z")), None);
    }
}
