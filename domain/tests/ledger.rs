//! The dose ledger: one account per person per calendar day, and the clause 3 run over it.
//! Each scenario is a defect found by a pharmacist or prescriber (issue: the dose ledger);
//! `ledger_properties.rs` checks the same rules over random histories.

mod common;

use std::collections::BTreeSet;

use chrono::NaiveDate;
use common::*;
use sotto_domain::*;

fn laid_out(p: &Prescription, calendar: &PharmacyCalendar) -> PrescribedSchedule {
    PrescribedSchedule {
        schedule: p.schedule(calendar),
        directions: p.directions(),
    }
}

fn input<'a>(
    prescriptions: &'a [PrescribedSchedule],
    supplies: &'a [SupplyRecord],
    calendar: &'a PharmacyCalendar,
    settled_through: NaiveDate,
) -> LedgerInput<'a> {
    LedgerInput {
        prescriptions,
        supplies,
        holds: &[],
        last_review: None,
        calendar,
        settled_through: Some(settled_through),
        records_from: None,
        carried: None,
    }
}

#[test]
fn a_missed_saturday_two_day_instalment_is_two_days_without_a_dose() {
    // Daily supervised, Saturday collects Saturday and Sunday; closed on Sundays. Thursday
    // 26th is collected; Friday 27th, Saturday 28th (covering Sunday 29th) and Monday 30th are
    // not: four days without a dose, E on Tuesday.
    let calendar = closed_sundays();
    let rx = [laid_out(
        &prescription(daily_supervised_sat_covers_sun(), &calendar),
        &calendar,
    )];
    let supplies = [supply(d(11, 26), true, &[])];
    let i = input(&rx, &supplies, &calendar, d(11, 30));

    let a = assess(&i, &[], d(12, 1), d(12, 1));

    let ledger = &a.ledger;
    assert_eq!(
        ledger.day(d(11, 29)).unwrap().state,
        DayState::WithoutDose(NoDose::PharmacyClosed {
            collect_on: d(11, 28)
        })
    );
    assert_eq!(a.run, 4);
    assert!(a.review_needed);
    assert_eq!(a.code, StatusCode::E);
    // Sunday is reported as a missed dose too, with Saturday.
    let missed: Vec<NaiveDate> = ledger
        .missed_doses(d(11, 27), d(11, 30))
        .iter()
        .map(|(dose, _)| dose.date)
        .collect();
    assert_eq!(missed, [d(11, 27), d(11, 28), d(11, 29), d(11, 30)]);
}

#[test]
fn a_missed_saturday_before_a_bank_holiday_monday_counts_three_days() {
    // Monday 30th is a bank holiday: Saturday collects Saturday, Sunday and Monday. Missing
    // Saturday alone is three days without a dose.
    let mut calendar = closed_sundays();
    calendar.closures = BTreeSet::from([d(11, 30)]);
    let rx = [laid_out(
        &prescription(daily_supervised_sat_covers_sun(), &calendar),
        &calendar,
    )];
    let supplies = [supply(d(11, 27), true, &[])];
    // Closing Saturday settles Sunday and Monday too: nothing can be supplied for them later.
    let i = input(&rx, &supplies, &calendar, d(11, 28));
    let a = assess(&i, &[], d(12, 1), d(12, 1));

    assert_eq!(a.ledger.settled_until(), Some(d(11, 30)));
    assert_eq!(a.run, 3);
    assert_eq!(a.code, StatusCode::E);
}

#[test]
fn a_closure_posted_after_the_collection_makes_the_moved_dose_due_as_an_extra_take_home() {
    // Saturday 28th was supplied (Saturday supervised, Sunday take-home). Then Monday 30th is
    // closed: clause 1 moves Monday's dose onto Saturday. It is still due that day.
    let calendar = closed_sundays();
    let rx_plain = prescription(daily_supervised_sat_covers_sun(), &calendar);
    let mut supplies: Vec<SupplyRecord> =
        (23..=27).map(|day| supply(d(11, day), true, &[])).collect();
    supplies.push(supply(d(11, 28), true, &[d(11, 29)]));
    let mut late = calendar.clone();
    late.closures.insert(d(11, 30));
    let rx = [laid_out(&rx_plain, &late)];
    let i = input(&rx, &supplies, &late, d(11, 27));

    let a = assess(&i, &[], d(11, 28), d(11, 28));

    assert_eq!(a.code, StatusCode::A, "{:?}", a.plan);
    let DayPlan::Collect(due) = &a.plan else {
        panic!("{:?}", a.plan)
    };
    assert_eq!(due.supervised_dose(), None);
    let dates: Vec<NaiveDate> = due.doses.iter().map(|d| d.date).collect();
    assert_eq!(dates, [d(11, 30)]);

    // If nobody hands it over, closing Saturday settles Monday as a day without a dose.
    let after = input(&rx, &supplies, &late, d(11, 28));
    let ledger = assess(&after, &[], d(12, 1), d(12, 1)).ledger;
    assert!(ledger.day(d(11, 30)).unwrap().without_dose());
    assert!(ledger.day(d(11, 29)).unwrap().in_hand());
}

#[test]
fn days_between_two_prescriptions_count_as_days_without_a_dose() {
    let calendar = PharmacyCalendar::default();
    let daily: Vec<Collection> = Weekday::ALL.map(|w| c(w, 1, true)).to_vec();
    let mut first = draft(daily.clone());
    first.end_date = d(11, 29);
    let mut second = draft(daily);
    second.start_date = d(12, 3);
    second.end_date = d(12, 9);
    let rx = [
        laid_out(&Prescription::new(first, &calendar).unwrap(), &calendar),
        laid_out(&Prescription::new(second, &calendar).unwrap(), &calendar),
    ];
    let supplies: Vec<SupplyRecord> = (23..=29).map(|day| supply(d(11, day), true, &[])).collect();
    let i = input(&rx, &supplies, &calendar, d(12, 2));

    let a = assess(&i, &[], d(12, 3), d(12, 3));

    assert_eq!(
        a.ledger.day(d(11, 30)).unwrap().state,
        DayState::WithoutDose(NoDose::NothingPrescribed)
    );
    assert_eq!(a.run, 3);
    assert_eq!(a.code, StatusCode::E);
    // Nothing prescribed is counted, but it is not a missed dose to report.
    assert!(a.ledger.missed_doses(d(11, 30), d(12, 2)).is_empty());
}

#[test]
fn a_day_without_a_dose_later_on_the_day_of_a_review_counts() {
    let calendar = PharmacyCalendar::default();
    let daily: Vec<Collection> = Weekday::ALL.map(|w| c(w, 1, true)).to_vec();
    let rx = [laid_out(
        &Prescription::new(draft(daily), &calendar).unwrap(),
        &calendar,
    )];
    // Missed 23rd–25th, reviewed on the morning of the 26th; then the 26th and 27th missed.
    let mut i = input(&rx, &[], &calendar, d(11, 27));
    i.last_review = Some(d(11, 26));
    let a = assess(&i, &[], d(11, 28), d(11, 28));
    assert_eq!(a.run, 2);
    assert_eq!(a.code, StatusCode::A);
    let i = input(&rx, &[], &calendar, d(11, 28));
    let mut i = i;
    i.last_review = Some(d(11, 26));
    assert_eq!(assess(&i, &[], d(11, 29), d(11, 29)).code, StatusCode::E);
}

#[test]
fn take_home_days_are_in_hand_and_a_withheld_day_says_why() {
    let calendar = PharmacyCalendar::default();
    let rx = [laid_out(
        &prescription(
            vec![c(Weekday::Mon, 3, true), c(Weekday::Thu, 4, true)],
            &calendar,
        ),
        &calendar,
    )];
    let supplies = [
        supply(d(11, 23), true, &[d(11, 24), d(11, 25)]),
        SupplyRecord {
            collect_on: d(11, 26),
            supervised_taken: false,
            take_home_dates: vec![],
            withheld: true,
        },
    ];
    let i = input(&rx, &supplies, &calendar, d(11, 26));
    let ledger = assess(&i, &[], d(11, 27), d(11, 27)).ledger;
    assert_eq!(
        ledger.day(d(11, 24)).unwrap().state,
        DayState::InHand(InHand::TakeHome {
            supplied_on: d(11, 23)
        })
    );
    assert_eq!(
        ledger.day(d(11, 26)).unwrap().state,
        DayState::WithoutDose(NoDose::Withheld { on: d(11, 26) })
    );
    assert_eq!(ledger.day(d(11, 27)).unwrap().state, DayState::ToCome);
}

#[test]
fn the_week_view_says_in_words_since_when_no_dose_was_in_hand() {
    let calendar = closed_sundays();
    let rx = [laid_out(
        &prescription(daily_supervised_sat_covers_sun(), &calendar),
        &calendar,
    )];
    let supplies = [supply(d(11, 26), true, &[])];
    let a = assess(
        &input(&rx, &supplies, &calendar, d(11, 30)),
        &[],
        d(12, 1),
        d(12, 1),
    );
    assert_eq!(
        a.ledger.no_dose_since(d(12, 1)).as_deref(),
        Some("No dose in hand since Fri 27 Nov (4 days)")
    );
    let words: Vec<String> = [d(11, 26), d(11, 29), d(12, 1)]
        .iter()
        .map(|&day| a.ledger.day(day).unwrap().describe())
        .collect();
    assert_eq!(
        words,
        [
            "dose taken at the pharmacy",
            "no dose in hand: pharmacy closed, and the collection on Sat 28 Nov was not made",
            "still to come",
        ]
    );
}
