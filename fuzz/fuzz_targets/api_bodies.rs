//! Every JSON request body of the server API, through the decoder the handlers use
//! (`sotto_server::http::json::decode`), then through the checks the handler runs before it
//! touches the database. The first input byte picks the body type; the rest is the body.
//!
//! Properties: nothing panics; a refused body is a 400 (not JSON) or a 422 naming at least one
//! field; a prescription or regime change that passes validation lays out a schedule with one
//! day per date, each collected on or before its day, at most one supervised dose per
//! collection, no dose above the medicine's maximum.

#![no_main]

use std::collections::BTreeSet;

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use sotto_domain::{
    Collection, Directions, Medicine, PharmacyCalendar, Prescription, PrescriptionDraft,
    RegimeChangeDraft, Schedule, Weekday,
};
use sotto_server::error::Error;
use sotto_server::http::json::decode;
use sotto_server::core::{pharmacies, service_users, staff};
use sotto_server::http::holds;
use sotto_server::core::values::{self, Email, Name, OdsCode, Reference};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 9 {
        0 => {
            if let Some(b) = parse::<staff::CreateStaff>(body) {
                let _ = Name::parse("name", &b.name);
                let _ = Email::parse("email", &b.email);
            }
        }
        1 => {
            parse::<staff::AlertPreference>(body);
        }
        2 => {
            if let Some(b) = parse::<pharmacies::CreatePharmacy>(body) {
                let _ = OdsCode::parse("ods_code", &b.ods_code);
                let _ = Name::parse("name", &b.name);
                let _ = b.hours();
                let _ = values::parse_timezone("timezone", &b.timezone);
            }
        }
        3 => {
            if let Some(b) = parse::<pharmacies::CreateClosure>(body) {
                let _ = values::parse_text("note", &b.note, 200, false);
            }
        }
        4 => {
            if let Some(b) = parse::<service_users::CreateServiceUser>(body) {
                let _ = Reference::parse("reference", &b.reference);
                let _ = Name::parse("given_name", &b.given_name);
                let _ = Name::parse("family_name", &b.family_name);
                let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
                let _ = values::parse_date_of_birth("date_of_birth", b.date_of_birth, today);
                if let Some(e) = &b.heads_up_email {
                    let _ = Email::parse("heads_up_email", e);
                }
            }
        }
        5 => {
            if let Some(draft) = parse::<PrescriptionDraft>(body) {
                let calendar = calendar();
                if let Ok(p) = Prescription::new(draft, &calendar) {
                    check_schedule(&p, &p.schedule(&calendar));
                }
            }
        }
        6 => {
            if let Some(draft) = parse::<RegimeChangeDraft>(body) {
                let _ = values::parse_text("reason", &draft.reason, 2000, true);
                let calendar = calendar();
                let base = base_prescription(&calendar);
                if let Ok(regime) = base.validate_regime_change(&draft, &calendar) {
                    let changed = base.with_regime(regime.clone());
                    assert_eq!(changed.regime_on(regime.effective_from), &regime);
                    check_schedule(&changed, &changed.schedule(&calendar));
                }
            }
        }
        7 => {
            if let Some(b) = parse::<holds::PlaceHold>(body) {
                let _ = values::parse_text("reason", &b.reason, 2000, true);
            }
        }
        _ => {
            if let Some(b) = parse::<holds::LiftHold>(body) {
                let _ = values::parse_text("note", &b.note, 2000, false);
            }
        }
    }
});

/// Decodes as the handlers do; a refusal must be one the API documents.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    match decode::<T>(body) {
        Ok(value) => Some(value),
        Err(Error::BadRequest(_)) => None,
        Err(Error::Validation(fields)) => {
            assert!(!fields.is_empty(), "a 422 that names no field");
            None
        }
        Err(other) => panic!("a body was refused with {other:?}"),
    }
}

/// Closed on Sundays and on Tuesday 2026-12-01, so closures move instalments.
fn calendar() -> PharmacyCalendar {
    PharmacyCalendar {
        closures: BTreeSet::from([NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()]),
        ..PharmacyCalendar::closed_on(&[Weekday::Sun])
    }
}

/// API.md's example prescription, the base that regime changes are fuzzed against.
fn base_prescription(calendar: &PharmacyCalendar) -> Prescription {
    let day = |weekday, days| Collection {
        weekday,
        days,
        supervised: true,
    };
    let draft = PrescriptionDraft {
        medicine: Medicine::MethadoneOralSolution1mgMl,
        daily_dose_mg: 60.0,
        start_date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        end_date: NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
        collections: vec![
            day(Weekday::Mon, 1),
            day(Weekday::Tue, 1),
            day(Weekday::Wed, 1),
            day(Weekday::Thu, 1),
            day(Weekday::Fri, 1),
            day(Weekday::Sat, 2),
        ],
        directions: Directions::default(),
    };
    Prescription::new(draft, calendar).expect("API.md's example is valid")
}

fn check_schedule(p: &Prescription, schedule: &Schedule) {
    let days = schedule.days();
    let expected = (p.end_date() - p.start_date()).num_days() + 1;
    assert_eq!(days.len() as i64, expected, "one schedule day per date");
    let mut supervised_on = BTreeSet::new();
    for (i, d) in days.iter().enumerate() {
        assert_eq!(
            Some(d.date),
            p.start_date().checked_add_days(chrono::Days::new(i as u64))
        );
        assert!(d.collect_on <= d.date, "{d:?} is collected after its day");
        assert!(d.dose_mg.as_mg() <= p.medicine().max_daily_dose_mg());
        if d.supervised {
            assert!(!d.pharmacy_closed);
            assert!(
                supervised_on.insert(d.collect_on),
                "two supervised doses collected on {}",
                d.collect_on
            );
        }
    }
}
