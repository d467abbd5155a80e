//! The HTTP surface. [`app`] builds the whole router from a state value and
//! binds nothing, so tests drive it with `tower::ServiceExt::oneshot` and the
//! binary serves it on a socket.

mod api;
mod client;
pub mod cookies;
mod edge;
mod error;
mod health;
mod legacy;
mod metrics;
mod oauth;
mod pages;
pub mod tls;

use std::sync::Arc;

use axum::Router;
use axum::http::Request;
use tower_http::trace::TraceLayer;

pub use client::{ClientAddr, resolve as resolve_client_addr};
pub use error::ApiError;

use crate::config::Config;
use crate::secrets::ServerKey;
use crate::store::Store;

/// Shared, cheaply clonable state handed to every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The configuration the service started with.
    pub(crate) config: Arc<Config>,
    /// The database: every handler's only way to persistent state.
    pub store: Store,
    /// Seals and opens app and session secrets.
    pub server_key: Arc<ServerKey>,
    /// Login and key management over the store.
    pub(crate) auth: crate::auth::Auth,
    /// Open while the database is known to be down: requests are answered
    /// 503 at once instead of each waiting for a connection.
    pub(crate) breaker: Arc<edge::Breaker>,
}

impl AppState {
    /// Bundles what handlers share.
    /// A trust-root file that cannot be loaded leaves a policy that refuses
    /// every enrolment (fail closed); `keygate serve` uses [`Self::try_new`]
    /// and stops instead.
    pub fn new(config: Config, store: Store, server_key: ServerKey) -> Self {
        let settings =
            config.trust_roots().and_then(|roots| crate::auth::Settings::from_config(&config, roots));
        let settings = settings.unwrap_or_else(|error| {
            tracing::error!(%error, "attestation trust roots unusable: refusing every enrolment");
            crate::auth::Settings::fail_closed(&config)
        });
        Self::with_settings(config, store, server_key, settings)
    }

    /// Like [`Self::new`], but a trust-root file that cannot be loaded is
    /// an error, so a server never starts with a policy it was not given.
    pub fn try_new(
        config: Config,
        store: Store,
        server_key: ServerKey,
    ) -> Result<Self, crate::verify::VerifyError> {
        let settings = crate::auth::Settings::from_config(&config, config.trust_roots()?)?;
        Ok(Self::with_settings(config, store, server_key, settings))
    }

    fn with_settings(
        config: Config,
        store: Store,
        server_key: ServerKey,
        settings: crate::auth::Settings,
    ) -> Self {
        let server_key = Arc::new(server_key);
        let hasher = config.password_hasher();
        let auth = crate::auth::Auth::new(store.clone(), settings, Arc::clone(&server_key), hasher);
        Self { config: Arc::new(config), store, server_key, auth, breaker: Arc::default() }
    }

    /// Hits and misses of the cache of prepared verification keys (also
    /// in `/metrics`), to see whether logins skip the key's set-up.
    pub fn key_cache_stats(&self) -> (u64, u64) {
        (self.auth.keys.hits(), self.auth.keys.misses())
    }

    /// The Graph token endpoints, for a caller at `source`.
    pub(crate) fn graph(&self, source: std::net::IpAddr) -> crate::oauth::Graph<'_> {
        crate::oauth::Graph { store: &self.store, server_key: &self.server_key, source }
    }

    /// The legacy REST methods.
    pub(crate) fn legacy(&self) -> crate::legacy::Service<'_> {
        crate::legacy::Service { store: &self.store, server_key: &self.server_key }
    }

    /// The browser cookies' names and attributes for the configured origin.
    pub(crate) fn cookies(&self) -> cookies::Cookies {
        cookies::Cookies::for_origin(&self.config.origin)
    }
}

/// Builds the service's router. Unknown paths and wrong methods answer with the
/// JSON error shape of the API, like every other rejection.
pub fn app(state: AppState) -> Router {
    // Install the recorder before the first request is counted, and list
    // every audit event's counter from the start.
    crate::telemetry::metrics();
    let hsts = strict_transport_security(state.cookies());
    crate::store::register_audit_metrics();
    Router::new()
        .merge(health::router())
        .merge(metrics::router())
        .merge(legacy::router())
        .merge(api::router())
        .merge(oauth::router())
        .merge(pages::router())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), edge::edge))
        // Answers carry session tokens, recovery codes and session secrets:
        // no cache or proxy may keep any answer that does not say otherwise.
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        ))
        .layer(tower::util::option_layer(hsts))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(
            // The span records the path only: query strings carry tokens and
            // signatures that must never reach the logs.
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
            }),
        )
        .with_state(state)
}

/// HSTS for a service whose origin is `https://`: a browser that has seen it
/// once never again sends the session cookie's host a plain-HTTP request an
/// attacker on the network could answer. One year, this host only (a
/// sibling subdomain may not have TLS).
fn strict_transport_security(
    cookies: cookies::Cookies,
) -> Option<tower_http::set_header::SetResponseHeaderLayer<axum::http::HeaderValue>> {
    cookies.secure.then(|| {
        tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static("max-age=31536000"),
        )
    })
}
