//! Recovery codes: ten random `xxxx-xxxx-xxxx` codes per set, shown once and
//! stored as HMAC-SHA-256 under the server key, salted by the user; each
//! logs in once in place of a key.

use std::net::IpAddr;

use super::session::Caller;
use super::{Auth, AuthError};
use crate::secrets::{self, CodeMac};
use crate::store::AuditEvent;

/// Codes in one set.
pub(crate) const CODES_PER_SET: usize = 10;

/// Letters and digits without look-alikes (no 0/o, 1/l/i).
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// One fresh code, `xxxx-xxxx-xxxx` (about 59 bits).
pub(crate) fn generate_code() -> String {
    let bytes = secrets::random_bytes(12);
    let chars: Vec<char> =
        bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect();
    let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
    groups.join("-")
}

/// The form a code is hashed in: lower case, surrounding spaces dropped, so
/// a code typed in capitals still works.
pub(crate) fn normalize(code: &str) -> String {
    code.trim().to_ascii_lowercase()
}

/// A fresh set: the codes to show once, and what the store keeps of them.
pub(crate) struct CodeSet {
    /// The codes in clear.
    pub codes: Vec<String>,
    /// Their MACs.
    pub macs: Vec<CodeMac>,
}

impl Auth {
    /// A fresh set of codes for `user_id`, not yet stored.
    pub(crate) fn recovery_code_set(&self, user_id: i64) -> CodeSet {
        let codes: Vec<String> = (0..CODES_PER_SET).map(|_| generate_code()).collect();
        let macs = codes.iter().map(|c| self.server_key.recovery_code_mac(user_id, &normalize(c))).collect();
        CodeSet { codes, macs }
    }

    /// Replaces the caller's recovery codes with a fresh set and returns it
    /// (the only time the codes are seen in clear). Needs a second factor
    /// from the last 5 minutes: a stolen session alone mints no codes.
    pub(crate) async fn new_recovery_codes(
        &self,
        caller: &Caller,
        source: IpAddr,
        now: i64,
    ) -> Result<Vec<String>, AuthError> {
        caller.require_full()?;
        caller.require_fresh_factor("a new set of recovery codes", now)?;
        let set = self.recovery_code_set(caller.user.id);
        self.store.replace_recovery_codes(caller.user.id, &set.macs, now).await?;
        let who = Some((caller.user.id, caller.user.name.as_str()));
        self.audit(who, AuditEvent::RecoveryCodesReplaced, "", Some(source), now).await;
        Ok(set.codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_documented_shape() {
        let code = generate_code();
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 3, "{code}");
        assert!(groups.iter().all(|g| g.len() == 4 && g.bytes().all(|b| ALPHABET.contains(&b))), "{code}");
        assert_ne!(generate_code(), code);
        assert_eq!(normalize(&format!(" {} ", code.to_uppercase())), code);
    }
}
