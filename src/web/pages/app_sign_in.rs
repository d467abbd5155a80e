//! Sign-in for applications: `login.php` (the legacy desktop flow) and the
//! OAuth dialog show one sign-in page that carries the application's request
//! (a `data-for` attribute the script sends as the `for` field of
//! `POST /api/v1/login`). Requests that cannot succeed are refused here, on
//! a page, before anyone types a password — and never with a redirect to an
//! address the app did not register.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};

use super::{Csrf, error_page, page, page_with_csrf};
use crate::auth::App;
use crate::auth::AuthError;
use crate::auth::app_request::{AppRequest, LegacyRequest, OauthRequest};
use crate::clock::unix_now;
use crate::oauth::{is_api_version, match_registered, with_params};
use crate::web::AppState;

type QueryMap = Query<BTreeMap<String, String>>;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/login.php", get(login_php))
        .route("/login.php/done", get(done))
        .route("/dialog/oauth", get(dialog))
        .route("/dialog/oauth/cancel", get(cancel))
        .route("/{version}/dialog/oauth", get(versioned_dialog))
}

async fn login_php(State(state): State<AppState>, headers: HeaderMap, Query(q): QueryMap) -> Response {
    let (Some(api_key), Some(auth_token)) = (q.get("api_key"), q.get("auth_token")) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Incomplete sign-in link",
            "api_key and auth_token are required.",
        );
    };
    let request = AppRequest::Legacy(LegacyRequest {
        api_key: api_key.clone(),
        auth_token: auth_token.clone(),
        next: q.get("next").cloned(),
        req_perms: q.get("req_perms").cloned(),
    });
    match state.auth.check_app_request(&request, unix_now()).await {
        Ok(app) => sign_in_page(&Csrf::of(&state, &headers), &app, &request),
        Err(e) => refused(&e, "This sign-in link has expired or was already used"),
    }
}

async fn versioned_dialog(
    state: State<AppState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    query: QueryMap,
) -> Response {
    if !is_api_version(&version) {
        return crate::web::error::not_found().await.into_response();
    }
    dialog(state, headers, query).await
}

async fn dialog(State(state): State<AppState>, headers: HeaderMap, Query(q): QueryMap) -> Response {
    let (app, redirect_uri) = match registered_dialog(&state, &q).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let request = AppRequest::Oauth(OauthRequest {
        client_id: app.api_key.clone(),
        redirect_uri,
        state: q.get("state").cloned(),
        scope: q.get("scope").cloned(),
    });
    match state.auth.check_app_request(&request, unix_now()).await {
        Ok(app) => sign_in_page(&Csrf::of(&state, &headers), &app, &request),
        Err(e) => refused(&e, "This sign-in request cannot be completed"),
    }
}

/// "Cancel" on the dialog: back to the app with `error=access_denied`, only
/// ever to one of its registered redirect URIs.
async fn cancel(State(state): State<AppState>, Query(q): QueryMap) -> Response {
    let (_, redirect_uri) = match registered_dialog(&state, &q).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut params = vec![
        ("error", "access_denied"),
        ("error_code", "200"),
        ("error_description", "Permissions error"),
        ("error_reason", "user_denied"),
    ];
    if let Some(s) = q.get("state") {
        params.push(("state", s));
    }
    match with_params(&redirect_uri, &params) {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(e) => error_page(StatusCode::BAD_REQUEST, "Error 191", &e.to_string()),
    }
}

async fn done() -> Response {
    page(
        StatusCode::OK,
        "Signed in",
        html! {
            main.card {
                h1 { "You are signed in" }
                p role="status" { "You may close this window and return to the application." }
            }
        },
    )
}

/// The dialog's app and its redirect_uri, which must be registered exactly
/// (error 191 otherwise, shown here: never redirected to).
async fn registered_dialog(
    state: &AppState,
    q: &BTreeMap<String, String>,
) -> Result<(App, String), Response> {
    let (Some(client_id), Some(redirect_uri)) = (q.get("client_id"), q.get("redirect_uri")) else {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "Incomplete sign-in request",
            "client_id and redirect_uri are required.",
        ));
    };
    let app = match state.auth.app(client_id).await {
        Ok(Some(app)) => app,
        Ok(None) => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "Unknown application",
                "No application has this id.",
            ));
        }
        Err(e) => return Err(store_trouble(&e.to_string())),
    };
    match match_registered(redirect_uri, &app.redirect_uris) {
        Ok(uri) => Ok((app.clone(), uri.to_owned())),
        Err(_) => Err(error_page(
            StatusCode::BAD_REQUEST,
            "Error 191",
            "The redirect_uri is not registered for this application, so the sign-in cannot return to it.",
        )),
    }
}

fn refused(e: &AuthError, title: &str) -> Response {
    match e {
        AuthError::UnknownApp => {
            error_page(StatusCode::BAD_REQUEST, "Unknown application", "No application has this api_key.")
        }
        AuthError::InvalidRequest(message) => error_page(StatusCode::BAD_REQUEST, title, message),
        other => store_trouble(&other.to_string()),
    }
}

fn store_trouble(cause: &str) -> Response {
    tracing::warn!(%cause, "sign-in page could not be prepared");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The service cannot sign you in right now. Please try again in a moment.",
    )
}

/// The sign-in page bound to `request`.
fn sign_in_page(csrf: &Csrf, app: &App, request: &AppRequest) -> Response {
    let permissions = request.permissions().unwrap_or_default();
    let for_json = serde_json::to_string(request).unwrap_or_default();
    let cancel = match request {
        AppRequest::Oauth(r) => {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("client_id", &r.client_id).append_pair("redirect_uri", &r.redirect_uri);
            if let Some(s) = &r.state {
                q.append_pair("state", s);
            }
            Some(format!("/dialog/oauth/cancel?{}", q.finish()))
        }
        AppRequest::Legacy(_) => None,
    };
    let title = format!("Sign in to {}", app.name);
    page_with_csrf(
        StatusCode::OK,
        &title,
        csrf,
        sign_in_form(Some(&app.name), &permissions, &for_json, cancel),
    )
}

/// The sign-in steps; `app_name` is the application signed in for, if any
/// (`for_json` is then its request, else `null`).
pub(super) fn sign_in_form(
    app_name: Option<&str>,
    permissions: &[&str],
    for_json: &str,
    cancel: Option<String>,
) -> Markup {
    html! {
        main.card data-for=(for_json) {
            h1 { "Sign in" }
            @if let Some(app_name) = app_name {
                p.lead { "to continue to " strong { (app_name) } }
                @if !permissions.is_empty() {
                    p.permissions { (app_name) " will be allowed: " (permissions.join(", ")) }
                }
            } @else {
                p.lead { "with your password and security key" }
            }
            form #password-step novalidate {
                div.field {
                    label for="username" { "User name" }
                    input #username name="username" autocomplete="username" required aria-describedby="username-error";
                    p.error #username-error role="alert" {}
                }
                div.field {
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete="current-password" required aria-describedby="password-error";
                    p.error #password-error role="alert" {}
                }
                div.actions {
                    button.primary type="submit" { "Continue" }
                    @if let Some(cancel) = &cancel {
                        a.secondary href=(cancel) { "Cancel" }
                    }
                }
            }
            section #key-step hidden aria-live="polite" {
                h2 { "Insert and touch your security key" }
                p.hint #key-status { "Waiting for your key…" }
                p.error #key-error role="alert" {}
                div.actions {
                    button.primary #key-retry type="button" hidden { "Try again" }
                    button.link #use-recovery type="button" { "Use a recovery code instead" }
                }
            }
            form #recovery-step hidden novalidate {
                div.field {
                    label for="recovery-code" { "Recovery code" }
                    input #recovery-code name="code" autocomplete="one-time-code" placeholder="xxxx-xxxx-xxxx" required aria-describedby="recovery-error";
                    p.error #recovery-error role="alert" {}
                }
                div.actions { button.primary type="submit" { "Sign in" } }
            }
            p #done-status role="status" hidden {}
        }
    }
}
