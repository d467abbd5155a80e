//! `keygate key ...`: enroll and use security keys against a running server,
//! through its JSON API (`/api/v1`), with the key on USB or a soft token,
//! over CTAP2 (FIDO2) when the key speaks it and U2F otherwise.

mod client;
mod ctap2;
mod flow;
mod origin;
mod protocol;
mod u2f;

pub(crate) use protocol::Protocol;

use clap::{Args, Subcommand};

use super::CliError;
use super::common::PasswordArgs;
use super::device::DeviceArgs;

/// The `keygate key` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Register a security key for your account.
    Enroll(KeyEnrollArgs),
    /// List your registered keys.
    List(KeyServerArgs),
    /// Give a key a new label.
    Rename(KeyRenameArgs),
    /// Remove a key (removing the last one needs a fresh login).
    Remove(KeyRefArgs),
    /// Log in with password and key; prints the session.
    Login(KeyServerArgs),
}

/// The server, the account, the device and how long to wait for a touch.
#[derive(Debug, Args)]
pub(crate) struct KeyServerArgs {
    /// The keygate server. Its origin (scheme, host, port) is the only one
    /// the key signs for: a server answering with another origin or
    /// application id is refused before the key is used. Plain http:// only
    /// to this machine (localhost, 127.0.0.1, ::1).
    #[arg(long, env = "KEYGATE_SERVER", default_value = "http://localhost:8080", value_name = "URL")]
    pub server: String,
    /// PEM file of CA certificates to trust for the server's certificate,
    /// besides the system's: for a server with a private CA.
    #[arg(long, env = "KEYGATE_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Your user name.
    #[arg(long, value_name = "NAME")]
    pub user: String,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// What to speak to the key. auto: CTAP2 (FIDO2, through the server's
    /// WebAuthn endpoints) when the key announces it, U2F otherwise; u2f:
    /// always U2F (refused by a key with U2F switched off); ctap2: always
    /// CTAP2 (refused by a U2F-only key).
    #[arg(long, env = "KEYGATE_PROTOCOL", value_enum, default_value = "auto", value_name = "PROTOCOL")]
    pub protocol: Protocol,
    /// Use this session (printed by `keygate key login`) instead of logging in.
    // Tokens are base64url: one in 64 starts with `-`.
    #[arg(
        long,
        env = "KEYGATE_SESSION",
        value_name = "TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub session: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// Arguments of `keygate key enroll`.
#[derive(Debug, Args)]
pub(crate) struct KeyEnrollArgs {
    #[command(flatten)]
    pub server: KeyServerArgs,
    /// A label for the key, e.g. "blue yubikey".
    #[arg(long, value_name = "LABEL")]
    pub name: Option<String>,
}

/// A key named by id or label.
#[derive(Debug, Args)]
pub(crate) struct KeyRefArgs {
    /// The key's id or label.
    pub key: String,
    #[command(flatten)]
    pub server: KeyServerArgs,
}

/// Arguments of `keygate key rename`.
#[derive(Debug, Args)]
pub(crate) struct KeyRenameArgs {
    /// The key's id or current label.
    pub key: String,
    /// The new label.
    pub label: String,
    #[command(flatten)]
    pub server: KeyServerArgs,
}

pub(super) async fn run(cmd: KeyCommand) -> Result<(), CliError> {
    match cmd {
        KeyCommand::Enroll(args) => flow::enroll(&args.server, args.name.as_deref()).await,
        KeyCommand::List(args) => flow::list(&args).await,
        KeyCommand::Rename(args) => flow::rename(&args.server, &args.key, &args.label).await,
        KeyCommand::Remove(args) => flow::remove(&args.server, &args.key).await,
        KeyCommand::Login(args) => flow::login(&args).await,
    }
}
