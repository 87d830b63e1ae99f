//! `GET /`: the counter page. Plain server-rendered HTML that works without JavaScript:
//! two GET forms (reference; family name + date of birth) and the results below them, or,
//! without a search, today's list (`today_page`; `GET /today?date=&sort=` for another day or
//! order); under code A, a POST form to record the supply (or that nothing was supplied),
//! which redirects back to the person — or to the list it was posted from — (303) or shows
//! the page again with what to put right.
//!
//! Discretion is the point: one neutral letter, neutral words, never why supply is paused.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use sotto_protocol::{PersonState, WithheldReason};

use super::error::ApiError;
use super::html::{esc, page};
use super::supply::{self, SupplyRequest};
use super::{AppState, View};
use crate::counter::{LocalRecords, PersonStatus};
use crate::error::Error;
use crate::store::{Meta, Search};

#[derive(Debug, Default, Deserialize)]
pub(super) struct PageQuery {
    reference: Option<String>,
    family_name: Option<String>,
    date_of_birth: Option<String>,
    /// Set by the redirect after a supply form: `supplied` or `not_supplied`.
    done: Option<String>,
    /// The list's day (`YYYY-MM-DD`; today when absent) and order (`today::SortBy`).
    pub(super) date: Option<String>,
    pub(super) sort: Option<String>,
}

/// The supply form, as posted.
#[derive(Debug, Deserialize)]
pub struct SupplyForm {
    reference: String,
    date: String,
    supervised_taken: Option<String>,
    take_home_doses: Option<String>,
    /// Why nothing was supplied (a [`WithheldReason`] code); named plainly so the page's
    /// source carries no loaded word either.
    why: Option<String>,
    /// The page's form token: a form from anywhere else does not have it.
    csrf: Option<String>,
    /// `today` when posted from today's list: the answer goes back to the list (in `sort`'s
    /// order), not to the person.
    back: Option<String>,
    sort: Option<String>,
}

/// The reasons offered when nothing is supplied, with their labels.
const REASONS: [(WithheldReason, &str, &str); 4] = [
    (
        WithheldReason::Intoxicated,
        "intoxicated",
        "Appears intoxicated",
    ),
    (WithheldReason::Unwell, "unwell", "Appears unwell"),
    (
        WithheldReason::IdentityNotConfirmed,
        "identity_not_confirmed",
        "Identity not confirmed",
    ),
    (WithheldReason::Other, "other", "Other"),
];

/// What the pharmacist asked for.
enum Request {
    /// Just the page.
    Nothing,
    Find(Search),
    /// Something to put right, in words for the pharmacist.
    Unclear(&'static str),
}

impl PageQuery {
    fn request(&self) -> Request {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        match (
            given(&self.reference),
            given(&self.family_name),
            given(&self.date_of_birth),
        ) {
            (Some(reference), _, _) => Request::Find(Search::Reference(reference.to_string())),
            (None, Some(name), Some(dob)) => match parse_date(dob) {
                Some(dob) => Request::Find(Search::Name(name.to_string(), dob)),
                None => Request::Unclear("Enter the date of birth as 1985-04-12 or 12/04/1985."),
            },
            (None, Some(_), None) | (None, None, Some(_)) => {
                Request::Unclear("Enter both the family name and the date of birth.")
            }
            (None, None, None) => Request::Nothing,
        }
    }
}

/// The date input sends ISO dates; a browser without it lets people type the UK way.
fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d/%m/%Y"))
        .ok()
}

#[tracing::instrument(skip_all)]
pub(crate) async fn counter(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Response {
    let done = match query.done.as_deref() {
        Some("supplied") => Some("Recorded: supplied."),
        Some("not_supplied") => Some("Recorded: not supplied today."),
        Some("closed") => Some("Today is closed: its missed doses are reported to the service."),
        _ => None,
    };
    respond(&state, &query, done.map(str::to_string), StatusCode::OK).await
}

/// `POST /supply`: the counter page's supply form. Success redirects back to the person (303,
/// so a reload doesn't post again); a refusal shows the page again with what to do.
#[tracing::instrument(skip_all)]
pub(crate) async fn supply(
    State(state): State<AppState>,
    Form(form): Form<SupplyForm>,
) -> Response {
    let from_list = form.back.as_deref() == Some("today");
    let query = if from_list {
        PageQuery {
            sort: form.sort.clone(),
            ..PageQuery::default()
        }
    } else {
        PageQuery {
            reference: Some(form.reference.clone()),
            ..PageQuery::default()
        }
    };
    if !state.guard.form_token_ok(form.csrf.as_deref()) {
        tracing::warn!("refused a supply form without the page's token");
        let message = format!("Not recorded: {}.", ApiError::StalePage);
        return respond(&state, &query, Some(message), StatusCode::FORBIDDEN).await;
    }
    let request = match form.request() {
        Ok(request) => request,
        Err(message) => {
            return respond(
                &state,
                &query,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match supply::record(&state, request).await {
        Ok(recorded) => {
            let done = if recorded.supplied {
                "supplied"
            } else {
                "not_supplied"
            };
            let location = if from_list {
                super::today_page::after_supply(&recorded.reference, form.sort.as_deref(), done)
            } else {
                format!(
                    "/?reference={}&done={done}",
                    encode_component(&recorded.reference)
                )
            };
            (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
        }
        Err(ApiError::Internal(error)) => {
            tracing::error!(%error, "recording a supply failed");
            respond(
                &state,
                &query,
                Some("This computer could not save that. Try again.".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
            )
            .await
        }
        Err(refused) => {
            let status = match refused {
                ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                ApiError::NotFound => StatusCode::NOT_FOUND,
                _ => StatusCode::CONFLICT,
            };
            let message = format!("Not recorded: {refused}.");
            respond(&state, &query, Some(message), status).await
        }
    }
}

impl SupplyForm {
    pub fn request(&self) -> Result<SupplyRequest, String> {
        let date = NaiveDate::parse_from_str(&self.date, "%Y-%m-%d")
            .map_err(|_| "Not recorded: the page was out of date. Find the person again.")?;
        let withheld_reason = match self.why.as_deref() {
            None => None,
            Some(code) => Some(
                REASONS
                    .iter()
                    .find(|(_, value, _)| *value == code)
                    .map(|(reason, ..)| *reason)
                    .ok_or("Not recorded: choose why nothing was supplied.")?,
            ),
        };
        Ok(SupplyRequest {
            reference: self.reference.clone(),
            date,
            supervised_taken: self.supervised_taken.as_deref().map(|v| v == "true"),
            take_home_doses: self
                .take_home_doses
                .as_deref()
                .and_then(|n| n.trim().parse().ok()),
            withheld_reason,
        })
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
pub(super) fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) async fn respond(
    state: &AppState,
    query: &PageQuery,
    message: Option<String>,
    status: StatusCode,
) -> Response {
    match render(state, query, message.as_deref()).await {
        Ok(html) => (status, html).into_response(),
        Err(error) => unreadable("Sotto counter", &error),
    }
}

/// The plain page shown when the local store cannot be read (the cause is logged).
pub(super) fn unreadable(title: &str, error: &Error) -> Response {
    tracing::error!(%error, "counter page failed");
    let body = "<main><p class=\"notice\">This computer could not read its saved data. \
                Try again; if it keeps happening, phone the service.</p></main>";
    (StatusCode::INTERNAL_SERVER_ERROR, page(title, body)).into_response()
}

async fn render(
    state: &AppState,
    query: &PageQuery,
    message: Option<&str>,
) -> Result<Response, Error> {
    let now = state.clock.now();
    let (view, results) = match query.request() {
        Request::Find(search) => {
            let (meta, people) = state.store.find(&search).await?;
            let view = state.view(meta, now);
            let ids: Vec<&str> = people.iter().map(|p| p.service_user_id.as_str()).collect();
            let local = state.store.local_records(&ids, view.today).await?;
            let none_found = match search {
                Search::Reference(_) => "No one found with that reference.",
                Search::Name(..) => "No one found with that name and date of birth.",
            };
            let html = results(&view, &people, &local, none_found)
                + "<p class=\"back\"><a href=\"/\">Back to today's list</a></p>";
            (view, html)
        }
        Request::Nothing => {
            let (meta, people) = state.store.everyone().await?;
            let view = state.view(meta, now);
            let list = super::today_page::section(state, &view, &people, query).await?;
            (view, list)
        }
        Request::Unclear(hint) => (state.view(state.store.meta().await?, now), notice(hint)),
    };
    let results = match message {
        Some(message) => notice(message) + &results,
        None => results,
    };
    let body = format!(
        "{header}<main>{forms}<section class=\"results\" aria-live=\"polite\">{results}</section>\
         {end_of_day}{card}</main>",
        header = header(&view, state.link.connected()),
        forms = forms(query),
        end_of_day = super::close_page::section(&view),
        card = reference_card(),
    );
    Ok(page("Sotto counter", &body).into_response())
}

fn header(view: &View, connected: bool) -> String {
    let Meta { pharmacy, .. } = &view.meta;
    let name = pharmacy.as_ref().map_or("Pharmacy", |p| p.name.as_str());
    let link = if connected {
        "Connected to the service"
    } else {
        "Not connected: showing saved information"
    };
    // A PC clock far from the service's puts the counter on the wrong day: one plain state,
    // above everything else, until it is put right.
    let clock = view.clock.map_or_else(String::new, |problem| {
        format!(
            "<p class=\"notice clock\" role=\"alert\" data-clock-wrong>{}.</p>",
            esc(&problem.message(view.zone))
        )
    });
    format!(
        "<header><h1>Sotto counter · {}</h1><p>{link}</p>{clock}</header>",
        esc(name)
    )
}

fn forms(query: &PageQuery) -> String {
    let value = |v: &Option<String>| esc(v.as_deref().unwrap_or_default());
    format!(
        "<div class=\"forms\">\
         <form method=\"get\" action=\"/\"><h2>Find by reference</h2>\
         <label for=\"reference\">Reference</label>\
         <input id=\"reference\" name=\"reference\" value=\"{reference}\" autocomplete=\"off\" \
         spellcheck=\"false\" autofocus><br><button type=\"submit\">Find</button></form>\
         <form method=\"get\" action=\"/\"><h2>Or by name and date of birth</h2>\
         <label for=\"family_name\">Family name</label>\
         <input id=\"family_name\" name=\"family_name\" value=\"{family}\" autocomplete=\"off\">\
         <label for=\"date_of_birth\">Date of birth</label>\
         <input id=\"date_of_birth\" name=\"date_of_birth\" type=\"date\" value=\"{dob}\">\
         <br><button type=\"submit\">Find</button></form></div>",
        reference = value(&query.reference),
        family = value(&query.family_name),
        dob = value(&query.date_of_birth),
    )
}

fn notice(text: &str) -> String {
    format!("<p class=\"notice\">{}</p>", esc(text))
}

fn results(
    view: &View,
    people: &[PersonState],
    local: &HashMap<String, LocalRecords>,
    none_found: &str,
) -> String {
    if people.is_empty() {
        return notice(none_found);
    }
    let none = LocalRecords::default();
    people
        .iter()
        .map(|p| person(view, p, local.get(&p.service_user_id).unwrap_or(&none)))
        .collect()
}

fn person(view: &View, person: &PersonState, local: &LocalRecords) -> String {
    let status = view.status_of(person, local);
    let code = status.code.letter();
    let stale = if view.freshness.stale {
        let marker = view.freshness.marker(view.zone, view.today);
        format!("<p class=\"stale\">{}</p>", esc(&marker))
    } else {
        String::new()
    };
    format!(
        "<article class=\"person\"><h3>{given} {family}</h3>\
         <p class=\"who\">Born {dob} · Reference {reference}</p>\
         <div class=\"status\"><p class=\"code\"><span class=\"visually-hidden\">Code </span>\
         <span data-code=\"{code}\">{code}</span></p><div><p class=\"meaning\">{meaning}</p>\
         {stale}{since}{details}</div></div>{week}</article>",
        given = esc(&person.given_name),
        family = esc(&person.family_name),
        dob = person.date_of_birth.format("%-d %b %Y"),
        reference = esc(&person.reference),
        meaning = esc(status.code.meaning()),
        details = details(view, person, &status),
        since = status
            .no_dose_since
            .as_deref()
            .map_or_else(String::new, |s| format!(
                "<p class=\"since\">{}.</p>",
                esc(s)
            )),
        week = week(&status),
    )
}

/// The dose ledger's last seven days for the person, newest first: what the pharmacy's own
/// records say about each day (the server keeps the same account).
fn week(status: &PersonStatus) -> String {
    let rows: String = status
        .ledger
        .iter()
        .rev()
        .map(|d| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                d.date.format("%a %-d %b"),
                esc(&d.describe())
            )
        })
        .collect();
    format!(
        "<details class=\"week\"><summary>The last seven days</summary><table>\
         <caption>Was a dose in hand each day</caption><tbody>{rows}</tbody></table></details>"
    )
}

/// What the code lets the page add: the hand-over for A, the next date for C, the service's
/// phone for D and E. Never why.
fn details(view: &View, person: &PersonState, status: &PersonStatus) -> String {
    use sotto_domain::StatusCode::*;
    let day = |d: NaiveDate| d.format("%a %-d %b").to_string();
    match status.code {
        A => {
            let Some(due) = &status.due else {
                return String::new();
            };
            let supervised = due.supervised_dose_mg.map_or_else(
                || "No dose to take here today".to_string(),
                |mg| format!("Supervised dose today: {mg} mg"),
            );
            let days: Vec<String> = due
                .take_home()
                .map(|d| format!("{} ({} mg)", day(d.date), d.dose_mg.as_mg()))
                .collect();
            let take_home = if days.is_empty() {
                "Take-home doses: none".to_string()
            } else {
                format!("Take-home doses: {} — {}", days.len(), days.join(", "))
            };
            // A closure moved a later day's dose onto today: say so plainly, and that it is
            // extra when something was already handed over today.
            let moved: String = due
                .take_home()
                .filter(|d| d.nominal_collect_on > d.collect_on)
                .map(|d| {
                    format!(
                        "<p class=\"moved\">{extra}{day}: the pharmacy is closed that day, so \
                         its dose is handed over today.</p>",
                        extra = if status.supplied_at.is_some() {
                            "Extra take-home dose for "
                        } else {
                            "Take-home dose for "
                        },
                        day = day(d.date),
                    )
                })
                .collect();
            let earlier = status.withheld_at.map_or_else(String::new, |at| {
                format!("<p>Not supplied earlier today ({}).</p>", view.hh_mm(at))
            });
            let forms = match view.clock {
                // Withholding is still allowed through the API; the page offers nothing.
                Some(_) => "<p>Correct this PC's clock before supplying.</p>".to_string(),
                None => supply_forms(view, person, due),
            };
            format!(
                "<ul><li>{supervised}</li><li>{}</li></ul>{moved}{earlier}{forms}",
                esc(&take_home),
            )
        }
        B => match status.supplied_at {
            Some(at) => format!("<p>Supplied at {}.</p>", view.hh_mm(at)),
            None => String::new(),
        },
        C => match status.next_collection {
            Some(next) => format!("<p>Next collection: {}</p>", day(next)),
            None => "<p>No further collection on record.</p>".to_string(),
        },
        D | E => match view
            .meta
            .pharmacy
            .as_ref()
            .and_then(|p| p.service_phone.as_ref())
        {
            Some(phone) => format!("<p>Service phone: {}</p>", esc(phone)),
            None => String::new(),
        },
        F => String::new(),
    }
}

/// Under code A: one button for "handed over exactly what is due", and one to record that
/// nothing was supplied, with a reason. Plain POST forms; the hidden fields say what the page
/// showed, so a page left open while things changed is refused rather than misrecorded.
fn supply_forms(view: &View, person: &PersonState, due: &crate::counter::DueView) -> String {
    let options: String = REASONS
        .iter()
        .map(|(_, value, text)| format!("<option value=\"{value}\">{text}</option>"))
        .collect();
    let id = esc(&person.service_user_id);
    format!(
        "<div class=\"forms\">{supplied}\
         <form method=\"post\" action=\"/supply\">{hidden}\
         <label for=\"why-{id}\">Not supplying today: why?</label>\
         <select id=\"why-{id}\" name=\"why\" required>\
         <option value=\"\">Choose…</option>{options}</select><br>\
         <button type=\"submit\">Record: not supplied</button></form></div>",
        supplied = supplied_form(view, &person.reference, due, ""),
        hidden = supply_fields(view, &person.reference),
    )
}

/// The one-step "supplied: exactly what is due" form, on the person's page and on each due row
/// of today's list (`extra`: hidden fields saying where to go back to).
pub(super) fn supplied_form(
    view: &View,
    reference: &str,
    due: &crate::counter::DueView,
    extra: &str,
) -> String {
    let take_home = due.take_home().count();
    let supervised = due.supervised_dose_mg.is_some();
    let label = match (supervised, take_home) {
        (true, 0) => "Supplied: supervised dose taken".to_string(),
        (true, n) => format!("Supplied: supervised dose taken + {n} take-home"),
        (false, n) => format!("Supplied: {n} take-home"),
    };
    format!(
        "<form method=\"post\" action=\"/supply\">{hidden}{extra}\
         <input type=\"hidden\" name=\"supervised_taken\" value=\"{supervised}\">\
         <input type=\"hidden\" name=\"take_home_doses\" value=\"{take_home}\">\
         <button type=\"submit\">{label}</button></form>",
        hidden = supply_fields(view, reference),
    )
}

/// The token, the person and the day, as every supply form carries them.
fn supply_fields(view: &View, reference: &str) -> String {
    format!(
        "{token}<input type=\"hidden\" name=\"reference\" value=\"{reference}\">\
         <input type=\"hidden\" name=\"date\" value=\"{today}\">",
        token = view.form_token_field(),
        reference = esc(reference),
        today = view.today,
    )
}

fn reference_card() -> String {
    use sotto_domain::StatusCode::*;
    let what_to_show = [
        (
            A,
            "The page lists the dose taken here today and any take-home doses.",
        ),
        (B, "Nothing more is due today."),
        (C, "The page shows the next collection date."),
        (
            D,
            "The page shows the service's phone number. Please keep it discreet.",
        ),
        (
            E,
            "The page shows the service's phone number. Please keep it discreet.",
        ),
        (F, "Nothing is to be supplied here today."),
    ];
    let rows: String = what_to_show
        .iter()
        .map(|(code, note)| {
            format!(
                "<dt>{}</dt><dd>{}. {note}</dd>",
                code.letter(),
                esc(&capitalise(code.meaning()))
            )
        })
        .collect();
    format!(
        "<details><summary>Reference card: what the codes mean</summary><dl>{rows}</dl>\
         <p>“Not confirmed since …” means this computer has not heard from the service since \
         then, so a code may be out of date. If in doubt, phone the service.</p></details>"
    )
}

pub(super) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
