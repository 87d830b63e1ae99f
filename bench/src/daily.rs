//! (3) Daily work at national scale: 150,000 people over 11,000 pharmacies (`--quick`: a tenth).
//!
//! - In memory, with the domain crate alone: build every schedule, then what is due and the code
//!   for today (the dose ledger's `assess`, as server and counter call it); and the end-of-day
//!   missed-dose pass on the ledger, as the counter closes its day (`Ledger::compute` settled
//!   through today, its missed doses for today and clause 3).
//! - DB-backed, on SQLite and PostgreSQL after seeding the same data with bulk SQL: the server's
//!   own per-person status path (`sotto_server::core::status::for_service_user`) timed on a sample and
//!   extrapolated (labelled as such); and the server's own bulk pass
//!   (`sotto_server::core::daily::codes_for`: a handful of bulk reads, then the same `assess`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sotto_domain::{
    Directions, DoseMg, HoldKind, LOOKBACK_DAYS, Ledger, LedgerInput, Medicine, PharmacyCalendar,
    PrescribedSchedule, Prescription, Regime, StatusCode, SupplyRecord, Weekday, WeeklyCollections,
};
use sotto_server::core::daily::{Scope, map_codes};

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
    /// Collection days before today on which nothing was collected (the clause 3 history).
    missed_before: BTreeSet<NaiveDate>,
    /// Whether today's instalment was collected.
    collected_today: bool,
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
    let collected_today = j % 10 != 9;
    let supplies = if collected_today {
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
        collected_today,
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

/// The end-of-day pass on the dose ledger, as the counter closes its day
/// (`pharmacy-client/src/counter.rs`, `missed_on_close`): who had no dose in hand today (and on
/// the closed days right after it), and who thereby reaches clause 3. The records begin with
/// the prescription; every instalment handed over before today was collected whole, except on
/// the person's missed days.
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
        let supplies = handed_over(&schedule, today, |collect_on| {
            if collect_on == today {
                p.collected_today
            } else {
                !p.missed_before.contains(&collect_on)
            }
        });
        let prescriptions = [PrescribedSchedule {
            schedule,
            directions: p.prescription.directions(),
        }];
        let input = LedgerInput {
            prescriptions: &prescriptions,
            supplies: &supplies,
            holds: &[],
            last_review: None,
            calendar,
            settled_through: Some(today),
            records_from: Some(p.prescription.start_date()),
            carried: None,
        };
        let ledger = Ledger::compute(
            &input,
            today - chrono::Days::new(LOOKBACK_DAYS),
            today + chrono::Days::new(14),
        );
        let until = ledger.settled_until().unwrap_or(today);
        if !ledger.missed_doses(today, until).is_empty() {
            missed += 1;
            if ledger.review_needed(today) {
                safety += 1;
            }
        }
    }
    (missed, safety)
}

/// The supply records of the instalments collected up to `today` (`collected(collect_on)`):
/// the first dose taken at the counter if supervised, the rest to take home.
fn handed_over(
    schedule: &sotto_domain::Schedule,
    today: NaiveDate,
    collected: impl Fn(NaiveDate) -> bool,
) -> Vec<SupplyRecord> {
    let mut out: Vec<SupplyRecord> = Vec::new();
    for day in schedule.days() {
        if day.collect_on > today || day.pharmacy_closed || !collected(day.collect_on) {
            continue;
        }
        if out.last().is_none_or(|s| s.collect_on != day.collect_on) {
            out.push(SupplyRecord {
                collect_on: day.collect_on,
                supervised_taken: false,
                take_home_dates: Vec::new(),
                withheld: false,
            });
        }
        let record = out.last_mut().expect("pushed above");
        if day.supervised && day.date == day.collect_on {
            record.supervised_taken = true;
        } else {
            record.take_home_dates.push(day.date);
        }
    }
    out
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
    // Each person's letter, as the caseload shows it (the month of ledger behind it dropped).
    let (codes, timings) =
        map_codes(&store, Scope::Service, Some(today), |c| c.assessment.code).await?;
    let bulk_time = t.elapsed();
    eprintln!(
        "   {name}: bulk pass: reads {} (rows to domain types), rules {} (on every core)",
        dur(timings.read),
        dur(timings.rules)
    );
    let mut counts = [0usize; 6];
    for c in &codes {
        counts[code_index(*c)] += 1;
    }
    let n = codes.len();
    eprintln!("   {name}: the server's bulk pass over {n} people: {counts:?}");
    table.push(Row {
        benchmark: format!(
            "3. every person's code for a day, {n} people / {pharmacies} pharmacies, through the \
             server's own bulk pass (`core::daily::codes_for`)"
        ),
        setup: name.into(),
        ours: dur(bulk_time),
        baseline: format!("full scan of regimes: {}", dur(scan)),
        ratio: times(bulk_time.as_secs_f64(), scan.as_secs_f64()),
        target: if backend == Backend::Postgres {
            "< 1 s"
        } else {
            "–"
        }
        .into(),
        met: (backend == Backend::Postgres).then_some(bulk_time < Duration::from_secs(1)),
    });
    store.close().await;
    Ok(())
}
