//! `keygate user show|revoke-key|unblock-key` end to end: the real binary on
//! SQLite and PostgreSQL, with keys enrolled and logins made through the
//! JSON API in process by the soft token's applet, so a clone alarm is a
//! real one and an unblocked key really logs in again.

use crate::common;

use axum::http::StatusCode;
use common::api::{Api, Token, b64};
use common::db::TestDb;
use keygate::store::{AuditFilter, Credential};

const PASSWORD: &str = "correct horse battery";

crate::on_both_engines!(show_revoke_and_unblock);

/// `keygate ARGS --database URL` that must succeed; its output.
fn ok(url: &str, args: &[&str]) -> String {
    common::keygate_ok(&[args, &["--database", url]].concat(), "")
}

/// `keygate ARGS --database URL` that must fail; its one line of error.
fn fails(url: &str, args: &[&str]) -> String {
    common::keygate_fails(&[args, &["--database", url]].concat(), "")
}

/// The lines of `user show` about one key: its heading and the indented
/// fields under it.
fn key_block<'a>(show: &'a str, key: &Credential) -> Vec<&'a str> {
    let heading = format!("  key {} {:?}", key.id, key.label);
    let mut lines = show.lines().skip_while(|l| *l != heading);
    let first = lines.next().unwrap_or_else(|| panic!("no {heading} in {show}"));
    std::iter::once(first).chain(lines.take_while(|l| l.starts_with("    "))).collect()
}

/// The value of `field:` in a key's block.
fn field<'a>(block: &[&'a str], field: &str) -> &'a str {
    let label = format!("    {field}:");
    block
        .iter()
        .find_map(|l| l.strip_prefix(label.as_str()))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {field} in {block:?}"))
}

/// Signs a started login with `token`'s key `handle`; the answer's status and error code.
async fn second_factor(api: &Api, token: &mut Token, handle: &str) -> (StatusCode, String) {
    let (status, start, _) = api.login("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{start}");
    let body = api.signed_finish(token, &start, handle);
    let (status, done, _) = api.call("POST", "/api/v1/login/u2f", None, Some(body)).await;
    (status, done["error"]["code"].as_str().unwrap_or_default().to_owned())
}

async fn show_revoke_and_unblock(db: TestDb) {
    let url = db.url.as_str();
    let store = db.store.clone();
    common::add_user(url, "alice", PASSWORD);
    let alice = store.user_by_name("alice").await.unwrap().expect("alice");
    let api = Api { state: common::legacy::state(store.clone()) };

    // Two keys enrolled the way a browser or `keygate key` does.
    let (status, start, _) = api.login("alice", PASSWORD).await;
    assert_eq!((status, start["second_factor"].as_str()), (StatusCode::OK, Some("none")), "{start}");
    let enroll_only = start["session_token"].as_str().expect("enroll-only session").to_owned();
    let mut blue = Token::new();
    let (status, first, _) = api.enroll(&mut blue, &enroll_only, "blue").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let blue_handle = store.credentials_for_user(alice.id).await.unwrap()[0].key_handle.clone();
    let session = api.full_login(&mut blue, "alice", PASSWORD, &b64(&blue_handle)).await;
    let mut green = Token::new();
    let (status, second, _) = api.enroll(&mut green, &session, "green").await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let keys = store.credentials_for_user(alice.id).await.unwrap();
    let (blue_key, green_key) = (keys[0].clone(), keys[1].clone());

    // show: the account, each key with its fields, what is signed in.
    let show = ok(url, &["user", "show", "alice"]);
    assert_eq!(common::labelled(&show, "user:"), "alice");
    assert_eq!(common::labelled(&show, "uid:"), alice.id.to_string());
    assert_eq!(common::labelled(&show, "state:"), "active");
    assert_eq!(common::labelled(&show, "recovery codes:"), "10 left");
    assert_eq!(common::labelled(&show, "keys:"), "2");
    let block = key_block(&show, &blue_key);
    let subject = blue_key.attestation_subject.as_deref().expect("the soft token attests");
    assert!(subject.contains("keygate soft-token"), "{subject}");
    assert_eq!(field(&block, "attestation"), subject);
    assert_eq!(field(&block, "counter"), blue_key.counter.to_string());
    assert_ne!(field(&block, "last used"), "never", "{block:?}");
    assert!(field(&block, "created").starts_with("20"), "{block:?}");
    assert_eq!(field(&block, "blocked"), "no");
    assert_eq!(field(&key_block(&show, &green_key), "last used"), "never");
    assert_eq!(common::labelled(&show, "sessions and tokens:"), "2 live");
    assert!(show.contains("  api session ") && show.contains("  enroll session "), "{show}");
    for secret in [&session, &enroll_only] {
        assert!(!show.contains(secret.as_str()), "show must not print tokens: {show}");
    }

    // A clone alarm: a copy of blue's state from before a login signs again.
    let mut copy = Token::from_state(blue.state());
    api.full_login(&mut blue, "alice", PASSWORD, &b64(&blue_handle)).await;
    let refused = second_factor(&api, &mut copy, &b64(&blue_handle)).await;
    assert_eq!(refused, (StatusCode::FORBIDDEN, "possible_clone".to_owned()));
    // Blocked for the genuine key too, until an administrator looks.
    let refused = second_factor(&api, &mut blue, &b64(&blue_handle)).await;
    assert_eq!(refused, (StatusCode::FORBIDDEN, "possible_clone".to_owned()));
    let show = ok(url, &["user", "show", "alice"]);
    let blocked = field(&key_block(&show, &blue_key), "blocked");
    assert!(blocked.starts_with("yes, possible clone"), "{blocked}");
    assert!(blocked.ends_with(&format!("keygate user unblock-key alice {}", blue_key.id)), "{blocked}");

    // unblock-key refuses a key that is not blocked, and unknown names.
    assert_eq!(
        fails(url, &["user", "unblock-key", "alice", "green"]),
        format!("keygate: key {} \"green\" of alice is not blocked; nothing changed\n", green_key.id)
    );
    assert_eq!(fails(url, &["user", "unblock-key", "alice", "red"]), "keygate: alice has no key \"red\"\n");
    assert_eq!(fails(url, &["user", "unblock-key", "nobody", "blue"]), "keygate: no user named nobody\n");
    let unblocked = ok(url, &["user", "unblock-key", "alice", &blue_key.id.to_string()]);
    assert!(
        unblocked.starts_with(&format!("unblocked key {} \"blue\" of alice", blue_key.id)),
        "{unblocked}"
    );
    assert!(!store.credential(alice.id, blue_key.id).await.unwrap().unwrap().possible_clone);
    // The genuine key logs in again; the copy, behind it, is blocked again.
    assert_eq!(second_factor(&api, &mut blue, &b64(&blue_handle)).await, (StatusCode::OK, String::new()));
    let refused = second_factor(&api, &mut copy, &b64(&blue_handle)).await;
    assert_eq!(refused, (StatusCode::FORBIDDEN, "possible_clone".to_owned()));

    // revoke-key: bad names change nothing; a good one removes exactly one key.
    assert_eq!(fails(url, &["user", "revoke-key", "alice", "red"]), "keygate: alice has no key \"red\"\n");
    assert_eq!(fails(url, &["user", "revoke-key", "nobody", "green"]), "keygate: no user named nobody\n");
    assert_eq!(fails(url, &["user", "show", "nobody"]), "keygate: no user named nobody\n");
    assert_eq!(store.credential_count(alice.id).await.unwrap(), 2);
    let live = store.sessions_for_user(alice.id, keygate::clock::unix_now()).await.unwrap().len();
    let revoked = ok(url, &["user", "revoke-key", "alice", "green", "--keep-sessions"]);
    assert!(
        revoked.starts_with(&format!("revoked key {} \"green\" of alice; 1 key left", green_key.id)),
        "{revoked}"
    );
    assert!(revoked.contains(&format!("{live} sessions and tokens of alice stay")), "{revoked}");
    let left = store.credentials_for_user(alice.id).await.unwrap();
    assert_eq!(left.iter().map(|k| k.id).collect::<Vec<_>>(), [blue_key.id]);
    let (status, _, _) = api.call("GET", "/api/v1/keys", Some(&session), None).await;
    assert_eq!(status, StatusCode::OK, "the user's own sessions stay with --keep-sessions");

    // The last key, by default with every session: the user starts over with a password-only login.
    let revoked = ok(url, &["user", "revoke-key", "alice", "blue"]);
    assert!(revoked.contains("it was their last key"), "{revoked}");
    assert!(revoked.contains(&format!("ended {live} sessions and tokens of alice")), "{revoked}");
    assert_eq!(store.credential_count(alice.id).await.unwrap(), 0);
    let (status, _, _) = api.call("GET", "/api/v1/keys", Some(&session), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, start, _) = api.login("alice", PASSWORD).await;
    assert_eq!(start["second_factor"], "none", "{start}");

    // The audit log names the operator and the key.
    let source = format!("cli:{}", common::os_user());
    let entries = store.audit_entries(&AuditFilter::default()).await.unwrap();
    let admin: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e.event.starts_with("admin.user.") && e.event != "admin.user.add")
        .map(|e| {
            assert_eq!(e.source.as_deref(), Some(source.as_str()), "{e:?}");
            assert_eq!(e.user_name.as_deref(), Some("alice"), "{e:?}");
            (e.event.as_str(), e.detail.as_str())
        })
        .collect();
    let green_detail = format!("key {} \"green\" revoked", green_key.id);
    let blue_detail = format!("key {} \"blue\" revoked; {live} sessions and tokens ended", blue_key.id);
    assert_eq!(
        admin[..2],
        [("admin.user.revoke_key", blue_detail.as_str()), ("admin.user.revoke_key", green_detail.as_str())]
    );
    assert_eq!(admin[2].0, "admin.user.unblock_key");
    assert!(admin[2].1.starts_with(&format!("key {} \"blue\" unblocked", blue_key.id)), "{admin:?}");
    assert_eq!(admin.len(), 3, "refused commands leave no entry: {admin:?}");
}
