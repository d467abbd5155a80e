//! `keygate user ...`: account administration on the local database.

use clap::{Args, Subcommand};

use super::CliError;
use super::common::{DatabaseArgs, PasswordArgs};

/// The `keygate user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is prompted for (or read with --password-stdin).
    Add(UserPasswordArgs),
    /// Set a user's password; ends their sessions and tokens.
    Passwd(UserPasswordArgs),
    /// List users with their key count and state.
    List(DatabaseArgs),
    /// Disable a user and end all their sessions and tokens.
    Disable(UserNameArgs),
    /// Remove all of a user's security keys and recovery codes (they enroll again).
    ResetKeys(UserNameArgs),
}

/// A user name and the database.
#[derive(Debug, Args)]
pub struct UserNameArgs {
    /// The user's login name.
    pub name: String,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

/// A user name, a password source and the database.
#[derive(Debug, Args)]
pub struct UserPasswordArgs {
    /// The user's login name.
    pub name: String,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

pub(super) async fn run(_cmd: UserCommand) -> Result<(), CliError> {
    Err(CliError::unavailable("the user store"))
}
