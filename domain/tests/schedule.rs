//! Scenarios: how a prescription is laid out day by day, with weekends and closures.

mod common;

use std::collections::BTreeSet;

use common::*;
use sotto_domain::*;

#[test]
fn a_saturday_collection_hands_over_the_sunday_dose_to_take_home() {
    // Arrange
    let calendar = closed_sundays();
    let schedule = prescription(daily_supervised_sat_covers_sun(), &calendar).schedule(&calendar);

    // Act
    let saturday = collect(&schedule, d(11, 28));
    let sunday = schedule.due_on(d(11, 29));

    // Assert
    assert_eq!(saturday.supervised_dose(), Some(mg(60.0)));
    assert_eq!(saturday.take_home_doses(), 1);
    assert_eq!(saturday.total_mg(), 120.0);
    assert_eq!(saturday.doses[1].date, d(11, 29));
    assert_eq!(
        sunday,
        DayPlan::Covered {
            collected_on: d(11, 28),
            next_collection: Some(d(11, 30))
        }
    );
    assert_eq!(status_code(&sunday, &[], false), StatusCode::C);
}

#[test]
fn a_daily_supervised_weekday_is_one_supervised_dose_and_code_a() {
    let calendar = closed_sundays();
    let schedule = prescription(daily_supervised_sat_covers_sun(), &calendar).schedule(&calendar);

    let plan = schedule.due_on(d(11, 25));

    let DayPlan::Collect(due) = &plan else {
        panic!("{plan:?}")
    };
    assert_eq!(
        (due.supervised_dose(), due.take_home_doses()),
        (Some(mg(60.0)), 0)
    );
    assert_eq!(status_code(&plan, &[], false), StatusCode::A);
    let taken = SupplyRecord {
        collect_on: d(11, 25),
        supervised_taken: true,
        take_home_dates: vec![],
        withheld: false,
    };
    let after = due_given_supplies(&schedule, &Directions::default(), &[taken], d(11, 25));
    assert_eq!(status_code(&after, &[], true), StatusCode::B);
}

#[test]
fn a_bank_holiday_monday_moves_to_saturday_as_take_home_under_clause_1() {
    // Arrange
    let mut calendar = closed_sundays();
    let prescription = prescription(daily_supervised_sat_covers_sun(), &calendar);
    calendar.closures = BTreeSet::from([d(11, 30)]);

    // Act
    let schedule = prescription.schedule(&calendar);
    let saturday = collect(&schedule, d(11, 28));

    // Assert
    let dates: Vec<_> = saturday.doses.iter().map(|dose| dose.date).collect();
    assert_eq!(dates, [d(11, 28), d(11, 29), d(11, 30)]);
    assert_eq!(saturday.supervised_dose(), Some(mg(60.0)));
    assert_eq!(saturday.take_home_doses(), 2);
    let monday = schedule.dose_for(d(11, 30)).unwrap();
    assert_eq!(
        (monday.collect_on, monday.nominal_collect_on),
        (d(11, 28), d(11, 30))
    );
    assert!(!monday.supervised && !monday.pharmacy_closed);
    assert_eq!(
        schedule.due_on(d(11, 30)),
        DayPlan::Covered {
            collected_on: d(11, 28),
            next_collection: Some(d(12, 1))
        }
    );
}

#[test]
fn without_clause_1_a_bank_holiday_monday_is_pharmacy_closed() {
    // Arrange
    let mut calendar = closed_sundays();
    let mut draft = draft(daily_supervised_sat_covers_sun());
    draft.directions.closed_days_prior = false;
    let prescription = Prescription::new(draft, &calendar).unwrap();
    calendar.closures.insert(d(11, 30));

    // Act
    let schedule = prescription.schedule(&calendar);
    let monday = schedule.due_on(d(11, 30));

    // Assert
    let DayPlan::Collect(due) = &monday else {
        panic!("{monday:?}")
    };
    assert!(due.doses.iter().all(|dose| dose.pharmacy_closed));
    assert_eq!(
        (due.take_home_doses(), due.supervised_dose(), due.total_mg()),
        (0, None, 0.0)
    );
    assert_eq!(collect(&schedule, d(11, 28)).doses.len(), 2);
    assert_eq!(status_code(&monday, &[], false), StatusCode::C);
    assert_eq!(schedule.next_collection_after(d(11, 29)), Some(d(12, 1)));
}

#[test]
fn a_weekly_take_home_collection_covers_the_whole_week() {
    let calendar = closed_sundays();
    let schedule = prescription(vec![c(Weekday::Mon, 7, false)], &calendar).schedule(&calendar);

    let monday = collect(&schedule, d(11, 23));

    assert_eq!(
        (monday.supervised_dose(), monday.take_home_doses()),
        (None, 7)
    );
    for day in 24..=29 {
        assert_eq!(
            schedule.due_on(d(11, day)),
            DayPlan::Covered {
                collected_on: d(11, 23),
                next_collection: Some(d(11, 30))
            }
        );
    }
}

#[test]
fn a_closed_monday_moves_the_whole_week_to_the_prior_saturday_when_within_the_prescription() {
    // Arrange
    let mut calendar = closed_sundays();
    let prescription = prescription(vec![c(Weekday::Mon, 7, false)], &calendar);
    calendar.closures = BTreeSet::from([d(11, 23), d(11, 30)]);

    // Act
    let schedule = prescription.schedule(&calendar);

    // Assert: the second week moves to Saturday 28th...
    let saturday = collect(&schedule, d(11, 28));
    assert_eq!(saturday.take_home_doses(), 7);
    assert_eq!(saturday.doses[0].date, d(11, 30));
    assert_eq!(saturday.doses[6].date, d(12, 6));
    // ...but the first Monday has no open day before it within the prescription: under
    // clause 2 the remaining six days are handed over on Tuesday.
    let first = collect(&schedule, d(11, 23));
    assert!(first.doses.iter().all(|dose| dose.pharmacy_closed) && first.doses.len() == 1);
    let tuesday = collect(&schedule, d(11, 24));
    assert_eq!(
        (tuesday.take_home_doses(), tuesday.doses[5].date),
        (6, d(11, 29))
    );
    assert_eq!(schedule.next_collection_after(d(11, 20)), Some(d(11, 24)));
}

#[test]
fn without_clauses_1_and_2_a_closed_first_collection_day_blocks_the_whole_instalment() {
    let mut calendar = closed_sundays();
    let mut draft = draft(vec![c(Weekday::Mon, 7, true)]);
    draft.directions.closed_days_prior = false;
    draft.directions.supply_remaining_if_missed = false;
    let prescription = Prescription::new(draft, &calendar).unwrap();
    calendar.closures = BTreeSet::from([d(11, 23)]);

    let schedule = prescription.schedule(&calendar);

    let first = collect(&schedule, d(11, 23));
    assert!(first.doses.iter().all(|dose| dose.pharmacy_closed) && first.doses.len() == 7);
    assert_eq!(first.supervised_dose(), None);
    assert_eq!(schedule.next_collection_after(d(11, 20)), Some(d(11, 30)));
}

#[test]
fn under_clause_2_a_closed_supervised_collection_day_resumes_supervised_next_open_day() {
    let mut calendar = closed_sundays();
    let mut draft = draft(vec![c(Weekday::Mon, 7, true)]);
    draft.directions.closed_days_prior = false;
    let prescription = Prescription::new(draft, &calendar).unwrap();
    calendar.closures = BTreeSet::from([d(11, 30)]);

    let schedule = prescription.schedule(&calendar);

    assert!(schedule.dose_for(d(11, 30)).unwrap().pharmacy_closed);
    let tuesday = collect(&schedule, d(12, 1));
    assert_eq!(tuesday.supervised_dose(), Some(mg(60.0)));
    assert_eq!(tuesday.take_home_doses(), 5);
}

#[test]
fn a_prescription_starting_mid_span_gets_a_bridging_instalment_on_the_start_day() {
    // Arrange: starts on Sunday, which the Saturday collection would otherwise cover.
    let calendar = PharmacyCalendar::default();
    let mut draft = draft(daily_supervised_sat_covers_sun());
    draft.start_date = d(11, 29);

    // Act
    let schedule = Prescription::new(draft, &calendar)
        .unwrap()
        .schedule(&calendar);

    // Assert
    let sunday = collect(&schedule, d(11, 29));
    assert_eq!(
        (sunday.supervised_dose(), sunday.take_home_doses()),
        (Some(mg(60.0)), 0)
    );
    assert_eq!(schedule.days().len(), 8);
}

#[test]
fn a_prescription_may_not_start_on_a_closed_weekday_and_names_the_nearest_open_days() {
    let calendar = closed_sundays();
    let mut draft = draft(daily_supervised_sat_covers_sun());
    draft.start_date = d(11, 29);

    let errors = Prescription::new(draft, &calendar).unwrap_err();

    assert_eq!(
        errors,
        vec![FieldError::new(
            "start_date",
            "the pharmacy is closed on 2026-11-29 (closed on sun), so the first dose could never \
             be handed over; start on the nearest open day: 2026-11-28 (sat) or 2026-11-30 (mon)"
        )]
    );
}

#[test]
fn a_prescription_may_not_start_on_a_bank_holiday_after_a_closed_sunday() {
    let mut calendar = closed_sundays();
    calendar.closures.insert(d(11, 30));
    let mut draft = draft(daily_supervised_sat_covers_sun());
    draft.start_date = d(11, 30);

    let errors = Prescription::new(draft, &calendar).unwrap_err();

    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "start_date");
    assert!(
        errors[0].message.contains("(a recorded closure)")
            && errors[0]
                .message
                .contains("2026-11-28 (sat) or 2026-12-01 (tue)"),
        "skips the closed Sunday and names Tuesday: {}",
        errors[0].message
    );
}

#[test]
fn a_closure_recorded_later_on_a_stored_start_day_still_blocks_its_first_dose() {
    // Stored before the closure was known: the schedule says plainly nothing can be supplied.
    let open = PharmacyCalendar::default();
    let mut draft = draft(daily_supervised_sat_covers_sun());
    draft.start_date = d(11, 24);
    let stored = Prescription::new(draft, &open).unwrap();
    let mut calendar = closed_sundays();
    calendar.closures.insert(d(11, 24));

    let schedule = stored.schedule(&calendar);

    assert!(schedule.dose_for(d(11, 24)).unwrap().pharmacy_closed);
}

#[test]
fn a_take_home_pattern_starting_mid_week_bridges_to_the_next_collection() {
    let calendar = closed_sundays();
    let mut draft = draft(vec![c(Weekday::Mon, 7, false)]);
    draft.start_date = d(11, 25);

    let schedule = Prescription::new(draft, &calendar)
        .unwrap()
        .schedule(&calendar);

    assert_eq!(collect(&schedule, d(11, 25)).take_home_doses(), 5);
    assert_eq!(collect(&schedule, d(11, 30)).take_home_doses(), 7);
}

#[test]
fn dates_before_the_start_and_after_the_end_have_no_prescription() {
    let calendar = closed_sundays();
    let schedule = prescription(daily_supervised_sat_covers_sun(), &calendar).schedule(&calendar);

    for date in [d(11, 22), d(12, 7)] {
        let plan = schedule.due_on(date);
        assert_eq!(plan, DayPlan::NoPrescription);
        assert_eq!(status_code(&plan, &[HoldKind::Safety], true), StatusCode::F);
    }
    assert_eq!(schedule.next_collection_after(d(12, 6)), None);
}

#[test]
fn a_schedule_rebuilt_from_its_days_answers_the_same() {
    let calendar = closed_sundays();
    let schedule = prescription(daily_supervised_sat_covers_sun(), &calendar).schedule(&calendar);
    let json = serde_json::to_string(schedule.days()).unwrap();

    let days: Vec<DoseDay> = serde_json::from_str(&json).unwrap();
    let mut shuffled = days.clone();
    shuffled.reverse();
    let rebuilt = Schedule::from_days(shuffled).expect("contiguous");

    assert_eq!(rebuilt, schedule);
    let mut gap = days;
    gap.remove(3);
    assert!(Schedule::from_days(gap).is_none());
}
