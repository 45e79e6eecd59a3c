//! The Layer-2 options both `ferrolb-speaker` and `ferrolb run` take.

use std::time::Duration;

use clap::Args;

use super::l2::L2Options;
use crate::decide::InterfaceRules;
use ferrolb_l2::gratuitous::GratuitousConfig;
use ferrolb_l2::membership::{
    AnswerGate, DEFAULT_PORT, MembershipTiming, MembershipTimingError, ThreadPriority,
};

/// Layer-2 mode's command-line options.
#[derive(Debug, Clone, Args)]
pub struct L2Args {
    /// Resend a gratuitous ARP / unsolicited NA for every answered address
    /// this often (e.g. 30s), for clients and switches that forget; by
    /// default only the burst on takeover, as MetalLB.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub l2_refresh: Option<Duration>,
    /// Interfaces never used for ARP/NDP when an L2Advertisement names none,
    /// as regular expressions (repeat the flag); overrides the
    /// `metallb-excludel2` ConfigMap and the default list (MetalLB's:
    /// docker, cbr, veth, cali, flannel, kube-ipvs, lxc, ...).
    #[arg(long, value_name = "REGEX")]
    pub l2_exclude_interface: Vec<String>,
    /// Exclude no interface by name: every suitable link answers when an
    /// L2Advertisement names none (MetalLB without its exclusion list).
    #[arg(long, conflicts_with = "l2_exclude_interface")]
    pub l2_no_exclude_interfaces: bool,
    /// MetalLB's `metallb-excludel2` ConfigMap key (`excludel2.yaml`), as
    /// mounted; used when it exists and no --l2-exclude-interface is given.
    #[arg(long, value_name = "FILE", default_value = super::excludel2::MOUNT_PATH)]
    pub l2_exclude_config: std::path::PathBuf,
    /// UDP port of the speakers' membership (Layer-2 mode), the same on
    /// every node (MetalLB's memberlist port by default).
    #[arg(long, env = "METALLB_ML_BIND_PORT", default_value_t = DEFAULT_PORT)]
    pub ml_bind_port: u16,
    /// Scheduling priority of the membership's thread: `auto` takes
    /// real-time (SCHED_FIFO) with CAP_SYS_NICE, else a raised nice value,
    /// so that a node at 100 % CPU still heart-beats on time; `normal`
    /// leaves it as every other thread.
    #[arg(long, value_enum, default_value_t = ThreadPriority::Auto)]
    pub ml_thread_priority: ThreadPriority,
    /// How often the membership heart-beats (Layer-2 mode); every other
    /// timer of its fast layer scales with it. The default (5ms) fails a
    /// crashed node over within about 60 ms; 20ms within about 240 ms,
    /// with a quarter of the datagrams and four times the tolerance for a
    /// late timer: for large clusters or busy nodes. Between 5ms and 1s;
    /// the same on every node.
    #[arg(long, value_name = "DURATION", default_value = "5ms", value_parser = parse_duration)]
    pub ml_heartbeat: Duration,
}

/// Layer-2 mode's settings for this node, from the command line.
#[derive(Debug, Clone)]
pub struct L2Settings {
    /// How the announcer answers and refreshes.
    pub options: L2Options,
    /// Which interfaces may answer when an L2Advertisement names none.
    pub interface_rules: InterfaceRules,
    /// The membership's timers (`--ml-heartbeat`).
    pub timing: MembershipTiming,
}

#[derive(Debug, thiserror::Error)]
pub enum L2ArgsError {
    #[error("--l2-exclude-interface {pattern:?}: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("{origin}: {pattern:?}: {reason}")]
    ConfigPattern {
        origin: String,
        pattern: String,
        reason: String,
    },
    #[error("{0}")]
    Config(#[from] super::excludel2::ExcludeL2Error),
    #[error("--ml-heartbeat: {0}")]
    Heartbeat(#[from] MembershipTimingError),
}

impl L2Args {
    /// The announcer's options and the interface rules these flags ask for,
    /// with the `metallb-excludel2` list read from `--l2-exclude-config`
    /// (the Kubernetes speaker's mount).
    pub fn resolve(&self) -> Result<L2Settings, L2ArgsError> {
        let mounted = super::excludel2::read_mounted(&self.l2_exclude_config)?;
        let origin = self.l2_exclude_config.display().to_string();
        self.resolve_with(mounted.map(|list| (origin, list)))
    }

    /// As [`L2Args::resolve`], with the `metallb-excludel2` list found
    /// elsewhere (`ferrolb run`'s files), and where it came from.
    pub fn resolve_with(
        &self,
        configured: Option<(String, Vec<String>)>,
    ) -> Result<L2Settings, L2ArgsError> {
        let rules = if self.l2_no_exclude_interfaces {
            InterfaceRules::none()
        } else if !self.l2_exclude_interface.is_empty() {
            InterfaceRules::new(&self.l2_exclude_interface).map_err(|e| L2ArgsError::Pattern {
                pattern: e.pattern,
                reason: e.reason,
            })?
        } else if let Some((origin, list)) = configured {
            InterfaceRules::new(&list).map_err(|e| L2ArgsError::ConfigPattern {
                origin,
                pattern: e.pattern,
                reason: e.reason,
            })?
        } else {
            InterfaceRules::standard()
        };
        let timing = MembershipTiming::with_heartbeat(self.ml_heartbeat)?;
        let options = L2Options {
            gratuitous: GratuitousConfig {
                refresh: self.l2_refresh,
                ..GratuitousConfig::default()
            },
            membership_port: self.ml_bind_port,
            membership_priority: self.ml_thread_priority,
            // Opened by the membership thread's turns, which come at least
            // every heartbeat: its staleness scales with the timing.
            answer_gate: AnswerGate::new(timing.gate_stale_after()),
            ..L2Options::default()
        };
        Ok(L2Settings {
            options,
            interface_rules: rules,
            timing,
        })
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    ferrolb_crds::duration::parse_go_duration(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::decide::Link;
    use crate::decide::interfaces::{Wanted, choose};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        l2: L2Args,
    }

    #[test]
    fn flags_become_options_and_rules() {
        let cli = Cli::parse_from([
            "x",
            "--l2-refresh",
            "30s",
            "--l2-exclude-interface",
            "^eth9$",
            "--ml-bind-port",
            "7947",
        ]);
        let settings = cli.l2.resolve().unwrap();
        assert_eq!(
            settings.options.gratuitous.refresh,
            Some(Duration::from_secs(30))
        );
        assert_eq!(settings.options.membership_port, 7947);
        let bad = Cli::parse_from(["x", "--l2-exclude-interface", "(("]);
        let e = bad.l2.resolve().unwrap_err().to_string();
        assert!(e.contains("--l2-exclude-interface \"((\""), "{e}");
        let none = Cli::parse_from(["x"]);
        let settings = none.l2.resolve().unwrap();
        assert_eq!(settings.options.gratuitous.refresh, None);
        assert_eq!(settings.options.membership_port, 7946);
        assert_eq!(settings.options.membership_priority, ThreadPriority::Auto);
        let normal = Cli::parse_from(["x", "--ml-thread-priority", "normal"]);
        assert_eq!(
            normal.l2.resolve().unwrap().options.membership_priority,
            ThreadPriority::Normal
        );
        assert_eq!(
            Cli::parse_from(["x"]).l2.resolve().unwrap().timing,
            MembershipTiming::default()
        );
        let slow = Cli::parse_from(["x", "--ml-heartbeat", "20ms"]);
        let settings = slow.l2.resolve().unwrap();
        let timing = settings.timing;
        assert_eq!(
            (timing.heartbeat, timing.dead_after),
            (Duration::from_millis(20), Duration::from_millis(200))
        );
        // The answer gate's staleness scales too (400 ms by default).
        assert_eq!(
            settings.options.answer_gate.stale_after(),
            Duration::from_millis(1600)
        );
        let fast = Cli::parse_from(["x", "--ml-heartbeat", "1ms"]);
        let e = fast.l2.resolve().unwrap_err().to_string();
        assert!(
            e.starts_with("--ml-heartbeat: membership heartbeat 1ms"),
            "{e}"
        );
        let all = Cli::parse_from(["x", "--l2-no-exclude-interfaces"]);
        let rules = all.l2.resolve().unwrap().interface_rules;
        let links = [Link::ethernet("veth0"), Link::ethernet("eth0")];
        let choice = choose(&links, &rules, &Wanted::All, "10.0.0.1".parse().unwrap());
        assert_eq!(choice.eligible.len(), 2, "{choice:?}");
        assert!(
            Cli::try_parse_from([
                "x",
                "--l2-no-exclude-interfaces",
                "--l2-exclude-interface",
                "^a$"
            ])
            .is_err()
        );
    }

    /// The `metallb-excludel2` list replaces the default one, and
    /// `--l2-exclude-interface` overrides it.
    #[test]
    fn the_excludel2_list_is_used_unless_flags_override_it() {
        let links = [Link::ethernet("veth0"), Link::ethernet("eth9")];
        let eligible = |settings: L2Settings| {
            choose(
                &links,
                &settings.interface_rules,
                &Wanted::All,
                "10.0.0.1".parse().unwrap(),
            )
            .eligible
        };
        let list = Some(("cm".to_string(), vec!["^eth9$".to_string()]));
        let plain = Cli::parse_from(["x"]);
        let from_list = eligible(plain.l2.resolve_with(list.clone()).unwrap());
        assert_eq!(from_list.into_iter().collect::<Vec<_>>(), ["veth0"]);
        let flagged = Cli::parse_from(["x", "--l2-exclude-interface", "^veth"]);
        let from_flag = eligible(flagged.l2.resolve_with(list).unwrap());
        assert_eq!(from_flag.into_iter().collect::<Vec<_>>(), ["eth9"]);
        let bad = plain
            .l2
            .resolve_with(Some(("cm".into(), vec!["((".into()])))
            .unwrap_err();
        assert!(bad.to_string().starts_with("cm: \"((\""), "{bad}");

        let dir = std::env::temp_dir().join(format!("ferrolb-excludel2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mounted = dir.join("excludel2.yaml");
        std::fs::write(&mounted, "announcedInterfacesToExclude: [\"^eth9$\"]\n").unwrap();
        let path = mounted.display().to_string();
        let cli = Cli::parse_from(["x", "--l2-exclude-config", path.as_str()]);
        let from_mount = eligible(cli.l2.resolve().unwrap());
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(from_mount.into_iter().collect::<Vec<_>>(), ["veth0"]);
    }
}
