//! `keygate serve`: loads the configuration, binds, serves until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
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
    let store = Store::open_with(&config.database, &config.store_options()).await.map_err(|e| {
        CliError::other(format!("cannot open the database {}: {e}", store::redact_url(&config.database)))
    })?;
    let key_file = config.key_file_path();
    let server_key = ServerKey::load(config.server_key.as_ref().map(|k| k.0.as_str()), &key_file)
        .map_err(|e| CliError::other(e.to_string()))?;
    let state = web::AppState::try_new(config, store.clone(), server_key)
        .map_err(|e| CliError::other(format!("attestation: {e}")))?;
    let config = std::sync::Arc::clone(&state.config);
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
        database = %store::redact_url(&config.database),
        "keygate listening"
    );
    let app = web::app(state);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;
    purge.abort();
    store.close().await;
    tracing::info!("keygate stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, whichever comes first.
async fn shutdown_signal() {
    super::common::stop_requested().await;
    tracing::info!("shutting down: finishing requests in flight");
}
