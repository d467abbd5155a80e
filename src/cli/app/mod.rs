//! `keygate app ...`: applications that call the legacy REST and OAuth APIs.
//! Every change is written to the audit log with source `cli:<OS user>`.
//! Registration and the listings live here, later changes in `update`; both
//! check their flags with the same validators.

mod update;

use std::net::IpAddr;

use clap::{Args, Subcommand};
use ipnet::IpNet;
use serde::Serialize;

use super::CliError;
use super::common::{DatabaseArgs, format_time};
use crate::clock::unix_now;
use crate::config::Config;
use crate::oauth::validate_registered;
use crate::secrets::{ServerKey, context, random_hex};
use crate::store::{App, AuditEvent, NewApp, NewAuditEntry, Store, StoreError};

/// The `keygate app` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AppCommand {
    /// Register an application; prints its api_key (app id) and secret.
    Add(AppAddArgs),
    /// List registered applications.
    List(DatabaseArgs),
    /// Show one application's settings (never its secret).
    Show(AppRefArgs),
    /// Change an application's redirect URIs, allowed networks, rate limit or kind.
    ///
    /// Each flag given replaces that whole setting (repeat --redirect-uri or
    /// --allow-ip for several values); settings not named stay as they are,
    /// and --no-redirect-uri, --no-allow-ip and --no-rate-limit empty one.
    /// Every instance applies the new settings from the next call on;
    /// sessions and tokens already issued stay valid.
    Update(update::AppUpdateArgs),
    /// Remove an application and end all its sessions and tokens.
    Remove(AppRefArgs),
    /// Issue a new secret; the old one and its app tokens stop working.
    RotateSecret(AppRefArgs),
}

/// Arguments of `keygate app add`.
#[derive(Debug, Args)]
pub(crate) struct AppAddArgs {
    /// A name shown to users when they sign in to the app.
    pub name: String,
    /// A desktop application: its sessions always get a session secret.
    #[arg(long)]
    pub desktop: bool,
    /// An allowed OAuth redirect URI; its host is also an allowed `next` for login.php.
    #[arg(long = "redirect-uri", value_name = "URL")]
    pub redirect_uris: Vec<String>,
    /// Only accept API calls from these source networks.
    #[arg(long = "allow-ip", value_name = "CIDR")]
    pub allow_ips: Vec<String>,
    /// Limit API calls, e.g. 600/min.
    #[arg(long, value_name = "N/min")]
    pub rate_limit: Option<String>,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

/// An application named by api_key or by name.
#[derive(Debug, Args)]
pub(crate) struct AppRefArgs {
    /// The application's api_key or name.
    pub app: String,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

pub(super) async fn run(cmd: AppCommand) -> Result<(), CliError> {
    match cmd {
        AppCommand::Add(args) => add(args).await,
        AppCommand::List(db) => list(db).await,
        AppCommand::Show(args) => show(args).await,
        AppCommand::Update(args) => update::run(args).await,
        AppCommand::Remove(args) => remove(args).await,
        AppCommand::RotateSecret(args) => rotate_secret(args).await,
    }
}

async fn add(args: AppAddArgs) -> Result<(), CliError> {
    check_name(&args.name)?;
    let redirect_uris = check_redirect_uris(&args.redirect_uris)?;
    let allowed = parse_networks(&args.allow_ips)?;
    let rate_limit = args.rate_limit.as_deref().map(parse_rate_limit).transpose()?;
    let (store, server_key) = open(&args.db).await?;
    let api_key = random_hex(16);
    let secret = random_hex(16);
    let sealed = server_key.seal(secret.as_bytes(), &context::app_secret(&api_key));
    let new = NewApp {
        name: &args.name,
        api_key: &api_key,
        secret_sealed: &sealed,
        desktop: args.desktop,
        redirect_uris: &redirect_uris,
        allowed_ips: &allowed,
        rate_limit_per_min: rate_limit,
    };
    let app = match store.create_app(&new, unix_now()).await {
        Err(StoreError::Conflict(_)) => {
            return Err(CliError::other(format!("app {} already exists", args.name)));
        }
        other => other.map_err(db_error)?,
    };
    audit(&store, AuditEvent::AdminAppAdd, &format!("registered app {} ({})", app.name, app.api_key)).await?;
    println!("registered app {}", app.name);
    println!("api_key: {}", app.api_key);
    println!("secret:  {secret}");
    println!("(the secret is shown only now; `keygate app rotate-secret` issues a new one)");
    Ok(())
}

async fn list(db: DatabaseArgs) -> Result<(), CliError> {
    let store = db.open().await?;
    let apps = store.list_apps().await.map_err(db_error)?;
    if apps.is_empty() {
        println!("no applications yet: add one with `keygate app add NAME`");
        return Ok(());
    }
    let width = apps.iter().map(|a| a.name.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  {:<32}  {:<7}  {:<10}  CREATED", "NAME", "API_KEY", "DESKTOP", "LIMIT");
    for app in apps {
        let limit = app.rate_limit_per_min.map_or_else(|| "-".to_owned(), |n| format!("{n}/min"));
        let desktop = if app.desktop { "yes" } else { "no" };
        println!(
            "{:<width$}  {:<32}  {:<7}  {:<10}  {}",
            app.name,
            app.api_key,
            desktop,
            limit,
            format_time(app.created_at)
        );
    }
    Ok(())
}

async fn show(args: AppRefArgs) -> Result<(), CliError> {
    let store = args.db.open().await?;
    let app = find(&store, &args.app).await?;
    println!("app:             {}", app.name);
    println!("api_key:         {}", app.api_key);
    println!("kind:            {}", kind(app.desktop));
    match app.redirect_uris.split_first() {
        None => println!("redirect uris:   none (the OAuth dialog refuses every redirect_uri)"),
        Some((first, rest)) => {
            println!("redirect uris:   {first}");
            for uri in rest {
                println!("                 {uri}");
            }
        }
    }
    if app.allowed_ips.is_empty() {
        println!("allowed ips:     any address");
    } else {
        println!("allowed ips:     {}", join(&app.allowed_ips));
    }
    println!("rate limit:      {}", rate_limit(app.rate_limit_per_min));
    println!("created:         {}", format_time(app.created_at));
    println!("secret set:      {}", format_time(app.secret_rotated_at));
    Ok(())
}

async fn remove(args: AppRefArgs) -> Result<(), CliError> {
    let store = args.db.open().await?;
    let app = find(&store, &args.app).await?;
    store.remove_app(app.id).await.map_err(db_error)?;
    audit(
        &store,
        AuditEvent::AdminAppRemove,
        &format!("removed app {} ({}) with its sessions and tokens", app.name, app.api_key),
    )
    .await?;
    println!("removed app {}; its sessions and tokens are ended", app.name);
    Ok(())
}

async fn rotate_secret(args: AppRefArgs) -> Result<(), CliError> {
    let (store, server_key) = open(&args.db).await?;
    let app = find(&store, &args.app).await?;
    let secret = random_hex(16);
    let sealed = server_key.seal(secret.as_bytes(), &context::app_secret(&app.api_key));
    store.rotate_app_secret(app.id, &sealed, unix_now()).await.map_err(db_error)?;
    audit(
        &store,
        AuditEvent::AdminAppRotateSecret,
        &format!("new secret for app {} ({})", app.name, app.api_key),
    )
    .await?;
    println!("new secret for app {}", app.name);
    println!("secret:  {secret}");
    println!("(the old secret and the app tokens issued with it no longer work)");
    Ok(())
}

/// Opens the database and the server key the service seals secrets with.
async fn open(db: &DatabaseArgs) -> Result<(Store, ServerKey), CliError> {
    #[derive(Serialize)]
    struct Flags<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        database: Option<&'a str>,
    }
    let config = Config::load(db.config.as_deref(), Flags { database: db.database.as_deref() })
        .map_err(|e| CliError::other(e.to_string()))?;
    let store = db.open().await?;
    let server_key =
        ServerKey::load(config.server_key.as_ref().map(|k| k.0.as_str()), &config.key_file_path())
            .map_err(|e| CliError::other(e.to_string()))?;
    Ok((store, server_key))
}

async fn find(store: &Store, app: &str) -> Result<App, CliError> {
    if let Some(found) = store.app_by_api_key(app).await.map_err(db_error)? {
        return Ok(found);
    }
    store
        .app_by_name(app)
        .await
        .map_err(db_error)?
        .ok_or_else(|| CliError::other(format!("no app named {app}")))
}

async fn audit(store: &Store, event: AuditEvent, detail: &str) -> Result<(), CliError> {
    let source = Some(super::operator::audit_source());
    let entry = NewAuditEntry { user_id: None, user_name: None, event: event.as_str(), detail, source };
    store.audit(&entry, unix_now()).await.map_err(db_error)
}

fn db_error(e: StoreError) -> CliError {
    CliError::other(e.to_string())
}

/// App names are shown to users at sign-in: printable, 1 to 64 characters.
fn check_name(name: &str) -> Result<(), CliError> {
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(CliError::other("an app name has 1 to 64 printable characters"));
    }
    Ok(())
}

/// Redirect URIs an operator registers, each checked as the OAuth dialog
/// will need it (absolute http(s), no credentials, no fragment).
fn check_redirect_uris(uris: &[String]) -> Result<Vec<String>, CliError> {
    for uri in uris {
        validate_registered(uri).map_err(|e| CliError::other(format!("--redirect-uri {uri}: {e}")))?;
    }
    Ok(uris.to_vec())
}

/// Every `--allow-ip`, parsed; the first bad one is the error.
fn parse_networks(texts: &[String]) -> Result<Vec<IpNet>, CliError> {
    texts.iter().map(|text| parse_network(text)).collect()
}

/// How listings name an app's kind.
fn kind(desktop: bool) -> &'static str {
    if desktop { "desktop" } else { "web" }
}

/// How listings show a rate limit.
fn rate_limit(per_min: Option<i64>) -> String {
    per_min.map_or_else(|| "unlimited".to_owned(), |n| format!("{n}/min"))
}

/// Items separated by commas.
fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// `10.0.0.0/8`, `2001:db8::/32`, or a single address.
fn parse_network(text: &str) -> Result<IpNet, CliError> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| CliError::other(format!("--allow-ip {text}: not an address or CIDR network")))
}

/// `600/min` or `600`: calls per minute, at least 1.
fn parse_rate_limit(text: &str) -> Result<u32, CliError> {
    let number = text.strip_suffix("/min").unwrap_or(text);
    match number.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(CliError::other(format!("--rate-limit {text}: expected calls per minute such as 600/min"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_calls_per_minute() {
        assert_eq!(parse_rate_limit("600/min").ok(), Some(600));
        assert_eq!(parse_rate_limit("5").ok(), Some(5));
        for bad in ["0/min", "-1/min", "10/s", "", "many"] {
            assert!(parse_rate_limit(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn networks_accept_cidrs_and_addresses() {
        assert_eq!(parse_network("10.0.0.0/8").ok().map(|n| n.to_string()), Some("10.0.0.0/8".to_owned()));
        assert_eq!(parse_network("::1").ok().map(|n| n.to_string()), Some("::1/128".to_owned()));
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("example.org").is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("My App").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("tab\there").is_err());
    }
}
