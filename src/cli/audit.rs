//! `keygate audit`: the audit log, newest first.

use clap::Args;

use super::CliError;
use super::common::DatabaseArgs;

/// Arguments of `keygate audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only events about this user.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Only events since then: an RFC 3339 time, a date, or an age such as 2h, 7d.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

pub(super) async fn run(_args: AuditArgs) -> Result<(), CliError> {
    Err(CliError::unavailable("the audit log"))
}
