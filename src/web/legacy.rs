//! `/restserver.php` and `/method/{method}`: the legacy REST API over HTTP.
//!
//! The protocol (decoding, signatures, rendering) and its rules against the
//! store live in [`crate::legacy`]; this handler reads the raw request,
//! hands the decoded call to [`Service`] and renders its answer or error,
//! counting each outcome. Every answer is HTTP 200
//! in the shape the client asked for, as the old clients expect: a database
//! outage is error 2 and any other fault error 1, never a 500.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{AppState, ClientAddr};
use crate::legacy::{
    Call, ErrorCode, Failure, LegacyError, Params, Rendered, Rendering, render_error, render_success,
};

/// Largest query string plus body accepted; real calls are a few hundred bytes.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/restserver.php", get(restserver).post(restserver))
        .route("/method/{method}", get(by_path).post(by_path))
}

async fn restserver(State(state): State<AppState>, client: ClientAddr, request: Request) -> Response {
    serve(&state, client, None, request).await
}

async fn by_path(
    State(state): State<AppState>,
    client: ClientAddr,
    Path(method): Path<String>,
    request: Request,
) -> Response {
    serve(&state, client, Some(&method), request).await
}

async fn serve(
    state: &AppState,
    ClientAddr(client): ClientAddr,
    path_method: Option<&str>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let query = parts.uri.query().unwrap_or("").as_bytes().to_vec();
    let refuse = |error: LegacyError, args: &[(String, String)], rendering: &Rendering| {
        count("unparsed", &error);
        respond(render_error(&error, args, rendering))
    };
    let body = match read_body(&parts.headers, body, query.len()).await {
        Ok(body) => body,
        Err(error) => return refuse(error, &[], &Rendering::default()),
    };
    let params = match Params::from_request(&query, &body) {
        Ok(params) => params,
        Err((error, args)) => return refuse(error, &args, &Rendering::default()),
    };
    let args = params.pairs().to_vec();
    let call = match Call::parse(params, path_method) {
        Ok(call) => call,
        Err(refusal) => return refuse(refusal.error, &args, &refusal.rendering),
    };
    let method = call.method.name();
    match state.legacy().run(client, &call, crate::clock::unix_now()).await {
        Ok(value) => {
            metrics::counter!("keygate_legacy_calls_total", "method" => method, "outcome" => "ok")
                .increment(1);
            respond(render_success(call.method, &value, &call.rendering))
        }
        Err(failure) => {
            let error = match failure {
                Failure::Refused(error) => error,
                Failure::Store(e) if e.is_unavailable() => {
                    tracing::warn!(method, error = %e, "legacy call failed: database unavailable");
                    count(method, &ErrorCode::ServiceUnavailable.into());
                    let mut response =
                        respond(render_error(&ErrorCode::ServiceUnavailable.into(), &args, &call.rendering));
                    response.extensions_mut().insert(super::edge::DatabaseDown);
                    return response;
                }
                Failure::Store(e) => {
                    tracing::error!(method, error = %e, "legacy call failed");
                    ErrorCode::Unknown.into()
                }
                Failure::Internal(detail) => {
                    tracing::error!(method, error = %detail, "legacy call failed");
                    ErrorCode::Unknown.into()
                }
            };
            count(method, &error);
            respond(render_error(&error, &args, &call.rendering))
        }
    }
}

/// A refusal decided before the call was run (the framework's rejections,
/// an open database breaker), in the format the query string and form body
/// ask for when they can be read.
pub(super) fn refusal(error: &LegacyError, query: &str, body: &[u8]) -> Response {
    let rendering = Params::from_request(query.as_bytes(), body)
        .ok()
        .and_then(|params| Rendering::from_params(&params).ok())
        .unwrap_or_default();
    count("unparsed", error);
    respond(render_error(error, &[], &rendering))
}

fn count(method: &'static str, error: &LegacyError) {
    metrics::counter!("keygate_legacy_calls_total", "method" => method, "outcome" => error.code.code().to_string())
        .increment(1);
}

fn respond(rendered: Rendered) -> Response {
    let mut response = (StatusCode::OK, rendered.body).into_response();
    let value = HeaderValue::from_static(rendered.content_type);
    response.headers_mut().insert(header::CONTENT_TYPE, value);
    response
}

/// Reads the body: empty, or a form (`application/x-www-form-urlencoded`)
/// that fits the size limit together with the query string.
async fn read_body(
    headers: &axum::http::HeaderMap,
    body: Body,
    query_len: usize,
) -> Result<Vec<u8>, LegacyError> {
    let limit = MAX_REQUEST_BYTES.saturating_sub(query_len);
    if query_len > MAX_REQUEST_BYTES {
        return Err(LegacyError::invalid("the request is too large"));
    }
    let bytes = to_bytes(body, limit).await.map_err(|_| LegacyError::invalid("the request is too large"))?;
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(LegacyError::invalid("the body must be application/x-www-form-urlencoded"));
    }
    Ok(bytes.to_vec())
}
