//! The set-based daily pass (`core::daily::codes_for`) gives exactly the per-person answer
//! (`core::status::for_service_user`, and the assessment behind it) for every person, on several
//! dates, over a varied population written straight to the database: pharmacies closed at
//! weekends, bank-holiday closures, closed days reported or not, ended and future prescriptions
//! (gaps between them), regime changes, supplies with take-home doses, withheld instalments,
//! missed doses, attend and safety holds active and lifted (reviews), old history the bulk pass
//! does not read — on SQLite and PostgreSQL.

use chrono::{Days, NaiveDate};
use sotto_server::core::daily::{Scope, codes_for};
use sotto_server::core::db::Store;
use sotto_tests::{Backend, TestDb};

sotto_tests::on_each_backend!(the_bulk_pass_gives_every_person_the_per_person_answer);

/// A small deterministic generator (xorshift): the population differs by seed, not by run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn d(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn at(date: NaiveDate, hour: u32) -> String {
    format!("{}T{hour:02}:15:00.000Z", d(date))
}

fn plus(date: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        date.checked_add_days(Days::new(days as u64)).unwrap()
    } else {
        date.checked_sub_days(Days::new((-days) as u64)).unwrap()
    }
}

const PATTERNS: [&str; 5] = [
    r#"[{"weekday":"mon","days":1,"supervised":true},{"weekday":"tue","days":1,"supervised":true},{"weekday":"wed","days":1,"supervised":true},{"weekday":"thu","days":1,"supervised":true},{"weekday":"fri","days":1,"supervised":true},{"weekday":"sat","days":2,"supervised":true}]"#,
    r#"[{"weekday":"mon","days":3,"supervised":true},{"weekday":"thu","days":4,"supervised":false}]"#,
    r#"[{"weekday":"mon","days":1,"supervised":true},{"weekday":"tue","days":1,"supervised":true},{"weekday":"wed","days":1,"supervised":true},{"weekday":"thu","days":1,"supervised":true},{"weekday":"fri","days":3,"supervised":false}]"#,
    r#"[{"weekday":"mon","days":1,"supervised":true},{"weekday":"tue","days":1,"supervised":true},{"weekday":"wed","days":1,"supervised":true},{"weekday":"thu","days":1,"supervised":true},{"weekday":"fri","days":1,"supervised":true},{"weekday":"sat","days":1,"supervised":false},{"weekday":"sun","days":1,"supervised":false}]"#,
    r#"[{"weekday":"wed","days":7,"supervised":false}]"#,
];

async fn exec(store: &Store, sql: String) {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .expect("seed statement");
}

/// Writes `pharmacies` pharmacies with `per` people each; returns the people's ids.
async fn populate(store: &Store, rng: &mut Rng, pharmacies: usize, per: usize) -> Vec<String> {
    let today = chrono::Utc::now().date_naive();
    let now = at(today, 0);
    exec(
        store,
        format!(
            "INSERT INTO staff (id, name, email, role, pharmacy_id, token_hash, created_at) \
             VALUES ('rx', 'Dr P', 'p@example.org', 'clinician', NULL, 'h-rx', '{now}'), \
             ('kw', 'K W', 'k@example.org', 'keyworker', NULL, 'h-kw', '{now}')"
        ),
    )
    .await;
    let mut people = Vec::new();
    for i in 0..pharmacies {
        let id = format!("ph{i}");
        let closed = ["", "sun", "sat,sun"][i % 3];
        exec(
            store,
            format!(
                "INSERT INTO pharmacies (id, ods_code, name, closed_weekdays, closing_time, \
                 timezone, mqtt_username, mqtt_password_hash, created_at) VALUES \
                 ('{id}', 'F{i:04}', 'Pharmacy {i}', '{closed}', '18:00', 'Europe/London', \
                 'mq{i}', 'x', '{now}')"
            ),
        )
        .await;
        // Bank holidays and one-off closures around today, past and ahead.
        for (k, offset) in [-9i64, -2, 1, 3].into_iter().enumerate() {
            if rng.chance(40) {
                exec(
                    store,
                    format!(
                        "INSERT INTO closures (id, pharmacy_id, date, note, created_at) VALUES \
                         ('cl{i}-{k}', '{id}', '{}', 'bank holiday', '{now}')",
                        d(plus(today, offset))
                    ),
                )
                .await;
            }
        }
        // Closed days reported: none, through yesterday, or with the last few missing.
        let (first, last) = match i % 4 {
            0 => (None, None),
            1 => (Some(-25), Some(-1)),
            2 => (Some(-12), Some(-4)),
            _ => (Some(-3), Some(-2)),
        };
        if let (Some(first), Some(last)) = (first, last) {
            for off in first..=last {
                exec(
                    store,
                    format!(
                        "INSERT INTO day_closures (pharmacy_id, date, closed_at, received_at) \
                         VALUES ('{id}', '{}', '{}', '{now}')",
                        d(plus(today, off)),
                        at(plus(today, off), 18)
                    ),
                )
                .await;
            }
        }
        for j in 0..per {
            let su = format!("su{i}-{j}");
            exec(
                store,
                format!(
                    "INSERT INTO service_users (id, reference, given_name, family_name, \
                     date_of_birth, pharmacy_id, keyworker_id, prescriber_id, heads_up_email, \
                     created_at) VALUES ('{su}', 'R{i}-{j}', 'A', 'B{j}', '1980-01-01', '{id}', \
                     'kw', 'rx', NULL, '{now}')"
                ),
            )
            .await;
            person(store, rng, &su, &id, today, &now).await;
            people.push(su);
        }
    }
    people
}

/// One person's prescriptions, supplies, missed doses and holds.
async fn person(
    store: &Store,
    rng: &mut Rng,
    su: &str,
    pharmacy: &str,
    today: NaiveDate,
    now: &str,
) {
    // Prescriptions as (start offset, length): old history, a recent one ended, the current
    // one, or one starting ahead (a gap before it).
    let mut spans: Vec<(i64, i64)> = Vec::new();
    // Old history the bulk pass reads only the first and last of (by start and clause 3
    // limit): what the ledger takes from ended prescriptions.
    if rng.chance(30) {
        spans.push((-90, 14));
        spans.push((-70, 14));
        if rng.chance(50) {
            spans.push((-50, 14));
        }
    }
    match rng.below(5) {
        0 => spans.push((-24, 14)),
        1 => spans.push((-20, 10)),
        _ => {}
    }
    match rng.below(6) {
        0 => spans.push((2 + rng.below(3) as i64, 14)),
        1 => {}
        _ => spans.push((-(rng.below(13) as i64), 14)),
    }
    for (k, (start, len)) in spans.iter().enumerate() {
        let start = plus(today, *start);
        let end = plus(start, len - 1);
        let rx = format!("{su}-rx{k}");
        exec(
            store,
            format!(
                "INSERT INTO prescriptions (id, service_user_id, medicine, start_date, end_date, \
                 closed_days_prior, supply_remaining_if_missed, consult_after_missed_days, \
                 created_by, created_at) VALUES ('{rx}', '{su}', \
                 'methadone_oral_solution_1mg_ml', '{}', '{}', {}, {}, {}, 'rx', '{now}')",
                d(start),
                d(end),
                rng.below(2),
                rng.below(2),
                2 + rng.below(4)
            ),
        )
        .await;
        let pattern = PATTERNS[rng.below(PATTERNS.len() as u64) as usize];
        let dose = 20_000 + rng.below(8) as i64 * 10_000;
        exec(
            store,
            format!(
                "INSERT INTO regimes (id, prescription_id, effective_from, daily_dose_ug, \
                 collections, reason, created_by, created_at) VALUES \
                 ('{rx}-r0', '{rx}', '{}', {dose}, '{pattern}', NULL, 'rx', '{now}')",
                d(start)
            ),
        )
        .await;
        if rng.chance(20) {
            let pattern = PATTERNS[rng.below(PATTERNS.len() as u64) as usize];
            exec(
                store,
                format!(
                    "INSERT INTO regimes (id, prescription_id, effective_from, daily_dose_ug, \
                     collections, reason, created_by, created_at) VALUES \
                     ('{rx}-r1', '{rx}', '{}', {}, '{pattern}', 'titration', 'rx', '{now}')",
                    d(plus(start, 1 + rng.below(10) as i64)),
                    dose + 5_000
                ),
            )
            .await;
        }
    }
    // What the counter reported over the last five weeks (and an old supply the bulk pass
    // does not read).
    let mut n = 0;
    for off in (-35i64..=0).chain([-120]) {
        let day = plus(today, off);
        let roll = rng.below(100);
        let row = if roll < 55 {
            let take_home: Vec<String> = (1..=rng.below(3) as i64)
                .map(|k| format!("\"{}\"", d(plus(day, k))))
                .collect();
            Some((
                "supplied",
                u64::from(rng.chance(80)),
                format!("[{}]", take_home.join(",")),
                "NULL",
            ))
        } else if roll < 62 {
            Some(("withheld", 0, "[]".to_string(), "'intoxicated'"))
        } else {
            None
        };
        if let Some((kind, supervised, dates, reason)) = row {
            n += 1;
            exec(
                store,
                format!(
                    "INSERT INTO dispenses (id, report_id, pharmacy_id, service_user_id, \
                     collect_on, kind, supervised_taken, take_home_dates, withheld_reason, at, \
                     received_at) VALUES ('{su}-d{n}', '{su}-rep{n}', '{pharmacy}', '{su}', \
                     '{}', '{kind}', {supervised}, '{dates}', {reason}, '{}', '{now}')",
                    d(day),
                    at(day, 10 + rng.below(6) as u32)
                ),
            )
            .await;
        } else if rng.chance(50) {
            exec(
                store,
                format!(
                    "INSERT INTO missed_doses (id, service_user_id, pharmacy_id, date, dose_ug, \
                     reported_at, report_id, why) VALUES ('{su}-m{off}', '{su}', '{pharmacy}', \
                     '{}', 60000, '{now}', NULL, 'collection_missed')",
                    d(day)
                ),
            )
            .await;
        }
    }
    // Holds: (kind, placed offset, lifted offset).
    let mut holds: Vec<(&str, i64, Option<i64>)> = Vec::new();
    match rng.below(8) {
        0 => holds.push(("attend", -2, None)),
        1 => holds.push(("safety", -1, None)),
        2 => holds.push(("safety", -9, Some(-3))),
        3 => holds.push(("attend", -8, Some(-5))),
        4 => {
            holds.push(("attend", -200, Some(-150)));
            holds.push(("safety", -100, Some(-95)));
        }
        5 => {
            holds.push(("safety", -6, Some(0)));
            holds.push(("attend", 0, None));
        }
        _ => {}
    }
    for (k, (kind, placed, lifted)) in holds.into_iter().enumerate() {
        let lifted = lifted.map_or("NULL".to_string(), |l| {
            format!("'{}'", at(plus(today, l), 9))
        });
        exec(
            store,
            format!(
                "INSERT INTO holds (id, service_user_id, kind, reason, placed_by, placed_at, \
                 lifted_by, lifted_at, lift_note) VALUES ('{su}-h{k}', '{su}', '{kind}', 'test', \
                 'kw', '{}', NULL, {lifted}, NULL)",
                at(plus(today, placed), 8)
            ),
        )
        .await;
    }
}

/// Everything an assessment answers, day by day over its ledger (the ledger's private list
/// of clause 3 limits may be shorter in the bulk pass: only what it answers must agree).
fn same_assessment(got: &sotto_domain::Assessment, want: &sotto_domain::Assessment, who: &str) {
    assert_eq!(got.plan, want.plan, "{who}: plan");
    assert_eq!(got.code, want.code, "{who}: code");
    assert_eq!(
        (got.run, got.limit, got.review_needed),
        (want.run, want.limit, want.review_needed),
        "{who}: clause 3"
    );
    let days: Vec<_> = got.ledger.days().copied().collect();
    assert_eq!(
        days,
        want.ledger.days().copied().collect::<Vec<_>>(),
        "{who}: ledger"
    );
    assert_eq!(
        got.ledger.settled_until(),
        want.ledger.settled_until(),
        "{who}"
    );
    for day in days.iter().map(|a| a.date) {
        assert_eq!(
            got.ledger.limit_on(day),
            want.ledger.limit_on(day),
            "{who}: limit on {day}"
        );
        assert_eq!(
            got.ledger.run_ending(day),
            want.ledger.run_ending(day),
            "{who}: run to {day}"
        );
        assert_eq!(
            got.ledger.review_needed(day),
            want.ledger.review_needed(day),
            "{who}"
        );
    }
}

async fn the_bulk_pass_gives_every_person_the_per_person_answer(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.expect("store");
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let people = populate(&store, &mut rng, 8, 12).await;
    let today = chrono::Utc::now().date_naive();
    // Three people moved pharmacy two days ago (issue 16): the pass must give them the
    // per-person answer too (records from the move, the run carried from the pharmacy before).
    for su in people.iter().step_by(31).take(3) {
        let now = at(today, 0);
        exec(
            &store,
            format!(
                "INSERT INTO placements (id, service_user_id, pharmacy_id, kind, from_date, \
                 to_date, removal_sent_at, created_by, created_at) \
                 SELECT 'old-{su}', id, pharmacy_id, 'home', NULL, '{before}', NULL, 'test', '{now}' \
                 FROM service_users WHERE id = '{su}'",
                before = d(plus(today, -3)),
            ),
        )
        .await;
        exec(
            &store,
            format!(
                "INSERT INTO placements (id, service_user_id, pharmacy_id, kind, from_date, \
                 to_date, removal_sent_at, created_by, created_at) VALUES \
                 ('new-{su}', '{su}', 'ph7', 'home', '{from}', NULL, NULL, 'test', '{now}')",
                from = d(plus(today, -2)),
            ),
        )
        .await;
        exec(
            &store,
            format!("UPDATE service_users SET pharmacy_id = 'ph7' WHERE id = '{su}'"),
        )
        .await;
    }
    let mut codes_seen = std::collections::BTreeSet::new();
    let mut runs_seen = std::collections::BTreeSet::new();
    for date in [
        None,
        Some(plus(today, -1)),
        Some(plus(today, -6)),
        Some(plus(today, -13)),
        Some(plus(today, 2)),
    ] {
        let bulk = codes_for(&store, Scope::Service, date)
            .await
            .expect("bulk pass");
        assert_eq!(bulk.len(), people.len(), "one code per person");
        for code in &bulk {
            let su =
                sotto_server::core::db::service_users::get(store.pool(), &code.service_user_id)
                    .await
                    .unwrap()
                    .unwrap();
            let pharmacy = sotto_server::core::db::pharmacies::get(store.pool(), &su.pharmacy_id)
                .await
                .unwrap()
                .unwrap();
            let day = date.unwrap_or(pharmacy.today());
            assert_eq!(code.date, day);
            // The assessment behind the status, and the status itself.
            let mut conn = store.pool().acquire().await.unwrap();
            let records =
                sotto_server::core::dispensing::ledger::records(&mut conn, &pharmacy, &su.id)
                    .await
                    .unwrap();
            drop(conn);
            let expected = records.assess(day, pharmacy.today());
            same_assessment(&code.assessment, &expected, &format!("{} on {day}", su.id));
            let status =
                sotto_server::core::status::for_service_user(&store, &su, Some(day), false)
                    .await
                    .unwrap();
            let a = &code.assessment;
            assert_eq!(status.code, a.code, "{} on {day}", su.id);
            assert_eq!(status.days_without_dose, a.run, "{} on {day}", su.id);
            assert_eq!(status.no_dose_since, a.ledger.no_dose_since(day));
            assert_eq!(
                status.ledger,
                a.ledger.last_days(day, sotto_domain::SHOWN_DAYS)
            );
            codes_seen.insert(a.code.letter());
            runs_seen.insert(a.run.min(4));
        }
        // One pharmacy's people alone: the same answers.
        let one = codes_for(&store, Scope::Pharmacy("ph5"), date)
            .await
            .unwrap();
        let all: Vec<_> = bulk.iter().filter(|c| c.pharmacy_id == "ph5").collect();
        assert_eq!(one.len(), all.len());
        for (x, y) in one.iter().zip(all) {
            assert_eq!(x.service_user_id, y.service_user_id);
            same_assessment(&x.assessment, &y.assessment, &x.service_user_id);
        }
    }
    // The population is varied enough to mean something.
    for letter in ['A', 'B', 'C', 'D', 'E', 'F'] {
        assert!(
            codes_seen.contains(&letter),
            "no {letter} among {codes_seen:?}"
        );
    }
    assert!(runs_seen.len() >= 3, "runs seen: {runs_seen:?}");
    store.close().await;
}
