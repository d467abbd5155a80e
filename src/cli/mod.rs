//! The `keygate` command line: argument types live next to the command that
//! runs them (one module per command), this module parses and dispatches.
//!
//! Exit statuses follow BSD `sysexits`: 0 success, 1 a failure the message
//! explains, 2 a usage error (clap's, or one a command finds), 69 a
//! capability this build does not have, 130 cancelled by Ctrl-C.

mod app;
mod audit;
mod common;
mod completions;
mod config;
mod device;
mod devices;
mod error;
mod key;
mod man;
mod operator;
mod serve;
mod soft_token;
pub mod touch;
mod user;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::CliError;

/// Password + security-key login service, and the tools around it.
#[derive(Debug, Parser)]
#[command(name = "keygate", version, about, propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The `keygate` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the HTTP service (login pages, JSON API, legacy REST, OAuth).
    Serve(serve::ServeArgs),
    /// Manage user accounts in the local database.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Register applications that use the token API.
    #[command(subcommand)]
    App(app::AppCommand),
    /// Enroll and manage your security keys against a running server.
    ///
    /// Which protocol is used (--protocol, default auto): a key that announces
    /// CTAP2 (FIDO2: the CBOR capability of its CTAPHID INIT reply) is spoken to
    /// over CTAP2, through the server's WebAuthn endpoints, with the
    /// clientDataJSON built from --server's origin; a U2F-only key over U2F
    /// (CTAP1), through the U2F endpoints. A key registered over one protocol
    /// signs in over the other. --protocol u2f or ctap2 forces one, and is
    /// refused by a key that lacks it (a FIDO2-only key, one with U2F switched
    /// off, or a U2F-only key). The touch prompt shows when the key asks for
    /// a touch; --timeout and Ctrl-C stop the wait (a CTAP2 key gets CTAPHID
    /// CANCEL).
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// List FIDO security keys connected over USB.
    Devices(devices::DevicesArgs),
    /// Show the audit log, newest first, as a table or JSON Lines; or follow it as it is written.
    Audit(audit::AuditArgs),
    /// A software security key that speaks CTAPHID over a socket, for tests and demos.
    #[command(subcommand)]
    SoftToken(soft_token::SoftTokenCommand),
    /// Check a configuration file and show the settings in effect.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
    /// Print the manual page of keygate or of one of its commands.
    Man(man::ManArgs),
}

/// Entry point of the binary: parse, run, map the outcome to an exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return CliError::other(format!("cannot start the async runtime: {e}")).report(),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

/// Runs one parsed command. Public so tests can drive commands in-process.
pub(crate) async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::User(cmd) => user::run(cmd).await,
        Command::App(cmd) => app::run(cmd).await,
        Command::Key(cmd) => key::run(cmd).await,
        Command::Devices(args) => devices::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::SoftToken(cmd) => soft_token::run(cmd).await,
        Command::Config(cmd) => config::run(cmd),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn base64url_values_may_start_with_a_hyphen() {
        use clap::Parser;
        let session = ["keygate", "key", "list", "--user", "alice", "--session", "-EAWzM1HSZ1vc"];
        let handle = [
            "keygate",
            "soft-token",
            "export-credential",
            "--state",
            "s",
            "--rp-id",
            "x",
            "--key-handle",
            "-q8",
        ];
        for args in [&session[..], &handle[..]] {
            let parsed = Cli::try_parse_from(args);
            assert!(parsed.is_ok(), "{args:?}: {:?}", parsed.err());
        }
    }
}
