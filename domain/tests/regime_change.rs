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

// ----- against the pharmacy's today and what was already handed over -----

fn supervised_on(date: chrono::NaiveDate, take_home: &[chrono::NaiveDate]) -> SupplyRecord {
    SupplyRecord {
        collect_on: date,
        supervised_taken: true,
        take_home_dates: take_home.to_vec(),
        withheld: false,
    }
}

fn weekly_take_home(from: chrono::NaiveDate) -> RegimeChangeDraft {
    RegimeChangeDraft {
        collections: Some(vec![c(Weekday::Mon, 7, false)]),
        ..change(from)
    }
}

#[test]
fn daily_supervised_to_weekly_take_home_on_a_day_already_supplied_starts_the_next_day() {
    // Arrange: Tuesday's supervised dose was taken; the change is asked from Tuesday.
    let calendar = closed_sundays();
    let prescription = prescription(daily_supervised_sat_covers_sun(), &calendar);
    let supplies = [supervised_on(d(11, 24), &[])];
    let ctx = ChangeContext {
        today: d(11, 24),
        supplies: &supplies,
    };

    // Act
    let plan = prescription
        .plan_regime_change(&weekly_take_home(d(11, 24)), &calendar, ctx)
        .unwrap();

    // Assert: Tuesday stays as supplied; Wednesday hands over Wed–Sun, Monday the next week.
    assert_eq!(plan.regime.effective_from, d(11, 25));
    assert_eq!(plan.effect.requested_from, d(11, 24));
    assert_eq!(plan.effect.kept_as_supplied, vec![d(11, 24)]);
    let changed = prescription.with_regime(plan.regime.clone());
    let schedule = changed.schedule(&calendar);
    let wednesday = due_given_supplies(&schedule, &changed.directions(), &supplies, d(11, 25));
    let DayPlan::Collect(due) = wednesday else {
        panic!("Wednesday must hand over doses, not say 'nothing due': {wednesday:?}");
    };
    assert_eq!((due.supervised_dose(), due.take_home_doses()), (None, 5));
    for day in schedule.days().iter().filter(|day| day.date > d(11, 24)) {
        assert!(
            day.collect_on >= d(11, 25) || dose_in_hand(&supplies, day.date),
            "{} would count as covered by a collection nobody made",
            day.date
        );
    }
    let dates: Vec<_> = plan.effect.changed_days.iter().map(|c| c.date).collect();
    let every_later_day: Vec<_> = (25..=30)
        .map(|n| d(11, n))
        .chain((1..=6).map(|n| d(12, n)))
        .collect();
    assert_eq!(
        dates, every_later_day,
        "each day from Wednesday is handed over differently"
    );
    assert!(
        plan.effect.notice.starts_with(
            "The doses for 2026-11-24 were already handed over and stay as supplied, so the \
             change asked from 2026-11-24 takes effect from 2026-11-25"
        ),
        "{}",
        plan.effect.notice
    );
}

#[test]
fn a_saturday_two_day_collection_already_supplied_moves_the_change_to_monday() {
    let calendar = closed_sundays();
    let prescription = prescription(daily_supervised_sat_covers_sun(), &calendar);
    let supplies = [supervised_on(d(11, 28), &[d(11, 29)])];
    let ctx = ChangeContext {
        today: d(11, 28),
        supplies: &supplies,
    };
    let draft = RegimeChangeDraft {
        daily_dose_mg: Some(50.0),
        ..change(d(11, 28))
    };

    let plan = prescription
        .plan_regime_change(&draft, &calendar, ctx)
        .unwrap();

    assert_eq!(plan.regime.effective_from, d(11, 30));
    assert_eq!(plan.effect.kept_as_supplied, vec![d(11, 28), d(11, 29)]);
    assert_eq!(plan.effect.changed_days.first().unwrap().date, d(11, 30));
    assert!(
        plan.effect
            .changed_days
            .iter()
            .all(|c| c.before.dose_mg == mg(60.0) && c.after.dose_mg == mg(50.0))
    );
}

#[test]
fn a_change_effective_in_the_past_is_refused_saying_which_day_can_start_it() {
    let calendar = closed_sundays();
    let prescription = prescription(daily_supervised_sat_covers_sun(), &calendar);
    let ctx = ChangeContext {
        today: d(11, 26),
        supplies: &[],
    };
    let draft = RegimeChangeDraft {
        daily_dose_mg: Some(70.0),
        ..change(d(11, 25))
    };

    let errors = prescription
        .plan_regime_change(&draft, &calendar, ctx)
        .unwrap_err();

    assert_eq!(
        errors,
        vec![FieldError::new(
            "effective_from",
            "2026-11-25 is in the past (the pharmacy's today is 2026-11-26): a change cannot \
             alter days already gone; choose today or a later collection day, e.g. 2026-11-26"
        )]
    );
}

#[test]
fn a_past_date_is_refused_alongside_every_other_problem() {
    let calendar = closed_sundays();
    let prescription = prescription(daily_supervised_sat_covers_sun(), &calendar);
    let ctx = ChangeContext {
        today: d(11, 26),
        supplies: &[],
    };
    let draft = RegimeChangeDraft {
        daily_dose_mg: Some(0.0),
        ..change(d(11, 22))
    };

    let errors = prescription
        .plan_regime_change(&draft, &calendar, ctx)
        .unwrap_err();

    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["effective_from", "daily_dose_mg"]);
    assert!(errors[0].message.contains("in the past"), "{errors:?}");
}

#[test]
fn a_withheld_dose_is_not_in_hand_so_the_change_applies_that_day() {
    let calendar = closed_sundays();
    let prescription = prescription(daily_supervised_sat_covers_sun(), &calendar);
    let supplies = [SupplyRecord {
        withheld: true,
        ..supervised_on(d(11, 24), &[])
    }];
    let ctx = ChangeContext {
        today: d(11, 24),
        supplies: &supplies,
    };

    let plan = prescription
        .plan_regime_change(&weekly_take_home(d(11, 24)), &calendar, ctx)
        .unwrap();

    assert_eq!(plan.regime.effective_from, d(11, 24));
    assert!(plan.effect.kept_as_supplied.is_empty());
    assert!(
        plan.effect
            .notice
            .starts_with("The change takes effect from 2026-11-24.")
    );
}

#[test]
fn when_the_first_unsupplied_day_is_inside_an_instalment_both_rules_are_explained() {
    // Wednesday collects Wed–Sat; a supply (made under another pattern) left Fri–Sat unsupplied.
    let calendar = PharmacyCalendar::default();
    let pattern = vec![c(Weekday::Wed, 4, false), c(Weekday::Sun, 3, false)];
    let prescription = prescription(pattern, &calendar);
    let supplies = [SupplyRecord {
        supervised_taken: false,
        ..supervised_on(d(11, 25), &[d(11, 25), d(11, 26)])
    }];
    let ctx = ChangeContext {
        today: d(11, 25),
        supplies: &supplies,
    };
    let draft = RegimeChangeDraft {
        daily_dose_mg: Some(50.0),
        ..change(d(11, 25))
    };

    let errors = prescription
        .plan_regime_change(&draft, &calendar, ctx)
        .unwrap_err();

    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "effective_from");
    assert_eq!(
        errors[0].message,
        "the doses from 2026-11-25 to 2026-11-26 have already been handed over, so the change \
         would take effect from 2026-11-27, the first day not yet supplied; a change must also \
         start on a collection day, and here: 2026-11-27 falls inside the instalment collected \
         on 2026-11-25; choose a collection day (e.g. 2026-11-25 or 2026-11-29)"
    );
}

#[test]
fn a_change_is_refused_when_every_remaining_dose_was_handed_over() {
    let calendar = closed_sundays();
    let prescription = prescription(vec![c(Weekday::Mon, 7, false)], &calendar);
    let week: Vec<_> = (30..=30)
        .map(|n| d(11, n))
        .chain((1..=6).map(|n| d(12, n)))
        .collect();
    let supplies = [SupplyRecord {
        supervised_taken: false,
        ..supervised_on(d(11, 30), &week)
    }];
    let ctx = ChangeContext {
        today: d(11, 30),
        supplies: &supplies,
    };
    let draft = RegimeChangeDraft {
        daily_dose_mg: Some(50.0),
        ..change(d(11, 30))
    };

    let errors = prescription
        .plan_regime_change(&draft, &calendar, ctx)
        .unwrap_err();

    assert_eq!(errors[0].field, "effective_from");
    assert!(
        errors[0].message.contains("nothing left to change"),
        "{}",
        errors[0].message
    );
}

#[test]
fn a_bank_holiday_dose_handed_over_the_day_before_stays_supplied_and_the_change_follows_it() {
    // Friday 27 November is a closure: Thursday hands over Thursday (supervised) and Friday.
    let mut calendar = closed_sundays();
    calendar.closures.insert(d(11, 27));
    let prescription = prescription(daily_supervised_sat_covers_sun(), &calendar);
    let supplies = [supervised_on(d(11, 26), &[d(11, 27)])];
    let ctx = ChangeContext {
        today: d(11, 26),
        supplies: &supplies,
    };
    let draft = RegimeChangeDraft {
        daily_dose_mg: Some(50.0),
        ..change(d(11, 26))
    };

    let plan = prescription
        .plan_regime_change(&draft, &calendar, ctx)
        .unwrap();

    assert_eq!(plan.effect.kept_as_supplied, vec![d(11, 26), d(11, 27)]);
    assert_eq!(plan.regime.effective_from, d(11, 28));
    let schedule = prescription.with_regime(plan.regime).schedule(&calendar);
    assert_eq!(
        schedule.dose_for(d(11, 27)).unwrap().dose_mg,
        mg(60.0),
        "the bank-holiday dose already at home keeps its dose"
    );
    assert_eq!(schedule.dose_for(d(11, 28)).unwrap().dose_mg, mg(50.0));
}
