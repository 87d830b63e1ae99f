//! Sotto's records as FHIR R4 resources: pure functions from plain facts to JSON, so each
//! mapping is unit-tested without a database. Nothing here ever carries a hold reason, a
//! regime change's reason, a lift note or any other free text a person wrote.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Value, json};
use sotto_domain::{DoseMg, Medicine, Prescription};

use super::codes::{self, NotDispensed};
use crate::core::db::service_users::ServiceUser;

/// A stored RFC 3339 instant as a FHIR `instant` (UTC, milliseconds); `None` if unreadable.
pub fn instant(text: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| {
        t.with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    })
}

/// `meta`: when Sotto's records last changed, and the UK Core profile the resource claims.
fn meta(resource_type: &str, last_updated: &str) -> Value {
    json!({"lastUpdated": instant(last_updated).unwrap_or_else(|| last_updated.to_string()),
           "profile": [codes::uk_core_profile(resource_type)]})
}

fn reference(kind: &str, id: &str) -> Value {
    json!({"reference": format!("{kind}/{id}")})
}

fn mg(dose_mg: f64) -> Value {
    json!({"value": dose_mg, "unit": "mg", "system": codes::UCUM, "code": "mg"})
}

/// The medicine as a CodeableConcept: its verified dm+d concept first (UK Core prefers dm+d),
/// then Sotto's own code, which names the form as well; `text` says it in words.
pub fn medication(m: Medicine) -> Value {
    let mut coding: Vec<Value> = codes::published(m)
        .map(|p| json!({"system": codes::DMD, "code": p.code, "display": p.display}))
        .into_iter()
        .collect();
    coding.push(json!({"system": codes::MEDICINE, "code": m.as_str(),
                       "display": codes::medicine_display(m)}));
    json!({"coding": coding, "text": codes::medicine_display(m)})
}

/// A person: the service reference, name and birth date (nothing else of their record).
pub fn patient(su: &ServiceUser, last_updated: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "id": su.id,
        "meta": meta("Patient", last_updated),
        "identifier": [{"system": codes::SERVICE_REFERENCE, "value": su.reference}],
        "name": [{"family": su.family_name, "given": [su.given_name]}],
        "birthDate": su.date_of_birth.to_string(),
    })
}

/// One regime step of a prescription, as a MedicationRequest.
pub struct RequestStep<'a> {
    /// The regime's own id (the resource id).
    pub id: &'a str,
    pub prescription_id: &'a str,
    pub patient_id: &'a str,
    pub prescription: &'a Prescription,
    /// Which regime (0 is the prescription's own pattern).
    pub step: usize,
    /// When this step was prescribed.
    pub authored_on: &'a str,
    pub last_updated: &'a str,
    /// The step it replaced.
    pub prior_id: Option<&'a str>,
    /// The pharmacy's today (decides `active` or `completed`).
    pub today: NaiveDate,
}

impl RequestStep<'_> {
    /// The step's first and last day.
    pub fn span(&self) -> (NaiveDate, NaiveDate) {
        let regimes = self.prescription.regimes();
        let from = regimes[self.step].effective_from;
        let to = regimes
            .get(self.step + 1)
            .and_then(|next| next.effective_from.pred_opt())
            .unwrap_or(self.prescription.end_date());
        (from, to)
    }

    fn status(&self) -> &'static str {
        if self.step + 1 < self.prescription.regimes().len() {
            "stopped" // replaced by a regime change
        } else if self.span().1 < self.today {
            "completed"
        } else {
            "active"
        }
    }
}

/// The instalment pattern (one extension per collection day) and the Home Office directions.
pub fn schedule_extensions(p: &Prescription, step: usize) -> Vec<Value> {
    let mut out: Vec<Value> = p.regimes()[step]
        .collections
        .as_slice()
        .iter()
        .map(|c| {
            json!({"url": codes::EXT_INSTALMENT, "extension": [
                {"url": "weekday", "valueCode": c.weekday.to_string()},
                {"url": "days", "valuePositiveInt": c.days},
                {"url": "supervised", "valueBoolean": c.supervised},
            ]})
        })
        .collect();
    let d = p.directions();
    out.push(json!({"url": codes::EXT_DIRECTIONS, "extension": [
        {"url": "closedDaysPrior", "valueBoolean": d.closed_days_prior},
        {"url": "supplyRemainingIfMissed", "valueBoolean": d.supply_remaining_if_missed},
        {"url": "consultAfterMissedDays", "valuePositiveInt": d.consult_after_missed_days},
    ]}));
    out
}

pub fn medication_request(s: &RequestStep<'_>) -> Value {
    let p = s.prescription;
    let regime = &p.regimes()[s.step];
    let (from, to) = s.span();
    let dose = regime.daily_dose.as_mg();
    let days = (to - from).num_days() + 1;
    let mut r = json!({
        "resourceType": "MedicationRequest",
        "id": s.id,
        "meta": meta("MedicationRequest", s.last_updated),
        "extension": schedule_extensions(p, s.step),
        "status": s.status(),
        "intent": "order",
        "medicationCodeableConcept": medication(p.medicine()),
        "subject": reference("Patient", s.patient_id),
        "authoredOn": instant(s.authored_on).unwrap_or_else(|| s.authored_on.to_string()),
        "groupIdentifier": {"system": codes::PRESCRIPTION_ID, "value": s.prescription_id},
        "dosageInstruction": [{
            "sequence": s.step + 1,
            "text": format!("{dose} mg once a day, {from} to {to}, in instalments"),
            "timing": {"repeat": {"boundsPeriod": {"start": from.to_string(), "end": to.to_string()},
                                  "frequency": 1, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": mg(dose)}],
        }],
        "dispenseRequest": {
            "validityPeriod": {"start": p.start_date().to_string(), "end": p.end_date().to_string()},
            "expectedSupplyDuration": {"value": days, "unit": "days", "system": codes::UCUM, "code": "d"},
        },
        // UK Core requires it (1..1): a controlled drug is supplied as prescribed.
        "substitution": {"allowedBoolean": false},
    });
    if let Some(prior) = s.prior_id {
        r["priorPrescription"] = reference("MedicationRequest", prior);
    }
    r
}

/// What a dispense covered or why it did not happen.
pub enum DispenseKind {
    /// Handed over: each date put in hand with its dose; the first taken at the counter when
    /// `supervised_taken`.
    Supplied {
        supervised_taken: bool,
        dates: Vec<(NaiveDate, DoseMg)>,
        handed_over: String,
    },
    /// Nothing handed over for `date` (withheld, missed, closed or on hold).
    NotDispensed {
        why: NotDispensed,
        date: NaiveDate,
        dose: Option<DoseMg>,
    },
}

pub struct DispenseFacts<'a> {
    pub id: &'a str,
    pub patient_id: &'a str,
    pub medicine: Medicine,
    pub request_id: Option<&'a str>,
    pub pharmacy_ods: Option<&'a str>,
    pub last_updated: &'a str,
    pub kind: DispenseKind,
}

fn dose_on(date: NaiveDate, dose: DoseMg, seq: usize, note: &str) -> Value {
    json!({"sequence": seq, "text": format!("{} mg for {date}{note}", dose.as_mg()),
           "timing": {"event": [date.to_string()]},
           "doseAndRate": [{"doseQuantity": mg(dose.as_mg())}]})
}

pub fn medication_dispense(f: &DispenseFacts<'_>) -> Value {
    let mut r = json!({
        "resourceType": "MedicationDispense",
        "id": f.id,
        "meta": meta("MedicationDispense", f.last_updated),
        "medicationCodeableConcept": medication(f.medicine),
        "subject": reference("Patient", f.patient_id),
    });
    if let Some(ods) = f.pharmacy_ods {
        r["performer"] = json!([{"actor": {"identifier": {
            "system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": ods}}}]);
    }
    if let Some(req) = f.request_id {
        r["authorizingPrescription"] = json!([reference("MedicationRequest", req)]);
    }
    match &f.kind {
        DispenseKind::Supplied {
            supervised_taken,
            dates,
            handed_over,
        } => {
            let total: f64 = dates.iter().map(|(_, d)| d.as_mg()).sum();
            r["extension"] =
                json!([{"url": codes::EXT_SUPERVISED, "valueBoolean": supervised_taken}]);
            r["status"] = json!("completed");
            r["quantity"] = mg((total * 10.0).round() / 10.0);
            r["daysSupply"] =
                json!({"value": dates.len(), "unit": "days", "system": codes::UCUM, "code": "d"});
            r["whenHandedOver"] =
                json!(instant(handed_over).unwrap_or_else(|| handed_over.clone()));
            r["dosageInstruction"] = dates
                .iter()
                .enumerate()
                .map(|(i, (date, dose))| {
                    let note = if i == 0 && *supervised_taken {
                        ", taken at the pharmacy"
                    } else {
                        ", to take at home"
                    };
                    dose_on(*date, *dose, i + 1, note)
                })
                .collect();
        }
        DispenseKind::NotDispensed { why, date, dose } => {
            r["status"] = json!(why.status());
            r["statusReasonCodeableConcept"] = json!({"coding": [{
                "system": codes::DISPENSE_STATUS_REASON, "code": why.code(), "display": why.display()}]});
            if let Some(dose) = dose {
                r["dosageInstruction"] = json!([dose_on(*date, *dose, 1, ", not handed over")]);
            }
        }
    }
    r
}

/// A supervised dose taken at the counter.
pub struct AdministrationFacts<'a> {
    pub id: &'a str,
    pub patient_id: &'a str,
    pub medicine: Medicine,
    pub request_id: Option<&'a str>,
    pub dispense_id: &'a str,
    pub date: NaiveDate,
    pub dose: DoseMg,
    pub taken_at: &'a str,
    pub last_updated: &'a str,
}

pub fn medication_administration(f: &AdministrationFacts<'_>) -> Value {
    let mut r = json!({
        "resourceType": "MedicationAdministration",
        "id": f.id,
        "meta": meta("MedicationAdministration", f.last_updated),
        "status": "completed",
        "medicationCodeableConcept": medication(f.medicine),
        "subject": reference("Patient", f.patient_id),
        "effectiveDateTime": instant(f.taken_at).unwrap_or_else(|| f.taken_at.to_string()),
        "supportingInformation": [reference("MedicationDispense", f.dispense_id)],
        "dosage": {"text": format!("{} mg for {}, taken at the pharmacy under supervision",
                                   f.dose.as_mg(), f.date),
                   "dose": mg(f.dose.as_mg())},
    });
    if let Some(req) = f.request_id {
        r["request"] = reference("MedicationRequest", req);
    }
    r
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;
