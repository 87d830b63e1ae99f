//! The dose ledger (DOMAIN.md, "The dose ledger"): one account per person per calendar day —
//! was a dose in hand, and if not, why. Codes, missed-dose reports, the counter's offline E and
//! the server's safety hold all derive from it, computed by this one pure function on both
//! sides, so the counter and the server cannot disagree about a day.
//!
//! A day's account is *settled* once nothing can change it any more: every day up to
//! `settled_through` (the last day the pharmacy closed, or yesterday at the counter), and the
//! pharmacy-closed days right after it (nothing is ever supplied for a day after that day, so a
//! closed Sunday is settled when Saturday closes). A settled day without a dose in hand is a
//! day *without a dose*; an unsettled one is *still to come*.
//!
//! Clause 3 counts consecutive calendar days without a dose — whatever the reason: collection
//! missed, withheld, on hold, the covering collection of a closed day missed, or nothing
//! prescribed between two prescriptions — since the last prescriber review. A review counts
//! from the start of its own (local) day: a day without a dose on the day of a review counts
//! again (fail safe: the count may reach the limit one day early, never late).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::PharmacyCalendar;
use crate::prescription::Directions;
use crate::schedule::{DayPlan, DoseDay, Schedule};
use crate::status::{HoldKind, StatusCode, status_code};
use crate::supplies::{SupplyRecord, due_given_supplies};

/// A hold as the ledger needs it: when it was in force, by the pharmacy's local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldSpan {
    pub kind: HoldKind,
    /// The local date it was placed.
    pub placed_on: NaiveDate,
    /// The local date it was lifted (still in force that day), or `None` while active.
    pub lifted_on: Option<NaiveDate>,
}

impl HoldSpan {
    fn covers(&self, date: NaiveDate) -> bool {
        self.placed_on <= date && self.lifted_on.is_none_or(|l| date <= l)
    }
}

/// One prescription laid out day by day, with its directions.
#[derive(Debug, Clone, PartialEq)]
pub struct PrescribedSchedule {
    pub schedule: Schedule,
    pub directions: Directions,
}

/// Days without a dose counted at another pharmacy before this one's records of the person
/// begin (a transfer): the run ending on `through`, as the service's ledger counted it there
/// (since the last review). A run here that reaches back to the day after `through` goes on
/// with these days, so moving pharmacy never resets the count of days without a dose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedRun {
    pub through: NaiveDate,
    pub days: u32,
}

/// Everything the ledger is computed from, for one person.
#[derive(Debug, Clone, Copy)]
pub struct LedgerInput<'a> {
    /// Every prescription that can matter (ended ones too: the gap after one counts).
    pub prescriptions: &'a [PrescribedSchedule],
    /// What the pharmacy recorded: supplies and withheld instalments.
    pub supplies: &'a [SupplyRecord],
    /// Holds placed (active or lifted) that can matter.
    pub holds: &'a [HoldSpan],
    /// The local date of the last prescriber review (a safety hold lifted), if any.
    pub last_review: Option<NaiveDate>,
    pub calendar: &'a PharmacyCalendar,
    /// The last day whose account is final (see the module docs).
    pub settled_through: Option<NaiveDate>,
    /// The first day the pharmacy's records cover (its counter's enrolment): what happened
    /// before is not known here, and is never counted.
    pub records_from: Option<NaiveDate>,
    /// The run carried over from the person's previous pharmacy, if they moved here.
    pub carried: Option<CarriedRun>,
}

/// How a dose came to be in hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum InHand {
    /// Taken at the counter that day.
    Supervised,
    /// Handed over to take home on `supplied_on`.
    TakeHome { supplied_on: NaiveDate },
}

/// Why a settled day had no dose in hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum NoDose {
    /// A hold was in force on the day or on its collection day.
    OnHold,
    /// The pharmacist withheld the instalment (e.g. intoxicated).
    Withheld { on: NaiveDate },
    /// The pharmacy was closed that day and the collection that should have covered it was
    /// not made (or no open day was left to make it).
    PharmacyClosed { collect_on: NaiveDate },
    /// The collection was not made.
    CollectionMissed { collect_on: NaiveDate },
    /// No prescription covered the day, between two prescriptions.
    NothingPrescribed,
}

/// The state of one calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DayState {
    InHand(InHand),
    /// Not settled yet and no dose in hand: still to come.
    ToCome,
    WithoutDose(NoDose),
    /// Before the first prescription, or after the last one with none following: the person
    /// was not in treatment here; never counted.
    NotInTreatment,
    /// Before the pharmacy's records begin (its counter was enrolled later): unknown, never
    /// counted.
    NotRecorded,
}

/// One day's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DayAccount {
    pub date: NaiveDate,
    /// What was prescribed for the day, if anything.
    pub prescribed: Option<DoseDay>,
    #[serde(flatten)]
    pub state: DayState,
}

impl DayAccount {
    /// The day's account in plain, discreet words for the counter's and the console's week view
    /// ("take-home dose, handed over on Sat 28 Nov"; "no dose in hand: not collected") — never
    /// "hold" or "missed", which others at the counter could read.
    pub fn describe(&self) -> String {
        let day = |d: NaiveDate| d.format("%a %-d %b").to_string();
        match self.state {
            DayState::InHand(InHand::Supervised) => "dose taken at the pharmacy".into(),
            DayState::InHand(InHand::TakeHome { supplied_on }) if supplied_on == self.date => {
                "take-home dose, handed over that day".into()
            }
            DayState::InHand(InHand::TakeHome { supplied_on }) => {
                format!("take-home dose, handed over on {}", day(supplied_on))
            }
            DayState::ToCome => "still to come".into(),
            DayState::WithoutDose(why) => format!(
                "no dose in hand: {}",
                match why {
                    NoDose::OnHold => "paused by the service".to_string(),
                    NoDose::Withheld { on } => format!("not supplied on {}", day(on)),
                    NoDose::PharmacyClosed { collect_on } => format!(
                        "pharmacy closed, and the collection on {} was not made",
                        day(collect_on)
                    ),
                    NoDose::CollectionMissed { collect_on } if collect_on == self.date => {
                        "not collected".to_string()
                    }
                    NoDose::CollectionMissed { collect_on } => {
                        format!("the collection on {} was not made", day(collect_on))
                    }
                    NoDose::NothingPrescribed => "nothing prescribed".to_string(),
                }
            ),
            DayState::NotInTreatment => "no prescription".into(),
            DayState::NotRecorded => "before this pharmacy's records begin".into(),
        }
    }

    pub fn without_dose(&self) -> bool {
        matches!(self.state, DayState::WithoutDose(_))
    }

    pub fn in_hand(&self) -> bool {
        matches!(self.state, DayState::InHand(_))
    }
}

/// The accounts of a range of days for one person, and the clause 3 rule over them.
#[derive(Debug, Clone, PartialEq)]
pub struct Ledger {
    days: BTreeMap<NaiveDate, DayAccount>,
    last_review: Option<NaiveDate>,
    settled_through: Option<NaiveDate>,
    /// The clause 3 limit by date: from each prescription's start, its own.
    limits: Vec<(NaiveDate, u8)>,
    carried: Option<CarriedRun>,
}

impl Ledger {
    /// The account of every day in `from..=to`.
    pub fn compute(input: &LedgerInput<'_>, from: NaiveDate, to: NaiveDate) -> Ledger {
        let mut limits: Vec<(NaiveDate, u8)> = input
            .prescriptions
            .iter()
            .filter_map(|p| {
                let first = p.schedule.days().first()?.date;
                Some((first, p.directions.consult_after_missed_days))
            })
            .collect();
        limits.sort();
        let first_start = limits.first().map(|(d, _)| *d);
        let last_start = limits.last().map(|(d, _)| *d);
        let in_hand = dates_in_hand(input.supplies);
        let settled_until = settled_until(input.settled_through, input.calendar);
        let mut days = BTreeMap::new();
        for date in from.iter_days().take_while(|d| *d <= to) {
            let prescribed = dose_for(input.prescriptions, date).copied();
            let settled = settled_until.is_some_and(|s| date <= s);
            let state = if let Some(how) = in_hand.get(&date) {
                DayState::InHand(*how)
            } else if input.records_from.is_some_and(|r| date < r) {
                DayState::NotRecorded
            } else if prescribed.is_none()
                && !(first_start.is_some_and(|f| f < date) && last_start.is_some_and(|l| date < l))
            {
                DayState::NotInTreatment
            } else if !settled {
                DayState::ToCome
            } else {
                DayState::WithoutDose(why(input, prescribed.as_ref(), date))
            };
            days.insert(
                date,
                DayAccount {
                    date,
                    prescribed,
                    state,
                },
            );
        }
        Ledger {
            days,
            last_review: input.last_review,
            settled_through: settled_until,
            limits,
            carried: input.carried,
        }
    }

    /// Every day's account, in date order.
    pub fn days(&self) -> impl Iterator<Item = &DayAccount> {
        self.days.values()
    }

    /// The `n` days ending on `date`, oldest first (the week view: [`SHOWN_DAYS`]).
    pub fn last_days(&self, date: NaiveDate, n: u64) -> Vec<DayAccount> {
        let from = date
            .checked_sub_days(chrono::Days::new(n.saturating_sub(1)))
            .unwrap_or(date);
        self.days.range(from..=date).map(|(_, a)| *a).collect()
    }

    pub fn day(&self, date: NaiveDate) -> Option<&DayAccount> {
        self.days.get(&date)
    }

    /// The last settled day (closed days after `settled_through` included).
    pub fn settled_until(&self) -> Option<NaiveDate> {
        self.settled_through
    }

    /// Days without a dose that are counted towards clause 3 (on or after the review's day).
    fn counts(&self, day: &DayAccount) -> bool {
        day.without_dose() && self.last_review.is_none_or(|r| day.date >= r)
    }

    /// Consecutive counted days without a dose ending on `date` (0 if `date` is not one).
    pub fn run_ending(&self, date: NaiveDate) -> u32 {
        let mut run = 0;
        let mut d = Some(date);
        while let Some(day) = d.and_then(|d| self.days.get(&d)).filter(|a| self.counts(a)) {
            run += 1;
            d = day.date.pred_opt();
        }
        run + self.carried_into(d)
    }

    /// The carried run, if the walk back stopped on its last day and that day is not one of
    /// ours (before our records) and not before the last review.
    fn carried_into(&self, stopped_on: Option<NaiveDate>) -> u32 {
        match (self.carried, stopped_on) {
            (Some(c), Some(d))
                if c.through == d
                    && self.last_review.is_none_or(|r| r <= c.through)
                    && self
                        .days
                        .get(&d)
                        .is_none_or(|a| a.state == DayState::NotRecorded) =>
            {
                c.days
            }
            _ => 0,
        }
    }

    /// The run that matters on `date`: the one ending on the last settled day up to `date`.
    pub fn current_run(&self, date: NaiveDate) -> u32 {
        self.settled_through
            .map_or(0, |s| self.run_ending(s.min(date)))
    }

    /// "No dose in hand since Fri 27 Nov (3 days)" when the run ending on `date`'s last
    /// settled day is not zero: what the pharmacist and the prescriber need beside an E.
    pub fn no_dose_since(&self, date: NaiveDate) -> Option<String> {
        let run = self.current_run(date);
        let last = self.settled_through?.min(date);
        let first = last.checked_sub_days(chrono::Days::new(u64::from(run).checked_sub(1)?))?;
        let days = if run == 1 {
            "1 day".to_string()
        } else {
            format!("{run} days")
        };
        Some(format!(
            "No dose in hand since {} ({days})",
            first.format("%a %-d %b")
        ))
    }

    /// The clause 3 limit in force on `date` (that of the latest prescription started by
    /// then; 3 when there is none).
    pub fn limit_on(&self, date: NaiveDate) -> u8 {
        self.limits
            .iter()
            .rev()
            .find(|(start, _)| *start <= date)
            .or(self.limits.first())
            .map_or(3, |(_, limit)| *limit)
    }

    /// Clause 3: on `date`, has the run of days without a dose reached the limit since the
    /// last review? Then nothing may be supplied until a prescriber reviews (code E).
    pub fn review_needed(&self, date: NaiveDate) -> bool {
        self.current_run(date) >= u32::from(self.limit_on(date))
    }

    /// Settled days without a dose in `from..=to`, with what was prescribed (the missed-dose
    /// reports: days with nothing prescribed are counted but not reported as missed doses).
    pub fn missed_doses(&self, from: NaiveDate, to: NaiveDate) -> Vec<(DoseDay, NoDose)> {
        self.days
            .range(from..=to)
            .filter_map(|(_, a)| match (a.state, a.prescribed) {
                (DayState::WithoutDose(why), Some(dose)) => Some((dose, why)),
                _ => None,
            })
            .collect()
    }
}

/// The last settled day: `settled_through` and the closed days right after it.
fn settled_until(
    settled_through: Option<NaiveDate>,
    calendar: &PharmacyCalendar,
) -> Option<NaiveDate> {
    let mut last = settled_through?;
    // A fortnight of closures in a row is more than any pharmacy has; stop there regardless.
    for _ in 0..14 {
        match last.succ_opt() {
            Some(next) if !calendar.is_open(next) => last = next,
            _ => break,
        }
    }
    Some(last)
}

/// The dose prescribed for `date`: from the prescription covering it that started last.
fn dose_for(prescriptions: &[PrescribedSchedule], date: NaiveDate) -> Option<&DoseDay> {
    prescriptions
        .iter()
        .filter_map(|p| Some((p.schedule.days().first()?.date, p.schedule.dose_for(date)?)))
        .max_by_key(|(start, _)| *start)
        .map(|(_, dose)| dose)
}

/// Every date a dose was in hand for, and how.
fn dates_in_hand(supplies: &[SupplyRecord]) -> BTreeMap<NaiveDate, InHand> {
    let mut out = BTreeMap::new();
    for s in supplies.iter().filter(|s| !s.withheld) {
        if s.supervised_taken {
            out.insert(s.collect_on, InHand::Supervised);
        }
        for &date in &s.take_home_dates {
            out.entry(date).or_insert(InHand::TakeHome {
                supplied_on: s.collect_on,
            });
        }
    }
    out
}

/// Why a settled day had no dose in hand.
fn why(input: &LedgerInput<'_>, prescribed: Option<&DoseDay>, date: NaiveDate) -> NoDose {
    let Some(dose) = prescribed else {
        return NoDose::NothingPrescribed;
    };
    let collect_on = dose.collect_on;
    let chances: BTreeSet<NaiveDate> = [collect_on, date].into();
    if input
        .holds
        .iter()
        .any(|h| chances.iter().any(|&d| h.covers(d)))
    {
        return NoDose::OnHold;
    }
    if let Some(w) = input
        .supplies
        .iter()
        .filter(|s| s.withheld && s.collect_on >= collect_on && s.collect_on <= date)
        .max_by_key(|s| s.collect_on)
    {
        return NoDose::Withheld { on: w.collect_on };
    }
    if dose.pharmacy_closed || !input.calendar.is_open(date) {
        return NoDose::PharmacyClosed { collect_on };
    }
    NoDose::CollectionMissed { collect_on }
}

/// How many days the week views show: the day and the six before.
pub const SHOWN_DAYS: u64 = 7;

/// How far back the ledger looks for a code: longer than any clause 3 limit (at most 7) plus
/// a fortnight's prescription.
pub const LOOKBACK_DAYS: u64 = 31;

/// What the counter (and the server's status) shows for a person on one day, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// What can be handed over (after what was already handed over, clause 2 included).
    pub plan: DayPlan,
    pub code: StatusCode,
    /// Consecutive days without a dose up to the last settled day, since the last review.
    pub run: u32,
    /// The clause 3 limit in force.
    pub limit: u8,
    /// The run reached the limit: code E until a prescriber reviews.
    pub review_needed: bool,
    /// The ledger from `date - LOOKBACK_DAYS` to `date`.
    pub ledger: Ledger,
}

/// The one function both sides call for a person's code on `date` (`today` is the pharmacy's
/// local date: a collection day still ahead has not been missed yet).
pub fn assess(
    input: &LedgerInput<'_>,
    active_holds: &[HoldKind],
    date: NaiveDate,
    today: NaiveDate,
) -> Assessment {
    let from = date
        .checked_sub_days(chrono::Days::new(LOOKBACK_DAYS))
        .unwrap_or(date);
    let ledger = Ledger::compute(input, from, date);
    let current = input
        .prescriptions
        .iter()
        .filter(|p| p.schedule.dose_for(date).is_some())
        .max_by_key(|p| p.schedule.days().first().map(|d| d.date));
    let plan = match current {
        None => DayPlan::NoPrescription,
        Some(p) if date <= today => {
            due_given_supplies(&p.schedule, &p.directions, input.supplies, date)
        }
        Some(p) => p.schedule.due_on(date),
    };
    let run = ledger.current_run(date);
    let limit = ledger.limit_on(date);
    let review_needed = run >= u32::from(limit);
    let mut holds = active_holds.to_vec();
    if review_needed {
        holds.push(HoldKind::Safety);
    }
    let supplied_today = input
        .supplies
        .iter()
        .any(|s| !s.withheld && s.collect_on == date);
    Assessment {
        code: status_code(&plan, &holds, supplied_today),
        plan,
        run,
        limit,
        review_needed,
        ledger,
    }
}
