//! Authenticated server messages. The server signs every message it sends a pharmacy with its
//! Ed25519 key; the client pins the server's public key at enrolment and accepts nothing else, so
//! another broker user — or a compromised broker — cannot lift a hold or change a dose.
//!
//! Wire form: `<signature, base64url without padding>.<the message's JSON>`. The signature
//! covers the JSON bytes exactly as sent, so no canonical form is needed.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::{DecodeError, ServerMessage, decode};

/// The server's signing key. Its secret never leaves the server.
pub struct ServerKey(SigningKey);

impl ServerKey {
    /// From the 32 secret bytes (generated once with a CSPRNG and stored by the server).
    pub fn from_secret(secret: [u8; 32]) -> ServerKey {
        ServerKey(SigningKey::from_bytes(&secret))
    }

    pub fn secret(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs a message (already encoded as JSON) for the wire.
    pub fn seal_bytes(&self, json: &[u8]) -> Vec<u8> {
        let sig = self.0.sign(json);
        let mut out = URL_SAFE_NO_PAD.encode(sig.to_bytes()).into_bytes();
        out.push(b'.');
        out.extend_from_slice(json);
        out
    }

    pub fn seal(&self, message: &ServerMessage) -> Vec<u8> {
        self.seal_bytes(&crate::encode(message))
    }
}

// The secret must never reach a log line.
impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerKey(public: {})", self.public())
    }
}

/// The server's public key, as pinned by a pharmacy (base64url, 43 characters).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(s.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("not a server public key (43 characters of base64url)")?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| "not a valid Ed25519 public key".to_string())
    }
}

/// Checks the signature with the pinned key, then decodes the message.
pub fn open(bytes: &[u8], key: &PublicKey) -> Result<ServerMessage, DecodeError> {
    if bytes.len() > crate::MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    let dot = bytes
        .iter()
        .position(|b| *b == b'.')
        .filter(|&i| i == 86)
        .ok_or(DecodeError::Unsigned)?;
    let (sig, json) = (&bytes[..dot], &bytes[dot + 1..]);
    let sig: [u8; 64] = URL_SAFE_NO_PAD
        .decode(sig)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(DecodeError::Unsigned)?;
    key.0
        .verify(json, &Signature::from_bytes(&sig))
        .map_err(|_| DecodeError::BadSignature)?;
    decode(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ServerBody, ServerMessage};

    fn key(n: u8) -> ServerKey {
        ServerKey::from_secret([n; 32])
    }

    #[test]
    fn a_sealed_message_opens_with_the_pinned_key_only() {
        let m = ServerMessage::new("p1", ServerBody::Heartbeat { seq: 3 });
        let wire = key(1).seal(&m);
        assert_eq!(open(&wire, &key(1).public()).unwrap(), m);
        assert!(matches!(
            open(&wire, &key(2).public()),
            Err(DecodeError::BadSignature)
        ));
    }

    #[test]
    fn unsigned_and_tampered_messages_are_refused() {
        let m = ServerMessage::new("p1", ServerBody::Heartbeat { seq: 3 });
        let pk = key(1).public();
        assert!(matches!(
            open(&crate::encode(&m), &pk),
            Err(DecodeError::Unsigned)
        ));
        let mut wire = key(1).seal(&m);
        let last = wire.len() - 2;
        wire[last] = b'9'; // seq 3 → 9 inside the signed JSON
        assert!(matches!(open(&wire, &pk), Err(DecodeError::BadSignature)));
    }

    #[test]
    fn public_keys_round_trip_as_text() {
        let pk = key(7).public();
        assert_eq!(pk.to_string().parse::<PublicKey>().unwrap(), pk);
        assert!("short".parse::<PublicKey>().is_err());
    }
}
