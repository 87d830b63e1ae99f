//! `sotto-bench`: Sotto's benchmarks at national scale (issue 5). Each figure is measured beside a
//! bare baseline on the same broker and database in the same run, and the ratio is printed as
//! one markdown table on stdout; progress goes to stderr.
//!
//! ```sh
//! cargo run --release -p sotto-bench -- all [--quick]
//! cargo run --release -p sotto-bench -- latency|ingest|daily|reconnect|footprint [--quick]
//! ```
//!
//! It starts everything itself: the server in-process (as the end-to-end tests do), a private
//! Mosquitto, PostgreSQL databases created and dropped per setup (`SOTTO_TEST_POSTGRES_URL`,
//! default `postgres://postgres@127.0.0.1:5432/test`). Nothing here asserts anything.
#![forbid(unsafe_code)]

mod baseline;
mod daily;
mod footprint;
mod ingest;
mod latency;
mod reconnect;
mod report;
mod rig;
mod seed;

use std::process::ExitCode;

use report::Table;

/// How big each benchmark is: `--quick` for a smoke run, the default for the figures we publish.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub quick: bool,
}

impl Scale {
    /// Picks the quick or the full value.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        if self.quick { quick } else { full }
    }
}

const USAGE: &str = "usage: sotto-bench all|latency|ingest|daily|reconnect|footprint [--quick]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let which: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let which = match which.as_slice() {
        [] | ["all"] => vec!["latency", "ingest", "daily", "reconnect", "footprint"],
        names
            if names
                .iter()
                .all(|n| ["latency", "ingest", "daily", "reconnect", "footprint"].contains(n)) =>
        {
            names.to_vec()
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    // 2 cores in the reference machine: the runtime gets them all, as the server would.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let scale = Scale { quick };
    let table = runtime.block_on(run(&which, scale));
    match table {
        Ok(table) => {
            println!("{}", table.markdown());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sotto-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(which: &[&str], scale: Scale) -> anyhow::Result<Table> {
    let mut table = Table::default();
    let started = std::time::Instant::now();
    for name in which {
        eprintln!("== {name} ==");
        let at = std::time::Instant::now();
        match *name {
            "latency" => latency::run(scale, &mut table).await?,
            "ingest" => ingest::run(scale, &mut table).await?,
            "daily" => daily::run(scale, &mut table).await?,
            "reconnect" => reconnect::run(scale, &mut table).await?,
            "footprint" => footprint::run(scale, &mut table).await?,
            _ => unreachable!("checked above"),
        }
        eprintln!("   ({name} took {:.1} s)", at.elapsed().as_secs_f64());
    }
    eprintln!("all done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(table)
}
