//! Recovery codes: ten random `xxxx-xxxx-xxxx` codes per set, shown once and
//! stored as SHA-256 hashes; each logs in once in place of a key.

use super::{Auth, AuthError};
use crate::secrets::{self, TokenHash};

/// Codes in one set.
pub const CODES_PER_SET: usize = 10;

/// Letters and digits without look-alikes (no 0/o, 1/l/i).
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// One fresh code, `xxxx-xxxx-xxxx` (about 59 bits).
pub fn generate_code() -> String {
    let bytes = secrets::random_bytes(12);
    let chars: Vec<char> =
        bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect();
    let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
    groups.join("-")
}

/// The form a code is hashed in: lower case, surrounding spaces dropped, so
/// a code typed in capitals still works.
pub fn normalize(code: &str) -> String {
    code.trim().to_ascii_lowercase()
}

impl Auth {
    /// Replaces the user's recovery codes with a fresh set and returns it
    /// (the only time the codes are seen in clear).
    pub async fn new_recovery_codes(&self, user_id: i64, now: i64) -> Result<Vec<String>, AuthError> {
        let codes: Vec<String> = (0..CODES_PER_SET).map(|_| generate_code()).collect();
        let hashes: Vec<TokenHash> = codes.iter().map(|c| TokenHash::of(&normalize(c))).collect();
        self.store.replace_recovery_codes(user_id, &hashes, now).await?;
        Ok(codes)
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
