//! `keygate completions SHELL`: completion scripts generated from the same
//! clap definition the binary parses, so they never drift from the flags.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, CliError};

/// Arguments of `keygate completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to generate for (bash, zsh, fish, elvish, powershell).
    pub shell: Shell,
}

pub(super) fn run(args: CompletionsArgs) -> Result<(), CliError> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "keygate", &mut std::io::stdout());
    Ok(())
}
