//! (5) Client footprint: the release `sotto-pharmacy` binary run as a real child process against
//! the server (SQLite, embedded broker) with 500 people at its pharmacy: resident memory after
//! sync (`VmRSS` from `/proc/<pid>/status`), cold start to the first answered status request
//! (restarted on its synced store), and the binary's size.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sotto_tests::counter::Enrolled;

use crate::Scale;
use crate::report::{Row, Table, dur, times};
use crate::rig::{Backend, BrokerKind, Rig, poll_until};
use crate::seed::seed;

const PEOPLE: usize = 500;

pub async fn run(scale: Scale, table: &mut Table) -> anyhow::Result<()> {
    let binary = client_binary()?;
    let rig = Rig::start(Backend::Sqlite, BrokerKind::Embedded).await;
    let store = rig.store().await?;
    let today = chrono::Utc::now().date_naive();
    let seeded = seed(
        store.pool(),
        "fp",
        1,
        PEOPLE,
        &rig.clinician.id,
        &rig.keyworker.id,
        today,
    )
    .await?;
    store.close().await;
    let pharmacy = &seeded.pharmacies[0];
    let reference = seeded.people[PEOPLE - 1].reference.clone();
    let data = std::env::temp_dir().join(format!("sotto-bench-fp-{}", std::process::id()));
    let http = reqwest::Client::new();

    // Baseline RSS: the same binary, idle on an empty store with no broker to talk to.
    let idle_dir = data.join("idle");
    let idle = spawn(&binary, pharmacy, 1, &idle_dir, free_port()?)?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let idle_rss = rss_kib(idle.id())?;
    stop(idle)?;

    let port = free_port()?;
    let child = spawn(
        &binary,
        pharmacy,
        rig.broker_port(),
        &data.join("main"),
        port,
    )?;
    let status_url = format!("http://127.0.0.1:{port}/api/status?reference={reference}");
    let synced = poll_until(Duration::from_secs(60), || async {
        matches!(http.get(&status_url).send().await, Ok(r) if r.status() == 200)
    })
    .await;
    anyhow::ensure!(
        synced,
        "the client did not sync {PEOPLE} people within 60 s"
    );
    // Let the post-sync work (closing checks, first heartbeat) settle before reading.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = rss_kib(child.id())?;
    let peak = hwm_kib(child.id())?;
    stop(child)?;

    // Cold start on the synced store: spawn → first 200 from /api/status.
    let runs = scale.pick(3, 7);
    let mut starts = Vec::new();
    for _ in 0..runs {
        let port = free_port()?;
        let url = format!("http://127.0.0.1:{port}/api/status?reference={reference}");
        let started = Instant::now();
        let child = spawn(
            &binary,
            pharmacy,
            rig.broker_port(),
            &data.join("main"),
            port,
        )?;
        let answered = poll_until(Duration::from_secs(10), || async {
            matches!(http.get(&url).send().await, Ok(r) if r.status() == 200)
        })
        .await;
        let took = started.elapsed();
        stop(child)?;
        anyhow::ensure!(answered, "the restarted client did not answer within 10 s");
        starts.push(took);
    }
    starts.sort();
    let start = starts[starts.len() / 2];
    // Baseline start: the same binary exiting at once on missing configuration (exec + runtime).
    let mut floors = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        Command::new(&binary)
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        floors.push(started.elapsed());
    }
    floors.sort();
    let floor = floors[floors.len() / 2];
    let _ = std::fs::remove_dir_all(&data);

    let mib = |kib: u64| kib as f64 / 1024.0;
    table.push(Row {
        benchmark: format!("5. client RSS after sync, {PEOPLE} people"),
        setup: "SQLite, embedded rmqtt".into(),
        ours: format!("{:.1} MiB (peak {:.1} MiB)", mib(rss), mib(peak)),
        baseline: format!("same binary idle, empty store: {:.1} MiB", mib(idle_rss)),
        ratio: times(rss as f64, idle_rss as f64),
        target: "< 20 MB".into(),
        met: Some(rss * 1024 < 20_000_000),
    });
    table.push(Row {
        benchmark: format!("5. client cold start → first status answer (median of {runs})"),
        setup: "synced store, 500 people".into(),
        ours: dur(start),
        baseline: format!("exec + exit on missing config: {}", dur(floor)),
        ratio: times(start.as_secs_f64(), floor.as_secs_f64()),
        target: "< 100 ms".into(),
        met: Some(start < Duration::from_millis(100)),
    });
    let size = std::fs::metadata(&binary)?.len();
    table.push(Row {
        benchmark: "5. client binary size (release)".into(),
        setup: "x86_64 Linux".into(),
        ours: format!("{:.1} MiB", size as f64 / 1048576.0),
        baseline: "–".into(),
        ratio: "–".into(),
        target: "–".into(),
        met: None,
    });
    Ok(())
}

/// The release `sotto-pharmacy` next to this binary, built first if it is not there yet (a
/// binary of another package is not built by `cargo run -p sotto-bench`).
fn client_binary() -> anyhow::Result<PathBuf> {
    let here = std::env::current_exe()?;
    let dir = here.parent().ok_or(anyhow::anyhow!("no exe directory"))?;
    let binary = dir.join("sotto-pharmacy");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("   building the release sotto-pharmacy binary (if needed)");
    let built = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "sotto-pharmacy",
            "--bin",
            "sotto-pharmacy",
        ])
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(built.success(), "building sotto-pharmacy failed");
    anyhow::ensure!(binary.exists(), "{} not found", binary.display());
    Ok(binary)
}

fn spawn(
    binary: &Path,
    pharmacy: &Enrolled,
    broker_port: u16,
    data: &Path,
    http_port: u16,
) -> anyhow::Result<Child> {
    std::fs::create_dir_all(data)?;
    Ok(Command::new(binary)
        .env_clear()
        .env("SOTTO_PHARMACY_ID", &pharmacy.id)
        .env("SOTTO_MQTT_URL", format!("mqtt://127.0.0.1:{broker_port}"))
        .env("SOTTO_MQTT_USERNAME", &pharmacy.mqtt_username)
        .env("SOTTO_MQTT_PASSWORD", &pharmacy.mqtt_password)
        .env("SOTTO_SERVER_KEY", &pharmacy.server_key)
        .env("SOTTO_DATA_DIR", data)
        .env("SOTTO_HTTP_ADDR", format!("127.0.0.1:{http_port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?)
}

/// SIGTERM (the client drains and closes its store), then waits.
fn stop(mut child: Child) -> anyhow::Result<()> {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    child.wait()?;
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn proc_status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or(anyhow::anyhow!("no {field} in /proc/{pid}/status"))
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    proc_status_kib(pid, "VmRSS:")
}

fn hwm_kib(pid: u32) -> anyhow::Result<u64> {
    proc_status_kib(pid, "VmHWM:")
}
