//! A prescription laid out day by day: each day's dose, when it is handed over, and whether
//! it is taken at the counter. Built by [`crate::Prescription::schedule`].
//!
//! Each day belongs to an instalment that starts on its *anchor* (nominal collection day).
//! Clause 1 then moves instalments whose anchor falls on a closed day to the prior open day.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::PharmacyCalendar;
use crate::medicine::DoseMg;
use crate::prescription::Prescription;
use crate::weekday::Weekday;

/// One day's dose and when and how it is handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoseDay {
    /// The day the dose is for.
    pub date: NaiveDate,
    pub dose_mg: DoseMg,
    /// Taken at the counter on `collect_on`; only ever true when `date == collect_on`.
    pub supervised: bool,
    /// The day it is handed over, after any clause-1 move.
    pub collect_on: NaiveDate,
    /// The collection day by the weekly pattern, before any closure move.
    pub nominal_collect_on: NaiveDate,
    /// `collect_on` is a day the pharmacy is closed (clause 1 off, or no prior open day within
    /// the prescription): nothing can be supplied for this dose.
    pub pharmacy_closed: bool,
}

/// The whole prescription laid out day by day: one [`DoseDay`] per date in start..=end, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Schedule {
    days: Vec<DoseDay>,
}

/// What is handed over on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Due {
    pub collect_on: NaiveDate,
    /// The doses handed over, in date order.
    pub doses: Vec<DoseDay>,
}

/// What the pharmacy must do for a person on one date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayPlan {
    /// No prescription covers the date.
    NoPrescription,
    /// Hand over these doses today (supervised first dose and/or take-home).
    Collect(Due),
    /// Nothing to hand over today: the dose for today was (to be) collected on `collected_on`.
    Covered {
        collected_on: NaiveDate,
        next_collection: Option<NaiveDate>,
    },
}

impl Due {
    /// The dose to be taken at the counter, if any.
    pub fn supervised_dose(&self) -> Option<DoseMg> {
        self.suppliable().find(|d| d.supervised).map(|d| d.dose_mg)
    }

    /// How many doses go home with the person.
    pub fn take_home_doses(&self) -> usize {
        self.suppliable().filter(|d| !d.supervised).count()
    }

    /// Everything handed over, in mg (doses blocked by a closure count for nothing).
    pub fn total_mg(&self) -> f64 {
        self.suppliable().map(|d| d.dose_mg.as_mg()).sum()
    }

    fn suppliable(&self) -> impl Iterator<Item = &DoseDay> {
        self.doses.iter().filter(|d| !d.pharmacy_closed)
    }
}

impl Schedule {
    /// Rebuilds a schedule the server computed (the pharmacy client receives days, not rules).
    /// Days are sorted; a date listed twice, or a gap between dates, is refused: `dose_for`
    /// relies on one day per date.
    pub fn from_days(mut days: Vec<DoseDay>) -> Option<Schedule> {
        days.sort_by_key(|d| d.date);
        let contiguous = days
            .windows(2)
            .all(|w| w[0].date.succ_opt() == Some(w[1].date));
        contiguous.then_some(Schedule { days })
    }

    /// Every day of the prescription, in date order.
    pub fn days(&self) -> &[DoseDay] {
        &self.days
    }

    /// The dose for `date`, if the prescription covers it.
    pub fn dose_for(&self, date: NaiveDate) -> Option<&DoseDay> {
        let first = self.days.first()?.date;
        let index = usize::try_from((date - first).num_days()).ok()?;
        self.days.get(index)
    }

    /// What the pharmacy must do on `date`.
    pub fn due_on(&self, date: NaiveDate) -> DayPlan {
        let Some(today) = self.dose_for(date) else {
            return DayPlan::NoPrescription;
        };
        let doses: Vec<DoseDay> = self
            .days
            .iter()
            .filter(|d| d.collect_on == date)
            .copied()
            .collect();
        if doses.is_empty() {
            DayPlan::Covered {
                collected_on: today.collect_on,
                next_collection: self.next_collection_after(date),
            }
        } else {
            DayPlan::Collect(Due {
                collect_on: date,
                doses,
            })
        }
    }

    /// The next date after `after` on which something can be collected (closure-blocked
    /// instalments are skipped: nothing is handed over then).
    pub fn next_collection_after(&self, after: NaiveDate) -> Option<NaiveDate> {
        self.days
            .iter()
            .filter(|d| !d.pharmacy_closed && d.collect_on > after)
            .map(|d| d.collect_on)
            .min()
    }
}

/// Lays out `prescription` day by day and applies closures from `calendar`.
pub(crate) fn build(prescription: &Prescription, calendar: &PharmacyCalendar) -> Schedule {
    let start = prescription.start_date();
    let mut days = Vec::new();
    let mut anchor = start;
    let mut anchor_supervised = false;
    for date in start
        .iter_days()
        .take_while(|&d| d <= prescription.end_date())
    {
        let regime = prescription.regime_on(date);
        let (collection, offset) = regime.collections.covering(Weekday::of(date));
        // A prescription or regime starting mid-span gets a bridging instalment that day.
        if offset == 0 || date == start || date == regime.effective_from {
            anchor = date;
            anchor_supervised = collection.supervised;
        }
        days.push(DoseDay {
            date,
            dose_mg: regime.daily_dose,
            supervised: date == anchor && anchor_supervised,
            collect_on: anchor,
            nominal_collect_on: anchor,
            pharmacy_closed: false,
        });
    }
    let closed_anchors: Vec<NaiveDate> = days
        .iter()
        .filter(|d| d.date == d.nominal_collect_on && !calendar.is_open(d.date))
        .map(|d| d.date)
        .collect();
    let directions = prescription.directions();
    for closed in closed_anchors {
        let prior = directions
            .closed_days_prior
            .then(|| prior_open_day(start, closed, calendar))
            .flatten();
        let instalment = days.iter_mut().filter(|d| d.nominal_collect_on == closed);
        match prior {
            // Moved doses are all take-home: nobody is at the counter on the day itself.
            Some(open) => instalment.for_each(|day| {
                day.collect_on = open;
                day.supervised = false;
            }),
            None => supply_remaining_after_closure(
                instalment.collect(),
                calendar,
                directions.supply_remaining_if_missed,
            ),
        }
    }
    Schedule { days }
}

/// An instalment whose collection day is closed and cannot move earlier. Its collection day is
/// missed through no one's fault; under clause 2 the remaining days are handed over on the first
/// open day within the instalment (its first dose supervised if the collection was). Days before
/// that, or every day without clause 2, cannot be supplied.
fn supply_remaining_after_closure(
    instalment: Vec<&mut DoseDay>,
    calendar: &PharmacyCalendar,
    clause_2: bool,
) {
    let was_supervised = instalment.first().is_some_and(|d| d.supervised);
    let reopen = instalment
        .iter()
        .map(|d| d.date)
        .find(|&date| clause_2 && calendar.is_open(date));
    for day in instalment {
        match reopen {
            Some(open) if day.date >= open => {
                day.collect_on = open;
                day.supervised = day.date == open && was_supervised;
            }
            _ => {
                day.pharmacy_closed = true;
                day.supervised = false;
            }
        }
    }
}

/// The latest open day `p` with `start <= p < before`.
fn prior_open_day(
    start: NaiveDate,
    before: NaiveDate,
    calendar: &PharmacyCalendar,
) -> Option<NaiveDate> {
    let mut day = before.pred_opt()?;
    while day >= start {
        if calendar.is_open(day) {
            return Some(day);
        }
        day = day.pred_opt()?;
    }
    None
}
