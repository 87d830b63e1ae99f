//! Scenarios: what is due given earlier supplies (double-dispense guard, clause 2), and which
//! days a person had a dose in hand.

mod common;

use chrono::NaiveDate;
use common::*;
use sotto_domain::*;

/// A weekly take-home pattern: Monday collects 7 days, the first dose taken at the counter
/// when `supervised`.
fn weekly(supervised: bool) -> Vec<Collection> {
    vec![c(Weekday::Mon, 7, supervised)]
}

fn schedule_of(collections: Vec<Collection>) -> Schedule {
    let calendar = PharmacyCalendar::default();
    prescription(collections, &calendar).schedule(&calendar)
}

fn withheld(collect_on: NaiveDate) -> SupplyRecord {
    SupplyRecord {
        collect_on,
        supervised_taken: false,
        take_home_dates: vec![],
        withheld: true,
    }
}

fn clause_2(on: bool) -> Directions {
    Directions {
        supply_remaining_if_missed: on,
        ..Directions::default()
    }
}

fn dates(from: u32, to: u32) -> Vec<NaiveDate> {
    (from..=to).map(|day| d(11, day)).collect()
}

#[test]
fn a_weekly_take_home_collected_monday_puts_tuesday_to_sunday_in_hand() {
    let schedule = schedule_of(weekly(true));
    let monday = supply(d(11, 23), true, &dates(24, 29));

    for day in 23..=29 {
        assert!(
            dose_in_hand(std::slice::from_ref(&monday), d(11, day)),
            "{day}"
        );
    }
    assert!(!dose_in_hand(std::slice::from_ref(&monday), d(11, 30)));
    let tuesday = due_given_supplies(&schedule, &clause_2(true), &[monday], d(11, 24));
    assert_eq!(
        tuesday,
        DayPlan::Covered {
            collected_on: d(11, 23),
            next_collection: Some(d(11, 30))
        }
    );
}

#[test]
fn a_missed_monday_with_clause_2_makes_the_remaining_six_days_due_tuesday() {
    let schedule = schedule_of(weekly(false));

    let plan = due_given_supplies(&schedule, &clause_2(true), &[], d(11, 24));

    let DayPlan::Collect(due) = plan else {
        panic!("{plan:?}")
    };
    assert_eq!(due.collect_on, d(11, 24));
    assert_eq!(due.supervised_dose(), None);
    assert_eq!(due.take_home_doses(), 6);
    let due_dates: Vec<NaiveDate> = due.doses.iter().map(|d| d.date).collect();
    assert_eq!(due_dates, dates(24, 29));
    assert!(due.doses.iter().all(|x| x.nominal_collect_on == d(11, 23)));
    assert!(due.doses.iter().all(|x| x.collect_on == d(11, 24)));
}

#[test]
fn clause_2_keeps_the_first_remaining_dose_supervised_when_the_collection_was() {
    let schedule = schedule_of(weekly(true));

    let DayPlan::Collect(due) = due_given_supplies(&schedule, &clause_2(true), &[], d(11, 26))
    else {
        panic!("something is due")
    };

    assert_eq!(due.supervised_dose(), Some(mg(60.0)));
    assert_eq!(due.take_home_doses(), 3);
    assert_eq!(due.doses[0].date, d(11, 26));
    assert!(due.doses[0].supervised);
}

#[test]
fn without_clause_2_nothing_is_due_after_a_missed_collection_day() {
    let schedule = schedule_of(weekly(false));

    let plan = due_given_supplies(&schedule, &clause_2(false), &[], d(11, 24));

    assert_eq!(
        plan,
        DayPlan::Covered {
            collected_on: d(11, 23),
            next_collection: Some(d(11, 30))
        }
    );
    assert_eq!(status_code(&plan, &[], false), StatusCode::C);
}

#[test]
fn a_supplied_instalment_is_never_due_again() {
    let schedule = schedule_of(weekly(false));
    let monday = supply(d(11, 23), false, &dates(23, 29));

    // The same day again: nothing more (the counter shows B).
    let again = due_given_supplies(
        &schedule,
        &clause_2(true),
        std::slice::from_ref(&monday),
        d(11, 23),
    );
    assert!(matches!(again, DayPlan::Covered { .. }), "{again:?}");
    // A later day under clause 2: the instalment was not missed.
    let later = due_given_supplies(&schedule, &clause_2(true), &[monday], d(11, 25));
    assert!(matches!(later, DayPlan::Covered { .. }), "{later:?}");
}

#[test]
fn the_rest_of_a_missed_instalment_supplied_under_clause_2_is_not_due_again_the_next_day() {
    let schedule = schedule_of(weekly(false));
    let tuesday = supply(d(11, 24), false, &dates(24, 29));

    let wednesday = due_given_supplies(
        &schedule,
        &clause_2(true),
        std::slice::from_ref(&tuesday),
        d(11, 25),
    );

    assert!(
        matches!(wednesday, DayPlan::Covered { .. }),
        "{wednesday:?}"
    );
    assert!(!dose_in_hand(std::slice::from_ref(&tuesday), d(11, 23)));
    assert!(dose_in_hand(&[tuesday], d(11, 29)));
}

#[test]
fn withheld_counts_as_not_supplied() {
    let schedule = schedule_of(weekly(true));
    let records = [withheld(d(11, 23))];

    assert!(!dose_in_hand(&records, d(11, 23)));
    // Still due the same day, should the pharmacist re-assess...
    let same_day = due_given_supplies(&schedule, &clause_2(true), &records, d(11, 23));
    assert!(matches!(same_day, DayPlan::Collect(_)), "{same_day:?}");
    // ...and the rest is due the next day under clause 2.
    let DayPlan::Collect(due) = due_given_supplies(&schedule, &clause_2(true), &records, d(11, 24))
    else {
        panic!("the rest is due")
    };
    assert_eq!(
        (due.supervised_dose(), due.take_home_doses()),
        (Some(mg(60.0)), 5)
    );
}

#[test]
fn daily_supervised_days_need_their_own_supply_and_yesterdays_does_not_cover_today() {
    let schedule = schedule_of(daily_supervised_sat_covers_sun());
    let monday = supply(d(11, 23), true, &[]);

    let tuesday = due_given_supplies(
        &schedule,
        &clause_2(true),
        std::slice::from_ref(&monday),
        d(11, 24),
    );
    let DayPlan::Collect(due) = tuesday else {
        panic!("{tuesday:?}")
    };
    assert_eq!(
        (due.supervised_dose(), due.take_home_doses()),
        (Some(mg(60.0)), 0)
    );
    assert!(dose_in_hand(std::slice::from_ref(&monday), d(11, 23)));
    assert!(!dose_in_hand(&[monday], d(11, 24)));
}

#[test]
fn outside_the_prescription_there_is_no_prescription() {
    let schedule = schedule_of(weekly(true));
    assert_eq!(
        due_given_supplies(&schedule, &clause_2(true), &[], d(12, 7)),
        DayPlan::NoPrescription
    );
}
