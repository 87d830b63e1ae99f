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

#[cfg(test)]
mod tests {
    //! The container count (clause 5) against a brute-force model: every dose handed over on
    //! the day gets exactly one measure or container, whatever the instalment pattern, the
    //! closures, the earlier supplies and clause 2 — never one container for several days, and
    //! never a dose without one.

    use super::*;
    use crate::counter::RecordedSupply;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use sotto_domain::{Directions, DoseDay, DoseMg, SupplyRecord};
    use sotto_protocol::PrescriptionState;

    /// One generated day: starts an instalment, its anchor supervised, the pharmacy closed,
    /// and (for an anchor) whether that instalment was supplied.
    type GenDay = (bool, bool, bool, bool);

    fn start() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 9).unwrap()
    }

    fn layout(days: &[GenDay]) -> Vec<DoseDay> {
        let mut anchor = start();
        days.iter()
            .enumerate()
            .map(|(i, &(collects, supervised, closed, _))| {
                let date = start() + Days::new(i as u64);
                if collects || i == 0 {
                    anchor = date;
                }
                DoseDay {
                    date,
                    dose_mg: DoseMg::from_micrograms(60_000).unwrap(),
                    supervised: date == anchor && supervised && !closed,
                    collect_on: anchor,
                    nominal_collect_on: anchor,
                    pharmacy_closed: closed,
                }
            })
            .collect()
    }

    /// The instalments anchored before `date` and marked supplied, handed over whole.
    fn supplies(days: &[GenDay], doses: &[DoseDay], date: NaiveDate) -> Vec<RecordedSupply> {
        doses
            .iter()
            .zip(days)
            .filter(|(d, g)| d.date == d.collect_on && d.date < date && g.3)
            .map(|(anchor, _)| {
                let instalment = doses
                    .iter()
                    .filter(|d| d.collect_on == anchor.date && !d.pharmacy_closed);
                RecordedSupply {
                    record: SupplyRecord {
                        collect_on: anchor.date,
                        supervised_taken: anchor.supervised,
                        take_home_dates: instalment
                            .filter(|d| !d.supervised)
                            .map(|d| d.date)
                            .collect(),
                        withheld: false,
                    },
                    at: Utc.from_utc_datetime(&anchor.date.and_hms_opt(10, 0, 0).unwrap()),
                }
            })
            .collect()
    }

    /// Brute force: for each day of the prescription, is its dose handed over on `date`, and
    /// taken here? (Measured here, take-home containers.)
    fn model(
        doses: &[DoseDay],
        supplied: &[RecordedSupply],
        clause_2: bool,
        date: NaiveDate,
    ) -> (usize, usize) {
        let in_hand = |d: NaiveDate| {
            supplied.iter().any(|s| {
                (s.record.supervised_taken && s.record.collect_on == d)
                    || s.record.take_home_dates.contains(&d)
            })
        };
        let (mut here, mut home) = (0, 0);
        for d in doses {
            let instalment: Vec<&DoseDay> = doses
                .iter()
                .filter(|x| x.collect_on == d.collect_on)
                .collect();
            if d.pharmacy_closed || instalment.iter().any(|x| in_hand(x.date)) {
                continue;
            }
            let taken_here = if d.collect_on == date {
                d.supervised
            } else if d.collect_on < date && clause_2 && d.date >= date {
                d.date == date && instalment[0].supervised
            } else {
                continue;
            };
            if taken_here {
                here += 1;
            } else {
                home += 1;
            }
        }
        (here, home)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn every_dose_handed_over_gets_one_container(
            days in prop::collection::vec(
                (any::<bool>(), any::<bool>(), prop::bool::weighted(0.15), any::<bool>()),
                1..=14,
            ),
            offset in 0usize..14,
            clause_2 in any::<bool>(),
        ) {
            let offset = offset % days.len();
            let date = start() + Days::new(offset as u64);
            let doses = layout(&days);
            let supplied = supplies(&days, &doses, date);
            let person = PersonState {
                service_user_id: "u".into(),
                reference: "SU-1".into(),
                given_name: "A".into(),
                family_name: "B".into(),
                date_of_birth: start(),
                holds: vec![],
                prescriptions: vec![PrescriptionState {
                    id: "rx".into(),
                    start_date: start(),
                    end_date: doses.last().unwrap().date,
                    directions: Directions {
                        supply_remaining_if_missed: clause_2,
                        ..Directions::default()
                    },
                    days: doses.clone(),
                    medicine: None,
                    prescriber: None,
                }],
                last_review_on: None,
                stay: None,
            };
            // Records from `date`: no earlier day counts towards clause 3 (no E to hide rows).
            let local = LocalRecords {
                supplies: supplied.clone(),
                enrolled_on: Some(date),
                ..LocalRecords::default()
            };
            let (here, home) = model(&doses, &supplied, clause_2, date);
            match row(&person, date, date, &local) {
                None => prop_assert_eq!(here + home, 0, "a dose to hand over, but not listed"),
                Some(r) => {
                    let c = r.containers().expect("a due row has containers");
                    prop_assert_eq!((c.measured_here, c.take_home), (here, home));
                    prop_assert!(c.measured_here <= 1);
                    // The button records exactly what was prepared: one dose per container.
                    let due = r.due().expect("due under A");
                    let recorded = usize::from(due.supervised_dose_mg.is_some())
                        + due.take_home().count();
                    prop_assert_eq!(c.total(), recorded);
                }
            }
        }
    }
}
