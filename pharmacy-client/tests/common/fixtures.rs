//! Hand-built protocol messages: a pharmacy, people on simple daily prescriptions around
//! today, snapshots and deltas.

use chrono::{NaiveDate, Utc};
use sotto_domain::{DoseDay, DoseMg, HoldKind};
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
        }],
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
