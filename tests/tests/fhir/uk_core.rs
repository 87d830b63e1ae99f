//! The UK Core constraints Sotto's resources were checked against, by hand, in the UK Core
//! StructureDefinitions (NHSDigital/FHIR-R4-UKCORE-STAGING-MAIN, structuredefinitions/, commit
//! 3d2827e3: UKCore-Patient 2.6.1, UKCore-MedicationRequest 2.5.0, UKCore-MedicationDispense
//! 2.4.0, UKCore-MedicationAdministration 2.3.0) and the R4 base they constrain. The HL7
//! validator with the UK Core package cannot run here (docs/fhir/README.md says why), so each
//! constraint is restated below; every message names the profile and the element.

use serde_json::Value;

pub const PROFILED: [&str; 4] = [
    "Patient",
    "MedicationRequest",
    "MedicationDispense",
    "MedicationAdministration",
];

pub fn profile(kind: &str) -> String {
    format!("https://fhir.hl7.org.uk/StructureDefinition/UKCore-{kind}")
}

/// R4's required value sets for `status` (and `MedicationRequest.intent`).
fn required_codes(kind: &str, element: &str) -> &'static [&'static str] {
    match (kind, element) {
        ("MedicationRequest", "status") => &[
            "active",
            "on-hold",
            "cancelled",
            "completed",
            "entered-in-error",
            "stopped",
            "draft",
            "unknown",
        ],
        ("MedicationRequest", "intent") => &[
            "proposal",
            "plan",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        ],
        ("MedicationDispense", "status") => &[
            "preparation",
            "in-progress",
            "cancelled",
            "on-hold",
            "completed",
            "entered-in-error",
            "stopped",
            "declined",
            "unknown",
        ],
        ("MedicationAdministration", "status") => &[
            "in-progress",
            "not-done",
            "on-hold",
            "completed",
            "entered-in-error",
            "stopped",
            "unknown",
        ],
        _ => &[],
    }
}

struct Check<'a> {
    kind: &'a str,
    r: &'a Value,
    broken: Vec<String>,
}

impl Check<'_> {
    fn expect(&mut self, ok: bool, element: &str, rule: &str) {
        if !ok {
            let id = self.r["id"].as_str().unwrap_or("?");
            self.broken.push(format!(
                "UKCore-{} {}.{element}: {rule} ({}/{id})",
                self.kind, self.kind, self.kind
            ));
        }
    }

    fn required_code(&mut self, element: &str) {
        let codes = required_codes(self.kind, element);
        let ok = self.r[element].as_str().is_some_and(|c| codes.contains(&c));
        self.expect(ok, element, "1..1, from the R4 required value set");
    }

    /// medication[x]: 1..1; the preferred binding is UKCore-MedicationCode, dm+d concepts
    /// (`https://dmd.nhs.uk`, SNOMED CT ids: digits, 6 to 18).
    fn medication(&mut self) {
        let first = &self.r["medicationCodeableConcept"]["coding"][0];
        let code = first["code"].as_str().unwrap_or("");
        self.expect(
            first["system"] == "https://dmd.nhs.uk"
                && (6..=18).contains(&code.len())
                && code.bytes().all(|b| b.is_ascii_digit()),
            "medication[x]",
            "1..1, first coding from UKCore-MedicationCode (dm+d)",
        );
    }

    fn reference_to(&mut self, element: &str, target: &str) {
        let ok = self.r[element]["reference"]
            .as_str()
            .is_some_and(|r| r.starts_with(&format!("{target}/")));
        self.expect(ok, element, &format!("a reference to a {target}"));
    }
}

/// Every constraint above that `r` breaks, each naming the profile and the element.
pub fn violations(r: &Value) -> Vec<String> {
    let kind = r["resourceType"].as_str().unwrap_or("?");
    let mut c = Check {
        kind,
        r,
        broken: Vec::new(),
    };
    let claimed = r["meta"]["profile"]
        .as_array()
        .is_some_and(|p| p.iter().any(|x| x.as_str() == Some(profile(kind).as_str())));
    c.expect(claimed, "meta.profile", "claims the profile");
    match kind {
        "Patient" => {
            let ids = r["identifier"].as_array().cloned().unwrap_or_default();
            c.expect(
                !ids.is_empty(),
                "identifier",
                "carries the service reference",
            );
            for id in &ids {
                c.expect(
                    id["system"].is_string() && id["value"].is_string(),
                    "identifier",
                    "each identifier has a system and a value",
                );
                // The nhsNumber slice is keyed on this system: it must never carry anything
                // else, and Sotto does not hold the NHS number at all.
                c.expect(
                    id["system"] != "https://fhir.nhs.uk/Id/nhs-number",
                    "identifier:nhsNumber",
                    "the NHS number system is not used for a service reference",
                );
            }
        }
        "MedicationRequest" => {
            c.required_code("status");
            c.required_code("intent");
            c.medication();
            c.reference_to("subject", "Patient");
            let allowed = &r["substitution"];
            c.expect(
                allowed["allowedBoolean"].is_boolean()
                    || allowed["allowedCodeableConcept"].is_object(),
                "substitution",
                "1..1 in UK Core, with allowed[x] 1..1",
            );
        }
        "MedicationDispense" => {
            c.required_code("status");
            c.medication();
            c.reference_to("subject", "Patient");
            for p in r["performer"].as_array().into_iter().flatten() {
                c.expect(p["actor"].is_object(), "performer.actor", "1..1");
            }
        }
        "MedicationAdministration" => {
            c.required_code("status");
            c.medication();
            c.reference_to("subject", "Patient");
            c.expect(
                r["effectiveDateTime"].is_string() || r["effectivePeriod"].is_object(),
                "effective[x]",
                "1..1",
            );
            let d = &r["dosage"];
            c.expect(
                d.is_null() || d["text"].is_string() || d["dose"].is_object(),
                "dosage",
                "mad-1: a dosage has text, dose or rate[x]",
            );
        }
        other => c.expect(false, "resourceType", &format!("{other} is not profiled")),
    }
    c.broken
}
