//! `keygate config check`: finds what would stop `keygate serve` in a
//! configuration before a restart does, and shows the settings that result.
//!
//! The check reads the configuration exactly as `serve` does (defaults, the
//! file, `KEYGATE_*` variables) and applies the checks `serve` makes before it
//! listens, except those with side effects: it neither opens the database
//! (which would create an SQLite file and run migrations) nor creates the
//! server key file.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::CliError;
use crate::config::Config;
use crate::secrets::ServerKey;

/// The `keygate config` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate the configuration and print the settings in effect (secrets hidden).
    ///
    /// Reads the configuration as keygate serve does (defaults, the file, then
    /// the KEYGATE_* environment variables) and refuses what serve would refuse
    /// at start: unknown keys, bad values, an unsupported database URL, a
    /// malformed server key or key file, an attestation trust-root file that
    /// cannot be read or holds no certificate. It neither connects to the
    /// database nor creates any file. On success it prints the effective
    /// configuration as TOML, with the server key and any database password
    /// shown as ***, and exits 0; otherwise it prints why and exits 1.
    Check(CheckArgs),
}

/// Arguments of `keygate config check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Config file to check (default: ./keygate.toml when present).
    #[arg(long, env = "KEYGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub(super) fn run(cmd: ConfigCommand) -> Result<(), CliError> {
    match cmd {
        ConfigCommand::Check(args) => check(&args),
    }
}

fn check(args: &CheckArgs) -> Result<(), CliError> {
    let file = Config::file_to_read(args.config.as_deref()).map_err(|e| CliError::other(e.to_string()))?;
    let config = Config::load(file.as_deref(), NoFlags {}).map_err(|e| CliError::other(e.to_string()))?;
    check_database(&config)?;
    check_server_key(&config)?;
    check_tls(&config)?;
    // The same two steps `serve` takes (`AppState::try_new`), with its wording.
    let roots = config.trust_roots().map_err(|e| CliError::other(format!("attestation: {e}")))?;
    crate::auth::Settings::from_config(&config, roots)
        .map_err(|e| CliError::other(format!("attestation: {e}")))?;
    let text = render(&config, file.as_deref(), &Config::env_overrides())?;
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| CliError::other(format!("cannot write the configuration: {e}")))
}

/// The TLS files as `serve` loads them: readable, PEM, a key that belongs to
/// the certificate, and an https origin.
fn check_tls(config: &Config) -> Result<(), CliError> {
    if let Some(files) = config.tls_files().map_err(CliError::other)? {
        crate::web::tls::ReloadableCert::load(files).map_err(|e| CliError::other(e.to_string()))?;
    }
    Ok(())
}

/// `config check` has no flags that override settings.
#[derive(serde::Serialize)]
struct NoFlags {}

/// `serve` opens only the engines keygate has; the URL in the message has
/// its password hidden (the store's own message repeats the URL as given).
fn check_database(config: &Config) -> Result<(), CliError> {
    crate::store::normalize_url(&config.database).map(drop).map_err(|_| {
        CliError::other(format!(
            "database: unsupported URL {}: use sqlite:PATH, a file path, or postgres://…",
            crate::store::redact_url(&config.database)
        ))
    })
}

/// `serve` decodes `server_key`, or reads the key file and creates it when
/// missing; a missing file is fine here, since `serve` will create it.
fn check_server_key(config: &Config) -> Result<(), CliError> {
    if let Some(key) = &config.server_key {
        return ServerKey::load(Some(&key.0), Path::new(""))
            .map(drop)
            .map_err(|_| CliError::other("server_key: must be base64 of 32 bytes"));
    }
    let path = config.key_file_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CliError::other(format!("key_file: cannot read {}: {e}", path.display()))),
    };
    ServerKey::load(Some(&text), &path).map(drop).map_err(|_| {
        CliError::other(format!("key_file: {} does not hold base64 of 32 bytes", path.display()))
    })
}

/// The effective configuration as TOML, secrets hidden, after a comment
/// saying where it came from.
fn render(config: &Config, file: Option<&Path>, env: &[String]) -> Result<String, CliError> {
    let mut sources = vec!["built-in defaults".to_owned()];
    sources.extend(file.map(|path| path.display().to_string()));
    sources.extend(env.iter().cloned());
    let body = toml::to_string(&config.redacted())
        .map_err(|e| CliError::other(format!("cannot print the configuration: {e}")))?;
    Ok(format!(
        "# keygate's effective configuration, from {}.\n\
         # Secrets are shown as \"***\"; settings not shown are not set.\n{body}",
        sources.join(", then ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Redacted;

    #[test]
    fn rendering_reads_back_as_the_redacted_configuration() {
        let config = Config {
            server_key: Some(Redacted("c2VjcmV0".to_owned())),
            database: "postgres://kg:hunter2@db/kg".to_owned(),
            trusted_proxies: vec!["10.0.0.0/8".parse().expect("CIDR")],
            password_hash_concurrency: Some(3),
            ..Config::default()
        };
        let text = render(&config, Some(Path::new("/etc/keygate/keygate.toml")), &["KEYGATE_LISTEN".into()])
            .expect("renders");
        assert!(
            text.starts_with(
                "# keygate's effective configuration, from built-in defaults, then \
                 /etc/keygate/keygate.toml, then KEYGATE_LISTEN.\n"
            ),
            "{text}"
        );
        assert!(!text.contains("hunter2") && !text.contains("c2VjcmV0"), "{text}");
        let back: Config = toml::from_str(&text).expect("the output is a configuration");
        assert_eq!(back, config.redacted());
    }

    #[test]
    fn database_urls_of_other_engines_are_refused_without_their_password() {
        let config = Config { database: "mysql://kg:hunter2@db/kg".to_owned(), ..Config::default() };
        let err = check_database(&config).expect_err("mysql is refused").to_string();
        assert!(err.starts_with("database: unsupported URL mysql://kg:***@db/kg"), "{err}");
    }
}
