//! Values read from text and numbers at the edges: weekdays and medicines (API names), doses in
//! mg (the API's `daily_dose_mg` and the wire's `dose_mg`), weekly collection patterns, and the
//! server's checked text values (ODS codes, references, e-mail addresses, names). The first
//! input byte picks the parser; the rest is its input.
//!
//! Properties: nothing panics; names round-trip; an accepted dose is within the medicine's
//! bounds, a whole number of tenths of a mg, and survives storage and JSON unchanged;
//! normalising a text value twice changes nothing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_domain::{Collection, DoseMg, Medicine, Weekday, WeeklyCollections};
use sotto_server::core::values::{Email, Name, OdsCode, Reference};

const MEDICINES: [Medicine; 3] = [
    Medicine::MethadoneOralSolution1mgMl,
    Medicine::BuprenorphineSublingual,
    Medicine::BuprenorphineOralLyophilisate,
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match which % 6 {
        0 => {
            if let Ok(day) = text.parse::<Weekday>() {
                assert_eq!(day.as_str(), text);
            }
            if let Ok(medicine) = text.parse::<Medicine>() {
                assert_eq!(medicine.as_str(), text);
            }
        }
        1 => {
            // A dose typed by a clinician: any f64 bit pattern, any medicine.
            let Some(bits) = rest.get(..8) else { return };
            let mg = f64::from_le_bytes(bits.try_into().unwrap());
            let medicine = MEDICINES[usize::from(rest[8..].first().copied().unwrap_or(0) % 3)];
            if let Ok(dose) = DoseMg::parse_mg(mg, medicine) {
                assert!(mg > 0.0 && mg <= medicine.max_daily_dose_mg(), "{mg}");
                assert_eq!(dose.micrograms() % 100, 0, "{mg} is not whole tenths");
                assert!((dose.as_mg() - mg).abs() < 1e-6, "{mg} stored as {dose}");
                stored_and_sent_unchanged(dose);
            }
        }
        2 => {
            // A dose on the wire (JSON number).
            if let Ok(dose) = serde_json::from_slice::<DoseMg>(rest) {
                stored_and_sent_unchanged(dose);
            }
        }
        3 => {
            // A weekly pattern, each collection from three bytes; the last byte's bits close days.
            let collections: Vec<Collection> = rest
                .chunks_exact(3)
                .map(|c| Collection {
                    weekday: Weekday::ALL[usize::from(c[0] % 7)],
                    days: c[1] % 9,
                    supervised: c[2] & 1 == 1,
                })
                .collect();
            let closed: Vec<Weekday> = Weekday::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| rest.last().is_some_and(|b| b & (1 << i) != 0))
                .map(|(_, d)| d)
                .collect();
            match WeeklyCollections::parse(collections, &closed, "collections") {
                Ok(week) => {
                    for day in Weekday::ALL {
                        let (c, offset) = week.covering(day);
                        assert!(offset < c.days, "{day} is not covered by {c:?}");
                    }
                    for c in week.as_slice() {
                        assert!(!closed.contains(&c.weekday));
                    }
                }
                Err(errors) => assert!(!errors.is_empty()),
            }
        }
        4 => {
            if let Ok(v) = OdsCode::parse("f", &text) {
                assert_eq!(OdsCode::parse("f", v.as_str()).as_ref(), Ok(&v));
            }
            if let Ok(v) = Reference::parse("f", &text) {
                assert_eq!(Reference::parse("f", v.as_str()).as_ref(), Ok(&v));
            }
        }
        _ => {
            if let Ok(v) = Email::parse("f", &text) {
                assert_eq!(Email::parse("f", v.as_str()).as_ref(), Ok(&v));
            }
            if let Ok(v) = Name::parse("f", &text) {
                assert_eq!(Name::parse("f", v.as_str()).as_ref(), Ok(&v));
            }
        }
    }
});

fn stored_and_sent_unchanged(dose: DoseMg) {
    assert_eq!(DoseMg::from_micrograms(dose.micrograms()), Some(dose));
    let json = serde_json::to_vec(&dose).unwrap();
    assert_eq!(serde_json::from_slice::<DoseMg>(&json).unwrap(), dose);
}
