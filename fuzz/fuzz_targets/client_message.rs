//! What reaches the server on a pharmacy's reports topic: the topic name and
//! `decode::<ClientMessage>`, exactly as `server/src/sync/reports.rs` calls them.
//!
//! Input: the topic, a NUL byte, then the payload (no NUL: the whole input is the payload on
//! `sotto/v1/pharmacy/p1/reports`).
//!
//! Properties: nothing panics; a topic that names a pharmacy is that pharmacy's reports topic;
//! what decodes re-encodes to an equal message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_protocol::{ClientMessage, decode, encode, pharmacy_of_reports_topic, reports_topic};

fuzz_target!(|data: &[u8]| {
    let (topic, payload) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (String::from_utf8_lossy(&data[..nul]), &data[nul + 1..]),
        None => ("sotto/v1/pharmacy/p1/reports".into(), data),
    };
    if let Some(pharmacy) = pharmacy_of_reports_topic(&topic) {
        assert_eq!(reports_topic(pharmacy), topic);
    }
    if let Ok(message) = decode::<ClientMessage>(payload) {
        let again: ClientMessage = decode(&encode(&message)).expect("an encoded message decodes");
        assert_eq!(again, message);
    }
});
