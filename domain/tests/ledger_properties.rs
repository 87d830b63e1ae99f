//! Property tests of the dose ledger over random histories: prescriptions one after another
//! (with gaps), weekly patterns, closed weekdays, bank holidays (some posted late, after the
//! collection they move onto), people who come or don't, withheld doses, attend holds and
//! prescriber reviews. A person is simulated day by day at a counter that uses [`assess`] —
//! the function both the server and the counter call — and the results are checked against a
//! brute-force model written from DOMAIN.md, not from the ledger's code.
//!
//! Properties:
//! (a) conservation: no date is ever handed over twice, nothing is handed over after its day,
//!     and every prescribed day ends up exactly one of in hand / still to come / without a dose;
//! (b) the run equals a brute-force count of consecutive days without a dose;
//! (c) the same inputs give the same ledger and code whatever order the records come in (the
//!     server reads them newest first, the counter oldest first);
//! (d) no A, B or C is ever shown on a day the brute-force run has reached the limit without a
//!     later review;
//! (e) a transfer carries the run: a new pharmacy whose records begin on the transfer day, told
//!     the run the old one's ledger counted, finds the brute-force run of the whole history.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use sotto_domain::*;

fn day0() -> NaiveDate {
    // A Monday.
    NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()
}

fn day(n: u32) -> NaiveDate {
    day0() + Days::new(u64::from(n))
}

const HORIZON: u32 = 40;

fn c(weekday: Weekday, days: u8, supervised: bool) -> Collection {
    Collection {
        weekday,
        days,
        supervised,
    }
}

/// Weekly patterns valid for a pharmacy closed on Sundays (and for one open every day).
fn pattern(index: u8, supervised: bool) -> Vec<Collection> {
    use Weekday::*;
    match index % 4 {
        0 => {
            let mut week: Vec<_> = [Mon, Tue, Wed, Thu, Fri].map(|w| c(w, 1, true)).to_vec();
            week.push(c(Sat, 2, true));
            week
        }
        1 => vec![c(Mon, 7, supervised)],
        2 => vec![c(Mon, 3, supervised), c(Thu, 4, supervised)],
        _ => vec![
            c(Mon, 2, supervised),
            c(Wed, 2, true),
            c(Fri, 3, supervised),
        ],
    }
}

#[derive(Debug, Clone)]
struct Plan {
    /// (start offset after the previous end, length, pattern, supervised, clause 2, limit)
    prescriptions: Vec<(u32, u32, u8, bool, bool, u8)>,
    /// Bank holidays: (day, posted on day) — posted before the simulation starts if 0.
    closures: Vec<(u32, u32)>,
    /// Per day: 0 = stays away, 1 = comes, 2 = comes and is withheld.
    behaviour: Vec<u8>,
    /// Days an attend hold is placed and how long it lasts.
    holds: Vec<(u32, u32)>,
    /// On days the counter shows E, does a prescriber review that morning?
    reviews: Vec<bool>,
}

fn plans() -> impl Strategy<Value = Plan> {
    (
        prop::collection::vec(
            (
                0u32..5,
                3u32..=14,
                0u8..4,
                any::<bool>(),
                any::<bool>(),
                1u8..=4,
            ),
            1..=3,
        ),
        prop::collection::vec((0u32..HORIZON, 0u32..HORIZON), 0..4),
        prop::collection::vec(
            prop::sample::select(vec![0u8, 1, 1, 1, 2]),
            HORIZON as usize,
        ),
        prop::collection::vec((0u32..HORIZON, 1u32..4), 0..2),
        prop::collection::vec(any::<bool>(), HORIZON as usize),
    )
        .prop_map(
            |(prescriptions, closures, behaviour, holds, reviews)| Plan {
                prescriptions,
                closures,
                behaviour,
                holds,
                reviews,
            },
        )
}

/// The calendar as known on `today`: Sundays closed, and the closures posted by then.
fn calendar_on(plan: &Plan, today: NaiveDate) -> PharmacyCalendar {
    PharmacyCalendar {
        closures: plan
            .closures
            .iter()
            .filter(|(_, posted)| day(*posted) <= today)
            .map(|(d, _)| day(*d))
            // A closure is never posted for a day already gone.
            .filter(|d| *d > day(0))
            .collect(),
        ..PharmacyCalendar::closed_on(&[Weekday::Sun])
    }
}

fn prescriptions(plan: &Plan, calendar: &PharmacyCalendar) -> Vec<PrescribedSchedule> {
    let mut out = Vec::new();
    let mut next = day(1);
    for &(gap, len, pattern_index, supervised, clause_2, limit) in &plan.prescriptions {
        let mut start = next + Days::new(u64::from(gap));
        while !calendar.is_open(start) {
            start = start.succ_opt().unwrap();
        }
        let end = start + Days::new(u64::from(len - 1));
        let draft = PrescriptionDraft {
            medicine: Medicine::MethadoneOralSolution1mgMl,
            daily_dose_mg: 60.0,
            start_date: start,
            end_date: end,
            collections: pattern(pattern_index, supervised),
            directions: Directions {
                closed_days_prior: true,
                supply_remaining_if_missed: clause_2,
                consult_after_missed_days: limit,
            },
        };
        let p = Prescription::new(draft, calendar).expect("valid prescription");
        out.push(PrescribedSchedule {
            schedule: p.schedule(calendar),
            directions: p.directions(),
        });
        next = end.succ_opt().unwrap();
    }
    out
}

/// What the simulated counter recorded, and what it showed each day.
struct History {
    supplies: Vec<SupplyRecord>,
    codes: BTreeMap<NaiveDate, (StatusCode, Option<NaiveDate>)>,
    reviews: Option<NaiveDate>,
    holds: Vec<HoldSpan>,
}

fn simulate(plan: &Plan) -> History {
    let mut supplies: Vec<SupplyRecord> = Vec::new();
    let mut codes = BTreeMap::new();
    let mut last_review = None;
    let holds: Vec<HoldSpan> = plan
        .holds
        .iter()
        .map(|&(from, len)| HoldSpan {
            kind: HoldKind::Attend,
            placed_on: day(from),
            lifted_on: Some(day(from + len - 1)),
        })
        .collect();
    for n in 0..HORIZON {
        let today = day(n);
        let calendar = calendar_on(plan, today);
        let rx = prescriptions(plan, &calendar);
        let active: Vec<HoldKind> = holds
            .iter()
            .filter(|h| h.placed_on <= today && h.lifted_on.is_none_or(|l| today <= l))
            .map(|h| h.kind)
            .collect();
        let input = LedgerInput {
            prescriptions: &rx,
            supplies: &supplies,
            holds: &holds,
            last_review,
            calendar: &calendar,
            settled_through: today.pred_opt(),
            records_from: None,
            carried: None,
        };
        let mut a = assess(&input, &active, today, today);
        if a.code == StatusCode::E && plan.reviews[n as usize] && active.is_empty() {
            // The prescriber reviews in the morning; the counter is told at once.
            last_review = Some(today);
            let input = LedgerInput {
                last_review,
                ..input
            };
            a = assess(&input, &active, today, today);
        }
        codes.insert(today, (a.code, last_review));
        if !calendar.is_open(today) {
            continue;
        }
        match plan.behaviour[n as usize] {
            1 if a.code == StatusCode::A => {
                let DayPlan::Collect(due) = &a.plan else {
                    panic!("A without a collection: {:?}", a.plan)
                };
                let suppliable: Vec<&DoseDay> =
                    due.doses.iter().filter(|d| !d.pharmacy_closed).collect();
                supplies.push(SupplyRecord {
                    collect_on: today,
                    supervised_taken: suppliable.iter().any(|d| d.supervised),
                    take_home_dates: suppliable
                        .iter()
                        .filter(|d| !d.supervised)
                        .map(|d| d.date)
                        .collect(),
                    withheld: false,
                });
            }
            2 if a.code == StatusCode::A => supplies.push(SupplyRecord {
                collect_on: today,
                supervised_taken: false,
                take_home_dates: vec![],
                withheld: true,
            }),
            _ => {}
        }
    }
    History {
        supplies,
        codes,
        reviews: last_review,
        holds,
    }
}

/// DOMAIN.md, written out by hand: the dates a dose was in hand for.
fn model_in_hand(supplies: &[SupplyRecord]) -> BTreeSet<NaiveDate> {
    let mut out = BTreeSet::new();
    for s in supplies.iter().filter(|s| !s.withheld) {
        if s.supervised_taken {
            out.insert(s.collect_on);
        }
        out.extend(s.take_home_dates.iter().copied());
    }
    out
}

/// The model's days that count towards clause 3, as of the morning of `today` (everything
/// before it is settled): prescribed or between two prescriptions, and no dose in hand.
fn model_without_dose(
    rx: &[PrescribedSchedule],
    in_hand: &BTreeSet<NaiveDate>,
    through: NaiveDate,
) -> BTreeSet<NaiveDate> {
    let starts: Vec<NaiveDate> = rx.iter().map(|p| p.schedule.days()[0].date).collect();
    let first = starts.iter().min().copied();
    let last_start = starts.iter().max().copied();
    day(0)
        .iter_days()
        .take_while(|d| *d <= through)
        .filter(|d| {
            let prescribed = rx.iter().any(|p| p.schedule.dose_for(*d).is_some());
            let between = first.is_some_and(|f| f < *d) && last_start.is_some_and(|l| *d < l);
            (prescribed || between) && !in_hand.contains(d)
        })
        .collect()
}

/// The last day settled on the morning of `today`: yesterday, and today too if the pharmacy
/// is closed today (nothing can be handed over for it any more).
fn model_settled(calendar: &PharmacyCalendar, today: NaiveDate) -> NaiveDate {
    if calendar.is_open(today) {
        today.pred_opt().unwrap()
    } else {
        today
    }
}

/// The brute-force run on the morning of `today`: consecutive days without a dose ending on
/// the last settled day, none before the review's day.
fn model_run(
    without: &BTreeSet<NaiveDate>,
    calendar: &PharmacyCalendar,
    today: NaiveDate,
    review: Option<NaiveDate>,
) -> u32 {
    let mut run = 0;
    let mut d = model_settled(calendar, today);
    while without.contains(&d) && review.is_none_or(|r| d >= r) {
        run += 1;
        d = d.pred_opt().unwrap();
    }
    run
}

fn limit_on(rx: &[PrescribedSchedule], date: NaiveDate) -> u8 {
    rx.iter()
        .rfind(|p| p.schedule.days()[0].date <= date)
        .or(rx.first())
        .map_or(3, |p| p.directions.consult_after_missed_days)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn conservation_no_double_and_every_day_accounted(plan in plans()) {
        let history = simulate(&plan);
        let end = day(HORIZON - 1);
        // (a) No date handed over twice, none for a day already gone.
        let mut seen = BTreeSet::new();
        for s in history.supplies.iter().filter(|s| !s.withheld) {
            let dates: Vec<NaiveDate> = s.supervised_taken.then_some(s.collect_on)
                .into_iter().chain(s.take_home_dates.iter().copied()).collect();
            for d in dates {
                prop_assert!(d >= s.collect_on, "{d} handed over later, on {}", s.collect_on);
                prop_assert!(seen.insert(d), "{d} handed over twice");
            }
        }
        // Every prescribed day is exactly one of in hand / to come / without a dose, and the
        // ledger agrees with the model on which.
        let calendar = calendar_on(&plan, end);
        let rx = prescriptions(&plan, &calendar);
        let in_hand = model_in_hand(&history.supplies);
        let settled = end.pred_opt().unwrap();
        let input = LedgerInput {
            prescriptions: &rx,
            supplies: &history.supplies,
            holds: &history.holds,
            last_review: history.reviews,
            calendar: &calendar,
            settled_through: Some(settled),
            records_from: None,
            carried: None,
        };
        let ledger = Ledger::compute(&input, day(0), end);
        for p in &rx {
            for dose in p.schedule.days().iter().filter(|d| d.date <= end) {
                let account = ledger.day(dose.date).unwrap();
                let expected_settled = dose.date <= ledger.settled_until().unwrap();
                match account.state {
                    DayState::InHand(_) => prop_assert!(in_hand.contains(&dose.date)),
                    DayState::WithoutDose(_) => {
                        prop_assert!(!in_hand.contains(&dose.date));
                        prop_assert!(expected_settled);
                    }
                    DayState::ToCome => {
                        prop_assert!(!in_hand.contains(&dose.date));
                        prop_assert!(!expected_settled);
                    }
                    DayState::NotInTreatment | DayState::NotRecorded => {
                        prop_assert!(false, "{} prescribed", dose.date)
                    }
                }
            }
        }
    }

    #[test]
    fn the_run_and_the_code_follow_the_brute_force_count(plan in plans()) {
        let history = simulate(&plan);
        for (&today, &(code, review)) in &history.codes {
            let calendar = calendar_on(&plan, today);
            let rx = prescriptions(&plan, &calendar);
            let supplies: Vec<SupplyRecord> = history
                .supplies
                .iter()
                .filter(|s| s.collect_on < today)
                .cloned()
                .collect();
            let in_hand = model_in_hand(&supplies);
            let without = model_without_dose(&rx, &in_hand, model_settled(&calendar, today));
            let run = model_run(&without, &calendar, today, review);
            let input = LedgerInput {
                prescriptions: &rx,
                supplies: &supplies,
                holds: &history.holds,
                last_review: review,
                calendar: &calendar,
                settled_through: today.pred_opt(),
                records_from: None,
                carried: None,
            };
            let a = assess(&input, &[], today, today);
            // (b)
            prop_assert_eq!(a.run, run, "run on {}", today);
            // (d)
            if run >= u32::from(limit_on(&rx, today)) {
                prop_assert!(
                    !matches!(code, StatusCode::A | StatusCode::B | StatusCode::C),
                    "{:?} shown on {} after a run of {}", code, today, run
                );
            }
        }
    }

    #[test]
    fn the_order_of_the_records_changes_nothing(plan in plans(), seed in any::<u64>()) {
        let history = simulate(&plan);
        let end = day(HORIZON - 1);
        let calendar = calendar_on(&plan, end);
        let rx = prescriptions(&plan, &calendar);
        let mut shuffled = history.supplies.clone();
        // A deterministic shuffle from the seed (the server reads newest first).
        let len = shuffled.len();
        for i in (1..len).rev() {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        let mut holds = history.holds.clone();
        holds.reverse();
        for n in [HORIZON / 2, HORIZON - 1] {
            let date = day(n);
            let a = |supplies: &[SupplyRecord], holds: &[HoldSpan]| {
                let input = LedgerInput {
                    prescriptions: &rx,
                    supplies,
                    holds,
                    last_review: history.reviews,
                    calendar: &calendar,
                    settled_through: date.pred_opt(),
                    records_from: None,
                    carried: None,
                };
                assess(&input, &[], date, end)
            };
            let one = a(&history.supplies, &history.holds);
            let other = a(&shuffled, &holds);
            prop_assert_eq!(one.code, other.code);
            prop_assert_eq!(one.run, other.run);
            prop_assert_eq!(one.ledger, other.ledger);
        }
    }

    #[test]
    fn a_transfer_carries_the_run_to_the_new_pharmacy(plan in plans(), split in 3u32..(HORIZON - 3)) {
        let history = simulate(&plan);
        let moved_on = day(split);
        // The transfer is refused while doses for its day or later are already handed over
        // at the old pharmacy, so such histories are not transfers.
        if history.supplies.iter().any(|s| {
            s.collect_on < moved_on && s.take_home_dates.iter().any(|&d| d >= moved_on)
        }) {
            return Ok(());
        }
        for (&today, &(_, review)) in history.codes.range(moved_on.succ_opt().unwrap()..) {
            let calendar = calendar_on(&plan, today);
            let rx = prescriptions(&plan, &calendar);
            let before: Vec<SupplyRecord> =
                history.supplies.iter().filter(|s| s.collect_on < today).cloned().collect();
            let in_hand = model_in_hand(&before);
            let without = model_without_dose(&rx, &in_hand, model_settled(&calendar, today));
            let run = model_run(&without, &calendar, today, review);
            // The old pharmacy's account, settled through the day before the move.
            let old: Vec<SupplyRecord> =
                before.iter().filter(|s| s.collect_on < moved_on).cloned().collect();
            let through = moved_on.pred_opt().unwrap();
            let old_input = LedgerInput {
                prescriptions: &rx,
                supplies: &old,
                holds: &history.holds,
                last_review: review,
                calendar: &calendar,
                settled_through: Some(through),
                records_from: None,
                carried: None,
            };
            let carried = Ledger::compute(&old_input, day(0), through).run_ending(through);
            let new: Vec<SupplyRecord> =
                before.iter().filter(|s| s.collect_on >= moved_on).cloned().collect();
            let input = LedgerInput {
                supplies: &new,
                settled_through: today.pred_opt(),
                records_from: Some(moved_on),
                carried: Some(CarriedRun { through, days: carried }),
                ..old_input
            };
            let a = assess(&input, &[], today, today);
            prop_assert_eq!(a.run, run, "run on {} after a move on {}", today, moved_on);
        }
    }
}
