//! What every page about a person shares: loading them as the viewer may, the stamp a confirm
//! carries, the warnings, and the words for dates, patterns and codes.

use chrono::{Duration, NaiveDate};
use sha2::{Digest, Sha256};
use sotto_domain::{Collection, FieldError};

use crate::console::caseload::{last_contact, short_time};
use crate::console::html::esc;
use crate::console::session::ConsoleUser;
use crate::core::AppState;
use crate::core::access::{self, PersonOp, ServiceOp, Via};
use crate::core::db::{self, prescriptions::Stored, service_users::ServiceUser};
use crate::error::{Error, Result};

/// Loads a person the viewer may see, exactly as the API does (404, then 403 outside the
/// caseload), and logs the read.
pub(super) async fn visible(st: &AppState, user: &ConsoleUser, id: &str) -> Result<ServiceUser> {
    user.caller.may(ServiceOp::WorkWithPeople)?;
    access::person(&st.store, &user.caller, id, PersonOp::Read, Via::Console).await
}

/// A digest of what an action's preview showed: the person's active holds and their
/// prescriptions' regimes. A confirm with another stamp is refused.
pub(super) async fn stamp(st: &AppState, su: &ServiceUser) -> Result<String> {
    let holds = db::holds::active(st.store.pool(), &su.id).await?;
    let regimes = crate::core::queries::regime_ids(st.store.pool(), &su.id).await?;
    let mut h = Sha256::new();
    for hold in &holds {
        h.update(hold.id.as_bytes());
        h.update([0x1f]);
    }
    h.update([0x1e]);
    for id in &regimes {
        h.update(id.as_bytes());
        h.update([0x1f]);
    }
    Ok(hex::encode(&h.finalize()[..12]))
}

pub(super) fn stale_refusal() -> Error {
    Error::Conflict {
        field: "stamp",
        detail: "this person's holds or prescription changed after your preview; nothing was \
                 changed. Open their page again and review before acting."
            .into(),
    }
}

/// Refuses a confirm whose preview was of another person or of an older state.
pub(super) async fn check_confirm(
    st: &AppState,
    su: &ServiceUser,
    reference: &str,
    seen: &str,
) -> Result<()> {
    if reference != su.reference {
        return Err(Error::Conflict {
            field: "reference",
            detail: "the confirmation was for a different person; nothing was changed".into(),
        });
    }
    if seen != stamp(st, su).await? {
        return Err(stale_refusal());
    }
    Ok(())
}

/// The wrong-person guard: reference, name and date of birth, large, on every page and preview.
pub(super) fn identity(su: &ServiceUser) -> String {
    format!(
        "<p class=\"identity\" data-identity><strong>{reference}</strong> · {given} {family} · born {dob}</p>",
        reference = esc(&su.reference),
        given = esc(&su.given_name),
        family = esc(&su.family_name),
        dob = su.date_of_birth.format("%-d %B %Y"),
    )
}

/// Warnings about the person's pharmacy: its PC's clock, and whether it has been heard from.
pub(super) async fn stale_warning(st: &AppState, su: &ServiceUser) -> Result<String> {
    let clock = crate::console::pharmacy_clock::warning(st.store.pool(), &su.pharmacy_id)
        .await?
        .map(|w| format!("<p class=\"warning\" data-clock-wrong>{}</p>", esc(&w)))
        .unwrap_or_default();
    Ok(clock + &heard_warning(st, su).await?)
}

/// A warning when the person's pharmacy has not been heard from within two heartbeats.
pub(super) async fn heard_warning(st: &AppState, su: &ServiceUser) -> Result<String> {
    let last = last_contact(st.store.pool(), &su.pharmacy_id).await?;
    let limit = Duration::from_std(st.config.heartbeat_interval * 2).unwrap_or_default();
    let heard_recently = last
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| chrono::Utc::now() - t.with_timezone(&chrono::Utc) <= limit);
    if heard_recently {
        return Ok(String::new());
    }
    let since = last
        .as_deref()
        .map(|t| format!("since {}", short_time(t)))
        .unwrap_or_else(|| "yet".into());
    Ok(format!(
        "<p class=\"warning\" data-stale>The pharmacy has not been heard from {since}: what it \
         shows may be out of date, and a change may reach it late. Consider phoning the pharmacy.</p>"
    ))
}

/// The prescription to show: the one covering `today`, else the next, else the latest.
pub(super) fn current(all: &[Stored], today: NaiveDate) -> Option<&Stored> {
    db::prescriptions::covering(all, today)
        .or_else(|| all.iter().find(|s| s.prescription.start_date() > today))
        .or_else(|| all.last())
}

/// "Monday 30 November 2026" for a stored `YYYY-MM-DD` (as stored, if it is not one).
pub(super) fn words_date(iso: &str) -> String {
    NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(|d| d.format("%-d %B %Y").to_string())
        .unwrap_or_else(|_| esc(iso))
}

/// "mon 1 supervised; sat 2" — a weekly pattern in words.
pub(super) fn pattern_text(c: &[Collection]) -> String {
    c.iter()
        .map(|c| {
            format!(
                "{} {} day{}{}",
                c.weekday.as_str(),
                c.days,
                if c.days == 1 { "" } else { "s" },
                if c.supervised { " supervised" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub(super) fn field_errors(e: &Error) -> Option<Vec<FieldError>> {
    match e {
        Error::Validation(errs) => Some(errs.clone()),
        _ => None,
    }
}

/// "The pharmacy will see code X — meaning": the preview's promise, in one wording everywhere.
pub(super) fn will_see(code: sotto_domain::StatusCode) -> String {
    format!(
        "<p class=\"notice\" data-preview>The pharmacy will see code <span class=\"code\" \
         data-code>{code}</span> — {meaning}.</p>",
        code = code.letter(),
        meaning = esc(code.meaning()),
    )
}

/// The end of every confirm form: the person and state it was previewed for (checked by
/// `check_confirm`), the button naming the person, and a way back.
pub(super) fn confirm_tail(su: &ServiceUser, stamp: &str, action: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"reference\" value=\"{reference}\">\
         <input type=\"hidden\" name=\"stamp\" value=\"{stamp}\">\
         <div class=\"confirm\"><button type=\"submit\">Confirm: {action} {reference}</button>\
         <a href=\"/console/people/{id}\">Cancel</a></div></form>",
        reference = esc(&su.reference),
        stamp = esc(stamp),
        id = esc(&su.id),
    )
}
