//! One failover after another: wait until one node owns the VIP and the
//! client hears only it, fail that node at a jittered instant, watch until
//! a new owner answers steadily, put the failed node back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::error::{LabError, Result};
use crate::l2::lan::L2Lan;
use crate::l2::measure::{NodeId, Outcome, analyze};
use crate::l2::subject::{Failure, L2Subject};
use crate::wait::Probe;

/// How a series of failovers is run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub runs: usize,
    /// How long the new owner must answer every probe, alone, before a run
    /// ends: a flap back within it is seen.
    pub hold: Duration,
    /// Longest wait for one owner before a run.
    pub settle_timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            runs: 20,
            hold: Duration::from_secs(1),
            settle_timeout: Duration::from_secs(30),
        }
    }
}

/// One failover.
#[derive(Debug, Clone)]
pub struct Run {
    pub failed: NodeId,
    pub outcome: Outcome,
    /// The new owner answered steadily within the subject's timeout.
    pub completed: bool,
}

/// How long a reply may take before its probe counts as lost.
const IN_FLIGHT: Duration = Duration::from_millis(30);
/// The client must have heard only the owner for this long before a run.
const QUIET: Duration = Duration::from_millis(300);
/// Between two looks at the client's log (in-process, so cheap).
const OBSERVE_EVERY: Duration = Duration::from_millis(20);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes SIGTERM and SIGINT end the benchmark between steps (every wait
/// here is short and checks), so the lab is torn down by its destructor.
pub fn stop_on_signals() -> Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe { sigaction(signal, &action) }
            .map_err(|e| LabError::io("cannot install a signal handler", e.into()))?;
    }
    Ok(())
}

/// Fails once SIGTERM or SIGINT arrived (after [`stop_on_signals`]).
pub fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err(LabError::Invalid("interrupted".into()))
    } else {
        Ok(())
    }
}

/// A small, seedable generator for the jitter (xorshift64*): reproducible
/// without a dependency.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Jitter {
        Jitter(seed.max(1))
    }

    /// Uniform in `[0, max)`.
    pub fn within(&mut self, max: Duration) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let fraction = (x >> 11) as f64 / (1u64 << 53) as f64;
        max.mul_f64(fraction)
    }
}

/// Waits until exactly one node claims the VIP and, for the last `QUIET`,
/// every probe was answered by it alone; returns it.
pub fn settle(lan: &L2Lan, subject: &dyn L2Subject, timeout: Duration) -> Result<NodeId> {
    let expected = format!("one node to own {} and answer alone", lan.vip());
    lan.lab().wait_for(&expected, timeout, || {
        if check_interrupted().is_err() {
            return Ok(Probe::Fail("interrupted".into()));
        }
        let claimants = subject.claimants(lan)?;
        let &[owner] = claimants.as_slice() else {
            return Ok(Probe::Pending(format!("claimed by {claimants:?}")));
        };
        let now = Instant::now();
        let recent: Vec<_> = lan
            .prober()
            .pings_since(now - QUIET - IN_FLIGHT)
            .into_iter()
            .filter(|p| p.sent + IN_FLIGHT <= now)
            .collect();
        let alone = recent.len() >= 10
            && recent
                .iter()
                .all(|p| !p.replies.is_empty() && p.replies.iter().all(|(n, _)| *n == owner));
        Ok(if alone {
            Probe::Done(owner)
        } else {
            let answered = recent.iter().filter(|p| !p.replies.is_empty()).count();
            let entry = match lan.prober().neighbour_entry() {
                Some(Some(node)) => lan.name(node).to_string(),
                Some(None) => "a MAC of no node".into(),
                None => "nothing".into(),
            };
            Probe::Pending(format!(
                "{} claims it; {answered} of the last {} probes answered, not all by it \
                 alone; the client's neighbour entry points at {entry}",
                lan.name(owner),
                recent.len()
            ))
        })
    })
}

/// Runs `options.runs` failovers of kind `failure`.
pub fn run_failovers(
    lan: &L2Lan,
    subject: &mut dyn L2Subject,
    failure: Failure,
    options: &RunOptions,
    jitter: &mut Jitter,
) -> Result<Vec<Run>> {
    let mut runs = Vec::with_capacity(options.runs);
    run_failovers_into(lan, subject, failure, options, jitter, &mut runs)?;
    Ok(runs)
}

/// [`run_failovers`], keeping the runs done before an error in `runs`: a
/// benchmark reports them along with what stopped it.
pub fn run_failovers_into(
    lan: &L2Lan,
    subject: &mut dyn L2Subject,
    failure: Failure,
    options: &RunOptions,
    jitter: &mut Jitter,
    runs: &mut Vec<Run>,
) -> Result<()> {
    for _ in 0..options.runs {
        check_interrupted()?;
        runs.push(one_failover(lan, subject, failure, options, jitter)?);
    }
    Ok(())
}

fn one_failover(
    lan: &L2Lan,
    subject: &mut dyn L2Subject,
    failure: Failure,
    options: &RunOptions,
    jitter: &mut Jitter,
) -> Result<Run> {
    let owner = settle(lan, subject, options.settle_timeout)?;
    std::thread::sleep(jitter.within(subject.period()));
    let failed_at = match failure {
        Failure::LinkCut => lan.set_link(owner, false)?,
        Failure::Kill => subject.signal(lan, owner, Signal::SIGKILL)?,
        Failure::Stop => subject.signal(lan, owner, Signal::SIGTERM)?,
    };
    let reacted = match failure {
        Failure::LinkCut => subject.link_cut(lan, owner),
        Failure::Kill | Failure::Stop => Ok(()),
    };
    let observed = reacted.and_then(|()| observe(lan, subject, owner, failed_at, options.hold));
    // Put the node back whatever was seen, so the next run starts whole.
    if failure == Failure::LinkCut {
        lan.set_link(owner, true)?;
    }
    subject.restore(lan, owner, failure)?;
    lan.prober().forget_before(failed_at);
    let (outcome, completed) = observed?;
    Ok(Run {
        failed: owner,
        outcome,
        completed,
    })
}

/// Watches the client until a new owner has answered alone for `hold`, or
/// the subject's failover timeout passes.
fn observe(
    lan: &L2Lan,
    subject: &dyn L2Subject,
    failed: NodeId,
    failed_at: Instant,
    hold: Duration,
) -> Result<(Outcome, bool)> {
    let deadline = failed_at + subject.failover_timeout() + hold;
    // Replies to probes sent just before the failure still count.
    let since = failed_at - IN_FLIGHT;
    loop {
        check_interrupted()?;
        std::thread::sleep(OBSERVE_EVERY);
        let now = Instant::now();
        let outcome = analyze(
            &lan.prober().pings_since(since),
            &lan.prober().neighbour_since(since),
            failed,
            failed_at,
            now,
            IN_FLIGHT,
        );
        let moved = outcome.owner.is_some_and(|o| o != failed);
        if moved && outcome.steady_for >= hold {
            return Ok((outcome, true));
        }
        if now >= deadline {
            return Ok((outcome, false));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_uniform_enough_and_reproducible() {
        let max = Duration::from_millis(100);
        let draws: Vec<Duration> = {
            let mut j = Jitter::new(42);
            (0..1000).map(|_| j.within(max)).collect()
        };
        assert!(draws.iter().all(|d| *d < max));
        let low = draws.iter().filter(|d| **d < max / 2).count();
        assert!((400..600).contains(&low), "{low} of 1000 in the lower half");
        let mut again = Jitter::new(42);
        assert_eq!(again.within(max), draws[0]);
    }
}
