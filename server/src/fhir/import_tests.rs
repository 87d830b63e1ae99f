use super::*;
use crate::fhir::resources::{RequestStep, medication_request};
use sotto_domain::{
    Collection, Directions, Medicine, PharmacyCalendar, Prescription, PrescriptionDraft,
};

fn draft() -> PrescriptionDraft {
    let collections = [("mon", 3, true), ("thu", 2, false), ("sat", 2, true)]
        .into_iter()
        .map(|(w, days, supervised)| Collection {
            weekday: w.parse().unwrap(),
            days,
            supervised,
        })
        .collect();
    PrescriptionDraft {
        medicine: Medicine::BuprenorphineSublingual,
        daily_dose_mg: 12.4,
        start_date: "2026-11-23".parse().unwrap(),
        end_date: "2026-12-02".parse().unwrap(),
        collections,
        directions: Directions {
            closed_days_prior: false,
            supply_remaining_if_missed: true,
            consult_after_missed_days: 2,
        },
    }
}

fn exported() -> Value {
    let p = Prescription::new(draft(), &PharmacyCalendar::default()).unwrap();
    medication_request(&RequestStep {
        id: "r1",
        prescription_id: "p1",
        patient_id: "su1",
        prescription: &p,
        step: 0,
        authored_on: "2026-11-20T10:00:00Z",
        last_updated: "2026-11-20T10:00:00Z",
        prior_id: None,
        today: "2026-11-20".parse().unwrap(),
    })
}

fn fields(r: &Value) -> Vec<String> {
    parse(r).unwrap_err().into_iter().map(|e| e.field).collect()
}

#[test]
fn an_exported_request_reads_back_as_the_same_draft() {
    let (subject, back) = parse(&exported()).unwrap();
    assert_eq!(subject, Subject::Id("su1".into()));
    let want = draft();
    assert_eq!(back.medicine, want.medicine);
    assert_eq!(back.daily_dose_mg, want.daily_dose_mg);
    assert_eq!(
        (back.start_date, back.end_date),
        (want.start_date, want.end_date)
    );
    assert_eq!(back.directions, want.directions);
    let mut got = back.collections.clone();
    got.sort_by_key(|c| c.weekday);
    let mut expected = want.collections.clone();
    expected.sort_by_key(|c| c.weekday);
    assert_eq!(got, expected);
}

#[test]
fn a_subject_by_service_reference_is_accepted() {
    let mut r = exported();
    r["subject"] =
        serde_json::json!({"identifier": {"system": codes::SERVICE_REFERENCE, "value": "SU-1042"}});
    assert_eq!(parse(&r).unwrap().0, Subject::Reference("SU-1042".into()));
}

#[test]
fn unknown_elements_and_extensions_are_refused_not_ignored() {
    let mut r = exported();
    r["priorPrescription"] = serde_json::json!({"reference": "MedicationRequest/x"});
    r["extension"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"url": "https://example.org/x", "valueBoolean": true}));
    let f = fields(&r);
    assert!(
        f.contains(&"MedicationRequest.priorPrescription".to_string()),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|x| x.ends_with(".url") && x.starts_with("MedicationRequest.extension[")),
        "{f:?}"
    );
}

#[test]
fn a_step_that_does_not_cover_the_whole_prescription_is_refused() {
    let mut r = exported();
    r["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["end"] = "2026-11-29".into();
    assert_eq!(
        fields(&r),
        ["MedicationRequest.dosageInstruction[0].timing.repeat.boundsPeriod.end"]
    );
}

#[test]
fn a_dose_not_in_mg_missing_directions_or_a_foreign_code_is_named() {
    let mut r = exported();
    r["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["code"] = "mL".into();
    r["extension"]
        .as_array_mut()
        .unwrap()
        .retain(|x| x["url"] != codes::EXT_DIRECTIONS);
    r["medicationCodeableConcept"]["coding"][0]["system"] = "https://example.org/bnf".into();
    let f = fields(&r);
    assert!(
        f.contains(
            &"MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.code".to_string()
        ),
        "{f:?}"
    );
    assert!(
        f.contains(&"MedicationRequest.extension".to_string()),
        "{f:?}"
    );
    assert!(
        f.contains(&"MedicationRequest.medicationCodeableConcept.coding[0].system".to_string()),
        "{f:?}"
    );
}

fn with_codings(codings: Value) -> Value {
    let mut r = exported();
    r["medicationCodeableConcept"]["coding"] = codings;
    r
}

fn dmd(code: &str) -> Value {
    serde_json::json!({"system": codes::DMD, "code": code})
}

fn ours(m: Medicine) -> Value {
    serde_json::json!({"system": codes::MEDICINE, "code": m.as_str()})
}

#[test]
fn the_export_codes_dm_d_first_and_either_coding_order_or_ours_alone_imports() {
    let r = exported();
    let coding = &r["medicationCodeableConcept"]["coding"];
    assert_eq!(coding[0]["system"], codes::DMD);
    assert_eq!(coding[0]["code"], "31684002");
    assert_eq!(coding[1]["code"], "buprenorphine_sublingual");
    let sl = Medicine::BuprenorphineSublingual;
    for codings in [
        serde_json::json!([ours(sl)]), // an export from before dm+d codes
        serde_json::json!([ours(sl), dmd("31684002")]),
        serde_json::json!([{"system": codes::SNOMED, "code": "31684002"}, ours(sl)]),
    ] {
        assert_eq!(
            parse(&with_codings(codings.clone())).unwrap().1.medicine,
            sl,
            "{codings}"
        );
    }
}

#[test]
fn a_dm_d_substance_code_alone_an_unknown_code_or_codes_that_disagree_are_refused() {
    let coding = "MedicationRequest.medicationCodeableConcept.coding";
    for vtm in ["51758009", "31684002"] {
        let errs = parse(&with_codings(serde_json::json!([dmd(vtm)]))).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].field, coding);
        assert!(errs[0].message.contains("form and strength"), "{errs:?}");
    }
    let errs = parse(&with_codings(serde_json::json!([dmd("999999")]))).unwrap_err();
    assert_eq!(errs[0].field, format!("{coding}[0].code"));
    assert!(errs[0].message.contains("51758009 Methadone"), "{errs:?}");
    let errs = parse(&with_codings(serde_json::json!([
        dmd("51758009"),
        ours(Medicine::BuprenorphineSublingual)
    ])))
    .unwrap_err();
    assert_eq!(errs[0].field, coding);
    assert!(errs[0].message.contains("different medicines"), "{errs:?}");
    let errs = parse(&with_codings(serde_json::json!([]))).unwrap_err();
    assert_eq!(errs[0].field, coding);
}

#[test]
fn substitution_is_read_only_as_not_allowed() {
    let mut r = exported();
    assert_eq!(
        r["substitution"],
        serde_json::json!({"allowedBoolean": false})
    );
    r.as_object_mut().unwrap().remove("substitution");
    assert!(parse(&r).is_ok(), "absent is fine");
    r["substitution"] = serde_json::json!({"allowedBoolean": true});
    assert_eq!(fields(&r), ["MedicationRequest.substitution"]);
}

#[test]
fn domain_field_names_become_fhir_elements() {
    let r = exported();
    assert_eq!(
        element("daily_dose_mg", &r),
        "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.value"
    );
    assert_eq!(
        element("collections[1].weekday", &r),
        "MedicationRequest.extension[1].weekday"
    );
    assert_eq!(
        element("start_date", &r),
        "MedicationRequest.dispenseRequest.validityPeriod.start"
    );
}
