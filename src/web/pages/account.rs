//! The signed-in pages: `/sign-in` (no application involved) and `/account`
//! (keys, recovery codes, password, sessions, sign out). The account page
//! is rendered from the store for the cookie's session; its buttons call
//! the JSON API with that cookie and the page's CSRF token.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};

use super::app_sign_in::sign_in_form;
use super::{Csrf, page_with_csrf};
use crate::auth::session::Caller;
use crate::auth::{Credential, Session};
use crate::clock::unix_now;
use crate::web::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/account") }))
        .route("/sign-in", get(sign_in))
        .route("/account", get(account))
}

async fn sign_in(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page_with_csrf(
        StatusCode::OK,
        "Sign in",
        &Csrf::of(&state, &headers),
        sign_in_form(None, &[], "null", None),
    )
}

async fn account(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let now = unix_now();
    let Some(token) = state.cookies().session(&headers) else {
        return Redirect::to("/sign-in").into_response();
    };
    let Ok(caller) = state.auth.authenticate(token, now).await else {
        return Redirect::to("/sign-in").into_response();
    };
    let keys = state.auth.keys(&caller).await;
    let sessions = state.auth.sessions(&caller, now).await;
    match (keys, sessions) {
        (Ok(keys), Ok(sessions)) => page_with_csrf(
            StatusCode::OK,
            "Your account",
            &Csrf::of(&state, &headers),
            body(&caller, &keys, &sessions),
        ),
        _ => super::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "Your account cannot be shown right now. Please try again in a moment.",
        ),
    }
}

fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
            t.format(&format).ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

fn body(caller: &Caller, keys: &[Credential], sessions: &[Session]) -> Markup {
    let user = &caller.user;
    html! {
        main.card.wide #account {
            h1 { "Your account" }
            p.lead { "Signed in as " strong { (user.name) } }
            p #account-status role="status" {}
            ol.codes #codes hidden aria-label="Recovery codes" {}
            section aria-labelledby="keys-title" {
                h2 #keys-title { "Security keys" }
                @if keys.is_empty() {
                    p.notice { "Add a security key: until you do, you can only sign in here to add one." }
                } @else if caller.is_enroll_only() {
                    p.notice { "Your key is ready. Sign out and sign in with it to manage the rest of your account." }
                }
                ul.items #keys {
                    @for key in keys {
                        li data-key-id=(key.id) data-key-name=(key.label) {
                            div.item-text {
                                span.item-name { (key.label) }
                                small.hint {
                                    "Added " (when(key.created_at)) " · "
                                    @match key.last_used_at {
                                        Some(at) => { "last used " (when(at)) }
                                        None => { "never used" }
                                    }
                                    @if key.possible_clone { " · " strong.danger { "blocked: possible clone" } }
                                }
                            }
                            div.item-actions {
                                button.secondary type="button" data-action="rename-key" { "Rename" }
                                button.secondary.danger type="button" data-action="remove-key" { "Remove" }
                            }
                        }
                    }
                }
                form #add-key novalidate {
                    div.field {
                        label for="new-key-name" { "Name for a new key" }
                        input #new-key-name name="name" value="Security key" maxlength="100" required aria-describedby="add-key-error";
                        p.error #add-key-error role="alert" {}
                    }
                    div.actions { button.primary type="submit" { "Add a security key" } }
                }
            }
            @if !caller.is_enroll_only() {
                section aria-labelledby="codes-title" {
                    h2 #codes-title { "Recovery codes" }
                    p.hint { "Each code signs you in once when no key is at hand. A new set replaces the old one." }
                    div.actions { button.secondary #new-codes type="button" { "Generate new recovery codes" } }
                }
                section aria-labelledby="password-title" {
                    h2 #password-title { "Password" }
                    form #password-form novalidate {
                        input type="text" name="username" autocomplete="username" value=(user.name) hidden;
                        div.field {
                            label for="old-password" { "Current password" }
                            input #old-password type="password" autocomplete="current-password" required;
                        }
                        div.field {
                            label for="new-password" { "New password" }
                            input #new-password type="password" autocomplete="new-password" minlength="8" required aria-describedby="password-form-error";
                            p.error #password-form-error role="alert" {}
                        }
                        div.actions { button.primary type="submit" { "Change password" } }
                    }
                }
                section aria-labelledby="sessions-title" {
                    h2 #sessions-title { "Where you are signed in" }
                    ul.items #sessions {
                        @for session in sessions {
                            li data-session-id=(session.id) {
                                div.item-text {
                                    span.item-name {
                                        @if session.id == caller.session.id { "This browser" } @else { "Session " (session.id) }
                                    }
                                    small.hint { "Since " (when(session.created_at)) " · until " (when(session.expires_at)) }
                                }
                                @if session.id != caller.session.id {
                                    div.item-actions {
                                        button.secondary type="button" data-action="end-session" { "Sign out" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            div.actions { button.secondary #sign-out type="button" { "Sign out" } }
        }
    }
}
