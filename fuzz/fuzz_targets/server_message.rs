//! What reaches a pharmacy on its state topic: `open` (signature, then JSON) and the JSON decoder
//! behind it. Random bytes almost never carry a valid signature, so each input is also sealed
//! with a fixed test key and opened: that drives the fuzzer into the JSON decoder.
//!
//! Properties: nothing panics; only a correctly signed message opens; a sealed message is
//! refused only for its content; what opens re-encodes to an equal message.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sotto_protocol::{DecodeError, PublicKey, ServerKey, ServerMessage, decode, encode, open};

static KEY: LazyLock<(ServerKey, PublicKey)> = LazyLock::new(|| {
    let key = ServerKey::from_secret([7; 32]);
    let public = key.public();
    (key, public)
});

fuzz_target!(|data: &[u8]| {
    let (key, public) = &*KEY;

    // As it arrives from the broker.
    if let Ok(message) = open(data, public) {
        round_trips(&message);
    }

    // The same bytes as a message the server signed.
    let sealed = key.seal_bytes(data);
    let decoded = decode::<ServerMessage>(data);
    match (open(&sealed, public), decoded) {
        (Ok(opened), Ok(decoded)) => {
            assert_eq!(opened, decoded);
            round_trips(&opened);
        }
        (Err(DecodeError::Unsigned | DecodeError::BadSignature), _) => {
            panic!("a message sealed with the pinned key was refused as unsigned")
        }
        (Err(_), Err(_)) => {}
        (opened, decoded) => panic!("open and decode disagree: {opened:?} vs {decoded:?}"),
    }
});

fn round_trips(message: &ServerMessage) {
    let again: ServerMessage = decode(&encode(message)).expect("an encoded message decodes");
    assert_eq!(&again, message);
}
