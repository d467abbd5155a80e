//! The audit log's vocabulary: every event keygate writes, in one list.
//!
//! Writers name their event through [`AuditEvent`] rather than a string of
//! their own, so the names `keygate audit` shows, the names log shippers and
//! alerts match on, and the `event` label of `keygate_audit_events_total` are
//! one fixed set: a dashboard can list every series before the first event,
//! and no caller can grow the metric's label set by building a name at run
//! time.

use super::values::stored_names;

/// What happened, as the audit log names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditEvent {
    /// A sign-in passed (password and second factor, or password only for a
    /// user with no key yet; the detail says which).
    Login,
    /// A sign-in was refused: wrong or unknown password, disabled account, a
    /// failed second factor, a wrong recovery code.
    LoginFailed,
    /// A signed-in user confirmed with a key again before a sensitive change.
    StepUp,
    /// Such a confirmation failed.
    StepUpFailed,
    /// A key's signature counter went backwards: it may have been cloned.
    CloneAlarm,
    /// A key was registered.
    KeyEnrolled,
    /// A key registration was refused.
    EnrollFailed,
    /// A user removed one of their keys.
    KeyRemoved,
    /// A user replaced their recovery codes.
    RecoveryCodesReplaced,
    /// A user changed their password.
    PasswordChanged,
    /// A password change was refused (wrong old password).
    PasswordChangeFailed,
    /// A user signed in to an application (login.php or the OAuth dialog).
    AppSignIn,
    /// An OAuth code was presented twice; the tokens issued from it were revoked.
    OauthCodeReused,
    /// `keygate user add`.
    AdminUserAdd,
    /// `keygate user passwd`.
    AdminUserPasswd,
    /// `keygate user disable`.
    AdminUserDisable,
    /// `keygate user enable`.
    AdminUserEnable,
    /// `keygate user reset-keys`.
    AdminUserResetKeys,
    /// `keygate user revoke-key`: one key, usually a lost one.
    AdminUserRevokeKey,
    /// `keygate user unblock-key`: a possible-clone mark cleared.
    AdminUserUnblockKey,
    /// `keygate app add`.
    AdminAppAdd,
    /// `keygate app remove`.
    AdminAppRemove,
    /// `keygate app rotate-secret`.
    AdminAppRotateSecret,
    /// `keygate app update`.
    AdminAppUpdate,
}

stored_names!(AuditEvent, "audit_log.event", {
    Login => "login",
    LoginFailed => "login_failed",
    StepUp => "step_up",
    StepUpFailed => "step_up_failed",
    CloneAlarm => "clone_alarm",
    KeyEnrolled => "key_enrolled",
    EnrollFailed => "enroll_failed",
    KeyRemoved => "key_removed",
    RecoveryCodesReplaced => "recovery_codes_replaced",
    PasswordChanged => "password_changed",
    PasswordChangeFailed => "password_change_failed",
    AppSignIn => "app_sign_in",
    OauthCodeReused => "oauth_code_reused",
    AdminUserAdd => "admin.user.add",
    AdminUserPasswd => "admin.user.passwd",
    AdminUserDisable => "admin.user.disable",
    AdminUserEnable => "admin.user.enable",
    AdminUserResetKeys => "admin.user.reset_keys",
    AdminUserRevokeKey => "admin.user.revoke_key",
    AdminUserUnblockKey => "admin.user.unblock_key",
    AdminAppAdd => "admin.app.add",
    AdminAppRemove => "admin.app.remove",
    AdminAppRotateSecret => "admin.app.rotate_secret",
    AdminAppUpdate => "admin.app.update",
});

/// The counter of written audit entries, by `event`.
const EVENTS_METRIC: &str = "keygate_audit_events_total";

/// The `event` label of a name outside [`AuditEvent`] (a row written by a
/// newer or older keygate): counted, but under one label.
const OTHER: &str = "other";

/// Counts one written entry. A name outside the vocabulary counts as
/// `other`, so the label set stays the fixed list whatever a caller passes.
pub(super) fn count_written(event: &str) {
    let label = event.parse::<AuditEvent>().map_or(OTHER, AuditEvent::as_str);
    metrics::counter!(EVENTS_METRIC, "event" => label).increment(1);
}

/// Registers the counter of every event at zero, so `/metrics` lists the
/// whole set from the start and a rate over a series that has not fired
/// yet is 0 rather than missing. Harmless to call again (adds nothing).
pub(crate) fn register_audit_metrics() {
    metrics::describe_counter!(EVENTS_METRIC, "Audit log entries written by this process, by event.");
    for event in AuditEvent::ALL.iter().map(|e| e.as_str()).chain([OTHER]) {
        metrics::counter!(EVENTS_METRIC, "event" => event).increment(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_read_back() {
        let mut seen = std::collections::BTreeSet::new();
        for &event in AuditEvent::ALL {
            assert!(seen.insert(event.as_str()), "{event} listed twice");
            assert_eq!(event.as_str().parse::<AuditEvent>().ok(), Some(event));
        }
        assert!(!seen.contains(OTHER));
        assert!("login.ok".parse::<AuditEvent>().is_err());
    }

    #[test]
    fn names_are_safe_labels_and_fields() {
        for event in AuditEvent::ALL {
            let name = event.as_str();
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.'),
                "{name} needs quoting somewhere"
            );
        }
    }
}
