//! The JSON names are part of the public contract (API.md): check them exactly.

mod common;

use common::*;
use serde_json::json;
use sotto_domain::*;

#[test]
fn medicines_round_trip_with_their_api_names() {
    for name in [
        "methadone_oral_solution_1mg_ml",
        "buprenorphine_sublingual",
        "buprenorphine_oral_lyophilisate",
    ] {
        let medicine: Medicine = serde_json::from_value(json!(name)).unwrap();
        assert_eq!(serde_json::to_value(medicine).unwrap(), json!(name));
        assert_eq!(medicine.as_str(), name);
    }
}

#[test]
fn an_unknown_medicine_fails_to_deserialize() {
    assert!(serde_json::from_value::<Medicine>(json!("methadone")).is_err());
}

#[test]
fn weekdays_round_trip_as_lowercase_abbreviations() {
    let days: Vec<Weekday> = serde_json::from_value(json!(["mon", "sun"])).unwrap();
    assert_eq!(days, [Weekday::Mon, Weekday::Sun]);
    assert_eq!(serde_json::to_value(Weekday::Thu).unwrap(), json!("thu"));
    assert!(serde_json::from_value::<Weekday>(json!("Monday")).is_err());
}

#[test]
fn directions_round_trip_and_default_when_omitted() {
    let given = json!({"closed_days_prior": false, "supply_remaining_if_missed": true,
                       "consult_after_missed_days": 2});
    let directions: Directions = serde_json::from_value(given.clone()).unwrap();
    assert_eq!(serde_json::to_value(directions).unwrap(), given);

    let partial: Directions = serde_json::from_value(json!({"closed_days_prior": false})).unwrap();
    assert_eq!(
        (
            partial.supply_remaining_if_missed,
            partial.consult_after_missed_days
        ),
        (true, 3)
    );
}

#[test]
fn the_api_example_prescription_parses_and_validates() {
    // Arrange: the example from API.md, without directions.
    let body = json!({
        "medicine": "methadone_oral_solution_1mg_ml", "daily_dose_mg": 60,
        "start_date": "2026-11-23", "end_date": "2026-12-06",
        "collections": [
            {"weekday": "mon", "days": 1, "supervised": true},
            {"weekday": "tue", "days": 1, "supervised": true},
            {"weekday": "wed", "days": 1, "supervised": true},
            {"weekday": "thu", "days": 1, "supervised": true},
            {"weekday": "fri", "days": 1, "supervised": true},
            {"weekday": "sat", "days": 2, "supervised": true}]
    });

    // Act
    let draft: PrescriptionDraft = serde_json::from_value(body).unwrap();
    let prescription = Prescription::new(draft, &closed_sundays()).unwrap();

    // Assert
    assert_eq!(prescription.directions(), Directions::default());
    let week = serde_json::to_value(&prescription.regimes()[0].collections).unwrap();
    assert_eq!(
        week[5],
        json!({"weekday": "sat", "days": 2, "supervised": true})
    );
}

#[test]
fn a_dose_day_serializes_its_dose_as_a_number_of_mg() {
    let calendar = closed_sundays();
    let schedule = prescription(daily_supervised_sat_covers_sun(), &calendar).schedule(&calendar);

    let value = serde_json::to_value(schedule.dose_for(d(11, 29)).unwrap()).unwrap();

    assert_eq!(
        value,
        json!({"date": "2026-11-29", "dose_mg": 60.0, "supervised": false,
               "collect_on": "2026-11-28", "nominal_collect_on": "2026-11-28",
               "pharmacy_closed": false})
    );
}

#[test]
fn a_regime_change_draft_may_omit_dose_or_collections() {
    let draft: RegimeChangeDraft =
        serde_json::from_value(json!({"effective_from": "2026-11-30", "reason": "stable"}))
            .unwrap();
    assert_eq!((draft.daily_dose_mg, draft.collections), (None, None));
}

#[test]
fn every_api_type_has_an_openapi_schema() {
    #[derive(utoipa::OpenApi)]
    #[openapi(components(schemas(
        FieldError,
        Weekday,
        Medicine,
        DoseMg,
        Collection,
        WeeklyCollections,
        Directions,
        PrescriptionDraft,
        RegimeChangeDraft,
        Regime,
        DoseDay,
        Due,
        Schedule,
        HoldKind,
        StatusCode
    )))]
    struct Doc;

    let doc = serde_json::to_value(<Doc as utoipa::OpenApi>::openapi()).unwrap();

    let directions = &doc["components"]["schemas"]["Directions"]["properties"];
    assert_eq!(directions["consult_after_missed_days"]["default"], json!(3));
    assert_eq!(
        doc["components"]["schemas"]["DoseMg"]["type"],
        json!("number")
    );
}
