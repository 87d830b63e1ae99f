//! The person page itself: who they are (prominently), today's code, the last days, the
//! instalment calendar, holds, regime changes and dispenses, and the actions the viewer may take.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use sotto_domain::{FieldError, HoldKind};

use super::common::{current, identity, pattern_text, stale_warning, visible, words_date};
use super::forms::{HoldForm, RegimeForm, hold_form, regime_form};
use crate::console::calendar::calendar;
use crate::console::caseload::short_time;
use crate::console::html::{self, csrf_field, esc, scroll};
use crate::console::session::ConsoleUser;
use crate::core::AppState;
use crate::core::access::Role;
use crate::core::db::{self};
use crate::core::{queries, status};
use crate::error::{Error, Result};

pub async fn page(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    match build(&st, &user, &id, &PersonForms::default()).await {
        Ok((title, body)) => html::page(StatusCode::OK, &title, Some(&user.viewer()), &body),
        Err(e @ Error::Forbidden(_)) => super::break_glass::refused(&st, &user, &id, e).await,
        Err(e) => user.error(e),
    }
}

/// Forms on the person page as the user left them, with any errors.
#[derive(Default)]
pub(super) struct PersonForms {
    pub(super) hold: HoldForm,
    pub(super) hold_errors: Vec<FieldError>,
    pub(super) regime: RegimeForm,
    pub(super) regime_errors: Vec<FieldError>,
}

/// The page's title (the person's reference, so the browser tab names them too) and body.
pub(super) async fn build(
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
    let closed_days = queries::closed_days(st.store.pool(), &su.pharmacy_id).await?;
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

    out.push_str(&crate::console::ledger_view::last_days(&s));

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
    let regimes = queries::regime_changes(st.store.pool(), &su.id).await?;
    if regimes.is_empty() {
        out.push_str("<p>No regime changes.</p>");
    } else {
        let mut rows = String::new();
        for r in &regimes {
            rows.push_str(&format!(
                "<tr><td>{from}</td><td class=\"num\">{dose} mg</td><td>{pattern}</td><td>{reason}</td><td>{at}</td></tr>",
                from = words_date(&r.effective_from),
                dose = r.daily_dose_mg,
                pattern = esc(&pattern_text(&r.collections)),
                reason = esc(r.reason.as_deref().unwrap_or_default()),
                at = short_time(&r.created_at),
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

/// Re-shows the person page with a form's errors and the user's input (422 etc.).
pub(super) async fn with_errors(
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
