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

/// A fresh database of either engine with its URL (for a second instance,
/// or raw test set-up), kept alive for the test.
pub struct TestDb {
    /// The URL `keygate` takes.
    pub url: String,
    /// A migrated store on it.
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A new SQLite file in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = sqlite_url(&dir.path().join("keygate.db"));
        TestDb { store: Store::open(&url).await.expect("open SQLite"), url, _dir: Some(dir) }
    }

    /// A new database on the test PostgreSQL.
    pub async fn postgres() -> TestDb {
        let url = fresh_postgres_url().await;
        TestDb { store: Store::open(&url).await.expect("open PostgreSQL"), url, _dir: None }
    }

    /// A pool of its own on the database, as another process would have.
    pub async fn pool(&self) -> sqlx::AnyPool {
        let url = keygate::store::normalize_url(&self.url).expect("test URL").1;
        sqlx::AnyPool::connect(&url).await.expect("connect for test set-up")
    }

    /// Runs one statement of test set-up (ageing a session, planting a row).
    pub async fn execute(&self, sql: &str) {
        let pool = self.pool().await;
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.expect("test set-up statement");
        pool.close().await;
    }

    /// Runs a query whose one row is one BIGINT.
    pub async fn count(&self, sql: &str) -> i64 {
        let pool = self.pool().await;
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&pool).await.expect("test count query");
        pool.close().await;
        n
    }
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

/// Runs each named case as two tests, `NAME::sqlite` and `NAME::postgres`,
/// each on a fresh database:
/// - `on_both_engines!(a, b)`: `async fn a(db: TestDb)`;
/// - `on_both_engines!(store: a, b)`: `async fn a(store: Store)`, the
///   database kept for the length of the test;
/// - `on_both_engines!(url: a, b)`: `fn a(url: &str)` on an empty database
///   (not migrated: the code under test creates the schema).
#[macro_export]
macro_rules! on_both_engines {
    (store: $($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = $crate::common::db::TestDb::sqlite().await;
                super::$case(db.store.clone()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let db = $crate::common::db::TestDb::postgres().await;
                super::$case(db.store.clone()).await;
            }
        }
    )*};
    (url: $($case:ident),* $(,)?) => {$(
        mod $case {
            #[test]
            fn sqlite() {
                let dir = tempfile::tempdir().expect("temp dir");
                super::$case(&$crate::common::db::sqlite_url(&dir.path().join("keygate.db")));
            }
            #[test]
            fn postgres() {
                let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
                let url = runtime.block_on($crate::common::db::fresh_postgres_url());
                drop(runtime);
                super::$case(&url);
            }
        }
    )*};
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$case($crate::common::db::TestDb::sqlite().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$case($crate::common::db::TestDb::postgres().await).await;
            }
        }
    )*};
}
