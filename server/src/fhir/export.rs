//! `GET /fhir/r4/$export?start=YYYY-MM-DD&end=YYYY-MM-DD`: every resource about the days of a
//! period, for every person the caller may see, as NDJSON (one resource a line: the
//! people first, then prescriptions, dispenses and supervised doses). In the spirit of FHIR
//! Bulk Data's `$export`, but answered at once: a service's fortnight is small. Every
//! reference in the file resolves within it. Unlike single reads (which the JSON API does not
//! audit either), an export discloses a whole service's records, so each one is audited.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use sotto_domain::FieldError;

use super::handlers::{pairs, visible_people};
use super::search::{Entry, Kind};
use super::{FhirCaller, FhirResult, load};
use crate::core::AppState;
use crate::core::db::audit::Actor;
use crate::error::Error;

/// The longest period one export covers.
const MAX_DAYS: i64 = 366;

pub const NDJSON: &str = "application/fhir+ndjson";

/// The period asked for, checked: both ends given, in order, at most [`MAX_DAYS`].
pub fn period(pairs: &[(String, String)]) -> Result<(NaiveDate, NaiveDate), Error> {
    let mut errs = Vec::new();
    let mut get = |name: &str| {
        let v = pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        match v.map(str::parse::<NaiveDate>) {
            Some(Ok(d)) => Some(d),
            _ => {
                errs.push(FieldError::new(
                    name,
                    "is required: a date in the form YYYY-MM-DD",
                ));
                None
            }
        }
    };
    let (start, end) = (get("start"), get("end"));
    for (k, _) in pairs {
        if !["start", "end", "_outputFormat"].contains(&k.as_str()) {
            errs.push(FieldError::new(
                k.as_str(),
                "$export takes start and end only",
            ));
        }
    }
    if let (Some(s), Some(e)) = (start, end) {
        if e < s {
            errs.push(FieldError::new("end", "must be on or after start"));
        } else if (e - s).num_days() + 1 > MAX_DAYS {
            errs.push(FieldError::new(
                "end",
                format!("an export covers at most {MAX_DAYS} days"),
            ));
        }
    }
    match (start, end) {
        (Some(s), Some(e)) if errs.is_empty() => Ok((s, e)),
        _ => Err(Error::Validation(errs)),
    }
}

/// The lines of the export from each person's entries, by kind: a person is included when
/// anything of theirs is about a day of the period.
pub fn lines(people: Vec<Vec<Entry>>, (start, end): (NaiveDate, NaiveDate)) -> Vec<String> {
    let mut by_kind: Vec<Vec<String>> = vec![Vec::new(); Kind::ALL.len()];
    for entries in people {
        let within: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.span.is_some_and(|(from, to)| from <= end && start <= to))
            .collect();
        if within.is_empty() {
            continue;
        }
        for e in entries
            .iter()
            .filter(|e| e.kind == Kind::Patient)
            .chain(within)
        {
            let at = Kind::ALL.iter().position(|k| *k == e.kind).unwrap_or(0);
            by_kind[at].push(e.resource.to_string());
        }
    }
    by_kind.concat()
}

pub async fn export(
    State(st): State<AppState>,
    FhirCaller(caller): FhirCaller,
    RawQuery(q): RawQuery,
) -> FhirResult<Response> {
    let span = period(&pairs(q))?;
    let mut conn = st.store.pool().acquire().await.map_err(Error::from)?;
    let mut people = Vec::new();
    for su in visible_people(&st, &caller).await? {
        let data = load::person(&mut conn, su).await?;
        people.push(Kind::ALL.iter().flat_map(|k| data.entries(*k)).collect());
    }
    drop(conn);
    let count = people.len();
    let lines = lines(people, span);
    let mut w = st.store.write().await?;
    w.audit(
        &Actor(caller.id.clone()),
        "fhir.export",
        "fhir:$export",
        serde_json::json!({"start": span.0.to_string(), "end": span.1.to_string(),
                           "people_looked_at": count, "resources": lines.len()}),
    )
    .await?;
    w.commit().await?;
    let mut body = lines.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    let mut res = (StatusCode::OK, body).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(s.as_bytes()).into_owned().collect()
    }

    #[test]
    fn a_period_needs_both_ends_in_order_and_not_too_long() {
        assert!(period(&q("start=2026-11-01&end=2026-11-30")).is_ok());
        for (query, field) in [
            ("end=2026-11-30", "start"),
            ("start=2026-11-30&end=2026-11-01", "end"),
            ("start=2024-01-01&end=2026-11-01", "end"),
            ("start=2026-11-01&end=2026-11-30&patient=x", "patient"),
        ] {
            match period(&q(query)) {
                Err(Error::Validation(e)) => assert_eq!(e[0].field, field, "{query}"),
                other => panic!("{query}: {other:?}"),
            }
        }
    }
}
