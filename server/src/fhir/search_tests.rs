use super::*;

fn pairs(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn entry(id: &str, updated: &str) -> Entry {
    Entry {
        kind: Kind::MedicationDispense,
        id: id.into(),
        patient: "su1".into(),
        last_updated: at(updated),
        date: Some(at(updated)),
        span: None,
        resource: json!({"resourceType": "MedicationDispense", "id": id}),
    }
}

#[test]
fn date_prefixes_bound_a_day_as_fhir_says() {
    let ge = DateFilter::parse("_lastUpdated", "ge2026-11-28").unwrap();
    let lt = DateFilter::parse("_lastUpdated", "lt2026-11-28").unwrap();
    let eq = DateFilter::parse("_lastUpdated", "2026-11-28").unwrap();
    let gt = DateFilter::parse("_lastUpdated", "gt2026-11-28").unwrap();
    let le = DateFilter::parse("_lastUpdated", "le2026-11-28").unwrap();
    let morning = at("2026-11-28T09:00:00Z");
    let eve = at("2026-11-27T23:59:59Z");
    let next = at("2026-11-29T00:00:00Z");
    assert!(ge.matches(morning) && !ge.matches(eve));
    assert!(lt.matches(eve) && !lt.matches(morning));
    assert!(eq.matches(morning) && !eq.matches(eve) && !eq.matches(next));
    assert!(gt.matches(next) && !gt.matches(morning));
    assert!(le.matches(morning) && !le.matches(next));
    let instant = DateFilter::parse("_lastUpdated", "gt2026-11-28T09:00:00+01:00").unwrap();
    assert!(instant.matches(morning));
}

#[test]
fn a_bad_date_or_unknown_parameter_is_refused_naming_it() {
    let err = Search::parse(Kind::MedicationDispense, pairs("_lastUpdated=yesterday")).unwrap_err();
    assert!(
        matches!(&err, Error::Validation(e) if e[0].field == "_lastUpdated"),
        "{err:?}"
    );
    let err = Search::parse(Kind::MedicationDispense, pairs("patinet=Patient/x")).unwrap_err();
    assert!(
        matches!(&err, Error::Validation(e) if e[0].field == "patinet"),
        "{err:?}"
    );
    let err = Search::parse(Kind::Patient, pairs("_count=0")).unwrap_err();
    assert!(
        matches!(&err, Error::Validation(e) if e[0].field == "_count"),
        "{err:?}"
    );
    // Each type has its own date parameter.
    assert!(Search::parse(Kind::MedicationRequest, pairs("whenhandedover=2026-11-01")).is_err());
    assert!(
        Search::parse(
            Kind::MedicationDispense,
            pairs("whenhandedover=ge2026-11-01")
        )
        .is_ok()
    );
}

#[test]
fn pages_follow_each_other_with_next_and_previous_links() {
    let search = Search::parse(
        Kind::MedicationDispense,
        pairs("patient=Patient/su1&_lastUpdated=ge2026-11-01&_count=2"),
    )
    .unwrap();
    assert_eq!(search.patient.as_deref(), Some("su1"));
    let entries = vec![
        entry("c", "2026-11-03T00:00:00Z"),
        entry("a", "2026-11-01T00:00:00Z"),
        entry("b", "2026-11-02T00:00:00Z"),
        entry("old", "2026-10-31T00:00:00Z"),
    ];
    let first = bundle(
        "http://h/fhir/r4",
        Kind::MedicationDispense,
        &search,
        entries.clone(),
    );
    assert_eq!(first["type"], "searchset");
    assert_eq!(first["total"], 3);
    let ids: Vec<&str> = first["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    let next = first["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        next.contains("_offset=2") && next.contains("patient=Patient%2Fsu1"),
        "{next}"
    );
    let q = next.split_once('?').unwrap().1;
    let second = Search::parse(Kind::MedicationDispense, pairs(q)).unwrap();
    let page2 = bundle(
        "http://h/fhir/r4",
        Kind::MedicationDispense,
        &second,
        entries,
    );
    let ids: Vec<&str> = page2["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c"]);
    let links = page2["link"].as_array().unwrap();
    assert!(links.iter().all(|l| l["relation"] != "next"));
    assert!(links.iter().any(|l| l["relation"] == "previous"));
    assert_eq!(
        page2["entry"][0]["fullUrl"],
        "http://h/fhir/r4/MedicationDispense/c"
    );
}
