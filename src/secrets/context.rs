//! The authenticated contexts secrets are sealed under. Each names the row a
//! sealed value belongs to, so a sealed secret copied into another row does
//! not open there. Every module that seals or opens these values uses these
//! functions, so the CLI, the legacy API and OAuth agree byte for byte.

use super::TokenHash;

/// The context of an application's sealed secret: its public api_key, known
/// before the row exists and never changed.
pub fn app_secret(api_key: &str) -> Vec<u8> {
    format!("app-secret:{api_key}").into_bytes()
}

/// The context of a legacy session's sealed secret: the session token's
/// hash, known before the row is inserted and unique to it.
pub(crate) fn session_secret(token_hash: &TokenHash) -> Vec<u8> {
    let mut context = b"session-secret:".to_vec();
    context.extend_from_slice(token_hash.as_slice());
    context
}
