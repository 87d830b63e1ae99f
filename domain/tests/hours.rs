//! Scenarios: opening hours per weekday — a half-day Saturday is open, a close after midnight
//! belongs to the trading day that opened, and each trading day closes at its own close across
//! the clock changes.

mod common;

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use common::*;
use sotto_domain::*;

fn t(hh: u32, mm: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hh, mm, 0).unwrap()
}

fn hours(open: (u32, u32), close: (u32, u32)) -> Option<DayHours> {
    DayHours::new(t(open.0, open.1), t(close.0, close.1))
}

fn utc(y: i32, m: u32, day: u32, hh: u32, mm: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, day, hh, mm, 0).unwrap()
}

/// Weekdays 09:00–18:00, a half-day Saturday 09:00–13:00, closed on Sundays.
fn half_day_saturday() -> PharmacyCalendar {
    PharmacyCalendar {
        hours: OpeningHours::every_day(hours((9, 0), (18, 0)).unwrap())
            .with(Weekday::Sat, hours((9, 0), (13, 0)))
            .with(Weekday::Sun, None),
        closures: Default::default(),
    }
}

fn text(open: &str, close: &str) -> Option<DayHoursText> {
    Some(DayHoursText {
        open: open.into(),
        close: close.into(),
    })
}

#[test]
fn a_half_day_saturday_is_an_open_day_and_nothing_moves_off_it() {
    let calendar = half_day_saturday();
    let prescription = prescription(daily_supervised_sat_covers_sun(), &calendar);

    let schedule = prescription.schedule(&calendar);

    assert!(calendar.is_open(d(11, 28)));
    let saturday = collect(&schedule, d(11, 28));
    assert_eq!(
        (saturday.supervised_dose(), saturday.take_home_doses()),
        (Some(mg(60.0)), 1),
        "Saturday's own dose is supervised on Saturday, never handed over early on Friday"
    );
    assert_eq!(collect(&schedule, d(11, 27)).take_home_doses(), 0);
    assert_eq!(
        calendar.closes_at(d(11, 28), &London),
        Some(utc(2026, 11, 28, 13, 0))
    );
}

#[test]
fn a_close_after_midnight_belongs_to_the_trading_day_that_opened() {
    // Open 08:00 to 01:00 the next morning, every day.
    let calendar = PharmacyCalendar {
        hours: OpeningHours::every_day(hours((8, 0), (1, 0)).unwrap()),
        closures: Default::default(),
    };

    assert_eq!(
        calendar.closes_at(d(11, 23), &London),
        Some(utc(2026, 11, 24, 1, 0)),
        "Monday's trading day closes at 01:00 on Tuesday"
    );
    let mut with_closure = calendar.clone();
    with_closure.closures.insert(d(11, 24));
    assert_eq!(with_closure.closes_at(d(11, 24), &London), None);
    assert_eq!(
        with_closure.closes_at(d(11, 23), &London),
        Some(utc(2026, 11, 24, 1, 0)),
        "a closure on Tuesday does not cut short Monday's late evening"
    );
}

#[test]
fn spring_forward_each_day_closes_at_its_own_local_close() {
    // Clocks go forward at 01:00 GMT on Sunday 29 March 2026.
    let calendar = PharmacyCalendar::closed_on(&[]);

    assert_eq!(
        calendar.closes_at(NaiveDate::from_ymd_opt(2026, 3, 28).unwrap(), &London),
        Some(utc(2026, 3, 28, 18, 0)),
        "Saturday: 18:00 GMT"
    );
    assert_eq!(
        calendar.closes_at(NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(), &London),
        Some(utc(2026, 3, 29, 17, 0)),
        "Sunday: 18:00 BST"
    );
}

#[test]
fn a_close_inside_the_spring_gap_is_the_first_instant_after_it() {
    // 08:00 to 01:30: on the night of the change 01:30 never happens; 02:00 BST (01:00 UTC) does.
    let calendar = PharmacyCalendar {
        hours: OpeningHours::every_day(hours((8, 0), (1, 30)).unwrap()),
        closures: Default::default(),
    };

    assert_eq!(
        calendar.closes_at(NaiveDate::from_ymd_opt(2026, 3, 28).unwrap(), &London),
        Some(utc(2026, 3, 29, 1, 0))
    );
}

#[test]
fn fall_back_a_repeated_close_is_taken_at_its_second_occurrence() {
    // Clocks go back at 02:00 BST on Sunday 25 October 2026: 01:30 happens twice.
    let calendar = PharmacyCalendar {
        hours: OpeningHours::every_day(hours((8, 0), (1, 30)).unwrap()),
        closures: Default::default(),
    };
    let saturday = NaiveDate::from_ymd_opt(2026, 10, 24).unwrap();

    assert_eq!(
        calendar.closes_at(saturday, &London),
        Some(utc(2026, 10, 25, 1, 30)),
        "01:30 GMT, the later of 00:30 UTC and 01:30 UTC: never closed while the clock still reads open"
    );
    assert_eq!(
        calendar.closes_at(saturday.succ_opt().unwrap(), &London),
        Some(utc(2026, 10, 26, 1, 30))
    );
}

#[test]
fn hours_from_the_api_are_checked_naming_each_field() {
    let given = OpeningHoursText {
        mon: text("9am", "18:00"),
        tue: text("09:00", "25:00"),
        wed: text("09:00", "09:00"),
        sat: text("09:00", "13:00"),
        ..Default::default()
    };

    let errors = OpeningHours::parse(&given, "opening_hours").unwrap_err();

    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "opening_hours.mon.open",
            "opening_hours.tue.close",
            "opening_hours.wed.close"
        ]
    );
    assert_eq!(
        errors[0].message,
        "must be a 24-hour time HH:MM, like 09:00"
    );
    assert!(
        errors[2]
            .message
            .contains("must differ from the opening time")
    );
}

#[test]
fn a_late_close_may_not_run_past_the_next_days_opening() {
    let given = OpeningHoursText {
        fri: text("08:00", "07:30"),
        sat: text("07:00", "13:00"),
        ..Default::default()
    };

    let errors = OpeningHours::parse(&given, "opening_hours").unwrap_err();

    assert_eq!(
        errors,
        vec![FieldError::new(
            "opening_hours.fri.close",
            "fri closes at 07:30 the next morning, after sat opens at 07:00; close by 07:00 or \
             open sat later"
        )]
    );
}

#[test]
fn hours_with_no_open_day_are_refused() {
    let errors = OpeningHours::parse(&OpeningHoursText::default(), "opening_hours").unwrap_err();

    assert_eq!(errors[0].field, "opening_hours");
}

#[test]
fn hours_round_trip_and_describe_the_older_fields() {
    let calendar = half_day_saturday();

    let json = serde_json::to_value(&calendar.hours).unwrap();
    let back: OpeningHours = serde_json::from_value(json.clone()).unwrap();

    assert_eq!(back, calendar.hours);
    assert_eq!(
        json["sat"],
        serde_json::json!({"open": "09:00", "close": "13:00"})
    );
    assert!(
        json.get("sun").is_none(),
        "a closed day is left out: {json}"
    );
    assert_eq!(calendar.closed_weekdays(), [Weekday::Sun]);
    assert_eq!(calendar.hours.usual_close(), Some(t(18, 0)));
    assert!(
        serde_json::from_value::<OpeningHours>(
            serde_json::json!({"mon": {"open": "x", "close": "18:00"}})
        )
        .is_err()
    );
}

#[test]
fn a_pharmacy_described_the_old_way_opens_at_nine_until_its_closing_time() {
    let old = OpeningHours::from_legacy(&[Weekday::Sun], t(18, 0));
    let early = OpeningHours::from_legacy(&[], t(8, 0));

    assert_eq!(old.on(Weekday::Mon), hours((9, 0), (18, 0)));
    assert_eq!(old.on(Weekday::Sun), None);
    assert_eq!(
        early.on(Weekday::Mon),
        hours((0, 0), (8, 0)),
        "an early close is not read as after midnight"
    );
}
