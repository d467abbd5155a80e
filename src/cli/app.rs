//! `keygate app ...`: applications that call the legacy REST and OAuth APIs.

use clap::{Args, Subcommand};

use super::CliError;
use super::common::DatabaseArgs;

/// The `keygate app` subcommands.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an application; prints its api_key (app id) and secret.
    Add(AppAddArgs),
    /// List registered applications.
    List(DatabaseArgs),
    /// Remove an application and end all its sessions and tokens.
    Remove(AppRefArgs),
    /// Issue a new secret; the old one and its app tokens stop working.
    RotateSecret(AppRefArgs),
}

/// Arguments of `keygate app add`.
#[derive(Debug, Args)]
pub struct AppAddArgs {
    /// A name shown to users when they sign in to the app.
    pub name: String,
    /// A desktop application: its sessions always get a session secret.
    #[arg(long)]
    pub desktop: bool,
    /// An allowed OAuth redirect URI; its host is also an allowed `next` for login.php.
    #[arg(long = "redirect-uri", value_name = "URL")]
    pub redirect_uris: Vec<String>,
    /// Only accept API calls from these source networks.
    #[arg(long = "allow-ip", value_name = "CIDR")]
    pub allow_ips: Vec<String>,
    /// Limit API calls, e.g. 600/min.
    #[arg(long, value_name = "N/min")]
    pub rate_limit: Option<String>,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

/// An application named by api_key or by name.
#[derive(Debug, Args)]
pub struct AppRefArgs {
    /// The application's api_key or name.
    pub app: String,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

pub(super) async fn run(_cmd: AppCommand) -> Result<(), CliError> {
    Err(CliError::unavailable("application registration (legacy REST API)"))
}
