//! Reads a MedicationRequest into the JSON API's `PrescriptionDraft`, collecting every problem
//! with the FHIR element at fault. Refuses every element and extension it does not understand.

use serde_json::Value;
use sotto_domain::{Collection, Directions, FieldError, Medicine, PrescriptionDraft, Weekday};

use super::codes;

/// Who the prescription is for, as the resource names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `Patient/{id}` on this server.
    Id(String),
    /// The service reference, for a resource exported by another server.
    Reference(String),
}

const ALLOWED: [&str; 14] = [
    "resourceType",
    "id",
    "meta",
    "text",
    "extension",
    "status",
    "intent",
    "medicationCodeableConcept",
    "subject",
    "authoredOn",
    "groupIdentifier",
    "dosageInstruction",
    "dispenseRequest",
    "substitution",
];

const MR: &str = "MedicationRequest";

struct Errs(Vec<FieldError>);

impl Errs {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
}

fn date(v: &Value, path: &str, errs: &mut Errs) -> Option<chrono::NaiveDate> {
    match v.as_str().map(|s| s.parse()) {
        Some(Ok(d)) => Some(d),
        _ => {
            errs.push(path, "must be a date in the form YYYY-MM-DD");
            None
        }
    }
}

/// Reads a MedicationRequest into a draft, collecting every problem.
pub fn parse(r: &Value) -> Result<(Subject, PrescriptionDraft), Vec<FieldError>> {
    let mut errs = Errs(Vec::new());
    let Some(obj) = r.as_object() else {
        return Err(vec![FieldError::new(MR, "must be a JSON object")]);
    };
    if r["resourceType"] != MR {
        errs.push(format!("{MR}.resourceType"), "must be MedicationRequest");
    }
    for key in obj.keys().filter(|k| !ALLOWED.contains(&k.as_str())) {
        errs.push(
            format!("{MR}.{key}"),
            "is not understood by this import, so it is refused rather than ignored",
        );
    }
    if r["status"] != "active" {
        errs.push(format!("{MR}.status"), "must be active");
    }
    if r["intent"] != "order" {
        errs.push(format!("{MR}.intent"), "must be order");
    }
    if !r["substitution"].is_null()
        && r["substitution"] != serde_json::json!({"allowedBoolean": false})
    {
        errs.push(
            format!("{MR}.substitution"),
            "must be {\"allowedBoolean\": false} or absent: Sotto supplies a controlled drug as prescribed and cannot record a permission to substitute",
        );
    }
    let medicine = medicine(&r["medicationCodeableConcept"], &mut errs);
    let subject = subject(&r["subject"], &mut errs);
    let period = &r["dispenseRequest"]["validityPeriod"];
    let vp = format!("{MR}.dispenseRequest.validityPeriod");
    let start = date(&period["start"], &format!("{vp}.start"), &mut errs);
    let end = date(&period["end"], &format!("{vp}.end"), &mut errs);
    let dose = dosage(&r["dosageInstruction"], (start, end), &mut errs);
    let (collections, directions) = extensions(&r["extension"], &mut errs);
    match (subject, medicine, start, end, dose, directions) {
        (
            Some(s),
            Some(m),
            Some(start_date),
            Some(end_date),
            Some(daily_dose_mg),
            Some(directions),
        ) if errs.0.is_empty() => Ok((
            s,
            PrescriptionDraft {
                medicine: m,
                daily_dose_mg,
                start_date,
                end_date,
                collections,
                directions,
            },
        )),
        _ => Err(errs.0),
    }
}

/// The Sotto medicines a coding may mean, and whether it names the product (form included).
fn coding_means(x: &Value, at: &str, errs: &mut Errs) -> Option<(Vec<Medicine>, bool)> {
    let Some(code) = x["code"].as_str() else {
        errs.push(format!("{at}.code"), "is required");
        return None;
    };
    match x["system"].as_str() {
        Some(codes::MEDICINE) => match code.parse::<Medicine>() {
            Ok(m) => Some((vec![m], true)),
            Err(why) => {
                errs.push(format!("{at}.code"), why);
                None
            }
        },
        Some(system @ (codes::DMD | codes::SNOMED)) => match codes::lookup(code) {
            Some(p) => Some((
                p.medicines.to_vec(),
                p.precision == codes::Precision::Product,
            )),
            None => {
                let known: Vec<String> = codes::PUBLISHED
                    .iter()
                    .map(|p| format!("{} {}", p.code, p.display))
                    .collect();
                errs.push(
                    format!("{at}.code"),
                    format!(
                        "{code} is not a {system} code this server maps to a medicine (it knows {})",
                        known.join(", ")
                    ),
                );
                None
            }
        },
        _ => {
            errs.push(
                format!("{at}.system"),
                format!(
                    "must be {}, {} or {}: a coding from another system is refused rather than ignored",
                    codes::DMD,
                    codes::SNOMED,
                    codes::MEDICINE
                ),
            );
            None
        }
    }
}

/// Every coding must be one Sotto reads, they must agree on one medicine, and one of them must
/// name the product: a dm+d VTM alone says "methadone", not the form and strength a controlled
/// drug prescription must state, and buprenorphine tablets and lyophilisates are dosed apart.
fn medicine(c: &Value, errs: &mut Errs) -> Option<Medicine> {
    let path = format!("{MR}.medicationCodeableConcept.coding");
    let Some(codings) = c["coding"].as_array().filter(|a| !a.is_empty()) else {
        errs.push(
            path,
            format!(
                "must hold a coding from {} or {}",
                codes::DMD,
                codes::MEDICINE
            ),
        );
        return None;
    };
    let mut meant: Option<Vec<Medicine>> = None;
    let (mut exact, mut readable) = (false, true);
    for (i, x) in codings.iter().enumerate() {
        let Some((these, product)) = coding_means(x, &format!("{path}[{i}]"), errs) else {
            readable = false;
            continue;
        };
        exact |= product;
        meant = Some(match meant {
            None => these,
            Some(before) => before.into_iter().filter(|m| these.contains(m)).collect(),
        });
    }
    match meant.as_deref() {
        _ if !readable => None,
        Some([m]) if exact => Some(*m),
        Some([]) => {
            errs.push(path, "the codings name different medicines");
            None
        }
        _ => {
            errs.push(
                path,
                format!(
                    "names the substance only (a dm+d VTM), not the form and strength a controlled drug prescription must state: add the coding from {}",
                    codes::MEDICINE
                ),
            );
            None
        }
    }
}

fn subject(s: &Value, errs: &mut Errs) -> Option<Subject> {
    if let Some(id) = s["reference"]
        .as_str()
        .and_then(|r| r.strip_prefix("Patient/"))
    {
        return Some(Subject::Id(id.to_string()));
    }
    if s["identifier"]["system"] == codes::SERVICE_REFERENCE
        && let Some(v) = s["identifier"]["value"].as_str()
    {
        return Some(Subject::Reference(v.to_string()));
    }
    errs.push(
        format!("{MR}.subject"),
        format!(
            "must be a reference Patient/{{id}} or an identifier from {}",
            codes::SERVICE_REFERENCE
        ),
    );
    None
}

/// The one dosage: a daily dose in mg, over the whole validity period.
fn dosage(
    d: &Value,
    (start, end): (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>),
    errs: &mut Errs,
) -> Option<f64> {
    let path = format!("{MR}.dosageInstruction");
    let Some([one]) = d.as_array().map(Vec::as_slice) else {
        errs.push(path, "must hold exactly one dosage (a regime step of a changed prescription cannot be imported on its own)");
        return None;
    };
    let bounds = &one["timing"]["repeat"]["boundsPeriod"];
    let bp = format!("{path}[0].timing.repeat.boundsPeriod");
    for (part, want) in [("start", start), ("end", end)] {
        if !bounds[part].is_null()
            && want.is_some()
            && bounds[part].as_str() != want.map(|w| w.to_string()).as_deref()
        {
            errs.push(format!("{bp}.{part}"), "must equal dispenseRequest.validityPeriod: the dose must cover the whole prescription");
        }
    }
    let repeat = &one["timing"]["repeat"];
    let daily = [
        ("frequency", Value::from(1)),
        ("period", Value::from(1)),
        ("periodUnit", Value::from("d")),
    ];
    if daily
        .iter()
        .any(|(k, v)| !repeat[*k].is_null() && repeat[*k] != *v)
    {
        errs.push(
            format!("{path}[0].timing.repeat"),
            "must be once a day (frequency 1, period 1 d)",
        );
    }
    let q = &one["doseAndRate"][0]["doseQuantity"];
    let qp = format!("{path}[0].doseAndRate[0].doseQuantity");
    if q["code"] != "mg" || (!q["system"].is_null() && q["system"] != codes::UCUM) {
        errs.push(
            format!("{qp}.code"),
            "the dose must be in mg (UCUM code mg)",
        );
        return None;
    }
    match q["value"].as_f64() {
        Some(v) => Some(v),
        None => {
            errs.push(format!("{qp}.value"), "must be a number of mg");
            None
        }
    }
}

/// The instalment pattern and the directions; any other extension is refused.
fn extensions(e: &Value, errs: &mut Errs) -> (Vec<Collection>, Option<Directions>) {
    let mut collections = Vec::new();
    let mut directions = None;
    let empty = Vec::new();
    for (i, x) in e.as_array().unwrap_or(&empty).iter().enumerate() {
        let path = format!("{MR}.extension[{i}]");
        let sub = |name: &str| {
            x["extension"]
                .as_array()
                .and_then(|a| a.iter().find(|s| s["url"] == name))
                .cloned()
                .unwrap_or(Value::Null)
        };
        if x["url"] == codes::EXT_INSTALMENT {
            let weekday = sub("weekday")["valueCode"]
                .as_str()
                .map(str::parse::<Weekday>);
            let days = sub("days")["valuePositiveInt"]
                .as_u64()
                .and_then(|d| u8::try_from(d).ok());
            let supervised = sub("supervised")["valueBoolean"].as_bool();
            match (weekday, days, supervised) {
                (Some(Ok(weekday)), Some(days), Some(supervised)) => collections.push(Collection { weekday, days, supervised }),
                _ => errs.push(path, "an instalment needs weekday (mon..sun), days (1-7) and supervised (true/false)"),
            }
        } else if x["url"] == codes::EXT_DIRECTIONS && directions.is_none() {
            let flag = |n: &str| sub(n)["valueBoolean"].as_bool();
            let consult = sub("consultAfterMissedDays")["valuePositiveInt"]
                .as_u64()
                .and_then(|d| u8::try_from(d).ok());
            match (flag("closedDaysPrior"), flag("supplyRemainingIfMissed"), consult) {
                (Some(a), Some(b), Some(c)) => directions = Some(Directions { closed_days_prior: a, supply_remaining_if_missed: b, consult_after_missed_days: c }),
                _ => errs.push(path, "the directions need closedDaysPrior, supplyRemainingIfMissed and consultAfterMissedDays"),
            }
        } else {
            errs.push(
                format!("{path}.url"),
                "is not a Sotto instalment or directions extension (or repeats the directions)",
            );
        }
    }
    if collections.is_empty() {
        errs.push(
            format!("{MR}.extension"),
            format!(
                "must carry the instalment pattern ({})",
                codes::EXT_INSTALMENT
            ),
        );
    }
    if directions.is_none() {
        errs.push(
            format!("{MR}.extension"),
            format!(
                "must carry the Home Office directions ({})",
                codes::EXT_DIRECTIONS
            ),
        );
    }
    (collections, directions)
}
