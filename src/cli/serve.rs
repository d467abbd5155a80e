//! `keygate serve`: loads the configuration, binds, serves (over TLS when
//! given a certificate, reloaded on SIGHUP) until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ipnet::IpNet;
use serde::Serialize;

use super::CliError;
use crate::config::Config;
use crate::secrets::ServerKey;
use crate::store::{self, Store};
use crate::telemetry::{self, LogFormat};
use crate::web;
use crate::web::tls::{ReloadableCert, TlsTcpListener};

/// Arguments of `keygate serve`; every flag overrides the config key of the same name.
#[derive(Debug, Args, Serialize)]
pub(crate) struct ServeArgs {
    /// Config file (default: ./keygate.toml when present).
    #[arg(long, env = "KEYGATE_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Database URL (default sqlite:keygate.db).
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// WebAuthn RP ID and U2F app id (default localhost).
    #[arg(long, value_name = "ID")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    /// The origin users open (default http://localhost:8080).
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key and an
    /// https:// --origin); SIGHUP reloads it.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// A proxy (CIDR) whose X-Forwarded-For entry names the client; repeatable.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    #[serde(rename = "trusted_proxies", skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<IpNet>,
    /// The server key file (default: keygate.key next to the SQLite file).
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Log format: human or json.
    #[arg(long, value_name = "FORMAT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

pub(super) async fn run(args: ServeArgs) -> Result<(), CliError> {
    let config = Config::load(args.config.as_deref(), &args).map_err(|e| CliError::other(e.to_string()))?;
    telemetry::init(config.log_format);
    let tls = match config.tls_files().map_err(CliError::other)? {
        Some(files) => Some(ReloadableCert::load(files).map_err(|e| CliError::other(e.to_string()))?),
        None => None,
    };
    let store = Store::open_with(&config.database, &config.store_options()).await.map_err(|e| {
        CliError::other(format!("cannot open the database {}: {e}", store::redact_url(&config.database)))
    })?;
    let key_file = config.key_file_path();
    let server_key = ServerKey::load(config.server_key.as_ref().map(|k| k.0.as_str()), &key_file)
        .map_err(|e| CliError::other(e.to_string()))?;
    let state = web::AppState::try_new(config, store.clone(), server_key)
        .map_err(|e| CliError::other(format!("attestation: {e}")))?;
    let config = Arc::clone(&state.config);
    let purge = store::spawn_purge_task(
        store.clone(),
        Duration::from_secs(config.purge_interval_secs),
        config.audit_retention.0,
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr().context("cannot read the bound address")?;
    tracing::info!(
        address = %local,
        origin = %config.origin,
        tls = tls.is_some(),
        database = %store::redact_url(&config.database),
        "keygate listening"
    );
    let app = web::app(state).into_make_service_with_connect_info::<SocketAddr>();
    let hangups = watch_hangups(tls.clone()).context("cannot watch for SIGHUP")?;
    let served = match tls {
        Some(cert) => {
            use axum::serve::ListenerExt;
            let listener =
                TlsTcpListener::new(listener, &cert).map_err(|e| CliError::other(e.to_string()))?;
            // `tap_io` is how axum hands a custom listener's peer address to
            // `ConnectInfo<SocketAddr>`, which rate limits and audit read.
            axum::serve(listener.tap_io(|_| {}), app).with_graceful_shutdown(shutdown_signal()).await
        }
        None => axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await,
    };
    hangups.abort();
    served.context("server error")?;
    purge.abort();
    store.close().await;
    tracing::info!("keygate stopped");
    Ok(())
}

/// Handles SIGHUP for the life of the server: it reloads the TLS certificate,
/// and without TLS it is logged and ignored. Either way a `systemctl reload`
/// never kills the service, as SIGHUP's default action would.
fn watch_hangups(tls: Option<Arc<ReloadableCert>>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup())?;
        Ok(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match &tls {
                    Some(cert) => cert.reload_logged(),
                    None => tracing::info!(
                        "SIGHUP ignored: no TLS certificate to reload; restart to apply other changes"
                    ),
                }
            }
        }))
    }
    #[cfg(not(unix))]
    {
        drop(tls);
        Ok(tokio::spawn(std::future::pending()))
    }
}

/// Resolves on Ctrl-C or SIGTERM, whichever comes first.
async fn shutdown_signal() {
    super::common::stop_requested().await;
    tracing::info!("shutting down: finishing requests in flight");
}
