//! Running external commands (iproute2, vtysh, birdc, gobgp) with their
//! failures turned into errors that quote the command line and its stderr.

use std::ffi::OsStr;
use std::process::{Command, Output};

use crate::error::{LabError, Result};

/// Runs `program args...` to completion and returns its stdout.
pub fn run<I, S>(program: &str, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(program);
    command.args(args);
    let output = output_of(&mut command)?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs a prepared command to completion; a non-zero exit is an error.
pub fn output_of(command: &mut Command) -> Result<Output> {
    let line = describe(command);
    let output = command
        .output()
        .map_err(|e| LabError::io(format!("cannot run `{line}`"), e))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(LabError::Command {
            command: line,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// The command line as a shell user would type it, for error messages.
pub fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
