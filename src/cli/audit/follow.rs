//! `keygate audit --follow`: the entries written after the command started,
//! as they appear, until Ctrl-C or SIGTERM.
//!
//! The follower asks the database once a second for the entries above the
//! highest id it has seen, a page at a time on the primary key, and filters
//! them itself, so that it tracks every id whatever `--user` says. Ids are
//! handed out when an entry is written but become visible when it commits,
//! and on PostgreSQL concurrent writers can commit out of order: an id
//! skipped over may still arrive. [`Seen`] remembers such ids for
//! [`GRACE`] and the follower asks for them again, so a late entry is
//! printed late rather than lost. (A rolled-back write leaves a gap for good;
//! it is forgotten after the grace.)

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use super::{Filter, Halt, PAGE, write_line};
use crate::store::{AuditEntry, MAX_IDS_PER_QUERY, Store, StoreError};

/// How often the database is asked for new entries.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// How long an id skipped over is waited for. Entries are written by one
/// short statement each, so a commit lagging its id by more than this is
/// not going to happen.
const GRACE: Duration = Duration::from_secs(30);

/// Most skipped ids remembered; beyond that the oldest are given up (a
/// sequence that jumped, say after a PostgreSQL crash, is not worth a wait).
const MAX_MISSING: usize = MAX_IDS_PER_QUERY;

/// Which entries a follower has taken: every id up to `last` except those
/// in `missing`, each with the moment it was found skipped.
#[derive(Debug)]
pub(super) struct Seen {
    last: i64,
    missing: BTreeMap<i64, Instant>,
}

impl Seen {
    /// A follower that has taken everything up to `last`.
    pub(super) fn new(last: i64) -> Self {
        Self { last, missing: BTreeMap::new() }
    }

    /// The highest id taken: the next read asks for ids above it.
    pub(super) fn last(&self) -> i64 {
        self.last
    }

    /// The ids skipped over and still awaited, lowest first.
    pub(super) fn missing(&self) -> Vec<i64> {
        self.missing.keys().copied().collect()
    }

    /// Takes the entry with this id, read at `now`: true when it was not
    /// taken before (print it). Ids jumped over become awaited.
    pub(super) fn take(&mut self, id: i64, now: Instant) -> bool {
        if id <= self.last {
            return self.missing.remove(&id).is_some();
        }
        let skipped_from = (self.last + 1).max(id.saturating_sub(MAX_MISSING as i64));
        for skipped in skipped_from..id {
            self.missing.insert(skipped, now);
        }
        while self.missing.len() > MAX_MISSING {
            self.missing.pop_first();
        }
        self.last = id;
        true
    }

    /// Gives up the ids awaited for longer than [`GRACE`].
    pub(super) fn expire(&mut self, now: Instant) {
        self.missing.retain(|_, since| now.saturating_duration_since(*since) < GRACE);
    }
}

/// Prints new entries as they are written, starting above `last_id`, until
/// Ctrl-C or SIGTERM (a clean end) or until the reader goes away.
pub(super) async fn follow(
    store: &Store,
    filter: &Filter<'_>,
    last_id: i64,
    out: &mut impl Write,
    format: super::Format,
) -> Result<(), Halt> {
    let mut seen = Seen::new(last_id);
    let stop = super::super::common::stop_requested();
    tokio::pin!(stop);
    let mut ticker = tokio::time::interval(POLL_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            () = &mut stop => return Ok(()),
            _ = ticker.tick() => {}
        }
        match poll(store, filter, &mut seen, out, format).await {
            Ok(()) if failing => {
                eprintln!("keygate: reading the audit log again");
                failing = false;
            }
            Ok(()) => {}
            // A database outage is waited out, not fatal: a log shipper
            // should not need restarting because the database restarted.
            Err(Polled::Store(e)) if !failing => {
                eprintln!("keygate: cannot read the audit log ({e}); trying again every second");
                failing = true;
            }
            Err(Polled::Store(_)) => {}
            Err(Polled::Halt(halt)) => return Err(halt),
        }
    }
}

/// Why one poll ended early.
enum Polled {
    Store(StoreError),
    Halt(Halt),
}

impl From<StoreError> for Polled {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// One round: the awaited ids first, then every page above the last id.
async fn poll(
    store: &Store,
    filter: &Filter<'_>,
    seen: &mut Seen,
    out: &mut impl Write,
    format: super::Format,
) -> Result<(), Polled> {
    let now = Instant::now();
    let awaited = seen.missing();
    if !awaited.is_empty() {
        let late = store.audit_entries_with_ids(&awaited).await?;
        emit(&late, filter, seen, now, out, format)?;
    }
    loop {
        let page = store.audit_entries_after_id(seen.last(), PAGE).await?;
        emit(&page, filter, seen, now, out, format)?;
        if page.len() < PAGE as usize {
            break;
        }
    }
    seen.expire(now);
    Ok(())
}

/// Takes each entry and prints those new and matching, one flushed line at a time.
fn emit(
    entries: &[AuditEntry],
    filter: &Filter<'_>,
    seen: &mut Seen,
    now: Instant,
    out: &mut impl Write,
    format: super::Format,
) -> Result<(), Polled> {
    for entry in entries {
        if seen.take(entry.id, now) && filter.matches(entry) {
            write_line(out, format, entry).map_err(Polled::Halt)?;
            out.flush().map_err(|e| Polled::Halt(Halt::from(e)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_order_are_taken_once() {
        let now = Instant::now();
        let mut seen = Seen::new(10);
        assert!(!seen.take(9, now) && !seen.take(10, now));
        assert!(seen.take(11, now) && seen.take(12, now));
        assert!(!seen.take(12, now));
        assert_eq!((seen.last(), seen.missing()), (12, vec![]));
    }

    #[test]
    fn a_skipped_id_is_awaited_and_taken_when_it_arrives_late() {
        let now = Instant::now();
        let mut seen = Seen::new(10);
        assert!(seen.take(13, now));
        assert_eq!(seen.missing(), [11, 12]);
        assert!(seen.take(12, now + Duration::from_secs(1)));
        assert!(!seen.take(12, now + Duration::from_secs(1)));
        assert_eq!(seen.missing(), [11]);
        seen.expire(now + GRACE - Duration::from_millis(1));
        assert_eq!(seen.missing(), [11]);
        seen.expire(now + GRACE);
        assert!(seen.missing().is_empty());
        assert!(!seen.take(11, now + GRACE), "given up: a gap for good");
    }

    #[test]
    fn a_jump_is_remembered_only_up_to_the_bound() {
        let now = Instant::now();
        let mut seen = Seen::new(0);
        assert!(seen.take(1_000_000, now));
        let missing = seen.missing();
        assert_eq!(missing.len(), MAX_MISSING);
        assert_eq!(missing.last(), Some(&999_999));
        assert!(!seen.take(5, now));
    }
}
