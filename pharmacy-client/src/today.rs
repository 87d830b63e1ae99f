//! Today's list (and tomorrow's): everyone with something handed over at this pharmacy on a
//! day, as the pharmacist prepares doses ahead from it. Pure: each row is the lookup page's
//! own status ([`counter::assess_person`] and [`counter::status_from`], the dose ledger), so
//! the list and the lookup can never show a person differently.
//!
//! Who is listed: everyone whose prescription hands something over that day — still due (A),
//! already supplied here (B), or due but not to be supplied now (D, E: the code only, never
//! why). People with nothing to hand over that day (C: covered by an earlier collection; F: no
//! prescription here) are left out, on purpose: this is a preparation sheet, often printed and
//! left on the dispensary bench, so it carries no name it does not need, and a name on it is
//! a dose to prepare or a person to expect. The lookup page still finds anyone.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;
use sotto_domain::{DayPlan, FieldError, StatusCode};
use sotto_protocol::PersonState;

use crate::counter::{self, Containers, DueView, LocalRecords};

/// How far ahead a list may be asked for: a closed weekend and a bank holiday, and more.
pub const DAYS_AHEAD: u64 = 7;

/// The orders the list can be read in; each ends on the reference, so it is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Family name, given name.
    #[default]
    Name,
    Reference,
    /// The code's letter (A first: those to supply).
    Code,
    /// Supervised only, supervised with take-home, take-home only, then the rest.
    Kind,
}

impl SortBy {
    pub const ALL: [SortBy; 4] = [SortBy::Name, SortBy::Reference, SortBy::Code, SortBy::Kind];

    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::Name => "name",
            SortBy::Reference => "reference",
            SortBy::Code => "code",
            SortBy::Kind => "kind",
        }
    }

    /// The link's words on the page.
    pub fn label(self) -> &'static str {
        match self {
            SortBy::Name => "name",
            SortBy::Reference => "reference",
            SortBy::Code => "code",
            SortBy::Kind => "supervised / take-home",
        }
    }

    pub fn parse(text: &str) -> Option<SortBy> {
        SortBy::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// How a row's doses are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One dose, taken at the counter.
    Supervised,
    /// A dose taken at the counter and doses to take home.
    SupervisedAndTakeHome,
    TakeHome,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Supervised => "supervised",
            Kind::SupervisedAndTakeHome => "supervised + take-home",
            Kind::TakeHome => "take-home",
        }
    }
}

/// One person on the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub service_user_id: String,
    pub reference: String,
    pub given_name: String,
    pub family_name: String,
    /// The lookup page's code for the day.
    pub code: StatusCode,
    /// What is handed over that day: still due (A), or what was due and handed over (B).
    /// `None` under D and E: nothing is to be supplied now, so nothing is shown to prepare.
    pub hand_over: Option<DueView>,
    pub supplied_at: Option<DateTime<Utc>>,
    /// An instalment withheld here that day (the code stays A: the person may come back).
    pub withheld_at: Option<DateTime<Utc>>,
}

impl Row {
    pub fn kind(&self) -> Option<Kind> {
        let c = self.containers()?;
        Some(match (c.measured_here, c.take_home) {
            (0, _) => Kind::TakeHome,
            (_, 0) => Kind::Supervised,
            _ => Kind::SupervisedAndTakeHome,
        })
    }

    pub fn containers(&self) -> Option<Containers> {
        self.hand_over.as_ref().map(DueView::containers)
    }

    /// Handed over here that day, and nothing more due.
    pub fn supplied(&self) -> bool {
        self.supplied_at.is_some() && self.due().is_none()
    }

    /// Still to hand over, and so to be recorded from the list (on its day).
    pub fn due(&self) -> Option<&DueView> {
        self.hand_over
            .as_ref()
            .filter(|_| self.code == StatusCode::A)
    }
}

/// `person`'s row on the list for `date` (`today` is the pharmacy's local date), or `None`
/// when nothing is handed over to them that day.
pub fn row(
    person: &PersonState,
    date: NaiveDate,
    today: NaiveDate,
    local: &LocalRecords,
) -> Option<Row> {
    let assessment = counter::assess_person(person, date, today, local);
    let status = counter::status_from(person, date, &assessment, local);
    if matches!(status.code, StatusCode::C | StatusCode::F) {
        return None;
    }
    // What the day hands over before anything recorded that day (a supply is always exactly
    // what was due): what was prepared, and whether the person is expected at all.
    let handed_over_that_day = local.supplies.iter().any(|s| s.record.collect_on == date);
    let prescribed = if handed_over_that_day {
        let before = LocalRecords {
            supplies: local
                .supplies
                .iter()
                .filter(|s| s.record.collect_on != date)
                .cloned()
                .collect(),
            ..local.clone()
        };
        counter::assess_person(person, date, today, &before).plan
    } else {
        assessment.plan
    };
    let prescribed = match prescribed {
        DayPlan::Collect(due) if due.doses.iter().any(|d| !d.pharmacy_closed) => {
            counter::due_view(&due)
        }
        _ => return None,
    };
    let hand_over = match status.code {
        StatusCode::A => status.due,
        StatusCode::B => Some(prescribed),
        // Nothing is to be supplied now: nothing is shown to prepare (and never why).
        _ => None,
    };
    Some(Row {
        service_user_id: person.service_user_id.clone(),
        reference: person.reference.clone(),
        given_name: person.given_name.clone(),
        family_name: person.family_name.clone(),
        code: status.code,
        hand_over,
        supplied_at: status.supplied_at,
        withheld_at: status.withheld_at,
    })
}

/// Puts `rows` in `by`'s order; ties fall back to the name, then the reference and the id, so
/// the same data always gives the same order.
pub fn sort(rows: &mut [Row], by: SortBy) {
    let name = |r: &Row| {
        (
            r.family_name.to_lowercase(),
            r.given_name.to_lowercase(),
            r.reference.clone(),
            r.service_user_id.clone(),
        )
    };
    match by {
        SortBy::Name => rows.sort_by_cached_key(name),
        SortBy::Reference => {
            rows.sort_by_cached_key(|r| (r.reference.clone(), r.service_user_id.clone()));
        }
        SortBy::Code => rows.sort_by_cached_key(|r| (r.code.letter(), name(r))),
        // `None` (D, E) after every kind.
        SortBy::Kind => rows.sort_by_cached_key(|r| (r.kind().is_none(), r.kind(), name(r))),
    }
}

/// The list's day and order, from a request's `date` and `sort` (both optional).
pub fn parse_query(
    date: Option<&str>,
    sort: Option<&str>,
    today: NaiveDate,
) -> Result<(NaiveDate, SortBy), Vec<FieldError>> {
    let mut errors = Vec::new();
    let date = match date {
        None => Some(today),
        Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Err(_) => {
                errors.push(FieldError::new("date", "must be a date like 2026-11-23"));
                None
            }
            Ok(d) if d < today || d > today + Days::new(DAYS_AHEAD) => {
                errors.push(FieldError::new(
                    "date",
                    format!(
                        "must be today ({today}) or up to {DAYS_AHEAD} days ahead, not {d}: \
                         the list is for preparing doses; a day gone by is in each person's \
                         week view"
                    ),
                ));
                None
            }
            Ok(d) => Some(d),
        },
    };
    let sort = match sort {
        None => Some(SortBy::default()),
        Some(text) => {
            let sort = SortBy::parse(text);
            if sort.is_none() {
                errors.push(FieldError::new(
                    "sort",
                    "must be one of name, reference, code, kind",
                ));
            }
            sort
        }
    };
    match (date, sort) {
        (Some(date), Some(sort)) if errors.is_empty() => Ok((date, sort)),
        _ => Err(errors),
    }
}
