//! Errors of the lab. Each one says what a reader needs to act: the command
//! that failed with its stderr, the prerequisite that is missing with how to
//! install it, or what a wait expected, what it saw, and what the daemons
//! logged.

use std::time::Duration;

/// Everything that can go wrong while building or driving a lab.
#[derive(thiserror::Error)]
pub enum LabError {
    #[error("missing prerequisite: {what}; {hint}")]
    Missing { what: String, hint: String },

    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("could not parse {what}: {reason}\n--- input ---\n{input}")]
    Parse {
        what: String,
        reason: String,
        input: String,
    },

    #[error("timed out after {waited:?} waiting for {expected}\n  last seen: {seen}\n{logs}")]
    Timeout {
        expected: String,
        seen: String,
        waited: Duration,
        /// The tail of every daemon's log, so the failure explains itself.
        logs: String,
    },

    #[error("invalid lab request: {0}")]
    Invalid(String),
}

pub type Result<T, E = LabError> = std::result::Result<T, E>;

impl LabError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LabError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn parse(what: impl Into<String>, reason: impl ToString, input: &str) -> Self {
        // A whole routing table in an error message helps nobody.
        const KEEP: usize = 2000;
        let input = match input.char_indices().nth(KEEP) {
            Some((cut, _)) => format!("{}\n[... {} more bytes]", &input[..cut], input.len() - cut),
            None => input.to_string(),
        };
        LabError::Parse {
            what: what.into(),
            reason: reason.to_string(),
            input,
        }
    }
}

/// Tests return `Result<(), LabError>`, and the test harness prints a
/// returned error with `Debug`: show the readable message, daemon logs with
/// their line breaks, instead of an escaped struct.
impl std::fmt::Debug for LabError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
