//! `contrib/keygate.service`: systemd accepts it, and it keeps the sandbox
//! that `contrib/README.md` promises.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;

fn unit_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/keygate.service"))
        .expect("read contrib/keygate.service")
}

/// `systemd-analyze`, or the reason the checks that need it do not run.
fn systemd_analyze() -> Option<PathBuf> {
    let found = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .map(PathBuf::from)
        .into_iter()
        .find(|p| p.exists());
    if found.is_none() {
        eprintln!("systemd-analyze is not installed: contrib/keygate.service is not verified here");
    }
    found
}

/// The unit as installed, but starting the binary of this build: verify
/// checks that the executable exists.
fn installed_copy(dir: &Path) -> PathBuf {
    let binary = env!("CARGO_BIN_EXE_keygate");
    assert!(!binary.contains(char::is_whitespace), "the unit cannot name {binary} unquoted");
    let text = unit_text().replace("ExecStart=/usr/local/bin/keygate ", &format!("ExecStart={binary} "));
    assert!(text.contains(&format!("ExecStart={binary} serve")), "ExecStart starts /usr/local/bin/keygate");
    let path = dir.join("keygate.service");
    std::fs::write(&path, text).expect("write the unit copy");
    path
}

/// `systemd-analyze verify` says nothing about the unit. Its
/// `Documentation=man:keygate-serve(1)` is checked too, against the pages
/// `keygate man --out-dir` writes.
#[test]
fn systemd_accepts_the_unit() {
    let Some(analyze) = systemd_analyze() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let unit = installed_copy(dir.path());
    let mut verify = Command::new(&analyze);
    verify.arg("verify");
    if Command::new("man").arg("--version").output().is_ok() {
        let man_dir = dir.path().join("man");
        let pages = man_dir.join("man1");
        common::keygate_ok(&["man", "--out-dir", pages.to_str().expect("UTF-8 path")], "");
        verify.env("MANPATH", &man_dir);
    } else {
        eprintln!("man is not installed: the unit's Documentation= is not checked");
        verify.arg("--man=no");
    }
    let out = verify.arg(&unit).output().expect("run systemd-analyze verify");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let about_unit: Vec<&str> = said.lines().filter(|l| l.contains("keygate")).collect();
    assert!(out.status.success() && about_unit.is_empty(), "systemd-analyze verify: {said}");
}

/// The sandbox settings `contrib/README.md` describes are all there, and
/// systemd's own rating of them stays "OK" (exposure at most 2.0).
#[test]
fn the_unit_keeps_its_hardening() {
    let text = unit_text();
    let settings: Vec<(&str, &str)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .collect();
    let value = |key: &str| settings.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    for (key, expected) in [
        ("DynamicUser", "yes"),
        ("StateDirectory", "keygate"),
        ("WorkingDirectory", "/var/lib/keygate"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("SystemCallFilter", "@system-service"),
        ("CapabilityBoundingSet", ""),
        ("MemoryDenyWriteExecute", "yes"),
        ("LockPersonality", "yes"),
        ("RestrictRealtime", "yes"),
        ("RestrictNamespaces", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("UMask", "0077"),
        ("Restart", "on-failure"),
    ] {
        assert_eq!(value(key), Some(expected), "{key}= in contrib/keygate.service");
    }
    // `systemctl reload` sends SIGHUP, which reloads the TLS certificate.
    assert_eq!(value("ExecReload"), Some("/bin/kill -HUP $MAINPID"));

    let Some(analyze) = systemd_analyze() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let unit = installed_copy(dir.path());
    let out = Command::new(analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .expect("run systemd-analyze security");
    let said = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = said
        .lines()
        .find_map(|l| l.split("Overall exposure level for keygate.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {said}{}", String::from_utf8_lossy(&out.stderr)));
    assert!(exposure <= 2.0, "exposure {exposure} above 2.0: {said}");
}
