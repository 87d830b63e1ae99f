//! Security headers on every console answer: the pages show people's names, dates of birth
//! and holds, so they are never framed (clickjacking a "lift hold" button), never cached, and
//! never leak their address as a referrer; the content security policy allows our own
//! resources and the inline stylesheet (by its hash) only: the console has no script at all.
//! Over HTTPS (a certificate, or an `https://` public URL behind a proxy) browsers are also
//! told to use HTTPS only (HSTS).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::core::AppState;

/// How long browsers remember to use HTTPS only: one year.
const HSTS: &str = "max-age=31536000";

pub async fn security_headers(
    State(st): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let https = st.config.tls.is_some() || st.config.public_url.starts_with("https://");
    set(response.headers_mut(), https);
    response
}

fn set(headers: &mut HeaderMap, https: bool) {
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    for (name, value) in super::html::SECURITY_HEADERS.iter() {
        put(name, value);
    }
    if https {
        put(header::STRICT_TRANSPORT_SECURITY.as_str(), HSTS);
    }
}
