//! `keygate user …` and `keygate audit` end to end: the real binary on a real
//! SQLite file and a real PostgreSQL database, checked through the store.

use crate::common;

use keygate::secrets::{TokenHash, verify_password};
use keygate::store::{NewCredential, NewSession, Store};

/// `keygate ARGS --database URL`, fed `stdin`, that must succeed; its output.
fn ok(url: &str, args: &[&str], stdin: &str) -> String {
    common::keygate_ok(&[args, &["--database", url]].concat(), stdin)
}

/// `keygate ARGS --database URL` that must fail; its one line of error.
fn fails(url: &str, args: &[&str], stdin: &str) -> String {
    common::keygate_fails(&[args, &["--database", url]].concat(), stdin)
}

crate::on_both_engines!(url: end_to_end);

/// The commands on an empty database, checked through the store.
fn end_to_end(url: &str) {
    tokio::runtime::Runtime::new().expect("tokio runtime").block_on(commands_and_store(url));
}

async fn commands_and_store(url: &str) {
    let added = ok(url, &["user", "add", "alice", "--password-stdin"], "correct horse battery\n");
    assert!(added.starts_with("created user alice (uid "), "{added}");
    assert_eq!(
        fails(url, &["user", "add", "alice", "--password-stdin"], "another password\n"),
        "keygate: user alice already exists\n"
    );
    assert!(
        fails(url, &["user", "add", "bob", "--password-stdin"], "short\n").contains("at least 8 characters")
    );
    assert!(
        fails(url, &["user", "add", "bad name", "--password-stdin"], "long enough\n")
            .contains("invalid user name")
    );

    // Give alice a key and a session behind the CLI's back.
    let store = Store::open(url).await.expect("open the same database");
    let alice = store.user_by_name("alice").await.unwrap().expect("alice exists");
    assert!(
        verify_password(Some(alice.password_hash.clone()), "correct horse battery".into()).await.unwrap()
    );
    let key = NewCredential {
        user_id: alice.id,
        rp_id: "localhost",
        key_handle: b"kh",
        public_key: &[4; 65],
        counter: 0,
        label: "yubikey",
        attestation_subject: None,
        transports: &[keygate::store::Transport::Usb],
        webauthn: None,
    };
    store.add_credential(&key, 1).await.unwrap();
    let token = TokenHash::of("session-token");
    let session = NewSession::new(&token, alice.id, keygate::store::SessionKind::Api, i64::MAX);
    store.create_session(&session, 1).await.unwrap();

    let list = ok(url, &["user", "list"], "");
    let row = list.lines().find(|l| l.starts_with("alice")).expect("alice listed");
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[1..4], [alice.id.to_string().as_str(), "active", "1"], "{list}");

    let changed = ok(url, &["user", "passwd", "alice", "--password-stdin"], "a brand new password\n");
    assert!(changed.contains("1 sessions and tokens ended"), "{changed}");
    assert!(store.session_and_user(&token, 2).await.unwrap().is_none());
    let hash = store.user_by_id(alice.id).await.unwrap().unwrap().password_hash;
    assert!(verify_password(Some(hash.clone()), "a brand new password".into()).await.unwrap());
    assert!(!verify_password(Some(hash), "correct horse battery".into()).await.unwrap());

    store.create_session(&session, 3).await.unwrap();
    assert!(ok(url, &["user", "disable", "alice"], "").contains("1 sessions and tokens ended"));
    assert!(store.session_and_user(&token, 4).await.unwrap().is_none());
    assert!(ok(url, &["user", "list"], "").lines().any(|l| l.starts_with("alice") && l.contains("disabled")));

    // Disabled, alice cannot log in; enabled again, she can.
    let api = common::api::Api { state: common::legacy::state(store.clone()) };
    let (status, body, _) = api.login("alice", "a brand new password").await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (403, Some("account_disabled")), "{body}");
    let enabled = ok(url, &["user", "enable", "alice"], "");
    assert!(enabled.starts_with("enabled alice; they can log in again"), "{enabled}");
    let (status, body, _) = api.login("alice", "a brand new password").await;
    assert_eq!((status.as_u16(), body["second_factor"].as_str()), (200, Some("u2f")), "{body}");
    assert!(ok(url, &["user", "list"], "").lines().any(|l| l.starts_with("alice") && l.contains("active")));
    assert_eq!(
        fails(url, &["user", "enable", "alice"], ""),
        "keygate: alice is not disabled; nothing changed\n"
    );
    assert_eq!(fails(url, &["user", "enable", "nobody"], ""), "keygate: no user named nobody\n");

    let reset = ok(url, &["user", "reset-keys", "alice"], "");
    assert!(reset.contains("removed 1 keys and 0 recovery codes"), "{reset}");
    assert_eq!(store.credential_count(alice.id).await.unwrap(), 0);
    assert_eq!(fails(url, &["user", "disable", "nobody"], ""), "keygate: no user named nobody\n");

    let audit = ok(url, &["audit"], "");
    let admin: Vec<&str> = audit.lines().filter(|l| l.contains(" admin.")).collect();
    let events: Vec<&str> = admin.iter().map(|l| l.split_whitespace().nth(2).unwrap_or("")).collect();
    assert_eq!(
        events,
        [
            "admin.user.reset_keys",
            "admin.user.enable",
            "admin.user.disable",
            "admin.user.passwd",
            "admin.user.add"
        ],
        "{audit}"
    );
    let source = format!(" cli:{} ", common::os_user());
    assert!(admin.iter().all(|l| l.contains(" alice ") && l.contains(&source)), "{audit}");
    // Beside them, only the refused login of the disabled account.
    let all = audit.lines().count();
    assert_eq!(all, admin.len() + 1, "{audit}");
    assert_eq!(ok(url, &["audit", "--user", "alice", "--since", "1h"], "").lines().count(), all);
    assert_eq!(ok(url, &["audit", "--since", "2000-01-01"], "").lines().count(), all);
    assert_eq!(ok(url, &["audit", "--user", "bob"], ""), "no audit entries\n");
    assert_eq!(ok(url, &["audit", "--since", "2999-01-01T00:00:00Z"], ""), "no audit entries\n");
    assert!(fails(url, &["audit", "--since", "someday"], "").contains("invalid --since"));
}

#[test]
fn unreachable_postgres_is_one_clear_line_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let url =
        format!("postgres://keygate:hunter2@localhost/keygate?host={}", dir.path().join("nothing").display());
    for args in [&["user", "list"][..], &["audit"][..]] {
        let err = fails(&url, args, "");
        assert!(
            err.starts_with("keygate: cannot open the database postgres://keygate:***@localhost/"),
            "{err}"
        );
        assert!(err.contains("unavailable"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[test]
fn unreachable_sqlite_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("missing-dir/keygate.db").display());
    let err = fails(&url, &["user", "add", "alice", "--password-stdin"], "long enough\n");
    assert!(err.starts_with(&format!("keygate: cannot open the database {url}")), "{err}");
}
