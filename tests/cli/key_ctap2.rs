//! `keygate key … --protocol` end to end: the real binary against
//! `keygate serve` on SQLite and PostgreSQL, with `keygate soft-token
//! serve --protocol u2f|ctap2|both` as the keys. CTAP2 enrolment and login
//! through the WebAuthn endpoints, `auto` choosing by the key's
//! capabilities, credentials crossing protocols, step-up, the touch's
//! timeout and Ctrl-C (CTAPHID CANCEL), and a relaying server refused
//! before the key is opened.

use crate::common;
use crate::key_cli::{PASSWORD, SoftToken, key_args, relay, serve, session_of, sql};

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{keygate_fails as fails, keygate_ok as ok};

crate::on_both_engines!(
    url:
    ctap2_and_u2f_keys_enroll_and_log_in_across_protocols,
    a_relaying_server_gets_no_ctap2_signature,
);

/// `key CMD` with `--protocol PROTOCOL` and `extra`.
fn with_protocol<'a>(
    cmd: &'a str,
    url: &'a str,
    device: &'a str,
    protocol: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = key_args(cmd, url, device, extra);
    args.extend_from_slice(&["--protocol", protocol]);
    args
}

/// The detail of the audit's key_enrolled entry for the key `name`.
fn enrolment(database: &str, name: &str) -> String {
    let audit = ok(&["audit", "--database", database, "--user", "alice"], "");
    audit
        .lines()
        .find(|l| l.contains("key_enrolled") && l.contains(&format!("({name})")))
        .unwrap_or_else(|| panic!("no enrolment of {name}: {audit}"))
        .to_owned()
}

fn ctap2_and_u2f_keys_enroll_and_log_in_across_protocols(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pw = format!("{PASSWORD}\n");
    ok(&["user", "add", "alice", "--password-stdin", "--database", database], &pw);
    let (_server, url) = serve(dir.path(), database);
    let token = |name: &str, protocol| {
        SoftToken::start_with(&dir.path().join(format!("{name}.json")), "auto", protocol)
    };
    let (blue, white, black, grey) =
        (token("blue", "both"), token("white", "both"), token("black", "both"), token("grey", "both"));
    let green = token("green", "u2f");
    let red = token("red", "ctap2");

    // CTAP2 enrolment through the WebAuthn endpoints, and login both ways.
    let out = ok(&with_protocol("enroll", &url, &blue.spec, "ctap2", &["--name", "blue"]), &pw);
    assert!(out.contains("enrolled key") && out.contains("Recovery codes"), "{out}");
    assert!(enrolment(database, "blue").contains("registered over WebAuthn"));
    let session = session_of(&ok(&with_protocol("login", &url, &blue.spec, "ctap2", &[]), &pw));
    ok(&with_protocol("login", &url, &blue.spec, "u2f", &[]), &pw);
    ok(&key_args("login", &url, &blue.spec, &[]), &pw);
    let again =
        [with_protocol("enroll", &url, &blue.spec, "ctap2", &[]), vec!["--session", &session]].concat();
    assert!(fails(&again, "").contains("this key is already registered for alice"));
    assert!(
        fails(&with_protocol("login", &url, &grey.spec, "ctap2", &[]), &pw)
            .contains("this key is not registered for alice")
    );

    // auto: CTAP2 on a key that has both, U2F on a U2F-only key, CTAP2 on a CTAP2-only key.
    let enroll = |device: &str, name: &'static str, protocol: &'static str| {
        let args =
            [with_protocol("enroll", &url, device, protocol, &["--name", name]), vec!["--session", &session]]
                .concat();
        ok(&args, "")
    };
    enroll(&black.spec, "black", "auto");
    assert!(enrolment(database, "black").contains("registered over WebAuthn"));
    enroll(&green.spec, "green", "auto");
    assert!(!enrolment(database, "green").contains("in a browser"), "{}", enrolment(database, "green"));
    ok(&key_args("login", &url, &green.spec, &[]), &pw);
    enroll(&red.spec, "red", "auto");
    assert!(enrolment(database, "red").contains("registered over WebAuthn"));
    ok(&key_args("login", &url, &red.spec, &[]), &pw);

    // A protocol the key lacks is refused, saying which to use.
    let err = fails(&with_protocol("login", &url, &red.spec, "u2f", &[]), &pw);
    assert!(err.contains("does not speak U2F") && err.contains("--protocol ctap2"), "{err}");
    let err = fails(&with_protocol("login", &url, &green.spec, "ctap2", &[]), &pw);
    assert!(err.contains("does not speak CTAP2") && err.contains("--protocol u2f"), "{err}");

    // Enrolled over U2F, signs in over CTAP2.
    enroll(&white.spec, "white", "u2f");
    assert!(!enrolment(database, "white").contains("in a browser"));
    ok(&with_protocol("login", &url, &white.spec, "ctap2", &[]), &pw);
    let list = ok(&[key_args("list", &url, &blue.spec, &[]), vec!["--session", &session]].concat(), "");
    for name in ["blue", "black", "green", "red", "white"] {
        assert!(list.contains(&format!("\t{name}\t")), "{name}: {list}");
    }
}

/// Through a relaying (phishing) server, CTAP2 login and enrolment are
/// refused before the key is opened (the device named does not even
/// exist), whatever the relay rewrites: the WebAuthn options carry the real
/// server's RP ID, which is not the relay's host. Nothing reaches the real
/// server's finish endpoints.
fn a_relaying_server_gets_no_ctap2_signature(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pw = format!("{PASSWORD}\n");
    ok(&["user", "add", "alice", "--password-stdin", "--database", database], &pw);
    let (_server, url) = serve(dir.path(), database);
    let blue = SoftToken::start_with(&dir.path().join("blue.json"), "auto", "ctap2");
    ok(&with_protocol("enroll", &url, &blue.spec, "ctap2", &["--name", "blue"]), &pw);
    let session = session_of(&ok(&with_protocol("login", &url, &blue.spec, "ctap2", &[]), &pw));
    let nowhere = format!("unix:{}", dir.path().join("no-such-key.sock").display());

    for rewrite in [relay::Rewrite::Nothing, relay::Rewrite::Origin, relay::Rewrite::OriginAndAppId] {
        let relay = relay::start(&url, rewrite);
        let err = fails(&with_protocol("login", &relay.url, &nowhere, "ctap2", &[]), &pw);
        assert!(err.contains("refusing to sign"), "{rewrite:?}: {err}");
        let second =
            [with_protocol("enroll", &relay.url, &nowhere, "ctap2", &[]), vec!["--session", &session]]
                .concat();
        let err = fails(&second, "");
        assert!(err.contains("refusing to sign") && err.contains("\"localhost\""), "{rewrite:?}: {err}");
        let seen = relay.seen.lock().unwrap().clone();
        assert!(seen.iter().any(|p| p == "/api/v1/keys/webauthn/register/start"), "{seen:?}");
        assert!(
            !seen
                .iter()
                .any(|p| p == "/api/v1/login/webauthn" || p == "/api/v1/keys/webauthn/register/finish"),
            "{rewrite:?}: {seen:?}"
        );
    }
    ok(&with_protocol("login", &url, &blue.spec, "ctap2", &[]), &pw);
}

/// A stale session steps up over CTAP2 with a touch of a registered key; a
/// key that is not registered cannot give it.
#[test]
fn a_stale_session_steps_up_over_ctap2() {
    let dir = tempfile::tempdir().unwrap();
    let database = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let pw = format!("{PASSWORD}\n");
    ok(&["user", "add", "alice", "--password-stdin", "--database", &database], &pw);
    let (_server, url) = serve(dir.path(), &database);
    let blue = SoftToken::start_with(&dir.path().join("blue.json"), "auto", "ctap2");
    let red = SoftToken::start_with(&dir.path().join("red.json"), "auto", "ctap2");
    ok(&key_args("enroll", &url, &blue.spec, &["--name", "blue"]), &pw);
    let session = session_of(&ok(&key_args("login", &url, &blue.spec, &[]), &pw));
    sql(&database, "UPDATE sessions SET created_at = created_at - 600, verified_at = verified_at - 600");

    let enroll =
        [with_protocol("enroll", &url, &red.spec, "ctap2", &["--name", "red"]), vec!["--session", &session]]
            .concat();
    let out = common::run_keygate(&enroll, "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("touch of a key already registered") && err.contains("this key is not registered"),
        "{err}"
    );

    let remove =
        [with_protocol("remove", &url, &blue.spec, "ctap2", &["blue"]), vec!["--session", &session]].concat();
    let out = common::run_keygate(&remove, "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("touch of a key already registered for alice"), "{err}");
    let list = ok(&[key_args("list", &url, &blue.spec, &[]), vec!["--session", &session]].concat(), "");
    assert!(list.contains("alice has no keys"), "{list}");
}

/// A CTAP2 key that holds the request for a touch (KEEPALIVE): `--timeout`
/// and Ctrl-C end the wait and cancel the request on the key (CTAPHID
/// CANCEL), which then serves the next request, touched, at once.
#[test]
fn ctap2_timeout_and_ctrl_c_cancel_the_request_on_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let database = common::db::sqlite_url(&dir.path().join("keygate.db"));
    let pw = format!("{PASSWORD}\n");
    ok(&["user", "add", "alice", "--password-stdin", "--database", &database], &pw);
    let (_server, url) = serve(dir.path(), &database);
    let token = SoftToken::start_with(&dir.path().join("t.json"), "manual", "ctap2");

    let started = Instant::now();
    let err = fails(&with_protocol("enroll", &url, &token.spec, "ctap2", &["--timeout", "1"]), &pw);
    assert!(err.contains("timed out waiting for touch"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());

    let mut child = common::keygate()
        .args(with_protocol("enroll", &url, &token.spec, "ctap2", &[]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), pw.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let interrupted = Instant::now();
    signal(child.id(), "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cancelled"));
    assert!(interrupted.elapsed() < Duration::from_secs(3), "{:?}", interrupted.elapsed());

    // The key is free again: a touch (SIGUSR1) during the next request registers it.
    let pid = token.pid();
    let toucher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        signal(pid, "-USR1");
    });
    let out = ok(
        &with_protocol("enroll", &url, &token.spec, "ctap2", &["--name", "touched", "--timeout", "20"]),
        &pw,
    );
    toucher.join().unwrap();
    assert!(out.contains("enrolled key"), "{out}");
}

fn signal(pid: u32, which: &str) {
    let status = std::process::Command::new("kill").args([which, &pid.to_string()]).status().unwrap();
    assert!(status.success());
}
