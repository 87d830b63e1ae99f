//! Secrets Sotto hands out (API tokens, pharmacy credentials) and the hashes it stores instead.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};

/// A new random secret (256 bits), URL-safe, with a prefix that says what it is.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What we store instead of a token. Tokens are 256 random bits, so a fast hash is enough: there
/// is nothing to brute-force, and lookup by hash avoids a timing side channel on comparison.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Mosquitto's `$6$` password hash: base64(salt) and base64(SHA-512(password ‖ salt)).
/// Computed at enrolment, when the password is known, and stored instead of it.
pub fn mosquitto_hash(password: &str) -> String {
    let mut salt = [0u8; 12];
    rand::rng().fill_bytes(&mut salt);
    let mut h = Sha512::new();
    h.update(password.as_bytes());
    h.update(salt);
    format!(
        "$6${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(h.finalize())
    )
}
