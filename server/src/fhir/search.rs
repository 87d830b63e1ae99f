//! Search parameters (`patient`, `_lastUpdated`, one date parameter per resource type, paging)
//! and the searchset `Bundle`. Pure: entries in, bundle out.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use sotto_domain::FieldError;

use crate::error::Error;

/// The resource types the API serves from records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Patient,
    MedicationRequest,
    MedicationDispense,
    MedicationAdministration,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Patient,
        Kind::MedicationRequest,
        Kind::MedicationDispense,
        Kind::MedicationAdministration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Patient => "Patient",
            Kind::MedicationRequest => "MedicationRequest",
            Kind::MedicationDispense => "MedicationDispense",
            Kind::MedicationAdministration => "MedicationAdministration",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The standard date search parameter of the type, and the element it searches.
    pub fn date_param(self) -> Option<(&'static str, &'static str)> {
        match self {
            Kind::Patient => None,
            Kind::MedicationRequest => Some(("authoredon", "authoredOn")),
            Kind::MedicationDispense => Some(("whenhandedover", "whenHandedOver")),
            Kind::MedicationAdministration => Some(("effective-time", "effectiveDateTime")),
        }
    }
}

/// One resource found, with what search filters and sorts on.
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: Kind,
    pub id: String,
    /// The person it is about (a Patient's own id).
    pub patient: String,
    pub last_updated: DateTime<Utc>,
    /// The value of the type's date parameter, if the resource has one.
    pub date: Option<DateTime<Utc>>,
    /// The days it is about (a step's days, the days a dispense was for), for the export.
    pub span: Option<(NaiveDate, NaiveDate)>,
    pub resource: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Eq,
    Gt,
    Lt,
    Ge,
    Le,
}

/// `ge2026-11-01`: a prefix and the interval `[lo, hi)` its value stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateFilter {
    prefix: Prefix,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
}

impl DateFilter {
    /// A date (`YYYY-MM-DD`, a UTC day) or an instant with its offset, after an optional prefix.
    pub fn parse(param: &str, raw: &str) -> Result<DateFilter, FieldError> {
        let (prefix, value) = match raw.get(..2) {
            Some("eq") => (Prefix::Eq, &raw[2..]),
            Some("gt") => (Prefix::Gt, &raw[2..]),
            Some("lt") => (Prefix::Lt, &raw[2..]),
            Some("ge") => (Prefix::Ge, &raw[2..]),
            Some("le") => (Prefix::Le, &raw[2..]),
            _ => (Prefix::Eq, raw),
        };
        let bad = || {
            FieldError::new(
                param,
                format!(
                    "{raw:?} is not a date search value: use YYYY-MM-DD or an instant with its \
                     offset, after an optional prefix eq, gt, lt, ge or le"
                ),
            )
        };
        let (lo, hi) = if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            let lo = Utc.from_utc_datetime(&day.and_time(chrono::NaiveTime::MIN));
            let next = day.checked_add_days(Days::new(1)).ok_or_else(bad)?;
            (
                lo,
                Utc.from_utc_datetime(&next.and_time(chrono::NaiveTime::MIN)),
            )
        } else {
            let t = DateTime::parse_from_rfc3339(value).map_err(|_| bad())?;
            let t = t.with_timezone(&Utc);
            (t, t + chrono::Duration::milliseconds(1))
        };
        Ok(DateFilter { prefix, lo, hi })
    }

    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        match self.prefix {
            Prefix::Eq => self.lo <= t && t < self.hi,
            Prefix::Gt => t >= self.hi,
            Prefix::Lt => t < self.lo,
            Prefix::Ge => t >= self.lo,
            Prefix::Le => t < self.hi,
        }
    }
}

/// The largest page a client may ask for, and the page given when it does not say.
pub const MAX_COUNT: usize = 200;
pub const DEFAULT_COUNT: usize = 50;

/// A parsed search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// A person's id (from `patient=Patient/{id}` or `patient={id}`, or `_id` on Patient).
    pub patient: Option<String>,
    /// `identifier=system|value` on Patient: the service reference.
    pub reference: Option<String>,
    pub last_updated: Vec<DateFilter>,
    pub date: Vec<DateFilter>,
    pub count: usize,
    pub offset: usize,
    /// The parameters as given, minus paging, for the bundle's links.
    pub echo: Vec<(String, String)>,
}

impl Search {
    /// Parses a query string for `kind`; an unknown parameter is refused (never silently
    /// ignored: a misspelt `patient` would return everyone).
    pub fn parse(kind: Kind, pairs: Vec<(String, String)>) -> Result<Search, Error> {
        let mut s = Search {
            count: DEFAULT_COUNT,
            ..Search::default()
        };
        let mut errors = Vec::new();
        let date_param = kind.date_param().map(|(p, _)| p);
        for (name, value) in pairs {
            match name.as_str() {
                "_count" => match value.parse::<usize>() {
                    Ok(n) if (1..=MAX_COUNT).contains(&n) => s.count = n,
                    _ => errors.push(FieldError::new(
                        "_count",
                        format!("must be a whole number from 1 to {MAX_COUNT}"),
                    )),
                },
                "_offset" => match value.parse::<usize>() {
                    Ok(n) => s.offset = n,
                    Err(_) => errors.push(FieldError::new("_offset", "must be a whole number")),
                },
                "_format" if super::accepts_format(&value) => {}
                "_format" => errors.push(FieldError::new(
                    "_format",
                    "only JSON is served (application/fhir+json)",
                )),
                "_lastUpdated" => match DateFilter::parse("_lastUpdated", &value) {
                    Ok(f) => s.last_updated.push(f),
                    Err(e) => errors.push(e),
                },
                "patient" | "subject" if kind != Kind::Patient => {
                    s.patient = Some(value.trim_start_matches("Patient/").to_string());
                }
                "_id" if kind == Kind::Patient => s.patient = Some(value.clone()),
                "identifier" if kind == Kind::Patient => match value.split_once('|') {
                    Some((sys, v)) if sys.is_empty() || sys == super::codes::SERVICE_REFERENCE => {
                        s.reference = Some(v.to_string())
                    }
                    Some(_) => errors.push(FieldError::new(
                        "identifier",
                        format!(
                            "the only identifier system is {}",
                            super::codes::SERVICE_REFERENCE
                        ),
                    )),
                    None => s.reference = Some(value.clone()),
                },
                n if Some(n) == date_param => match DateFilter::parse(n, &value) {
                    Ok(f) => s.date.push(f),
                    Err(e) => errors.push(e),
                },
                other => errors.push(FieldError::new(
                    other,
                    format!("{} does not support this search parameter", kind.as_str()),
                )),
            }
            if name != "_count" && name != "_offset" {
                s.echo.push((name, value));
            }
        }
        if errors.is_empty() {
            Ok(s)
        } else {
            Err(Error::Validation(errors))
        }
    }

    pub fn matches(&self, e: &Entry) -> bool {
        self.last_updated.iter().all(|f| f.matches(e.last_updated))
            && self
                .date
                .iter()
                .all(|f| e.date.is_some_and(|d| f.matches(d)))
    }
}

/// The searchset: `entries` filtered, sorted oldest change first (then by id), one page.
pub fn bundle(base: &str, kind: Kind, search: &Search, mut entries: Vec<Entry>) -> Value {
    entries.retain(|e| search.matches(e));
    entries.sort_by(|a, b| (a.last_updated, &a.id).cmp(&(b.last_updated, &b.id)));
    let total = entries.len();
    let link = |offset: usize| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &search.echo {
            q.append_pair(k, v);
        }
        q.append_pair("_count", &search.count.to_string());
        q.append_pair("_offset", &offset.to_string());
        format!("{base}/{}?{}", kind.as_str(), q.finish())
    };
    let mut links = vec![json!({"relation": "self", "url": link(search.offset)})];
    if search.offset + search.count < total {
        links.push(json!({"relation": "next", "url": link(search.offset + search.count)}));
    }
    if search.offset > 0 {
        let prev = search.offset.saturating_sub(search.count);
        links.push(json!({"relation": "previous", "url": link(prev)}));
    }
    let page: Vec<Value> = entries
        .into_iter()
        .skip(search.offset)
        .take(search.count)
        .map(|e| {
            json!({"fullUrl": format!("{base}/{}/{}", e.kind.as_str(), e.id),
                   "resource": e.resource, "search": {"mode": "match"}})
        })
        .collect();
    json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"lastUpdated": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)},
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": page,
    })
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
