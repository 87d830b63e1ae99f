//! The FHIR R4 API end to end, on SQLite and PostgreSQL: what other systems read (a person, a
//! prescription and its regime steps, supplies, a withheld and a missed instalment, supervised
//! doses), search and paging, refusals as OperationOutcomes, the import and its errors, the
//! round trip into a second server, the NDJSON export, and an outside validator over it all.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use sotto_protocol::{Report, ReportEvent, WithheldReason};
use sotto_server::core::dispensing::ingest::{AlertSettings, Outcome, ingest};
use sotto_tests::reqwest::StatusCode;
use sotto_tests::{Backend, TestApp, World, every_day_supervised, prescription_body};

sotto_tests::on_both_backends!(
    metadata_and_definitions_are_public_fhir_json_and_match_the_docs,
    a_prescription_its_supplies_and_supervised_doses_read_as_fhir_without_reasons,
    search_filters_by_date_and_pages_through_everything_once,
    refusals_are_operation_outcomes_with_the_json_apis_rules,
    a_bad_import_is_refused_naming_the_element_and_changes_nothing,
    the_export_resolves_every_reference_is_audited_and_passes_the_validator,
    every_resource_claims_its_uk_core_profile_and_meets_the_constraints_checked,
);

#[path = "fhir/uk_core.rs"]
mod uk_core;

/// A real counter client and broker: `counter::{sqlite,postgres}::…`.
mod counter {
    use super::a_supply_at_the_real_counter_reads_as_a_dispense_of_two_days_and_a_supervised_dose;
    sotto_tests::on_each_backend!(
        a_supply_at_the_real_counter_reads_as_a_dispense_of_two_days_and_a_supervised_dose
    );
}

/// Two servers per test: `round_trip::{sqlite,postgres}::…`.
mod round_trip {
    use super::an_exported_prescription_imported_into_a_second_server_has_the_same_schedule;
    sotto_tests::on_each_backend!(
        an_exported_prescription_imported_into_a_second_server_has_the_same_schedule
    );
}

const SECRET: &str = "SECRET-HOLD-REASON-XYZ";
const NOTE: &str = "CLINICAL-NOTE-XYZ";

async fn fhir(app: &TestApp, token: Option<&str>, path: &str) -> (StatusCode, Value, String) {
    let mut req = app.client.get(app.url(&format!("/fhir/r4/{path}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ct,
    )
}

async fn post_fhir(app: &TestApp, token: &str, body: &Value) -> (StatusCode, Value) {
    app.send(
        app.client
            .post(app.url("/fhir/r4/MedicationRequest"))
            .bearer_auth(token)
            .header("content-type", "application/fhir+json")
            .body(body.to_string()),
    )
    .await
}

fn entries(bundle: &Value) -> Vec<Value> {
    assert_eq!(bundle["resourceType"], "Bundle", "{bundle}");
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .collect()
}

fn settings() -> AlertSettings {
    AlertSettings {
        public_url: "https://sotto.test".into(),
        service_timezone: chrono_tz::Europe::London,
        digest_at: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
    }
}

/// A person at the pharmacy open every day, prescribed 60 mg daily supervised from three days
/// ago; then a supervised supply, a withheld instalment, a missed day, a hold with a reason and
/// a regime change with a reason. Returns (person id, prescription).
async fn history(app: &TestApp, w: &World) -> (String, Value) {
    let (status, su) = app
        .post(
            &w.keyworker.token,
            "/api/v1/service-users",
            sotto_tests::service_user_body(
                "SU-2001",
                &w.other_pharmacy,
                &w.keyworker.id,
                &w.clinician.id,
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{su}");
    let su = su["id"].as_str().unwrap().to_string();
    let today = sotto_tests::pharmacy_today();
    let start = today - Duration::days(3);
    let path = format!("/api/v1/service-users/{su}/prescriptions");
    let (status, p) = app
        .post(
            &w.clinician.token,
            &path,
            prescription_body(start, 14, every_day_supervised()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let store = app.db().await;
    let reports = [
        ReportEvent::Supplied {
            service_user_id: su.clone(),
            collect_on: start,
            supervised_taken: true,
            take_home_dates: vec![],
            at: Utc::now() - Duration::days(3),
        },
        ReportEvent::Withheld {
            service_user_id: su.clone(),
            collect_on: start + Duration::days(1),
            reason: WithheldReason::Intoxicated,
            at: Utc::now() - Duration::days(2),
        },
        ReportEvent::Missed {
            service_user_id: su.clone(),
            date: start + Duration::days(2),
            dose_mg: sotto_domain::DoseMg::from_micrograms(60_000).unwrap(),
            why: None,
        },
    ];
    for (i, event) in reports.into_iter().enumerate() {
        let report = Report {
            report_id: format!("r-{i}"),
            event,
        };
        let outcome = ingest(&store, &settings(), &w.other_pharmacy, &report)
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Stored);
    }
    let (status, body) = app
        .post(
            &w.keyworker.token,
            &format!("/api/v1/service-users/{su}/holds"),
            json!({"reason": SECRET}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &w.clinician.token,
            &format!("/api/v1/prescriptions/{}/regime-changes", p["id"].as_str().unwrap()),
            json!({"effective_from": (today + Duration::days(1)).to_string(), "daily_dose_mg": 50, "reason": NOTE}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (su, p)
}

async fn metadata_and_definitions_are_public_fhir_json_and_match_the_docs(app: TestApp) {
    let (status, cap, ct) = fhir(&app, None, "metadata").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("application/fhir+json"), "{ct}");
    assert_eq!(cap["resourceType"], "CapabilityStatement");
    assert_eq!(cap["fhirVersion"], "4.0.1");
    let types: Vec<&str> = cap["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    for t in [
        "Patient",
        "MedicationRequest",
        "MedicationDispense",
        "MedicationAdministration",
    ] {
        assert!(types.contains(&t), "{types:?}");
    }
    let url = "https://sotto.invalid/fhir/StructureDefinition/instalment";
    let (status, found, _) = fhir(&app, None, &format!("StructureDefinition?url={url}")).await;
    assert_eq!(status, StatusCode::OK);
    let found = entries(&found);
    assert_eq!(found.len(), 1);
    let docs: Value = serde_json::from_str(include_str!(
        "../../docs/fhir/StructureDefinition-instalment.json"
    ))
    .unwrap();
    assert_eq!(found[0], docs);
    let (status, cs, _) = fhir(&app, None, "CodeSystem/dispense-status-reason").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        cs["url"],
        "https://sotto.invalid/fhir/CodeSystem/dispense-status-reason"
    );
    let (status, oo, _) = fhir(&app, None, "CodeSystem/nonesuch").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(oo["resourceType"], "OperationOutcome");
}

async fn a_prescription_its_supplies_and_supervised_doses_read_as_fhir_without_reasons(
    app: TestApp,
) {
    let w = app.world().await;
    let (su, p) = history(&app, &w).await;
    let start: NaiveDate = p["start_date"].as_str().unwrap().parse().unwrap();
    let token = &w.other_pharmacist.token;

    let (status, patient, ct) = fhir(&app, Some(token), &format!("Patient/{su}")).await;
    assert_eq!(status, StatusCode::OK, "{patient}");
    assert!(ct.starts_with("application/fhir+json"));
    assert_eq!(patient["identifier"][0]["value"], "SU-2001");
    assert_eq!(patient["birthDate"], "1985-04-12");

    let (status, reqs, _) = fhir(
        &app,
        Some(token),
        &format!("MedicationRequest?patient=Patient/{su}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reqs}");
    let mut reqs = entries(&reqs);
    assert_eq!(reqs.len(), 2, "one per regime step");
    // Both changed when the second was written: order by step.
    reqs.sort_by_key(|r| r["dosageInstruction"][0]["sequence"].as_u64());
    let (first, second) = (&reqs[0], &reqs[1]);
    assert_eq!(first["status"], "stopped");
    assert_eq!(
        first["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"],
        60.0
    );
    assert_eq!(second["status"], "active");
    assert_eq!(
        second["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"],
        50.0
    );
    assert_eq!(
        second["priorPrescription"]["reference"],
        format!("MedicationRequest/{}", first["id"].as_str().unwrap())
    );
    assert_eq!(first["groupIdentifier"]["value"], p["id"]);
    assert_eq!(
        second["dispenseRequest"]["validityPeriod"]["start"],
        start.to_string()
    );
    let instalments = first["extension"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["url"] == "https://sotto.invalid/fhir/StructureDefinition/instalment")
        .count();
    assert_eq!(instalments, 7);

    let (_, dispenses, _) = fhir(
        &app,
        Some(token),
        &format!("MedicationDispense?patient={su}"),
    )
    .await;
    let dispenses = entries(&dispenses);
    let by_status = |s: &str| {
        dispenses
            .iter()
            .filter(|d| d["status"] == s)
            .cloned()
            .collect::<Vec<_>>()
    };
    let completed = by_status("completed");
    assert_eq!(completed.len(), 1, "{dispenses:?}");
    assert_eq!(completed[0]["daysSupply"]["value"], 1);
    assert_eq!(completed[0]["quantity"]["value"], 60.0);
    assert_eq!(completed[0]["extension"][0]["valueBoolean"], true);
    assert!(completed[0]["whenHandedOver"].is_string());
    assert_eq!(
        completed[0]["authorizingPrescription"][0]["reference"],
        format!("MedicationRequest/{}", first["id"].as_str().unwrap())
    );
    assert_eq!(
        completed[0]["performer"][0]["actor"]["identifier"]["value"],
        "FB002"
    );
    let declined = by_status("declined");
    assert_eq!(declined.len(), 1);
    assert_eq!(
        declined[0]["statusReasonCodeableConcept"]["coding"][0]["code"],
        "withheld-intoxicated"
    );
    let cancelled = by_status("cancelled");
    assert_eq!(cancelled.len(), 1);
    assert_eq!(
        cancelled[0]["statusReasonCodeableConcept"]["coding"][0]["code"],
        "collection-missed"
    );
    assert_eq!(
        cancelled[0]["dosageInstruction"][0]["timing"]["event"][0],
        (start + Duration::days(2)).to_string()
    );

    let (_, admins, _) = fhir(
        &app,
        Some(token),
        &format!("MedicationAdministration?patient={su}"),
    )
    .await;
    let admins = entries(&admins);
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0]["dosage"]["dose"]["value"], 60.0);
    assert_eq!(
        admins[0]["supportingInformation"][0]["reference"],
        format!(
            "MedicationDispense/{}",
            completed[0]["id"].as_str().unwrap()
        )
    );

    // Each resource reads back by its id, the same as found.
    for r in reqs.iter().chain(&dispenses).chain(&admins) {
        let path = format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        let (status, again, _) = fhir(&app, Some(&w.clinician.token), &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(&again, r, "{path}");
    }
    // Never a hold reason, a regime change's reason, or the person's private details.
    let everything = format!("{patient}{reqs:?}{dispenses:?}{admins:?}");
    for private in [SECRET, NOTE, &w.keyworker.id, &w.clinician.id] {
        assert!(!everything.contains(private), "{private} leaked");
    }
}

async fn search_filters_by_date_and_pages_through_everything_once(app: TestApp) {
    let w = app.world().await;
    let (su, _) = history(&app, &w).await;
    let token = &w.keyworker.token;
    let (_, all, _) = fhir(
        &app,
        Some(token),
        &format!("MedicationDispense?patient={su}"),
    )
    .await;
    assert_eq!(all["total"], 3);
    let mut seen = Vec::new();
    let mut next = Some(format!("MedicationDispense?patient={su}&_count=1"));
    while let Some(path) = next.take() {
        let (status, page, _) = fhir(&app, Some(token), &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 3);
        let found = entries(&page);
        assert!(found.len() <= 1);
        seen.extend(found.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        next = page["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| {
                l["url"]
                    .as_str()
                    .unwrap()
                    .split_once("/fhir/r4/")
                    .unwrap()
                    .1
                    .to_string()
            });
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (3, 3), "{seen:?}");

    let tomorrow = sotto_tests::pharmacy_today() + Duration::days(1);
    let (_, none, _) = fhir(
        &app,
        Some(token),
        &format!("MedicationDispense?patient={su}&_lastUpdated=ge{tomorrow}"),
    )
    .await;
    assert_eq!(none["total"], 0);
    let (_, recent, _) = fhir(
        &app,
        Some(token),
        &format!("MedicationDispense?_lastUpdated=lt{tomorrow}&_lastUpdated=gt2020-01-01"),
    )
    .await;
    assert_eq!(recent["total"], 3);
    // whenhandedover: only the supply was handed over, three days ago.
    let two_days_ago = sotto_tests::pharmacy_today() - Duration::days(2);
    let (_, handed, _) = fhir(
        &app,
        Some(token),
        &format!("MedicationDispense?whenhandedover=lt{two_days_ago}"),
    )
    .await;
    assert_eq!(handed["total"], 1);
    assert_eq!(entries(&handed)[0]["status"], "completed");
    let (_, later, _) = fhir(
        &app,
        Some(token),
        &format!("MedicationDispense?whenhandedover=ge{two_days_ago}"),
    )
    .await;
    assert_eq!(later["total"], 0);
    let (_, by_ref, _) = fhir(
        &app,
        Some(token),
        "Patient?identifier=https://sotto.invalid/fhir/sid/service-reference|SU-2001",
    )
    .await;
    assert_eq!(entries(&by_ref)[0]["id"], su);
}

async fn refusals_are_operation_outcomes_with_the_json_apis_rules(app: TestApp) {
    let w = app.world().await;
    let (su, _) = history(&app, &w).await;
    let (status, oo, ct) = fhir(&app, None, &format!("Patient/{su}")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(ct.starts_with("application/fhir+json"), "{ct}");
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert_eq!(oo["issue"][0]["code"], "login");
    let (status, oo, _) = fhir(&app, Some("not-a-token"), "MedicationDispense").await;
    assert_eq!(
        (status, oo["issue"][0]["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("login"))
    );
    for path in [
        format!("Patient/{su}"),
        "MedicationRequest".to_string(),
        format!("MedicationDispense?patient={su}"),
    ] {
        let (status, oo, _) = fhir(&app, Some(&app.admin.token), &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "admin {path}");
        assert_eq!(oo["issue"][0]["code"], "forbidden");
    }
    // The person collects at FB002: FA001's pharmacist may not see them.
    let (status, oo, _) = fhir(
        &app,
        Some(&w.pharmacist.token),
        &format!("MedicationRequest?patient={su}"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{oo}");
    let (status, _, _) = fhir(&app, Some(&w.pharmacist.token), &format!("Patient/{su}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, own, _) = fhir(&app, Some(&w.pharmacist.token), "MedicationDispense").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        own["total"], 0,
        "FA001's pharmacist sees only FA001's people"
    );
    let (status, oo, _) = fhir(
        &app,
        Some(&w.keyworker.token),
        "MedicationDispense/nonesuch",
    )
    .await;
    assert_eq!(
        (status, oo["issue"][0]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not-found"))
    );
    let (status, oo, _) = fhir(
        &app,
        Some(&w.keyworker.token),
        "MedicationDispense?patinet=x",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(oo["issue"][0]["expression"][0], "patinet");
    let (status, oo) = post_fhir(&app, &w.keyworker.token, &json!({})).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only clinicians prescribe: {oo}"
    );
    assert_eq!(oo["resourceType"], "OperationOutcome");
}

/// An exported step of a one-regime prescription, ready to import for `su`.
async fn exportable(app: &TestApp, w: &World) -> Value {
    let start = sotto_tests::pharmacy_today() + Duration::days(30);
    let path = format!("/api/v1/service-users/{}/prescriptions", w.service_user);
    let collections = json!([
        {"weekday": "mon", "days": 2, "supervised": true},
        {"weekday": "wed", "days": 3, "supervised": false},
        {"weekday": "sat", "days": 2, "supervised": true}]);
    let mut body = prescription_body(start, 14, collections);
    body["directions"] = json!({"closed_days_prior": true, "supply_remaining_if_missed": false, "consult_after_missed_days": 2});
    body["daily_dose_mg"] = json!(72.5);
    // A start on a Monday, so the pattern's first collection is the start.
    let monday = start
        + Duration::days(
            i64::from(7 - chrono::Datelike::weekday(&start).num_days_from_monday()) % 7,
        );
    body["start_date"] = json!(monday.to_string());
    body["end_date"] = json!((monday + Duration::days(13)).to_string());
    let (status, p) = app.post(&w.clinician.token, &path, body).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let (_, found, _) = fhir(
        app,
        Some(&w.clinician.token),
        &format!("MedicationRequest?patient={}", w.service_user),
    )
    .await;
    let mut r = entries(&found).remove(0);
    r["prescription_id"] = p["id"].clone(); // not FHIR: removed before import
    r
}

async fn a_bad_import_is_refused_naming_the_element_and_changes_nothing(app: TestApp) {
    let w = app.world().await;
    let mut good = exportable(&app, &w).await;
    good.as_object_mut().unwrap().remove("prescription_id");
    let before = app.snapshot().await;
    let cases: Vec<(Value, StatusCode, &str)> = {
        let mut dose = good.clone();
        dose["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = json!(600);
        let mut weekday = good.clone();
        weekday["extension"][1]["extension"][0]["valueCode"] = json!("sun");
        let mut unknown = good.clone();
        unknown["doNotPerform"] = json!(true);
        let mut unknown_code = good.clone();
        unknown_code["medicationCodeableConcept"]["coding"][0]["code"] = json!("999999");
        let mut substance_only = good.clone();
        substance_only["medicationCodeableConcept"]["coding"]
            .as_array_mut()
            .unwrap()
            .truncate(1);
        let mut nobody = good.clone();
        nobody["subject"] = json!({"identifier": {"system": "https://sotto.invalid/fhir/sid/service-reference", "value": "SU-NOPE"}});
        vec![
            (
                dose,
                StatusCode::UNPROCESSABLE_ENTITY,
                "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.value",
            ),
            (
                weekday,
                StatusCode::UNPROCESSABLE_ENTITY,
                "MedicationRequest.extension[1].weekday",
            ),
            (
                unknown,
                StatusCode::UNPROCESSABLE_ENTITY,
                "MedicationRequest.doNotPerform",
            ),
            (
                unknown_code,
                StatusCode::UNPROCESSABLE_ENTITY,
                "MedicationRequest.medicationCodeableConcept.coding[0].code",
            ),
            (
                substance_only,
                StatusCode::UNPROCESSABLE_ENTITY,
                "MedicationRequest.medicationCodeableConcept.coding",
            ),
            (
                nobody,
                StatusCode::UNPROCESSABLE_ENTITY,
                "MedicationRequest.subject.identifier",
            ),
            // The same prescription again overlaps the one exported.
            (
                good.clone(),
                StatusCode::CONFLICT,
                "MedicationRequest.dispenseRequest.validityPeriod",
            ),
        ]
    };
    for (body, status, element) in cases {
        let (got, oo) = post_fhir(&app, &w.clinician.token, &body).await;
        assert_eq!(got, status, "{element}: {oo}");
        assert_eq!(oo["resourceType"], "OperationOutcome");
        let named: Vec<&str> = oo["issue"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| i["expression"].as_array().into_iter().flatten())
            .map(|e| e.as_str().unwrap())
            .collect();
        assert!(named.contains(&element), "{element} not in {named:?}");
    }
    let (status, _) = app
        .send(
            app.client
                .post(app.url("/fhir/r4/MedicationRequest"))
                .bearer_auth(&w.clinician.token)
                .body("{"),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused import stores nothing"
    );
}

async fn an_exported_prescription_imported_into_a_second_server_has_the_same_schedule(
    backend: Backend,
) {
    let a = TestApp::spawn(backend).await;
    let wa = a.world().await;
    let mut exported = exportable(&a, &wa).await;
    let original_id = exported
        .as_object_mut()
        .unwrap()
        .remove("prescription_id")
        .unwrap();
    let b = TestApp::spawn(backend).await;
    let wb = b.world().await; // the same person, SU-1042, at a pharmacy with the same hours
    exported["subject"] = json!({"identifier": {"system": "https://sotto.invalid/fhir/sid/service-reference", "value": "SU-1042"}});
    let (status, created) = post_fhir(&b, &wb.clinician.token, &exported).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["subject"]["reference"],
        format!("Patient/{}", wb.service_user)
    );
    let (_, pa) = a
        .get(
            &wa.clinician.token,
            &format!("/api/v1/prescriptions/{}", original_id.as_str().unwrap()),
        )
        .await;
    let (_, pb) = b
        .get(
            &wb.clinician.token,
            &format!(
                "/api/v1/prescriptions/{}",
                created["groupIdentifier"]["value"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(
        pa["schedule"], pb["schedule"],
        "the day-by-day schedule is the same"
    );
    assert_eq!(pa["regimes"], pb["regimes"]);
    assert_eq!(pa["directions"], pb["directions"]);
    assert_eq!(pa["medicine"], pb["medicine"]);
    for key in [
        "extension",
        "dosageInstruction",
        "dispenseRequest",
        "medicationCodeableConcept",
    ] {
        assert_eq!(exported[key], created[key], "{key}");
    }
    // The import went through the JSON API's own path: audited, and queued for the pharmacy.
    let (_, audit) = b.get(&b.admin.token, "/api/v1/audit").await;
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "prescription.create" && e["actor"] == wb.clinician.id.as_str()), "{audit}");
}

/// The NDJSON export of the prescription's period, as text and as resources.
async fn export(app: &TestApp, w: &World, p: &Value) -> (String, Vec<Value>) {
    let start = p["start_date"].as_str().unwrap();
    let end = p["end_date"].as_str().unwrap();
    let res = app
        .client
        .get(app.url(&format!("/fhir/r4/$export?start={start}&end={end}")))
        .bearer_auth(&w.clinician.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/fhir+ndjson");
    let text = res.text().await.unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (text, lines)
}

async fn every_resource_claims_its_uk_core_profile_and_meets_the_constraints_checked(app: TestApp) {
    let w = app.world().await;
    let (_, p) = history(&app, &w).await;
    let (_, lines) = export(&app, &w, &p).await;
    for kind in uk_core::PROFILED {
        assert!(
            lines.iter().any(|r| r["resourceType"] == kind),
            "the history has a {kind}"
        );
    }
    for r in &lines {
        let broken = uk_core::violations(r);
        assert!(broken.is_empty(), "{broken:#?}\n{r}");
    }
    // The check can fail: a request without substitution or coded only by Sotto, a person
    // given an NHS number system.
    let mut request = lines
        .iter()
        .find(|r| r["resourceType"] == "MedicationRequest")
        .unwrap()
        .clone();
    request.as_object_mut().unwrap().remove("substitution");
    request["medicationCodeableConcept"]["coding"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    let broken = uk_core::violations(&request);
    for element in ["substitution", "medication[x]"] {
        let named = format!("UKCore-MedicationRequest MedicationRequest.{element}:");
        assert!(
            broken.iter().any(|b| b.starts_with(&named)),
            "{named} in {broken:?}"
        );
    }
    let mut person = lines[0].clone();
    assert_eq!(
        person["resourceType"], "Patient",
        "the export starts with people"
    );
    person["identifier"][0]["system"] = json!("https://fhir.nhs.uk/Id/nhs-number");
    let broken = uk_core::violations(&person);
    assert!(
        broken[0].starts_with("UKCore-Patient Patient.identifier:nhsNumber:"),
        "{broken:?}"
    );
    // The CapabilityStatement lists the same profiles.
    let (_, cap, _) = fhir(&app, None, "metadata").await;
    for kind in uk_core::PROFILED {
        let resource = cap["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == kind)
            .unwrap();
        assert_eq!(
            resource["supportedProfile"],
            json!([uk_core::profile(kind)]),
            "{kind}"
        );
    }
}

async fn the_export_resolves_every_reference_is_audited_and_passes_the_validator(app: TestApp) {
    let w = app.world().await;
    let (su, p) = history(&app, &w).await;
    let (text, lines) = export(&app, &w, &p).await;
    let kinds: Vec<&str> = lines
        .iter()
        .map(|r| r["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "Patient").count(),
        1,
        "only the person with records: {kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "MedicationRequest").count(),
        2
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "MedicationDispense").count(),
        3
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "MedicationAdministration")
            .count(),
        1
    );
    let ids: std::collections::BTreeSet<String> = lines
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(ids.len(), lines.len(), "each resource once");
    assert!(ids.contains(&format!("Patient/{su}")));
    let mut refs = Vec::new();
    collect_references(&Value::Array(lines.clone()), &mut refs);
    assert!(refs.len() >= 10, "{refs:?}");
    for r in &refs {
        assert!(ids.contains(r), "{r} does not resolve within the export");
    }
    assert!(!text.contains(SECRET) && !text.contains(NOTE));
    let (_, audit) = app.get(&app.admin.token, "/api/v1/audit").await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "fhir.export" && e["actor"] == w.clinician.id.as_str())
    );
    let (status, oo, _) = fhir(&app, Some(&w.clinician.token), "$export?start=2026-01-01").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(oo["issue"][0]["expression"][0], "end");

    // Everything the API answers, checked by fhir.resources: the export, bundles, single reads,
    // the definitions, the CapabilityStatement and OperationOutcomes.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("export.ndjson"), &text).unwrap();
    let mut files = vec![dir.path().join("export.ndjson")];
    let token = Some(w.clinician.token.as_str());
    let paths = [
        "metadata".to_string(),
        "StructureDefinition".into(),
        "CodeSystem".into(),
        format!("Patient?_id={su}"),
        format!("MedicationRequest?patient={su}"),
        format!("MedicationDispense?patient={su}&_count=2"),
        format!("MedicationAdministration?patient={su}"),
        "MedicationDispense?patinet=x".into(),
        "Patient/nonesuch".into(),
    ];
    for (i, path) in paths.iter().enumerate() {
        let (_, body, _) = fhir(&app, token, path).await;
        let file = dir.path().join(format!("{i}.json"));
        std::fs::write(&file, body.to_string()).unwrap();
        files.push(file);
    }
    let out = std::process::Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/fhir-validate"
    ))
    .args(&files)
    .output()
    .expect("scripts/fhir-validate runs (python3 with venv and pip)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    assert!(report.contains(", 0 errors"), "{report}");
}

fn collect_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("reference") {
                out.push(r.clone());
            }
            m.values().for_each(|x| collect_references(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_references(x, out)),
        _ => {}
    }
}

async fn a_supply_at_the_real_counter_reads_as_a_dispense_of_two_days_and_a_supervised_dose(
    backend: Backend,
) {
    use chrono::Datelike;
    use sotto_tests::push::{BrokerKind, PushWorld};
    let w = PushWorld::start_on(BrokerKind::Embedded, backend, 1).await;
    let today = sotto_tests::pharmacy_today();
    let tomorrow = today + Duration::days(1);
    // Today's collection covers tomorrow as take-home; every other day is its own.
    let names = sotto_tests::WEEKDAYS;
    let (t, n) = (
        today.weekday().num_days_from_monday() as usize,
        tomorrow.weekday().num_days_from_monday() as usize,
    );
    let collections: Vec<Value> = (0..7)
        .filter(|d| *d != n)
        .map(|d| json!({"weekday": names[d], "days": if d == t { 2 } else { 1 }, "supervised": true}))
        .collect();
    let (status, su) = w
        .app
        .post(
            &w.keyworker.token,
            "/api/v1/service-users",
            sotto_tests::service_user_body(
                "SU-3001",
                &w.pharmacy.id,
                &w.keyworker.id,
                &w.clinician.id,
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{su}");
    let su = su["id"].as_str().unwrap().to_string();
    let (status, p) = w
        .app
        .post(
            &w.clinician.token,
            &format!("/api/v1/service-users/{su}/prescriptions"),
            prescription_body(today, 7, Value::Array(collections)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let counter = w.counter(std::time::Duration::from_secs(3600)).await;
    counter
        .wait_for_code("SU-3001", "A", std::time::Duration::from_secs(20))
        .await;
    let (status, body) = counter
        .post(
            "/api/supplies",
            &json!({"reference": "SU-3001", "date": today.to_string(),
                    "supervised_taken": true, "take_home_doses": 1}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let path = format!("MedicationDispense?patient={su}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let dispense = loop {
        let (_, found, _) = fhir(&w.app, Some(&w.clinician.token), &path).await;
        if let Some(d) = entries(&found).into_iter().next() {
            break d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the supply never reached the server"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(dispense["status"], "completed");
    assert_eq!(dispense["daysSupply"]["value"], 2);
    assert_eq!(dispense["quantity"]["value"], 120.0);
    let days: Vec<&str> = dispense["dosageInstruction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["timing"]["event"][0].as_str().unwrap())
        .collect();
    assert_eq!(days, [today.to_string(), tomorrow.to_string()]);
    assert_eq!(
        dispense["performer"][0]["actor"]["identifier"]["value"],
        "FA001"
    );
    let (_, admins, _) = fhir(
        &w.app,
        Some(&w.clinician.token),
        &format!("MedicationAdministration?patient={su}"),
    )
    .await;
    let admins = entries(&admins);
    assert_eq!(admins.len(), 1, "only the dose taken at the counter");
    assert_eq!(admins[0]["dosage"]["dose"]["value"], 60.0);
    assert_eq!(
        admins[0]["supportingInformation"][0]["reference"],
        format!("MedicationDispense/{}", dispense["id"].as_str().unwrap())
    );
}
