//! Today's list at the counter (`GET /api/today`, the home page, the print view): who is
//! listed on a weekday and on a Friday covering the weekend (three containers), tomorrow's
//! list, the supplied flag after a supply recorded from the list (and a second click refused
//! by the double-dispense guard), the sort orders, and bad queries named.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Datelike;
use serde_json::{Value, json};
use sotto_domain::Directions;
use sotto_domain::HoldKind::Attend;
use sotto_protocol::{HoldState, PersonState};

use common::{
    FakeServer, TestClient, TestClock, assert_discreet, connected_at, daily_supervised, london,
    nov, person_on, prescription, snapshot, weekly,
};

/// Collections Monday to Friday, Friday's covering Saturday and Sunday.
fn weekdays(d: chrono::NaiveDate) -> bool {
    d.weekday().num_days_from_monday() < 5
}

fn named(mut p: PersonState, family: &str) -> PersonState {
    p.family_name = family.into();
    p
}

/// Thursday 12 November 2026, 10:00 in London, with:
/// - SU-D1 Adams: daily supervised;
/// - SU-W Brown: weekdays, first dose supervised (Friday: supervised + 2 take-home);
/// - SU-T Abbott: weekdays, all take-home (Friday: 3 take-home);
/// - SU-H Aaron: daily supervised, under an attend request (code D);
/// - SU-N Young: weekly on Mondays, clause 2 off (nothing due on Thursday or Friday).
async fn thursday() -> (TestClient, FakeServer, tempfile::TempDir, Arc<TestClock>) {
    let clock = TestClock::at(london(nov(12), 10, 0));
    let (client, server, dir) = connected_at(&clock, Duration::from_secs(3600)).await;
    let rx = |supervised| {
        prescription(
            nov(9),
            nov(22),
            60,
            supervised,
            weekdays,
            Directions::default(),
        )
    };
    let once = Directions {
        supply_remaining_if_missed: false,
        ..Directions::default()
    };
    let mut held = named(daily_supervised("u-h", "SU-H"), "Aaron");
    held.holds.push(HoldState {
        id: "h1".into(),
        kind: Attend,
    });
    let people = vec![
        named(daily_supervised("u-d1", "SU-D1"), "Adams"),
        named(person_on("u-w", "SU-W", rx(true)), "Brown"),
        named(person_on("u-t", "SU-T", rx(false)), "Abbott"),
        held,
        // Clause 2 off: Monday's collection is not made up for later in the week.
        named(weekly("u-n", "SU-N", true, once), "Young"),
    ];
    server
        .send(snapshot(1, &server.pharmacy_id.clone(), people))
        .await;
    client.wait_for_code("SU-H", "D").await;
    (client, server, dir, clock)
}

/// `GET /api/today…` with the counter's API token, as a local program asks.
async fn today(client: &TestClient, query: &str) -> (u16, Value) {
    let response = client
        .http
        .get(format!("http://{}/api/today{query}", client.addr))
        .bearer_auth(&client.api_token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn references(list: &Value) -> Vec<String> {
    list["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["reference"].as_str().unwrap().to_string())
        .collect()
}

fn row<'a>(list: &'a Value, reference: &str) -> &'a Value {
    list["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["reference"] == reference)
        .unwrap_or_else(|| panic!("{reference} is not on the list: {list:#}"))
}

#[tokio::test]
async fn a_weekday_lists_one_container_each_and_a_friday_covering_the_weekend_three() {
    let (client, _server, _dir, _clock) = thursday().await;

    // No date: the counter clock's today (not this machine's).
    let (status, list) = today(&client, "").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        (list["date"].clone(), list["today"].clone()),
        (json!("2026-11-12"), json!("2026-11-12"))
    );
    assert_eq!(list["provisional"], false);
    assert_eq!(list["pharmacy"], "High Street Pharmacy");
    // Nothing due on a Thursday for the Monday weekly: not listed.
    assert_eq!(
        references(&list),
        ["SU-H", "SU-T", "SU-D1", "SU-W"],
        "{list:#}"
    );
    let w = row(&list, "SU-W");
    assert_eq!(
        (w["code"].clone(), w["kind"].clone()),
        (json!("A"), json!("supervised"))
    );
    assert_eq!(
        w["containers"],
        json!({"total": 1, "measured_here": 1, "take_home": 0})
    );
    assert_eq!(w["can_supply"], true);
    let t = row(&list, "SU-T");
    assert_eq!(
        t["containers"],
        json!({"total": 1, "measured_here": 0, "take_home": 1})
    );
    assert_eq!(t["kind"], "take_home");
    // Under D: the code and its neutral meaning only; nothing to prepare, nothing to record.
    let h = row(&list, "SU-H");
    assert_eq!(h["code"], "D");
    assert_eq!(
        (h["containers"].clone(), h["kind"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(h["doses"], json!([]));
    assert_eq!(h["can_supply"], false);

    // Tomorrow, Friday: the weekend goes home in separate containers, one per day.
    let (status, friday) = today(&client, "?date=2026-11-13").await;
    assert_eq!(status, 200, "{friday}");
    assert_eq!(friday["provisional"], true, "today is not closed yet");
    let w = row(&friday, "SU-W");
    assert_eq!(
        w["containers"],
        json!({"total": 3, "measured_here": 1, "take_home": 2})
    );
    assert_eq!(w["kind"], "supervised_and_take_home");
    assert_eq!(
        w["doses"],
        json!([
            {"date": "2026-11-13", "dose_mg": 60.0, "supervised": true},
            {"date": "2026-11-14", "dose_mg": 60.0, "supervised": false},
            {"date": "2026-11-15", "dose_mg": 60.0, "supervised": false},
        ])
    );
    assert_eq!(w["total_mg"], 180.0);
    assert_eq!(w["can_supply"], false, "a supply is recorded on its day");
    let t = row(&friday, "SU-T");
    assert_eq!(
        t["containers"],
        json!({"total": 3, "measured_here": 0, "take_home": 3})
    );
    assert_eq!(row(&friday, "SU-D1")["containers"]["total"], 1);

    // Saturday: the weekday collections are covered by Friday's, so only the daily ones.
    let (_, saturday) = today(&client, "?date=2026-11-14").await;
    assert_eq!(references(&saturday), ["SU-H", "SU-D1"], "{saturday:#}");

    // The page shows the same: tomorrow's tab, three containers, and discreet words.
    let (status, html) = client.get("/today?date=2026-11-13").await;
    assert_eq!(status, 200);
    assert!(html.contains("Due tomorrow · Fri 13 Nov"), "{html}");
    assert!(html.contains("data-containers=\"3\""), "{html}");
    assert!(html.contains("Sat 14 Nov: 60 mg"), "{html}");
    assert!(html.contains("Today is not closed yet"), "{html}");
    assert!(
        !html.contains("action=\"/supply\""),
        "nothing is recorded ahead: {html}"
    );
    assert_discreet(&html);

    // Once today is closed its supplies are final: tomorrow's list is what tomorrow shows.
    let (status, closed) = client
        .post(
            "/api/close-day",
            json!({"date": "2026-11-12", "early": true}),
        )
        .await;
    assert_eq!(status, 200, "{closed}");
    let (_, friday) = today(&client, "?date=2026-11-13").await;
    assert_eq!(friday["provisional"], false, "{friday}");
    assert_eq!(row(&friday, "SU-W")["containers"]["total"], 3);
    client.stop().await;
}

#[tokio::test]
async fn a_supply_from_the_list_marks_the_row_supplied_and_a_second_click_is_refused() {
    let (client, mut server, _dir, _clock) = thursday().await;
    let (_, home) = client.get("/").await;
    assert!(
        home.contains("Due today · Thu 12 Nov"),
        "the list is the home page: {home}"
    );
    assert_discreet(&home);
    let token = common::form_token_in(&home).unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Exactly what the row's button posts.
    let form = format!(
        "csrf={token}&reference=SU-W&date=2026-11-12&back=today&sort=code\
         &supervised_taken=true&take_home_doses=0"
    );
    let post = || {
        no_redirects
            .post(format!("http://{}/supply", client.addr))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.clone())
            .send()
    };
    let res = post().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(
        res.headers()["location"],
        "/today?sort=code&done=supplied#p-SU-W",
        "back to the list, at the row"
    );
    let (_, list) = today(&client, "").await;
    let w = row(&list, "SU-W");
    assert_eq!(
        (w["supplied"].clone(), w["code"].clone()),
        (json!(true), json!("B"))
    );
    assert!(w["supplied_at"].is_string());
    assert_eq!(w["can_supply"], false);
    assert_eq!(
        w["containers"]["total"], 1,
        "what was prepared and handed over"
    );
    assert_eq!(row(&list, "SU-D1")["supplied"], false);

    // The row says supplied and offers no button any more; the others still do.
    let (_, html) = client.get("/today?sort=code&done=supplied").await;
    assert!(html.contains("Recorded: supplied."), "{html}");
    let start = html.find("data-reference=\"SU-W\"").unwrap();
    let end = start + html[start..].find("</tr>").unwrap();
    let w_row = &html[start..end];
    assert!(
        w_row.contains("data-supplied") && w_row.contains("Supplied at 10:0"),
        "{w_row}"
    );
    assert!(!w_row.contains("<form"), "{w_row}");
    let start = html.find("data-reference=\"SU-D1\"").unwrap();
    assert!(
        html[start..]
            .split("</tr>")
            .next()
            .unwrap()
            .contains("action=\"/supply\"")
    );

    // A second click (a page left open, a double click on a slow line): the existing guard.
    let res = post().await.unwrap();
    assert_eq!(res.status().as_u16(), 409);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Not recorded: already supplied today at 10:0"),
        "{page}"
    );
    assert!(
        page.contains("Due today"),
        "the answer is the list again: {page}"
    );

    // One report, never two.
    let reports = server.expect_reports(1).await;
    assert!(
        format!("{:?}", reports[0].event).contains("Supplied"),
        "{reports:?}"
    );
    assert!(
        server
            .new_reports_within(Duration::from_millis(300))
            .await
            .is_empty()
    );
    client.stop().await;
}

#[tokio::test]
async fn the_list_sorts_by_name_reference_code_and_kind_in_a_stable_order() {
    let (client, _server, _dir, _clock) = thursday().await;
    for (sort, order) in [
        ("name", ["SU-H", "SU-T", "SU-D1", "SU-W"]),
        ("reference", ["SU-D1", "SU-H", "SU-T", "SU-W"]),
        ("code", ["SU-T", "SU-D1", "SU-W", "SU-H"]),
        ("kind", ["SU-D1", "SU-W", "SU-T", "SU-H"]),
    ] {
        for _ in 0..2 {
            let (status, list) = today(&client, &format!("?sort={sort}")).await;
            assert_eq!(status, 200, "{list}");
            assert_eq!(list["sort"], sort);
            assert_eq!(references(&list), order, "sort={sort}");
        }
    }
    // The page's sort links, and its rows in the same order.
    let (_, html) = client.get("/today?date=2026-11-12&sort=kind").await;
    assert!(html.contains("sort=reference"), "{html}");
    let at = |r: &str| html.find(&format!("data-reference=\"{r}\"")).unwrap();
    assert!(at("SU-D1") < at("SU-W") && at("SU-W") < at("SU-T") && at("SU-T") < at("SU-H"));
    client.stop().await;
}

#[tokio::test]
async fn bad_queries_are_refused_by_name_and_the_list_needs_the_api_token() {
    let (client, _server, _dir, _clock) = thursday().await;
    for (query, field) in [
        ("?date=13-11-2026", "date"),
        ("?date=2026-02-30", "date"),
        ("?date=2026-11-11", "date"),
        ("?date=2026-11-20", "date"),
        ("?sort=age", "sort"),
        ("?colour=red", "colour"),
        ("?date=2026-11-12&date=2026-11-13", "date"),
    ] {
        let (status, body) = today(&client, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
        assert!(body["detail"].as_str().unwrap().contains(field), "{body}");
    }
    // A week ahead is the limit.
    assert_eq!(today(&client, "?date=2026-11-19").await.0, 200);
    // It names everyone due: a local program needs the token, as for the API's changes.
    let (status, _) = client.json("/api/today").await;
    assert_eq!(status, 401);
    // The page names what it could not read and shows today's list instead.
    let (status, html) = client.get("/today?date=tomorrow").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Showing today&#39;s list instead: date: must be"),
        "{html}"
    );
    assert!(html.contains("Due today · Thu 12 Nov"), "{html}");
    client.stop().await;
}

#[tokio::test]
async fn the_print_view_is_a_plain_preparation_sheet() {
    let (client, _server, _dir, _clock) = thursday().await;
    let (status, html) = client.get("/today/print?date=2026-11-13&sort=kind").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Preparation sheet · High Street Pharmacy"),
        "{html}"
    );
    assert!(html.contains("Friday 13 November 2026"), "{html}");
    assert!(
        html.contains("Prepared by <span class=\"line\"></span>"),
        "{html}"
    );
    assert!(html.contains("@media print"), "{html}");
    assert!(
        !html.contains("<button") && !html.contains("<form"),
        "{html}"
    );
    // One row per person, a box to tick for each dose to prepare; none under D.
    assert_eq!(html.matches("<tr data-reference=").count(), 4, "{html}");
    assert_eq!(html.matches("class=\"box\"").count(), 3, "{html}");
    let start = html.find("data-reference=\"SU-W\"").unwrap();
    let w_row = html[start..].split("</tr>").next().unwrap();
    assert!(
        w_row.contains("<td>3</td>") && w_row.contains("supervised + take-home"),
        "{w_row}"
    );
    assert_discreet(&html);
    client.stop().await;
}
