//! How one audit entry is printed: a line for people, or a JSON object on
//! one line (JSON Lines) for programs. The JSON field names are a contract
//! with log shippers and scripts: add fields, never rename or drop one.

use std::borrow::Cow;
use std::io::{self, Write};

use clap::ValueEnum;
use serde::Serialize;

use super::super::common::format_time;
use crate::store::AuditEntry;

/// The output formats of `keygate audit`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One line per entry: time (RFC 3339, UTC), user, event, source, detail ("-" where absent).
    #[default]
    Table,
    /// One JSON object per line (JSON Lines) with stable field names.
    Json,
}

/// The JSON form of an entry, in field order. Absent values are `null`,
/// never left out, so every line has the same keys.
#[derive(Debug, Serialize)]
struct JsonEntry<'a> {
    /// The entry's id: increasing in the order entries are written, unique,
    /// the key to deduplicate or resume on.
    id: i64,
    /// When, as RFC 3339 in UTC (`2026-01-31T12:00:00Z`).
    time: String,
    /// The same instant in unix seconds.
    unix: i64,
    /// The event name (`login_failed`, `admin.user.add`, …).
    event: &'a str,
    /// The user's login name at the time, or null.
    user: Option<&'a str>,
    /// The user's numeric id, or null.
    uid: Option<i64>,
    /// The client address, `cli` for admin commands, or null.
    source: Option<&'a str>,
    /// Free text for people (may be empty).
    detail: &'a str,
}

impl<'a> From<&'a AuditEntry> for JsonEntry<'a> {
    fn from(entry: &'a AuditEntry) -> Self {
        Self {
            id: entry.id,
            time: format_time(entry.at),
            unix: entry.at,
            event: &entry.event,
            user: entry.user_name.as_deref(),
            uid: entry.user_id,
            source: entry.source.as_deref(),
            detail: &entry.detail,
        }
    }
}

/// Writes one entry as one line in `format`.
pub(super) fn write_entry(out: &mut impl Write, format: Format, entry: &AuditEntry) -> io::Result<()> {
    match format {
        Format::Json => {
            let line = serde_json::to_string(&JsonEntry::from(entry))?;
            writeln!(out, "{line}")
        }
        Format::Table => {
            let user = entry.user_name.as_deref().unwrap_or("-");
            let source = entry.source.as_deref().unwrap_or("-");
            writeln!(
                out,
                "{}  {}  {}  {}  {}",
                format_time(entry.at),
                printable(user),
                printable(&entry.event),
                printable(source),
                printable(&entry.detail)
            )
        }
    }
}

/// Text with control characters escaped (`\n`, `\u{1b}`): details can quote
/// what a client sent, which must neither split a line nor drive the
/// terminal that shows it.
fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditEntry {
        AuditEntry {
            id: 42,
            at: 1_769_860_800,
            user_id: Some(7),
            user_name: Some("alice".into()),
            event: "login_failed".into(),
            detail: "wrong password".into(),
            source: Some("192.0.2.1".into()),
        }
    }

    fn line(format: Format, entry: &AuditEntry) -> String {
        let mut out = Vec::new();
        write_entry(&mut out, format, entry).expect("writes to memory");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn json_has_the_documented_fields_in_order() {
        let text = line(Format::Json, &entry());
        assert_eq!(
            text,
            "{\"id\":42,\"time\":\"2026-01-31T12:00:00Z\",\"unix\":1769860800,\"event\":\"login_failed\",\
             \"user\":\"alice\",\"uid\":7,\"source\":\"192.0.2.1\",\"detail\":\"wrong password\"}\n"
        );
    }

    #[test]
    fn json_absent_values_are_null_and_text_is_escaped() {
        let bare = AuditEntry {
            user_id: None,
            user_name: None,
            source: None,
            detail: "line one\nline \"two\"".into(),
            ..entry()
        };
        let text = line(Format::Json, &bare);
        assert_eq!(text.lines().count(), 1, "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).expect("one JSON object");
        let keys: Vec<&str> = value.as_object().expect("an object").keys().map(String::as_str).collect();
        let mut expected = ["id", "time", "unix", "event", "user", "uid", "source", "detail"];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert!(value["user"].is_null() && value["uid"].is_null() && value["source"].is_null());
        assert_eq!(value["detail"], "line one\nline \"two\"");
    }

    #[test]
    fn table_is_one_line_with_dashes_and_escaped_controls() {
        assert_eq!(
            line(Format::Table, &entry()),
            "2026-01-31T12:00:00Z  alice  login_failed  192.0.2.1  wrong password\n"
        );
        let odd = AuditEntry { user_name: None, source: None, detail: "a\nb\u{1b}[2J".into(), ..entry() };
        assert_eq!(line(Format::Table, &odd), "2026-01-31T12:00:00Z  -  login_failed  -  a\\nb\\u{1b}[2J\n");
    }
}
