//! Fresh databases for tests: a new SQLite file in a temp dir, or a new
//! database with a random name on the throwaway PostgreSQL that `scripts/test`
//! starts (so tests run in parallel without seeing each other's rows).

use std::path::PathBuf;

use keygate::store::Store;
use sqlx::migrate::MigrateDatabase;

/// Where the test PostgreSQL is. Fails (never skips) when it is not set up:
/// a store suite that silently skips PostgreSQL proves nothing about it.
pub fn postgres_admin_url() -> String {
    std::env::var("KEYGATE_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "KEYGATE_TEST_POSTGRES_URL is not set: run scripts/test, which starts a throwaway \
             PostgreSQL and exports it (or export the same variables for your own server)"
        )
    })
}

/// The URL of a new, empty PostgreSQL database on the test server.
pub async fn fresh_postgres_url() -> String {
    let admin = postgres_admin_url();
    let (base, query) = admin.split_once('?').map_or((admin.as_str(), None), |(b, q)| (b, Some(q)));
    let (server, _db) = base.rsplit_once('/').expect("database URL has a /database part");
    let name = format!("kg_test_{}", keygate::secrets::random_hex(8));
    let url = match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    };
    sqlx::any::install_default_drivers();
    sqlx::Any::create_database(&url).await.expect("CREATE DATABASE on the test PostgreSQL");
    url
}

/// A migrated store on a new PostgreSQL database.
pub async fn postgres() -> Store {
    Store::open(&fresh_postgres_url().await).await.expect("open the test PostgreSQL database")
}

/// A migrated store on a new SQLite file; keep the directory alive while the
/// store is used.
pub async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir.path().join("keygate.db"));
    (Store::open(&url).await.expect("open the test SQLite database"), dir)
}

/// The `sqlite:` URL of a file.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite:{}", path.display())
}

/// How to stop and start PostgreSQL servers for outage tests.
pub struct PgTools {
    /// Directory of `initdb`, `pg_ctl`, `createdb`.
    pub bin: PathBuf,
    /// The user the server must run as (empty: the current user).
    pub runas: String,
}

impl PgTools {
    /// From the variables `scripts/test` exports; fails loudly when unset.
    pub fn from_env() -> Self {
        let bin = std::env::var("KEYGATE_TEST_PG_BIN").unwrap_or_else(|_| {
            panic!("KEYGATE_TEST_PG_BIN is not set: run scripts/test, which finds PostgreSQL and exports it")
        });
        Self { bin: bin.into(), runas: std::env::var("KEYGATE_TEST_PG_RUNAS").unwrap_or_default() }
    }

    /// A command for a PostgreSQL tool, run as the server's user.
    pub fn command(&self, tool: &str) -> std::process::Command {
        let program = self.bin.join(tool);
        if self.runas.is_empty() {
            std::process::Command::new(program)
        } else {
            let mut cmd = std::process::Command::new("runuser");
            cmd.arg("-u").arg(&self.runas).arg("--").arg(program);
            cmd
        }
    }

    /// Runs a tool to completion and fails the test with its output if it fails.
    pub fn run(&self, tool: &str, args: &[&str]) {
        let output = self.command(tool).args(args).output().unwrap_or_else(|e| panic!("run {tool}: {e}"));
        assert!(
            output.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
