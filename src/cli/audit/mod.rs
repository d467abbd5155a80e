//! `keygate audit`: the audit log for people (a table, newest first) and for
//! programs (JSON Lines), listed once or followed as it is written.
//!
//! Every read is a page of [`PAGE`] entries on an index, so a listing of a
//! large log runs in constant memory, and output goes to standard output a
//! line at a time: a closed pipe (`keygate audit | head`) ends the command
//! quietly.

mod follow;
mod render;

use std::io::{self, BufWriter, Write};

use clap::Args;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::CliError;
use super::common::DatabaseArgs;
use crate::clock::unix_now;
use crate::store::{AuditCursor, AuditEntry, AuditFilter, AuditOrder, Store};

use render::Format;

/// Arguments of `keygate audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Only events about this user.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Only events since then: an RFC 3339 time, a date, or an age such as 2h, 7d.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Output format: table (for people) or json (JSON Lines, for programs).
    ///
    /// json prints one JSON object per line, with the fields "id" (number,
    /// increasing in the order entries are written), "time" (RFC 3339,
    /// UTC), "unix" (the same instant in unix seconds), "event" (such as
    /// "login_failed" or "admin.user.add"), "user" (login name), "uid"
    /// (numeric user id), "source" (client address, or "cli" for admin
    /// commands) and "detail" (free text, possibly empty). Every line has
    /// every field; "user", "uid" and "source" are null when absent. Fields
    /// may be added, never renamed or removed.
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    pub format: Format,
    /// Keep running and print entries as they are written, oldest first.
    ///
    /// First prints the last 10 matching entries (or --lines N; with
    /// --since, every entry since then), oldest first, then each new entry
    /// as it is written, checking every second and flushing every line,
    /// until Ctrl-C or SIGTERM (exit status 0) or until its reader goes
    /// away. New entries appear in the order they are written; one written
    /// concurrently on PostgreSQL may appear up to a second late, after a
    /// higher "id".
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only the newest N matching entries (with --follow: before following;
    /// 0 shows only new ones).
    #[arg(long, short = 'n', value_name = "N")]
    pub lines: Option<u32>,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

/// Entries per query.
const PAGE: u32 = 500;

/// Entries shown before following when neither --lines nor --since says.
const FOLLOW_BACKLOG: u32 = 10;

pub(super) async fn run(args: AuditArgs) -> Result<(), CliError> {
    let since = args.since.as_deref().map(|s| parse_since(s, unix_now())).transpose()?;
    let filter = Filter { user: args.user.as_deref(), since };
    let store = args.db.open().await?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let shown = if args.follow {
        follow_log(&store, &filter, &args, &mut out).await
    } else {
        list(&store, &filter, args.lines, args.format, &mut out).await
    };
    let shown = shown.and_then(|()| out.flush().map_err(Halt::from));
    match shown {
        Ok(()) | Err(Halt::ReaderGone) => Ok(()),
        Err(Halt::Failed(e)) => Err(e),
    }
}

/// Which entries the command shows, for the queries and for the follower,
/// which filters what it reads itself.
#[derive(Clone, Copy, Debug)]
struct Filter<'a> {
    user: Option<&'a str>,
    since: Option<i64>,
}

impl Filter<'_> {
    /// The store query for it: in `order`, after `after`, at most `limit`.
    fn query(
        &self,
        order: AuditOrder,
        after: Option<AuditCursor>,
        limit: u32,
        up_to_id: Option<i64>,
    ) -> AuditFilter<'_> {
        AuditFilter { user_name: self.user, since: self.since, limit: Some(limit), order, after, up_to_id }
    }

    /// Whether an entry read without the filter passes it.
    fn matches(&self, entry: &AuditEntry) -> bool {
        self.user.is_none_or(|user| entry.user_name.as_deref() == Some(user))
            && self.since.is_none_or(|since| entry.at >= since)
    }
}

/// Why output stopped before the end.
#[derive(Debug)]
enum Halt {
    /// The reader closed the pipe: nobody is left to tell, stop quietly.
    ReaderGone,
    /// Anything else, reported as usual.
    Failed(CliError),
}

impl From<io::Error> for Halt {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Self::ReaderGone
        } else {
            Self::Failed(CliError::other(format!("cannot write the audit log: {e}")))
        }
    }
}

fn db_error(e: crate::store::StoreError) -> Halt {
    Halt::Failed(CliError::other(e.to_string()))
}

fn write_line(out: &mut impl Write, format: Format, entry: &AuditEntry) -> Result<(), Halt> {
    render::write_entry(out, format, entry).map_err(Halt::from)
}

/// The one-shot listing: newest first, page by page, at most `lines`.
async fn list(
    store: &Store,
    filter: &Filter<'_>,
    lines: Option<u32>,
    format: Format,
    out: &mut impl Write,
) -> Result<(), Halt> {
    let mut left = lines.unwrap_or(u32::MAX);
    let mut after = None;
    let mut any = false;
    while left > 0 {
        let want = left.min(PAGE);
        let page = store
            .audit_entries(&filter.query(AuditOrder::NewestFirst, after, want, None))
            .await
            .map_err(db_error)?;
        for entry in &page {
            write_line(out, format, entry)?;
        }
        any |= !page.is_empty();
        left -= u32::try_from(page.len()).unwrap_or(want);
        match page.last() {
            Some(last) if page.len() == want as usize => after = Some(last.cursor()),
            _ => break,
        }
    }
    if !any && format == Format::Table {
        writeln!(out, "no audit entries")?;
    }
    Ok(())
}

/// `--follow`: the backlog, oldest first, then new entries as they come.
async fn follow_log(
    store: &Store,
    filter: &Filter<'_>,
    args: &AuditArgs,
    out: &mut impl Write,
) -> Result<(), Halt> {
    // Everything up to this id is the backlog's, everything above the follower's.
    let last_id = store.audit_last_id().await.map_err(db_error)?;
    let backlog = args.lines.or(if filter.since.is_some() { None } else { Some(FOLLOW_BACKLOG) });
    let start = match backlog {
        None => None,
        Some(0) => return follow::follow(store, filter, last_id, out, args.format).await,
        Some(n) => newest_start(store, filter, n, last_id).await?,
    };
    let mut after = start;
    loop {
        let page = store
            .audit_entries(&filter.query(AuditOrder::OldestFirst, after, PAGE, Some(last_id)))
            .await
            .map_err(db_error)?;
        for entry in &page {
            write_line(out, args.format, entry)?;
        }
        out.flush()?;
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = Some(last.cursor()),
            _ => break,
        }
    }
    follow::follow(store, filter, last_id, out, args.format).await
}

/// Where the newest `n` matching entries up to `last_id` start, for an
/// oldest-first listing: the cursor of the entry just before them, or
/// `None` when there are no more than `n`. Walks newest first a page at a
/// time, keeping nothing but the position.
async fn newest_start(
    store: &Store,
    filter: &Filter<'_>,
    n: u32,
    last_id: i64,
) -> Result<Option<AuditCursor>, Halt> {
    let mut left = u64::from(n) + 1;
    let mut after = None;
    loop {
        let want = u32::try_from(left.min(u64::from(PAGE))).unwrap_or(PAGE);
        let page = store
            .audit_entries(&filter.query(AuditOrder::NewestFirst, after, want, Some(last_id)))
            .await
            .map_err(db_error)?;
        let Some(last) = page.last() else { return Ok(None) };
        left -= page.len() as u64;
        if left == 0 {
            return Ok(Some(last.cursor()));
        }
        if page.len() < want as usize {
            return Ok(None);
        }
        after = Some(last.cursor());
    }
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

    #[test]
    fn the_follower_filters_as_the_queries_do() {
        let entry = AuditEntry {
            id: 1,
            at: 100,
            user_id: None,
            user_name: Some("alice".into()),
            event: "login".into(),
            detail: String::new(),
            source: None,
        };
        assert!(Filter { user: None, since: None }.matches(&entry));
        assert!(Filter { user: Some("alice"), since: Some(100) }.matches(&entry));
        assert!(!Filter { user: Some("bob"), since: None }.matches(&entry));
        assert!(!Filter { user: None, since: Some(101) }.matches(&entry));
        assert!(
            !Filter { user: Some("alice"), since: None }.matches(&AuditEntry { user_name: None, ..entry })
        );
    }
}
