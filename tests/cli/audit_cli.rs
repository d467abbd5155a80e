//! `keygate audit` as operators and log shippers use it, end to end on
//! SQLite and PostgreSQL: the JSON Lines format and listings longer than
//! a page.

use crate::common;

use keygate::store::{AuditEvent, NewAuditEntry, Store};

/// The fields of a `--format json` line.
const JSON_FIELDS: [&str; 8] = ["detail", "event", "id", "source", "time", "uid", "unix", "user"];

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

crate::on_both_engines!(url: json_listing);

fn json_listing(url: &str) {
    let alice = add_user(url, "alice");

    let listed = json_lines(&ok(url, &["audit", "--format", "json"]));
    assert_eq!(listed.len(), 1, "{listed:?}");
    let entry = &listed[0];
    assert_eq!(entry["event"], "admin.user.add");
    assert_eq!(entry["user"], "alice");
    assert_eq!(entry["uid"], alice);
    assert_eq!(entry["source"], "cli");
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
}

crate::on_both_engines!(url: listings_page_through_large_logs);

/// More entries than one page, listed newest first and the newest N, in
/// constant memory and without repeats.
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
}
