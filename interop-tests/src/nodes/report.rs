//! One row of figures per cluster size: the per-node costs summed up
//! over the nodes (mean and worst), the failovers, BGP; printed as a
//! Markdown table and kept as a TSV the plot is drawn from.

use std::fmt::Write as _;
use std::time::Duration;

use super::counters::Rates;
use super::failover::Failover;
use crate::error::{LabError, Result};
use crate::l2::report::percentile;

/// The figures of one cluster size.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub nodes: usize,
    /// Every speaker saw every other before the windows.
    pub settled: bool,
    /// Membership datagrams per second and node, out and in: mean, max.
    pub out_mean: f64,
    pub out_max: f64,
    pub in_mean: f64,
    pub in_max: f64,
    /// Bytes per second and node on the LAN interface (frames).
    pub bytes_out_mean: f64,
    pub bytes_in_mean: f64,
    /// docs/l2-mode.md's model, datagrams per second and node.
    pub model: f64,
    /// CPU per node, percent of one core: mean, max.
    pub cpu_mean: f64,
    pub cpu_max: f64,
    pub rss_mean_kib: f64,
    pub rss_max_kib: f64,
    /// Datagrams the receive buffers dropped, all nodes.
    pub dropped: u64,
    pub failovers: usize,
    /// Failovers in which another node answered.
    pub failovers_ok: usize,
    /// Failovers after which everyone saw everyone again (the last one
    /// measured did not when this is below `failovers`).
    pub rejoined: usize,
    pub failover_p50_ms: Option<f64>,
    pub failover_max_ms: Option<f64>,
    pub double_answers: usize,
    /// Writing the BGP configuration → BIRD routes every Service over
    /// every node.
    pub ecmp_ms: Option<f64>,
    /// With BGP: CPU per node (mean) and BIRD's, percent of one core.
    pub bgp_cpu_mean: Option<f64>,
    pub bird_cpu: Option<f64>,
    pub bird_rss_kib: Option<f64>,
    /// The 1-minute load average when the Layer-2 window started.
    pub load: f64,
}

/// Mean and max of `values` (0 for none).
pub fn mean_max(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (mut sum, mut max, mut n) = (0.0, 0.0f64, 0usize);
    for v in values {
        sum += v;
        max = max.max(v);
        n += 1;
    }
    if n == 0 {
        (0.0, 0.0)
    } else {
        (sum / n as f64, max)
    }
}

/// What one cluster size yielded, before summing up.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub nodes: usize,
    pub settled: bool,
    pub l2: Vec<Rates>,
    pub rss_kib: Vec<u64>,
    pub failovers: Vec<Failover>,
    pub ecmp: Option<Duration>,
    pub bgp: Vec<Rates>,
    pub bird: Option<(Rates, u64)>,
    pub load: String,
    pub model: f64,
}

impl Row {
    pub fn of(m: &Measured) -> Row {
        let (out_mean, out_max) = mean_max(m.l2.iter().map(|r| r.datagrams_out));
        let (in_mean, in_max) = mean_max(m.l2.iter().map(|r| r.datagrams_in));
        let (bytes_out_mean, _) = mean_max(m.l2.iter().map(|r| r.bytes_out));
        let (bytes_in_mean, _) = mean_max(m.l2.iter().map(|r| r.bytes_in));
        let (cpu_mean, cpu_max) = mean_max(m.l2.iter().map(|r| r.cpu_percent));
        let (rss_mean_kib, rss_max_kib) = mean_max(m.rss_kib.iter().map(|k| *k as f64));
        let outages: Vec<Option<Duration>> = m.failovers.iter().map(|f| f.outage).collect();
        let ms = |q: f64| {
            percentile(&outages, q)
                .flatten()
                .map(|d| d.as_secs_f64() * 1e3)
        };
        Row {
            nodes: m.nodes,
            settled: m.settled,
            out_mean,
            out_max,
            in_mean,
            in_max,
            bytes_out_mean,
            bytes_in_mean,
            model: m.model,
            cpu_mean,
            cpu_max,
            rss_mean_kib,
            rss_max_kib,
            dropped: m.l2.iter().map(|r| r.dropped).sum(),
            failovers: m.failovers.len(),
            failovers_ok: outages.iter().flatten().count(),
            rejoined: m.failovers.iter().filter(|f| f.rejoined).count(),
            failover_p50_ms: ms(0.5),
            failover_max_ms: ms(1.0),
            double_answers: m.failovers.iter().map(|f| f.double_answers).sum(),
            ecmp_ms: m.ecmp.map(|d| d.as_secs_f64() * 1e3),
            bgp_cpu_mean: (!m.bgp.is_empty())
                .then(|| mean_max(m.bgp.iter().map(|r| r.cpu_percent)).0),
            bird_cpu: m.bird.map(|(r, _)| r.cpu_percent),
            bird_rss_kib: m.bird.map(|(_, rss)| rss as f64),
            load: m
                .load
                .split_whitespace()
                .next()
                .and_then(|l| l.parse().ok())
                .unwrap_or(f64::NAN),
        }
    }
}

/// The Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| nodes | settled | datagrams/s out per node (mean / max) | in (mean / max) | model | bytes/s out / in (mean) | CPU per node (mean / max) | RSS (mean / max) | dropped | failover p50 / max (ok/runs, rejoined) | double answers | BGP: ECMP over all | CPU per node with BGP | BIRD CPU / RSS | load |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let ms = |v: Option<f64>| v.map_or("never".into(), |v| format!("{v:.0} ms"));
    let pct = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.1} %"));
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} | {:.1} / {:.1} kB/s | {:.1} / {:.1} % | {:.1} / {:.1} MiB | {} | {} / {} ({}/{}, {}) | {} | {} | {} | {} / {} | {:.1} |",
            r.nodes,
            if r.settled { "yes" } else { "**no**" },
            r.out_mean,
            r.out_max,
            r.in_mean,
            r.in_max,
            r.model,
            r.bytes_out_mean / 1e3,
            r.bytes_in_mean / 1e3,
            r.cpu_mean,
            r.cpu_max,
            r.rss_mean_kib / 1024.0,
            r.rss_max_kib / 1024.0,
            r.dropped,
            ms(r.failover_p50_ms),
            ms(r.failover_max_ms),
            r.failovers_ok,
            r.failovers,
            r.rejoined,
            r.double_answers,
            r.ecmp_ms
                .map_or("—".into(), |v| format!("{:.2} s", v / 1e3)),
            pct(r.bgp_cpu_mean),
            pct(r.bird_cpu),
            r.bird_rss_kib
                .map_or("—".into(), |v| format!("{:.1} MiB", v / 1024.0)),
            r.load,
        );
    }
    out
}

const COLUMNS: [&str; 25] = [
    "nodes",
    "settled",
    "out_mean",
    "out_max",
    "in_mean",
    "in_max",
    "bytes_out_mean",
    "bytes_in_mean",
    "model",
    "cpu_mean",
    "cpu_max",
    "rss_mean_kib",
    "rss_max_kib",
    "dropped",
    "failovers",
    "failovers_ok",
    "rejoined",
    "failover_p50_ms",
    "failover_max_ms",
    "double_answers",
    "ecmp_ms",
    "bgp_cpu_mean",
    "bird_cpu",
    "bird_rss_kib",
    "load",
];

/// The rows as tab-separated values, a header first; `-` for a figure
/// not taken.
pub fn to_tsv(rows: &[Row]) -> String {
    let opt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3}"));
    let mut out = COLUMNS.join("\t") + "\n";
    for r in rows {
        let fields = [
            r.nodes.to_string(),
            u8::from(r.settled).to_string(),
            format!("{:.3}", r.out_mean),
            format!("{:.3}", r.out_max),
            format!("{:.3}", r.in_mean),
            format!("{:.3}", r.in_max),
            format!("{:.1}", r.bytes_out_mean),
            format!("{:.1}", r.bytes_in_mean),
            format!("{:.3}", r.model),
            format!("{:.3}", r.cpu_mean),
            format!("{:.3}", r.cpu_max),
            format!("{:.0}", r.rss_mean_kib),
            format!("{:.0}", r.rss_max_kib),
            r.dropped.to_string(),
            r.failovers.to_string(),
            r.failovers_ok.to_string(),
            r.rejoined.to_string(),
            opt(r.failover_p50_ms),
            opt(r.failover_max_ms),
            r.double_answers.to_string(),
            opt(r.ecmp_ms),
            opt(r.bgp_cpu_mean),
            opt(r.bird_cpu),
            opt(r.bird_rss_kib),
            format!("{:.2}", r.load),
        ];
        out += &fields.join("\t");
        out.push('\n');
    }
    out
}

/// Reads what [`to_tsv`] wrote.
pub fn from_tsv(text: &str) -> Result<Vec<Row>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().unwrap_or_default();
    if header.split('\t').ne(COLUMNS) {
        return Err(LabError::parse("nodes TSV", "unexpected header", header));
    }
    lines
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != COLUMNS.len() {
                return Err(LabError::parse("nodes TSV", "wrong number of fields", line));
            }
            let num = |i: usize| -> Result<f64> {
                f[i].parse()
                    .map_err(|e| LabError::parse(format!("nodes TSV {}", COLUMNS[i]), e, line))
            };
            let opt = |i: usize| -> Result<Option<f64>> {
                if f[i] == "-" {
                    Ok(None)
                } else {
                    num(i).map(Some)
                }
            };
            let int = |i: usize| -> Result<usize> {
                f[i].parse()
                    .map_err(|e| LabError::parse(format!("nodes TSV {}", COLUMNS[i]), e, line))
            };
            Ok(Row {
                nodes: int(0)?,
                settled: int(1)? == 1,
                out_mean: num(2)?,
                out_max: num(3)?,
                in_mean: num(4)?,
                in_max: num(5)?,
                bytes_out_mean: num(6)?,
                bytes_in_mean: num(7)?,
                model: num(8)?,
                cpu_mean: num(9)?,
                cpu_max: num(10)?,
                rss_mean_kib: num(11)?,
                rss_max_kib: num(12)?,
                dropped: int(13)? as u64,
                failovers: int(14)?,
                failovers_ok: int(15)?,
                rejoined: int(16)?,
                failover_p50_ms: opt(17)?,
                failover_max_ms: opt(18)?,
                double_answers: int(19)?,
                ecmp_ms: opt(20)?,
                bgp_cpu_mean: opt(21)?,
                bird_cpu: opt(22)?,
                bird_rss_kib: opt(23)?,
                load: num(24)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::counters::Rates;

    fn rates(out: f64, cpu: f64, dropped: u64) -> Rates {
        Rates {
            datagrams_in: out - 1.0,
            datagrams_out: out,
            bytes_in: out * 100.0,
            bytes_out: out * 110.0,
            cpu_percent: cpu,
            dropped,
        }
    }

    fn measured() -> Measured {
        let ms = |v| Some(Duration::from_millis(v));
        Measured {
            nodes: 3,
            settled: true,
            l2: vec![rates(420.0, 1.0, 0), rates(430.0, 3.0, 2)],
            rss_kib: vec![10_240, 12_288],
            failovers: [ms(60), None, ms(62), ms(61)]
                .into_iter()
                .enumerate()
                .map(|(owner, outage)| Failover {
                    owner,
                    outage,
                    double_answers: usize::from(owner == 2),
                    rejoined: owner != 3,
                })
                .collect(),
            ecmp: Some(Duration::from_millis(1500)),
            bgp: vec![rates(0.0, 2.0, 0), rates(0.0, 4.0, 0)],
            bird: Some((rates(0.0, 0.5, 0), 4096)),
            load: "3.21 2.00 1.50".into(),
            model: 419.2,
        }
    }

    #[test]
    fn a_row_sums_up_nodes_and_failovers() {
        let r = Row::of(&measured());
        assert_eq!((r.out_mean, r.out_max), (425.0, 430.0));
        assert_eq!((r.in_mean, r.in_max), (424.0, 429.0));
        assert_eq!((r.cpu_mean, r.cpu_max), (2.0, 3.0));
        assert_eq!((r.rss_mean_kib, r.rss_max_kib), (11_264.0, 12_288.0));
        assert_eq!(r.dropped, 2);
        // A failover nobody took over ranks above every time.
        assert_eq!((r.failovers, r.failovers_ok), (4, 3));
        // The last one's cluster did not come together again.
        assert_eq!(r.rejoined, 3);
        assert_eq!(r.failover_p50_ms, Some(61.0));
        assert_eq!(r.failover_max_ms, None);
        assert_eq!(r.double_answers, 1);
        assert_eq!(r.ecmp_ms, Some(1500.0));
        assert_eq!((r.bgp_cpu_mean, r.bird_cpu), (Some(3.0), Some(0.5)));
        assert_eq!(r.load, 3.21);
        let no_bgp = Row::of(&Measured {
            bgp: Vec::new(),
            bird: None,
            ecmp: None,
            ..measured()
        });
        assert_eq!((no_bgp.bgp_cpu_mean, no_bgp.bird_cpu), (None, None));
    }

    #[test]
    fn the_tsv_reads_back_what_it_wrote() {
        let mut second = Row::of(&measured());
        second.nodes = 50;
        second.settled = false;
        second.ecmp_ms = None;
        let rows = vec![Row::of(&measured()), second];
        let back = from_tsv(&to_tsv(&rows)).expect("parses");
        assert_eq!(back, rows);
        assert!(from_tsv("nodes\tout_mean\n3\t1\n").is_err());
        let short = to_tsv(&rows).replace("\t-\t", "\t");
        assert!(from_tsv(&short).is_err());
    }

    #[test]
    fn the_table_has_a_row_per_size() {
        let text = table(&[Row::of(&measured())]);
        assert_eq!(text.lines().count(), 3);
        assert!(text.contains("| 3 | yes | 425 / 430 |"), "{text}");
        assert!(text.contains("61 ms / never (3/4, 3)"), "{text}");
    }
}
