//! `keygate audit` as operators and log shippers use it, end to end on
//! SQLite and PostgreSQL: the JSON Lines format, listings longer than a
//! page, `--follow` seeing entries written by other processes, the
//! per-event counters on a real server's `/metrics`, and the retention
//! purge.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::db::TestDb;
use keygate::store::{AuditEvent, AuditFilter, NewAuditEntry, Store};

/// The fields of a `--format json` line.
const JSON_FIELDS: [&str; 8] = ["detail", "event", "id", "source", "time", "uid", "unix", "user"];

/// How long a follower may take to print an entry (it polls every second).
const PATIENCE: Duration = Duration::from_secs(20);

fn ok(url: &str, args: &[&str]) -> String {
    common::keygate_ok(&[args, &["--database", url]].concat(), "")
}

fn add_user(url: &str, name: &str) -> i64 {
    common::add_user(url, name, "correct horse battery").parse().expect("numeric uid")
}

/// Each line of `--format json` output as an object with exactly the documented fields.
fn json_lines(output: &str) -> Vec<serde_json::Value> {
    output
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
            let mut keys: Vec<&str> =
                value.as_object().expect("an object").keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, JSON_FIELDS, "{line}");
            value
        })
        .collect()
}

/// A running `keygate audit --follow`, its output lines arriving on a channel.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(url: &str, extra: &[&str]) -> Follower {
        let mut child = common::keygate()
            .args(["audit", "--follow", "--database", url])
            .args(extra)
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn keygate audit --follow");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Follower { child, lines }
    }

    /// The next line, failing the test when none comes in time.
    fn next(&self) -> String {
        self.lines.recv_timeout(PATIENCE).expect("the follower prints the entry")
    }

    /// Waits for the process to end after a signal; its exit status.
    fn stop(mut self, signal: &str) -> std::process::ExitStatus {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
        wait(&mut self.child)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            return status;
        }
        assert!(Instant::now() < deadline, "keygate audit did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

crate::on_both_engines!(url: json_lines_and_follow);

fn json_lines_and_follow(url: &str) {
    let alice = add_user(url, "alice");

    let listed = json_lines(&ok(url, &["audit", "--format", "json"]));
    assert_eq!(listed.len(), 1, "{listed:?}");
    let entry = &listed[0];
    assert_eq!(entry["event"], "admin.user.add");
    assert_eq!(entry["user"], "alice");
    assert_eq!(entry["uid"], alice);
    assert_eq!(entry["source"], format!("cli:{}", common::os_user()));
    assert_eq!(entry["detail"], "created by an administrator");
    assert!(entry["id"].is_i64() && entry["unix"].is_i64(), "{entry}");
    let time = time::OffsetDateTime::parse(
        entry["time"].as_str().expect("time is text"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time is RFC 3339");
    assert_eq!(time.unix_timestamp(), entry["unix"].as_i64().unwrap());
    assert!(entry["time"].as_str().unwrap().ends_with('Z'), "UTC: {entry}");
    // Nothing matches: no lines at all in JSON, a sentence in the table.
    assert_eq!(ok(url, &["audit", "--format", "json", "--user", "bob"]), "");
    assert_eq!(ok(url, &["audit", "--user", "bob"]), "no audit entries\n");

    // A shipper following everything, and one following bob. Whether bob's
    // first entry comes before the follower started (then it is in the
    // backlog) or after, it is printed exactly once.
    let everything = Follower::start(url, &["--format", "json"]);
    let backlog = json_lines(&everything.next());
    assert_eq!(
        (backlog[0]["event"].as_str(), backlog[0]["user"].as_str()),
        (Some("admin.user.add"), Some("alice"))
    );
    let bobs = Follower::start(url, &["--user", "bob"]);
    std::thread::sleep(Duration::from_millis(1500));

    let bob = add_user(url, "bob");
    let seen = json_lines(&everything.next());
    assert_eq!((seen[0]["event"].as_str(), seen[0]["uid"].as_i64()), (Some("admin.user.add"), Some(bob)));
    assert!(seen[0]["id"].as_i64() > backlog[0]["id"].as_i64());
    let line = bobs.next();
    let source = format!("  bob  admin.user.add  cli:{}  ", common::os_user());
    assert!(line.contains(&source), "{line}");

    add_user(url, "carol");
    ok(url, &["user", "disable", "bob"]);
    let events: Vec<String> =
        (0..2).map(|_| json_lines(&everything.next())[0]["event"].as_str().unwrap().to_owned()).collect();
    assert_eq!(events, ["admin.user.add", "admin.user.disable"]);
    // carol's entry came in between and was left out.
    let line = bobs.next();
    let source = format!("  bob  admin.user.disable  cli:{}  ", common::os_user());
    assert!(line.contains(&source), "{line}");

    assert!(everything.stop("TERM").success(), "SIGTERM ends a follow cleanly");
    assert!(bobs.stop("INT").success(), "so does Ctrl-C");

    // A reader that goes away ends the follower quietly at its next line
    // (dave's entry: new, or in the backlog if the follower started late).
    let mut gone = common::keygate()
        .args(["audit", "--follow", "--user", "dave", "--database", url])
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keygate audit --follow");
    drop(gone.stdout.take());
    std::thread::sleep(Duration::from_millis(1500));
    add_user(url, "dave");
    let status = wait(&mut gone);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut gone.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success() && stderr.is_empty(), "{status}: {stderr}");
}

crate::on_both_engines!(url: listings_page_through_large_logs);

/// More entries than one page, listed newest first, the newest N, and
/// followed from the last N, in constant memory and without repeats.
fn listings_page_through_large_logs(url: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let store = runtime.block_on(Store::open(url)).expect("open the database");
    let now = keygate::clock::unix_now();
    runtime.block_on(async {
        for i in 0..1203_i64 {
            // Several entries share each second, so pages split within one.
            let detail = format!("entry {i}");
            let entry =
                NewAuditEntry { event: AuditEvent::Login.as_str(), detail: &detail, ..Default::default() };
            store.audit(&entry, now - 200 + i / 7).await.expect("write an entry");
        }
    });
    let all = json_lines(&ok(url, &["audit", "--format", "json"]));
    let details: Vec<&str> = all.iter().map(|e| e["detail"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..1203).rev().map(|i| format!("entry {i}")).collect();
    assert_eq!(details, expected);
    let newest = json_lines(&ok(url, &["audit", "--format", "json", "--lines", "501"]));
    assert_eq!(newest.len(), 501);
    assert_eq!(newest[500]["detail"], "entry 702");
    // A reader that stops early (`| head`) ends the listing quietly.
    let mut listing = common::keygate()
        .args(["audit", "--database", url])
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn keygate audit");
    drop(listing.stdout.take());
    let out = listing.wait_with_output().expect("keygate audit runs");
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    let follower = Follower::start(url, &["--format", "json", "--lines", "502"]);
    let first = json_lines(&follower.next());
    assert_eq!(first[0]["detail"], "entry 701");
    let rest: Vec<String> = (0..501).map(|_| follower.next()).collect();
    assert_eq!(json_lines(&rest[500])[0]["detail"], "entry 1202");
    drop(follower);
    // --since: every entry since then, oldest first (of a second's seven, the first).
    let since = time::OffsetDateTime::from_unix_timestamp(now - 100)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let follower = Follower::start(url, &["--format", "json", "--since", &since]);
    assert_eq!(json_lines(&follower.next())[0]["detail"], "entry 700");
    let rest: Vec<String> = (0..502).map(|_| follower.next()).collect();
    assert_eq!(json_lines(&rest[501])[0]["detail"], "entry 1202");
}

#[test]
fn retention_purge_sqlite() {
    tokio::runtime::Runtime::new().unwrap().block_on(async { retention_purge(TestDb::sqlite().await).await });
}

#[test]
fn retention_purge_postgres() {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { retention_purge(TestDb::postgres().await).await });
}

/// The purge deletes entries older than the retention, however many, in
/// batches, and keeps the rest.
async fn retention_purge(db: TestDb) {
    let day = 86_400;
    let now = 2_000_000_000;
    let retention = Duration::from_secs(400 * day as u64);
    // A backlog of several batches, planted in one statement.
    db.execute(&format!(
        "INSERT INTO audit_log (at, event, detail) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12345) \
         SELECT {} - i, 'login', 'old' FROM n",
        now - 401 * day
    ))
    .await;
    for (age, detail) in
        [(400 * day + 1, "just too old"), (400 * day, "just kept"), (399 * day, "recent"), (0, "now")]
    {
        let entry = NewAuditEntry { event: "login", detail, ..Default::default() };
        db.store.audit(&entry, now - age).await.unwrap();
    }
    let report = db.store.purge(now, retention).await.unwrap();
    assert_eq!(report.audit_entries, 12_346);
    let kept: Vec<String> = db
        .store
        .audit_entries(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert_eq!(kept, ["now", "recent", "just kept"]);
    assert_eq!(db.store.purge(now, retention).await.unwrap().audit_entries, 0);
}

crate::on_both_engines!(url: served_events_are_counted_and_old_ones_purged);

/// `/metrics` lists every audit event from the start and counts those the
/// server writes; the server's purge task applies `audit_retention`.
fn served_events_are_counted_and_old_ones_purged(url: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let store = runtime.block_on(Store::open(url)).expect("open the database");
    let now = keygate::clock::unix_now();
    runtime.block_on(async {
        for (age, detail) in [(31 * 86_400, "old"), (29 * 86_400, "kept")] {
            let entry = NewAuditEntry { event: "login", detail, ..Default::default() };
            store.audit(&entry, now - age).await.unwrap();
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let addr = common::free_addr();
    let server = common::Server::start(dir.path(), addr, |cmd| {
        cmd.args(["--database", url, "--listen", &addr.to_string()])
            .env("KEYGATE_PURGE_INTERVAL_SECS", "1")
            .env("KEYGATE_AUDIT_RETENTION", "30d");
    });
    let http = reqwest::blocking::Client::new();
    let scrape = || http.get(format!("{}/metrics", server.url())).send().unwrap().text().unwrap();
    let metrics = scrape();
    for series in [
        r#"keygate_audit_events_total{event="login_failed"} 0"#,
        r#"keygate_audit_events_total{event="clone_alarm"} 0"#,
        r#"keygate_audit_events_total{event="admin.user.add"} 0"#,
    ] {
        assert!(metrics.lines().any(|l| l == series), "{series} missing from {metrics}");
    }

    let refused = http
        .post(format!("{}/api/v1/login", server.url()))
        .json(&serde_json::json!({"username": "nobody", "password": "not the password"}))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 401);
    let metrics = scrape();
    assert!(
        metrics.lines().any(|l| l == r#"keygate_audit_events_total{event="login_failed"} 1"#),
        "{metrics}"
    );
    let failed = json_lines(&ok(url, &["audit", "--format", "json", "--since", "1h"]));
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["event"], "login_failed");
    assert_eq!(failed[0]["source"], "127.0.0.1");
    assert!(failed[0]["user"].is_null() && failed[0]["uid"].is_null(), "{failed:?}");

    let deadline = Instant::now() + PATIENCE;
    loop {
        let details: Vec<String> = runtime
            .block_on(store.audit_entries(&AuditFilter::default()))
            .unwrap()
            .into_iter()
            .map(|e| e.detail)
            .collect();
        if !details.iter().any(|d| d == "old") {
            assert!(details.iter().any(|d| d == "kept"), "{details:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the purge task left {details:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let deadline = Instant::now() + PATIENCE;
    while !server.logged().contains("deleted audit entries older than the retention") {
        assert!(Instant::now() < deadline, "{}", server.logged());
        std::thread::sleep(Duration::from_millis(100));
    }
}
