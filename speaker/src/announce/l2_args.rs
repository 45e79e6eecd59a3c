//! The Layer-2 options both `ferrolb-speaker` and `ferrolb run` take.

use std::time::Duration;

use clap::Args;

use super::l2::L2Options;
use crate::decide::InterfaceRules;
use ferrolb_l2::gratuitous::GratuitousConfig;
use ferrolb_l2::membership::DEFAULT_PORT;

/// Layer-2 mode's command-line options.
#[derive(Debug, Clone, Args)]
pub struct L2Args {
    /// Resend a gratuitous ARP / unsolicited NA for every answered address
    /// this often (e.g. 30s), for clients and switches that forget; by
    /// default only the burst on takeover, as MetalLB.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub l2_refresh: Option<Duration>,
    /// Interfaces never used for ARP/NDP when an L2Advertisement names none,
    /// as regular expressions (repeat the flag); replaces the default list
    /// (MetalLB's: docker, cbr, veth, cali, flannel, kube-ipvs, lxc, ...).
    #[arg(long, value_name = "REGEX")]
    pub l2_exclude_interface: Vec<String>,
    /// Exclude no interface by name: every suitable link answers when an
    /// L2Advertisement names none (MetalLB without its exclusion list).
    #[arg(long, conflicts_with = "l2_exclude_interface")]
    pub l2_no_exclude_interfaces: bool,
    /// UDP port of the speakers' membership (Layer-2 mode), the same on
    /// every node (MetalLB's memberlist port by default).
    #[arg(long, env = "METALLB_ML_BIND_PORT", default_value_t = DEFAULT_PORT)]
    pub ml_bind_port: u16,
}

/// Layer-2 mode's settings for this node, from the command line.
#[derive(Debug, Clone)]
pub struct L2Settings {
    /// How the announcer answers and refreshes.
    pub options: L2Options,
    /// Which interfaces may answer when an L2Advertisement names none.
    pub interface_rules: InterfaceRules,
}

#[derive(Debug, thiserror::Error)]
#[error("--l2-exclude-interface {pattern:?}: {reason}")]
pub struct L2ArgsError {
    pattern: String,
    reason: String,
}

impl L2Args {
    /// The announcer's options and the interface rules these flags ask for.
    pub fn resolve(&self) -> Result<L2Settings, L2ArgsError> {
        let rules = if self.l2_no_exclude_interfaces {
            InterfaceRules::none()
        } else if self.l2_exclude_interface.is_empty() {
            InterfaceRules::standard()
        } else {
            InterfaceRules::new(&self.l2_exclude_interface).map_err(|e| L2ArgsError {
                pattern: e.pattern,
                reason: e.reason,
            })?
        };
        let options = L2Options {
            gratuitous: GratuitousConfig {
                refresh: self.l2_refresh,
                ..GratuitousConfig::default()
            },
            membership_port: self.ml_bind_port,
            ..L2Options::default()
        };
        Ok(L2Settings {
            options,
            interface_rules: rules,
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
}
