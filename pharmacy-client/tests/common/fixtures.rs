//! Hand-built protocol messages: a pharmacy, people on simple daily prescriptions around
//! today, snapshots and deltas.

use chrono::{NaiveDate, Utc};
use sotto_domain::{Directions, DoseDay, DoseMg, HoldKind, Weekday};
use sotto_protocol::{Change, HoldState, PersonState, PharmacyInfo, PrescriptionState, ServerBody};

pub fn today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive()
}

pub fn pharmacy(id: &str) -> PharmacyInfo {
    PharmacyInfo {
        id: id.to_string(),
        ods_code: "FA001".into(),
        name: "High Street Pharmacy".into(),
        closed_weekdays: vec![],
        closing_time: "18:00".into(),
        timezone: "Europe/London".into(),
        closures: vec![],
        service_phone: Some("0161 496 0000".into()),
        opening_hours: None,
    }
}

/// A person on a daily supervised prescription of `dose_mg` from 3 days ago to 10 days ahead.
pub fn person(
    id: &str,
    reference: &str,
    family: &str,
    dose_mg: u32,
    holds: &[HoldKind],
) -> PersonState {
    let start = today() - chrono::Days::new(3);
    let end = today() + chrono::Days::new(10);
    let days = start
        .iter_days()
        .take_while(|d| *d <= end)
        .map(|date| DoseDay {
            date,
            dose_mg: DoseMg::from_micrograms(i64::from(dose_mg) * 1000).unwrap(),
            supervised: true,
            collect_on: date,
            nominal_collect_on: date,
            pharmacy_closed: false,
        })
        .collect();
    PersonState {
        service_user_id: id.to_string(),
        reference: reference.to_string(),
        given_name: "Sam".into(),
        family_name: family.to_string(),
        date_of_birth: NaiveDate::from_ymd_opt(1985, 4, 12).unwrap(),
        holds: holds
            .iter()
            .enumerate()
            .map(|(i, kind)| HoldState {
                id: format!("h{i}"),
                kind: *kind,
            })
            .collect(),
        prescriptions: vec![PrescriptionState {
            id: format!("rx-{id}"),
            start_date: start,
            end_date: end,
            directions: Default::default(),
            days,
            medicine: None,
            prescriber: None,
        }],
        last_review_on: None,
        stay: None,
    }
}

pub fn snapshot(seq: u64, pharmacy_id: &str, people: Vec<PersonState>) -> ServerBody {
    ServerBody::Snapshot {
        seq,
        pharmacy: pharmacy(pharmacy_id),
        people,
    }
}

pub fn delta(seq: u64, person: PersonState) -> ServerBody {
    ServerBody::Delta {
        seq,
        change: Change::Person(person),
    }
}

/// A date in November 2026 (Monday 9 November starts the test week; the tests run later).
pub fn nov(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
}

/// `hh:mm` in London on `date`, as UTC (November: no summer time).
pub fn london(date: NaiveDate, hh: u32, mm: u32) -> chrono::DateTime<Utc> {
    use chrono::TimeZone;
    chrono_tz::Europe::London
        .from_local_datetime(&date.and_hms_opt(hh, mm, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// A prescription of `dose_mg` from `start` to `end`, whose instalments start on the days
/// `collects` says, the first dose of each supervised when `supervised`.
pub fn prescription(
    start: NaiveDate,
    end: NaiveDate,
    dose_mg: u32,
    supervised: bool,
    collects: impl Fn(NaiveDate) -> bool,
    directions: Directions,
) -> PrescriptionState {
    let mut collect_on = start;
    let days = start
        .iter_days()
        .take_while(|d| *d <= end)
        .map(|date| {
            if collects(date) {
                collect_on = date;
            }
            DoseDay {
                date,
                dose_mg: DoseMg::from_micrograms(i64::from(dose_mg) * 1000).unwrap(),
                supervised: supervised && date == collect_on,
                collect_on,
                nominal_collect_on: collect_on,
                pharmacy_closed: false,
            }
        })
        .collect();
    PrescriptionState {
        id: format!("rx-{start}"),
        start_date: start,
        end_date: end,
        directions,
        days,
        medicine: None,
        prescriber: None,
    }
}

/// A person holding `prescription` and no holds.
pub fn person_on(id: &str, reference: &str, prescription: PrescriptionState) -> PersonState {
    PersonState {
        service_user_id: id.to_string(),
        reference: reference.to_string(),
        given_name: "Sam".into(),
        family_name: "Taylor".into(),
        date_of_birth: NaiveDate::from_ymd_opt(1985, 4, 12).unwrap(),
        holds: vec![],
        prescriptions: vec![prescription],
        last_review_on: None,
        stay: None,
    }
}

/// Daily supervised, every day from Monday 9 to Sunday 22 November.
pub fn daily_supervised(id: &str, reference: &str) -> PersonState {
    person_on(
        id,
        reference,
        prescription(nov(9), nov(22), 60, true, |_| true, Directions::default()),
    )
}

/// Weekly: Monday collects 7 days (first dose supervised when `supervised`), 9–22 November.
pub fn weekly(id: &str, reference: &str, supervised: bool, directions: Directions) -> PersonState {
    use chrono::Datelike;
    let mondays = |d: NaiveDate| d.weekday() == chrono::Weekday::Mon;
    person_on(
        id,
        reference,
        prescription(nov(9), nov(22), 60, supervised, mondays, directions),
    )
}

/// A snapshot for a pharmacy closed on Sundays, with one closure on `closure` if given.
pub fn snapshot_closed_sundays(
    seq: u64,
    pharmacy_id: &str,
    closure: Option<NaiveDate>,
    people: Vec<PersonState>,
) -> ServerBody {
    let mut info = pharmacy(pharmacy_id);
    info.closed_weekdays = vec![Weekday::Sun];
    info.closures = closure.into_iter().collect();
    ServerBody::Snapshot {
        seq,
        pharmacy: info,
        people,
    }
}
