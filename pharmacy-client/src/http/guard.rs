//! Who may change the counter's records: only the counter's own page, or a local program that
//! knows the API token. A web page from anywhere else, open in the same browser, must not be
//! able to record a supply, a missed dose or a closed day (docs/security.md, "The counter").
//!
//! - Every request must name the counter in `Host`: an IP literal, `localhost`, or a name in
//!   `SOTTO_COUNTER_HOSTS`; anything else is 421. DNS rebinding needs a host *name* the attacker
//!   controls, so refusing unknown names stops a foreign page from reading ours.
//! - Every state-changing request (POST) that a browser marks as cross-site (`Sec-Fetch-Site`)
//!   or from another origin (`Origin`) is refused with 403 before any handler runs.
//! - The page's forms carry a token only the page knows ([`Guard::form_token`]); the JSON API
//!   needs `Content-Type: application/json` and `Authorization: Bearer <token>`, which no
//!   browser sends cross-site without a CORS preflight, and we never answer one.
//! - Every answer carries headers that forbid framing and caching and stop referrers leaking.

use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

/// Where the API token lives when `SOTTO_COUNTER_API_TOKEN` is not set.
pub const TOKEN_FILE: &str = "api-token";

/// The secrets and names the checks need.
pub(crate) struct Guard {
    /// `Authorization: Bearer` for the JSON API.
    api_token: String,
    /// Put in every form the page renders; new at every start, so it is never on disk.
    form_token: String,
    /// Host names (lower case) accepted beside IP literals and `localhost`.
    hosts: Vec<String>,
}

impl Guard {
    pub(crate) fn new(api_token: String, hosts: Vec<String>) -> Guard {
        Guard {
            api_token,
            form_token: random_token(),
            hosts,
        }
    }

    pub(crate) fn form_token(&self) -> &str {
        &self.form_token
    }

    /// Whether a posted form carries the page's token (constant time).
    pub(crate) fn form_token_ok(&self, given: Option<&str>) -> bool {
        same_secret(given.unwrap_or_default(), &self.form_token)
    }

    fn host_ok(&self, host: &str) -> bool {
        let name = host_name(host).to_ascii_lowercase();
        name == "localhost"
            || name.parse::<std::net::IpAddr>().is_ok()
            || self.hosts.contains(&name)
    }
}

/// 32 random bytes, base64url.
pub(crate) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The API token: `configured` (from `SOTTO_COUNTER_API_TOKEN`), else the one in
/// `data_dir/api-token`, made (readable by this user only) on first start.
pub(crate) fn api_token(configured: Option<&str>, data_dir: &Path) -> std::io::Result<String> {
    if let Some(token) = configured {
        return Ok(token.to_string());
    }
    let path = data_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let token = random_token();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, token.as_bytes())?;
    Ok(token)
}

/// Equal and non-empty, compared in constant time.
fn same_secret(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// `127.0.0.1:8081` → `127.0.0.1`; `[::1]:8081` → `::1`; `counter.local` → `counter.local`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Refuses requests whose `Host` is not the counter (421), and cross-site POSTs (403); adds
/// the security headers to every answer.
pub(crate) async fn check_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let refused = if !state.guard.host_ok(&host) {
        tracing::warn!("refused a request for another host name");
        Some(ApiError::WrongHost)
    } else if !matches!(*request.method(), Method::GET | Method::HEAD) && cross_site(headers, &host)
    {
        tracing::warn!(method = %request.method(), "refused a cross-site request");
        Some(ApiError::CrossSite)
    } else {
        None
    };
    let mut response = match refused {
        Some(error) => error.into_response(),
        None => next.run(request).await,
    };
    security_headers(response.headers_mut());
    response
}

/// Whether the browser says this request comes from another site or origin. `Sec-Fetch-Site`
/// (set by the browser, never by a page) decides when present. Without it (older browsers) a
/// foreign `Origin` is refused; `Origin: null` is left to the tokens, because browsers send it
/// for the counter's own forms too under `Referrer-Policy: no-referrer`. A local program (curl,
/// the service's tools) sends neither header.
fn cross_site(headers: &HeaderMap, host: &str) -> bool {
    let value = |name| headers.get(name).map(|v| v.to_str().unwrap_or("?"));
    if let Some(site) = value("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match value(header::ORIGIN.as_str()) {
        None | Some("null") => false,
        Some(origin) => {
            let host = host.to_ascii_lowercase();
            let origin = origin.to_ascii_lowercase();
            origin != format!("http://{host}") && origin != format!("https://{host}")
        }
    }
}

fn security_headers(headers: &mut HeaderMap) {
    for (name, value) in super::html::SECURITY_HEADERS.iter() {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(*name, value);
        }
    }
}

/// For the JSON API's POSTs: `Content-Type: application/json` (415 otherwise) and the API
/// token as `Authorization: Bearer …` (401 otherwise), checked before the body is read.
pub(crate) async fn require_api_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let headers = request.headers();
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return ApiError::NotJsonContentType.into_response();
    }
    if !bearer_ok(&state, headers) {
        return ApiError::Unauthorized.into_response();
    }
    next.run(request).await
}

/// For the JSON API's reads that name people (`GET /api/today` lists everyone due, with
/// their names): the API token, as for its POSTs (401 otherwise).
pub(crate) async fn require_api_token_to_read(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !bearer_ok(&state, request.headers()) {
        return ApiError::Unauthorized.into_response();
    }
    next.run(request).await
}

/// Whether the request carries the API token as `Authorization: Bearer …`.
fn bearer_ok(state: &AppState, headers: &HeaderMap) -> bool {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let ok = same_secret(token.trim(), &state.guard.api_token);
    if !ok {
        tracing::warn!("refused an API request without the counter's token");
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_the_counters_own_or_configured() {
        let guard = Guard::new("t".into(), vec!["counter.pharmacy.local".into()]);
        for ok in [
            "127.0.0.1:8081",
            "127.0.0.1",
            "[::1]:8081",
            "10.0.0.5:8081",
            "localhost:8081",
            "LOCALHOST",
            "counter.pharmacy.local:8081",
        ] {
            assert!(guard.host_ok(ok), "{ok} should be accepted");
        }
        for refused in [
            "evil.example",
            "evil.example:8081",
            "",
            "127.0.0.1.evil.example",
        ] {
            assert!(!guard.host_ok(refused), "{refused} should be refused");
        }
    }

    #[test]
    fn cross_site_is_what_the_browser_says_it_is() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        let host = "127.0.0.1:8081";
        assert!(!cross_site(&headers(&[]), host), "curl sends neither");
        assert!(!cross_site(
            &headers(&[
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:8081")
            ]),
            host
        ));
        assert!(cross_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            host
        ));
        assert!(cross_site(
            &headers(&[("sec-fetch-site", "same-site")]),
            host
        ));
        assert!(cross_site(
            &headers(&[("origin", "http://evil.example")]),
            host
        ));
        assert!(cross_site(
            &headers(&[("sec-fetch-site", "cross-site"), ("origin", "null")]),
            host
        ));
        assert!(
            !cross_site(
                &headers(&[("sec-fetch-site", "same-origin"), ("origin", "null")]),
                host
            ),
            "the counter's own form under no-referrer"
        );
        assert!(
            !cross_site(&headers(&[("origin", "null")]), host),
            "left to the tokens"
        );
        assert!(cross_site(
            &headers(&[("origin", "http://127.0.0.1:9999")]),
            host
        ));
    }

    #[test]
    fn secrets_compare_equal_only_when_equal_and_present() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("", "abc"));
        assert!(!same_secret("", ""));
        assert!(!same_secret("abcd", "abc"));
    }

    #[test]
    fn the_token_file_is_made_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("sotto-guard-{}", random_token()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = api_token(None, &dir).unwrap();
        assert!(first.len() >= 40);
        assert_eq!(api_token(None, &dir).unwrap(), first);
        assert_eq!(api_token(Some("given"), &dir).unwrap(), "given");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only this user may read the token");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
