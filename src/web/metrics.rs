//! `GET /metrics`: Prometheus text from the process-wide `metrics` recorder
//! ([`crate::telemetry::metrics`]). The middleware here counts requests by
//! route and status and times them; other modules add their own counters with
//! the `metrics` macros and they appear on the same page.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let pool = state.store.pool_stats();
    metrics::gauge!("keygate_db_pool_connections", "state" => "open").set(f64::from(pool.open));
    metrics::gauge!("keygate_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("keygate_db_pool_max_connections").set(f64::from(pool.max));
    let handle = crate::telemetry::metrics();
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
}

/// Counts and times every request. The route label is the matched route
/// pattern (`/api/v1/keys/{id}`), never the raw path, so label values stay few.
pub(super) async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("keygate_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("keygate_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    response
}
