//! Staff passwords: Argon2id with the crate's default parameters, stored as PHC strings.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sotto_domain::FieldError;

/// Shortest password accepted; length matters more than character classes.
pub const MIN_CHARS: usize = 12;

/// Checks a new password's length (the one rule), naming `field`.
pub fn validate(field: &str, password: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if n < MIN_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be at least {MIN_CHARS} characters (it has {n})"),
        ));
    }
    if n > 1000 {
        return Err(FieldError::new(field, "must be at most 1000 characters"));
    }
    Ok(())
}

/// Hashes a password into a PHC string (algorithm, parameters and salt included).
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    // Salt from rand 0.9 bytes: argon2 0.5 expects rand_core 0.6, which we don't otherwise need.
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("default Argon2 parameters hash any password")
        .to_string()
}

/// Verifies in constant time (the crate compares the outputs); a malformed stored hash is a
/// mismatch, never a panic.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the e-mail is unknown, so both cases take the same time.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not a real password, only for timing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_own_password() {
        let h = hash("correct horse battery");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterx", &h));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn short_passwords_are_refused_with_a_clear_message() {
        let e = validate("password", "short").unwrap_err();
        assert_eq!(e.message, "must be at least 12 characters (it has 5)");
        assert!(validate("password", "twelve chars").is_ok());
    }
}
