//! The HTTP surface. [`app`] builds the whole router from a state value and
//! binds nothing, so tests drive it with `tower::ServiceExt::oneshot` and the
//! binary serves it on a socket.

mod error;
mod health;

use std::sync::Arc;

use axum::Router;
use axum::http::Request;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::config::Config;

/// Shared, cheaply clonable state handed to every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The configuration the service started with.
    pub config: Arc<Config>,
}

impl AppState {
    /// Wraps a configuration for sharing between handlers.
    pub fn new(config: Config) -> Self {
        Self { config: Arc::new(config) }
    }
}

/// Builds the service's router. Unknown paths and wrong methods answer with the
/// JSON error shape of the API, like every other rejection.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(
            // The span records the path only: query strings carry tokens and
            // signatures that must never reach the logs.
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
            }),
        )
        .with_state(state)
}
