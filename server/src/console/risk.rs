//! Whose risk, as pages: for a person and for the viewer's caseload, the rates computed by
//! `core::risk` drawn as a server-side SVG with the exact numbers beside it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Duration;
use serde::Deserialize;

use super::html::{self, counted, esc, scroll};
use super::session::ConsoleUser;
use crate::core::AppState;
use crate::core::access::{self, PersonOp, ServiceOp, Via};
use crate::core::risk::{EventKind, EventRate, Window, aggregate, person_data, rates};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RiskQuery {
    pub weeks: String,
}

fn weeks_of(q: &RiskQuery) -> u32 {
    q.weeks
        .parse::<u32>()
        .ok()
        .filter(|w| (1..=26).contains(w))
        .unwrap_or(4)
}

/// Bars before and after each row, scaled to the largest rate shown; numbers as text too.
fn svg(rows: &[(String, Window, Window)]) -> String {
    let max = rows
        .iter()
        .flat_map(|(_, b, a)| [b.percent(), a.percent()])
        .flatten()
        .fold(10.0_f64, f64::max);
    let (bar_w, gap, plot_h, top) = (56.0, 48.0, 160.0, 24.0);
    let group_w = bar_w * 2.0 + gap;
    let width = 40.0 + group_w * rows.len().max(1) as f64;
    let height = top + plot_h + 56.0;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         role=\"img\" aria-labelledby=\"risk-title\" class=\"risk-chart\" font-family=\"system-ui,Arial,sans-serif\" font-size=\"12\">\
         <title id=\"risk-title\">Missed-dose rate before (hatched) and after (solid) each change</title>\
         <defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
         <rect width=\"6\" height=\"6\" fill=\"#fff\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#1d3557\" stroke-width=\"3\"/></pattern></defs>\
         <line x1=\"30\" y1=\"{base}\" x2=\"{width}\" y2=\"{base}\" stroke=\"#1a1a1a\"/>",
        base = top + plot_h,
    );
    for (i, (label, before, after)) in rows.iter().enumerate() {
        let x0 = 40.0 + group_w * i as f64;
        for (j, (w, fill, word)) in [
            (before, "url(#hatch)", "before"),
            (after, "#1d3557", "after"),
        ]
        .into_iter()
        .enumerate()
        {
            let pct = w.percent().unwrap_or(0.0);
            let h = pct / max * plot_h;
            let x = x0 + j as f64 * bar_w;
            let y = top + plot_h - h;
            let text = w
                .percent()
                .map(|p| format!("{p:.1}%"))
                .unwrap_or_else(|| "–".into());
            out.push_str(&format!(
                "<rect x=\"{x}\" y=\"{y:.1}\" width=\"{bw}\" height=\"{h:.1}\" fill=\"{fill}\" stroke=\"#1d3557\">\
                 <title>{word}: {desc}</title></rect>\
                 <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"middle\" fill=\"#1a1a1a\">{text}</text>\
                 <text x=\"{tx}\" y=\"{wy}\" text-anchor=\"middle\" fill=\"#1a1a1a\">{word}</text>",
                bw = bar_w - 4.0,
                desc = esc(&w.describe()),
                tx = x + (bar_w - 4.0) / 2.0,
                ty = y - 4.0,
                wy = top + plot_h + 14.0,
            ));
        }
        out.push_str(&format!(
            "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" fill=\"#1a1a1a\" font-weight=\"600\">{label}</text>",
            x = x0 + bar_w - 2.0,
            y = top + plot_h + 32.0,
            label = esc(label),
        ));
    }
    out.push_str("</svg>");
    out
}

fn table(rates: &[EventRate], weeks: u32, show_who: bool) -> String {
    let rows: String = rates
        .iter()
        .map(|r| {
            format!(
                "<tr data-event=\"{date}\">{who}<td>{kind}</td><td>{shown}</td><td data-before>{before}</td><td data-after>{after}</td></tr>",
                who = if show_who { format!("<td>{}</td>", esc(&r.event.who)) } else { String::new() },
                kind = r.event.kind.label(),
                date = r.event.date,
                shown = r.event.date.format("%-d %b %Y"),
                before = r.before.describe(),
                after = r.after.describe(),
            )
        })
        .collect();
    let who = if show_who {
        "<th scope=\"col\">Person</th>"
    } else {
        ""
    };
    scroll(
        "Missed doses before and after each change",
        &format!(
            "<table><thead><tr>{who}<th scope=\"col\">Event</th><th scope=\"col\">Date</th>\
             <th scope=\"col\">{weeks} weeks before</th><th scope=\"col\">{weeks} weeks after</th></tr></thead>\
             <tbody>{rows}</tbody></table>"
        ),
    )
}

fn weeks_form(action: &str, weeks: u32) -> String {
    format!(
        "<form method=\"get\" action=\"{action}\" class=\"filters\"><div><label for=\"weeks\">Weeks either side</label>\
         <input id=\"weeks\" name=\"weeks\" type=\"number\" min=\"1\" max=\"26\" value=\"{weeks}\"></div>\
         <button type=\"submit\">Show</button></form>"
    )
}

fn explain(weeks: u32) -> String {
    format!(
        "<p>Missed doses as a share of doses due, in the {weeks} weeks before and the {weeks} weeks \
         from each change (days up to yesterday). A rise after tighter supervision may mean the \
         change made treatment harder to keep up.</p>"
    )
}

pub async fn person(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(q): Query<RiskQuery>,
) -> Response {
    let weeks = weeks_of(&q);
    let run = async {
        user.caller.may(ServiceOp::WorkWithPeople)?;
        let su = access::person(&st.store, &user.caller, &id, PersonOp::Read, Via::Console).await?;
        let (events, due, missed) = person_data(&st, &su).await?;
        let up_to = st.service_today() - Duration::days(1);
        let r = rates(&events, &due, &missed, weeks, up_to);
        let chart_rows: Vec<_> = r
            .iter()
            .map(|r| {
                (
                    format!("{} {}", r.event.kind.label(), r.event.date.format("%-d %b")),
                    r.before,
                    r.after,
                )
            })
            .collect();
        let body = if r.is_empty() {
            "<p class=\"notice\">No regime changes or holds to compare yet.</p>".to_string()
        } else {
            format!(
                "<div class=\"chart\">{svg}{table}</div>",
                svg = svg(&chart_rows),
                table = table(&r, weeks, false)
            )
        };
        Ok::<_, crate::error::Error>(format!(
            "<p class=\"identity\"><strong>{reference}</strong> · {given} {family}</p>{form}{explain}{body}\
             <p><a href=\"/console/people/{id}\">Back to {reference}</a></p>",
            reference = esc(&su.reference),
            given = esc(&su.given_name),
            family = esc(&su.family_name),
            form = weeks_form(&format!("/console/people/{}/risk", esc(&su.id)), weeks),
            explain = explain(weeks),
            id = esc(&su.id),
        ))
    };
    match run.await {
        Ok(body) => html::page(StatusCode::OK, "Whose risk", Some(&user.viewer()), &body),
        Err(e) => user.error(e),
    }
}

pub async fn service(
    State(st): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<RiskQuery>,
) -> Response {
    let weeks = weeks_of(&q);
    let run = async {
        user.caller.may(ServiceOp::WorkWithPeople)?;
        // Everyone the viewer may see: their caseload (and any record they broke glass for).
        let ids = access::visible_ids(&st.store, &user.caller).await?;
        access::log_reads(&st.store, &user.caller, &ids, Via::Console).await?;
        let up_to = st.service_today() - Duration::days(1);
        let mut all = Vec::new();
        for (id, _) in &ids {
            let su = crate::core::db::service_users::get(st.store.pool(), id)
                .await?
                .ok_or(crate::error::Error::NotFound("service user"))?;
            let (events, due, missed) = person_data(&st, &su).await?;
            all.extend(rates(&events, &due, &missed, weeks, up_to));
        }
        let mut chart_rows = Vec::new();
        let mut summary = String::new();
        for kind in [EventKind::RegimeChange, EventKind::Hold] {
            let (n, before, after) = aggregate(&all, kind);
            if n == 0 {
                continue;
            }
            let (one, many) = kind.words();
            chart_rows.push((counted(n, one, many), before, after));
            summary.push_str(&format!(
                "<tr data-aggregate=\"{k}\"><td>{all}</td><td data-before>{b}</td><td data-after>{a}</td></tr>",
                k = kind.label(),
                all = counted(n, one, many),
                b = before.describe(),
                a = after.describe(),
            ));
        }
        let body = if all.is_empty() {
            "<p class=\"notice\">No regime changes or holds to compare yet.</p>".to_string()
        } else {
            format!(
                "<div class=\"chart\">{svg}{totals}</div><h2>Each change</h2>{each}",
                svg = svg(&chart_rows),
                totals = scroll(
                    "Across the service",
                    &format!(
                        "<table><thead><tr><th scope=\"col\">Across the service</th>\
                         <th scope=\"col\">{weeks} weeks before</th><th scope=\"col\">{weeks} weeks \
                         after</th></tr></thead><tbody>{summary}</tbody></table>"
                    )
                ),
                each = table(&all, weeks, true),
            )
        };
        Ok::<_, crate::error::Error>(format!(
            "{}{}{body}",
            weeks_form("/console/risk", weeks),
            explain(weeks)
        ))
    };
    match run.await {
        Ok(body) => html::page(
            StatusCode::OK,
            "Whose risk: the service",
            Some(&user.viewer()),
            &body,
        ),
        Err(e) => user.error(e),
    }
}
