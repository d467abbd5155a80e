//! `keygate audit`: the audit log, newest first.

use clap::Args;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::CliError;
use super::common::{DatabaseArgs, format_time};
use crate::clock::unix_now;
use crate::store::AuditFilter;

/// Arguments of `keygate audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Only events about this user.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Only events since then: an RFC 3339 time, a date, or an age such as 2h, 7d.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

pub(super) async fn run(args: AuditArgs) -> Result<(), CliError> {
    let now = unix_now();
    let since = args.since.as_deref().map(|s| parse_since(s, now)).transpose()?;
    let store = args.db.open().await?;
    let filter = AuditFilter { user_name: args.user.as_deref(), since, limit: None };
    let entries = store.audit_entries(&filter).await.map_err(|e| CliError::other(e.to_string()))?;
    if entries.is_empty() {
        println!("no audit entries");
    }
    for e in entries {
        let user = e.user_name.as_deref().unwrap_or("-");
        let source = e.source.as_deref().unwrap_or("-");
        println!("{}  {user}  {}  {source}  {}", format_time(e.at), e.event, e.detail);
    }
    Ok(())
}

/// `--since`: an RFC 3339 time, a date (midnight UTC), or an age before `now`
/// in humantime's syntax (`90s`, `2h`, `7d`, `1h 30m`).
fn parse_since(text: &str, now: i64) -> Result<i64, CliError> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    if let Ok(d) = Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")) {
        return Ok(d.midnight().assume_utc().unix_timestamp());
    }
    if let Ok(age) = humantime::parse_duration(text) {
        return Ok(now.saturating_sub(i64::try_from(age.as_secs()).unwrap_or(i64::MAX)));
    }
    Err(CliError::other(format!(
        "invalid --since {text:?}: use an RFC 3339 time (2026-01-31T12:00:00Z), a date (2026-01-31) or an age (2h, 7d)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_times_dates_and_ages() {
        let now = 1_800_000_000;
        assert_eq!(parse_since("2026-01-31T12:00:00Z", now).unwrap(), 1_769_860_800);
        assert_eq!(parse_since("2026-01-31T13:00:00+01:00", now).unwrap(), 1_769_860_800);
        assert_eq!(parse_since("2026-01-31", now).unwrap(), 1_769_817_600);
        assert_eq!(parse_since("2h", now).unwrap(), now - 7200);
        assert_eq!(parse_since("7d", now).unwrap(), now - 7 * 86400);
        assert!(parse_since("yesterday-ish", now).is_err());
    }
}
