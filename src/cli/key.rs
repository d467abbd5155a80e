//! `keygate key ...`: enroll and use security keys against a running server.

use clap::{Args, Subcommand};

use super::CliError;
use super::common::PasswordArgs;

/// The `keygate key` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
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
pub struct KeyServerArgs {
    /// The keygate server.
    #[arg(long, env = "KEYGATE_SERVER", default_value = "http://localhost:8080", value_name = "URL")]
    pub server: String,
    /// Your user name.
    #[arg(long, value_name = "NAME")]
    pub user: String,
    /// usb (the single key found), usb:PATH, udp:HOST:PORT or unix:PATH.
    #[arg(long, default_value = "usb", value_name = "SPEC")]
    pub device: String,
    /// Give up waiting for a touch after this many seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// Arguments of `keygate key enroll`.
#[derive(Debug, Args)]
pub struct KeyEnrollArgs {
    #[command(flatten)]
    pub server: KeyServerArgs,
    /// A label for the key, e.g. "blue yubikey".
    #[arg(long, value_name = "LABEL")]
    pub name: Option<String>,
}

/// A key named by id or label.
#[derive(Debug, Args)]
pub struct KeyRefArgs {
    /// The key's id or label.
    pub key: String,
    #[command(flatten)]
    pub server: KeyServerArgs,
}

/// Arguments of `keygate key rename`.
#[derive(Debug, Args)]
pub struct KeyRenameArgs {
    /// The key's id or current label.
    pub key: String,
    /// The new label.
    pub label: String,
    #[command(flatten)]
    pub server: KeyServerArgs,
}

pub(super) async fn run(_cmd: KeyCommand) -> Result<(), CliError> {
    Err(CliError::unavailable("key enrollment and login (JSON API client)"))
}
