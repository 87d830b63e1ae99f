//! Pharmacies: enrolment (the broker credentials are shown once), the list, one pharmacy, and
//! one-off closures (which move schedules, so they reach the counter and may alert the service).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sotto_domain::{FieldError, OpeningHours, OpeningHoursText, Weekday};

use crate::core::AppState;
use crate::core::access::{self, Caller, ServiceOp};
use crate::core::db::{self, audit::Actor, pharmacies::Pharmacy};
use crate::core::values::{self, Errors, Name, OdsCode};
use crate::error::{Error, Result};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePharmacy {
    /// The NHS ODS code: 3–10 letters and digits.
    #[schema(pattern = "^[A-Za-z0-9]{3,10}$", example = "FA123")]
    pub ods_code: String,
    #[schema(min_length = 1, max_length = 100, example = "High Street Pharmacy")]
    pub name: String,
    /// Each weekday's opening and closing time (`HH:MM`, local); a weekday left out is closed
    /// and any weekday given is open, however short. A close at or before the opening time is
    /// after midnight (08:00–01:00): the day is closed automatically at its own close. Give
    /// this, or the older `closed_weekdays` and `closing_time`.
    #[serde(default)]
    pub opening_hours: Option<OpeningHoursText>,
    /// Older form: weekdays the pharmacy never opens; the others open 09:00–`closing_time`.
    #[serde(default)]
    #[schema(max_items = 6)]
    pub closed_weekdays: Option<Vec<Weekday>>,
    /// Older form: `HH:MM` local time, the close of every open weekday.
    #[serde(default)]
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "18:00")]
    pub closing_time: Option<String>,
    /// IANA zone, e.g. `Europe/London`.
    #[schema(example = "Europe/London")]
    pub timezone: String,
}

impl CreatePharmacy {
    /// The opening hours, from `opening_hours` or from the older two fields; never both.
    pub fn hours(&self) -> std::result::Result<OpeningHours, Vec<FieldError>> {
        let Some(text) = &self.opening_hours else {
            return self.legacy_hours();
        };
        let both = "give either opening_hours, or the older closing_time and closed_weekdays, \
                    not both";
        let mut errors = Vec::new();
        if self.closing_time.is_some() {
            errors.push(FieldError::new("closing_time", both));
        }
        if self.closed_weekdays.is_some() {
            errors.push(FieldError::new("closed_weekdays", both));
        }
        match OpeningHours::parse(text, "opening_hours") {
            Ok(hours) if errors.is_empty() => Ok(hours),
            Ok(_) => Err(errors),
            Err(e) => Err(errors.into_iter().chain(e).collect()),
        }
    }

    fn legacy_hours(&self) -> std::result::Result<OpeningHours, Vec<FieldError>> {
        let Some(closing_time) = &self.closing_time else {
            return Err(vec![FieldError::new(
                "opening_hours",
                "give each open weekday's hours, e.g. {\"mon\": {\"open\": \"09:00\", \
                 \"close\": \"18:00\"}} (or the older closing_time)",
            )]);
        };
        let closed = self.closed_weekdays.clone().unwrap_or_default();
        let mut errors = Vec::new();
        let closing = values::parse_closing_time("closing_time", closing_time)
            .map_err(|e| errors.push(e))
            .ok();
        if Weekday::ALL.iter().all(|d| closed.contains(d)) {
            errors.push(FieldError::new(
                "closed_weekdays",
                "a pharmacy must be open on at least one weekday",
            ));
        }
        match closing {
            Some(closing) if errors.is_empty() => Ok(OpeningHours::from_legacy(&closed, closing)),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PharmacyCreated {
    pub id: String,
    pub mqtt_username: String,
    /// Shown once; only its hash is stored.
    pub mqtt_password: String,
    /// The server's Ed25519 public key: the pharmacy pins it (`SOTTO_SERVER_KEY`) and accepts
    /// only messages signed with it.
    pub server_public_key: String,
}

/// Validates and enrols a pharmacy (admins only); shared by the API and the console. The broker
/// password in the answer is shown once.
pub async fn enrol(st: &AppState, caller: &Caller, req: CreatePharmacy) -> Result<PharmacyCreated> {
    caller.may(ServiceOp::EnrolPharmacy)?;
    let mut errs = Errors::default();
    let ods_code = errs.take(OdsCode::parse("ods_code", &req.ods_code));
    let name = errs.take(Name::parse("name", &req.name));
    let hours = req.hours().map_err(|e| errs.0.extend(e)).ok();
    let timezone = errs.take(values::parse_timezone("timezone", &req.timezone));
    errs.into_result()?;
    let (Some(ods_code), Some(name), Some(hours), Some(timezone)) =
        (ods_code, name, hours, timezone)
    else {
        unreachable!("errors returned above")
    };
    let new = db::pharmacies::NewPharmacy {
        ods_code,
        name,
        hours,
        timezone,
    };
    let mut w = st.store.write().await?;
    let c = db::pharmacies::insert(&mut w, &Actor(caller.id.clone()), &new).await?;
    w.commit().await?;
    tracing::info!(pharmacy_id = %c.id, "pharmacy enrolled");
    Ok(PharmacyCreated {
        id: c.id,
        mqtt_username: c.mqtt_username,
        mqtt_password: c.mqtt_password,
        server_public_key: st.server_public_key.clone(),
    })
}

/// Every enrolled pharmacy.
pub async fn list(st: &AppState, caller: &Caller) -> Result<Vec<Pharmacy>> {
    caller.may(ServiceOp::ListPharmacies)?;
    db::pharmacies::list(st.store.pool()).await
}

/// One pharmacy: a pharmacist sees only their own.
pub async fn get(st: &AppState, caller: &Caller, id: &str) -> Result<Pharmacy> {
    access::pharmacy_rule(caller, id)?;
    db::pharmacies::get(st.store.pool(), id)
        .await?
        .ok_or(Error::NotFound("pharmacy"))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateClosure {
    pub date: NaiveDate,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClosureCreated {
    pub id: String,
    pub date: NaiveDate,
    /// People whose dose for this day had moved (clause 1) onto a day that is already over, so
    /// no open day is left to supply it: the service's inbox was told at once.
    pub doses_without_a_day: Vec<String>,
}

/// Records a one-off closure (admins): the pharmacy gets its new calendar and everyone's new
/// days; a dose left without an open day is mailed to the service at once.
pub async fn add_closure(
    st: &AppState,
    caller: &Caller,
    id: &str,
    req: CreateClosure,
) -> Result<ClosureCreated> {
    caller.may(ServiceOp::ManagePharmacy)?;
    let note = values::parse_text("note", &req.note, 200, false)?;
    let mut w = st.store.write().await?;
    if !db::pharmacies::exists(&mut w, id).await? {
        return Err(Error::NotFound("pharmacy"));
    }
    let cid =
        db::pharmacies::add_closure(&mut w, &Actor(caller.id.clone()), id, req.date, &note).await?;
    // Schedules move with closures: the pharmacy gets its new calendar and everyone's new days.
    crate::core::outbox::pharmacy_changed(&mut w, id, st.config.service_phone.as_deref()).await?;
    let doses_without_a_day = crate::core::dispensing::late_closure::after_closure(
        &mut w,
        st.config.service_email.as_deref(),
        &st.config.public_url,
        id,
        req.date,
    )
    .await?;
    w.commit().await?;
    Ok(ClosureCreated {
        id: cid,
        date: req.date,
        doses_without_a_day,
    })
}
