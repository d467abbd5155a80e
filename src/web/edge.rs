//! What every request passes on its way in and out, whatever surface it is
//! for: a database circuit breaker that answers at once while the database
//! is known to be down, and the rewriting of the framework's own plain-text
//! rejections (a body over the limit, an undecodable path) into the error
//! shape of the surface the client speaks — the JSON API's, the legacy
//! REST API's (HTTP 200, error 100), or Graph's OAuthException.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::legacy::{ErrorCode, LegacyError};
use crate::oauth::{OAuthError, OAuthErrorKind};

/// How long the breaker stays open after the database was found down:
/// requests in that time are answered 503 at once, then one wave tries again.
pub(super) const BREAKER_OPEN: Duration = Duration::from_millis(500);

/// Marks a response that failed because the database was unreachable, for
/// surfaces whose error answers are not 503 (the legacy API's error 2).
#[derive(Clone, Copy, Debug)]
pub(super) struct DatabaseDown;

/// Whether the database is believed down: set by any answer that found it
/// unreachable, cleared by a passing health check or once it has been open
/// for [`BREAKER_OPEN`].
#[derive(Debug)]
pub(crate) struct Breaker {
    epoch: Instant,
    /// Milliseconds since `epoch` until which the breaker is open (0: closed).
    open_until: AtomicU64,
}

impl Default for Breaker {
    fn default() -> Self {
        Self { epoch: Instant::now(), open_until: AtomicU64::new(0) }
    }
}

impl Breaker {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// True while requests that need the database should not try it.
    pub(crate) fn is_open(&self) -> bool {
        self.now_ms() < self.open_until.load(Ordering::Acquire)
    }

    fn trip(&self) {
        let until = self.now_ms().saturating_add(u64::try_from(BREAKER_OPEN.as_millis()).unwrap_or(500));
        self.open_until.store(until, Ordering::Release);
        metrics::counter!("keygate_db_breaker_trips_total").increment(1);
    }

    fn close(&self) {
        self.open_until.store(0, Ordering::Release);
    }
}

/// Which protocol a path speaks, for the shape of its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Surface {
    /// `/restserver.php`, `/method/{name}`.
    Legacy,
    /// `/oauth/*`, `/debug_token`, `/me…`, with or without `/vX.Y`.
    Graph,
    /// Everything else: the JSON API, pages, health.
    Api,
}

impl Surface {
    /// The surface of a request path.
    pub(super) fn of(path: &str) -> Self {
        if path == "/restserver.php" || path.starts_with("/method/") {
            return Self::Legacy;
        }
        let graph = |rest: &str| {
            rest.starts_with("oauth/") || rest == "debug_token" || rest == "me" || rest.starts_with("me/")
        };
        let rest = path.strip_prefix('/').unwrap_or(path);
        // With a version segment of any spelling: a bad one is still a
        // Graph client's mistake, answered in Graph's shape.
        let versioned = rest.split_once('/').is_some_and(|(_, tail)| graph(tail));
        if graph(rest) || versioned { Self::Graph } else { Self::Api }
    }
}

/// Paths that never touch the database: they pass an open breaker.
fn needs_database(path: &str) -> bool {
    !(path == "/metrics" || path == "/healthz" || path.starts_with("/assets/"))
}

/// The 503 of a surface, answered without trying the database (a legacy
/// call's form body is read for the format it asks for).
async fn unavailable(surface: Surface, query: &str, request: Request) -> Response {
    match surface {
        Surface::Legacy => {
            let body = to_bytes(request.into_body(), 64 * 1024).await.unwrap_or_default();
            super::legacy::refusal(&ErrorCode::ServiceUnavailable.into(), query, &body)
        }
        Surface::Graph => super::oauth::error(&OAuthError::new(OAuthErrorKind::Unavailable)),
        Surface::Api => ApiError::unavailable().into_response(),
    }
}

/// The middleware: see the module documentation.
pub(super) async fn edge(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let surface = Surface::of(&path);
    let breaker = Arc::clone(&state.breaker);
    if needs_database(&path) && breaker.is_open() {
        metrics::counter!("keygate_db_breaker_rejections_total").increment(1);
        return with_marker(unavailable(surface, &query, request).await);
    }
    let response = next.run(request).await;
    let down = response.status() == StatusCode::SERVICE_UNAVAILABLE
        || response.extensions().get::<DatabaseDown>().is_some();
    if down {
        breaker.trip();
    } else if path == "/healthz" {
        breaker.close();
    }
    if is_framework_rejection(&response) { reshape(surface, &query, response).await } else { response }
}

fn with_marker(mut response: Response) -> Response {
    response.extensions_mut().insert(DatabaseDown);
    response
}

/// An error answer in plain text: only the framework writes those (every
/// handler answers JSON, XML or HTML).
fn is_framework_rejection(response: &Response) -> bool {
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"));
    (status.is_client_error() || status.is_server_error()) && plain
}

/// Rewrites a plain-text rejection into the surface's error shape, keeping
/// its status (legacy answers are HTTP 200, as its clients expect).
async fn reshape(surface: Surface, query: &str, response: Response) -> Response {
    let status = response.status();
    let text = to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let detail =
        if text.trim().is_empty() { status.canonical_reason().unwrap_or("rejected") } else { text.trim() };
    match surface {
        Surface::Legacy => super::legacy::refusal(&LegacyError::invalid(detail), query, b""),
        Surface::Graph => {
            let mut answer =
                super::oauth::error(&OAuthError::with_message(OAuthErrorKind::InvalidParameter, detail));
            *answer.status_mut() = status;
            answer
        }
        Surface::Api => {
            let code = match status {
                StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                StatusCode::REQUEST_TIMEOUT => "timeout",
                s if s.is_server_error() => "internal",
                _ => "invalid_request",
            };
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "the body is too large".to_owned()
            } else {
                detail.to_owned()
            };
            ApiError::new(status, code, message).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(status: StatusCode, text: &'static str) -> Response {
        let mut response = Response::new(axum::body::Body::from(text));
        *response.status_mut() = status;
        let ct = header::HeaderValue::from_static("text/plain; charset=utf-8");
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
        response
    }

    #[test]
    fn paths_are_sorted_by_surface() {
        for path in ["/restserver.php", "/method/auth.createToken", "/method/%ff"] {
            assert_eq!(Surface::of(path), Surface::Legacy, "{path}");
        }
        for path in
            ["/oauth/access_token", "/v3.1/oauth/client_code", "/debug_token", "/v25.0/me", "/me/permissions"]
        {
            assert_eq!(Surface::of(path), Surface::Graph, "{path}");
        }
        assert_eq!(Surface::of("/%ff/oauth/access_token"), Surface::Graph);
        for path in ["/api/v1/login", "/healthz", "/account", "/v3.1/other", "/meta", "/api/v1/keys/1"] {
            assert_eq!(Surface::of(path), Surface::Api, "{path}");
        }
    }

    #[tokio::test]
    async fn plain_rejections_take_each_surfaces_shape() {
        let api =
            reshape(Surface::Api, "", plain(StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded")).await;
        assert_eq!(api.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = to_bytes(api.into_body(), 1 << 16).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "payload_too_large");

        let legacy =
            reshape(Surface::Legacy, "format=json", plain(StatusCode::BAD_REQUEST, "Invalid URL")).await;
        assert_eq!(legacy.status(), StatusCode::OK);
        let body = to_bytes(legacy.into_body(), 1 << 16).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error_code"], 100);

        let graph = reshape(Surface::Graph, "", plain(StatusCode::BAD_REQUEST, "Invalid URL")).await;
        assert_eq!(graph.status(), StatusCode::BAD_REQUEST);
        let body = to_bytes(graph.into_body(), 1 << 16).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (json["error"]["type"].as_str(), json["error"]["code"].as_i64()),
            (Some("OAuthException"), Some(100))
        );
    }

    #[test]
    fn the_breaker_opens_for_a_while_and_a_health_check_closes_it() {
        let breaker = Breaker::default();
        assert!(!breaker.is_open());
        breaker.trip();
        assert!(breaker.is_open());
        breaker.close();
        assert!(!breaker.is_open());
    }
}
