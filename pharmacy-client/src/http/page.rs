//! `GET /`: the counter page. Plain server-rendered HTML that works without JavaScript:
//! two GET forms (reference; family name + date of birth) and the results below them.
//!
//! Discretion is the point: one neutral letter, neutral words, never why supply is paused.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use sotto_protocol::PersonState;

use super::html::{esc, page};
use super::{AppState, View};
use crate::counter::PersonStatus;
use crate::error::Error;
use crate::store::{Meta, Search};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    reference: Option<String>,
    family_name: Option<String>,
    date_of_birth: Option<String>,
}

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
    match render(&state, &query).await {
        Ok(html) => html.into_response(),
        Err(error) => {
            tracing::error!(%error, "counter page failed");
            let body = "<main><p class=\"notice\">This computer could not read its saved data. \
                        Try again; if it keeps happening, phone the service.</p></main>";
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                page("Sotto counter", body),
            )
                .into_response()
        }
    }
}

async fn render(state: &AppState, query: &PageQuery) -> Result<Response, Error> {
    let now = Utc::now();
    let (view, results) = match query.request() {
        Request::Find(search) => {
            let (meta, people) = state.store.find(&search).await?;
            let view = state.view(meta, now);
            let none_found = match search {
                Search::Reference(_) => "No one found with that reference.",
                Search::Name(..) => "No one found with that name and date of birth.",
            };
            let html = results(&view, &people, none_found);
            (view, html)
        }
        Request::Nothing => (state.view(state.store.meta().await?, now), String::new()),
        Request::Unclear(hint) => (state.view(state.store.meta().await?, now), notice(hint)),
    };
    let body = format!(
        "{header}<main>{forms}<section class=\"results\" aria-live=\"polite\">{results}</section>\
         {card}</main>",
        header = header(&view, state.link.connected()),
        forms = forms(query),
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
    format!(
        "<header><h1>Sotto counter · {}</h1><p>{link}</p></header>",
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

fn results(view: &View, people: &[PersonState], none_found: &str) -> String {
    if people.is_empty() {
        return notice(none_found);
    }
    people.iter().map(|p| person(view, p)).collect()
}

fn person(view: &View, person: &PersonState) -> String {
    let status = view.status_of(person);
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
         <div class=\"status\"><div class=\"code\" data-code=\"{code}\" \
         aria-label=\"Code {code}\">{code}</div><div><p class=\"meaning\">{meaning}</p>\
         {stale}{details}</div></div></article>",
        given = esc(&person.given_name),
        family = esc(&person.family_name),
        dob = person.date_of_birth.format("%-d %b %Y"),
        reference = esc(&person.reference),
        meaning = esc(status.code.meaning()),
        details = details(view, &status),
    )
}

/// What the code lets the page add: the hand-over for A, the next date for C, the service's
/// phone for D and E. Never why.
fn details(view: &View, status: &PersonStatus) -> String {
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
            format!("<ul><li>{supervised}</li><li>{}</li></ul>", esc(&take_home))
        }
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
        B | F => String::new(),
    }
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

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
