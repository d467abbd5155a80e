//! `keygate devices`: FIDO security keys found over USB (hidapi).

use clap::Args;

use super::CliError;

/// Arguments of `keygate devices`.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Make each key blink so you can tell which is which.
    #[arg(long)]
    pub wink: bool,
}

pub(super) async fn run(_args: DevicesArgs) -> Result<(), CliError> {
    Err(CliError::unavailable("USB device discovery (CTAPHID over hidapi)"))
}
