//! Flag groups shared by several commands, flattened into each.

use std::path::PathBuf;

use clap::Args;

/// Where the local database is: for commands that work on it directly.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Config file (default: ./keygate.toml when present).
    #[arg(long, env = "KEYGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite:PATH or postgres://USER@HOST/DB (default: sqlite:keygate.db).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}

/// How a command that needs a password gets it.
#[derive(Debug, Clone, Args)]
pub struct PasswordArgs {
    /// Read the password from standard input instead of prompting without echo.
    #[arg(long)]
    pub password_stdin: bool,
}
