//! `keygate man` end to end: the pages of the real binary, printed one at a
//! time or written all at once, and rendered by groff without a warning.

use std::path::Path;
use std::process::{Command, Output};

use crate::common;

fn man(args: &[&str]) -> Output {
    common::keygate().arg("man").args(args).output().expect("run keygate man")
}

fn page(args: &[&str]) -> String {
    let out = man(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 page")
}

#[test]
fn man_prints_the_page_of_keygate_or_of_one_command() {
    let top = page(&[]);
    assert!(top.contains(".TH keygate 1"), "{top}");
    for section in ["SYNOPSIS", "SUBCOMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES", "VERSION"] {
        assert!(top.contains(section), "{section} missing: {top}");
    }
    assert!(top.contains("keygate\\-config(1)") && top.contains("keygate\\-man(1)"), "{top}");

    let add = page(&["user", "add"]);
    assert!(add.contains(".TH keygate-user-add 1"), "{add}");
    assert!(add.contains("password\\-stdin") && add.contains("database"), "{add}");
    assert!(!add.contains("EXIT STATUS"), "only keygate(1) carries the shared sections");

    let check = page(&["config", "check"]);
    assert!(check.contains(".TH keygate-config-check 1") && check.contains("effective configuration"));
}

#[test]
fn an_unknown_command_is_a_usage_error() {
    for args in [&["nosuch"][..], &["user", "nosuch"], &["user", "add", "more"]] {
        let out = man(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        let named = format!("no command `keygate {}`", args.join(" "));
        assert!(err.contains(&named), "{err}");
    }
    let out = man(&["serve", "--out-dir", "x"]);
    assert_eq!(out.status.code(), Some(2), "a command and --out-dir exclude each other");
}

#[test]
fn out_dir_gets_one_page_per_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("share/man/man1");
    let out = man(&["--out-dir", out_dir.to_str().expect("UTF-8 path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("read the pages")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for expected in [
        "keygate.1",
        "keygate-serve.1",
        "keygate-user.1",
        "keygate-user-add.1",
        "keygate-config-check.1",
        "keygate-key-enroll.1",
        "keygate-soft-token-serve.1",
        "keygate-man.1",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("help")), "no pages for clap's help: {names:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with(&format!("wrote {} manual pages to ", names.len())), "{said}");
    for name in &names {
        let text = std::fs::read_to_string(out_dir.join(name)).expect("read a page");
        let title = format!(".TH {} 1", name.trim_end_matches(".1"));
        assert!(text.contains(&title), "{name}: {text}");
    }
    for (name, command) in [
        ("keygate.1", &[][..]),
        ("keygate-user-add.1", &["user", "add"]),
        ("keygate-soft-token-serve.1", &["soft-token", "serve"]),
    ] {
        let written = std::fs::read_to_string(out_dir.join(name)).expect("read a page");
        assert_eq!(written, page(command), "{name} is the page `keygate man` prints");
    }
    groff_renders_cleanly(&out_dir, &names);
}

/// Every page formats with groff's man macros without a warning, where groff
/// is installed (Debian's groff-base is on the test machines).
fn groff_renders_cleanly(dir: &Path, names: &[String]) {
    if Command::new("groff").arg("--version").output().is_err() {
        eprintln!("groff is not installed: the pages' formatting is not checked");
        return;
    }
    for name in names {
        let out = Command::new("groff")
            // -k: preconv turns UTF-8 into groff's escapes, as man does.
            .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
            .arg(dir.join(name))
            .output()
            .expect("run groff");
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && warnings.is_empty(), "{name}: {warnings}");
    }
}
