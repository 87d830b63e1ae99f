//! Scenarios: the letter shown at the counter as holds are placed and lifted.

mod common;

use common::*;
use sotto_domain::*;

fn due_today() -> DayPlan {
    let calendar = closed_sundays();
    prescription(daily_supervised_sat_covers_sun(), &calendar)
        .schedule(&calendar)
        .due_on(d(11, 24))
}

#[test]
fn an_attend_hold_shows_d_and_lifting_it_shows_a() {
    let plan = due_today();

    let held = status_code(&plan, &[HoldKind::Attend], false);
    let lifted = status_code(&plan, &[], false);

    assert_eq!((held, lifted), (StatusCode::D, StatusCode::A));
}

#[test]
fn a_safety_hold_beats_an_attend_hold() {
    let plan = due_today();

    let code = status_code(&plan, &[HoldKind::Attend, HoldKind::Safety], false);

    assert_eq!(code, StatusCode::E);
}

#[test]
fn a_hold_beats_already_supplied_and_covered() {
    let calendar = closed_sundays();
    let covered = prescription(daily_supervised_sat_covers_sun(), &calendar)
        .schedule(&calendar)
        .due_on(d(11, 29));

    assert_eq!(
        status_code(&due_today(), &[HoldKind::Attend], true),
        StatusCode::D
    );
    assert_eq!(
        status_code(&covered, &[HoldKind::Attend], false),
        StatusCode::D
    );
    assert_eq!(status_code(&covered, &[], true), StatusCode::B);
}

#[test]
fn no_prescription_beats_everything() {
    let code = status_code(
        &DayPlan::NoPrescription,
        &[HoldKind::Safety, HoldKind::Attend],
        true,
    );

    assert_eq!(code, StatusCode::F);
}

#[test]
fn codes_read_as_neutral_letters() {
    assert_eq!(StatusCode::D.letter(), 'D');
    for code in [
        StatusCode::A,
        StatusCode::B,
        StatusCode::C,
        StatusCode::D,
        StatusCode::E,
        StatusCode::F,
    ] {
        let meaning = code.meaning().to_lowercase();
        assert!(
            !meaning.contains("hold") && !meaning.contains("missed"),
            "{meaning}"
        );
    }
}
