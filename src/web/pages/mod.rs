//! Server-rendered HTML pages. They drive the JSON API from one small script
//! (`assets/keygate.js`): no inline script, no third-party origin, so the
//! Content-Security-Policy can forbid everything else, and no page may be
//! framed (clickjacking a sign-in is the classic attack on one).

mod account;
mod app_sign_in;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};

use super::AppState;

/// Every page's policy: own scripts, styles and fetches only; no framing,
/// no plugins, no `<base>` games, forms post only here.
pub(super) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const SCRIPT: &str = include_str!("assets/keygate.js");
const STYLE: &str = include_str!("assets/keygate.css");

pub(super) fn router() -> Router<AppState> {
    Router::new().merge(app_sign_in::router()).merge(account::router()).route("/assets/{file}", get(asset))
}

/// The CSRF token a page hands its script (see [`crate::web::cookies`]).
#[derive(Clone, Debug)]
pub(crate) struct Csrf {
    token: String,
    new: bool,
    cookies: crate::web::cookies::Cookies,
}

impl Csrf {
    /// The browser's token, or a new one the page will set.
    pub(crate) fn of(state: &AppState, request: &HeaderMap) -> Self {
        let cookies = state.cookies();
        let (token, new) = cookies.csrf_token(request);
        Self { token, new, cookies }
    }
}

/// A page whose script calls the API: the token in a meta tag, the cookie
/// set when new.
pub(crate) fn page_with_csrf(status: StatusCode, title: &str, csrf: &Csrf, body: Markup) -> Response {
    let mut response = render(status, title, Some(&csrf.token), body);
    if csrf.new {
        csrf.cookies.set_csrf(response.headers_mut(), &csrf.token);
    }
    response
}

/// A finished page: the HTML with the security headers every page sends.
/// Pages are never cached: they may carry one-time tokens in their URLs.
pub(crate) fn page(status: StatusCode, title: &str, body: Markup) -> Response {
    render(status, title, None, body)
}

fn render(status: StatusCode, title: &str, csrf: Option<&str>, body: Markup) -> Response {
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(token) = csrf {
                    meta name="csrf-token" content=(token);
                }
                title { (title) " · keygate" }
                link rel="stylesheet" href={ "/assets/keygate.css?v=" (asset_version(STYLE)) };
                script src={ "/assets/keygate.js?v=" (asset_version(SCRIPT)) } defer {}
            }
            body {
                header.brand { (logo()) " keygate" }
                (body)
            }
        }
    };
    let mut response = (status, html.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    security_headers(headers);
    response
}

/// A key drawn inline: no font carries a key glyph everywhere, and an
/// inline SVG needs no request.
fn logo() -> Markup {
    maud::PreEscaped(
        r#"<svg class="logo" aria-hidden="true" viewBox="0 0 24 24" width="22" height="22"><circle cx="8" cy="12" r="5" fill="none" stroke="currentColor" stroke-width="2.5"/><path d="M13 12h9m-3 0v4m-3-4v3" fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round"/></svg>"#
            .to_owned(),
    )
}

/// The headers of every page.
fn security_headers(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The sign-in URL carries the auth_token: never leak it to the next site.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// An error page: what went wrong and what the person can do.
pub(crate) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(
        status,
        title,
        html! {
            main.card {
                h1 { (title) }
                p role="alert" { (message) }
                p.hint { "Return to the application and start the sign-in again." }
            }
        },
    )
}

/// A short content hash, so a new release's assets are fetched at once
/// while unchanged ones stay cached.
fn asset_version(content: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(content.as_bytes());
    hex::encode(&digest[..6])
}

async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "keygate.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "keygate.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return super::error::not_found().await.into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", asset_version(body))) {
        headers.insert(header::ETAG, etag);
    }
    response
}
