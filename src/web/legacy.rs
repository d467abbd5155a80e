//! `/restserver.php` and `/method/{method}`: the legacy REST API over HTTP.
//!
//! The protocol itself (decoding, signatures, rendering) lives in
//! [`crate::legacy`]; this handler reads the raw request, looks the app and
//! the session up in the store and runs the method. Every answer is HTTP 200
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
    Call, ErrorCode, LegacyError, Method, Params, Rendered, Rendering, Value, render_error, render_success,
};
use crate::secrets::{self, TokenHash, context};
use crate::store::{App, AppTokenKind, NewAppToken, NewSession, RevokeReason, Session, StoreError};

/// Largest query string plus body accepted; real calls are a few hundred bytes.
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// How long an auth_token waits for its login.
const AUTH_TOKEN_SECS: i64 = 10 * 60;
/// How long a legacy session lasts.
const SESSION_SECS: i64 = 24 * 60 * 60;
/// The session kind the store keeps legacy sessions under.
const SESSION_KIND: &str = "legacy";

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

/// Why a call failed: a refusal for the client, or a fault of ours.
enum Failure {
    Refused(LegacyError),
    Store(StoreError),
    Internal(String),
}

impl From<LegacyError> for Failure {
    fn from(e: LegacyError) -> Self {
        Self::Refused(e)
    }
}

impl From<ErrorCode> for Failure {
    fn from(code: ErrorCode) -> Self {
        Self::Refused(code.into())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
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
    match run(state, client, &call).await {
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

/// Checks the caller and runs the method.
async fn run(state: &AppState, client: std::net::IpAddr, call: &Call) -> Result<Value, Failure> {
    let store = &state.store;
    let now = crate::clock::unix_now();
    // With a session_key, the app and the session come in one read.
    let (app, found) = match &call.session_key {
        Some(key) => store.app_and_session(&call.api_key, &TokenHash::of(key), now).await?,
        None => store.app_by_api_key(&call.api_key).await?.map(|app| (app, None)),
    }
    .ok_or(ErrorCode::InvalidApiKey)?;
    if !app.allows_source(client)? {
        return Err(ErrorCode::UnauthorizedSource.into());
    }
    let session = if call.signed_with_session_secret {
        let session = live_session(&app, call, found)?;
        let sealed = session.secret_sealed.as_deref().ok_or(ErrorCode::IncorrectSignature)?;
        let secret = open(state, sealed, &context::session_secret(&TokenHash::of(session_key(call)?)))?;
        if !call.params.sig_matches(&secret) {
            return Err(ErrorCode::IncorrectSignature.into());
        }
        Some(session)
    } else {
        let secret = open(state, &app.secret_sealed, &context::app_secret(&app.api_key))?;
        if !call.params.sig_matches(&secret) {
            return Err(ErrorCode::IncorrectSignature.into());
        }
        if call.method.needs_session() { Some(live_session(&app, call, found)?) } else { None }
    };
    // Only signed calls count against the app's limit, so a stranger who
    // knows the public api_key cannot use up the app's allowance.
    if !store.count_app_call(&app, now).await? {
        return Err(ErrorCode::RequestLimit.into());
    }
    if let (Some(session), Some(call_id)) = (&session, &call.call_id)
        && !store.advance_call_id(session.id, &call_id.to_string(), |last| call_id.follows(last)).await?
    {
        return Err(ErrorCode::CallIdNotIncreasing.into());
    }
    match (call.method, session) {
        (Method::CreateToken, _) => create_token(state, &app, now).await,
        (Method::GetSession, _) => get_session(state, &app, call, now).await,
        (Method::ExpireSession, Some(session)) => {
            store.delete_session_by_token(&TokenHash::of(session_key(call)?)).await?;
            tracing::debug!(session = session.id, "legacy session expired by the app");
            Ok(Value::Bool(true))
        }
        (Method::PromoteSession, Some(session)) => {
            let secret = secrets::random_hex(16);
            let sealed = state
                .server_key
                .seal(secret.as_bytes(), &context::session_secret(&TokenHash::of(session_key(call)?)));
            store.set_session_secret(session.id, &sealed).await?;
            Ok(Value::Str(secret))
        }
        (Method::RevokeAuthorization, Some(session)) => {
            store.delete_app_sessions(session.user_id, app.id).await?;
            store.revoke_app_tokens(session.user_id, Some(app.id), RevokeReason::Revoked, now).await?;
            Ok(Value::Bool(true))
        }
        (Method::RevokeExtendedPermission, Some(session)) => {
            let permission =
                call.params.get("perm").ok_or_else(|| LegacyError::invalid("perm is required"))?;
            store.revoke_permission(session.user_id, app.id, permission).await?;
            Ok(Value::Bool(true))
        }
        (Method::GetLoggedInUser, Some(session)) => Ok(Value::Int(session.user_id)),
        (method, _) => Err(Failure::Internal(format!("{} ran without a session", method.name()))),
    }
}

fn session_key(call: &Call) -> Result<&str, Failure> {
    call.session_key.as_deref().ok_or_else(|| LegacyError::invalid("session_key is required").into())
}

/// The call's session (`found` by its session_key), when it is live, a
/// legacy session, and the app's own.
fn live_session(app: &App, call: &Call, found: Option<Session>) -> Result<Session, Failure> {
    session_key(call)?;
    let session = found.ok_or(ErrorCode::InvalidSession)?;
    if session.kind != SESSION_KIND || session.app_id != Some(app.id) {
        return Err(ErrorCode::InvalidSession.into());
    }
    Ok(session)
}

/// Opens a sealed secret; one that does not open is a fault, not a refusal.
fn open(state: &AppState, sealed: &[u8], context: &[u8]) -> Result<String, Failure> {
    let plain = state
        .server_key
        .open(sealed, context)
        .map_err(|e| Failure::Internal(format!("sealed secret: {e}")))?;
    String::from_utf8(plain.to_vec()).map_err(|_| Failure::Internal("sealed secret is not UTF-8".to_owned()))
}

async fn create_token(state: &AppState, app: &App, now: i64) -> Result<Value, Failure> {
    let token = secrets::random_hex(16);
    let new = NewAppToken {
        kind: AppTokenKind::AuthToken,
        token_hash: &TokenHash::of(&token),
        app_id: app.id,
        user_id: None,
        data: "{}",
        expires_at: Some(now + AUTH_TOKEN_SECS),
        issued_from: None,
    };
    state.store.create_app_token(&new, now).await?;
    Ok(Value::Str(token))
}

async fn get_session(state: &AppState, app: &App, call: &Call, now: i64) -> Result<Value, Failure> {
    let store = &state.store;
    let token =
        call.params.get("auth_token").ok_or_else(|| LegacyError::invalid("auth_token is required"))?;
    let token_hash = TokenHash::of(token);
    let unusable =
        || LegacyError::invalid("auth_token is unknown, expired, used, or its login is not complete");
    // Another app's token is refused without consuming it.
    match store.find_app_token(AppTokenKind::AuthToken, &token_hash).await? {
        Some(found) if found.app_id == app.id => {}
        _ => return Err(unusable().into()),
    }
    let consumed = match store.consume_app_token(AppTokenKind::AuthToken, &token_hash, now).await {
        Ok(consumed) => consumed,
        Err(e @ StoreError::Unavailable(_)) => return Err(e.into()),
        Err(
            StoreError::NotFound(_)
            | StoreError::AlreadyUsed(_)
            | StoreError::Expired(_)
            | StoreError::Pending(_),
        ) => {
            return Err(unusable().into());
        }
        Err(e) => return Err(e.into()),
    };
    let user_id =
        consumed.user_id.ok_or_else(|| Failure::Internal("consumed auth_token has no user".to_owned()))?;
    let session_key = secrets::random_token(32);
    let session_hash = TokenHash::of(&session_key);
    let wants_secret = call.params.get("generate_session_secret").is_some_and(|v| v == "1" || v == "true");
    let secret = (wants_secret || app.desktop != 0).then(|| secrets::random_hex(16));
    let sealed =
        secret.as_ref().map(|s| state.server_key.seal(s.as_bytes(), &context::session_secret(&session_hash)));
    let expires = now + SESSION_SECS;
    let new = NewSession {
        token_hash: &session_hash,
        user_id,
        kind: SESSION_KIND,
        app_id: Some(app.id),
        secret_sealed: sealed.as_deref(),
        user_agent: None,
        verified_at: None,
        expires_at: expires,
    };
    store.create_session(&new, now).await?;
    let mut members = vec![
        ("session_key", Value::Str(session_key)),
        ("uid", Value::Int(user_id)),
        ("expires", Value::Int(expires)),
    ];
    if let Some(secret) = secret {
        members.push(("secret", Value::Str(secret)));
    }
    Ok(Value::Object(members))
}
