//! The benchmark's table: per subject and failure, p50/p99/max outage,
//! p50/p99 steady, and how often two nodes answered.

use std::fmt::Write as _;
use std::time::Duration;

use crate::l2::harness::Run;
use crate::l2::subject::Failure;

/// The runs of one subject under one failure.
#[derive(Debug, Clone)]
pub struct Cell {
    pub subject: String,
    pub failure: Failure,
    pub runs: Vec<Run>,
}

/// The `p`-quantile (nearest rank) of `values`; `None` (the run never
/// got there) ranks above every time, so a failed run is never hidden.
pub fn percentile(values: &[Option<Duration>], p: f64) -> Option<Option<Duration>> {
    let mut sorted = values.to_vec();
    sorted.sort_by_key(|v| v.unwrap_or(Duration::MAX));
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.max(1) - 1).copied()
}

/// Milliseconds, with a decimal where it is not noise: the floor is a few
/// ms, keepalived hundreds. "never": the run ended without it.
fn ms(d: Option<Option<Duration>>) -> String {
    match d {
        None => "—".into(),
        Some(None) => "never".into(),
        Some(Some(d)) => {
            let ms = d.as_secs_f64() * 1e3;
            if ms < 100.0 {
                format!("{ms:.1} ms")
            } else {
                format!("{ms:.0} ms")
            }
        }
    }
}

impl Cell {
    /// The outage of every run (`None`: no other node ever answered).
    pub fn outages(&self) -> Vec<Option<Duration>> {
        self.runs.iter().map(|r| r.outcome.outage).collect()
    }

    /// The steady time of every run (`None`: no steady new owner in time).
    pub fn steadies(&self) -> Vec<Option<Duration>> {
        self.runs
            .iter()
            .map(|r| r.outcome.steady.filter(|_| r.completed))
            .collect()
    }

    pub fn completed(&self) -> usize {
        self.runs.iter().filter(|r| r.completed).count()
    }

    /// One markdown row.
    pub fn row(&self) -> String {
        let (outages, steadies) = (self.outages(), self.steadies());
        let sum = |f: fn(&Run) -> usize| self.runs.iter().map(f).sum::<usize>();
        format!(
            "| {} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} |",
            self.subject,
            self.failure.name(),
            self.completed(),
            self.runs.len(),
            ms(percentile(&outages, 0.5)),
            ms(percentile(&outages, 0.99)),
            ms(percentile(&outages, 1.0)),
            ms(percentile(&steadies, 0.5)),
            ms(percentile(&steadies, 0.99)),
            sum(|r| r.outcome.dual_answers),
            sum(|r| r.outcome.neighbour_flips),
        )
    }
}

/// The whole table, in markdown.
pub fn table(cells: &[Cell]) -> String {
    let mut out = String::from(
        "| subject | failure | runs ok | outage p50 | outage p99 | outage max | steady p50 | steady p99 | dual answers | neighbour flips |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for cell in cells {
        let _ = writeln!(out, "{}", cell.row());
    }
    out
}

/// The machine the figures come from: CPU, cores, memory, kernel, load.
pub fn machine() -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_gib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let keepalived = std::process::Command::new("keepalived")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "keepalived not found".into());
    format!(
        "{model}, {cores} cores, {mem_gib:.0} GiB, Linux {}, {keepalived}, load average {}",
        read("/proc/sys/kernel/osrelease").trim(),
        loadavg()
    )
}

/// The 1, 5 and 15 minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l2::measure::Outcome;

    fn run(outage_ms: Option<u64>, completed: bool) -> Run {
        let d = outage_ms.map(Duration::from_millis);
        Run {
            failed: 0,
            outcome: Outcome {
                outage: d,
                steady: d,
                steady_for: Duration::ZERO,
                owner: Some(1),
                dual_answers: 1,
                neighbour_flips: 0,
                lost: 0,
            },
            completed,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank_with_failures_on_top() {
        let mut v: Vec<Option<Duration>> =
            (1..=20).map(|ms| Some(Duration::from_millis(ms))).collect();
        let ms = |ms| Some(Some(Duration::from_millis(ms)));
        assert_eq!(percentile(&v, 0.5), ms(10));
        assert_eq!(percentile(&v, 0.99), ms(20));
        assert_eq!(percentile(&v[..1], 0.5), ms(1));
        assert_eq!(percentile(&[], 0.5), None);
        v[3] = None;
        assert_eq!(percentile(&v, 0.99), Some(None));
        assert_eq!(percentile(&v, 0.5), ms(11));
    }

    #[test]
    fn a_row_counts_completed_runs_and_dual_answers() {
        let cell = Cell {
            subject: "s".into(),
            failure: Failure::Stop,
            runs: vec![run(Some(10), true), run(Some(30), true), run(None, false)],
        };
        let row = cell.row();
        assert_eq!(
            row,
            "| s | SIGTERM | 2/3 | 30.0 ms | never | never | 30.0 ms | never | 3 | 0 |"
        );
        assert!(table(&[cell]).lines().count() == 3);
    }
}
