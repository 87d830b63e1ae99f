//! Console sessions and CSRF protection.
//!
//! The session cookie holds 32 random bytes; the database holds only their SHA-256, so a copy of
//! the table cannot be used to sign in. Each session has its own CSRF token (synchronizer
//! pattern), carried in a hidden `csrf` field of every form and compared in constant time. The
//! sign-in form, before there is a session, uses a double-submit cookie instead.
//!
//! Cookies are parsed by hand: two cookies, one attribute set, and a cookie-jar crate would add
//! a dependency for a dozen lines.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sqlx::Row;

use super::html::{self, Viewer, esc};
use crate::config::Config;
use crate::core::AppState;
use crate::core::access::{Caller, Role};
use crate::core::db::{audit::Actor, audit::WriteTx, now_text};
use crate::core::secrets::hash_secret;
use crate::error::Error;

pub const SESSION_COOKIE: &str = "sotto_session";
/// The double-submit CSRF cookie of the sign-in form.
pub const PRE_SESSION_COOKIE: &str = "sotto_signin_csrf";

/// 32 random bytes, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Equal in constant time (the length is not secret).
pub fn same_token(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure when served over https.
pub fn set_cookie(
    config: &Config,
    name: &str,
    value: &str,
    max_age_secs: Option<i64>,
) -> HeaderValue {
    let secure = if config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let max_age = max_age_secs
        .map(|s| format!("; Max-Age={s}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path=/{secure}{max_age}"
    ))
    .expect("cookie values are base64url")
}

/// A signed-in staff member, resolved from the session cookie.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    pub caller: Caller,
    pub name: String,
    pub csrf: String,
    id_hash: String,
}

impl ConsoleUser {
    pub fn viewer(&self) -> Viewer<'_> {
        Viewer {
            name: &self.name,
            role: self.caller.role,
            csrf: &self.csrf,
        }
    }

    /// The audit actor: the staff member, exactly as with a bearer token.
    pub fn actor(&self) -> Actor {
        Actor(self.caller.id.clone())
    }

    /// 403 (nothing changed) unless `token` is this session's CSRF token.
    pub fn check_csrf(&self, token: &str) -> Result<(), ConsoleError> {
        if same_token(token, &self.csrf) {
            Ok(())
        } else {
            Err(ConsoleError(csrf_refused()))
        }
    }

    /// An error page with this viewer's navigation.
    pub fn error(&self, e: Error) -> Response {
        error_page(&e, Some(&self.viewer()))
    }
}

pub fn csrf_refused() -> Error {
    Error::Forbidden(
        "this form has expired or did not come from the console; go back, reload the page and try again"
            .into(),
    )
}

/// Creates a session for a staff member who has just proved their password; returns the cookie
/// value. Audited by the caller's transaction.
pub async fn create(
    w: &mut WriteTx,
    staff_id: &str,
    absolute: std::time::Duration,
) -> crate::error::Result<String> {
    let id = random_token();
    let now = now_text();
    // Sessions past the absolute limit are dead anyway; sweep them here so the table stays small.
    let cutoff = (Utc::now() - chrono::Duration::from_std(absolute).unwrap_or_default())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query("DELETE FROM console_sessions WHERE created_at < $1")
        .bind(cutoff)
        .execute(&mut *w.tx)
        .await?;
    sqlx::query(
        "INSERT INTO console_sessions (id_hash, staff_id, csrf_token, created_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash_secret(&id))
    .bind(staff_id)
    .bind(random_token())
    .bind(&now)
    .bind(&now)
    .execute(&mut *w.tx)
    .await?;
    Ok(id)
}

/// Ends a session (sign-out).
pub async fn delete(w: &mut WriteTx, user: &ConsoleUser) -> crate::error::Result<()> {
    sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
        .bind(&user.id_hash)
        .execute(&mut *w.tx)
        .await?;
    w.audit(
        &user.actor(),
        "console.sign_out",
        &format!("staff:{}", user.caller.id),
        serde_json::json!({}),
    )
    .await
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Where an unauthenticated console request is sent: to sign in, and (for a page, not a form
/// post) back to the page it asked for afterwards, so a link in an e-mail lands on its person.
fn to_sign_in(parts: &Parts) -> Response {
    // Inside `/console` the router sees the path without its prefix: take the original.
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    let wanted = uri.path_and_query().map(|p| p.as_str());
    match wanted {
        Some(wanted) if parts.method == axum::http::Method::GET => {
            match super::html::return_path(wanted) {
                Some(path) => Redirect::to(&format!(
                    "/console/sign-in?next={}",
                    super::html::encode_component(path)
                ))
                .into_response(),
                None => Redirect::to("/console/sign-in").into_response(),
            }
        }
        _ => Redirect::to("/console/sign-in").into_response(),
    }
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        match resolve(parts, st).await {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(to_sign_in(parts)),
            Err(e) => Err(error_page(&e, None)),
        }
    }
}

/// The session's staff member, or `None` without a live session (missing, unknown, idle too
/// long, or older than the absolute limit).
async fn resolve(parts: &Parts, st: &AppState) -> crate::error::Result<Option<ConsoleUser>> {
    let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let id_hash = hash_secret(&id);
    let row = sqlx::query(
        "SELECT s.staff_id, s.csrf_token, s.created_at, s.last_seen_at, st.name, st.role, \
         st.pharmacy_id FROM console_sessions s JOIN staff st ON st.id = s.staff_id \
         WHERE s.id_hash = $1",
    )
    .bind(&id_hash)
    .fetch_optional(st.store.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let now = Utc::now();
    let created = parse_time(&row.try_get::<String, _>("created_at")?);
    let seen = parse_time(&row.try_get::<String, _>("last_seen_at")?);
    let c = &st.config;
    let within = |since: DateTime<Utc>, limit: std::time::Duration| {
        now - since < chrono::Duration::from_std(limit).unwrap_or_default()
    };
    let fresh = match (created, seen) {
        (Some(created), Some(seen)) => {
            within(created, c.session_absolute) && within(seen, c.session_idle)
        }
        _ => false,
    };
    if !fresh {
        return Ok(None);
    }
    // Not audited: keeping a session alive is not a change anyone acts on.
    sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE id_hash = $2")
        .bind(now_text())
        .bind(&id_hash)
        .execute(st.store.pool())
        .await?;
    let role = Role::parse(&row.try_get::<String, _>("role")?)
        .ok_or_else(|| Error::Internal("stored role is unknown".into()))?;
    Ok(Some(ConsoleUser {
        caller: Caller {
            id: row.try_get("staff_id")?,
            role,
            pharmacy_id: row.try_get("pharmacy_id")?,
        },
        name: row.try_get("name")?,
        csrf: row.try_get("csrf_token")?,
        id_hash,
    }))
}

/// A readable error page with the API's status code.
pub fn error_page(e: &Error, viewer: Option<&Viewer>) -> Response {
    let status = e.status();
    if status.is_server_error() {
        tracing::error!(error = ?e, "console request failed");
    }
    let (title, detail) = match e {
        Error::Forbidden(d) => ("Not allowed".to_string(), d.clone()),
        Error::NotFound(what) => (
            "Not found".to_string(),
            format!("This {what} was not found."),
        ),
        Error::Database(_) | Error::Internal(_) => (
            "Something went wrong".to_string(),
            "Something went wrong on our side; it has been logged.".to_string(),
        ),
        other => (
            status.canonical_reason().unwrap_or("Error").to_string(),
            other.to_string(),
        ),
    };
    let back = if viewer.is_some() {
        "<p><a href=\"/console\">Back to the console</a></p>"
    } else {
        "<p><a href=\"/console/sign-in\">Sign in</a></p>"
    };
    html::page(
        status,
        &title,
        viewer,
        &format!("<p class=\"notice\">{}</p>{back}", esc(&detail)),
    )
}

/// A console failure shown as an HTML page (status from [`Error`]).
pub struct ConsoleError(pub Error);

impl From<Error> for ConsoleError {
    fn from(e: Error) -> Self {
        ConsoleError(e)
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        error_page(&self.0, None)
    }
}

/// Adds `Set-Cookie` to a response.
pub fn with_cookie(mut res: Response, value: HeaderValue) -> Response {
    res.headers_mut().append(SET_COOKIE, value);
    res
}

/// 303 See Other to `to` (after a POST).
pub fn see_other(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(axum::http::header::LOCATION, to.to_string())],
    )
        .into_response()
}
