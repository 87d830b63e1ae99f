//! Pharmacies (admin): connection state, last sync, last day closed, messages not yet delivered
//! to the broker; and enrolment, which shows the broker credentials once with the client's
//! set-up lines.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use sotto_domain::{FieldError, Weekday};

use super::caseload::short_time;
use super::enrol_form::EnrolForm;
use super::html::{self, csrf_field, error_summary, esc};
use super::pharmacy_hours::{hours_summary, hours_table};
use super::session::ConsoleUser;
use crate::core::AppState;
use crate::core::access::ServiceOp;
use crate::core::db;
use crate::core::pharmacies::{CreatePharmacy, enrol};
use crate::error::{Error, Result};

/// One pharmacy's link as the console shows it.
struct LinkState {
    last_message_at: Option<String>,
    last_resync_at: Option<String>,
    last_closed: Option<String>,
    pending: i64,
}

async fn link_state(st: &AppState, pharmacy_id: &str) -> Result<LinkState> {
    let pool = st.store.pool();
    let contact = crate::core::queries::contact(pool, pharmacy_id).await?;
    // Not yet acknowledged by the broker (PUBACK): the relay is still trying.
    let (last_closed, pending) = crate::core::queries::link_backlog(pool, pharmacy_id).await?;
    Ok(LinkState {
        last_message_at: contact.last_message_at,
        last_resync_at: contact.last_resync_at,
        last_closed,
        pending,
    })
}

/// "connected (last heard 14:05)" within two heartbeats, else "not heard since 14:05".
fn connection(st: &AppState, last: Option<&str>) -> String {
    let limit = chrono::Duration::from_std(st.config.heartbeat_interval * 2).unwrap_or_default();
    match last {
        None => "never heard from".into(),
        Some(t) => {
            let recent = chrono::DateTime::parse_from_rfc3339(t)
                .is_ok_and(|at| chrono::Utc::now() - at.with_timezone(&chrono::Utc) <= limit);
            if recent {
                format!("connected (last heard {})", short_time(t))
            } else {
                format!("not heard since {}", short_time(t))
            }
        }
    }
}

pub async fn page(State(st): State<AppState>, user: ConsoleUser) -> Response {
    let mut f = EnrolForm {
        timezone: "Europe/London".into(),
        ..Default::default()
    };
    for d in &Weekday::ALL[..6] {
        f.set_hours(*d, "09:00", "18:00");
    }
    render(&st, &user, &f, &[], StatusCode::OK).await
}

async fn render(
    st: &AppState,
    user: &ConsoleUser,
    f: &EnrolForm,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    match build(st, user, f, errors).await {
        Ok(body) => html::page(status, "Pharmacies", Some(&user.viewer()), &body),
        Err(e) => user.error(e),
    }
}

async fn build(
    st: &AppState,
    user: &ConsoleUser,
    f: &EnrolForm,
    errors: &[FieldError],
) -> Result<String> {
    user.caller.may(ServiceOp::EnrolPharmacy)?;
    let mut rows = String::new();
    for p in db::pharmacies::list(st.store.pool()).await? {
        let l = link_state(st, &p.id).await?;
        rows.push_str(&format!(
            "<tr data-ods=\"{ods}\"><td>{ods}</td><td>{name}</td><td>{hours}</td><td>{conn}</td><td>{resync}</td>\
             <td>{closed}</td><td class=\"num\">{pending}</td></tr>",
            ods = esc(&p.ods_code),
            name = esc(&p.name),
            hours = esc(&hours_summary(&p.opening_hours)),
            conn = {
                let conn = esc(&connection(st, l.last_message_at.as_deref()));
                match super::pharmacy_clock::warning(st.store.pool(), &p.id).await? {
                    Some(w) => format!("{conn}<br><strong data-clock-wrong>{}</strong>", esc(&w)),
                    None => conn,
                }
            },
            resync = l
                .last_resync_at
                .as_deref()
                .map(short_time)
                .unwrap_or_else(|| "never".into()),
            closed = l
                .last_closed
                .as_deref()
                .map(|d| match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                    Ok(d) => d.format("%a %-d %b %Y").to_string(),
                    Err(_) => esc(d),
                })
                .unwrap_or_else(|| "none yet".into()),
            pending = l.pending,
        ));
    }
    let table = if rows.is_empty() {
        "<p class=\"notice\">No pharmacies enrolled yet.</p>".to_string()
    } else {
        html::scroll(
            "Pharmacies",
            &format!(
                "<table><thead><tr><th scope=\"col\">ODS code</th><th scope=\"col\">Name</th>\
                 <th scope=\"col\">Opening hours</th><th scope=\"col\">Connection</th>\
                 <th scope=\"col\">Last full sync</th><th scope=\"col\">Last day closed</th>\
                 <th scope=\"col\" class=\"num\">Messages pending</th></tr></thead><tbody>{rows}</tbody></table>"
            ),
        )
    };
    let input = |n: &str, l: &str, v: &str| html::input(errors, n, l, "text", v, "");
    // The older form (one closing time, closed weekdays) is still accepted when posted, and
    // its errors still shown; the page offers hours per weekday.
    let legacy = [
        html::field_error(errors, "closing_time"),
        html::field_error(errors, "closed_weekdays"),
    ]
    .concat();
    Ok(format!(
        "{table}<form method=\"post\" action=\"/console/pharmacies\" id=\"enrol\"><h2>Enrol a pharmacy</h2>\
         {summary}{csrf}{ods}{name}{hours}{legacy}\
         {tz}<div><button type=\"submit\">Enrol</button></div></form>",
        summary = error_summary(errors),
        csrf = csrf_field(&user.csrf),
        ods = input("ods_code", "ODS code", &f.ods_code),
        name = input("name", "Name", &f.name),
        hours = hours_table(f, errors),
        tz = input(
            "timezone",
            "Time zone (IANA, e.g. Europe/London)",
            &f.timezone
        ),
    ))
}

/// Where pharmacies reach the broker: the external broker's URL without the server's own
/// credentials, or the embedded broker on this server's host.
fn broker_url(st: &AppState) -> String {
    match &st.config.mqtt_url {
        Some(url) => match (url.find("://"), url.rfind('@')) {
            (Some(s), Some(at)) if at > s => format!("{}://{}", &url[..s], &url[at + 1..]),
            _ => url.clone(),
        },
        None => {
            let host = st
                .config
                .public_url
                .split("://")
                .nth(1)
                .unwrap_or("127.0.0.1")
                .split(['/', ':'])
                .next()
                .unwrap_or("127.0.0.1")
                .to_string();
            format!("mqtt://{host}:{}", st.config.mqtt_embedded_addr.port())
        }
    }
}

pub async fn submit(
    State(st): State<AppState>,
    user: ConsoleUser,
    Form(f): Form<EnrolForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let req = CreatePharmacy {
        ods_code: f.ods_code.clone(),
        name: f.name.clone(),
        opening_hours: f.opening_hours(),
        closed_weekdays: f
            .opening_hours()
            .is_none()
            .then(|| Weekday::ALL.into_iter().filter(|d| f.closed(*d)).collect()),
        closing_time: Some(f.closing_time.clone()).filter(|t| !t.trim().is_empty()),
        timezone: f.timezone.clone(),
    };
    match enrol(&st, &user.caller, req).await {
        Ok(c) => {
            let lines = format!(
                "SOTTO_PHARMACY_ID={id} SOTTO_MQTT_URL={url} SOTTO_MQTT_USERNAME={user} \
                 SOTTO_MQTT_PASSWORD={pw} SOTTO_SERVER_KEY={key} \\\nsotto-pharmacy",
                id = c.id,
                url = broker_url(&st),
                user = c.mqtt_username,
                pw = c.mqtt_password,
                key = c.server_public_key,
            );
            let body = format!(
                "<p class=\"warning\">These credentials are shown once. Copy them to the pharmacy's PC now; \
                 only a hash of the password is kept.</p>\
                 <dl><dt>Pharmacy id</dt><dd>{id}</dd><dt>Broker user</dt><dd>{user}</dd>\
                 <dt>Broker password</dt><dd class=\"secret\" data-password>{pw}</dd></dl>\
                 <h2>Set-up on the pharmacy PC</h2><pre class=\"secret\" data-setup>{lines}</pre>\
                 <p><a href=\"/console/pharmacies\">Back to pharmacies</a></p>",
                id = esc(&c.id),
                user = esc(&c.mqtt_username),
                pw = esc(&c.mqtt_password),
                lines = esc(&lines),
            );
            html::page(
                StatusCode::CREATED,
                "Pharmacy enrolled",
                Some(&user.viewer()),
                &body,
            )
        }
        Err(Error::Validation(errs)) => {
            render(&st, &user, &f, &errs, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(Error::Conflict { field, detail }) => {
            let errs = vec![FieldError::new(field, detail)];
            render(&st, &user, &f, &errs, StatusCode::CONFLICT).await
        }
        Err(e) => user.error(e),
    }
}
