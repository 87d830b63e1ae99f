//! The pharmacy client's request bodies, through the decoders its handlers run: `POST
//! /api/supplies` (JSON), `POST /api/close-day` (JSON) and the counter page's supply form
//! (`application/x-www-form-urlencoded`, decoded by axum's `Form` with serde_urlencoded). The
//! first input byte picks the body; the rest is the body.
//!
//! Properties: nothing panics; a refusal is "not JSON" or names at least one field; an accepted
//! supply names a person; an accepted close-day date prints back as the date it was read from.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_pharmacy::decode::{ApiError, SupplyForm, close_day_request, supply_request};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => match supply_request(body) {
            Ok(request) => assert!(!request.reference.trim().is_empty()),
            Err(e) => refused_plainly(e),
        },
        1 => match close_day_request(body) {
            Ok(request) => {
                let date = request.date;
                let printed = date.format("%Y-%m-%d").to_string();
                let again = chrono::NaiveDate::parse_from_str(&printed, "%Y-%m-%d");
                assert_eq!(again, Ok(date), "{printed}");
            }
            Err(e) => refused_plainly(e),
        },
        _ => {
            if let Ok(form) = serde_urlencoded::from_bytes::<SupplyForm>(body) {
                let _ = form.request();
            }
        }
    }
});

fn refused_plainly(e: ApiError) {
    match e {
        ApiError::NotJson(_) => {}
        ApiError::Invalid(fields) => assert!(!fields.is_empty(), "a 422 that names no field"),
        other => panic!("a body was refused with {other:?}"),
    }
}
