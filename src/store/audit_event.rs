//! The audit log's vocabulary: every event keygate writes, in one list.
//!
//! Writers name their event through [`AuditEvent`] rather than a string of
//! their own, so the names `keygate audit` shows and the names log shippers
//! and alerts match on are one fixed set, documented in one place.

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
    /// `keygate user reset-keys`.
    AdminUserResetKeys,
    /// `keygate app add`.
    AdminAppAdd,
    /// `keygate app remove`.
    AdminAppRemove,
    /// `keygate app rotate-secret`.
    AdminAppRotateSecret,
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
    AdminUserResetKeys => "admin.user.reset_keys",
    AdminAppAdd => "admin.app.add",
    AdminAppRemove => "admin.app.remove",
    AdminAppRotateSecret => "admin.app.rotate_secret",
});

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
