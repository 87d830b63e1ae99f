//! Sign-in and sign-out. The same message for an unknown e-mail and a wrong password; a locked
//! e-mail says so (the lock-out is per address, so it reveals nothing about who has an account).

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::Row;

use super::html::{self, esc, return_path};
use super::session::{
    self, ConsoleError, ConsoleUser, PRE_SESSION_COOKIE, SESSION_COOKIE, cookie, same_token,
    see_other, set_cookie, with_cookie,
};
use crate::core::AppState;
use crate::core::db::{audit::Actor, now_text};
use crate::core::passwords as password;
use crate::error::{Error, Result};

const NOT_RECOGNISED: &str = "E-mail or password not recognised.";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignInForm {
    pub email: String,
    pub password: String,
    pub csrf: String,
    /// Where to go after signing in (a console page; anything else is ignored).
    pub next: String,
}

/// `?next=`: the console page that sent the browser here.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignInQuery {
    pub next: String,
}

pub async fn form(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SignInQuery>,
) -> Response {
    render(&st, &headers, StatusCode::OK, "", &q.next, None)
}

/// The sign-in page; sets the double-submit CSRF cookie if the browser has none yet.
fn render(
    st: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    email: &str,
    next: &str,
    message: Option<&str>,
) -> Response {
    let (token, new) = match cookie(headers, PRE_SESSION_COOKIE) {
        Some(t) if t.len() >= 32 => (t, false),
        _ => (session::random_token(), true),
    };
    let message = message
        .map(|m| {
            format!(
                "<div class=\"errors\" role=\"alert\"><p>{}</p></div>",
                esc(m)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "{message}<form method=\"post\" action=\"/console/sign-in\">{csrf}\
         <label for=\"email\">E-mail</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"{email}\" size=\"30\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required size=\"30\">\
         {next}<div><button type=\"submit\">Sign in</button></div></form>\
         <p>Pharmacists: please use the counter page on the pharmacy PC.</p>",
        csrf = html::csrf_field(&token),
        email = esc(email),
        next = return_path(next)
            .map(|n| format!("<input type=\"hidden\" name=\"next\" value=\"{}\">", esc(n)))
            .unwrap_or_default(),
    );
    let res = html::page(status, "Sign in", None, &body);
    if new {
        with_cookie(
            res,
            set_cookie(&st.config, PRE_SESSION_COOKIE, &token, None),
        )
    } else {
        res
    }
}

enum Outcome {
    SignedIn(String),
    NotRecognised,
    Locked,
}

pub async fn submit(
    State(st): State<AppState>,
    ext: axum::http::Extensions,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Result<Response, ConsoleError> {
    let expected = cookie(&headers, PRE_SESSION_COOKIE).unwrap_or_default();
    if !same_token(&f.csrf, &expected) {
        return Err(session::csrf_refused().into());
    }
    // The API's per-address limiter applies here too (requests built in-process have no peer).
    let ip = ext
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(retry_after) = ip.and_then(|ip| st.auth_limiter.blocked(ip)) {
        return Err(Error::TooManyRequests { retry_after }.into());
    }
    match attempt(&st, &f.email, &f.password).await? {
        Outcome::SignedIn(id) => {
            let res = see_other(return_path(&f.next).unwrap_or("/console"));
            Ok(with_cookie(
                res,
                set_cookie(&st.config, SESSION_COOKIE, &id, None),
            ))
        }
        Outcome::NotRecognised => {
            if let Some(ip) = ip {
                st.auth_limiter.record_failure(ip);
            }
            tracing::warn!("failed console sign-in");
            Ok(render(
                &st,
                &headers,
                StatusCode::UNAUTHORIZED,
                &f.email,
                &f.next,
                Some(NOT_RECOGNISED),
            ))
        }
        Outcome::Locked => {
            let minutes = st.config.lockout_for.as_secs().div_ceil(60);
            let msg = format!(
                "Too many failed sign-ins for this e-mail address: it is locked for {minutes} minutes. \
                 Try again later, or ask an administrator to reset your password."
            );
            Ok(render(
                &st,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                &f.email,
                &f.next,
                Some(&msg),
            ))
        }
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

async fn attempt(st: &AppState, email: &str, password_given: &str) -> Result<Outcome> {
    let email = email.trim().to_ascii_lowercase();
    let now = Utc::now();
    let throttle = sqlx::query(
        "SELECT failures, first_failure_at, locked_until FROM sign_in_throttle WHERE email = $1",
    )
    .bind(&email)
    .fetch_optional(st.store.pool())
    .await?;
    if let Some(row) = &throttle
        && let Some(until) = row.try_get::<Option<String>, _>("locked_until")?
        && parse_time(&until).is_some_and(|u| u > now)
    {
        return Ok(Outcome::Locked);
    }
    let staff = sqlx::query("SELECT id, password_hash FROM staff WHERE email = $1")
        .bind(&email)
        .fetch_optional(st.store.pool())
        .await?;
    let (staff_id, stored) = match &staff {
        Some(r) => (
            Some(r.try_get::<String, _>("id")?),
            r.try_get::<Option<String>, _>("password_hash")?,
        ),
        None => (None, None),
    };
    // Verify even when there is no account or no password, so timing tells nothing.
    let ok = password::verify(
        password_given,
        stored.as_deref().unwrap_or(password::dummy_hash()),
    ) && stored.is_some();
    let mut w = st.store.write().await?;
    if let (true, Some(id)) = (ok, &staff_id) {
        sqlx::query("DELETE FROM sign_in_throttle WHERE email = $1")
            .bind(&email)
            .execute(&mut *w.tx)
            .await?;
        let session = session::create(&mut w, id, st.config.session_absolute).await?;
        w.audit(
            &Actor(id.clone()),
            "console.sign_in",
            &format!("staff:{id}"),
            serde_json::json!({}),
        )
        .await?;
        w.commit().await?;
        tracing::info!(staff_id = %id, "console sign-in");
        return Ok(Outcome::SignedIn(session));
    }
    // A failure: count it in the current window, and lock the address at the threshold.
    let c = &st.config;
    let window = chrono::Duration::from_std(c.lockout_window).unwrap_or_default();
    let (failures, first) = match &throttle {
        Some(row) => {
            let first: String = row.try_get("first_failure_at")?;
            match parse_time(&first) {
                Some(t) if now - t < window => (row.try_get::<i64, _>("failures")? + 1, first),
                _ => (1, now_text()),
            }
        }
        None => (1, now_text()),
    };
    let locked = failures >= i64::from(c.lockout_failures);
    let locked_until = locked.then(|| {
        (now + chrono::Duration::from_std(c.lockout_for).unwrap_or_default())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    });
    sqlx::query("DELETE FROM sign_in_throttle WHERE email = $1")
        .bind(&email)
        .execute(&mut *w.tx)
        .await?;
    sqlx::query(
        "INSERT INTO sign_in_throttle (email, failures, first_failure_at, locked_until) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&email)
    .bind(if locked { 0 } else { failures })
    .bind(&first)
    .bind(&locked_until)
    .execute(&mut *w.tx)
    .await?;
    // The subject names the account if there is one; the audit never holds the e-mail itself.
    let subject = match &staff_id {
        Some(id) => format!("staff:{id}"),
        None => "staff:unknown".to_string(),
    };
    let anonymous = Actor("anonymous".into());
    w.audit(
        &anonymous,
        "console.sign_in_failed",
        &subject,
        serde_json::json!({}),
    )
    .await?;
    if locked {
        w.audit(
            &anonymous,
            "console.lock_out",
            &subject,
            serde_json::json!({"minutes": c.lockout_for.as_secs().div_ceil(60)}),
        )
        .await?;
    }
    w.commit().await?;
    Ok(if locked {
        Outcome::Locked
    } else {
        Outcome::NotRecognised
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfOnly {
    pub csrf: String,
}

pub async fn sign_out(
    State(st): State<AppState>,
    user: ConsoleUser,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, Response> {
    user.check_csrf(&f.csrf).map_err(|e| user.error(e.0))?;
    let run = async {
        let mut w = st.store.write().await?;
        session::delete(&mut w, &user).await?;
        w.commit().await
    };
    run.await.map_err(|e| user.error(e))?;
    Ok(with_cookie(
        see_other("/console/sign-in"),
        set_cookie(&st.config, SESSION_COOKIE, "", Some(0)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::html::encode_component;

    #[test]
    fn only_console_pages_are_return_paths() {
        for ok in [
            "/console",
            "/console/people/4b1c2d3e-aaaa-bbbb-cccc-0123456789ab",
            "/console/caseload?sort=missed&filter=hold",
            "/console/risk?weeks=8",
        ] {
            assert_eq!(return_path(ok), Some(ok), "{ok}");
        }
        for refused in [
            "",
            "https://evil.example/console/people/x",
            "//evil.example/console",
            "/console//evil.example",
            "/\\evil.example",
            "/console/../api/v1/audit",
            "/consolex",
            "/api/v1/audit",
            "/console/sign-in?next=/console",
            "/console/sign-out",
            "/console/people/x\r\nSet-Cookie: a=b",
            "/console/people/<script>",
            "javascript:alert(1)",
        ] {
            assert_eq!(return_path(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn a_return_path_survives_the_query_string() {
        let path = "/console/caseload?sort=missed&filter=hold";
        assert_eq!(
            encode_component(path),
            "/console/caseload%3Fsort%3Dmissed%26filter%3Dhold"
        );
    }
}
