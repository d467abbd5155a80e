//! `keygate user revoke-key|unblock-key`: one key of one user, named by id
//! or by label as `keygate key` names them.
//!
//! Revoking goes through the store's key removal, the same transaction the
//! account page and `DELETE /api/v1/keys/{id}` use; an administrator may
//! remove the last key (the user then enrolls a new one at their next
//! login, as after `reset-keys`). A revoked key is usually a lost or stolen
//! one, and sessions do not record which key opened them, so every session
//! and token of the user ends with it unless `--keep-sessions` says the key
//! is merely retired.

use clap::Args;

use super::{audit, db_error, find};
use crate::cli::CliError;
use crate::clock::unix_now;
use crate::store::{AuditEvent, Credential, KeyRemoval, Store, StoreError, User};

/// A user, one of their keys, and the database.
#[derive(Debug, Args)]
pub(crate) struct UserKeyArgs {
    /// The user's login name.
    pub name: String,
    /// The key's id or label (as `keygate user show` lists them).
    pub key: String,
    #[command(flatten)]
    pub db: crate::cli::common::DatabaseArgs,
}

/// Arguments of `keygate user revoke-key`.
#[derive(Debug, Args)]
pub(crate) struct RevokeKeyArgs {
    #[command(flatten)]
    pub key: UserKeyArgs,
    /// Keep the user's sessions and tokens. By default they all end: a
    /// session does not record which key opened it, and one opened with a
    /// lost key must not outlive the key.
    #[arg(long)]
    pub keep_sessions: bool,
}

pub(super) async fn revoke(args: RevokeKeyArgs) -> Result<(), CliError> {
    let RevokeKeyArgs { key: UserKeyArgs { name, key, db }, keep_sessions } = args;
    let store = db.open().await?;
    let user = find(&store, &name).await?;
    let key = resolve(&store, &user, &key).await?;
    let removed = match store.remove_credential(user.id, key.id, true).await {
        Ok(KeyRemoval::Removed(removed)) => removed,
        // Unreachable with the last key allowed; said plainly all the same.
        Ok(KeyRemoval::LastKey) => {
            return Err(CliError::other("the store kept the last key; nothing changed"));
        }
        Err(StoreError::NotFound(_)) => return Err(no_key(&user, &key.id.to_string())),
        Err(e) => return Err(db_error(e)),
    };
    let named = describe(&removed);
    let now = unix_now();
    let ended = if !keep_sessions {
        Some(store.end_sessions_and_tokens(user.id, now).await.map_err(db_error)?)
    } else {
        None
    };
    let detail = match ended {
        Some(ended) => format!("{named} revoked; {ended} sessions and tokens ended"),
        None => format!("{named} revoked"),
    };
    audit(&store, &user, AuditEvent::AdminUserRevokeKey, &detail).await?;

    let left = store.credential_count(user.id).await.map_err(db_error)?;
    if left == 0 {
        println!(
            "revoked {named} of {}; it was their last key: their next login (password only) may only enroll a new one",
            user.name
        );
    } else {
        let keys = if left == 1 { "key" } else { "keys" };
        println!("revoked {named} of {}; {left} {keys} left", user.name);
    }
    match ended {
        Some(ended) => println!("ended {ended} sessions and tokens of {}", user.name),
        None => {
            let live = store.sessions_for_user(user.id, now).await.map_err(db_error)?.len()
                + store.live_app_tokens_for_user(user.id, now).await.map_err(db_error)?.len();
            if live > 0 {
                println!("{live} sessions and tokens of {} stay (--keep-sessions)", user.name);
            }
        }
    }
    Ok(())
}

pub(super) async fn unblock(args: UserKeyArgs) -> Result<(), CliError> {
    let store = args.db.open().await?;
    let user = find(&store, &args.name).await?;
    let key = resolve(&store, &user, &args.key).await?;
    let named = describe(&key);
    let not_blocked = || CliError::other(format!("{named} of {} is not blocked; nothing changed", user.name));
    if !key.possible_clone {
        return Err(not_blocked());
    }
    match store.clear_possible_clone(user.id, key.id).await {
        Ok(true) => {}
        Ok(false) => return Err(not_blocked()),
        Err(StoreError::NotFound(_)) => return Err(no_key(&user, &args.key)),
        Err(e) => return Err(db_error(e)),
    }
    let detail = format!("{named} unblocked: possible-clone mark cleared at counter {}", key.counter);
    audit(&store, &user, AuditEvent::AdminUserUnblockKey, &detail).await?;
    println!(
        "unblocked {named} of {}; it must next send a counter above {} (a lower one blocks it again)",
        user.name, key.counter
    );
    Ok(())
}

/// How a key is named in messages and audit entries: `key 3 "office"`.
pub(super) fn describe(key: &Credential) -> String {
    format!("key {} {:?}", key.id, key.label)
}

/// The user's key named by `key`: read from the database, then picked.
async fn resolve(store: &Store, user: &User, key: &str) -> Result<Credential, CliError> {
    let keys = store.credentials_for_user(user.id).await.map_err(db_error)?;
    pick(&keys, key).cloned().map_err(|ambiguous| {
        if ambiguous {
            CliError::other(format!("several keys of {} are called {key:?}; use the id", user.name))
        } else {
            no_key(user, key)
        }
    })
}

/// The key whose id is `key`, else the one key labelled `key`; `Err(true)`
/// when several share that label, `Err(false)` when none matches.
fn pick<'k>(keys: &'k [Credential], key: &str) -> Result<&'k Credential, bool> {
    if let Some(by_id) = key.parse::<i64>().ok().and_then(|id| keys.iter().find(|k| k.id == id)) {
        return Ok(by_id);
    }
    let mut labelled = keys.iter().filter(|k| k.label == key);
    match (labelled.next(), labelled.next()) {
        (Some(only), None) => Ok(only),
        (Some(_), Some(_)) => Err(true),
        (None, _) => Err(false),
    }
}

fn no_key(user: &User, key: &str) -> CliError {
    CliError::other(format!("{} has no key {key:?}", user.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: i64, label: &str) -> Credential {
        Credential {
            id,
            user_id: 1,
            rp_id: "localhost".into(),
            key_handle: id.to_be_bytes().to_vec(),
            public_key: vec![4; 65],
            counter: 0,
            label: label.into(),
            attestation_subject: None,
            transports: Vec::new(),
            webauthn: None,
            created_at: 0,
            last_used_at: None,
            possible_clone: false,
        }
    }

    #[test]
    fn keys_are_named_by_id_then_by_label() {
        let keys = [key(1, "office"), key(2, "3"), key(3, "home"), key(4, "home")];
        assert_eq!(pick(&keys, "1").map(|k| k.id), Ok(1));
        assert_eq!(pick(&keys, "office").map(|k| k.id), Ok(1));
        // An id wins over a label that looks like one.
        assert_eq!(pick(&keys, "3").map(|k| k.id), Ok(3));
        assert_eq!(pick(&keys, "home").map(|k| k.id), Err(true));
        assert_eq!(pick(&keys, "car").map(|k| k.id), Err(false));
        assert_eq!(pick(&keys, "9").map(|k| k.id), Err(false));
    }
}
