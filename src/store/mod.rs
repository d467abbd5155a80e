//! The database: every SQL statement keygate runs lives under this module.
//!
//! One [`Store`] talks to SQLite (the default, a file next to the service,
//! WAL mode) or PostgreSQL (many instances sharing one database). Both run the
//! same statements through sqlx's `Any` driver: the SQL is written once in the
//! dialect both accept (`$1` placeholders, `ON CONFLICT`, `RETURNING`), and
//! only the schema differs, in `migrations/sqlite/` and `migrations/postgres/`,
//! applied at start-up.
//!
//! Rules every method follows:
//! - time is an argument (`now`, unix seconds), never read from the clock, so
//!   tests control expiry;
//! - single-use things are consumed by one conditional `UPDATE … RETURNING`,
//!   so exactly one of any number of concurrent callers wins and the others get
//!   [`StoreError::AlreadyUsed`], never a lock error;
//! - key counters move only forwards, compare-and-set in the `WHERE` clause;
//! - bearer tokens arrive already hashed ([`crate::secrets::TokenHash`]).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod app_tokens;
mod apps;
mod audit;
mod audit_event;
mod challenges;
mod credentials;
mod error;
mod purge;
mod ratelimit;
mod reads;
mod recovery;
mod row;
mod sessions;
mod users;
mod values;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, AssertSqlSafe, Executor};

pub use app_tokens::{AppToken, AppTokenKind, NewAppToken, RevokeReason};
pub use apps::{App, AppSettings, NewApp};
pub use audit::{AuditCursor, AuditEntry, AuditFilter, AuditOrder, MAX_IDS_PER_QUERY, NewAuditEntry};
pub use audit_event::AuditEvent;
pub(crate) use audit_event::register_audit_metrics;
pub use challenges::{Challenge, ChallengePurpose, NewChallenge};
pub(crate) use credentials::Enrolment;
pub use credentials::{CounterUpdate, Credential, KeyRemoval, NewCredential};
pub use error::StoreError;
pub(crate) use purge::{KNOWN_NETWORK_KEEP_SECS, spawn_purge_task};
pub use purge::{PurgeReport, TOKEN_KEEP_SECS};
pub use ratelimit::RateLimitHit;
pub use recovery::Redemption;
pub use sessions::{NewSession, SEEN_RESOLUTION_SECS, Session};
pub use users::{NewUser, User, UserSummary};
pub use values::{SessionKind, Transport, UnknownValue};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// The database engines keygate runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// An embedded SQLite file: one machine, nothing to install.
    Sqlite,
    /// A PostgreSQL server: several keygate instances share it.
    Postgres,
}

/// Pool tuning; the defaults suit one instance.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Most connections open at once.
    pub max_connections: u32,
    /// How long a query waits for a connection (connecting included) before
    /// the database counts as unavailable; short, so clients get a quick 503.
    pub acquire_timeout: Duration,
    /// How long opening the database may take (the first connection, a new
    /// SQLite file switching to WAL, migrations) before it is given up.
    pub startup_timeout: Duration,
    /// How long SQLite waits for another writer before giving up.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_millis(800),
            startup_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// Connection use at one moment, for the `/metrics` gauges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoolStats {
    /// Connections open (busy or idle).
    pub open: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// The configured ceiling.
    pub max: u32,
}

/// The database handle: cheap to clone, shared by every request.
///
/// On SQLite, writes go through one connection and reads through read-only
/// connections beside it: in WAL mode readers never wait for the writer, and
/// writers queue in the process (in order, without SQLite's sleeping busy
/// handler) instead of taking turns at the file lock. The checks made on
/// every request read on the caller's thread (see `reads`), the rest through
/// a pool. A read starts after every write that returned before it, so a
/// revocation is seen by the very next check. On PostgreSQL all of it is the
/// one pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// SQLite's read-only connections; `None` where reads share `pool`.
    readers: Option<AnyPool>,
    /// SQLite's inline readers of the hot checks; `None` where those use
    /// the pools too.
    inline: Option<Arc<reads::InlineReads>>,
    engine: Engine,
    max_connections: u32,
}

impl Store {
    /// Opens (creating an SQLite file when missing) and migrates the database
    /// at `url` with default pool settings.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, &StoreOptions::default()).await
    }

    /// Opens and migrates the database at `url`: `sqlite:PATH`, a bare path,
    /// `sqlite::memory:`, or `postgres://USER@HOST/DB[?host=/socket/dir]`.
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (engine, url) = normalize_url(url)?;
        let connect: AnyConnectOptions = url.parse().map_err(StoreError::Internal)?;
        let migrator = match engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        let classify = |e| StoreError::classify(e, "database");
        if url == "sqlite::memory:" {
            // Each connection to :memory: is its own database: keep exactly one, forever.
            let pool = pool_options(engine, options, options.startup_timeout)
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(connect)
                .await
                .map_err(classify)?;
            migrator.run(&pool).await?;
            return Ok(Self { pool, readers: None, inline: None, engine, max_connections: 1 });
        }
        // Opening may be slow (a new file, a server starting up); serving
        // must not wait long. So one connection with the patient timeout
        // migrates, and the serving pool connects on demand with the short one.
        let opening = pool_options(engine, options, options.startup_timeout)
            .max_connections(1)
            .connect_with(connect.clone())
            .await
            .map_err(classify)?;
        migrator.run(&opening).await?;
        opening.close().await;
        let serving = pool_options(engine, options, options.acquire_timeout);
        if engine == Engine::Sqlite {
            let pool = serving.max_connections(1).connect_lazy_with(connect.clone());
            let readers = Some(sqlite_readers(options).connect_lazy_with(connect));
            let inline = match sqlite_path(&url) {
                Some(path) => Some(Arc::new(reads::InlineReads::open(
                    &path,
                    options.acquire_timeout,
                    usize::try_from(options.max_connections).unwrap_or(usize::MAX),
                )?)),
                None => None,
            };
            return Ok(Self { pool, readers, inline, engine, max_connections: options.max_connections + 1 });
        }
        let pool = serving.connect_lazy_with(connect);
        Ok(Self { pool, readers: None, inline: None, engine, max_connections: options.max_connections })
    }

    /// Which engine this store runs on.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// A cheap round trip, for health checks: fails with
    /// [`StoreError::Unavailable`] while the database is down.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.read()).await?;
        Ok(())
    }

    /// Current connection use (writer and readers together).
    pub(crate) fn pool_stats(&self) -> PoolStats {
        let (mut open, mut idle) = (self.pool.size(), self.pool.num_idle());
        if let Some(readers) = &self.readers {
            open += readers.size();
            idle += readers.num_idle();
        }
        if let Some(inline) = &self.inline {
            let (inline_open, inline_idle) = inline.stats();
            open += inline_open;
            idle += inline_idle;
        }
        PoolStats { open, idle: u32::try_from(idle).unwrap_or(u32::MAX), max: self.max_connections }
    }

    /// Closes every connection; later calls fail. For orderly shutdown.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(readers) = &self.readers {
            readers.close().await;
        }
        if let Some(inline) = &self.inline {
            inline.close();
        }
    }

    /// Where reads go: SQLite's readers, else the one pool.
    fn read(&self) -> &AnyPool {
        self.readers.as_ref().unwrap_or(&self.pool)
    }
}

/// The pool settings of both engines: size, timeouts, a liveness test before
/// a connection is handed out, and SQLite's pragmas on every new connection.
fn pool_options(engine: Engine, options: &StoreOptions, acquire_timeout: Duration) -> AnyPoolOptions {
    let busy_ms = options.busy_timeout.as_millis();
    let pool =
        AnyPoolOptions::new().max_connections(options.max_connections).acquire_timeout(acquire_timeout);
    if engine != Engine::Sqlite {
        // A server connection can die with the server: test it first.
        return pool.test_before_acquire(true);
    }
    // A file does not drop connections; a test would be one more round trip
    // through the connection's worker thread for every statement.
    pool.test_before_acquire(false).after_connect(move |conn, _meta| {
        Box::pin(async move {
            // busy_timeout first, so the WAL switch waits for other
            // connections instead of failing.
            conn.execute(AssertSqlSafe(format!("PRAGMA busy_timeout = {busy_ms}"))).await?;
            conn.execute("PRAGMA journal_mode = WAL").await?;
            conn.execute("PRAGMA synchronous = NORMAL").await?;
            conn.execute("PRAGMA foreign_keys = ON").await?;
            Ok(())
        })
    })
}

/// SQLite's read-only connections (see [`Store`]): WAL is already on (the
/// writer switched the file at start-up), and `query_only` makes a write
/// slipped onto this pool an error instead of a second writer.
fn sqlite_readers(options: &StoreOptions) -> AnyPoolOptions {
    let busy_ms = options.busy_timeout.as_millis();
    AnyPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(AssertSqlSafe(format!("PRAGMA busy_timeout = {busy_ms}"))).await?;
                conn.execute("PRAGMA query_only = ON").await?;
                Ok(())
            })
        })
}

/// Splits a configured database URL into the engine and the URL sqlx takes.
/// A bare path or `sqlite:PATH` is an SQLite file created when missing.
pub fn normalize_url(url: &str) -> Result<(Engine, String), StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Engine::Postgres, url.to_owned()));
    }
    if url == "sqlite::memory:" || url == ":memory:" {
        return Ok((Engine::Sqlite, "sqlite::memory:".to_owned()));
    }
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    if path.is_empty() || (path.contains("://") && !url.starts_with("sqlite:")) {
        return Err(StoreError::UnsupportedUrl(redact_url(url)));
    }
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut params = vec!["mode=rwc".to_owned()];
    params.extend(query.split('&').filter(|p| !p.is_empty() && !p.starts_with("mode=")).map(str::to_owned));
    Ok((Engine::Sqlite, format!("sqlite://{path}?{}", params.join("&"))))
}

/// The SQLite file a URL names, if it names one (used to put the key file next to it).
pub(crate) fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    match normalize_url(url) {
        Ok((Engine::Sqlite, url)) if url != "sqlite::memory:" => {
            let rest = url.strip_prefix("sqlite://")?;
            Some(rest.split_once('?').map_or(rest, |(p, _)| p).into())
        }
        _ => None,
    }
}

/// The URL with any password replaced by `***`, safe for messages and logs.
pub(crate) fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        // Not a URL (a bare SQLite path, or garbage): where it looks like
        // one, hide anything that could be credentials, up to the last '@'.
        return match url.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.rsplit_once('@')?.1)))
        {
            Some((scheme, host)) => format!("{scheme}://***@{host}"),
            None => url.to_owned(),
        };
    };
    if parsed.password().is_some() {
        // Fails only for URLs that cannot have a password at all.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(key, _)| key == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if key == "password" { "***".to_owned() } else { value.into_owned() };
                (key.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// A column list (`"id, name"`) qualified by a table alias and renamed with a
/// prefix (`"u.id AS u_id, u.name AS u_name"`), for joins of tables whose
/// column names collide.
fn qualified(columns: &str, alias: &str, prefix: &str) -> String {
    columns
        .split(',')
        .map(str::trim)
        .map(
            |c| {
                if prefix.is_empty() { format!("{alias}.{c}") } else { format!("{alias}.{c} AS {prefix}{c}") }
            },
        )
        .collect::<Vec<_>>()
        .join(", ")
}

/// Converts an unsigned count or counter read from a BIGINT column.
fn to_u32(value: i64, what: &'static str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt { what, detail: format!("{value} out of range") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_engine() {
        assert_eq!(
            normalize_url("keygate.db").unwrap(),
            (Engine::Sqlite, "sqlite://keygate.db?mode=rwc".into())
        );
        assert_eq!(
            normalize_url("sqlite:/var/lib/k.db").unwrap(),
            (Engine::Sqlite, "sqlite:///var/lib/k.db?mode=rwc".into())
        );
        assert_eq!(normalize_url("postgres://u@h/db").unwrap().0, Engine::Postgres);
        assert!(normalize_url("mysql://u@h/db").is_err());
        assert_eq!(sqlite_path("sqlite:data/k.db").unwrap(), std::path::PathBuf::from("data/k.db"));
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact_url("postgres://kg:hunter2@db/kg"), "postgres://kg:***@db/kg");
        assert_eq!(redact_url("postgres://kg@db/kg"), "postgres://kg@db/kg");
        assert_eq!(
            redact_url("postgres://kg@db/kg?password=hunter2&sslmode=require"),
            "postgres://kg@db/kg?password=***&sslmode=require"
        );
        assert_eq!(redact_url("postgres://kg:p@ss@db/kg"), "postgres://kg:***@db/kg");
        assert_eq!(redact_url("sqlite:/var/lib/keygate.db"), "sqlite:/var/lib/keygate.db");
        assert_eq!(redact_url("/srv/a@b/keygate.db"), "/srv/a@b/keygate.db");
        assert_eq!(redact_url("postgres://kg:hunter2@[::1"), "postgres://***@[::1");
        let refused = normalize_url("mysql://root:hunter2@db/kg").unwrap_err().to_string();
        assert!(!refused.contains("hunter2"), "{refused}");
    }
}
