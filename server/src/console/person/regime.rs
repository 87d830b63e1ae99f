//! Changing a regime from the console: preview (the effect, the changed days, the new
//! calendar), then confirm with the preview's stamp.

use std::collections::BTreeSet;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use sotto_domain::{DoseDay, RegimeChangeEffect};

use super::common::{
    check_confirm, confirm_tail, field_errors, identity, stale_warning, stamp, visible,
};
use super::forms::RegimeForm;
use super::page::{PersonForms, with_errors};
use crate::console::calendar::calendar;
use crate::console::html::{self, csrf_field, esc, scroll};
use crate::console::session::{ConsoleUser, see_other};
use crate::core::AppState;
use crate::core::access::ServiceOp;
use crate::core::db::{prescriptions::Stored, service_users::ServiceUser};
use crate::core::prescriptions;
use crate::error::{Error, Result};

pub(super) async fn prescription_and_person(
    st: &AppState,
    user: &ConsoleUser,
    id: &str,
) -> Result<(Stored, ServiceUser)> {
    user.caller.may(ServiceOp::WorkWithPeople)?;
    let (stored, su) = prescriptions::for_change(st, &user.caller, id).await?;
    visible(st, user, &su.id).await?;
    Ok((stored, su))
}

pub(super) async fn regime_errors(
    st: &AppState,
    user: &ConsoleUser,
    su_id: &str,
    f: RegimeForm,
    e: Error,
) -> Response {
    match field_errors(&e) {
        Some(errs) => {
            let forms = PersonForms {
                regime: f,
                regime_errors: errs,
                ..Default::default()
            };
            with_errors(st, user, su_id, forms, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        None => user.error(e),
    }
}

pub async fn regime_preview(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<RegimeForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let (stored, su) = match prescription_and_person(&st, &user, &id).await {
        Ok(v) => v,
        Err(e) => return user.error(e),
    };
    let run = async {
        let draft = f.draft()?;
        let p = prescriptions::preview_change(&st, &stored, &su, &draft).await?;
        Ok::<_, Error>((p, stamp(&st, &su).await?, stale_warning(&st, &su).await?))
    };
    let (preview, stamp, stale) = match run.await {
        Ok(v) => v,
        Err(e) => return regime_errors(&st, &user, &su.id, f, e).await,
    };
    let prescriptions::ChangePreview {
        effect,
        code_on_effective_day: on_day,
        days,
        today,
    } = preview;
    let cal = calendar(&days, today, &[], &BTreeSet::new(), &BTreeSet::new());
    let body = format!(
        "<p>You are about to change the regime of:</p>{identity}{stale}\
         <p class=\"notice\" data-effect>{effect_notice}</p>{changes}\
         <p class=\"notice\" data-preview>From {eff} the pharmacy will see code <span class=\"code\" data-code>{code}</span> \
         on that day — {meaning}. The new calendar:</p>{cal}\
         <form method=\"post\" action=\"/console/prescriptions/{pid}/regime-changes\">{csrf}{hidden}{confirm}",
        identity = identity(&su),
        effect_notice = esc(&effect.notice),
        changes = changed_days_table(&effect),
        eff = effect.effective_from,
        code = on_day.letter(),
        meaning = esc(on_day.meaning()),
        pid = esc(&stored.id),
        csrf = csrf_field(&user.csrf),
        hidden = f.hidden_fields(),
        confirm = confirm_tail(&su, &stamp, "change regime for"),
    );
    html::page(
        StatusCode::OK,
        "Confirm regime change",
        Some(&user.viewer()),
        &body,
    )
}

pub async fn regime_change(
    State(st): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<RegimeForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return user.error(e.0);
    }
    let (_, su) = match prescription_and_person(&st, &user, &id).await {
        Ok(v) => v,
        Err(e) => return user.error(e),
    };
    let run = async {
        check_confirm(&st, &su, &f.reference, &f.stamp).await?;
        let draft = f.draft()?;
        prescriptions::change_regime(&st, &user.caller, &id, &draft).await
    };
    match run.await {
        Ok(_) => see_other(&format!("/console/people/{}#calendar", su.id)),
        Err(e) => regime_errors(&st, &user, &su.id, f, e).await,
    }
}

/// The days a regime change keeps as supplied and the days it changes, before and after, so
/// the clinician sees exactly what the pharmacy will hand over differently.
pub(super) fn changed_days_table(effect: &RegimeChangeEffect) -> String {
    let how = |d: &DoseDay| {
        let way = if d.pharmacy_closed {
            "cannot be supplied (pharmacy closed)".to_string()
        } else if d.supervised {
            "supervised".to_string()
        } else if d.collect_on == d.date {
            "take-home".to_string()
        } else {
            format!("take-home, collected {}", d.collect_on.format("%a %-d %b"))
        };
        format!("{} mg, {way}", d.dose_mg.as_mg())
    };
    let mut rows = String::new();
    for date in &effect.kept_as_supplied {
        rows.push_str(&format!(
            "<tr data-kept=\"{date}\"><th scope=\"row\">{shown}</th><td colspan=\"2\">already \
             supplied: stays as handed over</td></tr>",
            shown = date.format("%a %-d %b"),
        ));
    }
    for c in &effect.changed_days {
        rows.push_str(&format!(
            "<tr data-changed=\"{date}\"><th scope=\"row\">{shown}</th><td>{before}</td><td>{after}</td></tr>",
            date = c.date,
            shown = c.date.format("%a %-d %b"),
            before = esc(&how(&c.before)),
            after = esc(&how(&c.after)),
        ));
    }
    if rows.is_empty() {
        return String::new();
    }
    scroll(
        "Days this change affects",
        &format!(
            "<table data-changes><caption>Days this change affects</caption><thead><tr>\
             <th scope=\"col\">Day</th><th scope=\"col\">Now</th><th scope=\"col\">After the change</th>\
             </tr></thead><tbody>{rows}</tbody></table>"
        ),
    )
}
