//! Whose risk: the missed-dose rate in the weeks before and after each regime change and each
//! hold, for a person and for the service, so a service can see when tightening supervision
//! pushed missed doses up (DOMAIN.md). The computation is a pure function ([`rates`]); the page
//! draws it as a server-side SVG with the exact numbers beside it.

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use super::html::{self, counted, esc, scroll};
use super::session::ConsoleUser;
use crate::core::AppState;
use crate::core::access::{self, PersonOp, ServiceOp, Via};
use crate::core::db::{self, service_users::ServiceUser};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    RegimeChange,
    Hold,
}

impl EventKind {
    /// The event counted: "1 hold placed", "2 holds placed".
    fn words(self) -> (&'static str, &'static str) {
        match self {
            EventKind::RegimeChange => ("regime change", "regime changes"),
            EventKind::Hold => ("hold placed", "holds placed"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            EventKind::RegimeChange => "regime change",
            EventKind::Hold => "hold placed",
        }
    }
}

/// A change whose effect on attendance is measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub date: NaiveDate,
    pub kind: EventKind,
    /// Whose event it is (the reference), for the service view.
    pub who: String,
}

/// Doses due and missed in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub missed: u32,
    pub due: u32,
}

impl Window {
    /// The missed-dose rate in percent; `None` when nothing was due.
    pub fn percent(self) -> Option<f64> {
        (self.due > 0).then(|| f64::from(self.missed) * 100.0 / f64::from(self.due))
    }

    /// "1 missed of 24 due (4.2%)".
    pub fn describe(self) -> String {
        let pct = self
            .percent()
            .map(|p| format!("{p:.1}%"))
            .unwrap_or_else(|| "no doses due".into());
        format!("{} missed of {} due ({pct})", self.missed, self.due)
    }

    fn add(self, o: Window) -> Window {
        Window {
            missed: self.missed + o.missed,
            due: self.due + o.due,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRate {
    pub event: Event,
    pub before: Window,
    pub after: Window,
}

/// For each event on date D: doses due and missed in the `weeks` weeks before D (D excluded)
/// and the `weeks` weeks from D on. Only days up to `up_to` count: later days have not happened.
pub fn rates(
    events: &[Event],
    due: &BTreeSet<NaiveDate>,
    missed: &BTreeSet<NaiveDate>,
    weeks: u32,
    up_to: NaiveDate,
) -> Vec<EventRate> {
    let span = Duration::weeks(i64::from(weeks));
    let count = |set: &BTreeSet<NaiveDate>, from: NaiveDate, to_excl: NaiveDate| {
        let to_excl = to_excl.min(up_to + Duration::days(1));
        if from >= to_excl {
            return 0;
        }
        set.range(from..to_excl).count() as u32
    };
    events
        .iter()
        .map(|e| {
            let window = |from, to| Window {
                missed: count(missed, from, to),
                due: count(due, from, to),
            };
            EventRate {
                event: e.clone(),
                before: window(e.date - span, e.date),
                after: window(e.date, e.date + span),
            }
        })
        .collect()
}

/// Sums of the before and after windows of every event of one kind.
pub fn aggregate(rates: &[EventRate], kind: EventKind) -> (usize, Window, Window) {
    rates
        .iter()
        .filter(|r| r.event.kind == kind)
        .fold((0, Window::default(), Window::default()), |(n, b, a), r| {
            (n + 1, b.add(r.before), a.add(r.after))
        })
}

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

/// A person's events, due days and missed days.
async fn person_data(
    st: &AppState,
    su: &ServiceUser,
) -> Result<(Vec<Event>, BTreeSet<NaiveDate>, BTreeSet<NaiveDate>)> {
    let mut conn = st.store.pool().acquire().await?;
    let prescriptions = db::prescriptions::for_service_user(&mut conn, &su.id).await?;
    let calendar = db::pharmacies::calendar_of(&mut conn, &su.pharmacy_id).await?;
    drop(conn);
    let mut due = BTreeSet::new();
    let mut events = Vec::new();
    for p in &prescriptions {
        for d in p.prescription.schedule(&calendar).days() {
            if !d.pharmacy_closed {
                due.insert(d.date);
            }
        }
        // Regime 0 is the prescription's own pattern, not a change.
        for r in p.prescription.regimes().iter().skip(1) {
            events.push(Event {
                date: r.effective_from,
                kind: EventKind::RegimeChange,
                who: su.reference.clone(),
            });
        }
    }
    for h in db::holds::history(st.store.pool(), &su.id).await? {
        if let Some(date) = h
            .placed_at
            .get(..10)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        {
            events.push(Event {
                date,
                kind: EventKind::Hold,
                who: su.reference.clone(),
            });
        }
    }
    events.sort_by_key(|e| (e.date, e.kind));
    let missed = db::service_users::missed_doses(st.store.pool(), &su.id)
        .await?
        .into_iter()
        .map(|m| m.date)
        .collect();
    Ok((events, due, missed))
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
        let up_to = chrono::Utc::now().date_naive() - Duration::days(1);
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
        let up_to = chrono::Utc::now().date_naive() - Duration::days(1);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn days(from: &str, n: i64) -> BTreeSet<NaiveDate> {
        (0..n).map(|i| d(from) + Duration::days(i)).collect()
    }

    fn event(date: &str, kind: EventKind) -> Event {
        Event {
            date: d(date),
            kind,
            who: "SU-1".into(),
        }
    }

    #[test]
    fn counts_due_and_missed_doses_either_side_of_a_change() {
        // Daily doses 1 Jan..=28 Feb 2026; change on 29 Jan; 2 weeks either side.
        let due = days("2026-01-01", 59);
        // Before (15..=28 Jan): 1 missed. After (29 Jan..=11 Feb): 4 missed. Outside: ignored.
        let missed: BTreeSet<_> = [
            "2026-01-02",
            "2026-01-20",
            "2026-01-29",
            "2026-02-01",
            "2026-02-05",
            "2026-02-11",
            "2026-02-12",
        ]
        .iter()
        .map(|s| d(s))
        .collect();
        let r = rates(
            &[event("2026-01-29", EventKind::RegimeChange)],
            &due,
            &missed,
            2,
            d("2026-02-28"),
        );
        assert_eq!(r[0].before, Window { missed: 1, due: 14 });
        assert_eq!(r[0].after, Window { missed: 4, due: 14 });
        assert_eq!(r[0].before.describe(), "1 missed of 14 due (7.1%)");
        assert_eq!(r[0].after.describe(), "4 missed of 14 due (28.6%)");
    }

    #[test]
    fn days_not_yet_lived_and_days_without_doses_do_not_count() {
        // Doses only on weekdays of one week, then the prescription ends.
        let due = days("2026-03-02", 5);
        let missed: BTreeSet<_> = [d("2026-03-04")].into();
        // Up to 4 March: only 2..=4 March have happened.
        let r = rates(
            &[event("2026-03-02", EventKind::Hold)],
            &due,
            &missed,
            4,
            d("2026-03-04"),
        );
        assert_eq!(r[0].before, Window { missed: 0, due: 0 });
        assert_eq!(r[0].after, Window { missed: 1, due: 3 });
        assert_eq!(r[0].before.describe(), "0 missed of 0 due (no doses due)");
    }

    #[test]
    fn the_service_view_sums_windows_per_kind() {
        let due = days("2026-01-01", 90);
        let missed: BTreeSet<_> = [d("2026-01-10"), d("2026-02-10")].into();
        let r = rates(
            &[
                event("2026-01-15", EventKind::RegimeChange),
                event("2026-02-05", EventKind::RegimeChange),
                event("2026-02-05", EventKind::Hold),
            ],
            &due,
            &missed,
            1,
            d("2026-03-31"),
        );
        let (n, before, after) = aggregate(&r, EventKind::RegimeChange);
        assert_eq!(n, 2);
        // 15 Jan: before 8..=14 Jan has the 10th; after none. 5 Feb: before none; after has the 10th.
        assert_eq!(before, Window { missed: 1, due: 14 });
        assert_eq!(after, Window { missed: 1, due: 14 });
        assert_eq!(aggregate(&r, EventKind::Hold).0, 1);
    }
}
