//! The browser side of Sotto's two web front ends, the staff console and the counter page:
//! the security headers every answer carries, shared so the two can never drift apart. Both
//! pages are server-rendered with no script and one inline stylesheet, allowed by its hash.

use base64::Engine;
use sha2::Digest;

/// A stylesheet's hash as a content security policy names it: `sha256-…` (standard base64).
pub fn style_hash(css: &str) -> String {
    let digest = sha2::Sha256::digest(css.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The headers for a page whose only inline content is the stylesheet `css`: our own resources
/// only, no script at all, forms only to ourselves, never in a frame (clickjacking), never
/// cached (personal data), no referrer, no content sniffing. Names in lower case.
pub fn security_headers(css: &str) -> [(&'static str, String); 5] {
    [
        (
            "content-security-policy",
            format!(
                "default-src 'self'; script-src 'none'; style-src 'self' '{}'; \
                 form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
                style_hash(css)
            ),
        ),
        ("x-frame-options", "DENY".into()),
        ("referrer-policy", "no-referrer".into()),
        ("cache-control", "no-store".into()),
        ("x-content-type-options", "nosniff".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_given_stylesheet_and_no_frame() {
        // The hash of "body{}" as browsers compute it (sha256, base64).
        assert_eq!(
            style_hash("body{}"),
            "sha256-fJgEClQWV1hGkK4qHMO0KotTsVnMYMXTq7/suurGyUo="
        );
        let headers = security_headers("body{}");
        let csp = &headers[0].1;
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'none'"));
        assert!(csp.contains("'sha256-fJgEClQWV1hGkK4qHMO0KotTsVnMYMXTq7/suurGyUo='"));
        assert!(headers.contains(&("x-frame-options", "DENY".to_string())));
    }
}
