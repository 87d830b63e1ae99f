//! A person's page: who they are (prominently), today's code, the instalment calendar, holds,
//! regime changes and dispenses, and the actions the viewer's role allows. Every action goes
//! through a preview that shows the person again and what the pharmacy will see, then a confirm
//! that carries a stamp of what was previewed: if the person's holds or regimes changed in
//! between, the confirm is refused (action on stale data).

use std::collections::{BTreeMap, BTreeSet};

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sotto_domain::{
    Collection, DoseDay, FieldError, HoldKind, RegimeChangeDraft, RegimeChangeEffect, Weekday,
};
use sqlx::Row;

use super::calendar::calendar;
use super::caseload::{last_contact, short_time};
use super::html::{self, article, csrf_field, error_summary, esc, field_error, scroll};
use super::session::{ConsoleUser, see_other};
use crate::core::AppState;
use crate::core::access::{self, PersonOp, Role, ServiceOp, Via};
use crate::core::db::{self, prescriptions::Stored, service_users::ServiceUser};
use crate::core::{holds, prescriptions, status};
use crate::error::{Error, Result};

/// Loads a person the viewer may see, exactly as the API does (404, then 403 outside the
/// caseload), and logs the read.
async fn visible(st: &AppState, user: &ConsoleUser, id: &str) -> Result<ServiceUser> {
    user.caller.may(ServiceOp::WorkWithPeople)?;
    access::person(&st.store, &user.caller, id, PersonOp::Read, Via::Console).await
}

/// A digest of what an action's preview showed: the person's active holds and their
/// prescriptions' regimes. A confirm with another stamp is refused.
async fn stamp(st: &AppState, su: &ServiceUser) -> Result<String> {
    let holds = db::holds::active(st.store.pool(), &su.id).await?;
    let rows = sqlx::query(
        "SELECT r.id FROM regimes r JOIN prescriptions p ON p.id = r.prescription_id \
         WHERE p.service_user_id = $1 ORDER BY r.id",
    )
    .bind(&su.id)
    .fetch_all(st.store.pool())
    .await?;
    let mut h = Sha256::new();
    for hold in &holds {
        h.update(hold.id.as_bytes());
        h.update([0x1f]);
    }
    h.update([0x1e]);
    for r in &rows {
        h.update(r.try_get::<String, _>("id")?.as_bytes());
        h.update([0x1f]);
    }
    Ok(hex::encode(&h.finalize()[..12]))
}

fn stale_refusal() -> Error {
    Error::Conflict {
        field: "stamp",
        detail: "this person's holds or prescription changed after your preview; nothing was \
                 changed. Open their page again and review before acting."
            .into(),
    }
}

/// Refuses a confirm whose preview was of another person or of an older state.
async fn check_confirm(st: &AppState, su: &ServiceUser, reference: &str, seen: &str) -> Result<()> {
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
fn identity(su: &ServiceUser) -> String {
    format!(
        "<p class=\"identity\" data-identity><strong>{reference}</strong> · {given} {family} · born {dob}</p>",
        reference = esc(&su.reference),
        given = esc(&su.given_name),
        family = esc(&su.family_name),
        dob = su.date_of_birth.format("%-d %B %Y"),
    )
}

/// Warnings about the person's pharmacy: its PC's clock, and whether it has been heard from.
async fn stale_warning(st: &AppState, su: &ServiceUser) -> Result<String> {
    let clock = super::pharmacy_clock::warning(st.store.pool(), &su.pharmacy_id)
        .await?
        .map(|w| format!("<p class=\"warning\" data-clock-wrong>{}</p>", esc(&w)))
        .unwrap_or_default();
    Ok(clock + &heard_warning(st, su).await?)
}

/// A warning when the person's pharmacy has not been heard from within two heartbeats.
async fn heard_warning(st: &AppState, su: &ServiceUser) -> Result<String> {
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
fn current(all: &[Stored], today: NaiveDate) -> Option<&Stored> {
    db::prescriptions::covering(all, today)
        .or_else(|| all.iter().find(|s| s.prescription.start_date() > today))
        .or_else(|| all.last())
}

pub async fn page(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    match build(&st, &user, &id, &PersonForms::default()).await {
        Ok((title, body)) => html::page(StatusCode::OK, &title, Some(&user.viewer()), &body),
        Err(e) => user.error(e),
    }
}

/// Forms on the person page as the user left them, with any errors.
#[derive(Default)]
struct PersonForms {
    hold: HoldForm,
    hold_errors: Vec<FieldError>,
    regime: RegimeForm,
    regime_errors: Vec<FieldError>,
}

/// The page's title (the person's reference, so the browser tab names them too) and body.
async fn build(
    st: &AppState,
    user: &ConsoleUser,
    id: &str,
    forms: &PersonForms,
) -> Result<(String, String)> {
    let su = visible(st, user, id).await?;
    let s = status::for_service_user(&st.store, &su, None, true).await?;
    let today = s.date;
    let mut conn = st.store.pool().acquire().await?;
    let prescriptions = db::prescriptions::for_service_user(&mut conn, &su.id).await?;
    let calendar_rules = db::pharmacies::calendar_of(&mut conn, &su.pharmacy_id).await?;
    drop(conn);
    let dispenses = crate::core::dispensing::history::history(st.store.pool(), &su.id).await?;
    let missed_list = db::service_users::missed_doses(st.store.pool(), &su.id).await?;
    let missed: BTreeSet<NaiveDate> = missed_list.iter().map(|m| m.date).collect();
    let closed_rows = sqlx::query("SELECT date FROM day_closures WHERE pharmacy_id = $1")
        .bind(&su.pharmacy_id)
        .fetch_all(st.store.pool())
        .await?;
    let closed_days: BTreeSet<NaiveDate> = closed_rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>("date").ok())
        .filter_map(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        .collect();
    let holds = db::holds::history(st.store.pool(), &su.id).await?;
    let is_clinician = user.caller.role == Role::Clinician;

    let mut out = identity(&su);
    out.push_str(&stale_warning(st, &su).await?);
    out.push_str(&format!(
        "<p>Today ({today}) the pharmacy sees <span class=\"code\" data-code>{code}</span> — {meaning}.</p>\
         <p><a href=\"/console/people/{id}/risk\">Whose risk: missed doses before and after changes</a></p>",
        today = today.format("%A %-d %B"),
        code = s.code.letter(),
        meaning = esc(s.code.meaning()),
        id = esc(&su.id),
    ));

    out.push_str(&super::ledger_view::last_days(&s));

    // The calendar.
    out.push_str("<h2 id=\"calendar\">Instalment calendar</h2>");
    let shown = current(&prescriptions, today);
    match shown {
        None => out.push_str("<p class=\"notice\">No prescription.</p>"),
        Some(p) => {
            let schedule = p.prescription.schedule(&calendar_rules);
            out.push_str(&format!(
                "<p>Prescription {start} to {end}: {medicine}.</p>",
                start = p.prescription.start_date().format("%-d %B %Y"),
                end = p.prescription.end_date().format("%-d %B %Y"),
                medicine = esc(p.prescription.medicine().display_name()),
            ));
            out.push_str(&calendar(
                schedule.days(),
                today,
                &dispenses,
                &missed,
                &closed_days,
            ));
        }
    }

    // Actions.
    out.push_str("<h2 id=\"actions\">Actions</h2>");
    out.push_str(&hold_form(
        user,
        &su,
        &forms.hold,
        &forms.hold_errors,
        is_clinician,
    ));
    if let Some(p) = shown {
        if is_clinician {
            out.push_str(&regime_form(user, p, &forms.regime, &forms.regime_errors));
        } else {
            out.push_str("<p class=\"notice\">Regime changes are made by the prescriber.</p>");
        }
    }

    // Holds, with history.
    out.push_str("<h2 id=\"holds\">Holds</h2>");
    if holds.is_empty() {
        out.push_str("<p>No holds.</p>");
    } else {
        let rows: String = holds
            .iter()
            .map(|h| {
                let kind = match h.kind {
                    HoldKind::Attend => "attend",
                    HoldKind::Safety => "safety",
                };
                let state = match &h.lifted_at {
                    Some(at) => format!("lifted {}", short_time(at)),
                    None => "active".into(),
                };
                let may_lift = h.lifted_at.is_none()
                    && (h.kind == HoldKind::Attend || is_clinician);
                let action = if may_lift {
                    format!(
                        "<form method=\"post\" action=\"/console/holds/{hid}/lift/preview\" class=\"inline\">{csrf}\
                         <button type=\"submit\" class=\"secondary\">Lift…</button></form>",
                        hid = esc(&h.id),
                        csrf = csrf_field(&user.csrf),
                    )
                } else if h.lifted_at.is_none() {
                    "a clinician lifts this".into()
                } else {
                    String::new()
                };
                format!(
                    "<tr><td>{kind}</td><td>{placed}</td><td>{by}</td><td>{reason}</td><td>{state}</td><td>{action}</td></tr>",
                    placed = short_time(&h.placed_at),
                    by = if h.placed_by == "system" { "missed-dose rule" } else { "staff" },
                    reason = esc(&h.reason),
                )
            })
            .collect();
        out.push_str(&scroll("Holds", &format!(
            "<table><thead><tr><th scope=\"col\">Kind</th><th scope=\"col\">Placed</th><th scope=\"col\">By</th>\
             <th scope=\"col\">Reason (private to the service)</th><th scope=\"col\">State</th><th scope=\"col\">Action</th></tr></thead>\
             <tbody>{rows}</tbody></table>"
        )));
    }

    // Regime changes.
    out.push_str("<h2 id=\"regimes\">Regime changes</h2>");
    let regimes = sqlx::query(
        "SELECT r.effective_from, r.daily_dose_ug, r.collections, r.reason, r.created_at \
         FROM regimes r JOIN prescriptions p ON p.id = r.prescription_id \
         WHERE p.service_user_id = $1 AND r.reason IS NOT NULL ORDER BY r.effective_from DESC",
    )
    .bind(&su.id)
    .fetch_all(st.store.pool())
    .await?;
    if regimes.is_empty() {
        out.push_str("<p>No regime changes.</p>");
    } else {
        let mut rows = String::new();
        for r in &regimes {
            let collections: Vec<Collection> =
                serde_json::from_str(&r.try_get::<String, _>("collections")?).unwrap_or_default();
            rows.push_str(&format!(
                "<tr><td>{from}</td><td class=\"num\">{dose} mg</td><td>{pattern}</td><td>{reason}</td><td>{at}</td></tr>",
                from = words_date(&r.try_get::<String, _>("effective_from")?),
                dose = r.try_get::<i64, _>("daily_dose_ug")? as f64 / 1000.0,
                pattern = esc(&pattern_text(&collections)),
                reason = esc(&r.try_get::<Option<String>, _>("reason")?.unwrap_or_default()),
                at = short_time(&r.try_get::<String, _>("created_at")?),
            ));
        }
        out.push_str(&scroll("Regime changes", &format!(
            "<table><thead><tr><th scope=\"col\">From</th><th scope=\"col\" class=\"num\">Daily dose</th>\
             <th scope=\"col\">Collections</th><th scope=\"col\">Reason</th><th scope=\"col\">Recorded</th></tr></thead>\
             <tbody>{rows}</tbody></table>"
        )));
    }

    // Dispense history.
    out.push_str("<h2 id=\"dispenses\">Dispense history</h2>");
    if dispenses.is_empty() && missed_list.is_empty() {
        out.push_str("<p>Nothing reported by the pharmacy yet.</p>");
    } else {
        let mut events: BTreeMap<(NaiveDate, u8), String> = BTreeMap::new();
        for (i, d) in dispenses.iter().enumerate() {
            let what = if d.kind == "supplied" {
                format!(
                    "supplied{}{}",
                    if d.supervised_taken {
                        ", supervised dose taken"
                    } else {
                        ""
                    },
                    if d.take_home_dates.is_empty() {
                        String::new()
                    } else {
                        format!(", {} take-home", d.take_home_dates.len())
                    }
                )
            } else {
                format!(
                    "withheld{}",
                    d.withheld_reason
                        .as_deref()
                        .map(|r| format!(" ({})", esc(r)))
                        .unwrap_or_default()
                )
            };
            events.insert((d.collect_on, (i % 200) as u8), what);
        }
        for m in &missed_list {
            events.insert((m.date, 255), format!("missed dose ({} mg)", m.dose_mg));
        }
        let rows: String = events
            .iter()
            .rev()
            .map(|((date, _), what)| {
                format!(
                    "<tr><td>{}</td><td>{what}</td></tr>",
                    date.format("%a %-d %b %Y")
                )
            })
            .collect();
        out.push_str(&scroll(
            "Dispense history",
            &format!(
                "<table><thead><tr><th scope=\"col\">Date</th><th scope=\"col\">What the pharmacy \
                 reported</th></tr></thead><tbody>{rows}</tbody></table>"
            ),
        ));
    }
    Ok((format!("Person {}", su.reference), out))
}

/// "Monday 30 November 2026" for a stored `YYYY-MM-DD` (as stored, if it is not one).
fn words_date(iso: &str) -> String {
    NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(|d| d.format("%-d %B %Y").to_string())
        .unwrap_or_else(|_| esc(iso))
}

/// "mon 1 supervised; sat 2" — a weekly pattern in words.
fn pattern_text(c: &[Collection]) -> String {
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

// ----- holds -----

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct HoldForm {
    pub csrf: String,
    pub reason: String,
    pub kind: String,
    pub reference: String,
    pub stamp: String,
    pub note: String,
}

fn parse_kind(s: &str) -> Result<HoldKind> {
    match s {
        "" | "attend" => Ok(HoldKind::Attend),
        "safety" => Ok(HoldKind::Safety),
        _ => Err(Error::field("kind", "must be attend or safety")),
    }
}

fn hold_form(
    user: &ConsoleUser,
    su: &ServiceUser,
    f: &HoldForm,
    errors: &[FieldError],
    is_clinician: bool,
) -> String {
    let kind = if is_clinician {
        let sel = |k: &str| if f.kind == k { " selected" } else { "" };
        format!(
            "<label for=\"kind\">Kind</label><select id=\"kind\" name=\"kind\">\
             <option value=\"attend\"{a}>attend: ask the person to contact the service (code D)</option>\
             <option value=\"safety\"{s}>safety: prescriber review (code E)</option></select>{err}",
            a = sel("attend"),
            s = sel("safety"),
            err = field_error(errors, "kind"),
        )
    } else {
        String::new()
    };
    format!(
        "<form method=\"post\" action=\"/console/people/{id}/holds/preview\" id=\"place-hold\">\
         <h3>Place a hold</h3>{summary}{csrf}{kind}\
         <label for=\"reason\">Reason (private to the service; never sent to the pharmacy)</label>\
         <textarea id=\"reason\" name=\"reason\" rows=\"2\" required{invalid}>{reason}</textarea>{err}\
         <div><button type=\"submit\">Preview hold…</button></div></form>",
        id = esc(&su.id),
        summary = error_summary(errors),
        csrf = csrf_field(&user.csrf),
        invalid = if field_error(errors, "reason").is_empty() {
            ""
        } else {
            " aria-invalid=\"true\" aria-describedby=\"reason-error\""
        },
        reason = esc(&f.reason),
        err = field_error(errors, "reason"),
    )
}

/// Re-shows the person page with a form's errors and the user's input (422 etc.).
async fn with_errors(
    st: &AppState,
    user: &ConsoleUser,
    id: &str,
    forms: PersonForms,
    status: StatusCode,
) -> Response {
    match build(st, user, id, &forms).await {
        Ok((title, body)) => html::page(status, &title, Some(&user.viewer()), &body),
        Err(e) => user.error(e),
    }
}

fn field_errors(e: &Error) -> Option<Vec<FieldError>> {
    match e {
        Error::Validation(errs) => Some(errs.clone()),
        _ => None,
    }
}

pub async fn hold_preview(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<HoldForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let su = match visible(&st, &user, &id).await {
        Ok(su) => su,
        Err(e) => return user.error(e),
    };
    // The same checks as placing, before anything is shown as if it would happen.
    let checked = match parse_kind(&f.kind) {
        Ok(kind) => access::check(&st.store, &user.caller, &su, holds::place_op(kind))
            .await
            .and_then(|_| Ok((kind, holds::parse_reason(&f.reason)?))),
        Err(e) => Err(e),
    };
    let (kind, reason) = match checked {
        Ok(v) => v,
        Err(e) => {
            return match field_errors(&e) {
                Some(errs) => {
                    let forms = PersonForms {
                        hold: f.clone(),
                        hold_errors: errs,
                        ..Default::default()
                    };
                    with_errors(&st, &user, &id, forms, StatusCode::UNPROCESSABLE_ENTITY).await
                }
                None => user.error(e),
            };
        }
    };
    let preview = async {
        let s = status::for_service_user_as_if(&st.store, &su, None, true, |mut kinds| {
            kinds.push(kind);
            kinds
        })
        .await?;
        let stamp = stamp(&st, &su).await?;
        let stale = stale_warning(&st, &su).await?;
        Ok::<_, Error>((s, stamp, stale))
    };
    let (s, stamp, stale) = match preview.await {
        Ok(v) => v,
        Err(e) => return user.error(e),
    };
    let kind_str = if kind == HoldKind::Safety {
        "safety"
    } else {
        "attend"
    };
    let body = format!(
        "<p>You are about to place a hold on:</p>{identity}{stale}\
         {will_see}\
         <p>Kind: <strong>{kind_str}</strong>. Reason (stays with the service): {reason}</p>\
         <form method=\"post\" action=\"/console/people/{id}/holds\">{csrf}\
         <input type=\"hidden\" name=\"kind\" value=\"{kind_str}\">\
         <input type=\"hidden\" name=\"reason\" value=\"{reason}\">{confirm}",
        identity = identity(&su),
        will_see = will_see(s.code),
        reason = esc(&reason),
        id = esc(&su.id),
        csrf = csrf_field(&user.csrf),
        confirm = confirm_tail(&su, &stamp, "place hold on"),
    );
    html::page(StatusCode::OK, "Confirm hold", Some(&user.viewer()), &body)
}

pub async fn hold_place(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<HoldForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let run = async {
        let su = visible(&st, &user, &id).await?;
        check_confirm(&st, &su, &f.reference, &f.stamp).await?;
        let kind = parse_kind(&f.kind)?;
        holds::place(&st, &user.caller, &su.id, kind, &f.reason).await
    };
    match run.await {
        Ok(_) => see_other(&format!("/console/people/{id}#holds")),
        Err(e) => match field_errors(&e) {
            Some(errs) => {
                let forms = PersonForms {
                    hold: f,
                    hold_errors: errs,
                    ..Default::default()
                };
                with_errors(&st, &user, &id, forms, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => user.error(e),
        },
    }
}

async fn hold_and_person(
    st: &AppState,
    user: &ConsoleUser,
    hold_id: &str,
) -> Result<(db::holds::Hold, ServiceUser)> {
    user.caller.may(ServiceOp::WorkWithPeople)?;
    let (hold, su) = holds::may_lift(st, &user.caller, hold_id).await?;
    visible(st, user, &su.id).await?;
    Ok((hold, su))
}

pub async fn lift_preview(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(hold_id): Path<String>,
    Form(f): Form<HoldForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let run = async {
        let (hold, su) = hold_and_person(&st, &user, &hold_id).await?;
        let s = status::for_service_user_as_if(&st.store, &su, None, true, |mut kinds| {
            // As if this one hold were gone (others of the same kind stay).
            if let Some(i) = kinds.iter().position(|k| *k == hold.kind) {
                kinds.remove(i);
            }
            kinds
        })
        .await?;
        let stamp = stamp(&st, &su).await?;
        let stale = stale_warning(&st, &su).await?;
        Ok::<_, Error>((hold, su, s, stamp, stale))
    };
    let (hold, su, s, stamp, stale) = match run.await {
        Ok(v) => v,
        Err(e) => return user.error(e),
    };
    let kind = if hold.kind == HoldKind::Safety {
        "safety"
    } else {
        "attend"
    };
    let body = format!(
        "<p>You are about to lift {a} {kind} hold on:</p>{identity}{stale}\
         {will_see}\
         <p>Reason it was placed: {reason}</p>\
         <form method=\"post\" action=\"/console/holds/{hid}/lift\">{csrf}\
         <label for=\"note\">Note (optional, private)</label><textarea id=\"note\" name=\"note\" rows=\"2\"></textarea>{confirm}",
        a = article(kind),
        identity = identity(&su),
        will_see = will_see(s.code),
        reason = esc(&hold.reason),
        hid = esc(&hold.id),
        csrf = csrf_field(&user.csrf),
        confirm = confirm_tail(&su, &stamp, "lift hold on"),
    );
    html::page(StatusCode::OK, "Confirm lift", Some(&user.viewer()), &body)
}

pub async fn lift(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(hold_id): Path<String>,
    Form(f): Form<HoldForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let run = async {
        let (_, su) = hold_and_person(&st, &user, &hold_id).await?;
        check_confirm(&st, &su, &f.reference, &f.stamp).await?;
        holds::lift(&st, &user.caller, &hold_id, &f.note).await?;
        Ok::<_, Error>(su.id)
    };
    match run.await {
        Ok(su_id) => see_other(&format!("/console/people/{su_id}#holds")),
        Err(e) => user.error(e),
    }
}

// ----- regime changes -----

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct RegimeForm {
    pub csrf: String,
    pub effective_from: String,
    pub daily_dose_mg: String,
    pub reason: String,
    pub reference: String,
    pub stamp: String,
    pub days_mon: String,
    pub days_tue: String,
    pub days_wed: String,
    pub days_thu: String,
    pub days_fri: String,
    pub days_sat: String,
    pub days_sun: String,
    pub sup_mon: String,
    pub sup_tue: String,
    pub sup_wed: String,
    pub sup_thu: String,
    pub sup_fri: String,
    pub sup_sat: String,
    pub sup_sun: String,
}

impl RegimeForm {
    fn days(&self, d: Weekday) -> &str {
        match d {
            Weekday::Mon => &self.days_mon,
            Weekday::Tue => &self.days_tue,
            Weekday::Wed => &self.days_wed,
            Weekday::Thu => &self.days_thu,
            Weekday::Fri => &self.days_fri,
            Weekday::Sat => &self.days_sat,
            Weekday::Sun => &self.days_sun,
        }
    }

    fn supervised(&self, d: Weekday) -> bool {
        let v = match d {
            Weekday::Mon => &self.sup_mon,
            Weekday::Tue => &self.sup_tue,
            Weekday::Wed => &self.sup_wed,
            Weekday::Thu => &self.sup_thu,
            Weekday::Fri => &self.sup_fri,
            Weekday::Sat => &self.sup_sat,
            Weekday::Sun => &self.sup_sun,
        };
        !v.is_empty()
    }

    /// The API's request body from the form: blank dose or pattern means "unchanged", as
    /// omitting them does in JSON. Only what JSON would refuse to parse is checked here.
    fn draft(&self) -> Result<RegimeChangeDraft> {
        let mut errs = Vec::new();
        let effective_from = NaiveDate::parse_from_str(self.effective_from.trim(), "%Y-%m-%d")
            .map_err(|_| {
                errs.push(FieldError::new(
                    "effective_from",
                    "must be a date: choose one in the date picker",
                ))
            })
            .ok();
        let daily_dose_mg = match self.daily_dose_mg.trim() {
            "" => None,
            v => v
                .parse::<f64>()
                .map_err(|_| errs.push(FieldError::new("daily_dose_mg", "must be a number of mg")))
                .ok(),
        };
        let mut collections = Vec::new();
        for d in Weekday::ALL {
            match self.days(d).trim() {
                "" | "0" => {}
                v => match v.parse::<u8>() {
                    Ok(days) => collections.push(Collection {
                        weekday: d,
                        days,
                        supervised: self.supervised(d),
                    }),
                    Err(_) => errs.push(FieldError::new(
                        format!("days_{}", d.as_str()),
                        "must be a whole number of days from 1 to 7",
                    )),
                },
            }
        }
        match (effective_from, errs.is_empty()) {
            (Some(effective_from), true) => Ok(RegimeChangeDraft {
                effective_from,
                daily_dose_mg,
                collections: (!collections.is_empty()).then_some(collections),
                reason: self.reason.clone(),
            }),
            _ => Err(Error::Validation(errs)),
        }
    }

    fn hidden_fields(&self) -> String {
        let mut out = String::new();
        let mut put = |k: &str, v: &str| {
            out.push_str(&format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                esc(v)
            ))
        };
        put("effective_from", &self.effective_from);
        put("daily_dose_mg", &self.daily_dose_mg);
        put("reason", &self.reason);
        for d in Weekday::ALL {
            put(&format!("days_{}", d.as_str()), self.days(d));
            if self.supervised(d) {
                put(&format!("sup_{}", d.as_str()), "1");
            }
        }
        out
    }
}

fn regime_form(user: &ConsoleUser, p: &Stored, f: &RegimeForm, errors: &[FieldError]) -> String {
    let rows: String = Weekday::ALL
        .iter()
        .map(|d| {
            let name = d.as_str();
            format!(
                "<tr><th scope=\"row\">{name}</th>\
                 <td><label class=\"visually-hidden\" for=\"days_{name}\">{name}: days collected</label>\
                 <input id=\"days_{name}\" name=\"days_{name}\" inputmode=\"numeric\" size=\"2\" value=\"{v}\"></td>\
                 <td><label><input type=\"checkbox\" name=\"sup_{name}\" value=\"1\"{c}> supervised</label></td></tr>",
                v = esc(f.days(*d)),
                c = if f.supervised(*d) { " checked" } else { "" },
            )
        })
        .collect();
    let input = |name: &str, label: &str, kind: &str, value: &str| {
        html::input(errors, name, label, kind, value, "")
    };
    format!(
        "<form method=\"post\" action=\"/console/prescriptions/{pid}/regime-changes/preview\" id=\"regime-change\">\
         <h3>Change the regime</h3>{summary}{csrf}\
         {eff}{dose}\
         <fieldset><legend>New weekly collections (leave all blank to keep the current pattern)</legend>\
         <div class=\"scroll\"><table><thead><tr><th scope=\"col\">Day</th><th scope=\"col\">Days collected</th>\
         <th scope=\"col\">Supervised</th></tr></thead><tbody>{rows}</tbody></table></div>{coll_err}</fieldset>\
         <label for=\"regime-reason\">Reason (recorded for review)</label>\
         <textarea id=\"regime-reason\" name=\"reason\" rows=\"2\">{reason}</textarea>{reason_err}\
         <div><button type=\"submit\">Preview change…</button></div></form>",
        pid = esc(&p.id),
        summary = error_summary(errors),
        csrf = csrf_field(&user.csrf),
        eff = input(
            "effective_from",
            "Effective from (today or later, on a collection day; doses already handed over \
             stay as supplied)",
            "date",
            &f.effective_from
        ),
        dose = input(
            "daily_dose_mg",
            "New daily dose in mg (blank: unchanged)",
            "text",
            &f.daily_dose_mg
        ),
        coll_err = field_error(errors, "collections"),
        reason = esc(&f.reason),
        reason_err = field_error(errors, "reason"),
    )
}

async fn prescription_and_person(
    st: &AppState,
    user: &ConsoleUser,
    id: &str,
) -> Result<(Stored, ServiceUser)> {
    user.caller.may(ServiceOp::WorkWithPeople)?;
    let (stored, su) = prescriptions::for_change(st, &user.caller, id).await?;
    visible(st, user, &su.id).await?;
    Ok((stored, su))
}

async fn regime_errors(
    st: &AppState,
    user: &ConsoleUser,
    su_id: &str,
    f: RegimeForm,
    e: Error,
) -> Response {
    match field_errors(&e) {
        Some(errs) => {
            let forms = PersonForms {
                regime: f,
                regime_errors: errs,
                ..Default::default()
            };
            with_errors(st, user, su_id, forms, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        None => user.error(e),
    }
}

pub async fn regime_preview(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<RegimeForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let (stored, su) = match prescription_and_person(&st, &user, &id).await {
        Ok(v) => v,
        Err(e) => return user.error(e),
    };
    let run = async {
        let draft = f.draft()?;
        let p = prescriptions::preview_change(&st, &stored, &su, &draft).await?;
        Ok::<_, Error>((p, stamp(&st, &su).await?, stale_warning(&st, &su).await?))
    };
    let (preview, stamp, stale) = match run.await {
        Ok(v) => v,
        Err(e) => return regime_errors(&st, &user, &su.id, f, e).await,
    };
    let prescriptions::ChangePreview {
        effect,
        code_on_effective_day: on_day,
        days,
        today,
    } = preview;
    let cal = calendar(&days, today, &[], &BTreeSet::new(), &BTreeSet::new());
    let body = format!(
        "<p>You are about to change the regime of:</p>{identity}{stale}\
         <p class=\"notice\" data-effect>{effect_notice}</p>{changes}\
         <p class=\"notice\" data-preview>From {eff} the pharmacy will see code <span class=\"code\" data-code>{code}</span> \
         on that day — {meaning}. The new calendar:</p>{cal}\
         <form method=\"post\" action=\"/console/prescriptions/{pid}/regime-changes\">{csrf}{hidden}{confirm}",
        identity = identity(&su),
        effect_notice = esc(&effect.notice),
        changes = changed_days_table(&effect),
        eff = effect.effective_from,
        code = on_day.letter(),
        meaning = esc(on_day.meaning()),
        pid = esc(&stored.id),
        csrf = csrf_field(&user.csrf),
        hidden = f.hidden_fields(),
        confirm = confirm_tail(&su, &stamp, "change regime for"),
    );
    html::page(
        StatusCode::OK,
        "Confirm regime change",
        Some(&user.viewer()),
        &body,
    )
}

pub async fn regime_change(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<RegimeForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let (_, su) = match prescription_and_person(&st, &user, &id).await {
        Ok(v) => v,
        Err(e) => return user.error(e),
    };
    let run = async {
        check_confirm(&st, &su, &f.reference, &f.stamp).await?;
        let draft = f.draft()?;
        prescriptions::change_regime(&st, &user.caller, &id, &draft).await
    };
    match run.await {
        Ok(_) => see_other(&format!("/console/people/{}#calendar", su.id)),
        Err(e) => regime_errors(&st, &user, &su.id, f, e).await,
    }
}

/// The days a regime change keeps as supplied and the days it changes, before and after, so
/// the clinician sees exactly what the pharmacy will hand over differently.
fn changed_days_table(effect: &RegimeChangeEffect) -> String {
    let how = |d: &DoseDay| {
        let way = if d.pharmacy_closed {
            "cannot be supplied (pharmacy closed)".to_string()
        } else if d.supervised {
            "supervised".to_string()
        } else if d.collect_on == d.date {
            "take-home".to_string()
        } else {
            format!("take-home, collected {}", d.collect_on.format("%a %-d %b"))
        };
        format!("{} mg, {way}", d.dose_mg.as_mg())
    };
    let mut rows = String::new();
    for date in &effect.kept_as_supplied {
        rows.push_str(&format!(
            "<tr data-kept=\"{date}\"><th scope=\"row\">{shown}</th><td colspan=\"2\">already \
             supplied: stays as handed over</td></tr>",
            shown = date.format("%a %-d %b"),
        ));
    }
    for c in &effect.changed_days {
        rows.push_str(&format!(
            "<tr data-changed=\"{date}\"><th scope=\"row\">{shown}</th><td>{before}</td><td>{after}</td></tr>",
            date = c.date,
            shown = c.date.format("%a %-d %b"),
            before = esc(&how(&c.before)),
            after = esc(&how(&c.after)),
        ));
    }
    if rows.is_empty() {
        return String::new();
    }
    scroll(
        "Days this change affects",
        &format!(
            "<table data-changes><caption>Days this change affects</caption><thead><tr>\
             <th scope=\"col\">Day</th><th scope=\"col\">Now</th><th scope=\"col\">After the change</th>\
             </tr></thead><tbody>{rows}</tbody></table>"
        ),
    )
}

/// "The pharmacy will see code X — meaning": the preview's promise, in one wording everywhere.
fn will_see(code: sotto_domain::StatusCode) -> String {
    format!(
        "<p class=\"notice\" data-preview>The pharmacy will see code <span class=\"code\" \
         data-code>{code}</span> — {meaning}.</p>",
        code = code.letter(),
        meaning = esc(code.meaning()),
    )
}

/// The end of every confirm form: the person and state it was previewed for (checked by
/// `check_confirm`), the button naming the person, and a way back.
fn confirm_tail(su: &ServiceUser, stamp: &str, action: &str) -> String {
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
