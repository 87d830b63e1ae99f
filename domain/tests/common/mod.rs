//! Shared builders for the scenario tests: dates around a fortnight that starts on Monday
//! 2026-11-23, and the usual weekly patterns.
#![allow(dead_code)]

use chrono::NaiveDate;
use sotto_domain::*;

/// A date in November or December 2026.
pub fn d(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, day).unwrap()
}

pub fn c(weekday: Weekday, days: u8, supervised: bool) -> Collection {
    Collection {
        weekday,
        days,
        supervised,
    }
}

/// Daily supervised Mon–Fri; Saturday collects Saturday (supervised) and Sunday (take-home).
pub fn daily_supervised_sat_covers_sun() -> Vec<Collection> {
    use Weekday::*;
    let mut week: Vec<_> = [Mon, Tue, Wed, Thu, Fri].map(|w| c(w, 1, true)).to_vec();
    week.push(c(Sat, 2, true));
    week
}

/// A pharmacy closed on Sundays.
pub fn closed_sundays() -> PharmacyCalendar {
    PharmacyCalendar::closed_on(&[Weekday::Sun])
}

/// Methadone 60 mg from Mon 2026-11-23 to Sun 2026-12-06 (14 days).
pub fn draft(collections: Vec<Collection>) -> PrescriptionDraft {
    PrescriptionDraft {
        medicine: Medicine::MethadoneOralSolution1mgMl,
        daily_dose_mg: 60.0,
        start_date: d(11, 23),
        end_date: d(12, 6),
        collections,
        directions: Directions::default(),
    }
}

pub fn prescription(collections: Vec<Collection>, calendar: &PharmacyCalendar) -> Prescription {
    Prescription::new(draft(collections), calendar).expect("a valid prescription")
}

pub fn mg(value: f64) -> DoseMg {
    DoseMg::parse_mg(value, Medicine::MethadoneOralSolution1mgMl).unwrap()
}

/// The doses handed over on `date`, failing the test if nothing is due.
pub fn collect(schedule: &Schedule, date: NaiveDate) -> Due {
    match schedule.due_on(date) {
        DayPlan::Collect(due) => due,
        other => panic!("expected a collection on {date}, got {other:?}"),
    }
}

/// A supply recorded at the counter: the supervised dose taken or not, and the take-home dates.
pub fn supply(
    collect_on: NaiveDate,
    supervised_taken: bool,
    take_home: &[NaiveDate],
) -> SupplyRecord {
    SupplyRecord {
        collect_on,
        supervised_taken,
        take_home_dates: take_home.to_vec(),
        withheld: false,
    }
}
