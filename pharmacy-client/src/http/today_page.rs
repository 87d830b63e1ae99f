//! Today's list on the counter's home page (`GET /`, and `GET /today?date=&sort=` for
//! tomorrow's and other orders), its print view (`GET /today/print`: the preparation sheet),
//! and the list as the JSON API reads it (`GET /api/today`, in `api`). Each due row records
//! the supply in one step: the same form, token and handler as the person's page.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate};
use sotto_protocol::PersonState;

use super::html::{esc, page};
use super::page::{PageQuery, capitalise, encode_component, supplied_form, unreadable};
use super::{AppState, View};
use crate::counter::{self, LocalRecords};
use crate::error::Error;
use crate::today::{self, Row, SortBy};

/// The list for one day, in one order, with what the page must say about it.
pub(crate) struct DayList {
    pub date: NaiveDate,
    pub sort: SortBy,
    pub rows: Vec<Row>,
    /// A later day whose list is what is prescribed for it: a day before it is not closed yet,
    /// so someone not collecting today may have more due then.
    pub provisional: bool,
    /// The pharmacy opens that day.
    pub open: bool,
}

/// Builds the list of `people` for `date` in `view` (the people and the view read together).
pub(crate) async fn day_list(
    state: &AppState,
    view: &View,
    people: &[PersonState],
    date: NaiveDate,
    sort: SortBy,
) -> Result<DayList, Error> {
    let ids: Vec<&str> = people.iter().map(|p| p.service_user_id.as_str()).collect();
    let local: HashMap<String, LocalRecords> = state.store.local_records(&ids, date).await?;
    let none = LocalRecords::default();
    let mut rows: Vec<Row> = people
        .iter()
        .filter_map(|p| {
            let records = local.get(&p.service_user_id).unwrap_or(&none);
            today::row(p, date, view.today, records)
        })
        .collect();
    today::sort(&mut rows, sort);
    // The same for everyone: the last day this counter closed.
    let last_closed = local.values().find_map(|l| l.last_closed);
    let calendar = view.calendar();
    Ok(DayList {
        date,
        sort,
        rows,
        provisional: counter::assessed_as_of(date, view.today, last_closed) < date,
        open: calendar.is_open(date),
    })
}

/// The page's list for the `date` and `sort` asked for; a value it cannot read is named in a
/// notice above today's list in its usual order.
pub(super) async fn section(
    state: &AppState,
    view: &View,
    people: &[PersonState],
    query: &PageQuery,
) -> Result<String, Error> {
    let ((date, sort), problem) = asked(view, query);
    let list = day_list(state, view, people, date, sort).await?;
    Ok(format!(
        "<section class=\"today\" aria-labelledby=\"list-title\">\
         <h2 id=\"list-title\">{title}</h2>{tabs}{problem}{notes}{sorts}{table}</section>",
        title = esc(&title(view, date)),
        tabs = tabs(view, &list),
        notes = notes(view, &list),
        sorts = sort_links(&list),
        table = table(view, &list),
    ))
}

/// "Due today · Mon 23 Nov", "Due tomorrow · Tue 24 Nov", "Due on Thu 26 Nov".
fn title(view: &View, date: NaiveDate) -> String {
    let day = date.format("%a %-d %b");
    if date == view.today {
        format!("Due today · {day}")
    } else if Some(date) == view.today.succ_opt() {
        format!("Due tomorrow · {day}")
    } else {
        format!("Due on {day}")
    }
}

/// The day and order a page asked for, or today's in the usual order with a notice naming
/// what could not be read.
fn asked(view: &View, query: &PageQuery) -> ((NaiveDate, SortBy), String) {
    match today::parse_query(query.date.as_deref(), query.sort.as_deref(), view.today) {
        Ok(asked) => (asked, String::new()),
        Err(errors) => {
            let what: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let notice = format!("Showing today's list instead: {}.", what.join("; "));
            (
                (view.today, SortBy::default()),
                format!("<p class=\"notice\">{}</p>", esc(&notice)),
            )
        }
    }
}

/// The list's address for `date` in `sort`'s order (today's in the usual order is `/`).
fn list_href(view: &View, date: NaiveDate, sort: SortBy, print: bool) -> String {
    let path = if print { "/today/print" } else { "/today" };
    if !print && date == view.today && sort == SortBy::default() {
        return "/".into();
    }
    format!("{path}?date={date}&sort={}", sort.as_str())
}

/// Today, tomorrow (and the next open day when tomorrow is closed), and the print view.
fn tabs(view: &View, list: &DayList) -> String {
    let calendar = view.calendar();
    let tomorrow = view.today + Days::new(1);
    let mut days = vec![
        (view.today, "Today".to_string()),
        (tomorrow, "Tomorrow".into()),
    ];
    if !calendar.is_open(tomorrow)
        && let (_, Some(next)) = calendar.nearest_open_days(tomorrow)
        && next <= view.today + Days::new(today::DAYS_AHEAD)
    {
        days.push((next, format!("Next open day, {}", next.format("%a %-d %b"))));
    }
    let links: String = days
        .iter()
        .map(|(date, label)| {
            let current = if *date == list.date {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!(
                "<a href=\"{}\"{current}>{}</a>",
                esc(&list_href(view, *date, list.sort, false)),
                esc(label)
            )
        })
        .collect();
    format!(
        "<nav class=\"tabs\" aria-label=\"Which day\">{links}\
         <a href=\"{}\">Print the preparation sheet</a><a href=\"/records\">Supply log</a></nav>",
        esc(&list_href(view, list.date, list.sort, true)),
    )
}

/// What the page must say about the data: not confirmed, closed that day, not final yet.
fn notes(view: &View, list: &DayList) -> String {
    let mut out = String::new();
    if view.freshness.stale {
        let marker = view.freshness.marker(view.zone, view.today);
        out += &format!(
            "<p class=\"stale\">{}: this list may be out of date.</p>",
            esc(&capitalise(&marker))
        );
    }
    if !list.open {
        out += &format!(
            "<p class=\"notice\">The pharmacy is closed on {}.</p>",
            list.date.format("%a %-d %b")
        );
    }
    if list.provisional {
        out += "<p class=\"notice\">Today is not closed yet, so this list shows what is \
                prescribed for that day: anyone who does not collect today may have more \
                due then.</p>";
    }
    out
}

fn sort_links(list: &DayList) -> String {
    let links: Vec<String> = SortBy::ALL
        .iter()
        .map(|&sort| {
            let href = format!("/today?date={}&sort={}", list.date, sort.as_str());
            let current = if sort == list.sort {
                " aria-current=\"true\""
            } else {
                ""
            };
            format!(
                "<a href=\"{}\"{current}>{}</a>",
                esc(&href),
                esc(sort.label())
            )
        })
        .collect();
    format!("<p class=\"sort\">Sort by: {}</p>", links.join(" · "))
}

/// The rows, or a plain sentence when no one is due.
fn table(view: &View, list: &DayList) -> String {
    if list.rows.is_empty() {
        return format!(
            "<p class=\"notice\">No one has a dose to collect here on {}.</p>",
            list.date.format("%a %-d %b")
        );
    }
    let rows: String = list.rows.iter().map(|r| row(view, list, r)).collect();
    let count = match list.rows.len() {
        1 => "1 person".to_string(),
        n => format!("{n} people"),
    };
    format!(
        "<div class=\"scroll\" role=\"region\" aria-label=\"The list\" tabindex=\"0\">\
         <table class=\"list\"><caption>{count}</caption><thead><tr>\
         <th scope=\"col\">Person</th><th scope=\"col\">Code</th><th scope=\"col\">Doses</th>\
         <th scope=\"col\">Supervised / take-home</th><th scope=\"col\">Containers</th>\
         <th scope=\"col\">Now</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
}

/// The row's anchor, so the page comes back to it after a supply.
pub(super) fn row_id(reference: &str) -> String {
    let safe: String = reference
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("p-{safe}")
}

fn row(view: &View, list: &DayList, r: &Row) -> String {
    let code = r.code.letter();
    format!(
        "<tr id=\"{id}\" data-reference=\"{reference}\"><th scope=\"row\">{given} {family}\
         <br><span class=\"small\">{reference}</span></th>\
         <td class=\"list-code\"><span data-code=\"{code}\">{code}</span></td>\
         <td>{doses}</td><td>{kind}</td><td>{containers}</td><td>{now}</td></tr>",
        id = esc(&row_id(&r.reference)),
        reference = esc(&r.reference),
        given = esc(&r.given_name),
        family = esc(&r.family_name),
        doses = doses(r),
        kind = r.kind().map_or("—", |k| k.label()),
        containers = containers(r),
        now = now(view, list, r),
    )
}

/// Each dose by its day: each goes in its own measure or container, labelled with its day.
fn doses(r: &Row) -> String {
    let Some(hand_over) = &r.hand_over else {
        return "—".into();
    };
    let items: String = hand_over
        .doses
        .iter()
        .filter(|d| !d.pharmacy_closed)
        .map(|d| {
            format!(
                "<li>{}: {} mg{}</li>",
                d.date.format("%a %-d %b"),
                d.dose_mg.as_mg(),
                if d.supervised { ", taken here" } else { "" }
            )
        })
        .collect();
    format!("<ul class=\"doses\">{items}</ul>")
}

fn containers(r: &Row) -> String {
    let Some(c) = r.containers() else {
        return "—".into();
    };
    let mut parts = Vec::new();
    if c.measured_here > 0 {
        parts.push("1 measured here".to_string());
    }
    match c.take_home {
        0 => {}
        1 => parts.push("1 to take home".into()),
        n => parts.push(format!("{n} to take home, one per day")),
    }
    format!(
        "<strong data-containers=\"{total}\">{total}</strong><br>\
         <span class=\"small\">{}</span>",
        parts.join(", "),
        total = c.total(),
    )
}

/// What can be done now: record the supply (today, under A), or what the row's state is.
fn now(view: &View, list: &DayList, r: &Row) -> String {
    if r.supplied() {
        return match r.supplied_at {
            Some(at) => format!("<p data-supplied>Supplied at {}.</p>", view.hh_mm(at)),
            None => "<p data-supplied>Supplied.</p>".into(),
        };
    }
    let Some(due) = r.due() else {
        return format!("<p>{}.</p>", esc(&capitalise(r.code.meaning())));
    };
    let earlier = r.withheld_at.map_or_else(String::new, |at| {
        format!("<p>Not supplied earlier today ({}).</p>", view.hh_mm(at))
    });
    let action = if list.date != view.today {
        "<p>To prepare.</p>".to_string()
    } else if view.clock.is_some() {
        "<p>Correct this PC's clock before supplying.</p>".to_string()
    } else {
        let back = format!(
            "<input type=\"hidden\" name=\"back\" value=\"today\">\
             <input type=\"hidden\" name=\"sort\" value=\"{}\">",
            list.sort.as_str()
        );
        supplied_form(view, &r.reference, due, &back)
    };
    earlier + &action
}

/// Where the list sends the browser after recording a supply from it.
pub(super) fn after_supply(reference: &str, sort: Option<&str>, done: &str) -> String {
    let sort = sort.and_then(SortBy::parse).unwrap_or_default();
    format!(
        "/today?sort={}&done={done}#{}",
        sort.as_str(),
        encode_component(&row_id(reference))
    )
}

/// `GET /today/print?date=&sort=`: the preparation sheet — black on white, no buttons, one
/// row per person with a box to tick, the day and the pharmacy at the top, and a line for who
/// prepared it.
#[tracing::instrument(skip_all)]
pub(crate) async fn print(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Response {
    match sheet(&state, &query).await {
        Ok(html) => (StatusCode::OK, html).into_response(),
        Err(error) => unreadable("Preparation sheet · Sotto counter", &error),
    }
}

async fn sheet(state: &AppState, query: &PageQuery) -> Result<Response, Error> {
    let (meta, people) = state.store.everyone().await?;
    let view = state.view(meta, state.clock.now());
    let ((date, sort), problem) = asked(&view, query);
    let list = day_list(state, &view, &people, date, sort).await?;
    let pharmacy = view
        .meta
        .pharmacy
        .as_ref()
        .map_or("Pharmacy", |p| p.name.as_str());
    let rows: String = list
        .rows
        .iter()
        .map(|r| {
            let note = if r.supplied() {
                r.supplied_at.map_or_else(
                    || "supplied".to_string(),
                    |at| format!("supplied at {}", view.hh_mm(at)),
                )
            } else if r.due().is_some() {
                String::new()
            } else {
                r.code.meaning().to_string()
            };
            format!(
                "<tr data-reference=\"{reference}\"><th scope=\"row\">{given} {family}</th>\
                 <td>{reference}</td><td>{code}</td><td>{doses}</td><td>{kind}</td>\
                 <td>{containers}</td><td>{note}</td><td class=\"tick\">{tick}</td></tr>",
                reference = esc(&r.reference),
                given = esc(&r.given_name),
                family = esc(&r.family_name),
                code = r.code.letter(),
                doses = doses(r),
                kind = r.kind().map_or("—", |k| k.label()),
                containers = r
                    .containers()
                    .map_or_else(|| "—".to_string(), |c| c.total().to_string()),
                note = esc(&note),
                tick = if r.hand_over.is_some() && !r.supplied() {
                    "<span class=\"box\"></span>"
                } else {
                    ""
                },
            )
        })
        .collect();
    let table = if list.rows.is_empty() {
        format!(
            "<p>No one has a dose to collect here on {}.</p>",
            date.format("%a %-d %b")
        )
    } else {
        format!(
            "<div class=\"scroll\" role=\"region\" aria-label=\"The sheet\" tabindex=\"0\">\
             <table><caption>Doses to prepare: one measure or container per daily dose\
             </caption><thead><tr><th scope=\"col\">Person</th><th scope=\"col\">Reference</th>\
             <th scope=\"col\">Code</th><th scope=\"col\">Doses</th>\
             <th scope=\"col\">Supervised / take-home</th><th scope=\"col\">Containers</th>\
             <th scope=\"col\">Note</th><th scope=\"col\">Prepared</th></tr></thead>\
             <tbody>{rows}</tbody></table></div>"
        )
    };
    let body = format!(
        "<main class=\"sheet\"><h1>Preparation sheet · {pharmacy}</h1>\
         <p class=\"sheet-date\">{day}</p>{problem}{notes}{table}\
         <p class=\"signature\">Prepared by <span class=\"line\"></span></p>\
         <p class=\"no-print\"><a href=\"{back}\">Back to the list</a></p></main>",
        pharmacy = esc(pharmacy),
        day = date.format("%A %-d %B %Y"),
        notes = notes(&view, &list),
        back = esc(&list_href(&view, date, sort, false)),
    );
    Ok(page("Preparation sheet · Sotto counter", &body).into_response())
}
