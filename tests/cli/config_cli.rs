//! `keygate config check` end to end: the real binary on the sample
//! configuration, on files naming each database engine, on bad files, with
//! settings from the environment, and never showing a secret.

use std::path::{Path, PathBuf};
use std::process::Output;

use keygate::config::{Config, Redacted};

use crate::common;

/// Base64 of 32 bytes: a well-formed server key.
const SERVER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A password put into database URLs; it must never be printed.
const DB_PASSWORD: &str = "hunter2-db-password";

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(path)
}

/// `keygate config check ARGS` in `dir` with `env` set (and no other
/// `KEYGATE_*` variable).
fn check(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = common::keygate();
    cmd.args(["config", "check"]).args(args).current_dir(dir);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().expect("run keygate config check")
}

/// `config check --config FILE` for a file holding `toml`, in a fresh directory.
fn check_file(toml: &str) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("checked.toml");
    std::fs::write(&file, toml).expect("write the config");
    (check(dir.path(), &["--config", file.to_str().expect("UTF-8 path")], &[]), dir)
}

/// The printed configuration of a successful check.
fn accepted(out: &Output) -> (Config, String) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let text = String::from_utf8(out.stdout.clone()).expect("UTF-8 output");
    let config =
        toml::from_str(&text).unwrap_or_else(|e| panic!("output is not a configuration: {e}\n{text}"));
    (config, text)
}

/// The error of a refused check (status 1, nothing on stdout).
fn refused(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "should be refused: {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty(), "nothing printed on refusal: {}", String::from_utf8_lossy(&out.stdout));
    assert!(err.starts_with("keygate: "), "{err}");
    err
}

/// [`refused`], where the error is one line.
fn refused_in_one_line(out: &Output) -> String {
    let err = refused(out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn the_sample_configuration_checks_and_prints_the_defaults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sample = fixture("config/keygate.toml");
    let (config, text) = accepted(&check(dir.path(), &["--config", sample.to_str().expect("UTF-8")], &[]));
    assert_eq!(config, Config::default());
    let first = text.lines().next().unwrap_or_default();
    assert!(first.contains("built-in defaults, then ") && first.contains("keygate.toml"), "{text}");
}

crate::on_both_engines!(url: a_file_naming_each_engine_checks);

/// A complete file on either engine, with a database password and a server
/// key: accepted, printed as read, both secrets hidden.
fn a_file_naming_each_engine_checks(url: &str) {
    let (database, shown) = match url.split_once('@') {
        Some((user, rest)) if url.starts_with("postgres") && !user.contains(':') => {
            (format!("{user}:{DB_PASSWORD}@{rest}"), format!("{user}:***@{rest}"))
        }
        _ => (url.to_owned(), url.to_owned()),
    };
    let roots = fixture("soft-token/ca.pem");
    let toml = format!(
        "database = {database:?}\nserver_key = {SERVER_KEY:?}\nlisten = \"127.0.0.1:9443\"\n\
         attestation = \"trusted-ca\"\nattestation_roots = {:?}\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
        roots.display().to_string()
    );
    let (out, _dir) = check_file(&toml);
    let (config, text) = accepted(&out);
    let expected = Config {
        database: shown,
        server_key: Some(Redacted("***".to_owned())),
        listen: "127.0.0.1:9443".parse().expect("address"),
        attestation: keygate_verify::AttestationMode::TrustedCa,
        attestation_roots: Some(roots),
        trusted_proxies: vec!["10.0.0.0/8".parse().expect("CIDR")],
        ..Config::default()
    };
    assert_eq!(config, expected, "{text}");
    assert_eq!(text.matches("attestation = \"trusted-ca\"").count(), 1, "{text}");
    assert!(text.contains("server_key = \"***\""), "{text}");
    let everything = format!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!everything.contains(DB_PASSWORD) && !everything.contains(SERVER_KEY), "{everything}");
}

/// Without `--config` the check reads `./keygate.toml` as `serve` does;
/// `KEYGATE_*` variables override it, are named in the header, and their
/// secrets are hidden too.
#[test]
fn environment_settings_are_applied_named_and_hidden() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("keygate.toml"), "listen = \"127.0.0.1:7000\"\nrp_id = \"example.org\"\n")
        .expect("write keygate.toml");
    let database = format!("postgres://keygate:{DB_PASSWORD}@db.example/keygate");
    let env = [
        ("KEYGATE_LISTEN", "127.0.0.1:7001"),
        ("KEYGATE_SERVER_KEY", SERVER_KEY),
        ("KEYGATE_DATABASE", database.as_str()),
        ("KEYGATE_UNRELATED", "not a config key"),
    ];
    let out = check(dir.path(), &[], &env);
    let (config, text) = accepted(&out);
    assert_eq!(config.listen.port(), 7001);
    assert_eq!(config.rp_id, "example.org");
    assert_eq!(config.database, "postgres://keygate:***@db.example/keygate");
    assert_eq!(config.server_key, Some(Redacted("***".to_owned())));
    let header = text.lines().next().unwrap_or_default();
    assert!(
        header.ends_with(
            "from built-in defaults, then keygate.toml, then KEYGATE_DATABASE, then KEYGATE_LISTEN, \
             then KEYGATE_SERVER_KEY."
        ),
        "{header}"
    );
    assert!(!text.contains(DB_PASSWORD) && !text.contains(SERVER_KEY), "{text}");

    let (config, _) = accepted(&check(dir.path(), &[], &[("KEYGATE_CONFIG", "keygate.toml")]));
    assert_eq!(config.listen.port(), 7000);
}

#[test]
fn bad_files_are_refused_with_a_message_naming_the_key() {
    let cases: &[(&str, &[&str])] = &[
        ("listne = \"127.0.0.1:1\"", &["listne"]),
        ("listen = \"not an address\"", &["listen"]),
        ("db_max_connections = -1", &["db_max_connections"]),
        ("attestation = \"sometimes\"", &["attestation", "sometimes"]),
        ("trusted_proxies = [\"not-a-cidr\"]", &["not-a-cidr"]),
        ("server_key = \"too short\"", &["server_key", "base64 of 32 bytes"]),
        ("attestation = \"trusted-ca\"", &["attestation:", "root certificate"]),
    ];
    for (toml, expected) in cases {
        let err = refused_in_one_line(&check_file(toml).0);
        for fragment in *expected {
            assert!(err.contains(fragment), "{toml:?} should name {fragment:?}: {err}");
        }
    }

    // A syntax error shows the line and where in it, over several lines.
    let err = refused(&check_file("listen = \"127.0.0.1:1\"\nthis is not TOML\n").0);
    assert!(err.contains("invalid configuration") && err.contains("line 2"), "{err}");

    let secret_url = format!("mysql://keygate:{DB_PASSWORD}@db.example/keygate");
    let err = refused_in_one_line(&check_file(&format!("database = {secret_url:?}")).0);
    assert!(err.contains("database: unsupported URL mysql://keygate:***@db.example/keygate"), "{err}");
    assert!(!err.contains(DB_PASSWORD), "{err}");

    let err = refused_in_one_line(&check_file(&format!("server_key = \"{}\"", &SERVER_KEY[..20])).0);
    assert!(!err.contains(&SERVER_KEY[..20]), "{err}");

    let dir = tempfile::tempdir().expect("temp dir");
    let err = refused_in_one_line(&check(dir.path(), &["--config", "nowhere.toml"], &[]));
    assert!(err.contains("nowhere.toml does not exist"), "{err}");
}

/// The trust-root file is read and parsed as `serve` does it, so a file
/// `serve` would refuse at start is refused here with the same words.
#[test]
fn an_unusable_trust_root_file_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_pem = dir.path().join("not-a-certificate.pem");
    std::fs::write(&not_pem, "hello\n").expect("write the file");
    let unreadable = dir.path().join("a-directory.pem");
    std::fs::create_dir(&unreadable).expect("make the directory");
    for (roots, fragment) in [
        (dir.path().join("missing.pem"), "missing.pem"),
        (unreadable, "a-directory.pem"),
        (not_pem, "attestation:"),
    ] {
        let toml =
            format!("attestation = \"trusted-ca\"\nattestation_roots = {:?}\n", roots.display().to_string());
        let err = refused_in_one_line(&check_file(&toml).0);
        assert!(err.starts_with("keygate: attestation: ") && err.contains(fragment), "{err}");
    }
}

/// A key file `serve` could not use is refused; a missing one is fine,
/// since `serve` creates it, and the check does not.
#[test]
fn the_key_file_is_checked_but_never_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key_file = dir.path().join("keygate.key");
    let toml = format!("key_file = {:?}\n", key_file.display().to_string());
    accepted(&check_file(&toml).0);
    assert!(!key_file.exists(), "config check must not create the key file");
    std::fs::write(&key_file, "not a key\n").expect("write the key file");
    let err = refused_in_one_line(&check_file(&toml).0);
    assert!(err.contains("key_file: ") && err.contains("keygate.key"), "{err}");
    std::fs::write(&key_file, format!("{SERVER_KEY}\n")).expect("write the key file");
    accepted(&check_file(&toml).0);
}

/// TLS files are loaded as `serve` loads them: a key of another certificate,
/// a missing file or a plain-HTTP origin are refused, naming what is wrong.
#[test]
fn tls_settings_are_checked_as_serve_loads_them() {
    use common::tls::{KeyKind, TestCa};
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new(dir.path(), "config-check-ca");
    let one = ca.leaf(dir.path(), "one", KeyKind::Ecdsa);
    let two = ca.leaf(dir.path(), "two", KeyKind::Rsa);
    let toml = |cert: &Path, key: &Path, origin: &str| {
        format!(
            "origin = {origin:?}\ntls_cert = {:?}\ntls_key = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        )
    };
    let (config, _) = accepted(&check_file(&toml(&two.cert, &two.key, "https://login.example")).0);
    assert_eq!(config.tls_key.as_deref(), Some(two.key.as_path()));
    for (text, fragment) in [
        (toml(&one.cert, &two.key, "https://login.example"), "does not belong to the certificate"),
        (toml(&dir.path().join("gone.pem"), &one.key, "https://login.example"), "gone.pem"),
        (toml(&one.cert, &one.key, "http://localhost:8080"), "origin must be https://"),
        (format!("origin = \"https://x\"\ntls_cert = {:?}\n", one.cert.display().to_string()), "--tls-key"),
    ] {
        let err = refused_in_one_line(&check_file(&text).0);
        assert!(err.contains(fragment), "{err}");
    }
}
