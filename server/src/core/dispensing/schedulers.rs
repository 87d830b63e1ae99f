//! Time-driven duties, checked every minute:
//! - **pharmacy silence**: a pharmacy that has not closed its day two hours after that day's
//!   close (its opening hours; after midnight for a late close) gets one alert to the service,
//!   so missing reports are never read as "no missed doses";
//! - **missed-dose alerts** ([`super::alerts`]): each morning, keyworkers who chose a digest get
//!   every missed dose not mailed to them before; any time, a miss left unmailed by a switch to
//!   per-dose alerts (or a move to a keyworker on them) is mailed.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::Row;
use tokio_util::sync::CancellationToken;

pub use super::alerts::{AlertSettings, catch_up_pass, digest_pass};
use crate::core::db::audit::Actor;
use crate::core::db::{self, Store, date_text, now_text};
use crate::core::email::{queue, templates};
use crate::error::Result;

/// What the schedulers need to know.
#[derive(Clone, Debug)]
pub struct ScheduleSettings {
    pub alerts: AlertSettings,
    /// Where "pharmacy has not closed its day" goes; none: logged only.
    pub service_email: Option<String>,
    /// How long after closing time silence becomes an alert.
    pub silence_after: chrono::Duration,
}

pub async fn run(store: Store, settings: ScheduleSettings, shutdown: CancellationToken) {
    loop {
        let now = Utc::now();
        if let Err(e) = silence_pass(&store, &settings, now).await {
            tracing::warn!(error = %e, "pharmacy silence check failed; will retry");
        }
        if let Err(e) = digest_pass(&store, &settings.alerts, now).await {
            tracing::warn!(error = %e, "digest pass failed; will retry");
        }
        if let Err(e) = catch_up_pass(&store, &settings.alerts).await {
            tracing::warn!(error = %e, "missed-dose catch-up failed; will retry");
        }
        if let Err(e) = crate::core::transfers::take_effect_pass(&store).await {
            tracing::warn!(error = %e, "transfer pass failed; will retry");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// One alert per pharmacy and day whose closing time + `silence_after` has passed with no
/// day-closed report. Public so tests can run it at a chosen instant.
pub async fn silence_pass(
    store: &Store,
    s: &ScheduleSettings,
    now: chrono::DateTime<Utc>,
) -> Result<usize> {
    let mut alerted = 0;
    for pharmacy in db::pharmacies::list(store.pool()).await? {
        let tz: Tz = pharmacy
            .timezone
            .parse()
            .unwrap_or(chrono_tz::Europe::London);
        let today = now.with_timezone(&tz).date_naive();
        let calendar = db::pharmacies::calendar(store.pool(), &pharmacy).await?;
        let enrolled = enrolled_on(store, &pharmacy.id, &tz).await?;
        // Yesterday too: a late close (after midnight, for one) plus the grace period runs into
        // today. Each trading day is due at its own close (`None`: not open that day).
        for date in [today - chrono::Duration::days(1), today] {
            let overdue = calendar
                .closes_at(date, &tz)
                .is_some_and(|close| now >= close + s.silence_after);
            if !overdue || date < enrolled {
                continue;
            }
            if day_closed(store, &pharmacy.id, date).await? {
                continue;
            }
            if alert_silence(store, s, &pharmacy, date).await? {
                alerted += 1;
            }
        }
    }
    Ok(alerted)
}

/// Records and sends one silence alert; false if one was already sent for that day.
async fn alert_silence(
    store: &Store,
    s: &ScheduleSettings,
    pharmacy: &db::pharmacies::Pharmacy,
    date: NaiveDate,
) -> Result<bool> {
    let mut w = store.write().await?;
    let fresh = sqlx::query(
        "INSERT INTO silence_alerts (pharmacy_id, date, sent_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(&pharmacy.id)
    .bind(date_text(date))
    .bind(now_text())
    .execute(&mut *w.tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(false);
    }
    w.audit(
        &Actor::system(),
        "pharmacy.silent",
        &format!("pharmacy:{}", pharmacy.id),
        serde_json::json!({"date": date_text(date)}),
    )
    .await?;
    if let Some(to) = &s.service_email {
        // The console's pharmacies page (each pharmacy's state is listed there).
        let link = format!(
            "{}/console/pharmacies",
            s.alerts.public_url.trim_end_matches('/')
        );
        queue::enqueue(
            &mut w,
            &templates::pharmacy_silent(to, &pharmacy.ods_code, date, &link),
        )
        .await?;
    }
    w.commit().await?;
    tracing::warn!(pharmacy_id = %pharmacy.id, %date, "pharmacy has not closed its day");
    Ok(true)
}

/// The day a pharmacy was enrolled: days before it are never "silent".
/// The pharmacy's own date (in `tz`) when it was enrolled, as its counter counts it: not the
/// UTC date, which in summer is the day before from midnight to 01:00 in London.
async fn enrolled_on(store: &Store, pharmacy_id: &str, tz: &Tz) -> Result<NaiveDate> {
    let row = sqlx::query("SELECT created_at FROM pharmacies WHERE id = $1")
        .bind(pharmacy_id)
        .fetch_one(store.pool())
        .await?;
    let at: String = row.try_get("created_at")?;
    Ok(chrono::DateTime::parse_from_rfc3339(&at)
        .map(|t| t.with_timezone(tz).date_naive())
        .ok()
        .or_else(|| {
            at.get(..10)
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        })
        .unwrap_or(NaiveDate::MIN))
}

async fn day_closed(store: &Store, pharmacy_id: &str, date: NaiveDate) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM day_closures WHERE pharmacy_id = $1 AND date = $2")
            .bind(pharmacy_id)
            .bind(date_text(date))
            .fetch_optional(store.pool())
            .await?
            .is_some(),
    )
}
