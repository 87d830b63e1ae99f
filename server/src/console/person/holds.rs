//! Placing and lifting a hold from the console: preview (the person again and what the pharmacy
//! will see), then confirm with the preview's stamp.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use sotto_domain::HoldKind;

use super::common::{
    check_confirm, confirm_tail, field_errors, identity, stale_warning, stamp, visible, will_see,
};
use super::forms::{HoldForm, parse_kind};
use super::page::{PersonForms, with_errors};
use crate::console::html::{self, article, csrf_field, esc};
use crate::console::session::{ConsoleUser, see_other};
use crate::core::AppState;
use crate::core::access::{self, ServiceOp};
use crate::core::db::{self, service_users::ServiceUser};
use crate::core::{holds, status};
use crate::error::{Error, Result};

pub async fn hold_preview(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<HoldForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let su = match visible(&st, &user, &id).await {
        Ok(su) => su,
        Err(e) => return user.error(e),
    };
    // The same checks as placing, before anything is shown as if it would happen.
    let checked = match parse_kind(&f.kind) {
        Ok(kind) => access::check(&st.store, &user.caller, &su, holds::place_op(kind))
            .await
            .and_then(|_| Ok((kind, holds::parse_reason(&f.reason)?))),
        Err(e) => Err(e),
    };
    let (kind, reason) = match checked {
        Ok(v) => v,
        Err(e) => {
            return match field_errors(&e) {
                Some(errs) => {
                    let forms = PersonForms {
                        hold: f.clone(),
                        hold_errors: errs,
                        ..Default::default()
                    };
                    with_errors(&st, &user, &id, forms, StatusCode::UNPROCESSABLE_ENTITY).await
                }
                None => user.error(e),
            };
        }
    };
    let preview = async {
        let s = status::for_service_user_as_if(&st.store, &su, None, true, |mut kinds| {
            kinds.push(kind);
            kinds
        })
        .await?;
        let stamp = stamp(&st, &su).await?;
        let stale = stale_warning(&st, &su).await?;
        Ok::<_, Error>((s, stamp, stale))
    };
    let (s, stamp, stale) = match preview.await {
        Ok(v) => v,
        Err(e) => return user.error(e),
    };
    let kind_str = if kind == HoldKind::Safety {
        "safety"
    } else {
        "attend"
    };
    let body = format!(
        "<p>You are about to place a hold on:</p>{identity}{stale}\
         {will_see}\
         <p>Kind: <strong>{kind_str}</strong>. Reason (stays with the service): {reason}</p>\
         <form method=\"post\" action=\"/console/people/{id}/holds\">{csrf}\
         <input type=\"hidden\" name=\"kind\" value=\"{kind_str}\">\
         <input type=\"hidden\" name=\"reason\" value=\"{reason}\">{confirm}",
        identity = identity(&su),
        will_see = will_see(s.code),
        reason = esc(&reason),
        id = esc(&su.id),
        csrf = csrf_field(&user.csrf),
        confirm = confirm_tail(&su, &stamp, "place hold on"),
    );
    html::page(StatusCode::OK, "Confirm hold", Some(&user.viewer()), &body)
}

pub async fn hold_place(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<HoldForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let run = async {
        let su = visible(&st, &user, &id).await?;
        check_confirm(&st, &su, &f.reference, &f.stamp).await?;
        let kind = parse_kind(&f.kind)?;
        holds::place(&st, &user.caller, &su.id, kind, &f.reason).await
    };
    match run.await {
        Ok(_) => see_other(&format!("/console/people/{id}#holds")),
        Err(e) => match field_errors(&e) {
            Some(errs) => {
                let forms = PersonForms {
                    hold: f,
                    hold_errors: errs,
                    ..Default::default()
                };
                with_errors(&st, &user, &id, forms, StatusCode::UNPROCESSABLE_ENTITY).await
            }
            None => user.error(e),
        },
    }
}

pub(super) async fn hold_and_person(
    st: &AppState,
    user: &ConsoleUser,
    hold_id: &str,
) -> Result<(db::holds::Hold, ServiceUser)> {
    user.caller.may(ServiceOp::WorkWithPeople)?;
    let (hold, su) = holds::may_lift(st, &user.caller, hold_id).await?;
    visible(st, user, &su.id).await?;
    Ok((hold, su))
}

pub async fn lift_preview(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(hold_id): Path<String>,
    Form(f): Form<HoldForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let run = async {
        let (hold, su) = hold_and_person(&st, &user, &hold_id).await?;
        let s = status::for_service_user_as_if(&st.store, &su, None, true, |mut kinds| {
            // As if this one hold were gone (others of the same kind stay).
            if let Some(i) = kinds.iter().position(|k| *k == hold.kind) {
                kinds.remove(i);
            }
            kinds
        })
        .await?;
        let stamp = stamp(&st, &su).await?;
        let stale = stale_warning(&st, &su).await?;
        Ok::<_, Error>((hold, su, s, stamp, stale))
    };
    let (hold, su, s, stamp, stale) = match run.await {
        Ok(v) => v,
        Err(e) => return user.error(e),
    };
    let kind = if hold.kind == HoldKind::Safety {
        "safety"
    } else {
        "attend"
    };
    let body = format!(
        "<p>You are about to lift {a} {kind} hold on:</p>{identity}{stale}\
         {will_see}\
         <p>Reason it was placed: {reason}</p>\
         <form method=\"post\" action=\"/console/holds/{hid}/lift\">{csrf}\
         <label for=\"note\">Note (optional, private)</label><textarea id=\"note\" name=\"note\" rows=\"2\"></textarea>{confirm}",
        a = article(kind),
        identity = identity(&su),
        will_see = will_see(s.code),
        reason = esc(&hold.reason),
        hid = esc(&hold.id),
        csrf = csrf_field(&user.csrf),
        confirm = confirm_tail(&su, &stamp, "lift hold on"),
    );
    html::page(StatusCode::OK, "Confirm lift", Some(&user.viewer()), &body)
}

pub async fn lift(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(hold_id): Path<String>,
    Form(f): Form<HoldForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let run = async {
        let (_, su) = hold_and_person(&st, &user, &hold_id).await?;
        check_confirm(&st, &su, &f.reference, &f.stamp).await?;
        holds::lift(&st, &user.caller, &hold_id, &f.note).await?;
        Ok::<_, Error>(su.id)
    };
    match run.await {
        Ok(su_id) => see_other(&format!("/console/people/{su_id}#holds")),
        Err(e) => user.error(e),
    }
}
