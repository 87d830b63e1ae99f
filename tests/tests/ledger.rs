//! The dose ledger end to end, through the real API, the real counter client (on a clock the
//! test moves) and the server's safety rule, on SQLite and PostgreSQL: each defect a
//! pharmacist or prescriber found when missed doses were counted per collection rather than
//! per calendar day.

use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use sotto_tests::Backend;
use sotto_tests::counter::{Counter, TestClock};
use sotto_tests::push::{BrokerKind, PushWorld};

const WAIT: Duration = Duration::from_secs(20);

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_day_without_a_dose_later_on_the_day_of_a_review_counts_at_both_ends() {
        super::review_day(sotto_tests::Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_counter_pc_clock_a_day_ahead_supplies_nothing_and_the_service_is_shown_it() {
        super::clock_a_day_ahead(sotto_tests::Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missed_saturday_two_day_instalment_counts_sunday_and_brings_e_on_saturday() {
        super::a_missed_saturday_two_day_instalment(sotto_tests::Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn days_between_two_prescriptions_bring_e_when_the_next_one_starts() {
        super::days_between_two_prescriptions(sotto_tests::Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_closure_posted_after_the_supply_makes_the_moved_dose_due_or_tells_the_service() {
        super::late_closures(sotto_tests::Backend::Sqlite).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_day_without_a_dose_later_on_the_day_of_a_review_counts_at_both_ends() {
        super::review_day(sotto_tests::Backend::Postgres).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_counter_pc_clock_a_day_ahead_supplies_nothing_and_the_service_is_shown_it() {
        super::clock_a_day_ahead(sotto_tests::Backend::Postgres).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missed_saturday_two_day_instalment_counts_sunday_and_brings_e_on_saturday() {
        super::a_missed_saturday_two_day_instalment(sotto_tests::Backend::Postgres).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn days_between_two_prescriptions_bring_e_when_the_next_one_starts() {
        super::days_between_two_prescriptions(sotto_tests::Backend::Postgres).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_closure_posted_after_the_supply_makes_the_moved_dose_due_or_tells_the_service() {
        super::late_closures(sotto_tests::Backend::Postgres).await;
    }
}

fn today() -> NaiveDate {
    sotto_tests::pharmacy_today()
}

/// 19:30 UTC: after the 18:00 closing time in London, winter or summer.
fn evening(day: NaiveDate) -> chrono::DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(19, 30, 0).unwrap())
}

fn morning(day: NaiveDate) -> chrono::DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(10, 0, 0).unwrap())
}

/// The world's counter on `clock` (data stays confirmed for the month the test moves through).
async fn counter_on(w: &PushWorld, clock: &std::sync::Arc<TestClock>) -> Counter {
    Counter::start_with_clock(
        &w.pharmacy,
        w.broker_port(),
        Duration::from_secs(86_400 * 30),
        Some(clock.clone()),
    )
    .await
}

async fn post_json(counter: &Counter, path: &str, body: Value) -> (u16, Value) {
    counter.post(path, &body).await
}

/// A new person at the world's pharmacy with `collections` from `start` for `days` days.
async fn person(
    w: &PushWorld,
    reference: &str,
    prescriptions: &[(NaiveDate, i64, Value)],
) -> String {
    let (status, su) = w
        .app
        .post(
            &w.keyworker.token,
            "/api/v1/service-users",
            sotto_tests::service_user_body(
                reference,
                &w.pharmacy.id,
                &w.keyworker.id,
                &w.clinician.id,
            ),
        )
        .await;
    assert_eq!(status, 201, "{su}");
    let id = su["id"].as_str().unwrap().to_string();
    for (start, days, collections) in prescriptions {
        let (status, p) = w
            .app
            .post(
                &w.clinician.token,
                &format!("/api/v1/service-users/{id}/prescriptions"),
                sotto_tests::prescription_body(*start, *days, collections.clone()),
            )
            .await;
        assert_eq!(status, 201, "{p}");
    }
    id
}

async fn missed_on_server(w: &PushWorld, su: &str) -> Vec<Value> {
    w.missed_doses(su).await
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn server_code(w: &PushWorld, su: &str) -> Value {
    let (_, status) = w
        .app
        .get(
            &w.keyworker.token,
            &format!("/api/v1/service-users/{su}/status"),
        )
        .await;
    status
}

async fn a_missed_saturday_two_day_instalment(backend: Backend) {
    let w = PushWorld::start_on(BrokerKind::Embedded, backend, 1).await;
    // The most recent Friday at least four days ago, so Thursday..Monday are all past.
    let back = (today().weekday().num_days_from_monday() + 7 - 4) % 7;
    let friday = today() - chrono::Duration::days(i64::from(back) + if back < 4 { 7 } else { 0 });
    assert_eq!(friday.weekday(), chrono::Weekday::Fri);
    let thursday = friday.pred_opt().unwrap();
    let saturday = friday.succ_opt().unwrap();
    let sunday = saturday.succ_opt().unwrap();
    // The pharmacy is shut that Sunday: Saturday's instalment covers it.
    let (status, body) = w
        .app
        .post(
            &w.app.admin.token,
            &format!("/api/v1/pharmacies/{}/closures", w.pharmacy.id),
            json!({"date": sunday.to_string(), "note": "closed"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let su = person(
        &w,
        "SU-3001",
        &[(thursday, 14, sotto_tests::daily_supervised())],
    )
    .await;
    let clock = TestClock::at(morning(thursday));
    let mut counter = counter_on(&w, &clock).await;
    counter.wait_for_code("SU-3001", "A", WAIT).await;
    let (status, body) = post_json(
        &counter,
        "/api/supplies",
        json!({"reference": "SU-3001", "date": thursday.to_string(),
               "supervised_taken": true, "take_home_doses": 0}),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Friday and Saturday pass without a collection. Closing Saturday settles Sunday too:
    // nothing can be handed over for a day the pharmacy is shut.
    clock.set(evening(thursday));
    clock.set(evening(friday));
    clock.set(evening(saturday));
    wait_until("three missed days at the server", async || {
        missed_on_server(&w, &su).await.len() == 3
    })
    .await;
    let missed = missed_on_server(&w, &su).await;
    let mut dates: Vec<String> = missed
        .iter()
        .map(|m| m["date"].as_str().unwrap().to_string())
        .collect();
    dates.sort();
    assert_eq!(
        dates,
        [friday, saturday, sunday].map(|d| d.to_string()),
        "{missed:?}"
    );
    // Three days without a dose: the counter shows E on Sunday (it was a two-day collection
    // missed, not one day), and the server placed its safety hold.
    clock.set(morning(sunday));
    counter.wait_for_code("SU-3001", "E", WAIT).await;
    wait_until("the server's safety hold", async || {
        let status = server_code(&w, &su).await;
        status["code"] == "E"
            && status["holds"]
                .as_array()
                .is_some_and(|h| h.iter().any(|h| h["kind"] == "safety"))
    })
    .await;
    counter.stop().await;
}

async fn days_between_two_prescriptions(backend: Backend) {
    let w = PushWorld::start_on(BrokerKind::Embedded, backend, 1).await;
    let every_day = json!(
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .map(|d| json!({"weekday": d, "days": 1, "supervised": true}))
    );
    let first = today() - chrono::Duration::days(10);
    let second = first + chrono::Duration::days(7);
    let su = person(
        &w,
        "SU-3002",
        &[(first, 4, every_day.clone()), (second, 7, every_day)],
    )
    .await;
    let clock = TestClock::at(morning(first));
    let mut counter = counter_on(&w, &clock).await;
    for k in 0..4 {
        let day = first + chrono::Duration::days(k);
        clock.set(morning(day));
        counter.wait_for_code("SU-3002", "A", WAIT).await;
        let (status, body) = post_json(
            &counter,
            "/api/supplies",
            json!({"reference": "SU-3002", "date": day.to_string(),
                   "supervised_taken": true, "take_home_doses": 0}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        clock.set(evening(day));
    }
    // Three days with nothing prescribed: no dose in hand, although none was missed.
    for k in 4..7 {
        clock.set(evening(first + chrono::Duration::days(k)));
    }
    clock.set(morning(second));
    counter.wait_for_code("SU-3002", "E", WAIT).await;
    wait_until("the server's safety hold", async || {
        server_code(&w, &su).await["holds"]
            .as_array()
            .is_some_and(|h| h.iter().any(|h| h["kind"] == "safety"))
    })
    .await;
    assert!(
        missed_on_server(&w, &su).await.is_empty(),
        "days with nothing prescribed are not missed doses"
    );
    counter.stop().await;
}

async fn add_closure(w: &PushWorld, date: NaiveDate) -> Value {
    let (status, body) = w
        .app
        .post(
            &w.app.admin.token,
            &format!("/api/v1/pharmacies/{}/closures", w.pharmacy.id),
            json!({"date": date.to_string(), "note": "late notice"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn late_closures(backend: Backend) {
    let w = PushWorld::start_on(BrokerKind::Embedded, backend, 1).await;
    let today = today();
    let tomorrow = today.succ_opt().unwrap();
    let clock = TestClock::at(morning(today));
    let mut counter = counter_on(&w, &clock).await;
    // Today's supervised dose is taken: B.
    counter
        .wait_for_code(sotto_tests::push::REFERENCE, "A", WAIT)
        .await;
    let (status, body) = post_json(
        &counter,
        "/api/supplies",
        json!({"reference": sotto_tests::push::REFERENCE, "date": today.to_string(),
               "supervised_taken": true, "take_home_doses": 0}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    counter
        .wait_for_code(sotto_tests::push::REFERENCE, "B", WAIT)
        .await;

    // Then the pharmacy will be shut tomorrow: clause 1 moves tomorrow's dose onto today. It is
    // not lost: the counter offers it now, as one extra take-home dose.
    let created = add_closure(&w, tomorrow).await;
    assert_eq!(created["doses_without_a_day"], json!([]), "{created}");
    counter
        .wait_for_code(sotto_tests::push::REFERENCE, "A", WAIT)
        .await;
    let (_, status) = counter.status(sotto_tests::push::REFERENCE).await;
    assert_eq!(status["due"]["supervised_dose_mg"], Value::Null, "{status}");
    assert_eq!(status["due"]["take_home_doses"], 1, "{status}");
    assert_eq!(
        status["due"]["doses"][0]["date"],
        tomorrow.to_string(),
        "{status}"
    );
    let server = server_code(&w, &w.service_user).await;
    assert_eq!(server["code"], "A", "the server agrees: {server}");
    let page = reqwest::get(counter.url(&format!("/?reference={}", sotto_tests::push::REFERENCE)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let said = format!(
        "Extra take-home dose for {}: the pharmacy is closed that day",
        tomorrow.format("%a %-d %b")
    );
    assert!(page.contains(&said), "the page says it plainly: {page}");
    let (status, body) = post_json(
        &counter,
        "/api/supplies",
        json!({"reference": sotto_tests::push::REFERENCE, "date": today.to_string(),
               "supervised_taken": false, "take_home_doses": 1}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["take_home_dates"], json!([tomorrow.to_string()]));
    counter
        .wait_for_code(sotto_tests::push::REFERENCE, "B", WAIT)
        .await;
    // Handed over once only.
    let (status, body) = post_json(
        &counter,
        "/api/supplies",
        json!({"reference": sotto_tests::push::REFERENCE, "date": today.to_string(),
               "supervised_taken": false, "take_home_doses": 1}),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // The day after tomorrow's dose: today closes first, then a closure arrives for the day
    // after tomorrow *and* tomorrow is already shut, so the dose moves onto today, which is
    // over. No open day is left: the service is told at once, naming the reference.
    clock.set(evening(today));
    wait_until("today closed at the server", async || {
        let db = w.app.db().await;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM day_closures WHERE date = $1")
            .bind(today.to_string())
            .fetch_one(db.pool())
            .await
            .unwrap();
        n == 1
    })
    .await;
    let after = tomorrow.succ_opt().unwrap();
    let created = add_closure(&w, after).await;
    assert_eq!(
        created["doses_without_a_day"],
        json!([sotto_tests::push::REFERENCE]),
        "{created}"
    );
    wait_until("the service's notice", async || {
        w.smtp
            .messages()
            .iter()
            .any(|m| m.to == [sotto_tests::push::SERVICE_EMAIL.to_string()])
    })
    .await;
    let notice = w
        .smtp
        .messages()
        .into_iter()
        .find(|m| m.to == [sotto_tests::push::SERVICE_EMAIL.to_string()])
        .unwrap();
    assert!(
        notice.data.contains(sotto_tests::push::REFERENCE),
        "{}",
        notice.data
    );
    for secret in ["Testperson", "Alex", "methadone", "60 mg"] {
        assert!(!notice.data.contains(secret), "{secret} in {}", notice.data);
    }
    counter.stop().await;
}

async fn clock_a_day_ahead(backend: Backend) {
    use sotto_tests::console::{ConsoleClient, PASSWORD};
    let w = PushWorld::start_on(BrokerKind::Embedded, backend, 1).await;
    // The PC's clock says tomorrow; the service's messages say today.
    let clock = TestClock::at(Utc::now() + chrono::Duration::days(1));
    let mut counter = Counter::start_adjusted(
        &w.pharmacy,
        w.broker_port(),
        Duration::from_secs(86_400 * 30),
        Some(clock.clone()),
        |c| c.max_clock_skew = Duration::from_secs(120),
    )
    .await;
    counter
        .wait_for(
            sotto_tests::push::REFERENCE,
            WAIT,
            "the clock problem",
            |s| s["clock_problem"].is_string(),
        )
        .await;
    let tomorrow = today().succ_opt().unwrap();
    let (status, body) = post_json(
        &counter,
        "/api/supplies",
        json!({"reference": sotto_tests::push::REFERENCE, "date": tomorrow.to_string(),
               "supervised_taken": true, "take_home_doses": 0}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("This PC's clock says")),
        "{body}"
    );
    // The service sees it: the person page and the pharmacies page say how far out it is.
    w.app.set_password(&w.keyworker, PASSWORD).await;
    let kw = ConsoleClient::signed_in(&w.app, &w.keyworker).await;
    let person = format!("/console/people/{}", w.service_user);
    wait_until("the console's clock warning", async || {
        kw.get(&person).await.body.contains("data-clock-wrong")
    })
    .await;
    let page = kw.get(&person).await.body;
    assert!(
        page.contains("The pharmacy PC&#39;s clock is 1 day 0 h ahead")
            || page.contains("The pharmacy PC's clock is 1 day 0 h ahead"),
        "{page}"
    );
    // Nothing was handed over or reported missed.
    assert!(missed_on_server(&w, &w.service_user).await.is_empty());
    counter.stop().await;
}

async fn review_day(backend: Backend) {
    // Three days missed before today; a prescriber reviews this morning; today is missed too.
    let w = PushWorld::start_on(BrokerKind::Embedded, backend, 3).await;
    let start = today() - chrono::Duration::days(3);
    let clock = TestClock::at(morning(start));
    let mut counter = counter_on(&w, &clock).await;
    counter
        .wait_for_code(sotto_tests::push::REFERENCE, "A", WAIT)
        .await;
    for k in 0..3 {
        clock.set(evening(start + chrono::Duration::days(k)));
    }
    clock.set(morning(today()));
    counter
        .wait_for_code(sotto_tests::push::REFERENCE, "E", WAIT)
        .await;
    let hold = {
        let mut found = None;
        wait_until("the server's safety hold", async || {
            found = server_code(&w, &w.service_user).await["holds"]
                .as_array()
                .and_then(|h| h.iter().find(|h| h["kind"] == "safety").cloned());
            found.is_some()
        })
        .await;
        found.unwrap()
    };
    let (status, body) = w
        .app
        .post(
            &w.clinician.token,
            &format!("/api/v1/holds/{}/lift", hold["id"].as_str().unwrap()),
            json!({"note": "reviewed this morning"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    counter
        .wait_for_code(sotto_tests::push::REFERENCE, "A", WAIT)
        .await;

    // Today is closed without a dose: it counts, at the server and at the counter alike.
    clock.set(evening(today()));
    wait_until(
        "today's day without a dose counted at the server",
        async || server_code(&w, &w.service_user).await["days_without_dose"] == 1,
    )
    .await;
    // Two more days without a dose: E again on the third morning, the review's day counted.
    for k in 1..3 {
        clock.set(evening(today() + chrono::Duration::days(k)));
    }
    clock.set(morning(today() + chrono::Duration::days(3)));
    counter
        .wait_for_code(sotto_tests::push::REFERENCE, "E", WAIT)
        .await;
    let (_, status) = counter.status(sotto_tests::push::REFERENCE).await;
    assert_eq!(status["days_without_dose"], 3, "{status}");
    counter.stop().await;
}
