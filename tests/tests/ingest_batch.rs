//! A `Reports` batch is stored in one transaction, each report inside its own savepoint: a
//! refused report and a report the database rejects undo only themselves (their audit entries
//! too — the chain still verifies), the rest commit, duplicates are recognised within the batch
//! and across batches, and a failed report goes through when sent again. SQLite and PostgreSQL.

use sotto_protocol::{Report, ReportEvent};
use sotto_server::core::db::{Backend as DbBackend, Store, audit};
use sotto_server::core::dispensing::ingest::{AlertSettings, Outcome, ingest_batch};
use sotto_tests::{Backend, TestDb};
use sqlx::Row;

sotto_tests::on_each_backend!(one_bad_report_in_a_batch_refuses_itself_not_the_batch);

async fn exec(store: &Store, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

fn supplied(id: &str, su: &str) -> Report {
    Report {
        report_id: id.into(),
        event: ReportEvent::Supplied {
            service_user_id: su.into(),
            collect_on: sotto_tests::pharmacy_today(),
            supervised_taken: true,
            take_home_dates: vec![],
            at: chrono::Utc::now(),
        },
    }
}

async fn one_bad_report_in_a_batch_refuses_itself_not_the_batch(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.expect("store");
    let now = sotto_server::core::db::now_text();
    exec(
        &store,
        &format!(
            "INSERT INTO staff (id, name, email, role, pharmacy_id, token_hash, created_at) \
             VALUES ('rx', 'Dr P', 'p@example.org', 'clinician', NULL, 'h-rx', '{now}')"
        ),
    )
    .await;
    for p in ["ph1", "ph2"] {
        exec(
            &store,
            &format!(
                "INSERT INTO pharmacies (id, ods_code, name, closed_weekdays, closing_time, \
                 timezone, mqtt_username, mqtt_password_hash, created_at) VALUES \
                 ('{p}', 'F{p}', 'Pharmacy', '', '18:00', 'Europe/London', 'mq{p}', 'x', '{now}')"
            ),
        )
        .await;
    }
    for (su, p) in [("a", "ph1"), ("b", "ph1"), ("elsewhere", "ph2")] {
        exec(
            &store,
            &format!(
                "INSERT INTO service_users (id, reference, given_name, family_name, \
                 date_of_birth, pharmacy_id, keyworker_id, prescriber_id, heads_up_email, \
                 created_at) VALUES ('{su}', 'R-{su}', 'A', 'B', '1980-01-01', '{p}', 'rx', \
                 'rx', NULL, '{now}')"
            ),
        )
        .await;
        // The pharmacy that holds them (issue 16's placements; the API adds it on creation).
        exec(
            &store,
            &format!(
                "INSERT INTO placements (id, service_user_id, pharmacy_id, kind, from_date, \
                 to_date, removal_sent_at, created_by, created_at) VALUES \
                 ('pl-{su}', '{su}', '{p}', 'home', NULL, NULL, NULL, 'test', '{now}')"
            ),
        )
        .await;
    }
    // The database refuses one report's row on its own (a constraint, as a corrupt value
    // would meet): a trigger on the poisoned report id.
    match store.backend() {
        DbBackend::Sqlite => {
            exec(
                &store,
                "CREATE TRIGGER poison BEFORE INSERT ON dispenses WHEN NEW.report_id = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'poisoned report'); END",
            )
            .await
        }
        DbBackend::Postgres => {
            exec(
                &store,
                "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
                 IF NEW.report_id = 'poison' THEN RAISE EXCEPTION 'poisoned report'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql",
            )
            .await;
            exec(
                &store,
                "CREATE TRIGGER poison BEFORE INSERT ON dispenses FOR EACH ROW \
                 EXECUTE FUNCTION poison()",
            )
            .await
        }
    }
    let settings = AlertSettings {
        public_url: "https://sotto.test".into(),
        service_timezone: chrono_tz::Europe::London,
        digest_at: chrono::NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
    };
    let batch = [
        supplied("r1", "a"),
        supplied("poison", "a"),
        supplied("stray", "elsewhere"),
        supplied("r2", "b"),
        supplied("r1", "a"),
    ];
    let outcomes = ingest_batch(&store, &settings, "ph1", &batch)
        .await
        .expect("the batch commits");
    assert_eq!(outcomes.len(), 5);
    assert!(matches!(outcomes[0], Ok(Outcome::Stored)), "{outcomes:?}");
    assert!(
        outcomes[1].is_err(),
        "the poisoned report fails: {outcomes:?}"
    );
    assert!(
        matches!(outcomes[2], Ok(Outcome::Refused(_))),
        "{outcomes:?}"
    );
    assert!(matches!(outcomes[3], Ok(Outcome::Stored)), "{outcomes:?}");
    assert!(
        matches!(outcomes[4], Ok(Outcome::Duplicate)),
        "a report twice in one batch counts once: {outcomes:?}"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM dispenses").await, 2);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM reports_received WHERE report_id IN ('poison', 'stray')"
        )
        .await,
        0,
        "what was undone left no idempotency row"
    );
    let v = audit::verify(store.pool()).await.unwrap();
    assert_eq!(v.broken, None, "the chain survives undone parts");
    let entries = v.entries;

    // Sent again: duplicates acked, the stray refused again, the poisoned one stored once the
    // database takes it.
    let drop = match store.backend() {
        DbBackend::Sqlite => "DROP TRIGGER poison",
        DbBackend::Postgres => "DROP TRIGGER poison ON dispenses",
    };
    exec(&store, drop).await;
    let again = ingest_batch(&store, &settings, "ph1", &batch)
        .await
        .unwrap();
    assert!(matches!(again[0], Ok(Outcome::Duplicate)), "{again:?}");
    assert!(matches!(again[1], Ok(Outcome::Stored)), "{again:?}");
    assert!(matches!(again[2], Ok(Outcome::Refused(_))), "{again:?}");
    assert!(matches!(again[3], Ok(Outcome::Duplicate)), "{again:?}");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM dispenses").await, 3);
    let v = audit::verify(store.pool()).await.unwrap();
    assert_eq!(v.broken, None);
    assert_eq!(
        v.entries,
        entries + 1,
        "one audit entry for the one new dispense"
    );

    // A batch of nothing new stores nothing and commits nothing.
    let dup = ingest_batch(&store, &settings, "ph1", &batch[..1])
        .await
        .unwrap();
    assert!(matches!(dup[0], Ok(Outcome::Duplicate)));
    assert_eq!(
        audit::verify(store.pool()).await.unwrap().entries,
        entries + 1
    );
    store.close().await;
}
