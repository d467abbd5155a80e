//! `keygate user ...`: account administration on the local database. Every
//! change is written to the audit log with source `cli:<OS user>`. The
//! account commands live here, the one-key commands in `keys`, the
//! read-only view in `show`.

mod keys;
mod show;

use clap::{Args, Subcommand};

use super::CliError;
use super::common::{DatabaseArgs, PasswordArgs, format_time};
use crate::clock::unix_now;
use crate::secrets::hash_password;
use crate::store::{AuditEvent, NewAuditEntry, NewUser, Store, StoreError, User};

/// The `keygate user` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user; the password is prompted for (or read with --password-stdin).
    Add(UserPasswordArgs),
    /// Set a user's password; ends their sessions and tokens.
    Passwd(UserPasswordArgs),
    /// List users with their key count and state.
    List(DatabaseArgs),
    /// Disable a user and end all their sessions and tokens.
    Disable(UserNameArgs),
    /// Let a disabled user log in again (their ended sessions stay ended).
    Enable(UserNameArgs),
    /// Show a user: state, keys, live sessions and tokens, recovery codes left.
    Show(UserNameArgs),
    /// Remove one security key, e.g. a lost one; the user's other keys stay.
    ///
    /// KEY is the key's id or label, as `keygate user show` lists them.
    /// Sessions do not record which key opened them, so all of the user's
    /// sessions and tokens end, unless --keep-sessions is given (a retired
    /// rather than lost key). Revoking the last key leaves a password-only
    /// login that may only enroll a new key.
    RevokeKey(keys::RevokeKeyArgs),
    /// Accept a key blocked as a possible clone again, after investigation.
    ///
    /// The stored counter stays: whichever device next sends a counter at
    /// or below the highest one seen is blocked again. Refused for a key
    /// that is not blocked.
    UnblockKey(keys::UserKeyArgs),
    /// Remove all of a user's security keys and recovery codes (they enroll again).
    ResetKeys(UserNameArgs),
}

/// A user name and the database.
#[derive(Debug, Args)]
pub(crate) struct UserNameArgs {
    /// The user's login name.
    pub name: String,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

/// A user name, a password source and the database.
#[derive(Debug, Args)]
pub(crate) struct UserPasswordArgs {
    /// The user's login name.
    pub name: String,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

pub(super) async fn run(cmd: UserCommand) -> Result<(), CliError> {
    match cmd {
        UserCommand::Add(args) => add(args).await,
        UserCommand::Passwd(args) => passwd(args).await,
        UserCommand::List(db) => list(db).await,
        UserCommand::Disable(args) => disable(args).await,
        UserCommand::Enable(args) => enable(args).await,
        UserCommand::Show(args) => show::run(args).await,
        UserCommand::RevokeKey(args) => keys::revoke(args).await,
        UserCommand::UnblockKey(args) => keys::unblock(args).await,
        UserCommand::ResetKeys(args) => reset_keys(args).await,
    }
}

async fn add(args: UserPasswordArgs) -> Result<(), CliError> {
    check_name(&args.name)?;
    let store = args.db.open().await?;
    let password = args.password.read_new().await?;
    let hash = hash_password(password).await.map_err(|e| CliError::other(e.to_string()))?;
    let now = unix_now();
    let new = NewUser { name: &args.name, display_name: None, password_hash: &hash };
    let user = match store.create_user(&new, now).await {
        Err(StoreError::Conflict(_)) => {
            return Err(CliError::other(format!("user {} already exists", args.name)));
        }
        other => other.map_err(db_error)?,
    };
    audit(&store, &user, AuditEvent::AdminUserAdd, "created by an administrator").await?;
    println!("created user {} (uid {})", user.name, user.id);
    Ok(())
}

async fn passwd(args: UserPasswordArgs) -> Result<(), CliError> {
    let store = args.db.open().await?;
    let user = find(&store, &args.name).await?;
    let password = args.password.read_new().await?;
    let hash = hash_password(password).await.map_err(|e| CliError::other(e.to_string()))?;
    let ended = store.set_password(user.id, &hash, unix_now()).await.map_err(db_error)?;
    audit(
        &store,
        &user,
        AuditEvent::AdminUserPasswd,
        &format!("password set; {ended} sessions and tokens ended"),
    )
    .await?;
    println!("password changed for {}; {ended} sessions and tokens ended", user.name);
    Ok(())
}

async fn list(db: DatabaseArgs) -> Result<(), CliError> {
    let store = db.open().await?;
    let users = store.list_users().await.map_err(db_error)?;
    if users.is_empty() {
        println!("no users yet: add one with `keygate user add NAME`");
        return Ok(());
    }
    let width = users.iter().map(|u| u.name.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  {:>6}  {:<8}  {:>4}  CREATED", "NAME", "UID", "STATE", "KEYS");
    for user in users {
        let state = if user.disabled_at.is_some() { "disabled" } else { "active" };
        println!(
            "{:<width$}  {:>6}  {:<8}  {:>4}  {}",
            user.name,
            user.id,
            state,
            user.key_count,
            format_time(user.created_at)
        );
    }
    Ok(())
}

async fn disable(args: UserNameArgs) -> Result<(), CliError> {
    let store = args.db.open().await?;
    let user = find(&store, &args.name).await?;
    let ended = store.disable_user(user.id, unix_now()).await.map_err(db_error)?;
    audit(
        &store,
        &user,
        AuditEvent::AdminUserDisable,
        &format!("disabled; {ended} sessions and tokens ended"),
    )
    .await?;
    println!("disabled {}; {ended} sessions and tokens ended", user.name);
    Ok(())
}

async fn enable(args: UserNameArgs) -> Result<(), CliError> {
    let store = args.db.open().await?;
    let user = find(&store, &args.name).await?;
    let since = user.disabled_at.map_or_else(|| "-".to_owned(), format_time);
    if !store.enable_user(user.id).await.map_err(db_error)? {
        return Err(CliError::other(format!("{} is not disabled; nothing changed", user.name)));
    }
    audit(&store, &user, AuditEvent::AdminUserEnable, &format!("enabled; had been disabled since {since}"))
        .await?;
    println!(
        "enabled {}; they can log in again (sessions and tokens ended by the disabling stay ended)",
        user.name
    );
    Ok(())
}

async fn reset_keys(args: UserNameArgs) -> Result<(), CliError> {
    let store = args.db.open().await?;
    let user = find(&store, &args.name).await?;
    let (keys, codes) = store.reset_keys(user.id).await.map_err(db_error)?;
    audit(
        &store,
        &user,
        AuditEvent::AdminUserResetKeys,
        &format!("{keys} keys and {codes} recovery codes removed"),
    )
    .await?;
    println!(
        "removed {keys} keys and {codes} recovery codes of {}; they enroll a key at their next login",
        user.name
    );
    Ok(())
}

/// Login names: 1 to 64 characters from a conservative set, so they are safe
/// in URLs, logs and terminal output.
fn check_name(name: &str) -> Result<(), CliError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok_char) {
        return Err(CliError::other(format!(
            "invalid user name {name:?}: use 1 to 64 letters, digits, '.', '_', '-' or '@'"
        )));
    }
    Ok(())
}

async fn find(store: &Store, name: &str) -> Result<User, CliError> {
    store
        .user_by_name(name)
        .await
        .map_err(db_error)?
        .ok_or_else(|| CliError::other(format!("no user named {name}")))
}

async fn audit(store: &Store, user: &User, event: AuditEvent, detail: &str) -> Result<(), CliError> {
    let entry = NewAuditEntry {
        user_id: Some(user.id),
        user_name: Some(&user.name),
        event: event.as_str(),
        detail,
        source: Some(super::operator::audit_source()),
    };
    store.audit(&entry, unix_now()).await.map_err(db_error)
}

fn db_error(e: StoreError) -> CliError {
    CliError::other(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_checked() {
        assert!(check_name("alice").is_ok());
        assert!(check_name("a.b-c_d@example.org").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("white space").is_err());
        assert!(check_name("tab\there").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
