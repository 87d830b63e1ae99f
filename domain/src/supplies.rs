//! What is due given what was already supplied: the counter's double-dispense guard and the
//! Home Office clause 2 ("if an instalment's collection day has been missed, still dispense the
//! amount due for any remaining day(s) of that instalment"), plus whether a person had a dose in
//! hand on a day (what makes a day missed). Shared by the pharmacy client and the server.
//!
//! An instalment is the group of schedule days with the same `collect_on` (after any clause-1
//! move). A [`SupplyRecord`]'s `collect_on` is the day the doses were handed over: the
//! instalment's collection day normally, or the later day on which clause 2 handed over the rest
//! of a missed instalment. The supervised dose, if taken, is the dose for that day.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::prescription::Directions;
use crate::schedule::{DayPlan, DoseDay, Due, Schedule};

/// An instalment handed over (or withheld) at the counter, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplyRecord {
    /// The day of the hand-over (or of the decision to withhold).
    pub collect_on: NaiveDate,
    /// The dose for `collect_on` was taken at the counter.
    pub supervised_taken: bool,
    /// The doses that went home, by the dates they are for.
    pub take_home_dates: Vec<NaiveDate>,
    /// Nothing was handed over (e.g. the person appeared intoxicated): counts as not supplied.
    pub withheld: bool,
}

impl SupplyRecord {
    /// The dates this record put a dose in hand for (none when withheld).
    fn dates_in_hand(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        let supervised = (!self.withheld && self.supervised_taken).then_some(self.collect_on);
        let take_home = self
            .take_home_dates
            .iter()
            .copied()
            .filter(|_| !self.withheld);
        supervised.into_iter().chain(take_home)
    }
}

/// What is due on `date` given earlier supplies: like [`Schedule::due_on`], plus clause 2 — if
/// an earlier instalment's collection day was missed (no supply record with that `collect_on`,
/// or only a withheld one, and none of its doses handed over since) and
/// `directions.supply_remaining_if_missed`, its remaining days (`>= date`) are due today, the
/// first of them supervised if the original instalment's first dose was supervised; without
/// clause 2 those days are not suppliable (nothing due). Instalments any of whose doses were
/// handed over are never due again; one moved onto `date` by a closure posted after that day's
/// supply is still due (late closures).
///
/// Doses handed over under clause 2 carry `collect_on == date` (their `nominal_collect_on` is
/// unchanged), so [`Due::collect_on`] is always `date`.
pub fn due_given_supplies(
    schedule: &Schedule,
    directions: &Directions,
    supplies: &[SupplyRecord],
    date: NaiveDate,
) -> DayPlan {
    let Some(today) = schedule.dose_for(date) else {
        return DayPlan::NoPrescription;
    };
    let covered = || DayPlan::Covered {
        collected_on: today.collect_on,
        next_collection: schedule.next_collection_after(date),
    };
    let mut doses = Vec::new();
    for instalment in instalments(schedule) {
        let collect_on = instalment[0].collect_on;
        if collect_on > date || supplied(&instalment, supplies) {
            continue;
        }
        if collect_on == date {
            doses.extend_from_slice(&instalment);
        } else if directions.supply_remaining_if_missed {
            doses.extend(remaining(&instalment, date));
        }
    }
    if doses.is_empty() {
        return covered();
    }
    doses.sort_by_key(|d| d.date);
    DayPlan::Collect(Due {
        collect_on: date,
        doses,
    })
}

/// Is the dose for `date` in hand (taken at the counter that day, or a take-home dose for that
/// date handed over)? Withheld records put nothing in hand.
pub fn dose_in_hand(supplies: &[SupplyRecord], date: NaiveDate) -> bool {
    supplies
        .iter()
        .any(|s| s.dates_in_hand().any(|d| d == date))
}

/// The schedule's instalments (earliest hand-over first), each in date order: days with the
/// same hand-over day *and* the same nominal collection day. A closure moves a later
/// instalment onto an earlier collection day; it stays an instalment of its own, so supplying
/// the other one does not count as supplying it.
fn instalments(schedule: &Schedule) -> impl Iterator<Item = Vec<DoseDay>> {
    let mut groups: BTreeMap<(NaiveDate, NaiveDate), Vec<DoseDay>> = BTreeMap::new();
    for day in schedule.days() {
        groups
            .entry((day.collect_on, day.nominal_collect_on))
            .or_default()
            .push(*day);
    }
    groups.into_values()
}

/// Whether any dose of `instalment` was handed over. Only the dates in hand decide: a closure
/// posted after a collection moves a later day's dose onto that collection day, and that dose
/// is still due (an extra take-home dose) although something was supplied that day.
fn supplied(instalment: &[DoseDay], supplies: &[SupplyRecord]) -> bool {
    supplies.iter().filter(|s| !s.withheld).any(|s| {
        s.dates_in_hand()
            .any(|d| instalment.iter().any(|day| day.date == d))
    })
}

/// Clause 2: the suppliable days of a missed instalment from `date` on, handed over on `date`,
/// the first supervised if the instalment's first dose was.
fn remaining(instalment: &[DoseDay], date: NaiveDate) -> impl Iterator<Item = DoseDay> + '_ {
    let was_supervised = instalment.first().is_some_and(|d| d.supervised);
    instalment
        .iter()
        .filter(move |d| d.date >= date && !d.pharmacy_closed)
        .enumerate()
        .map(move |(i, d)| DoseDay {
            collect_on: date,
            supervised: i == 0 && d.date == date && was_supervised,
            ..*d
        })
}
