//! `keygate devices` on a machine without security keys (as in CI).

use crate::common;

#[test]
fn no_keys_prints_the_message_and_the_udev_hint_and_exits_0() {
    for args in [&["devices"][..], &["devices", "--wink"][..]] {
        let out = common::keygate().args(args).output().expect("run keygate devices");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stdout}");
        assert!(stdout.starts_with("no FIDO security keys found\n"), "{stdout}");
        assert!(stdout.contains("udev") && stdout.contains("70-u2f.rules"), "{stdout}");
    }
}
