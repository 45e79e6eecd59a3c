//! `ferrolb run`'s logs: JSON lines with `--log-format json`, and a level
//! that changes without a restart through `--log-level-file` — on SIGHUP at
//! once, and by itself within the 5 s poll (docs/adr/0010). The debug lines
//! are the BGP session's attempts to reach a router that does not answer
//! (its reconnect back-off starts at 1 s).

use std::path::Path;
use std::time::Duration;

use interop_tests::ferrolb::FerroLb;
use interop_tests::{Lab, Probe};
use nix::sys::signal::Signal;
use serde_json::Value;

/// Past the 5 s poll and a few reconnect attempts.
const WAIT: Duration = Duration::from_secs(30);

fn config(peer: &str) -> String {
    format!(
        r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: pool, namespace: metallb-system}}
spec: {{addresses: [198.51.100.10-198.51.100.19]}}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {{name: adv, namespace: metallb-system}}
spec: {{ipAddressPools: [pool]}}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {{name: silent, namespace: metallb-system}}
spec: {{myASN: 64512, peerASN: 64500, peerAddress: "{peer}", holdTime: 9s}}
"#
    )
}

/// Every line, each a JSON object (the test fails on one that is not).
fn lines(ferrolb: &FerroLb) -> Vec<Value> {
    ferrolb
        .log()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn level(line: &Value) -> &str {
    line["level"].as_str().unwrap_or_default()
}

fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[test]
fn json_lines_and_a_level_changed_at_run_time() -> interop_tests::Result<()> {
    let mut lab = Lab::new("logs")?;
    let n1 = lab.add_host("n1")?;
    // r1 exists but runs no BGP daemon: n1's connections are refused.
    let r1 = lab.add_host("r1")?;
    let dir = lab.dir().join("ferrolb-config");
    std::fs::create_dir_all(&dir).expect("config dir");
    write(&dir.join("config.yaml"), &config(&r1.ipv4.to_string()));
    let level_file = lab.dir().join("log-level");
    write(&level_file, "info\n");
    let ferrolb = FerroLb::start_args(
        &lab,
        &n1,
        &dir,
        &[
            "--bgp-listen",
            "off",
            "--log-format",
            "json",
            "--log-level-file",
            &level_file.display().to_string(),
        ],
    )?;
    let count = |f: &dyn Fn(&Value) -> bool| lines(&ferrolb).iter().filter(|l| f(l)).count();
    lab.wait_for("the session started", WAIT, || {
        Ok(
            match count(&|l| l["fields"]["message"] == "starting session") {
                0 => Probe::Pending(ferrolb.log()),
                _ => Probe::Done(()),
            },
        )
    })?;
    // Two reconnect attempts (1 s, 2 s) at info: not one debug line.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(count(&|l| level(l) == "DEBUG"), 0, "{}", ferrolb.log());
    // The peer's name is on its lines (its span).
    assert!(
        lines(&ferrolb).iter().any(
            |l| l["fields"]["message"] == "starting session" && l["fields"]["peer"] == "silent"
        ),
        "{}",
        ferrolb.log()
    );

    // SIGHUP: debug at once, the session's attempts show.
    write(&level_file, "debug\n");
    ferrolb.daemon().signal(Signal::SIGHUP)?;
    lab.wait_for("debug lines after SIGHUP", WAIT, || {
        Ok(match count(&|l| level(l) == "DEBUG") {
            0 => Probe::Pending(ferrolb.log()),
            _ => Probe::Done(()),
        })
    })?;

    // No signal: the poll finds the change by itself.
    write(&level_file, "warn\n");
    lab.wait_for("the level changed back without a signal", WAIT, || {
        Ok(
            match count(&|l| {
                l["fields"]["message"] == "log level changed" && l["fields"]["level"] == "warn"
            }) {
                0 => Probe::Pending(ferrolb.log()),
                _ => Probe::Done(()),
            },
        )
    })?;
    let quiet_from = lines(&ferrolb).len();
    std::thread::sleep(Duration::from_secs(3));
    let after: Vec<Value> = lines(&ferrolb).split_off(quiet_from);
    assert!(
        after
            .iter()
            .all(|l| level(l) != "DEBUG" && level(l) != "INFO"),
        "{after:?}"
    );

    // A level that is no level: refused, the current one kept, told once.
    write(&level_file, "loud=[\n");
    ferrolb.daemon().signal(Signal::SIGHUP)?;
    lab.wait_for("the bad level refused", WAIT, || {
        Ok(
            match count(&|l| {
                l["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("log level file unusable"))
            }) {
                0 => Probe::Pending(ferrolb.log()),
                n => Probe::Done(n),
            },
        )
    })?;
    Ok(())
}
