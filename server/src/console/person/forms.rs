//! The forms on the person page (a hold, a regime change) as the browser posts them, and how
//! each is drawn.

use chrono::NaiveDate;
use serde::Deserialize;
use sotto_domain::{Collection, FieldError, HoldKind, RegimeChangeDraft, Weekday};

use crate::console::html::{self, csrf_field, error_summary, esc, field_error};
use crate::console::session::ConsoleUser;
use crate::core::db::{prescriptions::Stored, service_users::ServiceUser};
use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct HoldForm {
    pub csrf: String,
    pub reason: String,
    pub kind: String,
    pub reference: String,
    pub stamp: String,
    pub note: String,
}

pub(super) fn parse_kind(s: &str) -> Result<HoldKind> {
    match s {
        "" | "attend" => Ok(HoldKind::Attend),
        "safety" => Ok(HoldKind::Safety),
        _ => Err(Error::field("kind", "must be attend or safety")),
    }
}

pub(super) fn hold_form(
    user: &ConsoleUser,
    su: &ServiceUser,
    f: &HoldForm,
    errors: &[FieldError],
    is_clinician: bool,
) -> String {
    let kind = if is_clinician {
        let sel = |k: &str| if f.kind == k { " selected" } else { "" };
        format!(
            "<label for=\"kind\">Kind</label><select id=\"kind\" name=\"kind\">\
             <option value=\"attend\"{a}>attend: ask the person to contact the service (code D)</option>\
             <option value=\"safety\"{s}>safety: prescriber review (code E)</option></select>{err}",
            a = sel("attend"),
            s = sel("safety"),
            err = field_error(errors, "kind"),
        )
    } else {
        String::new()
    };
    format!(
        "<form method=\"post\" action=\"/console/people/{id}/holds/preview\" id=\"place-hold\">\
         <h3>Place a hold</h3>{summary}{csrf}{kind}\
         <label for=\"reason\">Reason (private to the service; never sent to the pharmacy)</label>\
         <textarea id=\"reason\" name=\"reason\" rows=\"2\" required{invalid}>{reason}</textarea>{err}\
         <div><button type=\"submit\">Preview hold…</button></div></form>",
        id = esc(&su.id),
        summary = error_summary(errors),
        csrf = csrf_field(&user.csrf),
        invalid = if field_error(errors, "reason").is_empty() {
            ""
        } else {
            " aria-invalid=\"true\" aria-describedby=\"reason-error\""
        },
        reason = esc(&f.reason),
        err = field_error(errors, "reason"),
    )
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct RegimeForm {
    pub csrf: String,
    pub effective_from: String,
    pub daily_dose_mg: String,
    pub reason: String,
    pub reference: String,
    pub stamp: String,
    pub days_mon: String,
    pub days_tue: String,
    pub days_wed: String,
    pub days_thu: String,
    pub days_fri: String,
    pub days_sat: String,
    pub days_sun: String,
    pub sup_mon: String,
    pub sup_tue: String,
    pub sup_wed: String,
    pub sup_thu: String,
    pub sup_fri: String,
    pub sup_sat: String,
    pub sup_sun: String,
}

impl RegimeForm {
    fn days(&self, d: Weekday) -> &str {
        match d {
            Weekday::Mon => &self.days_mon,
            Weekday::Tue => &self.days_tue,
            Weekday::Wed => &self.days_wed,
            Weekday::Thu => &self.days_thu,
            Weekday::Fri => &self.days_fri,
            Weekday::Sat => &self.days_sat,
            Weekday::Sun => &self.days_sun,
        }
    }

    fn supervised(&self, d: Weekday) -> bool {
        let v = match d {
            Weekday::Mon => &self.sup_mon,
            Weekday::Tue => &self.sup_tue,
            Weekday::Wed => &self.sup_wed,
            Weekday::Thu => &self.sup_thu,
            Weekday::Fri => &self.sup_fri,
            Weekday::Sat => &self.sup_sat,
            Weekday::Sun => &self.sup_sun,
        };
        !v.is_empty()
    }

    /// The API's request body from the form: blank dose or pattern means "unchanged", as
    /// omitting them does in JSON. Only what JSON would refuse to parse is checked here.
    pub(super) fn draft(&self) -> Result<RegimeChangeDraft> {
        let mut errs = Vec::new();
        let effective_from = NaiveDate::parse_from_str(self.effective_from.trim(), "%Y-%m-%d")
            .map_err(|_| {
                errs.push(FieldError::new(
                    "effective_from",
                    "must be a date: choose one in the date picker",
                ))
            })
            .ok();
        let daily_dose_mg = match self.daily_dose_mg.trim() {
            "" => None,
            v => v
                .parse::<f64>()
                .map_err(|_| errs.push(FieldError::new("daily_dose_mg", "must be a number of mg")))
                .ok(),
        };
        let mut collections = Vec::new();
        for d in Weekday::ALL {
            match self.days(d).trim() {
                "" | "0" => {}
                v => match v.parse::<u8>() {
                    Ok(days) => collections.push(Collection {
                        weekday: d,
                        days,
                        supervised: self.supervised(d),
                    }),
                    Err(_) => errs.push(FieldError::new(
                        format!("days_{}", d.as_str()),
                        "must be a whole number of days from 1 to 7",
                    )),
                },
            }
        }
        match (effective_from, errs.is_empty()) {
            (Some(effective_from), true) => Ok(RegimeChangeDraft {
                effective_from,
                daily_dose_mg,
                collections: (!collections.is_empty()).then_some(collections),
                reason: self.reason.clone(),
            }),
            _ => Err(Error::Validation(errs)),
        }
    }

    pub(super) fn hidden_fields(&self) -> String {
        let mut out = String::new();
        let mut put = |k: &str, v: &str| {
            out.push_str(&format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                esc(v)
            ))
        };
        put("effective_from", &self.effective_from);
        put("daily_dose_mg", &self.daily_dose_mg);
        put("reason", &self.reason);
        for d in Weekday::ALL {
            put(&format!("days_{}", d.as_str()), self.days(d));
            if self.supervised(d) {
                put(&format!("sup_{}", d.as_str()), "1");
            }
        }
        out
    }
}

pub(super) fn regime_form(
    user: &ConsoleUser,
    p: &Stored,
    f: &RegimeForm,
    errors: &[FieldError],
) -> String {
    let rows: String = Weekday::ALL
        .iter()
        .map(|d| {
            let name = d.as_str();
            format!(
                "<tr><th scope=\"row\">{name}</th>\
                 <td><label class=\"visually-hidden\" for=\"days_{name}\">{name}: days collected</label>\
                 <input id=\"days_{name}\" name=\"days_{name}\" inputmode=\"numeric\" size=\"2\" value=\"{v}\"></td>\
                 <td><label><input type=\"checkbox\" name=\"sup_{name}\" value=\"1\"{c}> supervised</label></td></tr>",
                v = esc(f.days(*d)),
                c = if f.supervised(*d) { " checked" } else { "" },
            )
        })
        .collect();
    let input = |name: &str, label: &str, kind: &str, value: &str| {
        html::input(errors, name, label, kind, value, "")
    };
    format!(
        "<form method=\"post\" action=\"/console/prescriptions/{pid}/regime-changes/preview\" id=\"regime-change\">\
         <h3>Change the regime</h3>{summary}{csrf}\
         {eff}{dose}\
         <fieldset><legend>New weekly collections (leave all blank to keep the current pattern)</legend>\
         <div class=\"scroll\"><table><thead><tr><th scope=\"col\">Day</th><th scope=\"col\">Days collected</th>\
         <th scope=\"col\">Supervised</th></tr></thead><tbody>{rows}</tbody></table></div>{coll_err}</fieldset>\
         <label for=\"regime-reason\">Reason (recorded for review)</label>\
         <textarea id=\"regime-reason\" name=\"reason\" rows=\"2\">{reason}</textarea>{reason_err}\
         <div><button type=\"submit\">Preview change…</button></div></form>",
        pid = esc(&p.id),
        summary = error_summary(errors),
        csrf = csrf_field(&user.csrf),
        eff = input(
            "effective_from",
            "Effective from (today or later, on a collection day; doses already handed over \
             stay as supplied)",
            "date",
            &f.effective_from
        ),
        dose = input(
            "daily_dose_mg",
            "New daily dose in mg (blank: unchanged)",
            "text",
            &f.daily_dose_mg
        ),
        coll_err = field_error(errors, "collections"),
        reason = esc(&f.reason),
        reason_err = field_error(errors, "reason"),
    )
}
