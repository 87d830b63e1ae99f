//! Sotto's canonical URLs: identifier systems, CodeSystems and extensions.
//!
//! Canonical URLs are names, not addresses: they are the same on every Sotto server, so a
//! resource exported from one server means the same on another. Each server serves the
//! definitions behind them at `/fhir/r4/StructureDefinition/{id}` and `/fhir/r4/CodeSystem/{id}`
//! (and by `?url=`); their JSON is kept in `docs/fhir/`.

use sotto_domain::Medicine;

/// The base of every Sotto canonical URL.
pub const BASE: &str = "https://sotto.invalid/fhir";

/// The service's reference for a person (e.g. `SU-1042`).
pub const SERVICE_REFERENCE: &str = "https://sotto.invalid/fhir/sid/service-reference";
/// A Sotto prescription id: every regime step of one prescription shares it.
pub const PRESCRIPTION_ID: &str = "https://sotto.invalid/fhir/sid/prescription";

/// The medicines Sotto dispenses, exactly (form included): the coding every resource carries
/// second, after the dm+d one, and the one an import needs unless a dm+d code names the product.
pub const MEDICINE: &str = "https://sotto.invalid/fhir/CodeSystem/medicine";

/// dm+d, the NHS dictionary of medicines and devices.
pub const DMD: &str = "https://dmd.nhs.uk";
/// SNOMED CT: dm+d concept ids are SNOMED CT (UK drug extension) ids, so an import reads the
/// same codes under either system.
pub const SNOMED: &str = "http://snomed.info/sct";

/// The UK Core profile a resource of this type claims (`meta.profile`, `supportedProfile`).
pub fn uk_core_profile(resource_type: &str) -> String {
    format!("https://fhir.hl7.org.uk/StructureDefinition/UKCore-{resource_type}")
}

/// How much of a medicine a published concept names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// A dm+d VTM: the substance only, no form or strength.
    Substance,
    /// A dm+d VMP or AMP: the product, form and strength included.
    Product,
}

/// A dm+d concept verified against a public copy of an NHSBSA dm+d release, with the Sotto
/// medicines it covers. Each is cited in `docs/fhir/README.md` ("Medication codes").
#[derive(Debug)]
pub struct Published {
    pub code: &'static str,
    /// The dm+d name, as the release spells it.
    pub display: &'static str,
    pub precision: Precision,
    pub medicines: &'static [Medicine],
}

/// Every dm+d code Sotto emits or reads. Only VTMs could be verified: no public source found
/// gave the VMP ids of these products (see the docs), so none is listed rather than a guess.
pub const PUBLISHED: [Published; 2] = [
    Published {
        code: "51758009",
        display: "Methadone",
        precision: Precision::Substance,
        medicines: &[Medicine::MethadoneOralSolution1mgMl],
    },
    Published {
        code: "31684002",
        display: "Buprenorphine",
        precision: Precision::Substance,
        medicines: &[
            Medicine::BuprenorphineSublingual,
            Medicine::BuprenorphineOralLyophilisate,
        ],
    },
];

/// The dm+d concept a resource codes `m` with first; `None` if none could be verified.
pub fn published(m: Medicine) -> Option<&'static Published> {
    PUBLISHED.iter().find(|p| p.medicines.contains(&m))
}

/// The dm+d concept behind a code, if Sotto knows it.
pub fn lookup(code: &str) -> Option<&'static Published> {
    PUBLISHED.iter().find(|p| p.code == code)
}
/// Why a dispense was not completed.
pub const DISPENSE_STATUS_REASON: &str =
    "https://sotto.invalid/fhir/CodeSystem/dispense-status-reason";

/// One collection of the weekly instalment pattern (repeats, one per collection day).
pub const EXT_INSTALMENT: &str = "https://sotto.invalid/fhir/StructureDefinition/instalment";
/// The Home Office approved wording the prescription carries.
pub const EXT_DIRECTIONS: &str =
    "https://sotto.invalid/fhir/StructureDefinition/home-office-directions";
/// Whether the first dose of a supply was taken at the counter.
pub const EXT_SUPERVISED: &str =
    "https://sotto.invalid/fhir/StructureDefinition/supervised-consumption";

/// UCUM, for mg and days.
pub const UCUM: &str = "http://unitsofmeasure.org";

/// The display text of a medicine code.
pub fn medicine_display(m: Medicine) -> &'static str {
    match m {
        Medicine::MethadoneOralSolution1mgMl => "Methadone oral solution 1 mg/ml",
        Medicine::BuprenorphineSublingual => "Buprenorphine sublingual tablets",
        Medicine::BuprenorphineOralLyophilisate => "Buprenorphine oral lyophilisates",
    }
}

/// A dispense not completed, and why (the codes of [`DISPENSE_STATUS_REASON`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotDispensed {
    /// The person did not come for the collection covering the day.
    CollectionMissed,
    /// The pharmacy was closed and the collection covering the day was not made.
    PharmacyClosed,
    /// A hold was in force (the reason is the service's business and is never carried).
    OnHold,
    /// Withheld by the pharmacist: the person appeared intoxicated.
    WithheldIntoxicated,
    /// Withheld: the person was unwell.
    WithheldUnwell,
    /// Withheld: identity not confirmed.
    WithheldIdentity,
    /// Withheld for another reason the pharmacist recorded (no free text is carried).
    WithheldOther,
}

impl NotDispensed {
    pub const ALL: [NotDispensed; 7] = [
        NotDispensed::CollectionMissed,
        NotDispensed::PharmacyClosed,
        NotDispensed::OnHold,
        NotDispensed::WithheldIntoxicated,
        NotDispensed::WithheldUnwell,
        NotDispensed::WithheldIdentity,
        NotDispensed::WithheldOther,
    ];

    pub fn code(self) -> &'static str {
        match self {
            NotDispensed::CollectionMissed => "collection-missed",
            NotDispensed::PharmacyClosed => "pharmacy-closed",
            NotDispensed::OnHold => "on-hold",
            NotDispensed::WithheldIntoxicated => "withheld-intoxicated",
            NotDispensed::WithheldUnwell => "withheld-unwell",
            NotDispensed::WithheldIdentity => "withheld-identity-not-confirmed",
            NotDispensed::WithheldOther => "withheld-other",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            NotDispensed::CollectionMissed => "Collection missed",
            NotDispensed::PharmacyClosed => "Pharmacy closed and the covering collection not made",
            NotDispensed::OnHold => "On hold at the service's request",
            NotDispensed::WithheldIntoxicated => "Withheld: appeared intoxicated",
            NotDispensed::WithheldUnwell => "Withheld: unwell",
            NotDispensed::WithheldIdentity => "Withheld: identity not confirmed",
            NotDispensed::WithheldOther => "Withheld: other reason",
        }
    }

    /// The FHIR `MedicationDispense.status` it goes with.
    pub fn status(self) -> &'static str {
        match self {
            NotDispensed::OnHold => "on-hold",
            // "The dispensed product was not and will never be picked up by the patient."
            NotDispensed::CollectionMissed | NotDispensed::PharmacyClosed => "cancelled",
            _ => "declined",
        }
    }

    /// From the counter's withheld reason as stored.
    pub fn withheld(stored: Option<&str>) -> NotDispensed {
        match stored {
            Some("intoxicated") => NotDispensed::WithheldIntoxicated,
            Some("unwell") => NotDispensed::WithheldUnwell,
            Some("identity_not_confirmed") => NotDispensed::WithheldIdentity,
            _ => NotDispensed::WithheldOther,
        }
    }

    /// From a stored missed-dose row's `why`; `None` for a withheld day, which the withheld
    /// dispense itself already carries.
    pub fn missed(why: &str) -> Option<NotDispensed> {
        match why {
            "withheld" => None,
            "on_hold" => Some(NotDispensed::OnHold),
            "pharmacy_closed" => Some(NotDispensed::PharmacyClosed),
            _ => Some(NotDispensed::CollectionMissed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_medicine_has_one_verified_dm_d_concept_and_codes_are_distinct() {
        use Medicine::*;
        for m in [
            MethadoneOralSolution1mgMl,
            BuprenorphineSublingual,
            BuprenorphineOralLyophilisate,
        ] {
            let p = published(m).expect("every medicine has a verified VTM");
            assert_eq!(
                PUBLISHED
                    .iter()
                    .filter(|q| q.medicines.contains(&m))
                    .count(),
                1
            );
            assert_eq!(lookup(p.code).map(|q| q.code), Some(p.code));
        }
        assert_eq!(
            published(MethadoneOralSolution1mgMl).unwrap().code,
            "51758009"
        );
        assert_eq!(published(BuprenorphineSublingual).unwrap().code, "31684002");
        assert!(
            lookup("12245711000001105").is_none(),
            "methadone capsules are not ours"
        );
        assert_eq!(
            uk_core_profile("Patient"),
            "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"
        );
    }

    #[test]
    fn every_not_dispensed_code_is_distinct_and_maps_to_an_r4_status() {
        let codes: std::collections::BTreeSet<_> =
            NotDispensed::ALL.iter().map(|n| n.code()).collect();
        assert_eq!(codes.len(), NotDispensed::ALL.len());
        for n in NotDispensed::ALL {
            assert!(["on-hold", "cancelled", "declined"].contains(&n.status()));
        }
        assert_eq!(
            NotDispensed::withheld(Some("intoxicated")).status(),
            "declined"
        );
        assert_eq!(NotDispensed::missed("withheld"), None);
        assert_eq!(NotDispensed::missed("on_hold"), Some(NotDispensed::OnHold));
    }
}
