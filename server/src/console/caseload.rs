//! The caseload: one row per person the viewer is responsible for (keyworker: their people;
//! clinician: the people they prescribe for), sortable and filterable on the server.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Duration;
use serde::Deserialize;
use sotto_domain::HoldKind;
use sqlx::AnyPool;

use super::html::{self, esc};
use super::session::ConsoleUser;
use crate::core::AppState;
use crate::core::access::{self, Relation, ServiceOp, Via};
use crate::core::db::{self, service_users::ServiceUser};
use crate::core::{queries, status};
use crate::error::Result;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CaseloadQuery {
    pub sort: String,
    pub dir: String,
    pub q: String,
    pub hold: String,
    pub missed: String,
}

/// One caseload row.
pub struct Row_ {
    pub su: ServiceUser,
    pub code: char,
    pub hold: Option<HoldKind>,
    pub missed_14: i64,
    pub last_synced: Option<String>,
    /// Why they are listed: keyworker or prescriber of record, team, or a broken glass.
    pub relation: Relation,
}

/// When the pharmacy's client last sent anything (RFC 3339), if ever.
pub async fn last_contact(pool: &AnyPool, pharmacy_id: &str) -> Result<Option<String>> {
    Ok(queries::contact(pool, pharmacy_id).await?.last_message_at)
}

/// "14:05" today, otherwise "2 Mar 14:05" (UTC), for "last heard" columns.
pub fn short_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => {
            let t = t.with_timezone(&chrono::Utc);
            if t.date_naive() == chrono::Utc::now().date_naive() {
                t.format("%H:%M").to_string()
            } else {
                t.format("%-d %b %H:%M").to_string()
            }
        }
        Err(_) => rfc3339.to_string(),
    }
}

pub async fn load_row(st: &AppState, su: ServiceUser, relation: Relation) -> Result<Row_> {
    let s = status::for_service_user(&st.store, &su, None, true).await?;
    let hold = if s.holds.iter().any(|h| h.kind == HoldKind::Safety) {
        Some(HoldKind::Safety)
    } else {
        s.holds.first().map(|h| h.kind)
    };
    let today = s.date;
    let missed_14 =
        queries::missed_since(st.store.pool(), &su.id, today - Duration::days(14)).await?;
    let last_synced = last_contact(st.store.pool(), &su.pharmacy_id).await?;
    Ok(Row_ {
        code: s.code.letter(),
        hold,
        missed_14,
        last_synced,
        su,
        relation,
    })
}

pub fn hold_label(h: Option<HoldKind>) -> &'static str {
    match h {
        None => "none",
        Some(HoldKind::Attend) => "attend",
        Some(HoldKind::Safety) => "safety",
    }
}

const COLUMNS: [(&str, &str); 6] = [
    ("reference", "Reference"),
    ("name", "Name"),
    ("code", "Today's code"),
    ("hold", "Hold"),
    ("missed", "Missed (14 days)"),
    ("synced", "Pharmacy last synced"),
];

pub async fn page(
    State(st): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<CaseloadQuery>,
) -> Response {
    match build(&st, &user, &q).await {
        Ok(body) => html::page(StatusCode::OK, "Caseload", Some(&user.viewer()), &body),
        Err(e) => user.error(e),
    }
}

async fn build(st: &AppState, user: &ConsoleUser, q: &CaseloadQuery) -> Result<String> {
    user.caller.may(ServiceOp::WorkWithPeople)?;
    let mut rows = Vec::new();
    // Everyone the viewer acts for: their own, their team's, and any record they broke glass for.
    let ids = access::visible_ids(&st.store, &user.caller).await?;
    for (id, relation) in &ids {
        let Some(su) = db::service_users::get(st.store.pool(), id).await? else {
            continue;
        };
        rows.push(load_row(st, su, *relation).await?);
    }
    access::log_reads(&st.store, &user.caller, &ids, Via::Console).await?;
    let needle = q.q.trim().to_lowercase();
    rows.retain(|r| {
        (needle.is_empty()
            || r.su.reference.to_lowercase().contains(&needle)
            || format!("{} {}", r.su.given_name, r.su.family_name)
                .to_lowercase()
                .contains(&needle))
            && (q.hold != "1" || r.hold.is_some())
            && (q.missed != "1" || r.missed_14 > 0)
    });
    let sort = if COLUMNS.iter().any(|(k, _)| *k == q.sort) {
        q.sort.as_str()
    } else {
        "reference"
    };
    let desc = q.dir == "desc";
    rows.sort_by(|a, b| {
        let o = match sort {
            "name" => {
                (&a.su.family_name, &a.su.given_name).cmp(&(&b.su.family_name, &b.su.given_name))
            }
            "code" => a.code.cmp(&b.code),
            "hold" => hold_label(a.hold).cmp(hold_label(b.hold)),
            "missed" => a.missed_14.cmp(&b.missed_14),
            "synced" => a.last_synced.cmp(&b.last_synced),
            _ => std::cmp::Ordering::Equal,
        };
        let o = o.then_with(|| a.su.reference.cmp(&b.su.reference));
        if desc { o.reverse() } else { o }
    });

    // Header links keep the filters and flip the direction of the current sort column.
    let keep = format!(
        "&q={}{}{}",
        urlencode(&q.q),
        if q.hold == "1" { "&hold=1" } else { "" },
        if q.missed == "1" { "&missed=1" } else { "" }
    );
    let headers: String = COLUMNS
        .iter()
        .map(|(key, label)| {
            let current = *key == sort;
            let next_dir = if current && !desc { "desc" } else { "asc" };
            let aria = match (current, desc) {
                (true, false) => " aria-sort=\"ascending\"",
                (true, true) => " aria-sort=\"descending\"",
                _ => "",
            };
            let arrow = match (current, desc) {
                (true, false) => " ▲",
                (true, true) => " ▼",
                _ => "",
            };
            let class = if *key == "missed" { " class=\"num\"" } else { "" };
            format!(
                "<th scope=\"col\"{aria}{class}><a href=\"/console/caseload?sort={key}&dir={next_dir}{keep}\">{label}{arrow}</a></th>"
            )
        })
        .collect();
    let body_rows: String = rows
        .iter()
        .map(|r| {
            format!(
                "<tr data-reference=\"{reference}\"><td><a href=\"/console/people/{id}\">{reference}</a>{why}</td>\
                 <td>{name}</td><td><strong>{code}</strong></td><td>{hold}</td>\
                 <td class=\"num\">{missed}</td><td>{synced}</td></tr>",
                id = esc(&r.su.id),
                reference = esc(&r.su.reference),
                why = match r.relation {
                    Relation::Team => " · team",
                    Relation::BrokenGlass => " · opened (break glass)",
                    _ => "",
                },
                name = esc(&format!("{}, {}", r.su.family_name, r.su.given_name)),
                code = r.code,
                hold = hold_label(r.hold),
                missed = r.missed_14,
                synced = r
                    .last_synced
                    .as_deref()
                    .map(short_time)
                    .unwrap_or_else(|| "never".into()),
            )
        })
        .collect();
    let table = if rows.is_empty() {
        "<p class=\"notice\">No one on your caseload matches.</p>".to_string()
    } else {
        html::scroll(
            "People on your caseload",
            &format!(
                "<table><caption class=\"visually-hidden\">People on your caseload</caption>\
                 <thead><tr>{headers}</tr></thead><tbody>{body_rows}</tbody></table>"
            ),
        )
    };
    let checked = |on: bool| if on { " checked" } else { "" };
    Ok(format!(
        "<form method=\"get\" action=\"/console/caseload\" class=\"filters\" role=\"search\">\
         <div><label for=\"q\">Name or reference</label><input id=\"q\" name=\"q\" value=\"{qv}\"></div>\
         <div><label><input type=\"checkbox\" name=\"hold\" value=\"1\"{h}> On hold only</label></div>\
         <div><label><input type=\"checkbox\" name=\"missed\" value=\"1\"{m}> Missed doses only</label></div>\
         <input type=\"hidden\" name=\"sort\" value=\"{sort}\"><input type=\"hidden\" name=\"dir\" value=\"{dir}\">\
         <button type=\"submit\">Filter</button></form>\
         <p>{people}. Codes are what the pharmacy sees today.</p>{table}\
         <p><a href=\"/console/people/new\">Add a person</a></p>",
        qv = esc(&q.q),
        h = checked(q.hold == "1"),
        m = checked(q.missed == "1"),
        dir = if desc { "desc" } else { "asc" },
        people = html::counted(rows.len(), "person", "people"),
    ))
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
