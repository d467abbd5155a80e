//! The error every command returns: a message for the person at the terminal
//! and the exit status that tells scripts what kind of failure it was.

use std::fmt;
use std::process::ExitCode;

/// A failed command: what to print and which status to exit with.
#[derive(Debug)]
pub struct CliError {
    status: u8,
    message: String,
}

impl CliError {
    /// A command line clap accepted but the command could not make sense of,
    /// reported like clap's own usage errors.
    pub(crate) const USAGE: u8 = 2;
    /// `EX_UNAVAILABLE`: the command exists but this build lacks what it needs.
    pub(crate) const UNAVAILABLE: u8 = 69;
    /// The conventional status for a command stopped by Ctrl-C.
    pub(crate) const CANCELLED: u8 = 130;

    /// A failure explained by its message (status 1).
    pub fn other(message: impl Into<String>) -> Self {
        Self { status: 1, message: message.into() }
    }

    /// A usage error found after parsing, such as a command path that names
    /// no command (status 2, as clap's).
    pub fn usage(message: impl Into<String>) -> Self {
        Self { status: Self::USAGE, message: message.into() }
    }

    /// A command whose capability is not part of this build yet (status 69).
    pub fn unavailable(capability: &str) -> Self {
        Self {
            status: Self::UNAVAILABLE,
            message: format!("{capability} is not available in this build of keygate"),
        }
    }

    /// The user pressed Ctrl-C (status 130).
    pub fn cancelled() -> Self {
        Self { status: Self::CANCELLED, message: "cancelled".to_owned() }
    }

    /// The exit status this error maps to.
    pub fn status(&self) -> u8 {
        self.status
    }

    /// Prints the message on standard error and returns the exit status.
    pub fn report(&self) -> ExitCode {
        eprintln!("keygate: {}", self.message);
        ExitCode::from(self.status)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        // `{:#}` keeps the chain of causes on one line: "cannot bind: address in use".
        Self::other(format!("{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_sysexits() {
        assert_eq!(CliError::other("x").status(), 1);
        assert_eq!(CliError::unavailable("the thing").status(), 69);
        assert_eq!(CliError::cancelled().status(), 130);
        assert_eq!(CliError::usage("x").status(), 2);
        assert_eq!(
            CliError::unavailable("the thing").to_string(),
            "the thing is not available in this build of keygate"
        );
    }
}
