//! The supply log at the counter: `GET /records?from=&to=` (a printable page, the last week by
//! default), `GET /records.csv?from=&to=` (the same as CSV, for an inspector) and
//! `GET /api/supply-log?from=&to=[&format=csv]` (JSON for other systems; the API token). Read
//! from the local store only: it works offline.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate};
use sotto_domain::{FieldError, format_mg};

use super::AppState;
use super::error::ApiError;
use super::html::{esc, page};
use crate::records::{self, LogLine};

/// The longest log asked for at once (a year).
const MAX_DAYS: u64 = 366;

/// The asked range and format, or every parameter at fault, named.
fn asked(
    params: &[(String, String)],
    today: NaiveDate,
    formats: &[&str],
) -> Result<(NaiveDate, NaiveDate, Option<String>), Vec<FieldError>> {
    let (mut from, mut to, mut format, mut errors) = (None, None, None, Vec::new());
    for (name, value) in params {
        let slot = match name.as_str() {
            "from" => &mut from,
            "to" => &mut to,
            "format" if !formats.is_empty() => &mut format,
            _ => {
                errors.push(FieldError::new(name, "is not a parameter of this request"));
                continue;
            }
        };
        if slot.replace(value.clone()).is_some() {
            errors.push(FieldError::new(name, "is given more than once"));
        }
    }
    let date = |field: &str,
                v: Option<String>,
                default: NaiveDate,
                errors: &mut Vec<FieldError>| match v.as_deref() {
        None | Some("") => default,
        Some(s) => s.parse().unwrap_or_else(|_| {
            errors.push(FieldError::new(
                field,
                format!("{s:?} is not a date (YYYY-MM-DD)"),
            ));
            default
        }),
    };
    let to = date("to", to, today, &mut errors);
    let from = date(
        "from",
        from,
        to.checked_sub_days(Days::new(6)).unwrap_or(to),
        &mut errors,
    );
    if to < from {
        errors.push(FieldError::new("to", "must be on or after from"));
    } else if (to - from).num_days() as u64 >= MAX_DAYS {
        errors.push(FieldError::new(
            "to",
            format!("ask for at most {MAX_DAYS} days at a time"),
        ));
    }
    if let Some(f) = &format
        && !formats.contains(&f.as_str())
    {
        errors.push(FieldError::new(
            "format",
            format!("{f:?}: use {}", formats.join(" or ")),
        ));
    }
    if errors.is_empty() {
        Ok((from, to, format))
    } else {
        Err(errors)
    }
}

async fn log(
    state: &AppState,
    params: &[(String, String)],
    formats: &[&str],
) -> Result<(NaiveDate, NaiveDate, Option<String>, Vec<LogLine>, String), ApiError> {
    let meta = state.store.meta().await?;
    let view = state.view(meta, state.clock.now());
    let (from, to, format) = asked(params, view.today, formats).map_err(ApiError::BadQuery)?;
    let (supplies, people) = state.store.supplies_between(from, to).await?;
    let pharmacy = view.meta.pharmacy.as_ref().map_or_else(
        || "Pharmacy".to_string(),
        |p| format!("{} ({})", p.name, p.ods_code),
    );
    Ok((
        from,
        to,
        format,
        records::lines(&supplies, &people),
        pharmacy,
    ))
}

fn csv_response(lines: &[LogLine], from: NaiveDate, to: NaiveDate) -> Response {
    match records::to_csv(lines) {
        Ok(body) => {
            let mut res = (StatusCode::OK, body).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!(
                "attachment; filename=\"supply-log-{from}-{to}.csv\""
            )) {
                res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "supply log CSV");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the supply log could not be written",
            )
                .into_response()
        }
    }
}

/// `GET /api/supply-log`.
pub(crate) async fn api(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let (from, to, format, lines, _) = log(&state, &params, &["json", "csv"]).await?;
    Ok(match format.as_deref() {
        Some("csv") => csv_response(&lines, from, to),
        _ => Json(lines).into_response(),
    })
}

/// `GET /records.csv`.
pub(crate) async fn csv(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let (from, to, _, lines, _) = log(&state, &params, &[]).await?;
    Ok(csv_response(&lines, from, to))
}

/// `GET /records`: the log as a page, printable.
pub(crate) async fn page_view(
    State(state): State<AppState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let (from, to, lines, pharmacy, problem) = match log(&state, &params, &[]).await {
        Ok((from, to, _, lines, pharmacy)) => (from, to, lines, pharmacy, String::new()),
        Err(ApiError::BadQuery(errors)) => {
            let words: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            let body = format!(
                "<main><h1>Supply log</h1><p class=\"notice\" role=\"alert\">Not shown: {}.</p>\
                 <p><a href=\"/records\">The last week</a></p></main>",
                esc(&words.join("; "))
            );
            return (
                StatusCode::BAD_REQUEST,
                page("Supply log · Sotto counter", &body),
            )
                .into_response();
        }
        Err(e) => return e.into_response(),
    };
    let rows: String = lines
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{date}</td><th scope=\"row\">{name}</th><td>{reference}</td>\
                 <td>{prescriber}</td><td>{medicine}</td><td class=\"num\">{doses}</td>\
                 <td>{mg} mg ({words})</td><td>{supervised}</td><td>{by}</td></tr>",
                date = l.date.format("%a %-d %b %Y"),
                name = esc(&l.name),
                reference = esc(&l.reference),
                prescriber = esc(&l.prescriber),
                medicine = esc(&l.medicine),
                doses = l.dates.len(),
                mg = format_mg(l.quantity_mg),
                words = esc(&l.quantity_words),
                supervised = if l.supervised {
                    "supervised"
                } else {
                    "take-home"
                },
                by = esc(&l.collected_by),
            )
        })
        .collect();
    let (instalments, doses, supervised) = records::totals(&lines);
    let table = if lines.is_empty() {
        "<p>No instalment was handed over here in these days.</p>".to_string()
    } else {
        format!(
            "<div class=\"scroll\" role=\"region\" aria-label=\"The supply log\" tabindex=\"0\">\
             <table><caption>Instalments handed over: {instalments}; doses: {doses}; \
             supervised: {supervised}</caption><thead><tr><th scope=\"col\">Date</th>\
             <th scope=\"col\">Person</th><th scope=\"col\">Reference</th>\
             <th scope=\"col\">Prescriber</th><th scope=\"col\">Medicine</th>\
             <th scope=\"col\">Doses</th><th scope=\"col\">Quantity</th>\
             <th scope=\"col\">Supervised / take-home</th><th scope=\"col\">Collected by</th>\
             </tr></thead><tbody>{rows}</tbody></table></div>"
        )
    };
    let body = format!(
        "<main class=\"sheet\"><h1>Supply log · {pharmacy}</h1>\
         <p class=\"sheet-date\">{from_words} to {to_words}</p>{problem}\
         <form method=\"get\" action=\"/records\" class=\"no-print\"><h2>Days</h2>\
         <label for=\"from\">From</label><input id=\"from\" name=\"from\" type=\"date\" value=\"{from}\">\
         <label for=\"to\">To</label><input id=\"to\" name=\"to\" type=\"date\" value=\"{to}\">\
         <div><button type=\"submit\">Show</button></div></form>{table}\
         <p class=\"no-print\"><a href=\"/records.csv?from={from}&amp;to={to}\">Download as CSV</a> · \
         <a href=\"/\">Back to today's list</a></p></main>",
        pharmacy = esc(&pharmacy),
        from_words = from.format("%-d %B %Y"),
        to_words = to.format("%-d %B %Y"),
    );
    (StatusCode::OK, page("Supply log · Sotto counter", &body)).into_response()
}
