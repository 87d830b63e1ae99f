//! Scenarios: changing dose or pattern part-way through a prescription.

mod common;

use common::*;
use sotto_domain::*;

fn change(effective_from: chrono::NaiveDate) -> RegimeChangeDraft {
    RegimeChangeDraft {
        effective_from,
        daily_dose_mg: None,
        collections: None,
        reason: "review with prescriber".into(),
    }
}

#[test]
fn a_dose_change_from_wednesday_applies_from_that_day_only() {
    // Arrange
    let calendar = closed_sundays();
    let prescription = prescription(daily_supervised_sat_covers_sun(), &calendar);
    let draft = RegimeChangeDraft {
        daily_dose_mg: Some(70.0),
        ..change(d(11, 25))
    };

    // Act
    let regime = prescription
        .validate_regime_change(&draft, &calendar)
        .unwrap();
    let changed = prescription.with_regime(regime);
    let schedule = changed.schedule(&calendar);

    // Assert
    assert_eq!(changed.regimes().len(), 2);
    assert_eq!(changed.regime_on(d(11, 24)).daily_dose, mg(60.0));
    assert_eq!(schedule.dose_for(d(11, 24)).unwrap().dose_mg, mg(60.0));
    assert_eq!(schedule.dose_for(d(11, 25)).unwrap().dose_mg, mg(70.0));
    assert_eq!(schedule.dose_for(d(12, 6)).unwrap().dose_mg, mg(70.0));
    assert_eq!(
        changed.regimes()[1].collections,
        prescription.regimes()[0].collections
    );
    assert_eq!(
        prescription.regimes().len(),
        1,
        "validation does not mutate"
    );
}

#[test]
fn a_switch_to_weekly_take_home_applies_from_a_collection_day() {
    // Arrange
    let calendar = closed_sundays();
    let prescription = prescription(daily_supervised_sat_covers_sun(), &calendar);
    let draft = RegimeChangeDraft {
        collections: Some(vec![c(Weekday::Mon, 7, false)]),
        ..change(d(11, 30))
    };

    // Act
    let regime = prescription
        .validate_regime_change(&draft, &calendar)
        .unwrap();
    let schedule = prescription.with_regime(regime).schedule(&calendar);

    // Assert
    assert_eq!(
        collect(&schedule, d(11, 27)).supervised_dose(),
        Some(mg(60.0))
    );
    let monday = collect(&schedule, d(11, 30));
    assert_eq!(
        (monday.supervised_dose(), monday.take_home_doses()),
        (None, 7)
    );
    assert!(matches!(schedule.due_on(d(12, 1)), DayPlan::Covered { .. }));
}

#[test]
fn a_change_inside_a_take_home_span_is_rejected_naming_the_collection_days() {
    // Arrange: Wednesday collects Wed–Sat, Sunday collects Sun–Tue.
    let calendar = PharmacyCalendar::default();
    let pattern = vec![c(Weekday::Wed, 4, false), c(Weekday::Sun, 3, false)];
    let prescription = prescription(pattern, &calendar);
    let draft = RegimeChangeDraft {
        daily_dose_mg: Some(50.0),
        ..change(d(11, 26))
    };

    // Act
    let errors = prescription
        .validate_regime_change(&draft, &calendar)
        .unwrap_err();

    // Assert
    assert_eq!(
        errors,
        vec![FieldError::new(
            "effective_from",
            "2026-11-26 falls inside the instalment collected on 2026-11-25; \
             choose a collection day (e.g. 2026-11-25 or 2026-11-29)"
        )]
    );
}

#[test]
fn a_change_inside_the_first_instalment_suggests_only_the_next_collection_day() {
    let calendar = closed_sundays();
    let prescription = prescription(vec![c(Weekday::Mon, 7, false)], &calendar);
    let draft = RegimeChangeDraft {
        daily_dose_mg: Some(50.0),
        ..change(d(11, 25))
    };

    let errors = prescription
        .validate_regime_change(&draft, &calendar)
        .unwrap_err();

    assert_eq!(
        errors[0].message,
        "2026-11-25 falls inside the instalment collected on 2026-11-23; \
         choose a collection day (e.g. 2026-11-30)"
    );
}

#[test]
fn every_problem_with_a_regime_change_is_reported_at_once() {
    // Arrange
    let calendar = closed_sundays();
    let prescription = prescription(daily_supervised_sat_covers_sun(), &calendar);
    let empty = RegimeChangeDraft {
        reason: "  ".into(),
        ..change(d(11, 23))
    };
    let bad = RegimeChangeDraft {
        daily_dose_mg: Some(0.0),
        collections: Some(vec![c(Weekday::Sun, 7, true)]),
        reason: "x".repeat(2001),
        ..change(d(12, 7))
    };

    // Act
    let empty_errors = prescription
        .validate_regime_change(&empty, &calendar)
        .unwrap_err();
    let bad_errors = prescription
        .validate_regime_change(&bad, &calendar)
        .unwrap_err();

    // Assert
    let fields = |errors: &[FieldError]| errors.iter().map(|e| e.field.clone()).collect::<Vec<_>>();
    assert_eq!(
        fields(&empty_errors),
        ["reason", "collections", "effective_from"]
    );
    assert_eq!(
        empty_errors[1].message,
        "give a new daily_dose_mg, new collections, or both"
    );
    assert_eq!(
        fields(&bad_errors),
        [
            "reason",
            "effective_from",
            "daily_dose_mg",
            "collections[0].weekday"
        ]
    );
    assert_eq!(bad_errors[3].message, "the pharmacy is closed on sun");
}

#[test]
fn a_second_change_on_the_same_day_is_rejected() {
    let calendar = closed_sundays();
    let prescription = prescription(daily_supervised_sat_covers_sun(), &calendar);
    let draft = RegimeChangeDraft {
        daily_dose_mg: Some(70.0),
        ..change(d(11, 25))
    };
    let changed = prescription.with_regime(
        prescription
            .validate_regime_change(&draft, &calendar)
            .unwrap(),
    );

    let errors = changed
        .validate_regime_change(&draft, &calendar)
        .unwrap_err();

    assert_eq!(
        errors,
        vec![FieldError::new(
            "effective_from",
            "a regime change already takes effect on 2026-11-25"
        )]
    );
}

#[test]
fn a_stored_prescription_rebuilds_to_the_same_value() {
    let calendar = closed_sundays();
    let original = prescription(daily_supervised_sat_covers_sun(), &calendar);
    let draft = RegimeChangeDraft {
        daily_dose_mg: Some(70.0),
        ..change(d(12, 2))
    };
    let changed = original.with_regime(original.validate_regime_change(&draft, &calendar).unwrap());

    let mut regimes = changed.regimes().to_vec();
    regimes.reverse();
    let rebuilt = Prescription::from_parts(
        changed.medicine(),
        changed.start_date(),
        changed.end_date(),
        changed.directions(),
        regimes,
    );

    assert_eq!(rebuilt, changed);
}
