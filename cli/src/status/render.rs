//! The text form of the views: aligned tables, colour only on a terminal
//! (and never with `NO_COLOR`), one line per row so `grep` works.

use super::sessions::human_duration;
use super::view::{
    Mode, Outcome, PoolsView, ServiceRow, ServiceState, ServicesView, SessionsView, WhyView,
};

/// Whether to colour the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    On,
    Off,
}

impl Colour {
    /// On for a terminal, unless `NO_COLOR` is set to anything non-empty
    /// (no-color.org).
    pub fn detect(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> Colour {
        if is_terminal && no_color.is_none_or(|v| v.is_empty()) {
            Colour::On
        } else {
            Colour::Off
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        match self {
            Colour::On => format!("\x1b[{code}m{text}\x1b[0m"),
            Colour::Off => text.to_string(),
        }
    }

    fn green(self, t: &str) -> String {
        self.paint("32", t)
    }
    fn yellow(self, t: &str) -> String {
        self.paint("33", t)
    }
    fn red(self, t: &str) -> String {
        self.paint("31", t)
    }
    fn bold(self, t: &str) -> String {
        self.paint("1", t)
    }
}

/// A table whose columns are padded to their widest cell; colour is
/// applied after padding so escape codes do not skew the widths.
struct Table {
    rows: Vec<Vec<(String, Option<&'static str>)>>,
}

impl Table {
    fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| (h.to_string(), Some("1"))).collect()],
        }
    }

    fn push(&mut self, row: Vec<(String, Option<&'static str>)>) {
        self.rows.push(row);
    }

    fn render(&self, colour: Colour) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|(t, _)| t.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            // Cells after the last non-empty one are left out and that one
            // is not padded, so no line ends in blanks (inside escape codes
            // or not).
            let last = row.iter().rposition(|(t, _)| !t.is_empty()).unwrap_or(0);
            let cells: Vec<String> = row
                .iter()
                .take(last + 1)
                .enumerate()
                .map(|(i, (text, code))| {
                    let padded = if i == last {
                        text.clone()
                    } else {
                        format!("{text:<width$}", width = widths[i])
                    };
                    match code {
                        Some(code) => colour.paint(code, &padded),
                        None => padded,
                    }
                })
                .collect();
            out.push_str(&cells.join("  "));
            out.push('\n');
        }
        out
    }
}

fn plain(s: impl Into<String>) -> (String, Option<&'static str>) {
    (s.into(), None)
}

fn or_dash(s: String) -> String {
    if s.is_empty() { "-".into() } else { s }
}

fn state_cell(state: ServiceState, degraded: bool) -> (String, Option<&'static str>) {
    let code = match state {
        ServiceState::Announced if degraded => "33",
        ServiceState::Announced => "32",
        ServiceState::NotAnnounced => "33",
        ServiceState::Pending => "31",
    };
    (state.as_str().to_string(), Some(code))
}

/// `BGP`, `L2`, `BGP+L2` or `-`.
fn modes(modes: &[Mode]) -> String {
    or_dash(
        modes
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join("+"),
    )
}

/// `node→peer,peer` for BGP, `node@iface` for layer 2.
pub fn announcers(row: &ServiceRow) -> String {
    let bgp = row
        .bgp
        .iter()
        .map(|a| format!("{}→{}", a.node, a.peers.join(",")));
    let l2 = row.l2.iter().map(|a| {
        if a.interfaces.is_empty() {
            a.node.clone()
        } else {
            format!("{}@{}", a.node, a.interfaces.join(","))
        }
    });
    bgp.chain(l2).collect::<Vec<_>>().join(" ")
}

pub fn services(view: &ServicesView, colour: Colour) -> String {
    let mut out = String::new();
    for w in &view.warnings {
        out.push_str(&colour.red(&format!("warning: {w}")));
        out.push('\n');
    }
    if view.services.is_empty() {
        out.push_str("No LoadBalancer Services.\n");
        return out;
    }
    let mut table = Table::new(&[
        "SERVICE",
        "EXTERNAL-IP",
        "POOL",
        "MODE",
        "STATE",
        "ANNOUNCED BY",
        "REASON",
    ]);
    for s in &view.services {
        table.push(vec![
            plain(format!("{}/{}", s.namespace, s.name)),
            plain(or_dash(s.addresses.join(","))),
            plain(s.pool.clone().unwrap_or_else(|| "-".into())),
            plain(modes(&s.modes)),
            state_cell(s.state, s.reason.is_some()),
            plain(or_dash(announcers(s))),
            plain(s.reason.clone().unwrap_or_default()),
        ]);
    }
    out.push_str(&table.render(colour));
    out
}

pub fn sessions(view: &SessionsView, colour: Colour) -> String {
    if view.sessions.is_empty() {
        return "No BGP sessions.\n".into();
    }
    let mut table = Table::new(&[
        "NODE",
        "PEER",
        "ADDRESS",
        "STATE",
        "UPTIME",
        "SENT",
        "RECEIVED",
        "BFD",
        "LAST ERROR",
    ]);
    for s in &view.sessions {
        let code = if s.state == "Established" { "32" } else { "31" };
        let bfd_code = match s.bfd.as_deref() {
            Some("up") => Some("32"),
            Some(_) => Some("31"),
            None => None,
        };
        table.push(vec![
            plain(s.node.clone()),
            plain(s.peer.clone()),
            plain(s.peer_address.clone()),
            (s.state.clone(), Some(code)),
            plain(s.uptime_seconds.map_or("-".into(), human_duration)),
            plain(s.prefixes_sent.to_string()),
            plain(s.prefixes_received.to_string()),
            (s.bfd.clone().unwrap_or_else(|| "-".into()), bfd_code),
            plain(s.last_error.clone().unwrap_or_default()),
        ]);
    }
    table.render(colour)
}

pub fn pools(view: &PoolsView, colour: Colour) -> String {
    if view.pools.is_empty() {
        return "No IPAddressPools.\n".into();
    }
    let mut table = Table::new(&[
        "POOL",
        "MODE",
        "AUTO",
        "IPV4 USED/FREE",
        "IPV6 USED/FREE",
        "SERVICES",
    ]);
    for p in &view.pools {
        let usage = |family: &str| {
            p.families
                .iter()
                .find(|f| f.family == family)
                .map_or("-".into(), |f| format!("{}/{}", f.used, f.free))
        };
        table.push(vec![
            plain(p.name.clone()),
            plain(modes(&p.modes)),
            plain(if p.auto_assign { "yes" } else { "no" }),
            plain(usage("ipv4")),
            plain(usage("ipv6")),
            plain(p.services.len().to_string()),
        ]);
    }
    let mut out = table.render(colour);
    for p in &view.pools {
        for w in &p.warnings {
            out.push_str(&colour.yellow(&format!("warning: pool {}: {w}", p.name)));
            out.push('\n');
        }
    }
    out
}

pub fn why(view: &WhyView, colour: Colour) -> String {
    let s = &view.service;
    let mut out = format!(
        "{} {}\n",
        colour.bold(&format!("{}/{}", s.namespace, s.name)),
        state_cell(s.state, s.reason.is_some()).0
    );
    for step in &view.steps {
        let mark = match step.outcome {
            Outcome::Ok => colour.green("✓"),
            Outcome::Info => "·".to_string(),
            Outcome::Warning => colour.yellow("!"),
            Outcome::Failed => colour.red("✗"),
        };
        out.push_str(&format!(
            "{mark} {:<13} {}: {}\n",
            step.stage, step.subject, step.detail
        ));
    }
    out
}
