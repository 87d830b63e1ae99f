//! Scenarios: a prescription draft with mistakes is refused with every problem named.

mod common;

use Weekday::*;
use common::*;
use sotto_domain::*;

fn errors_for(draft: PrescriptionDraft) -> Vec<FieldError> {
    Prescription::new(draft, &closed_sundays()).unwrap_err()
}

fn pattern_errors(collections: Vec<Collection>) -> Vec<FieldError> {
    errors_for(draft(collections))
}

#[test]
fn overlapping_collections_name_the_day_and_both_collections() {
    let mut week = daily_supervised_sat_covers_sun();
    week[0].days = 4; // Monday now also covers Tue–Thu.

    let errors = pattern_errors(week);

    assert_eq!(
        errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>(),
        [
            "tue is covered by both the mon and tue collections",
            "wed is covered by both the mon and wed collections",
            "thu is covered by both the mon and thu collections",
        ]
    );
    assert!(errors.iter().all(|e| e.field == "collections"));
}

#[test]
fn a_gap_names_the_uncovered_weekdays() {
    let week = vec![c(Mon, 2, true), c(Fri, 1, true), c(Sat, 2, true)];

    let errors = pattern_errors(week);

    assert_eq!(
        errors,
        vec![FieldError::new(
            "collections",
            "no collection covers wed, thu"
        )]
    );
}

#[test]
fn a_collection_on_a_closed_weekday_names_the_day() {
    let week = vec![c(Sun, 7, false)];

    let errors = pattern_errors(week);

    assert_eq!(
        errors,
        vec![FieldError::new(
            "collections[0].weekday",
            "the pharmacy is closed on sun"
        )]
    );
}

#[test]
fn days_outside_one_to_seven_and_duplicate_weekdays_are_rejected() {
    let week = vec![c(Mon, 0, true), c(Tue, 8, true), c(Mon, 1, true)];

    let errors = pattern_errors(week);

    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "collections[0].days",
            "collections[1].days",
            "collections[2].weekday"
        ]
    );
    assert_eq!(errors[1].message, "must be between 1 and 7, not 8");
    assert_eq!(errors[2].message, "mon has more than one collection");
}

#[test]
fn an_end_before_the_start_is_rejected() {
    let mut draft = draft(daily_supervised_sat_covers_sun());
    draft.end_date = d(11, 22);

    let errors = errors_for(draft);

    assert_eq!(
        errors,
        vec![FieldError::new(
            "end_date",
            "must be on or after start_date (2026-11-23)"
        )]
    );
}

#[test]
fn more_than_fourteen_days_is_rejected_but_fourteen_is_fine() {
    let mut too_long = draft(daily_supervised_sat_covers_sun());
    too_long.end_date = d(12, 7);

    let errors = errors_for(too_long);

    assert_eq!(
        errors,
        vec![FieldError::new(
            "end_date",
            "a prescription covers at most 14 days; this one covers 15"
        )]
    );
    assert!(Prescription::new(draft(daily_supervised_sat_covers_sun()), &closed_sundays()).is_ok());
}

#[test]
fn zero_negative_nan_and_absurd_doses_are_rejected_on_daily_dose_mg() {
    for dose in [0.0, -10.0, f64::NAN, 120_000.0, 60.05] {
        let mut draft = draft(daily_supervised_sat_covers_sun());
        draft.daily_dose_mg = dose;

        let errors = errors_for(draft);

        assert_eq!(errors.len(), 1, "{dose}: {errors:?}");
        assert_eq!(errors[0].field, "daily_dose_mg");
    }
}

#[test]
fn consult_after_zero_missed_days_is_rejected() {
    let mut draft = draft(daily_supervised_sat_covers_sun());
    draft.directions.consult_after_missed_days = 0;

    let errors = errors_for(draft);

    assert_eq!(errors[0].field, "directions.consult_after_missed_days");
}

#[test]
fn every_problem_is_reported_at_once_with_its_field() {
    // Arrange
    let mut draft = draft(vec![c(Mon, 0, true), c(Sun, 1, true)]);
    draft.end_date = d(11, 1);
    draft.daily_dose_mg = f64::NAN;
    draft.directions.consult_after_missed_days = 0;

    // Act
    let errors = errors_for(draft);

    // Assert
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "end_date",
            "daily_dose_mg",
            "collections[0].days",
            "collections[1].weekday",
            "directions.consult_after_missed_days",
        ]
    );
}
