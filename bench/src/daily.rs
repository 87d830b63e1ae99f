//! (3) Daily work at national scale: 150,000 people over 11,000 pharmacies (`--quick`: a tenth).
//!
//! - In memory, with the domain crate alone: build every schedule, then what is due and the code
//!   for today (the dose ledger's `assess`, as server and counter call it); and the end-of-day missed-dose pass
//!   (`dose_in_hand` + `consecutive_missed_run` against the clause-3 threshold).
//! - DB-backed, on SQLite and PostgreSQL after seeding the same data with bulk SQL: the server's
//!   own per-person status path (`sotto_server::core::status::for_service_user`) timed on a sample and
//!   extrapolated (labelled as such); and a set-based pass (five bulk queries, then the same
//!   domain rules in memory) to show what the work costs when read in bulk.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sotto_domain::{
    Directions, DoseMg, HoldKind, Medicine, PharmacyCalendar, Prescription, Regime, StatusCode,
    SupplyRecord, Weekday, WeeklyCollections, consecutive_missed_run, dose_in_hand,
    due_given_supplies, status_code,
};
use sqlx::Row as _;

use crate::Scale;
use crate::report::{Row, Table, dur, times};
use crate::rig::{Backend, BrokerKind, Rig, backend_name};
use crate::seed::{self, seed};

/// One person as the daily pass sees them.
struct Person {
    pharmacy: usize,
    prescription: Prescription,
    holds: Vec<HoldKind>,
    supplies: Vec<SupplyRecord>,
    /// Missed days before today (for the consecutive-days rule).
    missed_before: BTreeSet<NaiveDate>,
}

pub async fn run(scale: Scale, table: &mut Table) -> anyhow::Result<()> {
    let pharmacies = scale.pick(1_100, 11_000);
    let people = scale.pick(15_000, 150_000);
    let today = chrono::Utc::now().date_naive();
    let national = format!("{people} people / {pharmacies} pharmacies");

    let calendars: Vec<PharmacyCalendar> = (0..pharmacies).map(|p| calendar(p, today)).collect();
    let world: Vec<Person> = (0..people)
        .map(|j| person(j, j % pharmacies, today))
        .collect::<anyhow::Result<_>>()?;

    // Floor: touch every prescription's regime for today and nothing else.
    let t = Instant::now();
    let floor: i64 = world
        .iter()
        .map(|p| p.prescription.regime_on(today).daily_dose.micrograms())
        .sum();
    let floor_time = t.elapsed();
    std::hint::black_box(floor);

    let t = Instant::now();
    let codes = codes_for_day(&world, &calendars, today);
    let codes_time = t.elapsed();
    let t = Instant::now();
    let (missed, safety) = missed_pass(&world, &calendars, today);
    let missed_time = t.elapsed();
    eprintln!("   in memory: codes {codes:?}; {missed} missed today, {safety} reach clause 3");
    table.push(Row {
        benchmark: format!("3. daily codes + due, in memory ({national})"),
        setup: "domain crate, 1 core".into(),
        ours: dur(codes_time),
        baseline: format!("bare pass over the same records: {}", dur(floor_time)),
        ratio: times(codes_time.as_secs_f64(), floor_time.as_secs_f64()),
        target: "< 1 s".into(),
        met: Some(codes_time < Duration::from_secs(1)),
    });
    table.push(Row {
        benchmark: format!("3. end-of-day missed pass, in memory ({national})"),
        setup: "domain crate, 1 core".into(),
        ours: format!(
            "{} ({missed} missed, {safety} → clause 3)",
            dur(missed_time)
        ),
        baseline: format!("bare pass: {}", dur(floor_time)),
        ratio: times(missed_time.as_secs_f64(), floor_time.as_secs_f64()),
        target: "< 1 s".into(),
        met: Some(missed_time < Duration::from_secs(1)),
    });

    for backend in [Backend::Sqlite, Backend::Postgres] {
        db_backed(scale, table, backend, pharmacies, people, today).await?;
    }
    Ok(())
}

fn calendar(p: usize, today: NaiveDate) -> PharmacyCalendar {
    let closed: &[Weekday] = if seed::closed_on_sunday(p) {
        &[Weekday::Sun]
    } else {
        &[]
    };
    PharmacyCalendar {
        closures: seed::closure(p, today).into_iter().collect(),
        ..PharmacyCalendar::closed_on(closed)
    }
}

fn prescription(today: NaiveDate, collections: WeeklyCollections, dose: DoseMg) -> Prescription {
    let (start, end) = seed::prescription_dates(today);
    Prescription::from_parts(
        Medicine::MethadoneOralSolution1mgMl,
        start,
        end,
        Directions::default(),
        vec![Regime {
            effective_from: start,
            daily_dose: dose,
            collections,
        }],
    )
}

fn person(j: usize, p: usize, today: NaiveDate) -> anyhow::Result<Person> {
    let collections = WeeklyCollections::parse(seed::pattern(p, j), &[], "collections")
        .map_err(|e| anyhow::anyhow!("bad pattern: {e:?}"))?;
    let dose = DoseMg::from_micrograms(seed::dose_ug(j)).ok_or(anyhow::anyhow!("bad dose"))?;
    let holds = match seed::hold(j) {
        Some("safety") => vec![HoldKind::Safety],
        Some(_) => vec![HoldKind::Attend],
        None => vec![],
    };
    // 90 % collect today if due; of those who don't, some missed yesterday or the two days
    // before too (j % 100 == 9: two days, 19 and 29: yesterday), so clause 3 fires for 1 %.
    let supplies = if j % 10 != 9 {
        vec![SupplyRecord {
            collect_on: today,
            supervised_taken: true,
            take_home_dates: vec![],
            withheld: false,
        }]
    } else {
        vec![]
    };
    let back = |d: i64| today - chrono::Duration::days(d);
    let missed_before = match j % 100 {
        9 => BTreeSet::from([back(1), back(2)]),
        19 | 29 => BTreeSet::from([back(1)]),
        _ => BTreeSet::new(),
    };
    Ok(Person {
        pharmacy: p,
        prescription: prescription(today, collections, dose),
        holds,
        supplies,
        missed_before,
    })
}

/// Every person's code for `today`, counted by letter.
fn codes_for_day(world: &[Person], calendars: &[PharmacyCalendar], today: NaiveDate) -> [usize; 6] {
    let mut counts = [0usize; 6];
    for p in world {
        // The dose ledger's `assess`, as the server and the counter call it (a month of days
        // accounted per person); records begin today, so earlier days are not counted here.
        let calendar = &calendars[p.pharmacy];
        let prescriptions = [sotto_domain::PrescribedSchedule {
            schedule: p.prescription.schedule(calendar),
            directions: p.prescription.directions(),
        }];
        let input = sotto_domain::LedgerInput {
            prescriptions: &prescriptions,
            supplies: &p.supplies,
            holds: &[],
            last_review: None,
            calendar,
            settled_through: today.pred_opt(),
            records_from: Some(today),
            carried: None,
        };
        let code = sotto_domain::assess(&input, &p.holds, today, today).code;
        counts[code_index(code)] += 1;
    }
    counts
}

fn code_index(code: StatusCode) -> usize {
    (code.letter() as u8 - b'A') as usize
}

/// The end-of-day pass: who had no dose in hand today, and who thereby reaches clause 3.
fn missed_pass(
    world: &[Person],
    calendars: &[PharmacyCalendar],
    today: NaiveDate,
) -> (usize, usize) {
    let (mut missed, mut safety) = (0, 0);
    for p in world {
        let calendar = &calendars[p.pharmacy];
        if !calendar.is_open(today) {
            continue;
        }
        let schedule = p.prescription.schedule(calendar);
        let Some(day) = schedule.dose_for(today) else {
            continue;
        };
        // Take-home doses handed over earlier count as in hand (as the client's close does).
        let earlier_take_home = day.collect_on < today && !day.supervised;
        if earlier_take_home || dose_in_hand(&p.supplies, today) {
            continue;
        }
        missed += 1;
        let mut dates = p.missed_before.clone();
        dates.insert(today);
        let run = consecutive_missed_run(&dates, today, None);
        if run >= u32::from(p.prescription.directions().consult_after_missed_days) {
            safety += 1;
        }
    }
    (missed, safety)
}

async fn db_backed(
    scale: Scale,
    table: &mut Table,
    backend: Backend,
    pharmacies: usize,
    people: usize,
    today: NaiveDate,
) -> anyhow::Result<()> {
    let name = backend_name(backend);
    let rig = Rig::start(backend, BrokerKind::Embedded).await;
    let store = rig.store().await?;
    let t = Instant::now();
    let seeded = seed(
        store.pool(),
        "dy",
        pharmacies,
        people,
        &rig.clinician.id,
        &rig.keyworker.id,
        today,
    )
    .await?;
    eprintln!("   {name}: seeded {people} people in {}", dur(t.elapsed()));
    // The floor for any DB-backed pass: read the regimes once.
    let t = Instant::now();
    let rows = sqlx::query("SELECT prescription_id, daily_dose_ug, collections FROM regimes")
        .fetch_all(store.pool())
        .await?;
    let scan = t.elapsed();
    std::hint::black_box(rows.len());

    // The server's own per-person path, on a sample spread over everyone.
    let sample = scale.pick(300, 2000).min(people);
    let concurrency = 4;
    let picks: Vec<String> = (0..sample)
        .map(|k| seeded.people[k * people / sample].id.clone())
        .collect();
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for part in picks.chunks(sample.div_ceil(concurrency)) {
        let part = part.to_vec();
        let store = store.clone();
        tasks.spawn(async move {
            for id in part {
                let su = sotto_server::core::db::service_users::get(store.pool(), &id)
                    .await?
                    .ok_or(anyhow::anyhow!("seeded person missing"))?;
                sotto_server::core::status::for_service_user(&store, &su, Some(today), false)
                    .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let sampled = t.elapsed();
    let extrapolated = sampled.mul_f64(people as f64 / sample as f64);
    table.push(Row {
        benchmark: format!(
            "3. daily codes via the server's per-person status path ({people} people)"
        ),
        setup: format!("{name}, {concurrency} concurrent"),
        ours: format!(
            "{} **extrapolated** from {sample} people in {}",
            dur(extrapolated),
            dur(sampled)
        ),
        baseline: format!("full scan of regimes: {}", dur(scan)),
        ratio: times(extrapolated.as_secs_f64(), scan.as_secs_f64()),
        target: if backend == Backend::Postgres {
            "< 1 s"
        } else {
            "–"
        }
        .into(),
        met: (backend == Backend::Postgres).then_some(extrapolated < Duration::from_secs(1)),
    });

    let t = Instant::now();
    let (n, codes) = set_based(&store, today).await?;
    let set_time = t.elapsed();
    eprintln!("   {name}: set-based pass over {n} prescriptions: {codes:?}");
    table.push(Row {
        benchmark: format!("3. daily codes, set-based: 5 bulk reads + domain rules ({n} people)"),
        setup: name.into(),
        ours: dur(set_time),
        baseline: format!("full scan of regimes: {}", dur(scan)),
        ratio: times(set_time.as_secs_f64(), scan.as_secs_f64()),
        target: if backend == Backend::Postgres {
            "< 1 s"
        } else {
            "–"
        }
        .into(),
        met: (backend == Backend::Postgres).then_some(set_time < Duration::from_secs(1)),
    });
    store.close().await;
    Ok(())
}

/// Reads what today needs in five queries and applies the domain rules in memory.
async fn set_based(
    store: &sotto_server::core::db::Store,
    today: NaiveDate,
) -> anyhow::Result<(usize, [usize; 6])> {
    let started = Instant::now();
    let day = today.format("%Y-%m-%d").to_string();
    let pool = store.pool();
    let mut calendars: HashMap<String, PharmacyCalendar> = HashMap::new();
    for r in sqlx::query("SELECT id, closed_weekdays FROM pharmacies")
        .fetch_all(pool)
        .await?
    {
        let days: String = r.try_get("closed_weekdays")?;
        let closed_weekdays = days
            .split(',')
            .filter(|d| !d.is_empty())
            .map(|d| d.parse::<Weekday>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| anyhow::anyhow!("bad weekday"))?;
        calendars.insert(
            r.try_get("id")?,
            PharmacyCalendar::closed_on(&closed_weekdays),
        );
    }
    for r in sqlx::query("SELECT pharmacy_id, date FROM closures")
        .fetch_all(pool)
        .await?
    {
        let id: String = r.try_get("pharmacy_id")?;
        let date: String = r.try_get("date")?;
        if let Some(c) = calendars.get_mut(&id) {
            c.closures.insert(date.parse()?);
        }
    }
    let mut holds: HashMap<String, Vec<HoldKind>> = HashMap::new();
    for r in sqlx::query("SELECT service_user_id, kind FROM holds WHERE lifted_at IS NULL")
        .fetch_all(pool)
        .await?
    {
        let kind: String = r.try_get("kind")?;
        let kind = if kind == "safety" {
            HoldKind::Safety
        } else {
            HoldKind::Attend
        };
        holds
            .entry(r.try_get("service_user_id")?)
            .or_default()
            .push(kind);
    }
    let rows = sqlx::query(
        "SELECT s.id AS su, s.pharmacy_id, p.start_date, p.end_date, r.effective_from, \
         r.daily_dose_ug, r.collections FROM prescriptions p \
         JOIN service_users s ON s.id = p.service_user_id \
         JOIN regimes r ON r.prescription_id = p.id \
         WHERE p.start_date <= $1 AND p.end_date >= $1",
    )
    .bind(&day)
    .fetch_all(pool)
    .await?;
    // Supplies of the last fortnight (what clause 2 and code B look at).
    let mut supplies: HashMap<String, Vec<SupplyRecord>> = HashMap::new();
    let since = (today - chrono::Duration::days(14))
        .format("%Y-%m-%d")
        .to_string();
    for r in sqlx::query(
        "SELECT service_user_id, collect_on, kind, supervised_taken, take_home_dates \
         FROM dispenses WHERE collect_on >= $1",
    )
    .bind(&since)
    .fetch_all(pool)
    .await?
    {
        let collect_on: String = r.try_get("collect_on")?;
        let kind: String = r.try_get("kind")?;
        let dates: String = r.try_get("take_home_dates")?;
        supplies
            .entry(r.try_get("service_user_id")?)
            .or_default()
            .push(SupplyRecord {
                collect_on: collect_on.parse()?,
                supervised_taken: r.try_get::<i64, _>("supervised_taken")? != 0,
                take_home_dates: serde_json::from_str(&dates)?,
                withheld: kind != "supplied",
            });
    }
    let read = started.elapsed();
    let no_closures = PharmacyCalendar::default();
    let mut counts = [0usize; 6];
    for r in &rows {
        let su: String = r.try_get("su")?;
        let pharmacy: String = r.try_get("pharmacy_id")?;
        let start: String = r.try_get("start_date")?;
        let end: String = r.try_get("end_date")?;
        let from: String = r.try_get("effective_from")?;
        let collections: String = r.try_get("collections")?;
        let collections =
            WeeklyCollections::parse(serde_json::from_str(&collections)?, &[], "collections")
                .map_err(|e| anyhow::anyhow!("bad pattern: {e:?}"))?;
        let dose = DoseMg::from_micrograms(r.try_get("daily_dose_ug")?)
            .ok_or(anyhow::anyhow!("bad dose"))?;
        let prescription = Prescription::from_parts(
            Medicine::MethadoneOralSolution1mgMl,
            start.parse()?,
            end.parse()?,
            Directions::default(),
            vec![Regime {
                effective_from: from.parse()?,
                daily_dose: dose,
                collections,
            }],
        );
        let calendar = calendars.get(&pharmacy).unwrap_or(&no_closures);
        let schedule = prescription.schedule(calendar);
        let records = supplies.get(&su).map(Vec::as_slice).unwrap_or(&[]);
        let plan = due_given_supplies(&schedule, &prescription.directions(), records, today);
        let supplied_today = records.iter().any(|s| s.collect_on == today && !s.withheld);
        let kinds = holds.get(&su).map(Vec::as_slice).unwrap_or(&[]);
        counts[code_index(status_code(&plan, kinds, supplied_today))] += 1;
    }
    eprintln!(
        "   set-based: reads {} (the 150k-row join fetched via sqlx::Any), rules {}",
        dur(read),
        dur(started.elapsed() - read)
    );
    Ok((rows.len(), counts))
}
