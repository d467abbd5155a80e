//! The Graph-style token endpoints over HTTP, with and without a version
//! prefix (`/v3.1/me`): decode query and form parameters, hand them to
//! [`crate::oauth::graph`], render JSON or the OAuthException shape.

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::Value;

use super::{AppState, ClientAddr};
use crate::clock::unix_now;
use crate::oauth::Params;
use crate::oauth::{OAuthError, OAuthErrorKind, is_api_version};

/// Largest query string plus body accepted.
const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// Which endpoint a request is for.
#[derive(Clone, Copy, Debug)]
enum Endpoint {
    AccessToken,
    ClientCode,
    DebugToken,
    Me,
    RevokePermissions,
}

pub(super) fn router() -> Router<AppState> {
    let mut router = Router::new();
    for (path, endpoint) in [
        ("/oauth/access_token", Endpoint::AccessToken),
        ("/oauth/client_code", Endpoint::ClientCode),
        ("/debug_token", Endpoint::DebugToken),
        ("/me", Endpoint::Me),
    ] {
        let plain = move |State(state): State<AppState>, client: ClientAddr, request: Request| {
            serve(state, client, None, endpoint, request)
        };
        let versioned =
            move |State(state): State<AppState>,
                  client: ClientAddr,
                  Path(version): Path<String>,
                  request: Request| { serve(state, client, Some(version), endpoint, request) };
        router = router
            .route(path, get(plain).post(plain))
            .route(&format!("/{{version}}{path}"), get(versioned).post(versioned));
    }
    let revoke = |State(state): State<AppState>, client: ClientAddr, request: Request| {
        serve(state, client, None, Endpoint::RevokePermissions, request)
    };
    let revoke_versioned =
        |State(state): State<AppState>, client: ClientAddr, Path(version): Path<String>, request: Request| {
            serve(state, client, Some(version), Endpoint::RevokePermissions, request)
        };
    router
        .route("/me/permissions", delete(revoke))
        .route("/{version}/me/permissions", delete(revoke_versioned))
}

async fn serve(
    state: AppState,
    ClientAddr(source): ClientAddr,
    version: Option<String>,
    endpoint: Endpoint,
    request: Request,
) -> Response {
    if version.as_deref().is_some_and(|v| !is_api_version(v)) {
        return super::error::not_found().await.into_response();
    }
    let answer = match params(request).await {
        Ok(params) => run(&state, source, endpoint, &params).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(body) => json(StatusCode::OK, &body),
        Err(e) => error(&e),
    }
}

async fn run(
    state: &AppState,
    source: std::net::IpAddr,
    endpoint: Endpoint,
    params: &Params,
) -> Result<Value, OAuthError> {
    let graph = state.graph(source);
    let now = unix_now();
    match endpoint {
        Endpoint::AccessToken => graph.access_token(params, now).await,
        Endpoint::ClientCode => graph.client_code(params, now).await,
        Endpoint::DebugToken => graph.debug_token(params, now).await,
        Endpoint::Me => graph.me(params, now).await,
        Endpoint::RevokePermissions => graph.revoke(params, now).await,
    }
}

/// Query and form parameters merged; a name given twice with different
/// values is refused, and `Authorization: OAuth|Bearer <token>` stands in
/// for a missing `access_token`.
async fn params(request: Request) -> Result<Params, OAuthError> {
    let (parts, body) = request.into_parts();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let form = if parts.method == Method::GET || !is_form(&parts.headers) {
        Vec::new()
    } else {
        to_bytes(body, MAX_REQUEST_BYTES)
            .await
            .map_err(|_| OAuthError::with_message(OAuthErrorKind::InvalidParameter, "Request too large."))?
            .to_vec()
    };
    if query.len() > MAX_REQUEST_BYTES {
        return Err(OAuthError::with_message(OAuthErrorKind::InvalidParameter, "Request too large."));
    }
    let mut params = Params::new();
    for (key, value) in
        url::form_urlencoded::parse(query.as_bytes()).chain(url::form_urlencoded::parse(&form))
    {
        if params.get(key.as_ref()).is_some_and(|previous| *previous != value) {
            return Err(OAuthError::with_message(
                OAuthErrorKind::InvalidParameter,
                format!("Parameter {key} given twice with different values."),
            ));
        }
        params.insert(key.into_owned(), value.into_owned());
    }
    if !params.contains_key("access_token") {
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if let Some(token) =
            header.and_then(|h| h.strip_prefix("OAuth ").or_else(|| h.strip_prefix("Bearer ")))
        {
            params.insert("access_token".to_owned(), token.trim().to_owned());
        }
    }
    Ok(params)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

/// The OAuthException answer of `e`.
pub(super) fn error(e: &OAuthError) -> Response {
    let trace = crate::secrets::random_token(8);
    let status = StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    if status.is_server_error() {
        tracing::warn!(fbtrace_id = %trace, error = %e, "OAuth call failed on our side");
    }
    let mut response = json(status, &e.body(&trace));
    if e.kind == OAuthErrorKind::RequestLimit {
        // Limits count per minute.
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
    }
    response
}
