//! A `ferrolb run` node's Prometheus metrics (`--metrics-addr`, on its
//! namespace's loopback), and the samples in them.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::Result;
use crate::lab::Host;
use crate::traffic::http_get_path;

/// Where the lab's speakers serve their metrics, in their own namespace
/// (the port of the chart's speakers).
pub const METRICS_ADDR: &str = "127.0.0.1:7472";
const METRICS_PORT: u16 = 7472;

/// The `ferrolb run` arguments that serve the metrics at
/// [`METRICS_ADDR`].
pub const METRICS_ARGS: [&str; 2] = ["--metrics-addr", METRICS_ADDR];

/// The metrics `host`'s speaker serves.
pub fn metrics(host: &Host) -> Result<String> {
    http_get_path(
        host,
        [127, 0, 0, 1].into(),
        METRICS_PORT,
        "/metrics",
        Duration::from_secs(5),
    )
}

/// The sum of the samples in `text` whose name and labels start with
/// `sample` (`name{label="value"}` or a name alone).
pub fn sum(text: &str, sample: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.starts_with(sample))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

/// The samples of `metric` in `text` by the value of their one label
/// `label` (`metric{label="value"} n`).
pub fn by_label(text: &str, metric: &str, label: &str) -> BTreeMap<String, f64> {
    let prefix = format!("{metric}{{{label}=\"");
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(prefix.as_str())?;
            let (value, rest) = rest.split_once("\"}")?;
            Some((value.to_string(), rest.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_samples_a_prefix_names() {
        let text = "# HELP x_total x\n# TYPE x counter\n\
                    x_total{kind=\"a\"} 2\nx_total{kind=\"b\"} 3\nxy_total 7\n";
        assert_eq!(sum(text, "x_total{"), 5.0);
        assert_eq!(sum(text, "x_total{kind=\"b\"}"), 3.0);
        assert_eq!(sum(text, "z"), 0.0);
        let by = by_label(text, "x_total", "kind");
        assert_eq!(by, BTreeMap::from([("a".into(), 2.0), ("b".into(), 3.0)]));
    }
}
