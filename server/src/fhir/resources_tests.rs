use super::*;
use chrono::NaiveDate;
use sotto_domain::{Collection, Directions, PharmacyCalendar, PrescriptionDraft, Weekday};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn prescription(dose: f64) -> Prescription {
    let mut collections: Vec<Collection> = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ]
    .into_iter()
    .map(|weekday| Collection {
        weekday,
        days: 1,
        supervised: true,
    })
    .collect();
    collections.push(Collection {
        weekday: Weekday::Sat,
        days: 2,
        supervised: true,
    });
    let draft = PrescriptionDraft {
        medicine: Medicine::MethadoneOralSolution1mgMl,
        daily_dose_mg: dose,
        start_date: d("2026-11-23"),
        end_date: d("2026-12-06"),
        collections,
        directions: Directions {
            consult_after_missed_days: 2,
            ..Directions::default()
        },
    };
    Prescription::new(draft, &PharmacyCalendar::default()).unwrap()
}

fn step<'a>(p: &'a Prescription, step: usize, today: &str) -> RequestStep<'a> {
    RequestStep {
        id: "r1",
        prescription_id: "p1",
        patient_id: "su1",
        prescription: p,
        step,
        authored_on: "2026-11-20T10:00:00+00:00",
        last_updated: "2026-11-20T10:00:00.000Z",
        prior_id: None,
        today: d(today),
    }
}

#[test]
fn a_prescription_carries_its_dose_period_pattern_and_directions() {
    let p = prescription(60.5);
    let r = medication_request(&step(&p, 0, "2026-11-25"));
    assert_eq!(r["resourceType"], "MedicationRequest");
    assert_eq!(
        r["meta"]["profile"],
        json!(["https://fhir.hl7.org.uk/StructureDefinition/UKCore-MedicationRequest"])
    );
    let coding = &r["medicationCodeableConcept"]["coding"];
    assert_eq!(
        coding[0],
        json!({"system": "https://dmd.nhs.uk", "code": "51758009", "display": "Methadone"})
    );
    assert_eq!(coding[1]["code"], "methadone_oral_solution_1mg_ml");
    assert_eq!(r["substitution"]["allowedBoolean"], false);
    assert_eq!(r["status"], "active");
    assert_eq!(r["intent"], "order");
    assert_eq!(r["subject"]["reference"], "Patient/su1");
    assert_eq!(r["authoredOn"], "2026-11-20T10:00:00.000Z");
    let dose = &r["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"];
    assert_eq!(dose["value"], 60.5);
    assert_eq!(dose["code"], "mg");
    assert_eq!(
        r["dispenseRequest"]["validityPeriod"]["start"],
        "2026-11-23"
    );
    assert_eq!(r["dispenseRequest"]["validityPeriod"]["end"], "2026-12-06");
    assert_eq!(r["dispenseRequest"]["expectedSupplyDuration"]["value"], 14);
    let ext = r["extension"].as_array().unwrap();
    let instalments: Vec<&Value> = ext
        .iter()
        .filter(|e| e["url"] == codes::EXT_INSTALMENT)
        .collect();
    assert_eq!(instalments.len(), 6);
    let sat = instalments
        .iter()
        .find(|e| e["extension"][0]["valueCode"] == "sat")
        .expect("a Saturday collection");
    assert_eq!(sat["extension"][1]["valuePositiveInt"], 2);
    assert_eq!(sat["extension"][2]["valueBoolean"], true);
    let dirs = ext
        .iter()
        .find(|e| e["url"] == codes::EXT_DIRECTIONS)
        .unwrap();
    assert_eq!(dirs["extension"][2]["url"], "consultAfterMissedDays");
    assert_eq!(dirs["extension"][2]["valuePositiveInt"], 2);
    assert_eq!(
        r["medicationCodeableConcept"]["text"],
        "Methadone oral solution 1 mg/ml"
    );
}

#[test]
fn a_replaced_step_is_stopped_and_bounded_by_the_next_one() {
    let p = prescription(60.0);
    let later = p.with_regime(sotto_domain::Regime {
        effective_from: d("2026-11-30"),
        daily_dose: DoseMg::parse_mg(50.0, Medicine::MethadoneOralSolution1mgMl).unwrap(),
        collections: p.regimes()[0].collections.clone(),
    });
    let first = medication_request(&step(&later, 0, "2026-11-25"));
    assert_eq!(first["status"], "stopped");
    let bounds = &first["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"];
    assert_eq!(bounds["end"], "2026-11-29");
    let mut second = step(&later, 1, "2026-12-07");
    second.prior_id = Some("r0");
    let second = medication_request(&second);
    assert_eq!(second["status"], "completed");
    assert_eq!(
        second["priorPrescription"]["reference"],
        "MedicationRequest/r0"
    );
    assert_eq!(second["dosageInstruction"][0]["sequence"], 2);
    assert_eq!(
        second["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"],
        50.0
    );
    assert_eq!(
        second["dispenseRequest"]["expectedSupplyDuration"]["value"],
        7
    );
}

fn dispense(kind: DispenseKind) -> Value {
    medication_dispense(&DispenseFacts {
        id: "d1",
        patient_id: "su1",
        medicine: Medicine::MethadoneOralSolution1mgMl,
        request_id: Some("r1"),
        pharmacy_ods: Some("FA001"),
        last_updated: "2026-11-28T09:00:01.000Z",
        kind,
    })
}

#[test]
fn a_supply_says_which_days_it_put_in_hand_and_how_much() {
    let dose = DoseMg::from_micrograms(60_000).unwrap();
    let r = dispense(DispenseKind::Supplied {
        supervised_taken: true,
        dates: vec![(d("2026-11-28"), dose), (d("2026-11-29"), dose)],
        handed_over: "2026-11-28T09:00:00+00:00".into(),
    });
    assert_eq!(r["status"], "completed");
    assert_eq!(r["daysSupply"]["value"], 2);
    assert_eq!(r["quantity"]["value"], 120.0);
    assert_eq!(r["whenHandedOver"], "2026-11-28T09:00:00.000Z");
    assert_eq!(r["extension"][0]["valueBoolean"], true);
    assert_eq!(
        r["dosageInstruction"][1]["timing"]["event"][0],
        "2026-11-29"
    );
    assert_eq!(
        r["authorizingPrescription"][0]["reference"],
        "MedicationRequest/r1"
    );
    assert!(r.get("statusReasonCodeableConcept").is_none());
}

#[test]
fn a_withheld_instalment_is_declined_with_its_reason_and_nothing_handed_over() {
    let r = dispense(DispenseKind::NotDispensed {
        why: NotDispensed::WithheldIntoxicated,
        date: d("2026-11-28"),
        dose: DoseMg::from_micrograms(60_000),
    });
    assert_eq!(r["status"], "declined");
    let coding = &r["statusReasonCodeableConcept"]["coding"][0];
    assert_eq!(coding["system"], codes::DISPENSE_STATUS_REASON);
    assert_eq!(coding["code"], "withheld-intoxicated");
    assert!(r.get("whenHandedOver").is_none());
    assert!(r.get("daysSupply").is_none());
    let on_hold = dispense(DispenseKind::NotDispensed {
        why: NotDispensed::OnHold,
        date: d("2026-11-28"),
        dose: None,
    });
    assert_eq!(on_hold["status"], "on-hold");
}

#[test]
fn a_supervised_dose_is_an_administration_linked_to_its_dispense() {
    let r = medication_administration(&AdministrationFacts {
        id: "d1",
        patient_id: "su1",
        medicine: Medicine::BuprenorphineSublingual,
        request_id: Some("r1"),
        dispense_id: "d1",
        date: d("2026-11-28"),
        dose: DoseMg::from_micrograms(8_000).unwrap(),
        taken_at: "2026-11-28T09:00:00Z",
        last_updated: "2026-11-28T09:00:01.000Z",
    });
    assert_eq!(r["status"], "completed");
    assert_eq!(r["dosage"]["dose"]["value"], 8.0);
    assert_eq!(
        r["supportingInformation"][0]["reference"],
        "MedicationDispense/d1"
    );
    assert_eq!(r["request"]["reference"], "MedicationRequest/r1");
}

#[test]
fn a_patient_carries_only_reference_name_and_birth_date() {
    let su = ServiceUser {
        id: "su1".into(),
        reference: "SU-1042".into(),
        given_name: "Alex".into(),
        family_name: "Testperson".into(),
        date_of_birth: d("1985-04-12"),
        pharmacy_id: "ph".into(),
        keyworker_id: "kw".into(),
        prescriber_id: "pr".into(),
        heads_up_email: Some("alex@example.org".into()),
    };
    let r = patient(&su, "2026-11-20T10:00:00.000Z");
    assert_eq!(r["identifier"][0]["value"], "SU-1042");
    assert_eq!(r["birthDate"], "1985-04-12");
    let text = r.to_string();
    for private in ["alex@example.org", "kw", "pr\""] {
        assert!(!text.contains(private), "{private} leaked: {text}");
    }
}
