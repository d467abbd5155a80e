//! `GET /healthz`: for load balancers and orchestrators. It runs one cheap
//! query, so an instance whose database is gone reports 503 and is taken out
//! of rotation, and reports 200 again by itself once the database is back.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiError, AppState};

/// A health check answers within this, even if the database hangs.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let unavailable = |detail: String| {
        tracing::warn!(%detail, "health check failed");
        metrics::counter!("keygate_health_check_failures_total").increment(1);
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the database is unavailable")
    };
    match tokio::time::timeout(CHECK_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ok" }))),
        Ok(Err(e)) => Err(unavailable(e.to_string())),
        Err(_) => Err(unavailable("database ping timed out".to_owned())),
    }
}
