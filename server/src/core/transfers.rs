//! Moving a person to another pharmacy from a date (DOMAIN.md, "Law and practice": people move
//! pharmacy). From that day the new pharmacy holds them — their holds, their ledger and the run
//! of days without a dose carry over (`dispensing::ledger::records`) — and the old one supplies
//! only the days before it: each pharmacy is sent only its own days, so on no day can both
//! supply, and a report from a pharmacy for a day it does not hold the person is refused
//! ([`check_report`]).
//!
//! `service_users.pharmacy_id` keeps meaning "the pharmacy holding the person today" (access,
//! reports, the server's ledger and every list read it); a transfer from today moves it at
//! once, one from a later day when that day comes ([`take_effect_pass`], each minute).

use chrono::{Duration, NaiveDate};
use sotto_protocol::ReportEvent;

use crate::core::AppState;
use crate::core::access::{self, Caller, PersonOp};
use crate::core::db::audit::{Actor, WriteTx};
use crate::core::db::placements::{self, Placement};
use crate::core::db::{self, Store, date_text};
use crate::core::dispensing::{history, ledger};
use crate::error::{Error, Result};

/// How far ahead a transfer may be arranged.
pub const MAX_DAYS_AHEAD: i64 = 92;

/// A transfer as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub placement_id: String,
    pub from_pharmacy_id: String,
    pub to_pharmacy_id: String,
    pub from: NaiveDate,
    /// Whether the new pharmacy already holds the person (`from` is today).
    pub in_effect: bool,
}

fn conflict(field: &'static str, detail: String) -> Error {
    Error::Conflict { field, detail }
}

fn day(d: NaiveDate) -> String {
    d.format("%a %-d %b %Y").to_string()
}

/// Moves the person to `to_pharmacy` from `from`, if the caller may.
pub async fn transfer(
    st: &AppState,
    caller: &Caller,
    su_id: &str,
    to_pharmacy: &str,
    from: NaiveDate,
) -> Result<Transfer> {
    let mut w = st.store.write().await?;
    let su = db::service_users::get(&mut *w.tx, su_id)
        .await?
        .ok_or(Error::NotFound("service user"))?;
    access::person_in(&mut w.tx, caller, &su, PersonOp::Transfer).await?;
    let Some(new) = db::pharmacies::get(&mut *w.tx, to_pharmacy).await? else {
        return Err(Error::field("pharmacy_id", "no pharmacy has this id"));
    };
    let old = db::pharmacies::get(&mut *w.tx, &su.pharmacy_id)
        .await?
        .ok_or_else(|| Error::Internal("service user without a pharmacy".into()))?;
    if new.id == old.id {
        return Err(conflict(
            "pharmacy_id",
            "the person is already at this pharmacy".into(),
        ));
    }
    let today = old.today();
    if from < today {
        return Err(Error::field(
            "from",
            format!(
                "a transfer takes effect today ({today}) or later: days gone by stay with \
                 the pharmacy that held the person"
            ),
        ));
    }
    if from > today + Duration::days(MAX_DAYS_AHEAD) {
        return Err(Error::field(
            "from",
            format!("a transfer is arranged at most {MAX_DAYS_AHEAD} days ahead"),
        ));
    }
    let stays = placements::of_person(&mut w.tx, &su.id).await?;
    let current = current_stay(&stays, &old.id)?;
    check_dates(&mut w, &su.id, &new, from).await?;
    let actor = Actor(caller.id.clone());
    let through = from
        .pred_opt()
        .expect("a date after today has a day before");
    placements::end(&mut w.tx, &current.id, through).await?;
    let placement_id =
        placements::insert(&mut w.tx, &su.id, &new.id, Some(from), &caller.id).await?;
    let in_effect = from <= new.today();
    if in_effect {
        move_of_record(&mut w, &actor, &su.id, &new.id).await?;
    }
    w.audit(
        &actor,
        "service_user.transfer",
        &format!("service_user:{}", su.id),
        serde_json::json!({"from_pharmacy": format!("pharmacy:{}", old.id),
            "to_pharmacy": format!("pharmacy:{}", new.id), "from": date_text(from)}),
    )
    .await?;
    crate::core::outbox::person_changed(&mut w, &su.id).await?;
    w.commit().await?;
    tracing::info!(%placement_id, "transfer recorded");
    Ok(Transfer {
        placement_id,
        from_pharmacy_id: old.id,
        to_pharmacy_id: new.id,
        from,
        in_effect,
    })
}

/// The stay a transfer ends: the open-ended one at the pharmacy of record, with no transfer
/// already waiting to take effect.
fn current_stay<'a>(stays: &'a [Placement], pharmacy_id: &str) -> Result<&'a Placement> {
    match stays.last() {
        Some(last) if last.pharmacy_id == pharmacy_id && last.to.is_none() => Ok(last),
        Some(last) => Err(conflict(
            "from",
            format!(
                "a transfer from {} is already arranged; it must take effect first",
                last.from.map(day).unwrap_or_default()
            ),
        )),
        None => Err(Error::Internal("a person without a placement".into())),
    }
}

/// On no day can both pharmacies supply: the new one's first day must start an instalment there
/// (no dose from `from` on is collected before it), and nothing from `from` on may already have
/// been handed over at the old one.
async fn check_dates(
    w: &mut WriteTx,
    su_id: &str,
    new: &db::pharmacies::Pharmacy,
    from: NaiveDate,
) -> Result<()> {
    let calendar = db::pharmacies::calendar(&mut *w.tx, new).await?;
    for stored in db::prescriptions::for_service_user(&mut w.tx, su_id).await? {
        let schedule = stored.prescription.schedule(&calendar);
        if let Some(d) = schedule
            .days()
            .iter()
            .find(|d| d.date >= from && d.collect_on < from)
        {
            return Err(conflict(
                "from",
                format!(
                    "at the new pharmacy the dose for {} is collected on {}, before the \
                     transfer: choose a day that starts a collection there",
                    day(d.date),
                    day(d.collect_on)
                ),
            ));
        }
    }
    let handed = history::supply_records(&history::history(&mut *w.tx, su_id).await?);
    if let Some(d) = handed
        .iter()
        .filter(|s| !s.withheld)
        .flat_map(|s| s.take_home_dates.iter())
        .filter(|&&d| d >= from)
        .min()
    {
        return Err(conflict(
            "from",
            format!(
                "the dose for {} was already handed over at the current pharmacy: transfer \
                 from the day after the last dose handed over",
                day(*d)
            ),
        ));
    }
    Ok(())
}

/// Makes `pharmacy_id` the person's pharmacy of record, audited.
async fn move_of_record(
    w: &mut WriteTx,
    actor: &Actor,
    su_id: &str,
    pharmacy_id: &str,
) -> Result<()> {
    sqlx::query("UPDATE service_users SET pharmacy_id = $1 WHERE id = $2")
        .bind(pharmacy_id)
        .bind(su_id)
        .execute(&mut *w.tx)
        .await?;
    w.audit(
        actor,
        "service_user.pharmacy",
        &format!("service_user:{su_id}"),
        serde_json::json!({"to": format!("pharmacy:{pharmacy_id}")}),
    )
    .await
}

/// Each minute: a transfer whose day has come moves the person of record, and a pharmacy whose
/// days with a person are over is told they left. Returns how many placements changed.
pub async fn take_effect_pass(store: &Store) -> Result<usize> {
    // A generous today (a day ahead of UTC): each is checked against its own pharmacy's today.
    let horizon = chrono::Utc::now().date_naive() + Duration::days(1);
    let due = {
        let mut conn = store.pool().acquire().await?;
        placements::due_by(&mut conn, horizon).await?
    };
    let mut changed = 0;
    for p in due {
        let mut w = store.write().await?;
        let Some(pharmacy) = db::pharmacies::get(&mut *w.tx, &p.pharmacy_id).await? else {
            continue;
        };
        let today = pharmacy.today();
        let starts = p.to.is_none() && p.from.is_some_and(|f| f <= today);
        let ended = p.to.is_some_and(|t| t < today);
        if !(starts || ended) {
            continue;
        }
        if starts {
            move_of_record(&mut w, &Actor::system(), &p.service_user_id, &p.pharmacy_id).await?;
        }
        crate::core::outbox::person_changed(&mut w, &p.service_user_id).await?;
        w.commit().await?;
        changed += 1;
    }
    Ok(changed)
}

/// A pharmacy reports only on people it holds on the days the report is about: a report from
/// the old pharmacy for a day before a transfer still counts, one for a later day is refused.
pub async fn check_report(
    w: &mut WriteTx,
    pharmacy_id: &str,
    event: &ReportEvent,
) -> Result<std::result::Result<(), String>> {
    let (su_id, dates): (&str, Vec<NaiveDate>) = match event {
        ReportEvent::Supplied {
            service_user_id,
            collect_on,
            take_home_dates,
            ..
        } => (
            service_user_id,
            std::iter::once(*collect_on)
                .chain(take_home_dates.iter().copied())
                .collect(),
        ),
        ReportEvent::Withheld {
            service_user_id,
            collect_on,
            ..
        } => (service_user_id, vec![*collect_on]),
        ReportEvent::Missed {
            service_user_id,
            date,
            ..
        } => (service_user_id, vec![*date]),
        ReportEvent::DayClosed { .. } => return Ok(Ok(())),
    };
    if db::service_users::get(&mut *w.tx, su_id).await?.is_none() {
        return Ok(Err("unknown person".into()));
    }
    let stays = placements::of_person(&mut w.tx, su_id).await?;
    let Some(stay) = ledger::stay_at(&stays, pharmacy_id) else {
        return Ok(Err("the person is not nominated to this pharmacy".into()));
    };
    Ok(match dates.iter().find(|d| !stay.covers(**d)) {
        Some(d) => Err(format!(
            "the person was not held by this pharmacy on {d} (transferred)"
        )),
        None => Ok(()),
    })
}
