//! Flag groups shared by several commands, flattened into each.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::CliError;
use crate::config::Config;
use crate::store::{self, Store};

/// Where the local database is: for commands that work on it directly.
#[derive(Debug, Clone, Args)]
pub(crate) struct DatabaseArgs {
    /// Config file (default: ./keygate.toml when present).
    #[arg(long, env = "KEYGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite:PATH or postgres://USER@HOST/DB (default: sqlite:keygate.db).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
}

/// How a command that needs a password gets it.
#[derive(Debug, Clone, Args)]
pub(crate) struct PasswordArgs {
    /// Read the password from standard input instead of prompting without echo.
    #[arg(long)]
    pub password_stdin: bool,
}

impl DatabaseArgs {
    /// Opens (and migrates) the database these flags and the config name.
    /// Failure is one line naming the database (password hidden) and the cause.
    pub(crate) async fn open(&self) -> Result<Store, CliError> {
        #[derive(Serialize)]
        struct Flags<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            database: Option<&'a str>,
        }
        let config = Config::load(self.config.as_deref(), Flags { database: self.database.as_deref() })
            .map_err(|e| CliError::other(e.to_string()))?;
        Store::open_with(&config.database, &config.store_options()).await.map_err(|e| {
            CliError::other(format!("cannot open the database {}: {e}", store::redact_url(&config.database)))
        })
    }
}

impl PasswordArgs {
    /// Reads a new password: one line of standard input with
    /// `--password-stdin`, else prompted twice without echo.
    pub(crate) async fn read_new(&self) -> Result<String, CliError> {
        let from_stdin = self.password_stdin;
        let password = tokio::task::spawn_blocking(move || -> Result<String, CliError> {
            if from_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map_err(|e| {
                    CliError::other(format!("cannot read the password from standard input: {e}"))
                })?;
                return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
            }
            let no_tty = |e: std::io::Error| {
                CliError::other(format!("cannot prompt for a password ({e}); use --password-stdin"))
            };
            let first = rpassword::prompt_password("New password: ").map_err(no_tty)?;
            let second = rpassword::prompt_password("Repeat it: ").map_err(no_tty)?;
            if first != second {
                return Err(CliError::other("the passwords do not match"));
            }
            Ok(first)
        })
        .await
        .map_err(|e| CliError::other(format!("password prompt failed: {e}")))??;
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(CliError::other(format!(
                "the password must have at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        Ok(password)
    }
}

/// Shortest password the admin commands accept.
const MIN_PASSWORD_CHARS: usize = 8;

/// Formats unix seconds as RFC 3339 UTC for listings.
pub(super) fn format_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// Resolves on Ctrl-C or SIGTERM, whichever comes first: how long-running
/// commands learn that they should wind up.
pub(super) async fn stop_requested() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
