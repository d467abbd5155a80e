//! Service configuration: built-in defaults, then `keygate.toml`, then
//! `KEYGATE_*` environment variables, then command-line flags (later wins).
//!
//! Every setting works with no file at all, so `keygate serve` runs out of the
//! box; the file only exists to record choices an operator wants to keep.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::telemetry::LogFormat;

mod duration;

pub use duration::HumanDuration;

/// The file read from the working directory when `--config` is not given.
pub(crate) const DEFAULT_CONFIG_FILE: &str = "keygate.toml";

/// Prefix of the environment variables that mirror the config keys.
pub(crate) const ENV_PREFIX: &str = "KEYGATE_";

/// Everything `keygate serve` and the database commands need to know.
///
/// Field names are the config keys; flags and environment variables mirror
/// them (`listen` = `--listen` = `KEYGATE_LISTEN`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Database URL: `sqlite:PATH` (or a bare path) or `postgres://…`.
    pub database: String,
    /// WebAuthn relying-party id; also the U2F app id, so both paths share keys.
    pub rp_id: String,
    /// Origin browsers and non-browser clients put in clientData.
    pub origin: String,
    /// PEM certificate chain to serve HTTPS with (with `tls_key`); absent:
    /// plain HTTP, for localhost or behind a TLS-terminating proxy.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert` (PKCS#8, SEC1 or PKCS#1).
    pub tls_key: Option<PathBuf>,
    /// Log rendering.
    pub log_format: LogFormat,
    /// Base64 of the 32-byte key that seals app and session secrets. When
    /// absent, the key lives in `key_file`.
    pub server_key: Option<Redacted>,
    /// The server key file, created with mode 0600 when missing (default:
    /// `keygate.key` next to the SQLite file, or in the working directory).
    pub key_file: Option<PathBuf>,
    /// Proxies whose `X-Forwarded-For` entry names the real client: a list,
    /// or one comma-separated string (handy in `KEYGATE_TRUSTED_PROXIES`).
    #[serde(deserialize_with = "cidr_list")]
    pub trusted_proxies: Vec<IpNet>,
    /// Seconds between purges of expired challenges, sessions and tokens, and
    /// of audit entries older than `audit_retention`.
    pub purge_interval_secs: u64,
    /// How long audit entries are kept; older ones go at the next purge.
    /// At least [`MIN_AUDIT_RETENTION`], so losing the log takes a decision.
    pub audit_retention: HumanDuration,
    /// Most database connections this instance opens (on SQLite: readers,
    /// beside the one writer).
    pub db_max_connections: u32,
    /// Milliseconds a request waits for a database connection (connecting
    /// included) before answering 503: short, so clients hear of an outage
    /// within a second.
    pub db_acquire_timeout_ms: u64,
    /// Seconds a login or enrolment challenge stays valid.
    pub challenge_ttl_secs: u64,
    /// How many credential keys keep a precomputed verification table (LRU).
    pub key_cache_size: usize,
    /// How attestation certificates of new keys are judged.
    pub attestation: crate::verify::AttestationMode,
    /// PEM file of the CAs `attestation = "trusted-ca"` accepts.
    pub attestation_roots: Option<PathBuf>,
    /// Wrong passwords one account may take per 5 minutes, across all
    /// instances, before further attempts wait (429).
    pub login_attempts_per_account: u32,
    /// Password attempts one source address may make per minute.
    pub login_attempts_per_address: u32,
    /// Failed key signatures or recovery codes one login may take before it
    /// is refused and the user must start again.
    pub second_factor_attempts: u32,
    /// Password hashes (argon2id, 19 MiB each) running at once; absent: the
    /// number of cores.
    pub password_hash_concurrency: Option<usize>,
    /// Password checks that may wait for a hashing slot; beyond that the
    /// answer is an immediate 429.
    pub password_hash_queue: usize,
    /// Prefix length IPv6 clients are counted by (one /64 is one client);
    /// IPv4 clients are counted by address.
    pub rate_limit_ipv6_prefix: u8,
    /// Failed passwords per minute across all accounts and addresses, above
    /// which only users signing in from a network they used before are
    /// checked (a storm from many addresses cannot fill the hash pool).
    pub password_failures_per_minute: u32,
}

/// Reads CIDRs from a list or from one comma-separated string.
fn cidr_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<IpNet>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(text) => {
            text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
        }
        OneOrMany::Many(items) => items,
    };
    items
        .iter()
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| serde::de::Error::custom(format!("{item:?} is not an address or CIDR")))
        })
        .collect()
}

/// A secret config value: deserialises from a string, prints as `***`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// The certificate chain and private key files (PEM) `serve` speaks TLS
/// with; configuration names them, `web::tls` loads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key: PKCS#8, SEC1 (EC) or PKCS#1 (RSA).
    pub key: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: "sqlite:keygate.db".to_owned(),
            rp_id: "localhost".to_owned(),
            origin: "http://localhost:8080".to_owned(),
            tls_cert: None,
            tls_key: None,
            log_format: LogFormat::Human,
            server_key: None,
            key_file: None,
            trusted_proxies: Vec::new(),
            purge_interval_secs: 300,
            audit_retention: HumanDuration::days(400),
            db_max_connections: 10,
            db_acquire_timeout_ms: 800,
            challenge_ttl_secs: 120,
            key_cache_size: 2048,
            attestation: crate::verify::AttestationMode::Verified,
            attestation_roots: None,
            login_attempts_per_account: 10,
            login_attempts_per_address: 50,
            second_factor_attempts: 5,
            password_hash_concurrency: None,
            password_hash_queue: 64,
            rate_limit_ipv6_prefix: 64,
            password_failures_per_minute: 600,
        }
    }
}

/// The shortest `audit_retention` accepted: a typo such as `1m` for a month
/// would otherwise delete the whole audit log within minutes.
pub const MIN_AUDIT_RETENTION: HumanDuration = HumanDuration::days(1);

/// Why a configuration could not be assembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `--config` named a file that does not exist.
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    /// A value in the file, the environment or the flags has the wrong shape.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// A value of the right form that keygate refuses all the same.
    #[error("invalid configuration: {key}: {reason}")]
    Refused {
        /// The config key at fault.
        key: &'static str,
        /// What is wrong with its value and what to write instead.
        reason: String,
    },
}

impl Config {
    /// Assembles the configuration from every source. `file` is the `--config`
    /// path (must exist) or `None` for an optional `./keygate.toml`; `flags`
    /// is any serialisable struct whose `Some` fields override the rest.
    pub fn load(file: Option<&Path>, flags: impl Serialize) -> Result<Self, ConfigError> {
        let file = Self::file_to_read(file)?;
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        let known = Self::keys();
        figment
            .merge(
                Env::prefixed(ENV_PREFIX)
                    .filter(move |key| known.iter().any(|k| k.eq_ignore_ascii_case(key.as_str()))),
            )
            .merge(Serialized::defaults(flags))
            .extract::<Self>()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))?
            .checked()
    }

    /// Refuses values of the right form that are still wrong.
    fn checked(self) -> Result<Self, ConfigError> {
        if self.audit_retention < MIN_AUDIT_RETENTION {
            return Err(ConfigError::Refused {
                key: "audit_retention",
                reason: format!(
                    "{} is shorter than {MIN_AUDIT_RETENTION}: audit entries older than the retention are \
                     deleted at the next purge, so it must be at least {MIN_AUDIT_RETENTION} (default {})",
                    self.audit_retention,
                    Config::default().audit_retention
                ),
            });
        }
        Ok(self)
    }

    /// The file [`Config::load`] reads for a `--config` value: that one (it
    /// must exist), else `./keygate.toml` when present, else none.
    pub(crate) fn file_to_read(file: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
        match file {
            Some(path) if !path.exists() => Err(ConfigError::MissingFile(path.into())),
            Some(path) => Ok(Some(path.to_path_buf())),
            None => Ok(Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists())),
        }
    }

    /// The `KEYGATE_*` variables of this process that set a config key, so a
    /// printed configuration can say where its values came from.
    pub(crate) fn env_overrides() -> Vec<String> {
        let known = Self::keys();
        let mut names: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .filter(|name| {
                name.get(..ENV_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(ENV_PREFIX))
                    && known.iter().any(|k| k.eq_ignore_ascii_case(&name[ENV_PREFIX.len()..]))
            })
            .collect();
        names.sort();
        names
    }

    /// A copy safe to print or log: the server key as `***` and the
    /// database URL without its password.
    pub(crate) fn redacted(&self) -> Self {
        Self {
            server_key: self.server_key.as_ref().map(|_| Redacted("***".to_owned())),
            database: crate::store::redact_url(&self.database),
            ..self.clone()
        }
    }

    /// Pool settings for [`crate::store::Store::open_with`].
    pub(crate) fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            max_connections: self.db_max_connections.max(1),
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms.max(50)),
            ..crate::store::StoreOptions::default()
        }
    }

    /// The password hasher the configuration asks for.
    pub(crate) fn password_hasher(&self) -> crate::secrets::PasswordHasher {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        crate::secrets::PasswordHasher::new(
            self.password_hash_concurrency.unwrap_or(cores),
            self.password_hash_queue,
        )
    }

    /// The CAs `attestation = "trusted-ca"` accepts, read from
    /// `attestation_roots`; `None` when no file is configured.
    pub(crate) fn trust_roots(
        &self,
    ) -> Result<Option<crate::verify::TrustRoots>, crate::verify::VerifyError> {
        let Some(path) = &self.attestation_roots else { return Ok(None) };
        let pem = std::fs::read(path).map_err(|e| crate::verify::VerifyError::TrustRoot {
            reason: format!("cannot read {}: {e}", path.display()),
        })?;
        crate::verify::TrustRoots::from_pem(&pem).map(Some)
    }

    /// The TLS files to serve with, `None` for plain HTTP. Both files or
    /// neither; with TLS the origin must be `https://`, since browsers sign
    /// the origin they see and cookies become `Secure` only under it.
    pub(crate) fn tls_files(&self) -> Result<Option<TlsFiles>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) if self.origin.starts_with("https://") => {
                Ok(Some(TlsFiles { cert: cert.clone(), key: key.clone() }))
            }
            (Some(_), Some(_)) => Err(format!(
                "with TLS the origin must be https:// (it is {}): set --origin https://HOST:PORT",
                self.origin
            )),
            (Some(_), None) => Err("--tls-cert needs --tls-key (the certificate's private key)".to_owned()),
            (None, Some(_)) => Err("--tls-key needs --tls-cert (the certificate chain)".to_owned()),
        }
    }

    /// The server key file to use: the configured one or the default location.
    pub(crate) fn key_file_path(&self) -> PathBuf {
        self.key_file.clone().unwrap_or_else(|| default_key_file(&self.database))
    }

    /// The config keys, derived from the struct so the environment filter never
    /// drifts from the fields (other `KEYGATE_*` variables are left alone).
    fn keys() -> Vec<String> {
        match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }
}

/// Where the key file goes when none is configured: next to the SQLite file,
/// or `./keygate.key` for PostgreSQL.
pub fn default_key_file(database_url: &str) -> PathBuf {
    match crate::store::sqlite_path(database_url) {
        Some(db) => db.parent().unwrap_or(Path::new("")).join("keygate.key"),
        None => PathBuf::from("keygate.key"),
    }
}

#[cfg(test)]
// figment's Jail returns its own large error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[derive(Serialize, Default)]
    struct Flags {
        #[serde(skip_serializing_if = "Option::is_none")]
        listen: Option<SocketAddr>,
    }

    fn flags(listen: Option<&str>) -> Flags {
        Flags { listen: listen.map(|s| s.parse().expect("test address")) }
    }

    #[test]
    fn defaults_need_no_file() {
        Jail::expect_with(|_| {
            let config = Config::load(None, flags(None)).expect("defaults load");
            assert_eq!(config, Config::default());
            assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
            Ok(())
        });
    }

    #[test]
    fn file_then_env_then_flags() {
        Jail::expect_with(|jail| {
            jail.create_file("keygate.toml", "listen = \"127.0.0.1:1001\"\nrp_id = \"example.org\"")?;
            let from_file = Config::load(None, flags(None)).expect("file loads");
            assert_eq!(from_file.listen.port(), 1001);
            assert_eq!(from_file.rp_id, "example.org");

            jail.set_env("KEYGATE_LISTEN", "127.0.0.1:1002");
            jail.set_env("KEYGATE_SOMETHING_ELSE", "ignored");
            let from_env = Config::load(None, flags(None)).expect("env loads");
            assert_eq!(from_env.listen.port(), 1002);
            assert_eq!(from_env.rp_id, "example.org");

            let from_flag = Config::load(None, flags(Some("127.0.0.1:1003"))).expect("flags load");
            assert_eq!(from_flag.listen.port(), 1003);
            Ok(())
        });
    }

    #[test]
    fn guessing_limits_are_configurable() {
        Jail::expect_with(|jail| {
            jail.create_file("keygate.toml", "login_attempts_per_account = 3")?;
            jail.set_env("KEYGATE_SECOND_FACTOR_ATTEMPTS", "2");
            let config = Config::load(None, flags(None)).expect("loads");
            let limits = crate::auth::Limits::from_config(&config);
            assert_eq!((limits.per_account, limits.per_address, limits.second_factor_attempts), (3, 50, 2));
            assert_eq!(limits.account_window_secs, crate::auth::Limits::default().account_window_secs);
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_and_secrets_from_file() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "keygate.toml",
                "trusted_proxies = [\"10.0.0.0/8\", \"::1/128\"]\nserver_key = \"c2VjcmV0\"",
            )?;
            let config = Config::load(None, flags(None)).expect("file loads");
            assert_eq!(config.trusted_proxies.len(), 2);
            jail.set_env("KEYGATE_TRUSTED_PROXIES", "192.0.2.1, 10.0.0.0/8");
            let config = Config::load(None, flags(None)).expect("env loads");
            assert_eq!(
                config.trusted_proxies,
                ["192.0.2.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()]
            );
            jail.set_env("KEYGATE_TRUSTED_PROXIES", "not-a-cidr");
            let err = Config::load(None, flags(None)).unwrap_err().to_string();
            assert!(err.contains("not-a-cidr"), "{err}");
            assert!(!format!("{config:?}").contains("c2VjcmV0"));
            Ok(())
        });
    }

    #[test]
    fn audit_retention_reads_durations_and_refuses_less_than_a_day() {
        Jail::expect_with(|jail| {
            jail.create_file("keygate.toml", "audit_retention = \"90d\"")?;
            let config = Config::load(None, flags(None)).expect("loads");
            assert_eq!(config.audit_retention, HumanDuration::days(90));
            jail.set_env("KEYGATE_AUDIT_RETENTION", "2y");
            let config = Config::load(None, flags(None)).expect("loads");
            assert_eq!(config.audit_retention.0.as_secs(), 2 * 31_557_600);
            for (value, shown) in [("0s", "0s"), ("12h", "12h"), ("1m", "1m")] {
                jail.set_env("KEYGATE_AUDIT_RETENTION", value);
                let err = Config::load(None, flags(None)).unwrap_err().to_string();
                assert!(
                    err.starts_with(&format!(
                        "invalid configuration: audit_retention: {shown} is shorter than 1d"
                    )),
                    "{err}"
                );
            }
            jail.set_env("KEYGATE_AUDIT_RETENTION", "400");
            let err = Config::load(None, flags(None)).unwrap_err().to_string();
            assert!(err.contains("\"AUDIT_RETENTION\"") && err.contains("400 has no unit"), "{err}");
            jail.set_env("KEYGATE_AUDIT_RETENTION", "1d");
            assert_eq!(Config::load(None, flags(None)).expect("loads").audit_retention, MIN_AUDIT_RETENTION);
            Ok(())
        });
    }

    #[test]
    fn explicit_file_must_exist() {
        Jail::expect_with(|_| {
            let err = Config::load(Some(Path::new("nope.toml")), flags(None)).unwrap_err();
            assert!(matches!(err, ConfigError::MissingFile(_)), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        Jail::expect_with(|jail| {
            jail.create_file("keygate.toml", "listne = \"127.0.0.1:1\"")?;
            let err = Config::load(None, flags(None)).unwrap_err().to_string();
            assert!(err.contains("listne"), "{err}");
            jail.create_file("keygate.toml", "listen = \"not an address\"")?;
            let err = Config::load(None, flags(None)).unwrap_err().to_string();
            assert!(err.contains("listen"), "{err}");
            Ok(())
        });
    }

    /// The sample configuration operators copy: `fixtures/config/keygate.toml`.
    fn sample() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/config/keygate.toml")
    }

    /// The key of a commented-out setting (`# key = value`), which is a line
    /// that parses as one TOML key and value once its `# ` is removed.
    fn commented_key(line: &str) -> Option<String> {
        let table: toml::Table = line.strip_prefix("# ")?.parse().ok()?;
        let mut keys = table.keys();
        keys.next().filter(|_| keys.next().is_none()).cloned()
    }

    #[test]
    fn sample_config_holds_the_defaults() {
        Jail::expect_with(|_| {
            let config = Config::load(Some(&sample()), flags(None)).expect("the sample loads");
            assert_eq!(config, Config::default());
            Ok(())
        });
    }

    /// A key added to `Config` fails this test until the sample lists it,
    /// after a comment, set when it has a default and commented out when
    /// its default is "not set".
    #[test]
    fn sample_config_lists_every_key_after_a_comment() {
        use std::collections::BTreeSet;
        let text = std::fs::read_to_string(sample()).expect("read the sample");
        let active: toml::Table = text.parse().expect("the sample is TOML");
        let lines: Vec<&str> = text.lines().collect();
        let (mut listed, mut commented_out) = (Vec::new(), BTreeSet::new());
        for (i, line) in lines.iter().enumerate() {
            let key = match commented_key(line) {
                Some(key) => {
                    commented_out.insert(key.clone());
                    key
                }
                None if line.starts_with('#') || !line.contains(" = ") => continue,
                None => line.split(" = ").next().unwrap_or_default().trim().to_owned(),
            };
            let before = i.checked_sub(1).map_or("", |j| lines[j]);
            assert!(
                before.starts_with('#') && commented_key(before).is_none(),
                "{key} in the sample needs a comment saying what it does"
            );
            listed.push(key);
        }
        let set = toml::Table::try_from(Config::default()).expect("defaults serialise to TOML");
        let set_keys: BTreeSet<String> = set.keys().cloned().collect();
        let all: BTreeSet<String> = Config::keys().into_iter().collect();
        let active_keys: BTreeSet<String> = active.keys().cloned().collect();
        assert_eq!(active_keys, set_keys, "keys with a default are set to it");
        assert_eq!(commented_out, &all - &set_keys, "keys without a default are commented out");
        assert_eq!(listed.len(), all.len(), "every key appears once: {listed:?}");
    }

    #[test]
    fn sample_config_examples_are_valid_values() {
        let text = std::fs::read_to_string(sample()).expect("read the sample");
        let uncommented: String = text
            .lines()
            .map(|line| if commented_key(line).is_some() { &line[2..] } else { line })
            .collect::<Vec<_>>()
            .join("\n");
        Jail::expect_with(|jail| {
            jail.create_file("keygate.toml", &uncommented)?;
            let config = Config::load(None, flags(None)).expect("the examples load");
            assert!(config.server_key.is_some() && config.key_file.is_some());
            assert!(config.attestation_roots.is_some() && config.password_hash_concurrency.is_some());
            assert!(config.tls_cert.is_some() && config.tls_key.is_some());
            Ok(())
        });
    }

    #[test]
    fn tls_needs_both_files_and_an_https_origin() {
        let with = |cert: Option<&str>, key: Option<&str>, origin: &str| Config {
            tls_cert: cert.map(PathBuf::from),
            tls_key: key.map(PathBuf::from),
            origin: origin.to_owned(),
            ..Config::default()
        };
        assert_eq!(with(None, None, "http://localhost:8080").tls_files(), Ok(None));
        let files = with(Some("c.pem"), Some("k.pem"), "https://login.example").tls_files();
        assert_eq!(files.ok().flatten().map(|f| f.key), Some(PathBuf::from("k.pem")));
        let plain = with(Some("c.pem"), Some("k.pem"), "http://localhost:8080").tls_files();
        assert!(plain.unwrap_err().contains("origin must be https://"));
        assert!(with(Some("c.pem"), None, "https://x").tls_files().unwrap_err().contains("--tls-key"));
        assert!(with(None, Some("k.pem"), "https://x").tls_files().unwrap_err().contains("--tls-cert"));
    }

    #[test]
    fn redacted_hides_the_server_key_and_the_database_password() {
        let config = Config {
            server_key: Some(Redacted("c2VjcmV0".to_owned())),
            database: "postgres://kg:hunter2@db/kg".to_owned(),
            ..Config::default()
        };
        let shown = config.redacted();
        assert_eq!(shown.server_key, Some(Redacted("***".to_owned())));
        assert_eq!(shown.database, "postgres://kg:***@db/kg");
        assert_eq!(Config { server_key: None, ..Config::default() }.redacted(), Config::default());
    }

    #[test]
    fn env_overrides_name_only_config_keys() {
        Jail::expect_with(|jail| {
            jail.set_env("KEYGATE_LISTEN", "127.0.0.1:1");
            jail.set_env("KEYGATE_NOT_A_KEY", "x");
            let names = Config::env_overrides();
            assert!(names.contains(&"KEYGATE_LISTEN".to_owned()), "{names:?}");
            assert!(!names.iter().any(|n| n == "KEYGATE_NOT_A_KEY"), "{names:?}");
            Ok(())
        });
    }

    #[test]
    fn default_key_file_sits_next_to_the_database() {
        assert_eq!(
            default_key_file("sqlite:/var/lib/keygate/k.db"),
            PathBuf::from("/var/lib/keygate/keygate.key")
        );
        assert_eq!(default_key_file("sqlite:keygate.db"), PathBuf::from("keygate.key"));
        assert_eq!(default_key_file("postgres://u@h/db"), PathBuf::from("keygate.key"));
    }
}
