//! The one table every run prints: benchmark, setup, our figure, the baseline measured in the
//! same run, their ratio, the target and whether it was met.

use std::fmt::Write;
use std::time::Duration;

/// One line of the table.
pub struct Row {
    pub benchmark: String,
    pub setup: String,
    pub ours: String,
    pub baseline: String,
    pub ratio: String,
    pub target: String,
    /// `None` where the issue sets no target for this line (supporting figures).
    pub met: Option<bool>,
}

#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
}

impl Table {
    pub fn push(&mut self, row: Row) {
        eprintln!(
            "   {} [{}]: {} | baseline {} | ratio {} | target {} | {}",
            row.benchmark,
            row.setup,
            row.ours,
            row.baseline,
            row.ratio,
            row.target,
            met_text(row.met)
        );
        self.rows.push(row);
    }

    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| benchmark | setup (db, broker) | our figure | baseline (same run) | ratio | target | met? |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.benchmark,
                r.setup,
                r.ours,
                r.baseline,
                r.ratio,
                r.target,
                met_text(r.met)
            );
        }
        out
    }
}

fn met_text(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "–",
    }
}

/// `12.3 ms`, `850 µs`, `4.20 s`.
pub fn dur(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.001 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// `×3.4` (how many times the baseline).
pub fn times(ours: f64, baseline: f64) -> String {
    if baseline > 0.0 {
        format!("×{:.2}", ours / baseline)
    } else {
        "–".into()
    }
}

/// `1,234/s`.
pub fn rate(per_second: f64) -> String {
    let n = per_second.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}/s")
}

/// p50 / p99 / max of a histogram recorded in microseconds.
pub fn percentiles(h: &hdrhistogram::Histogram<u64>) -> (Duration, Duration, Duration) {
    let us = |v: u64| Duration::from_micros(v);
    (
        us(h.value_at_quantile(0.50)),
        us(h.value_at_quantile(0.99)),
        us(h.max()),
    )
}

/// A histogram for microsecond latencies up to a minute.
pub fn histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}
