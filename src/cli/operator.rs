//! Who runs an admin command, as the audit log's source names it:
//! `cli:<OS user>`, so an entry says which account on the host made a change.
//!
//! The name comes from the passwd entry of the effective uid (what `id -un`
//! prints), then from `$USER` or `$LOGNAME` when the uid has no entry (a
//! container started with an arbitrary uid), then the bare uid. It names the
//! account; it authenticates nothing: whoever can write the database can
//! write any entry.

use std::sync::LazyLock;

/// Longest user name kept in a source; longer ones are cut.
const MAX_NAME_CHARS: usize = 64;

/// The audit source of this process's admin actions: `cli:alice`.
pub(super) fn audit_source() -> &'static str {
    static SOURCE: LazyLock<String> = LazyLock::new(|| format!("cli:{}", os_user()));
    &SOURCE
}

/// The effective user's name, or a stand-in that still tells users apart.
fn os_user() -> String {
    let from_env = || ["USER", "LOGNAME"].into_iter().find_map(|var| std::env::var(var).ok());
    whoami::username()
        .ok()
        .and_then(|name| clean(&name))
        .or_else(|| from_env().and_then(|name| clean(&name)))
        .unwrap_or_else(|| uid().map_or_else(|| "unknown".to_owned(), |uid| format!("uid{uid}")))
}

/// A name fit for a one-line log entry: no control characters or spaces
/// (shown as `?`, so a crafted `$USER` cannot forge another line or column),
/// at most [`MAX_NAME_CHARS`]; `None` when nothing is left.
fn clean(name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let tidy = |c: char| if c.is_control() || c.is_whitespace() { '?' } else { c };
    Some(name.chars().take(MAX_NAME_CHARS).map(tidy).collect())
}

#[cfg(target_os = "linux")]
fn uid() -> Option<u32> {
    Some(rustix::process::geteuid().as_raw())
}

#[cfg(not(target_os = "linux"))]
fn uid() -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kept_on_one_line() {
        assert_eq!(clean("alice").as_deref(), Some("alice"));
        assert_eq!(clean(" bob\n").as_deref(), Some("bob"));
        assert_eq!(clean("eve\nforged line").as_deref(), Some("eve?forged?line"));
        assert_eq!(clean("").as_deref(), None);
        assert_eq!(clean(" \t").as_deref(), None);
        assert_eq!(clean(&"x".repeat(100)).map(|n| n.len()), Some(MAX_NAME_CHARS));
    }

    #[test]
    fn the_source_names_the_cli() {
        let source = audit_source();
        assert!(source.starts_with("cli:") && source.len() > 4, "{source}");
    }
}
