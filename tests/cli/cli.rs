//! The command line as a user meets it: help, version, completions, and the
//! exit status of every command.

use crate::common;

use common::keygate;

fn run(args: &[&str]) -> std::process::Output {
    keygate().args(args).output().expect("run keygate")
}

#[test]
fn version_names_the_crate_version() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("keygate {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn every_command_of_the_design_has_help() {
    let commands: &[&[&str]] = &[
        &["serve"],
        &["user", "add"],
        &["user", "passwd"],
        &["user", "list"],
        &["user", "disable"],
        &["user", "enable"],
        &["user", "reset-keys"],
        &["user", "show"],
        &["user", "revoke-key"],
        &["user", "unblock-key"],
        &["app", "add"],
        &["app", "list"],
        &["app", "show"],
        &["app", "update"],
        &["app", "remove"],
        &["app", "rotate-secret"],
        &["key", "enroll"],
        &["key", "list"],
        &["key", "rename"],
        &["key", "remove"],
        &["key", "login"],
        &["devices"],
        &["audit"],
        &["soft-token", "serve"],
        &["soft-token", "export-credential"],
        &["soft-token", "import-credential"],
        &["completions"],
        &["config", "check"],
        &["man"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = run(&args);
        assert!(out.status.success(), "{command:?} --help failed");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Usage: keygate"), "{command:?}: {help}");
    }
}

#[test]
fn serve_help_lists_the_design_flags() {
    let help = String::from_utf8_lossy(&run(&["serve", "--help"]).stdout).into_owned();
    for flag in [
        "--config",
        "--listen",
        "--database",
        "--rp-id",
        "--origin",
        "--log-format",
        "--trusted-proxy",
        "--key-file",
    ] {
        assert!(help.contains(flag), "missing {flag}: {help}");
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(run(&["serve", "--listen", "not-an-address"]).status.code(), Some(2));
}

#[test]
fn completions_are_generated_for_common_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains("keygate") && script.contains("soft-token"), "{shell}");
    }
}

/// A trust-root file that cannot be read stops `serve` before it listens,
/// instead of serving with a policy it was not given.
#[test]
fn serve_refuses_an_unreadable_trust_root_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keygate.toml");
    let database = dir.path().join("keygate.db");
    std::fs::write(
        &config,
        format!(
            "database = {:?}\nlisten = \"127.0.0.1:0\"\nattestation = \"trusted-ca\"\nattestation_roots = {:?}\n",
            database.display().to_string(),
            dir.path().join("missing.pem").display().to_string(),
        ),
    )
    .unwrap();
    let out = run(&["serve", "--config", config.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("attestation:") && err.contains("missing.pem"), "{err}");
}
