//! `keygate user show`: one user as an administrator investigating an
//! alarm or a lost key needs to see them: the account, every key with its
//! use and attestation, what is signed in, and the recovery codes left.
//! Tokens and secrets are never shown, only their kind and dates.

use std::collections::HashMap;

use super::keys::describe;
use super::{UserNameArgs, db_error, find};
use crate::cli::CliError;
use crate::cli::common::format_time;
use crate::clock::unix_now;
use crate::store::{Credential, Store, User};

/// Most sessions and tokens listed; the rest are counted.
const MAX_LISTED: usize = 20;

/// One live session or token, as listed.
struct Live {
    kind: String,
    app_id: Option<i64>,
    created_at: i64,
    expires_at: Option<i64>,
}

pub(super) async fn run(args: UserNameArgs) -> Result<(), CliError> {
    let store = args.db.open().await?;
    let user = find(&store, &args.name).await?;
    let now = unix_now();
    let keys = store.credentials_for_user(user.id).await.map_err(db_error)?;
    let codes = store.recovery_codes_left(user.id).await.map_err(db_error)?;
    let live = live(&store, &user, now).await?;
    let apps = app_names(&store, &live).await?;

    print_account(&user, codes);
    println!("keys:            {}", keys.len());
    for key in &keys {
        print_key(&user, key);
    }
    print_live(&live, &apps);
    Ok(())
}

fn print_account(user: &User, codes: u32) {
    println!("user:            {}", user.name);
    println!("uid:             {}", user.id);
    if let Some(display) = &user.display_name {
        println!("display name:    {display}");
    }
    match user.disabled_at {
        Some(at) => println!("state:           disabled since {}", format_time(at)),
        None => println!("state:           active"),
    }
    println!("created:         {}", format_time(user.created_at));
    println!("password set:    {}", format_time(user.password_changed_at));
    println!("recovery codes:  {codes} left");
}

fn print_key(user: &User, key: &Credential) {
    let transports: Vec<&str> = key.transports.iter().map(|t| t.as_str()).collect();
    println!("  {}", describe(key));
    println!("    created:     {}", format_time(key.created_at));
    println!("    last used:   {}", key.last_used_at.map_or_else(|| "never".to_owned(), format_time));
    println!("    counter:     {}", key.counter);
    println!("    attestation: {}", key.attestation_subject.as_deref().unwrap_or("none recorded"));
    println!("    rp id:       {}", key.rp_id);
    println!(
        "    transports:  {}",
        if transports.is_empty() { "unknown".to_owned() } else { transports.join(", ") }
    );
    if key.possible_clone {
        println!(
            "    blocked:     yes, possible clone (its counter went backwards); after investigation: \
             keygate user unblock-key {} {}",
            user.name, key.id
        );
    } else {
        println!("    blocked:     no");
    }
}

fn print_live(live: &[Live], apps: &HashMap<i64, String>) {
    println!("sessions and tokens: {} live", live.len());
    if live.is_empty() {
        return;
    }
    let app = |id: Option<i64>| id.map_or("-", |id| apps.get(&id).map_or("?", String::as_str));
    let kind_width = live.iter().map(|l| l.kind.len()).max().unwrap_or(4).max(4);
    let app_width = live.iter().map(|l| app(l.app_id).len()).max().unwrap_or(3).max(3);
    println!("  {:<kind_width$}  {:<app_width$}  {:<20}  EXPIRES", "KIND", "APP", "CREATED");
    for entry in live.iter().take(MAX_LISTED) {
        println!(
            "  {:<kind_width$}  {:<app_width$}  {:<20}  {}",
            entry.kind,
            app(entry.app_id),
            format_time(entry.created_at),
            entry.expires_at.map_or_else(|| "when revoked".to_owned(), format_time),
        );
    }
    if live.len() > MAX_LISTED {
        println!("  … and {} more", live.len() - MAX_LISTED);
    }
}

/// The user's live sessions and app tokens, newest first.
async fn live(store: &Store, user: &User, now: i64) -> Result<Vec<Live>, CliError> {
    let sessions = store.sessions_for_user(user.id, now).await.map_err(db_error)?;
    let tokens = store.live_app_tokens_for_user(user.id, now).await.map_err(db_error)?;
    let mut live: Vec<Live> = sessions
        .into_iter()
        .map(|s| Live {
            kind: format!("{} session", s.kind),
            app_id: s.app_id,
            created_at: s.created_at,
            expires_at: Some(s.expires_at),
        })
        .chain(tokens.into_iter().map(|t| Live {
            kind: t.kind.as_str().replace('_', " "),
            app_id: Some(t.app_id),
            created_at: t.created_at,
            expires_at: t.expires_at,
        }))
        .collect();
    live.sort_by_key(|l| std::cmp::Reverse(l.created_at));
    Ok(live)
}

/// The names of the apps the live entries belong to.
async fn app_names(store: &Store, live: &[Live]) -> Result<HashMap<i64, String>, CliError> {
    if live.iter().all(|l| l.app_id.is_none()) {
        return Ok(HashMap::new());
    }
    let apps = store.list_apps().await.map_err(db_error)?;
    Ok(apps.into_iter().map(|a| (a.id, a.name)).collect())
}
