//! `keygate soft-token ...`: a software security key served over a socket.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::CliError;

/// The `keygate soft-token` subcommands.
#[derive(Debug, Subcommand)]
pub enum SoftTokenCommand {
    /// Serve the token over CTAPHID (one 64-byte report per datagram).
    Serve(SoftTokenServeArgs),
    /// Print a credential in the shape Chromium's WebAuthn.addCredential takes.
    ExportCredential(ExportCredentialArgs),
    /// Read a credential in the shape WebAuthn.getCredentials returns (standard input).
    ImportCredential(ImportCredentialArgs),
}

/// Arguments of `keygate soft-token serve`.
#[derive(Debug, Args)]
pub struct SoftTokenServeArgs {
    /// The token's state file (created on first use).
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// udp:HOST:PORT or unix:PATH.
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
}

/// Arguments of `keygate soft-token export-credential`.
#[derive(Debug, Args)]
pub struct ExportCredentialArgs {
    /// The token's state file.
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// The relying party (U2F app id) the key handle was made for.
    #[arg(long, value_name = "ID")]
    pub rp_id: String,
    /// The key handle (credential id), websafe base64.
    #[arg(long, value_name = "B64")]
    pub key_handle: String,
}

/// Arguments of `keygate soft-token import-credential`.
#[derive(Debug, Args)]
pub struct ImportCredentialArgs {
    /// The token's state file.
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
}

pub(super) async fn run(_cmd: SoftTokenCommand) -> Result<(), CliError> {
    Err(CliError::unavailable("the software token"))
}
